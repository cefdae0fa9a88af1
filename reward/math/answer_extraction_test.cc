#include "reward/math/answer_extraction.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace r1::reward {
namespace {

ExtractedAnswer Extract(absl::string_view completion, const ExtractionOptions& options = {}) {
  return ExtractFinalAnswer(completion, options);
}

void ExpectFound(const ExtractedAnswer& a, absl::string_view text, absl::string_view source) {
  EXPECT_TRUE(a.found) << "reason=" << a.reason;
  EXPECT_EQ(a.text, text);
  EXPECT_EQ(a.source, source);
}

void ExpectMissing(const ExtractedAnswer& a, absl::string_view reason) {
  EXPECT_FALSE(a.found) << "text=" << a.text;
  EXPECT_EQ(a.reason, reason);
}

// ---- \boxed ----

TEST(ExtractBoxed, LastBoxedWins) {
  ExpectFound(Extract("First \\boxed{1}, then corrected: \\boxed{2}."), "2", "boxed");
}

TEST(ExtractBoxed, NestedBracesAreMatched) {
  ExpectFound(Extract("So $\\boxed{\\frac{1}{\\sqrt{2}}}$"), "\\frac{1}{\\sqrt{2}}", "boxed");
}

TEST(ExtractBoxed, EscapedBracesDoNotCount) {
  ExpectFound(Extract("\\boxed{\\{1, 2\\}}"), "\\{1, 2\\}", "boxed");
  ExpectFound(Extract("\\boxed{\\}}"), "\\}", "boxed");
}

TEST(ExtractBoxed, FboxIsABox) { ExpectFound(Extract("\\fbox{7} done"), "7", "boxed"); }

TEST(ExtractBoxed, LaterFboxBeatsEarlierBoxed) {
  ExpectFound(Extract("\\boxed{1} \\fbox{2}"), "2", "boxed");
  ExpectFound(Extract("\\fbox{1} \\boxed{2}"), "2", "boxed");
}

TEST(ExtractBoxed, BoxedWithoutBracesTakesOneToken) {
  ExpectFound(Extract("the answer is \\boxed 5 apples"), "5", "boxed");
  ExpectFound(Extract("$\\boxed -3$"), "-3", "boxed");
}

TEST(ExtractBoxed, ContentIsTrimmed) { ExpectFound(Extract("\\boxed{  42 \n}"), "42", "boxed"); }

TEST(ExtractBoxed, SpaceBeforeBraceIsAllowed) { ExpectFound(Extract("\\boxed {9}"), "9", "boxed"); }

TEST(ExtractBoxed, LongerCommandIsNotBoxed) {
  ExpectMissing(Extract("\\boxedx{3}"), "no_answer");
  ExpectFound(Extract("\\boxed{4} \\boxedtext{3}"), "4", "boxed");
}

TEST(ExtractBoxed, UnbalancedLastBoxIsATruncatedAnswer) {
  ExpectMissing(Extract("\\boxed{\\frac{1}{2}"), "unbalanced_braces");
  // The draft box before it is not used in place of the truncated final one.
  ExpectMissing(Extract("\\boxed{1} and finally \\boxed{2"), "unbalanced_braces");
}

TEST(ExtractBoxed, EmptyBoxIsReported) {
  ExpectMissing(Extract("\\boxed{}"), "empty_boxed");
  ExpectMissing(Extract("\\boxed{   }"), "empty_boxed");
  ExpectMissing(Extract("ends with \\boxed"), "empty_boxed");
}

TEST(ExtractBoxed, DisabledBoxIsIgnored) {
  ExtractionOptions options;
  options.boxed = false;
  ExpectMissing(Extract("\\boxed{3}", options), "no_answer");
}

TEST(ExtractBoxed, NoAnswerInPlainText) {
  ExpectMissing(Extract("I think it is probably 5."), "no_answer");
  ExpectMissing(Extract(""), "no_answer");
}

// ---- <answer> ----

TEST(ExtractAnswerTag, ContentOfLastBlock) {
  ExpectFound(Extract("<think>maybe 3</think><answer> 42 </answer>"), "42", "answer_tag");
  ExpectFound(Extract("<answer>1</answer> wait <answer>2</answer>"), "2", "answer_tag");
}

TEST(ExtractAnswerTag, BoxInsideTagIsUnwrapped) {
  ExtractionOptions options;
  options.boxed = false;
  ExpectFound(Extract("<answer>The answer is \\boxed{7}.</answer>", options), "7", "answer_tag");
}

TEST(ExtractAnswerTag, BoxComesBeforeTag) {
  ExpectFound(Extract("\\boxed{3} <answer>4</answer>"), "3", "boxed");
}

TEST(ExtractAnswerTag, TagUsedWhenLastBoxIsBroken) {
  ExpectFound(Extract("\\boxed{3 <answer>4</answer>"), "4", "answer_tag");
}

TEST(ExtractAnswerTag, UnclosedAndEmptyTags) {
  ExpectMissing(Extract("<answer>5"), "unclosed_answer_tag");
  ExpectMissing(Extract("<answer>1</answer><answer>5"), "unclosed_answer_tag");
  ExpectMissing(Extract("<answer>  </answer>"), "empty_answer_tag");
}

TEST(ExtractAnswerTag, DisabledTagIsIgnored) {
  ExtractionOptions options;
  options.answer_tag = false;
  ExpectMissing(Extract("<answer>5</answer>", options), "no_answer");
}

// ---- pattern ----

TEST(ExtractPattern, LastMatchWins) {
  ExtractionOptions options;
  options.pattern = "Answer:\\s*(\\d+)";
  ExpectFound(Extract("Answer: 12\nAnswer: 34\n", options), "34", "pattern");
}

TEST(ExtractPattern, MatchesDoNotOverlap) {
  ExtractionOptions options;
  options.pattern = "(\\d+)";
  ExpectFound(Extract("first 12 then 345", options), "345", "pattern");
}

TEST(ExtractPattern, PatternBeatsBox) {
  ExtractionOptions options;
  options.pattern = "#### (.+)";
  ExpectFound(Extract("\\boxed{1}\n#### 5", options), "5", "pattern");
}

TEST(ExtractPattern, FallsBackWhenNoMatchOrEmptyCapture) {
  ExtractionOptions options;
  options.pattern = "#### (\\d*)";
  ExpectFound(Extract("\\boxed{1}", options), "1", "boxed");
  ExpectFound(Extract("#### \n\\boxed{2}", options), "2", "boxed");
}

TEST(ExtractPattern, InvalidPatternIsReported) {
  ExtractionOptions options;
  options.pattern = "(unclosed";
  ExpectMissing(Extract("\\boxed{1}", options), "invalid_pattern");
  options.pattern = "\\d+";  // no capture group
  ExpectMissing(Extract("\\boxed{1}", options), "invalid_pattern");
}

TEST(ExtractPattern, EmptyMatchesTerminate) {
  ExtractionOptions options;
  options.pattern = "(x*)";
  ExpectMissing(Extract("abc", options), "no_answer");
  ExpectFound(Extract("ab xx c", options), "xx", "pattern");
}

// ---- limits and adversarial input ----

TEST(ExtractLimits, LongInputIsRefused) {
  ExpectMissing(Extract(std::string((1 << 20) + 1, 'a')), "input_too_long");
  ExtractionOptions options;
  options.max_input_bytes = 10;
  ExpectMissing(Extract("\\boxed{12345}", options), "input_too_long");
}

TEST(ExtractAdversarial, MillionNestedBracesUnclosed) {
  const std::string text = "\\boxed" + std::string(1000000, '{');
  ExpectMissing(Extract(text), "unbalanced_braces");
}

TEST(ExtractAdversarial, MillionNestedBracesClosed) {
  const std::string inner = std::string(1000000, '{') + "x" + std::string(1000000, '}');
  ExtractionOptions options;
  options.max_input_bytes = 4 << 20;
  ExtractedAnswer a = Extract("\\boxed{" + inner + "}", options);
  EXPECT_TRUE(a.found);
  EXPECT_EQ(a.text.size(), inner.size());
}

TEST(ExtractAdversarial, FiveMegabytesOfText) {
  ExtractionOptions options;
  options.max_input_bytes = 8 << 20;
  const std::string text(5 << 20, 'a');
  ExpectMissing(Extract(text), "input_too_long");
  ExpectMissing(Extract(text, options), "no_answer");
  ExpectFound(Extract(text + "\\boxed{1}", options), "1", "boxed");
}

TEST(ExtractAdversarial, ManyBoxesAndTags) {
  ExtractionOptions options;
  options.max_input_bytes = 8 << 20;
  std::string boxes;
  for (int i = 0; i < 500000; ++i) boxes += "\\boxed{";
  ExpectMissing(Extract(boxes, options), "unbalanced_braces");
  std::string tags;
  for (int i = 0; i < 500000; ++i) tags += "<answer>";
  ExpectMissing(Extract(tags, options), "unclosed_answer_tag");
  options.pattern = "Answer: (\\d)";
  std::string answers;
  for (int i = 0; i < 300000; ++i) answers += "Answer: 1 ";
  ExpectFound(Extract(answers + "Answer: 2", options), "2", "pattern");
}

TEST(ExtractAdversarial, PatternScansStayLinear) {
  ExtractionOptions options;
  options.pattern = "(\\d+)";
  std::string numbers;
  for (int i = 0; i < 100000; ++i) numbers += "7 ";  // more matches than one scan allows
  ExpectFound(Extract(numbers + "12345 end", options), "12345", "pattern");
  // A failing optional tail makes every search read to the end of the text.
  options.pattern = "(a)(?:.*z)?";
  ExpectFound(Extract(std::string(1 << 20, 'a'), options), "a", "pattern");
  options.pattern = "(x*)";
  ExpectMissing(Extract(std::string(1 << 20, 'a'), options), "no_answer");
  // Matches longer than a search window are found whole.
  options.pattern = "Answer: (.*)";
  const std::string line(100000, '9');
  ExpectFound(Extract("Answer: 1\nAnswer: " + line + "\nthe end", options), line, "pattern");
  options.pattern = "(\\d+)$";
  ExpectFound(Extract(numbers + "42", options), "42", "pattern");
}

TEST(ExtractAdversarial, BinaryBytes) {
  std::string text;
  uint32_t state = 12345;
  for (int i = 0; i < 1 << 20; ++i) {
    state = state * 1664525u + 1013904223u;
    text.push_back(static_cast<char>(state >> 24));
  }
  ExtractionOptions options;
  options.max_input_bytes = 4 << 20;
  const ExtractedAnswer a = Extract(text, options);  // any verdict, no crash
  EXPECT_TRUE(a.found || !a.reason.empty());
  const std::string nul_and_high("\x00\x80", 2);
  ExpectFound(Extract(text + "\\boxed{\xff" + nul_and_high + "}" + nul_and_high, options),
              "\xff" + nul_and_high, "boxed");
}

TEST(ExtractAdversarial, InvalidUtf8WithPattern) {
  ExtractionOptions options;
  options.pattern = "Answer: (\\d)";
  ExpectFound(Extract("Answer: 1 \xff\xfe\xc3 Answer: 2 \xed\xa0\x80", options), "2", "pattern");
  options.pattern = "(.+)";
  const ExtractedAnswer a = Extract("\xff\xfe\xfd", options);
  EXPECT_TRUE(a.found || a.reason == "no_answer");
}

}  // namespace
}  // namespace r1::reward
