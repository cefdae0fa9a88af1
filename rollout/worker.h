// The rollout worker's gRPC face: r1.rollout.RolloutService over an Engine,
// plus the standard health service and server reflection.
#ifndef R1_ROLLOUT_WORKER_H_
#define R1_ROLLOUT_WORKER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "rollout/engine.h"
#include "rpc/auth.h"

namespace grpc {
class Server;
}

namespace r1::rollout {

class RolloutServiceImpl;

struct WorkerOptions {
  std::string address = "127.0.0.1:0";  // port 0 picks a free one
  rpc::ServerSecurity security;         // TLS and bearer token; empty = plaintext, no token
  EngineOptions engine;
  int max_samples_per_request = 1024;   // prompts x samples in one Generate
  // ScoreTokens per call: sequences, and tokens summed over them; beyond
  // either, RESOURCE_EXHAUSTED. (512 sequences of 256 tokens once held the
  // engine for a minute and took 2.3 GB.)
  int max_score_sequences = 64;
  int64_t max_score_tokens = 65536;
  std::string checkpoint;               // reported by Status
  int64_t max_message_bytes = 256 << 20;
  int64_t memory_quota_bytes = int64_t{1} << 30;  // gRPC's buffers (rpc::ServerSettings)
};

class RolloutWorker {
 public:
  // Serves `model` (weight version `version`) until Shutdown.
  // FAILED_PRECONDITION naming the tensor when the model's weights hold NaN
  // or inf (nothing useful could come of serving them).
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
