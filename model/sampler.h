// Token sampling with temperature, top-k, top-p and min-p.
//
// Logprob convention (shared with the learner, see TokenLogprobs): the
// logprob of a sampled token is log_softmax(logits / temperature) at that
// token, taken BEFORE top-k/top-p/min-p truncation. Truncation changes which
// tokens can be drawn, not the probability the policy assigns; the learner
// recomputes exactly this quantity, so rollout and learner logprobs agree.
// Temperature 0 means greedy, with logprobs of log_softmax(logits).
//
// Legend: B batch, T tokens, V vocab.
#ifndef R1_MODEL_SAMPLER_H_
#define R1_MODEL_SAMPLER_H_

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <vector>

namespace r1::model {

struct SamplingParams {
  double temperature = 1.0;  // 0 = greedy
  double top_p = 1.0;        // 1 = off
  int64_t top_k = 0;         // 0 = off
  double min_p = 0.0;        // 0 = off; keeps p >= min_p * p_max
};

struct Sampled {
  torch::Tensor tokens;    // [B] int64
  torch::Tensor logprobs;  // [B] float32, convention above
};

// logits [B, V] (any float dtype).
Sampled SampleTokens(const torch::Tensor& logits, const SamplingParams& params, at::Generator& generator);

// SampleTokens for each row of `logits` [B, V] with its own generator
// (`generators[b]` for row b), in one batched pass: the same tokens and
// logprobs as B calls of SampleTokens on single rows with those generators,
// bit for bit, and each generator left where those calls leave it.
// torch::multinomial drawing one sample takes argmax(p / e) with e
// exponential noise from its generator; here each row's noise comes from
// its own generator (one op per row) and the rest is done for all rows at
// once. The rollout engine samples a decode step's rows this way, so a
// sample's tokens do not depend on the batch it shares.
Sampled SampleRows(const torch::Tensor& logits, const SamplingParams& params,
                   const std::vector<at::Generator*>& generators);

// The probabilities sampling draws from, after truncation: [B, V] float32.
torch::Tensor SamplingDistribution(const torch::Tensor& logits, const SamplingParams& params);

// Speculative sampling (Leviathan et al. 2023, Chen et al. 2023), for each
// row b of a batch with its own generator. `drafts[b]` was drawn from
// `draft_probs[b]` (the SamplingDistribution of the drafter's logits, same
// params; undefined when greedy); `target_logits` [B, V] are the model's at
// the same positions. A draft is kept with probability min(1, p(draft) /
// q(draft)), p = SamplingDistribution(target_logits); otherwise a token is
// drawn from the residual max(0, p - q), renormalized. Either way the token
// is distributed exactly as p, whatever q is. Greedy (temperature 0): a
// draft is kept when it is the target's argmax, else the argmax is returned,
// so greedy output is what SampleTokens would give. Logprobs follow the
// convention above, from `target_logits`.
//
// Each row's generator gives one uniform (the test against q) and, for a
// rejected draft, the exponential noise of the residual's draw: the draws a
// per-row torch::rand and torch::multinomial make, so a row's result and its
// generator's state do not depend on the batch it is verified in.
struct VerifiedRows {
  torch::Tensor tokens;    // [B] int64
  torch::Tensor logprobs;  // [B] float32
  torch::Tensor accepted;  // [B] bool: the token is the draft
};
VerifiedRows VerifyDrafts(const torch::Tensor& target_logits, const torch::Tensor& draft_probs,
                          const torch::Tensor& drafts, const SamplingParams& params,
                          const std::vector<at::Generator*>& generators);

// torch::multinomial(probs[b], 1, false, *generators[b]) for each row b of
// `probs` [B, V] (non-negative, each row with some mass), in one pass:
// argmax(p / e) with e ~ Exp(1) from the row's own generator, which is how
// multinomial draws one sample. [B] int64.
torch::Tensor DrawRows(const torch::Tensor& probs, const std::vector<at::Generator*>& generators);

// Logprobs of `tokens` [B, T] under logits [B, T, V] with the convention
// above: log_softmax(logits / temperature) gathered at the tokens. [B, T].
torch::Tensor TokenLogprobs(const torch::Tensor& logits, const torch::Tensor& tokens, double temperature);

}  // namespace r1::model

#endif  // R1_MODEL_SAMPLER_H_
