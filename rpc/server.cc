#include "rpc/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <pthread.h>

#include <chrono>

#include "absl/strings/str_cat.h"

namespace r1::rpc {

absl::StatusOr<StartedServer> StartServer(const ServerSettings& settings,
                                          const std::vector<grpc::Service*>& services) {
  if (settings.max_message_bytes <= 0 || settings.max_message_bytes > (int64_t{1} << 31) - 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_message_bytes must be in [1, 2^31), got ", settings.max_message_bytes));
  }
  if (settings.memory_quota_bytes <= settings.max_message_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("the memory quota (", settings.memory_quota_bytes,
                                                   " bytes) must exceed the largest message (",
                                                   settings.max_message_bytes, " bytes)"));
  }
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = MakeServerCredentials(settings.security);
  if (!credentials.ok()) return credentials.status();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  StartedServer started;
  builder.AddListeningPort(settings.address, *credentials, &started.port);
  for (grpc::Service* service : services) builder.RegisterService(service);
  builder.SetMaxReceiveMessageSize(static_cast<int>(settings.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(settings.max_message_bytes));
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  grpc::ResourceQuota quota("r1-server");
  quota.Resize(static_cast<size_t>(settings.memory_quota_bytes));
  builder.SetResourceQuota(quota);
  started.server = builder.BuildAndStart();
  if (started.server == nullptr || started.port == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot listen on ", settings.address, " (address in use, or not a local address?)"));
  }
  return started;
}

void ShutdownServer(grpc::Server& server, double grace_seconds) {
  server.Shutdown(std::chrono::system_clock::now() +
                  std::chrono::milliseconds(static_cast<int64_t>(grace_seconds * 1000)));
}

StopSignals::StopSignals() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
}

StopSignals::~StopSignals() {
  if (!waiter_.joinable()) return;
  if (!fired_.load()) {
    // No signal came (the server stopped some other way): wake the waiter
    // without running `stop`.
    closing_ = true;
    pthread_kill(waiter_.native_handle(), SIGTERM);
  }
  waiter_.join();
}

void StopSignals::OnSignal(std::function<void(int)> stop) {
  waiter_ = std::thread([this, stop = std::move(stop)] {
    int signal_number = 0;
    sigwait(&signals_, &signal_number);
    fired_ = true;
    if (!closing_.load()) stop(signal_number);
  });
}

}  // namespace r1::rpc
