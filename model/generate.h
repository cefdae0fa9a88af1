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

// `prompts` are token ids (e.g. from EncodePrompt). Generation stops early at
// the model's max_seq_len (finish reason "length").
std::vector<Completion> Generate(CausalLmImpl& model, const Tokenizer& tokenizer,
                                 const std::vector<std::vector<int>>& prompts, const GenerationParams& params);

}  // namespace r1::model

#endif  // R1_MODEL_GENERATE_H_
