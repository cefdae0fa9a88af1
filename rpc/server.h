// What every r1 gRPC server carries, set up in one place: the standard health
// service (grpc.health.v1.Health), server reflection, message-size limits, and
// a busy port as an error (gRPC would otherwise share it via SO_REUSEPORT).
// Also the SIGINT/SIGTERM handling of the server binaries.
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

namespace grpc {
class Server;
class Service;
class ServerCredentials;
}  // namespace grpc

namespace r1::rpc {

struct ServerSettings {
  std::string address;                                  // host:port; port 0 picks a free one
  std::shared_ptr<grpc::ServerCredentials> credentials;  // null = plaintext
  int64_t max_message_bytes = 256 << 20;
};

struct StartedServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

// FAILED_PRECONDITION naming the address when it cannot be bound.
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
