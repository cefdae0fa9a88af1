#include "model/sampler.h"

#include <torch/torch.h>

#include "model/cast.h"

namespace r1::model {

torch::Tensor TokenLogprobs(const torch::Tensor& logits, const torch::Tensor& tokens, double temperature) {
  const double t = temperature > 0 ? temperature : 1.0;
  return torch::log_softmax(AsDtype(logits, torch::kFloat32) / t, -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1);
}

torch::Tensor SamplingDistribution(const torch::Tensor& logits, const SamplingParams& params) {
  const torch::Tensor scaled = AsDtype(logits, torch::kFloat32) / (params.temperature > 0 ? params.temperature : 1.0);
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

torch::Tensor DrawRows(const torch::Tensor& probs, const std::vector<at::Generator*>& generators) {
  TORCH_CHECK(probs.dim() == 2 && probs.size(0) == static_cast<int64_t>(generators.size()),
              "DrawRows: one generator per row of [B, V] probabilities");
  torch::Tensor noise = torch::empty_like(probs);  // [B, V]
  for (size_t b = 0; b < generators.size(); ++b) noise[static_cast<int64_t>(b)].exponential_(1, *generators[b]);
  return (probs / noise).argmax(-1);
}

Sampled SampleRows(const torch::Tensor& logits, const SamplingParams& params,
                   const std::vector<at::Generator*>& generators) {
  TORCH_CHECK(logits.dim() == 2 && logits.size(0) == static_cast<int64_t>(generators.size()),
              "SampleRows: one generator per row of [B, V] logits");
  Sampled out;
  out.tokens = params.temperature <= 0 ? logits.argmax(-1) : DrawRows(SamplingDistribution(logits, params), generators);
  out.logprobs = TokenLogprobs(logits, out.tokens, params.temperature);
  return out;
}

VerifiedRows VerifyDrafts(const torch::Tensor& target_logits, const torch::Tensor& draft_probs,
                          const torch::Tensor& drafts, const SamplingParams& params,
                          const std::vector<at::Generator*>& generators) {
  const int64_t rows = target_logits.size(0);
  TORCH_CHECK(target_logits.dim() == 2 && drafts.dim() == 1 && drafts.size(0) == rows &&
                  static_cast<int64_t>(generators.size()) == rows,
              "VerifyDrafts: [B, V] target logits, [B] drafts and one generator per row");
  VerifiedRows out;
  if (params.temperature <= 0) {
    out.tokens = target_logits.argmax(-1);
    out.accepted = out.tokens == drafts;
  } else {
    TORCH_CHECK(draft_probs.sizes() == target_logits.sizes(), "VerifyDrafts: [B, V] draft probabilities");
    const torch::Tensor p = SamplingDistribution(target_logits, params);  // [B, V]
    const torch::Tensor q = AsDtype(draft_probs, torch::kFloat32);         // [B, V]
    const torch::Tensor index = drafts.unsqueeze(1);                         // [B, 1]
    const torch::Tensor p_draft = p.gather(1, index).squeeze(1).to(torch::kFloat64);  // [B]
    const torch::Tensor q_draft = q.gather(1, index).squeeze(1).to(torch::kFloat64);
    torch::Tensor u = torch::empty({rows}, torch::kFloat64);
    for (int64_t b = 0; b < rows; ++b) u.narrow(0, b, 1).uniform_(0, 1, *generators[static_cast<size_t>(b)]);
    // u < p/q, written without the division (q > 0: the draft was drawn from q).
    out.accepted = u * q_draft < p_draft;
    out.tokens = drafts.clone();
    const torch::Tensor rejected = out.accepted.logical_not().nonzero().squeeze(1);  // [R]
    if (rejected.size(0) > 0) {
      const torch::Tensor p_rejected = p.index_select(0, rejected);
      torch::Tensor residual = (p_rejected - q.index_select(0, rejected)).clamp_min(0);  // [R, V]
      // Rounding can leave a row no mass (p == q up to float error, where a
      // rejection is itself a rounding artefact): it draws from p then.
      residual = torch::where(residual.sum(-1, true) > 0, residual, p_rejected);
      std::vector<at::Generator*> rejected_generators;
      const auto rejected_a = rejected.accessor<int64_t, 1>();
      for (int64_t r = 0; r < rejected.size(0); ++r) rejected_generators.push_back(generators[static_cast<size_t>(rejected_a[r])]);
      out.tokens.index_copy_(0, rejected, DrawRows(residual, rejected_generators));
    }
  }
  out.logprobs = TokenLogprobs(target_logits, out.tokens, params.temperature);
  return out;
}

}  // namespace r1::model
