// The GRPO learner (DeepSeekMath, DeepSeek-R1): the R1-Zero and RL stages.
//
// One step:
//   prompts (PromptSource) -> RolloutPool: G completions each, with the
//   worker's per-token logprobs and weight version -> RewardClient: reward
//   and per-rule breakdown -> group advantages (dynamic sampling drops groups
//   whose rewards are all equal and draws more prompts, up to a cap) ->
//   updates_per_batch optimizer steps over mini-batches of the batch, each
//   accumulated over micro-batches (a step whose loss or gradient norm is not
//   finite is skipped on every rank and counted, skipped_nonfinite_steps) ->
//   MoE bias update -> the new weights are pushed to every worker as the next
//   version.
//
// Synchronous (rl.max_staleness = 0): the rollouts of step t use the weights
// of step t. Asynchronous (max_staleness = S > 0): a producer thread
// generates the next batches (up to S ahead) while the learner trains;
// completions from weights more than S versions behind are dropped and
// counted; the rest use the worker's logprobs as the behaviour policy.
//
// Exact resume (synchronous mode): prompts are a function of a cursor, every
// sample draws from its own random stream (the run seed and its prompt's
// index), and the checkpoint holds the weights, AdamW moments, the cursor and
// the reference weights, so a resumed run computes the same losses as one
// never stopped. In asynchronous mode the batches in flight at the checkpoint
// are generated again on resume (with the restored weights).
//
// Data parallel: with a DataParallel of W ranks, each rank draws its own
// prompts (rank r takes prompt indices r, r + W, ...), computes its share of
// the loss, and gradients are averaged; the loss is scaled so the step equals
// one rank's step on the union of the batches. Rank 0 pushes weights, writes
// checkpoints and metrics, and runs evals.
#ifndef R1_RL_LEARNER_H_
#define R1_RL_LEARNER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/config.pb.h"
#include "proto/records.pb.h"

namespace torch::optim {
class AdamW;
}
namespace r1::model {
class CausalLmImpl;
}
namespace r1::rollout {
class RolloutPool;
}
namespace r1::reward {
class RewardClient;
}

namespace r1::rl {

class DataParallel;
class PromptSource;

struct LearnerOptions {
  std::string stage = "rl";          // names the stage in logs and checkpoints
  std::string stage_dir;             // checkpoints/, metrics.jsonl, tensorboard/, eval.jsonl
  std::string init_checkpoint;       // the starting policy, and the reference
  std::string chat_template;         // a .jinja file for a policy without a template (data.chat_template)
  config::RlConfig rl;
  uint64_t seed = 1;
  bool resume = false;               // continue from the newest checkpoint in stage_dir
  const PromptSource* prompts = nullptr;  // read by one thread at a time
  std::vector<data::PromptRecord> eval_prompts;  // empty = no eval
  rollout::RolloutPool* pool = nullptr;
  reward::RewardClient* reward = nullptr;
  DataParallel* data_parallel = nullptr;  // null = one rank
  // Log the largest difference between any rank's weights and rank 0's after
  // every step (weight_divergence; costs a broadcast of all weights).
  bool check_weight_sync = false;
};

struct EvalResult {
  int prompts = 0;
  int samples = 0;            // k
  double avg_at_k = 0;        // pass@1 averaged over k samples: the headline
  double pass_at_k = 0;
  double maj_at_k = 0;
  double greedy = -1;         // -1 = not measured
  double format_rate = 0;     // share of samples in the reasoning format
  double mean_length = 0;     // completion tokens
  // Samples the reward service could not score (an infrastructure fault that
  // outlived the retries). They count neither right nor wrong: accuracies are
  // over the scored samples, and a prompt with none scored is left out.
  int64_t unscored = 0;
};

struct LearnerResult {
  int64_t steps = 0;
  std::string checkpoint;     // the final checkpoint folder
  EvalResult first_eval;      // before the first step of this run (or the resumed step)
  EvalResult last_eval;
  double seconds = 0;         // this run plus resumed ones
};

absl::StatusOr<LearnerResult> RunGrpo(const LearnerOptions& options);


}  // namespace r1::rl

#endif  // R1_RL_LEARNER_H_
