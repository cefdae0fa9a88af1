// Extraction of the final answer from a model completion: the text a math
// reward compares against the gold answer. Completions are untrusted model
// output, so every path runs in time and memory linear in the input and never
// recurses on it: megabytes of text, a million nested braces or '$', binary
// bytes or invalid UTF-8 all end in a verdict.
//
// Order (the most explicit form first; the first form that is present decides):
//  0. after_think: when set, only the text after the last </think> is
//     searched (by every form below, the pattern included). A <think> with
//     no </think> after it is a reasoning that never finished:
//     "unfinished_think", nothing else is tried. Without either tag the whole
//     completion is searched.
//  1. "pattern": the configured RE2 pattern, when set and it matches.
//  2. "boxed": the last \boxed{...} / \fbox{...} / "\boxed 5" together with
//     the boxes right before it that are separated from it only by
//     whitespace, ',', ';', "and", "or", \text{ and }, \quad, \, \; \\ or math
//     delimiters ($, $$, \( \), \[ \]): "\boxed{1}, \boxed{2}" and
//     "$\boxed{1}$ and $\boxed{2}$" give "1, 2" (a set to the verifier). A
//     draft box followed by any other text is not joined: the last group
//     counts. A '-' right before the group (spaces between allowed) is the
//     answer's sign: "$-\boxed{5}$" gives "-(5)", never "5".
//  3. "answer_tag": the block opened by the last <answer>. A box inside it is
//     unwrapped (and grouped as in 2); else an answer phrase inside it (4a-4c:
//     "<answer>The answer is 5.</answer>" gives "5"); else the whole block.
//  4. Free text, only when options.free_text and neither a \boxed/\fbox nor an
//     <answer> tag occurs in the searched text (a broken or empty box or tag
//     is a truncated final answer, and is reported, never guessed around):
//     a. "final_answer_phrase": the last "final answer" (any case) followed by
//        ':' or by " is" within 100 bytes of the same line, or by a line
//        break when the rest of the text is one line: Minerva's "Final
//        Answer: The final answer is $X$. I hope it is correct." gives X.
//     b. "answer_colon": the last "Answer:" (any case, "**Answer:**" too)
//        when its value runs to the end of the text on one line (a bare
//        final value, as the "Answer: $X" prompt convention).
//     c. "answer_is": the last "answer is" (any case): "the answer is X".
//     d. "last_math": the last $...$, $$...$$, \(...\) or \[...\] span, joined
//        with the spans right before it separated only by whitespace, ',',
//        ';', "and" or "or" ("$x=1$ and $x=2$" gives "x=1, x=2"), unless
//        its sentence says "not", "n't", "cannot", "wrong", "incorrect" or
//        "impossible" ("$x = 5$ is not a solution": "negated_answer").
//     A phrase's value is the math span group it opens with, else its text
//     up to the end of the sentence or line (". ", "!", "?", a newline, "I
//     hope it is correct", or ", " before a word of three letters or more
//     other than "and"/"or"), with "**" bold markers and a final '.' removed.
//     Inline $: the opening '$' is followed by a non-space, the closing one
//     preceded by a non-space and not followed by a digit, on one line
//     ("costs $5 and $10" holds no math); "\$" is a literal dollar.
//     When the decisive phrase is negated ("the answer is not 5", "the answer
//     isn't 5"), or a negated "answer is" follows it ("Final Answer: 5. Wait,
//     the answer isn't 5."), nothing is extracted ("negated_answer"): an
//     earlier phrase or a math span is never used in place of a retracted one.
//  5. Otherwise not found, with the reason of the form that failed.
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
  bool boxed = true;  // the last group of \boxed{...} / \fbox{...} / "\boxed 5"
  // The block opened by the last <answer>; if that one never closes the
  // answer was cut off ("unclosed_answer_tag"), even if an earlier one closed.
  bool answer_tag = true;
  // The free-text forms (4a-4d above) when no box and no answer tag occur.
  bool free_text = true;
  // Grade only the text after the last </think> (a reasoning model's answer,
  // not its drafts); a <think> never closed gives "unfinished_think". On by
  // default, as MathRuleConfig.answer_after_think: r1's own format puts the
  // answer in <answer> after </think>, and a completion without think tags
  // is searched whole either way.
  bool after_think = true;
  size_t max_input_bytes = 1 << 20;  // longer completions are refused
};

struct ExtractedAnswer {
  bool found = false;
  std::string text;    // trimmed answer text when found
  // When found: "pattern", "boxed", "answer_tag", "final_answer_phrase",
  // "answer_colon", "answer_is" or "last_math".
  std::string source;
  // When not found: "no_answer", "input_too_long", "invalid_pattern",
  // "unbalanced_braces" (the last \boxed never closes: a truncated answer),
  // "empty_boxed" (the last box, or one joined to it, is empty),
  // "empty_answer_tag", "unclosed_answer_tag", "unfinished_think" (a <think>
  // with no </think> after it, when after_think), "negated_answer" (the
  // deciding answer phrase says "not").
  std::string reason;
};

ExtractedAnswer ExtractFinalAnswer(absl::string_view completion,
                                   const ExtractionOptions& options = {});

// The gold answer as the math rule compares it. A gold holding \boxed{} or
// \fbox{} (a worked solution, "\boxed{1}, \boxed{2}") becomes its box group,
// joined as in ExtractFinalAnswer, when that group holds every box of the
// gold. Otherwise (no box, a broken or empty box, boxes in separate groups
// such as "(a) \boxed{1} (b) \boxed{2}") the gold is returned unchanged, as
// before: the verifier reads it whole. Golds are trusted data, so no think
// tags, answer tags or free-text forms are looked at.
std::string GoldAnswerText(absl::string_view gold);

}  // namespace r1::reward

#endif  // R1_REWARD_MATH_ANSWER_EXTRACTION_H_
