// Batched generation with a KV cache, for both architectures: prompts are
// left-padded into one batch, prefilled together, then decoded one token per
// step until every row stops (EOS, a stop string, or the token budget).
#ifndef R1_MODEL_GENERATE_H_
#define R1_MODEL_GENERATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/tokenizer.h"
#include "model/causal_lm.h"
#include "model/sampler.h"

namespace r1::model {

struct GenerationParams {
  SamplingParams sampling;
  int64_t max_new_tokens = 64;
  std::vector<std::string> stop;  // stop strings besides EOS
  uint64_t seed = 0;
  // MLA: decode in the absorbed form (the same logits; less work per token).
  bool absorbed_attention = true;
};

enum class FinishReason { kEos, kStop, kLength };
const char* FinishReasonName(FinishReason reason);  // "eos", "stop", "length"

struct Completion {
  std::vector<int> tokens;      // generated ids, EOS included when it ended the row
  std::vector<float> logprobs;  // one per token; convention of sampler.h
  FinishReason finish_reason = FinishReason::kLength;
  std::string text;             // decoded tokens without EOS, cut at a stop string
};

// Prompts as one batch, left-padded to the longest so that every row's last
// token is in the last column: tokens [B, P] int64 (`pad` where padded) and
// valid [B, P] bool (false where padded). Generate prefills this way, and so
// does the rollout engine for prompts joining together.
struct PaddedPrompts {
  torch::Tensor tokens;
  torch::Tensor valid;
};
PaddedPrompts LeftPadded(const std::vector<std::vector<int>>& prompts, int pad);

// One completion as it grows, token by token: records logprobs, decides when
// it ends (EOS, a stop string, the token budget) and renders its text. Shared
// by Generate and the rollout worker's continuous batching, so both end and
// cut completions the same way.
class CompletionBuilder {
 public:
  CompletionBuilder(const Tokenizer& tokenizer, const std::vector<std::string>& stop, int64_t budget);
  // Adds a sampled token; returns true when the completion has ended.
  bool Append(int id, float logprob);
  bool done() const { return done_; }
  int64_t size() const { return static_cast<int64_t>(completion_.tokens.size()); }
  // Ends it now (e.g. the context is full) with `reason`.
  void End(FinishReason reason);
  // The finished completion, text decoded without EOS and cut at a stop string.
  Completion Build() const;

 private:
  // Whether a stop string has come into the text with the newest token.
  bool NewestTextHoldsStop() const;

  const Tokenizer* tokenizer_;
  const std::vector<std::string>* stop_;
  int64_t budget_;
  bool done_ = false;
  Completion completion_;
};

// The random stream of sample `index` of a generation seeded with `seed`:
// each sample draws from its own generator, so what a sample gets does not
// depend on which other samples share its batch.
uint64_t SampleSeed(uint64_t seed, uint64_t index);

// `prompts` are token ids (e.g. from EncodePrompt); row i samples from stream
// SampleSeed(params.seed, i). Generation stops early at the model's
// max_seq_len (finish reason "length").
std::vector<Completion> Generate(CausalLmImpl& model, const Tokenizer& tokenizer,
                                 const std::vector<std::vector<int>>& prompts, const GenerationParams& params);

}  // namespace r1::model

#endif  // R1_MODEL_GENERATE_H_
