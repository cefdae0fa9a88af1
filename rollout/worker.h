// The rollout worker's gRPC face: r1.rollout.RolloutService over an Engine,
// plus the standard health service and server reflection.
#ifndef R1_ROLLOUT_WORKER_H_
#define R1_ROLLOUT_WORKER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "rollout/engine.h"

namespace grpc {
class Server;
}

namespace r1::rollout {

class RolloutServiceImpl;

struct WorkerOptions {
  std::string address = "127.0.0.1:0";  // port 0 picks a free one
  EngineOptions engine;
  int max_samples_per_request = 1024;   // prompts x samples in one Generate
  std::string checkpoint;               // reported by Status
  int64_t max_message_bytes = 256 << 20;
};

class RolloutWorker {
 public:
  // Serves `model` (weight version `version`) until Shutdown.
  static absl::StatusOr<std::unique_ptr<RolloutWorker>> Start(model::CausalLm model, const Tokenizer& tokenizer,
                                                              int64_t version, const WorkerOptions& options);
  ~RolloutWorker();

  int port() const { return port_; }
  void Wait();
  void Shutdown(double grace_seconds = 5);
  Engine& engine() { return *engine_; }

 private:
  RolloutWorker() = default;
  WorkerOptions options_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<RolloutServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace r1::rollout

#endif  // R1_ROLLOUT_WORKER_H_
