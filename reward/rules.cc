#include "reward/rules.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tasks/expression.h"
#include "tasks/task.h"

namespace r1::reward {
namespace {

constexpr absl::string_view kThinkOpen = "<think>";
constexpr absl::string_view kThinkClose = "</think>";

// Decodes one UTF-8 code point at text[*at] and advances *at. Returns
// nullopt (advancing one byte) for an invalid or truncated sequence.
std::optional<char32_t> NextCodePoint(absl::string_view text, size_t* at) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(*at);
  int extra = 0;
  char32_t cp = 0;
  if (lead < 0x80) {
    ++*at;
    return lead;
  } else if ((lead & 0xE0) == 0xC0) {
    extra = 1, cp = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    extra = 2, cp = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    extra = 3, cp = lead & 0x07;
  } else {
    ++*at;
    return std::nullopt;
  }
  if (*at + extra >= text.size()) {  // truncated sequence
    ++*at;
    return std::nullopt;
  }
  for (int i = 1; i <= extra; ++i) {
    if ((byte(*at + i) & 0xC0) != 0x80) {
      ++*at;
      return std::nullopt;
    }
    cp = (cp << 6) | (byte(*at + i) & 0x3F);
  }
  // Overlong forms and surrogates are invalid.
  static constexpr char32_t kMinimum[] = {0, 0x80, 0x800, 0x10000};
  if (cp < kMinimum[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++*at;
    return std::nullopt;
  }
  *at += extra + 1;
  return cp;
}

struct Range {
  char32_t first, last;
};

struct Script {
  absl::string_view name;
  std::vector<Range> ranges;
};

// Letter blocks of the scripts the language rule knows (Unicode 15 blocks;
// symbols inside them, such as U+00D7 MULTIPLICATION SIGN, are excluded).
const std::vector<Script>& Scripts() {
  static const auto* scripts = new std::vector<Script>{
      {"latin", {{'A', 'Z'}, {'a', 'z'}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x24F}, {0x1E00, 0x1EFF}}},
      {"greek", {{0x370, 0x3FF}, {0x1F00, 0x1FFF}}},
      {"cyrillic", {{0x400, 0x52F}}},
      {"arabic", {{0x600, 0x6FF}, {0x750, 0x77F}}},
      {"devanagari", {{0x900, 0x97F}}},
      {"han", {{0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0xF900, 0xFAFF}, {0x20000, 0x2A6DF}}},
      {"hiragana_katakana", {{0x3040, 0x30FF}}},
      {"hangul", {{0x1100, 0x11FF}, {0xAC00, 0xD7AF}}},
  };
  return *scripts;
}

bool InScript(const Script& script, char32_t cp) {
  return std::any_of(script.ranges.begin(), script.ranges.end(),
                     [cp](const Range& r) { return cp >= r.first && cp <= r.last; });
}

// The reasoning text: inside the first <think> block, else everything.
absl::string_view Reasoning(absl::string_view completion) {
  const size_t open = completion.find(kThinkOpen);
  if (open == absl::string_view::npos) return completion;
  const size_t start = open + kThinkOpen.size();
  const size_t close = completion.find(kThinkClose, start);
  return completion.substr(start, close == absl::string_view::npos ? absl::string_view::npos : close - start);
}

}  // namespace

RuleVerdict FormatRule(absl::string_view completion) {
  const tasks::ParsedCompletion parsed = tasks::ParseCompletion(completion);
  return {parsed.well_formed ? 1.0 : 0.0, parsed.format_reason};
}

RuleVerdict LanguageRule(absl::string_view completion, const config::LanguageRuleConfig& config) {
  const std::vector<Script>& scripts = Scripts();
  const auto target = std::find_if(scripts.begin(), scripts.end(),
                                   [&](const Script& s) { return s.name == config.script(); });
  if (target == scripts.end()) return {0.0, "unknown_script"};
  const absl::string_view text = Reasoning(completion);
  int64_t letters = 0, in_target = 0;
  for (size_t at = 0; at < text.size();) {
    const std::optional<char32_t> cp = NextCodePoint(text, &at);
    if (!cp.has_value()) {
      ++letters;  // an invalid byte is not the target language
      continue;
    }
    if (InScript(*target, *cp)) {
      ++letters, ++in_target;
    } else if (std::any_of(scripts.begin(), scripts.end(), [&](const Script& s) { return InScript(s, *cp); })) {
      ++letters;
    }
  }
  if (letters == 0) return {1.0, "no_letters"};
  const double share = static_cast<double>(in_target) / static_cast<double>(letters);
  return {share, share == 1.0 ? "consistent" : "mixed_language"};
}

int64_t CompletionLength(absl::string_view completion, int32_t completion_tokens) {
  if (completion_tokens > 0) return completion_tokens;
  int64_t characters = 0;
  for (size_t at = 0; at < completion.size();) {
    NextCodePoint(completion, &at);
    ++characters;
  }
  return characters;
}

RuleVerdict SoftOverlongRule(int64_t length, const config::LengthRuleConfig& config) {
  const int64_t max_length = config.max_length();
  const int64_t expected = max_length - config.overlong_buffer();
  if (length <= expected) return {0.0, "within_limit"};
  if (length > max_length) return {-1.0, "overlong"};
  return {static_cast<double>(expected - length) / static_cast<double>(config.overlong_buffer()), "in_buffer"};
}

RuleVerdict CosineLengthRule(int64_t length, bool correct, const config::LengthRuleConfig& config) {
  if (length > config.max_length()) return {config.exceed_reward(), "overlong"};
  const double at_zero = correct ? config.correct_short() : config.wrong_short();
  const double at_max = correct ? config.correct_long() : config.wrong_long();
  // Half a cosine from at_zero (length 0) to at_max (length max_length).
  const double progress = static_cast<double>(length) / static_cast<double>(config.max_length());
  const double score = at_max + 0.5 * (at_zero - at_max) * (1.0 + std::cos(std::numbers::pi * progress));
  return {score, correct ? "correct_scaled" : "wrong_scaled"};
}

RuleVerdict RepetitionRule(absl::string_view completion, const config::RepetitionRuleConfig& config) {
  // Words: maximal runs of non-whitespace bytes.
  std::vector<absl::string_view> words;
  for (size_t at = 0; at < completion.size();) {
    while (at < completion.size() && absl::ascii_isspace(static_cast<unsigned char>(completion[at]))) ++at;
    const size_t start = at;
    while (at < completion.size() && !absl::ascii_isspace(static_cast<unsigned char>(completion[at]))) ++at;
    if (at > start) words.push_back(completion.substr(start, at - start));
  }
  const size_t n = static_cast<size_t>(config.ngram_size());
  if (words.size() < n) return {0.0, "too_short"};
  // Each n-gram as the hash of its words: memory is one hash per n-gram.
  absl::flat_hash_set<size_t> seen;
  const size_t total = words.size() - n + 1;
  size_t repeated = 0;
  for (size_t i = 0; i < total; ++i) {
    size_t h = absl::HashOf(n);
    for (size_t k = 0; k < n; ++k) h = absl::HashOf(h, words[i + k]);
    if (!seen.insert(h).second) ++repeated;
  }
  const double share = static_cast<double>(repeated) / static_cast<double>(total);
  return {-config.max_penalty() * share, repeated == 0 ? "no_repetition" : "repeated_ngrams"};
}

RuleVerdict CountdownRule(absl::string_view answer, const std::vector<int32_t>& numbers,
                          absl::string_view target_text) {
  const std::optional<int64_t> target = tasks::ParseIntegerAnswer(target_text);
  if (!target.has_value()) return {0.0, "gold_unparsable"};
  answer = absl::StripAsciiWhitespace(answer);
  if (answer.empty()) return {0.0, "empty_answer"};
  // "expr = target" is accepted when the right side is the target.
  if (const size_t eq = answer.find('='); eq != absl::string_view::npos) {
    const std::optional<int64_t> claimed = tasks::ParseIntegerAnswer(answer.substr(eq + 1));
    if (!claimed.has_value() || *claimed != *target) return {0.0, "wrong_value"};
    answer = answer.substr(0, eq);
  }
  const absl::StatusOr<tasks::Evaluation> evaluation = tasks::EvaluateExpression(answer);
  if (!evaluation.ok()) return {0.0, "answer_unparsable"};
  std::vector<int64_t> used = evaluation->literals;
  std::vector<int64_t> given(numbers.begin(), numbers.end());
  std::sort(used.begin(), used.end());
  std::sort(given.begin(), given.end());
  if (used != given) return {0.0, "wrong_numbers"};
  if (!(evaluation->value == tasks::Rational{*target, 1})) return {0.0, "wrong_value"};
  return {1.0, "equal"};
}

std::string ExtractCode(absl::string_view completion) {
  const auto last_block = [](absl::string_view text) -> std::optional<std::string> {
    // Walk the fences in order, pairing them; keep the last complete pair.
    std::optional<std::string> found;
    size_t at = 0;
    while (true) {
      const size_t open = text.find("```", at);
      if (open == absl::string_view::npos) break;
      const size_t line_end = text.find('\n', open + 3);
      if (line_end == absl::string_view::npos) break;
      const size_t close = text.find("```", line_end + 1);
      if (close == absl::string_view::npos) break;
      found = std::string(text.substr(line_end + 1, close - line_end - 1));
      at = close + 3;
    }
    return found;
  };
  const tasks::ParsedCompletion parsed = tasks::ParseCompletion(completion);
  if (parsed.answer.has_value()) {
    if (std::optional<std::string> code = last_block(*parsed.answer)) return *code;
  }
  return last_block(completion).value_or("");
}

bool IsValidUtf8(absl::string_view text) {
  size_t at = 0;
  while (at < text.size()) {
    if (!NextCodePoint(text, &at).has_value()) return false;
  }
  return true;
}

}  // namespace r1::reward
