// What every r1 gRPC server carries, set up in one place: the standard health
// service (grpc.health.v1.Health), server reflection, message-size limits, a
// memory quota for gRPC's own buffers, TLS and the bearer-token check
// (rpc/auth.h), and a busy port as an error (gRPC would otherwise share it via
// SO_REUSEPORT). Also the SIGINT/SIGTERM handling of the server binaries.
#ifndef R1_RPC_SERVER_H_
#define R1_RPC_SERVER_H_

#include <signal.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "rpc/auth.h"

namespace grpc {
class Server;
class Service;
}  // namespace grpc

namespace r1::rpc {

struct ServerSettings {
  std::string address;      // host:port; port 0 picks a free one
  ServerSecurity security;  // TLS and token; all empty = plaintext, anyone may call
  int64_t max_message_bytes = 256 << 20;
  // gRPC's memory quota for this server (transport buffers, messages being
  // received): under pressure gRPC shrinks flow-control windows and refuses
  // new work instead of growing without bound. Must exceed max_message_bytes.
  int64_t memory_quota_bytes = int64_t{1} << 30;
};

struct StartedServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// FAILED_PRECONDITION naming the address when it cannot be bound;
// INVALID_ARGUMENT for unusable TLS files or limits.
absl::StatusOr<StartedServer> StartServer(const ServerSettings& settings, const std::vector<grpc::Service*>& services);

// Stops accepting calls; running ones get `grace_seconds` to finish.
void ShutdownServer(grpc::Server& server, double grace_seconds);

// Blocks SIGINT and SIGTERM in the calling thread and every thread it starts
// later (construct it first thing in main, before gRPC or LibTorch threads
// exist); OnSignal runs `stop` on a thread of its own when one arrives.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  void OnSignal(std::function<void(int signal_number)> stop);

 private:
  sigset_t signals_;
  std::thread waiter_;
  std::atomic<bool> fired_{false}, closing_{false};
};

}  // namespace r1::rpc

#endif  // R1_RPC_SERVER_H_
