#include "model/sampler.h"

#include <torch/torch.h>

namespace r1::model {

torch::Tensor TokenLogprobs(const torch::Tensor& logits, const torch::Tensor& tokens, double temperature) {
  const double t = temperature > 0 ? temperature : 1.0;
  return torch::log_softmax(logits.to(torch::kFloat32) / t, -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1);
}

torch::Tensor SamplingDistribution(const torch::Tensor& logits, const SamplingParams& params) {
  const torch::Tensor scaled = logits.to(torch::kFloat32) / (params.temperature > 0 ? params.temperature : 1.0);
  torch::Tensor probs = torch::softmax(scaled, -1);  // [B, V]
  const int64_t vocab = probs.size(-1);
  torch::Tensor keep = torch::ones_like(probs, torch::kBool);
  if (params.top_k > 0 && params.top_k < vocab) {
    const torch::Tensor kth = std::get<0>(probs.topk(params.top_k, -1)).narrow(-1, params.top_k - 1, 1);  // [B, 1]
    keep &= probs >= kth;
  }
  if (params.top_p < 1.0) {
    // Keep the smallest head of the sorted distribution whose mass reaches
    // top_p: a token stays if the mass before it is still below top_p.
    auto [sorted, order] = probs.sort(-1, /*descending=*/true);
    const torch::Tensor mass_before = sorted.cumsum(-1) - sorted;
    const torch::Tensor keep_sorted = mass_before < params.top_p;
    keep &= torch::zeros_like(keep).scatter(-1, order, keep_sorted);
  }
  if (params.min_p > 0.0) keep &= probs >= params.min_p * std::get<0>(probs.max(-1, true));
  probs = probs * keep;
  return probs / probs.sum(-1, true);
}

Sampled SampleTokens(const torch::Tensor& logits, const SamplingParams& params, at::Generator& generator) {
  Sampled out;
  if (params.temperature <= 0) {
    out.tokens = logits.argmax(-1);
  } else {
    out.tokens = torch::multinomial(SamplingDistribution(logits, params), 1, false, generator).squeeze(-1);
  }
  out.logprobs = TokenLogprobs(logits, out.tokens, params.temperature);
  return out;
}

Sampled SampleRows(const torch::Tensor& logits, const SamplingParams& params,
                   const std::vector<at::Generator*>& generators) {
  TORCH_CHECK(logits.dim() == 2 && logits.size(0) == static_cast<int64_t>(generators.size()),
              "SampleRows: one generator per row of [B, V] logits");
  Sampled out;
  if (params.temperature <= 0) {
    out.tokens = logits.argmax(-1);
  } else {
    const torch::Tensor probs = SamplingDistribution(logits, params);  // [B, V]
    torch::Tensor noise = torch::empty_like(probs);
    for (size_t b = 0; b < generators.size(); ++b) noise[static_cast<int64_t>(b)].exponential_(1, *generators[b]);
    out.tokens = (probs / noise).argmax(-1);
  }
  out.logprobs = TokenLogprobs(logits, out.tokens, params.temperature);
  return out;
}

Verified VerifyDraft(const torch::Tensor& target_logits, const torch::Tensor& draft_probs, int64_t draft,
                     const SamplingParams& params, at::Generator& generator) {
  Verified out;
  if (params.temperature <= 0) {
    out.token = target_logits.argmax(-1).item<int64_t>();
    out.accepted = out.token == draft;
  } else {
    const torch::Tensor p = SamplingDistribution(target_logits.unsqueeze(0), params).squeeze(0);  // [V]
    const double p_draft = p[draft].item<double>();
    const double q_draft = draft_probs[draft].item<double>();
    // u < p/q, written without the division (q > 0: the draft was drawn from q).
    const double u = torch::rand({1}, generator, torch::kFloat64).item<double>();
    if (u * q_draft < p_draft) {
      out.token = draft;
      out.accepted = true;
    } else {
      torch::Tensor residual = (p - draft_probs.to(torch::kFloat32)).clamp_min(0);  // [V]
      // Rounding can leave no mass (p == q up to float error, where a
      // rejection is itself a rounding artefact): draw from p then.
      if (residual.sum().item<double>() <= 0) residual = p;
      out.token = torch::multinomial(residual, 1, false, generator).item<int64_t>();
    }
  }
  out.logprob = TokenLogprobs(target_logits, torch::tensor(out.token, torch::kInt64), params.temperature).item<float>();
  return out;
}

}  // namespace r1::model
