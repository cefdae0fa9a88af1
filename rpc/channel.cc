#include "rpc/channel.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <future>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace r1::rpc {

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& address,
                                                           const ChannelOptions& options) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  arguments.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!options.tls_root_cert_file.empty()) {
    absl::StatusOr<std::string> roots = ReadFile(options.tls_root_cert_file);
    if (!roots.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("TLS root certificate: ", roots.status().message()));
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *roots;
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls_server_name.empty()) arguments.SetSslTargetNameOverride(options.tls_server_name);
  }
  return grpc::CreateCustomChannel(address, credentials, arguments);
}

void PrepareContext(grpc::ClientContext& context, const ChannelOptions& options, absl::Duration timeout) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!options.token.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", options.token));
}

absl::Status CheckHealth(grpc::Channel& channel, const std::string& service, absl::Duration timeout) {
  // The health messages are tiny; encoded by hand so that no copy of
  // health.proto has to live in this project. HealthCheckRequest is
  // {1: service (string)}; HealthCheckResponse is {1: status (enum)} with
  // SERVING = 1.
  if (service.size() > 127) return absl::InvalidArgumentError("health check: service name over 127 bytes");
  std::string request_bytes;
  if (!service.empty()) {
    request_bytes.push_back(0x0A);
    request_bytes.push_back(static_cast<char>(service.size()));  // one-byte varint
    request_bytes += service;
  }
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1), response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  context.set_wait_for_ready(true);  // wait out "connecting" instead of failing at once
  grpc::GenericStub stub(std::shared_ptr<grpc::ChannelInterface>(&channel, [](grpc::ChannelInterface*) {}));
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  const grpc::Status status = done.get_future().get();
  if (!status.ok()) return absl::UnavailableError(absl::StrCat("health check: ", status.error_message()));
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return absl::UnavailableError("health check: unreadable response");
  std::string bytes;
  for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  if (bytes != std::string("\x08\x01", 2)) return absl::UnavailableError("health check: not SERVING");
  return absl::OkStatus();
}

}  // namespace r1::rpc
