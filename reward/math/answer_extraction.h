// Extraction of the final answer from a model completion: the text a math
// reward compares against the gold answer. Completions are untrusted model
// output, so every path runs in time and memory linear in the input and never
// recurses on it: megabytes of text, a million nested braces, binary bytes or
// invalid UTF-8 all end in a verdict.
#ifndef R1_REWARD_MATH_ANSWER_EXTRACTION_H_
#define R1_REWARD_MATH_ANSWER_EXTRACTION_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace r1::reward {

struct ExtractionOptions {
  // Optional RE2 pattern with at least one capture group, compiled per call.
  // When non-empty it is tried first, and group 1 of the last match of a
  // left-to-right scan (as re.findall()[-1]) is the answer; matches whose
  // group 1 is empty or blank are skipped. An invalid pattern, or one without
  // a capture group, gives reason "invalid_pattern".
  std::string pattern;
  bool boxed = true;  // the last \boxed{...} / \fbox{...} / "\boxed 5"
  // The block opened by the last <answer>; if that one never closes the
  // answer was cut off ("unclosed_answer_tag"), even if an earlier one closed.
  bool answer_tag = true;
  size_t max_input_bytes = 1 << 20;  // longer completions are refused
};

struct ExtractedAnswer {
  bool found = false;
  std::string text;    // trimmed answer text when found
  std::string source;  // "pattern", "boxed" or "answer_tag" when found
  // When not found: "no_answer", "input_too_long", "invalid_pattern",
  // "unbalanced_braces" (the last \boxed never closes: a truncated answer),
  // "empty_boxed", "empty_answer_tag", "unclosed_answer_tag".
  std::string reason;
};

// Order: the configured pattern (when set and it matches), then the last
// \boxed (when options.boxed), then the last <answer> block (when
// options.answer_tag; a \boxed inside it is unwrapped). When the last \boxed
// is unusable the answer tag is still tried; if that finds nothing either,
// the boxed failure is the reason reported.
ExtractedAnswer ExtractFinalAnswer(absl::string_view completion,
                                   const ExtractionOptions& options = {});

}  // namespace r1::reward

#endif  // R1_REWARD_MATH_ANSWER_EXTRACTION_H_
