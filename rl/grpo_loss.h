// The GRPO objective (DeepSeekMath, DeepSeek-R1) and the variants the open
// frameworks ship: group-normalized or mean-centred advantages (Dr. GRPO),
// a clipped surrogate with separate low and high clip ranges (DAPO
// clip-higher) and an optional dual clip, a KL penalty to the reference
// policy with the k1, k2 or k3 estimator, and three ways to aggregate token
// losses. Everything is per token; the caller supplies logprobs computed
// with model::TokenLogprobs (the rollout workers' convention).
//
// Legend: N sequences (prompts x G, each group consecutive), T completion
// tokens (right-padded), G group size.
#ifndef R1_RL_GRPO_LOSS_H_
#define R1_RL_GRPO_LOSS_H_

#include <torch/types.h>

#include "proto/config.pb.h"

namespace r1::rl {

// Advantages [N] (float32) from rewards [N]: GROUP_STD gives
// (r - mean) / (std + eps) with the unbiased std of the group (as
// torch.std), GROUP_MEAN gives r - mean, both computed in float64. A group
// whose rewards are all equal gets advantages of exactly 0 either way.
torch::Tensor GroupAdvantages(const torch::Tensor& rewards, int64_t group_size, config::AdvantageNorm norm,
                              double eps = 1e-6);

// [N / G] bool: the groups whose rewards are all equal (no learning signal;
// dynamic sampling drops them).
torch::Tensor UniformGroups(const torch::Tensor& rewards, int64_t group_size);

// verl's bounds (compute_policy_loss, kl_penalty "low_var_kl"): a log-ratio
// is clamped to [-20, 20] before exp, and the k3 estimate to [-10, 10]. Past
// a bound the term is constant, so its gradient is 0 there.
inline constexpr double kMaxLogRatio = 20;
inline constexpr double kMaxK3 = 10;

struct GrpoLossOptions {
  double clip_eps_low = 0.2;   // ratio floor 1 - eps_low
  double clip_eps_high = 0.2;  // ratio ceiling 1 + eps_high (DAPO: 0.28)
  double dual_clip_c = 0;      // 0 = off; else > 1: negative-advantage loss capped at c * |A|
  double kl_coef = 0;          // 0 = no KL term (ref_logprobs may be undefined)
  config::KlEstimator kl_estimator = config::K3;
  config::LossAggregation aggregation = config::TOKEN_MEAN;
  double sum_norm_tokens = 0;  // SUM_NORM: each sequence's token sum / this (e.g. max_new_tokens)
  double entropy_coef = 0;     // bonus: loss -= coef * entropy (needs inputs.entropy)
};

// Where mask is 0 every input may hold any value, -inf or NaN included: it
// never reaches the loss or its gradient.
struct GrpoLossInputs {
  torch::Tensor logprobs;      // [N, T] under the policy being trained (with grad)
  torch::Tensor old_logprobs;  // [N, T] under the policy that sampled (rollout or recomputed)
  torch::Tensor ref_logprobs;  // [N, T] under the reference policy; needed when kl_coef > 0
  torch::Tensor advantages;    // [N]
  torch::Tensor mask;          // [N, T], 1 on completion tokens that count, 0 elsewhere
  torch::Tensor entropy;       // [N, T], optional: the policy's entropy at each token
};

struct GrpoLoss {
  torch::Tensor loss;  // scalar to minimize
  // Detached metrics, token means over the mask:
  double policy_loss = 0;    // the surrogate part of the loss (aggregated like the loss)
  double kl = 0;             // the estimator's value (0 without a reference)
  double clip_fraction = 0;  // tokens where the clipped ratio was the one used
  double ratio_mean = 0;
  double entropy = 0;
};

// Finite inputs at the counted positions give a finite loss and gradient:
// both log-ratios (policy / old, reference / policy) are clamped to
// +-kMaxLogRatio before exp and k3 to kMaxK3.
GrpoLoss ComputeGrpoLoss(const GrpoLossInputs& inputs, const GrpoLossOptions& options);

}  // namespace r1::rl

#endif  // R1_RL_GRPO_LOSS_H_
