// A pool of rollout workers, as the learner, rejection sampling, eval and
// distillation use them.
//
// Generate spreads a batch of prompts over the live workers by their free
// capacity (KV slots not busy, from each worker's Status). A prompt goes,
// with all its samples, to one worker at a time; each prompt carries its
// position in the whole batch as its random stream (unless it carries a
// stream_index of its own), so results do not depend on the split. A prompt is delivered once, when all its samples are in.
// When a worker fails mid-request (dies, UNAVAILABLE, deadline), its
// undelivered prompts go back to the queue for the other workers: no prompt
// is lost or delivered twice.
//
// PushWeights sends a version to every worker at once and reports each
// worker's answer; the pool keeps the newest weights, and a worker found
// behind (it missed a push, or joined later) is brought up to date before it
// gets work. Workers join and leave between calls through the address file.
#ifndef R1_ROLLOUT_POOL_H_
#define R1_ROLLOUT_POOL_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/config.pb.h"
#include "proto/rollout.pb.h"
#include "rollout/client.h"

namespace r1::rollout {

// A run config's sampling section as request parameters, with `seed`.
SamplingParams ToSamplingParams(const config::SamplingConfig& sampling, uint64_t seed);

struct PoolOptions {
  // host:port of each worker; a host name stands for every IPv4 address it
  // resolves to (e.g. a Kubernetes headless Service), re-resolved each call.
  std::vector<std::string> addresses;
  std::string address_file;            // one host:port per line; re-read when it changes
  absl::Duration request_timeout = absl::Minutes(10);
  absl::Duration status_timeout = absl::Seconds(5);
  int max_attempts = 3;                // per prompt, across workers
  ClientOptions client;                // token and TLS, the same for every worker
  // PushWeights writes a version once into shared memory (SharedWeights) for
  // workers on loopback addresses, and streams it to the others (and to a
  // loopback worker that cannot open the segment: another user, another
  // /dev/shm). The segment stays for the pool's life and each version is
  // written over the last (one model's size in /dev/shm, no allocation per
  // push).
  bool shared_memory_pushes = true;
};

struct PushResult {
  std::string address;
  absl::Status status;
  int64_t version = 0;  // the worker's version after the push
};

struct PoolStats {
  int64_t redispatched_prompts = 0;  // prompts sent again after a worker failed
  int64_t worker_failures = 0;
  int64_t catch_up_pushes = 0;       // weight pushes to workers found behind
  int64_t shared_memory_pushes = 0;  // pushes a worker took from shared memory
  int64_t shared_memory_segments = 0;  // segments created for them (the rest reuse one)
};

class RolloutPool {
 public:
  // INVALID_ARGUMENT when there are no addresses (neither list nor file).
  static absl::StatusOr<std::unique_ptr<RolloutPool>> Create(const PoolOptions& options);
  ~RolloutPool();

  // All prompts x `samples_per_prompt`; `on_prompt(index, completions)` runs
  // once per prompt (from the pool's threads, one at a time) with its samples
  // in sample order. UNAVAILABLE when no worker can take the remaining work.
  absl::Status Generate(const std::vector<Prompt>& prompts, int samples_per_prompt, const SamplingParams& sampling,
                        const std::function<void(int, std::vector<Completion>)>& on_prompt);

  // Teacher scoring (distillation): sent to one live worker, and to the next
  // when that one fails. UNAVAILABLE when none answers.
  absl::StatusOr<ScoreTokensResponse> ScoreTokens(const ScoreTokensRequest& request);

  // Sends `tensors` as `version` to every worker in parallel (through shared
  // memory to those on loopback; see PoolOptions).
  std::vector<PushResult> PushWeights(std::vector<std::pair<std::string, torch::Tensor>> tensors, int64_t version);

  // Makes `version` the newest weights without sending them (PushWeights
  // starts with this): from then on every Generate first brings a worker that
  // is behind up to it. A learner pushing in the background publishes first,
  // so no batch starts on the old weights while the push is under way.
  void PublishWeights(std::vector<std::pair<std::string, torch::Tensor>> tensors, int64_t version);

  // The newest weight version any worker serves; UNAVAILABLE when none
  // answers. A learner that restarts numbers its pushes above it.
  absl::StatusOr<int64_t> MaxWorkerVersion();

  // Re-reads the address file now (Generate and PushWeights also do, when its
  // modification time changed).
  absl::Status Reload();

  std::vector<std::string> addresses() const;
  PoolStats stats() const;

 private:
  struct Worker;
  explicit RolloutPool(PoolOptions options) : options_(std::move(options)) {}
  absl::Status MaybeReload();
  absl::Status SetAddresses(const std::vector<std::string>& addresses);
  // Connected workers that answer Status, each brought to the newest version.
  std::vector<std::shared_ptr<Worker>> LiveWorkers();

  const PoolOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Worker>> workers_;
  int64_t address_file_mtime_ = -1;
  // The newest weights pushed, for workers that are behind.
  std::vector<std::pair<std::string, torch::Tensor>> latest_tensors_;
  int64_t latest_version_ = -1;
  PoolStats stats_;
  // One PushWeights at a time: the shared-memory segment it writes over is
  // read by the workers until the push returns.
  std::mutex push_mu_;
  std::unique_ptr<SharedWeights> shared_;  // guarded by push_mu_
};

}  // namespace r1::rollout

#endif  // R1_ROLLOUT_POOL_H_
