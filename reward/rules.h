// The rule rewards that need no sandbox and no math parser: format, language
// consistency, length, repetition and countdown. Each returns a score and a
// snake_case reason code; all run in time linear in the completion.
#ifndef R1_REWARD_RULES_H_
#define R1_REWARD_RULES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "proto/config.pb.h"

namespace r1::reward {

struct RuleVerdict {
  double score = 0;
  std::string reason;
};

// 1 when the completion is "<think>...</think><answer>...</answer>", each tag
// exactly once and in order, nothing around them but trailing whitespace.
RuleVerdict FormatRule(absl::string_view completion);

// The share of letters in the reasoning (the <think> block, or the whole
// completion without one) that belong to `script` (LanguageRuleConfig.script),
// as R1's language-consistency reward. Digits, punctuation and symbols do not
// count; reasoning with no letters at all scores 1 ("no_letters"). Invalid
// UTF-8 bytes count as letters of no script.
RuleVerdict LanguageRule(absl::string_view completion, const config::LanguageRuleConfig& config);

// The length in the rule's unit: tokens when known (> 0), else Unicode
// characters of the completion.
int64_t CompletionLength(absl::string_view completion, int32_t completion_tokens);

// DAPO's soft overlong punishment: 0 up to max_length - overlong_buffer, then
// falling linearly to -1 at max_length, and -1 beyond.
RuleVerdict SoftOverlongRule(int64_t length, const config::LengthRuleConfig& config);

// Cosine length scaling (Yeo et al. 2025, "Demystifying long chain-of-thought
// reasoning"): a correct answer earns more when short, a wrong one is punished
// less when long (it kept trying), anything past max_length gets exceed_reward.
RuleVerdict CosineLengthRule(int64_t length, bool correct, const config::LengthRuleConfig& config);

// -max_penalty times the share of word n-grams that repeat an earlier n-gram
// (0 for text shorter than one n-gram).
RuleVerdict RepetitionRule(absl::string_view completion, const config::RepetitionRuleConfig& config);

// Countdown: `answer` must be an expression (optionally "expr = target") that
// uses each of `numbers` exactly once and evaluates exactly to `target`.
RuleVerdict CountdownRule(absl::string_view answer, const std::vector<int32_t>& numbers,
                          absl::string_view target);

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code
// points past U+10FFFF): what a proto string field must hold.
bool IsValidUtf8(absl::string_view text);

// The program in a code completion: the last fenced block (```python, ```cpp,
// or bare ```) of the answer, or of the whole completion when the answer has
// none. Empty when there is no fenced block.
std::string ExtractCode(absl::string_view completion);

}  // namespace r1::reward

#endif  // R1_REWARD_RULES_H_
