// AdamW with warmup and cosine decay, gradient clipping, and optimizer state
// as named tensors (so it checkpoints into a safetensors file).
#ifndef R1_MODEL_OPTIMIZER_H_
#define R1_MODEL_OPTIMIZER_H_

#include <torch/optim/adamw.h>

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "model/causal_lm.h"
#include "proto/config.pb.h"

namespace r1::model {

// Learning rate at an optimizer step: linear warmup from 0 over warmup_steps,
// then cosine decay to min_lr_ratio * lr at total_steps (flat after).
double LearningRate(const config::OptimizerConfig& config, int64_t step, int64_t total_steps);

// Two groups: matrices with config.weight_decay, vectors (norm gains) without.
std::unique_ptr<torch::optim::AdamW> MakeAdamW(CausalLmImpl& model, const config::OptimizerConfig& config);

// Sets every parameter group's learning rate.
void SetLearningRate(torch::optim::AdamW& optimizer, double lr);

// Drops every parameter's gradient (leaves it undefined). LibTorch 1.13's
// Optimizer::zero_grad() keeps zero-filled gradients instead, so a routed
// expert that gets no tokens in a step would still be moved by AdamW (its
// momentum and weight decay) in a long-running process but not in one resumed
// from a checkpoint; with gradients dropped, an expert without tokens is left
// alone either way and resumed runs match uninterrupted ones exactly.
void ClearGradients(CausalLmImpl& model);

// Scales gradients so their global L2 norm is at most max_norm (0 = off).
// Returns the norm before clipping.
double ClipGradients(CausalLmImpl& model, double max_norm);

// AdamW moments by parameter name: "exp_avg.<name>", "exp_avg_sq.<name>",
// "step.<name>". Parameters without state (never stepped) are absent.
std::map<std::string, torch::Tensor> OptimizerStateTensors(CausalLmImpl& model, torch::optim::AdamW& optimizer);
absl::Status RestoreOptimizerState(CausalLmImpl& model, torch::optim::AdamW& optimizer,
                                   const std::map<std::string, torch::Tensor>& tensors);

// One optimizer round on the gradients accumulated in `model` (in RL
// already averaged across ranks, so every rank decides alike): clip to `grad_clip`,
// AdamW at `lr`, then the MoE bias update. Skipped when `loss_finite` is false
// or the gradient norm is NaN or inf (clipping cannot repair either: NaN
// compares false, inf scales by 0 into NaN): weights, buffers, AdamW moments
// and step counts stay as they were, the gradients are dropped and the
// expert-load counts reset, so the bias does not move either.
struct OptimizerRound {
  double grad_norm = 0;  // before clipping
  bool skipped = false;
  std::map<std::string, double> expert_balance;  // ExpertLoadBalance before the bias update; empty when skipped
};
OptimizerRound GuardedOptimizerStep(CausalLmImpl& model, torch::optim::AdamW& optimizer, double lr,
                                    double grad_clip, bool loss_finite);

}  // namespace r1::model

#endif  // R1_MODEL_OPTIMIZER_H_
