// One GRPO policy update (DeepSeekMath section 4.1, DeepSeek-R1) on scored
// sequences, with no rollout, reward or network in it: old logprobs (the
// workers', or recomputed here), reference logprobs, the mini-batch /
// micro-batch loop, the loss of rl/grpo_loss.h, the data-parallel hooks, the
// guarded optimizer step and the MoE bias update.
//
// A batch of N sequences is cut into `updates` mini-batches (one optimizer
// step each), and a mini-batch into micro-batches of `micro_batch_size`
// sequences (one forward and backward each, gradients accumulated). Each
// micro-batch's loss is weighted by its share of the whole mini-batch (its
// tokens, its sequences with tokens, or its sequences, after the
// aggregation), counted over every rank, so the step is the step on the
// union of all ranks' mini-batches however they are cut.
//
// Legend: n sequences in a micro-batch, L the longest sequence (prompt +
// completion) among them.
#ifndef R1_RL_GRPO_STEP_H_
#define R1_RL_GRPO_STEP_H_

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "proto/config.pb.h"
#include "rl/grpo_loss.h"
#include "rl/step_stats.h"

namespace torch::optim {
class AdamW;
}
namespace r1::model {
class CausalLmImpl;
}

namespace r1::rl {

class DataParallel;

// One sequence of the batch in training form.
struct Sequence {
  std::vector<int64_t> tokens;     // prompt + completion
  int64_t completion_start = 0;    // index of the first completion token
  std::vector<float> old_logprobs; // per completion token
  float advantage = 0;
  bool in_loss = true;             // false: truncated and rl.mask_truncated
};

// A micro-batch as tensors, right-padded, with positions aligned to the
// logits of tokens[:, :-1] (the logprob of token p sits at p - 1).
struct MicroBatch {
  torch::Tensor inputs;        // [n, L-1] int64
  torch::Tensor targets;       // [n, L-1] int64
  torch::Tensor mask;          // [n, L-1] float, 1 on completion tokens in the loss
  torch::Tensor old_logprobs;  // [n, L-1] float
  torch::Tensor advantages;    // [n]
  torch::Tensor real;          // [n, L-1] bool, false on right padding
};
MicroBatch MakeMicroBatch(const std::vector<Sequence>& sequences, const std::vector<int64_t>& rows, int pad_id);

struct GrpoUpdateOptions {
  GrpoLossOptions loss;
  double temperature = 1;          // of every logprob: the sampling temperature (model::TokenLogprobs)
  int64_t updates = 1;             // mini-batches, one optimizer step each
  int64_t micro_batch_size = 0;    // sequences per forward; 0 = the whole mini-batch
  // false: the workers' logprobs are the old policy's; true: a no-grad
  // forward before the first update replaces them.
  bool recompute_old_logprobs = false;
  double lr = 0;
  double grad_clip = 0;            // global L2 norm; 0 = off
  int pad_id = 0;
  // Rank 0 reports a skipped update as "<log_prefix>, mini-batch b: ...".
  std::string log_prefix = "grpo";
};

// Everything but lr, pad_id and log_prefix, from the RL config.
GrpoUpdateOptions GrpoUpdateOptionsFor(const config::RlConfig& rl);

// Trains `policy` on `sequences` (their old logprobs are replaced when
// recomputed). `reference` may be null when options.loss.kl_coef is 0, `dp`
// when there is one rank; with several, every rank calls this with its own
// sequences. Returns this rank's update fields of StepStats (sums still to be
// reduced across ranks). Gradients are cleared before and after. A round
// whose loss or gradient is not finite on any rank is skipped on every rank
// and counted (model::GuardedOptimizerStep).
StepStats GrpoUpdate(model::CausalLmImpl& policy, model::CausalLmImpl* reference, torch::optim::AdamW& optimizer,
                     std::vector<Sequence>& sequences, const GrpoUpdateOptions& options, DataParallel* dp);

}  // namespace r1::rl

#endif  // R1_RL_GRPO_STEP_H_
