// What every r1 gRPC client needs, in one place: a channel with optional TLS
// and bearer token, and the standard health check. Turning a call's gRPC
// status into absl::Status is rpc/status.h.
#ifndef R1_RPC_CHANNEL_H_
#define R1_RPC_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace r1::rpc {

struct ChannelOptions {
  std::string tls_root_cert_file;  // PEM of the server's CA; set = TLS
  std::string tls_server_name;     // overrides the host name checked against the certificate
  std::string token;               // sent as "authorization: Bearer <token>" on each call
  int64_t max_message_bytes = 256 << 20;
};

// INVALID_ARGUMENT for an unreadable certificate file; connecting is lazy.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& address,
                                                           const ChannelOptions& options);

// Sets the deadline and, when options.token is set, the bearer token.
void PrepareContext(grpc::ClientContext& context, const ChannelOptions& options, absl::Duration timeout);

// grpc.health.v1.Health/Check for `service` ("" = the whole server): OK when
// SERVING, UNAVAILABLE when not serving or unreachable within `timeout`.
absl::Status CheckHealth(grpc::Channel& channel, const std::string& service, absl::Duration timeout);

}  // namespace r1::rpc

#endif  // R1_RPC_CHANNEL_H_
