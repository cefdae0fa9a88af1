// The rollout half of a GRPO step (and of an eval): prompts from a
// PromptSource go to the rollout workers (RolloutPool) for G completions each,
// the completions to the reward service (RewardClient); the groups come back
// scored. Dynamic sampling (DAPO) drops groups whose rewards are all equal and
// draws more prompts; groups with an item the reward service could not score
// are dropped and counted, never trained on as reward 0.
//
// RolloutProducer runs the collector on a thread of its own, a few batches
// ahead of the learner (asynchronous RL).
#ifndef R1_RL_ROLLOUT_COLLECTOR_H_
#define R1_RL_ROLLOUT_COLLECTOR_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/config.pb.h"
#include "proto/records.pb.h"
#include "proto/reward.pb.h"
#include "proto/rollout.pb.h"

namespace r1 {
class Tokenizer;
}
namespace r1::rollout {
class RolloutPool;
}
namespace r1::reward {
class RewardClient;
}

namespace r1::rl {

class PromptSource;

// One prompt with its G completions and their scores.
struct Group {
  int64_t prompt_index = 0;  // position in the (global) prompt stream: its random stream
  data::PromptRecord record;
  std::vector<int> prompt_tokens;
  std::vector<rollout::Completion> completions;  // sample order
  std::vector<reward::ScoreResult> scores;       // same order
};

struct RolloutBatch {
  std::vector<Group> groups;
  int64_t cursor_after = 0;    // this rank's prompt cursor after the batch
  int draws = 0;               // generation rounds (1 + dynamic sampling's extra draws)
  int64_t prompts_drawn = 0;
  int64_t uniform_groups = 0;  // dropped by dynamic sampling: all rewards equal
  int64_t reward_errors = 0;   // items the reward service could not score, after retries
  int64_t error_groups = 0;    // groups dropped for one of those (never trained on as reward 0)
  int64_t generated_tokens = 0;
  int64_t sampled = 0;          // completions generated, kept or not
  int64_t sampled_correct = 0;  // of those, correct (before dynamic sampling's filter)
  double rollout_seconds = 0;
  double reward_seconds = 0;
};

struct RolloutCollectorOptions {
  const PromptSource* prompts = nullptr;  // read by one thread at a time
  rollout::RolloutPool* pool = nullptr;
  reward::RewardClient* reward = nullptr;
  int prompts_per_step = 16;
  int group_size = 8;              // G
  bool dynamic_sampling = false;   // drop groups whose rewards are all equal
  int max_sampling_draws = 4;      // cap on dynamic sampling's extra draws per batch
  config::SamplingConfig sampling;
  uint64_t seed = 1;               // the run seed; every sample draws from its prompt's stream
  // Data parallel: rank r takes prompt indices r, r + world, ...
  int rank = 0;
  int world = 1;
};

// The collection settings of an RL config.
RolloutCollectorOptions RolloutCollectorOptionsFor(const config::RlConfig& rl);

class RolloutCollector {
 public:
  // `tokenizer` encodes the prompts (the chat template); it must outlive this.
  RolloutCollector(RolloutCollectorOptions options, const Tokenizer& tokenizer)
      : options_(std::move(options)), tokenizer_(tokenizer) {}

  // prompts_per_step groups from this rank's prompt cursor on; with dynamic
  // sampling, groups whose rewards are all equal are dropped and more prompts
  // drawn, up to max_sampling_draws extra rounds.
  absl::StatusOr<RolloutBatch> Collect(int64_t cursor);

  // Fills each group's prompt tokens, completions (n each) and scores. Items
  // the reward service failed for a passing reason are scored again (twice);
  // what still fails carries its error in the score.
  absl::Status GenerateAndScore(std::vector<Group>& groups, int n, const rollout::SamplingParams& sampling,
                                double* rollout_seconds, double* reward_seconds);

 private:
  const RolloutCollectorOptions options_;
  const Tokenizer& tokenizer_;
};

// Asynchronous mode: a thread that collects the next batches, up to `depth`
// ahead of the learner.
class RolloutProducer {
 public:
  RolloutProducer(RolloutCollector& collector, int64_t cursor, int depth)
      : collector_(collector), cursor_(cursor), depth_(depth), thread_([this] { Run(); }) {}
  ~RolloutProducer();

  // The next batch, in order; waits for it.
  absl::StatusOr<RolloutBatch> Next();

  // Waits until the producer is idle: its queue is full (or it stopped on an
  // error). The learner publishes new weights only then, so every batch is
  // generated under one version fixed by the step count, not by how fast
  // generation ran against training: the run reproduces on any machine.
  void WaitUntilIdle();

 private:
  void Run();

  RolloutCollector& collector_;
  int64_t cursor_;
  const int depth_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<absl::StatusOr<RolloutBatch>> queue_;
  bool stop_ = false;
  bool finished_ = false;  // Run() returned after an error
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace r1::rl

#endif  // R1_RL_ROLLOUT_COLLECTOR_H_
