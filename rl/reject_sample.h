// Rejection sampling (DeepSeek-R1's stage 3 data): K samples per prompt from
// a checkpoint served by the rollout workers, scored by the reward service;
// the correct, well-formed ones become an SFT dataset.
//
// A sample is kept when the correctness rule passed, the format rule (when the
// mix has it) scored 1, it ended on its own (not cut at the token limit), it
// is within max_response_tokens, and, with drop_mixed_language, the language
// rule scored 1. Identical completions of one prompt count once. Of the
// survivors, up to M per prompt are kept: the shortest, a seeded random
// choice, or all.
#ifndef R1_RL_REJECT_SAMPLE_H_
#define R1_RL_REJECT_SAMPLE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "proto/config.pb.h"

namespace r1 {
class Tokenizer;
namespace reward {
class RewardClient;
}
namespace rollout {
class RolloutPool;
}

namespace rl {

class PromptSource;

struct RejectSampleOptions {
  config::RejectSampleConfig config;
  const PromptSource* prompts = nullptr;
  int64_t num_prompts = 0;          // prompts 0 .. num_prompts-1 of the source
  rollout::RolloutPool* pool = nullptr;  // workers serving `checkpoint`
  reward::RewardClient* reward = nullptr;
  const Tokenizer* tokenizer = nullptr;
  std::string checkpoint;           // recorded as each example's provenance
  std::string output_path;          // SFT JSONL, written atomically
  uint64_t seed = 1;
  int64_t chunk_prompts = 32;       // prompts per pool call (progress granularity)
};

struct RejectSampleStats {
  int64_t prompts = 0;
  int64_t samples = 0;
  int64_t correct = 0;
  int64_t dropped_format = 0;
  int64_t dropped_truncated = 0;
  int64_t dropped_too_long = 0;
  int64_t dropped_language = 0;
  int64_t duplicates = 0;
  int64_t kept = 0;
  int64_t prompts_with_kept = 0;    // prompts that yielded at least one kept sample
  double seconds = 0;

  std::string ToJson() const;
};

absl::StatusOr<RejectSampleStats> RunRejectSampling(const RejectSampleOptions& options);

}  // namespace rl
}  // namespace r1

#endif  // R1_RL_REJECT_SAMPLE_H_
