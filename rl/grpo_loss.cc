#include "rl/grpo_loss.h"

#include <torch/torch.h>

namespace r1::rl {

torch::Tensor GroupAdvantages(const torch::Tensor& rewards, int64_t group_size, config::AdvantageNorm norm,
                              double eps) {
  TORCH_CHECK(rewards.dim() == 1 && rewards.size(0) % group_size == 0, "GroupAdvantages: ", rewards.size(0),
              " rewards do not split into groups of ", group_size);
  // float64: in float32 the mean of 8 x 1.2 is one ulp low and the std about
  // 1e-7, so (r - mean) / (std + 1e-6) came out near 0.1 for a group that
  // carries no signal at all.
  const torch::Tensor groups = rewards.to(torch::kFloat64).view({-1, group_size});  // [N/G, G]
  torch::Tensor advantages = groups - groups.mean(1, /*keepdim=*/true);
  if (norm == config::GROUP_STD && group_size >= 2) {
    advantages = advantages / (groups.std(1, /*unbiased=*/true, /*keepdim=*/true) + eps);
  }
  // All-equal groups get exactly 0, whatever the rounding above did.
  const torch::Tensor uniform = UniformGroups(groups.view({-1}), group_size).unsqueeze(1);  // [N/G, 1]
  advantages = torch::where(uniform, torch::zeros_like(advantages), advantages);
  return advantages.view({-1}).to(torch::kFloat32);
}

torch::Tensor UniformGroups(const torch::Tensor& rewards, int64_t group_size) {
  const torch::Tensor groups = rewards.view({-1, group_size});
  return (groups == groups.select(1, 0).unsqueeze(1)).all(1);
}

GrpoLoss ComputeGrpoLoss(const GrpoLossInputs& in, const GrpoLossOptions& options) {
  const torch::Tensor mask = in.mask.to(torch::kFloat32);  // [N, T]
  const torch::Tensor keep = mask > 0;                       // [N, T] bool
  // Masked positions (padding, masked-out samples) may hold anything, -inf
  // and NaN included. They are replaced before any exp, and summed through
  // torch::where rather than a product with the mask: inf * 0 is NaN, in the
  // loss and in the gradient.
  const auto masked = [&](const torch::Tensor& t) { return torch::where(keep, t, torch::zeros({}, t.options())); };
  // verl's bound on a log-ratio before exp: beyond +-20 the ratio means
  // nothing and exp(88) already overflows float32.
  const auto bounded_log_ratio = [&](const torch::Tensor& a, const torch::Tensor& b) {
    return torch::clamp(masked(a - b), -kMaxLogRatio, kMaxLogRatio);
  };

  const torch::Tensor advantages = in.advantages.to(torch::kFloat32).unsqueeze(1);  // [N, 1]
  const torch::Tensor ratio = torch::exp(bounded_log_ratio(in.logprobs, in.old_logprobs));  // [N, T], 1 where masked
  const torch::Tensor unclipped = ratio * advantages;
  const torch::Tensor clipped =
      torch::clamp(ratio, 1.0 - options.clip_eps_low, 1.0 + options.clip_eps_high) * advantages;
  torch::Tensor per_token = -torch::min(unclipped, clipped);  // [N, T]
  if (options.dual_clip_c > 1.0) {
    // For A < 0 the surrogate is bounded below by c * A (Ye et al. 2020).
    const torch::Tensor capped = torch::min(per_token, -options.dual_clip_c * advantages);
    per_token = torch::where(advantages < 0, capped, per_token);
  }
  const torch::Tensor policy_term = per_token;
  torch::Tensor kl;
  if (options.kl_coef > 0) {
    TORCH_CHECK(in.ref_logprobs.defined(), "ComputeGrpoLoss: kl_coef > 0 needs ref_logprobs");
    const torch::Tensor log_ratio = bounded_log_ratio(in.ref_logprobs, in.logprobs);  // log(pi_ref / pi), 0 where masked
    switch (options.kl_estimator) {
      case config::K1: kl = -log_ratio; break;
      case config::K2: kl = 0.5 * log_ratio * log_ratio; break;
      default:  // k3, R1's choice; clamped as verl's low_var_kl (its gradient is 0 beyond the bound)
        kl = torch::clamp(torch::exp(log_ratio) - log_ratio - 1.0, -kMaxK3, kMaxK3);
        break;
    }
    per_token = per_token + options.kl_coef * kl;
  }
  if (options.entropy_coef != 0 && in.entropy.defined()) per_token = per_token - options.entropy_coef * in.entropy;

  const auto aggregate = [&](const torch::Tensor& values) {
    const torch::Tensor kept = masked(values);  // [N, T]
    switch (options.aggregation) {
      case config::SEQUENCE_MEAN: {
        const torch::Tensor tokens = mask.sum(1);  // [N]
        const torch::Tensor has = tokens > 0;
        const torch::Tensor means = kept.sum(1) / tokens.clamp_min(1.0);
        return (means * has).sum() / has.sum().clamp_min(1);
      }
      case config::SUM_NORM: {
        TORCH_CHECK(options.sum_norm_tokens > 0, "ComputeGrpoLoss: SUM_NORM needs sum_norm_tokens > 0");
        return kept.sum() / (options.sum_norm_tokens * static_cast<double>(values.size(0)));
      }
      default:
        return kept.sum() / mask.sum().clamp_min(1.0);
    }
  };

  GrpoLoss result;
  result.loss = aggregate(per_token);
  torch::NoGradGuard no_grad;
  const double tokens = std::max(1.0, mask.sum().item<double>());
  const auto token_mean = [&](const torch::Tensor& t) { return masked(t.detach()).sum().item<double>() / tokens; };
  result.policy_loss = aggregate(policy_term.detach()).item<double>();
  if (kl.defined()) result.kl = token_mean(kl);
  result.clip_fraction = token_mean((clipped < unclipped).to(torch::kFloat32));
  result.ratio_mean = token_mean(ratio);
  if (in.entropy.defined()) result.entropy = token_mean(in.entropy);
  return result;
}

}  // namespace r1::rl
