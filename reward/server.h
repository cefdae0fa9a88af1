// The reward service over gRPC: r1.reward.RewardService (proto/reward.proto)
// plus the standard health service (grpc.health.v1.Health) and server
// reflection, so grpcurl, grpc_health_probe and Kubernetes probes work.
#ifndef R1_REWARD_SERVER_H_
#define R1_REWARD_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "proto/config.pb.h"
#include "reward/scorer.h"

namespace grpc {
class Server;
}

namespace r1::reward {

class Scorer;
class RewardServiceImpl;

struct ServerOptions {
  std::string address;         // host:port; port 0 picks a free one
  std::string tls_cert_file;   // PEM; with tls_key_file, serve TLS only
  std::string tls_key_file;
  std::string token;           // non-empty: every call but health checks needs
                               // "authorization: Bearer <token>", checked before
                               // the request is read (rpc/auth.h)
  bool log_requests = true;    // one line per request on stderr
  int64_t max_message_bytes = 256 << 20;  // largest request accepted
  ScorerOptions scorer;        // the code sandbox's options (allow_no_cgroup)
};

class RewardServer {
 public:
  // Builds the scorer from `config` and starts serving. Returns once the port
  // is bound: FAILED_PRECONDITION when it cannot be.
  static absl::StatusOr<std::unique_ptr<RewardServer>> Start(const config::RewardServiceConfig& config,
                                                             const ServerOptions& options);
  ~RewardServer();

  int port() const { return port_; }
  // Blocks until Shutdown() (from another thread or a signal handler thread).
  void Wait();
  // Stops accepting calls, lets running ones finish within `grace_seconds`.
  void Shutdown(double grace_seconds = 5);

 private:
  RewardServer() = default;

  ServerOptions options_;
  std::unique_ptr<Scorer> scorer_;
  std::unique_ptr<RewardServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace r1::reward

#endif  // R1_REWARD_SERVER_H_
