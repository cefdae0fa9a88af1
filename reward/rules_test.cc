#include "reward/rules.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace r1::reward {
namespace {

TEST(FormatRule, ScoresOnlyTheExactShape) {
  EXPECT_EQ(FormatRule("<think>a</think><answer>4</answer>").score, 1.0);
  EXPECT_EQ(FormatRule("<think>a</think>\n<answer>4</answer>\n").score, 1.0);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"<answer>4</answer>", "missing_tag"},
      {"", "missing_tag"},
      {"<think>a</think><think>b</think><answer>4</answer>", "repeated_tag"},
      {"<answer>4</answer><think>a</think>", "wrong_order"},
      {"hello <think>a</think><answer>4</answer>", "text_before_think"},
      {"<think>a</think><answer>4</answer> and more", "text_after_answer"},
  };
  for (const auto& [text, reason] : bad) {
    const RuleVerdict v = FormatRule(text);
    EXPECT_EQ(v.score, 0.0) << text;
    EXPECT_EQ(v.reason, reason) << text;
  }
}

config::LanguageRuleConfig Script(const std::string& name) {
  config::LanguageRuleConfig c;
  c.set_script(name);
  return c;
}

TEST(LanguageRule, ShareOfLettersInTheTargetScript) {
  EXPECT_EQ(LanguageRule("<think>two plus two</think><answer>4</answer>", Script("latin")).score, 1.0);
  // 4 latin letters ("abcd") and 2 han characters: 4/6 latin.
  const RuleVerdict mixed = LanguageRule("<think>ab 你好 cd</think><answer>x</answer>", Script("latin"));
  EXPECT_NEAR(mixed.score, 4.0 / 6.0, 1e-12);
  EXPECT_EQ(mixed.reason, "mixed_language");
  EXPECT_NEAR(LanguageRule("<think>ab 你好 cd</think>", Script("han")).score, 2.0 / 6.0, 1e-12);
  EXPECT_EQ(LanguageRule("<think>Привет мир</think>", Script("latin")).score, 0.0);
  EXPECT_EQ(LanguageRule("<think>Привет</think>", Script("cyrillic")).score, 1.0);
  // Only the reasoning counts: the answer block may be in any script.
  EXPECT_EQ(LanguageRule("<think>abc</think><answer>答案</answer>", Script("latin")).score, 1.0);
  // Digits and symbols are neutral; no letters at all is consistent.
  const RuleVerdict digits = LanguageRule("<think>12 + 30 = 42. × ÷</think>", Script("latin"));
  EXPECT_EQ(digits.score, 1.0);
  EXPECT_EQ(digits.reason, "no_letters");
  // Accented latin letters are latin.
  EXPECT_EQ(LanguageRule("<think>café déjà</think>", Script("latin")).score, 1.0);
}

TEST(LanguageRule, InvalidUtf8CountsAgainstTheTarget) {
  const std::string bad = std::string("<think>ab") + "\xff\xfe" + "</think>";
  EXPECT_NEAR(LanguageRule(bad, Script("latin")).score, 2.0 / 4.0, 1e-12);
  // A truncated multi-byte sequence at the end is one invalid byte, not a crash.
  EXPECT_NEAR(LanguageRule("ab\xe4\xbd", Script("latin")).score, 2.0 / 4.0, 1e-12);
  // Overlong encoding of '/' is invalid.
  EXPECT_NEAR(LanguageRule("a\xc0\xaf", Script("latin")).score, 1.0 / 3.0, 1e-12);
}

TEST(Length, CountsTokensOrCharacters) {
  EXPECT_EQ(CompletionLength("hello", 17), 17);
  EXPECT_EQ(CompletionLength("héllo", 0), 5);  // é is one character, two bytes
  EXPECT_EQ(CompletionLength("", 0), 0);
}

config::LengthRuleConfig Lengths(int max_length, int buffer) {
  config::LengthRuleConfig c;
  c.set_max_length(max_length);
  c.set_overlong_buffer(buffer);
  return c;
}

TEST(SoftOverlongRule, ZeroThenLinearThenMinusOne) {
  const config::LengthRuleConfig c = Lengths(100, 20);
  EXPECT_EQ(SoftOverlongRule(0, c).score, 0.0);
  EXPECT_EQ(SoftOverlongRule(80, c).score, 0.0);
  EXPECT_EQ(SoftOverlongRule(80, c).reason, "within_limit");
  EXPECT_DOUBLE_EQ(SoftOverlongRule(90, c).score, -0.5);
  EXPECT_DOUBLE_EQ(SoftOverlongRule(85, c).score, -0.25);
  EXPECT_EQ(SoftOverlongRule(90, c).reason, "in_buffer");
  EXPECT_DOUBLE_EQ(SoftOverlongRule(100, c).score, -1.0);
  EXPECT_EQ(SoftOverlongRule(101, c).score, -1.0);
  EXPECT_EQ(SoftOverlongRule(101, c).reason, "overlong");
}

TEST(CosineLengthRule, ShortCorrectBeatsLongCorrect) {
  config::LengthRuleConfig c = Lengths(100, 0);
  EXPECT_DOUBLE_EQ(CosineLengthRule(0, true, c).score, c.correct_short());
  EXPECT_DOUBLE_EQ(CosineLengthRule(100, true, c).score, c.correct_long());
  EXPECT_DOUBLE_EQ(CosineLengthRule(50, true, c).score, (c.correct_short() + c.correct_long()) / 2);
  EXPECT_DOUBLE_EQ(CosineLengthRule(0, false, c).score, c.wrong_short());
  EXPECT_DOUBLE_EQ(CosineLengthRule(100, false, c).score, c.wrong_long());
  EXPECT_GT(CosineLengthRule(20, true, c).score, CosineLengthRule(60, true, c).score);
  EXPECT_LT(CosineLengthRule(20, false, c).score, CosineLengthRule(60, false, c).score);
  EXPECT_DOUBLE_EQ(CosineLengthRule(101, true, c).score, c.exceed_reward());
}

TEST(RepetitionRule, PenalisesRepeatedNgrams) {
  config::RepetitionRuleConfig c;
  c.set_ngram_size(3);
  c.set_max_penalty(1.0);
  EXPECT_EQ(RepetitionRule("a b c d e f", c).score, 0.0);
  EXPECT_EQ(RepetitionRule("a b", c).reason, "too_short");
  // "a b c a b c a b c": 7 trigrams, 3 distinct ("a b c", "b c a", "c a b"): 4 repeats.
  EXPECT_NEAR(RepetitionRule("a b c a b c a b c", c).score, -4.0 / 7.0, 1e-12);
  c.set_max_penalty(0.5);
  EXPECT_NEAR(RepetitionRule("a b c a b c a b c", c).score, -2.0 / 7.0, 1e-12);
  // Whitespace of any kind separates words.
  c.set_max_penalty(1.0);
  EXPECT_NEAR(RepetitionRule("a\tb\nc  a b c", c).score, -1.0 / 4.0, 1e-12);
  // Endless repetition approaches -max_penalty.
  std::string loop;
  for (int i = 0; i < 1000; ++i) loop += "the same words ";
  EXPECT_LT(RepetitionRule(loop, c).score, -0.99);
}

TEST(CountdownRule, ExactNumbersAndExactValue) {
  const std::vector<int32_t> numbers = {3, 1, 25};
  EXPECT_EQ(CountdownRule("25 - (3 * 1)", numbers, "22").score, 1.0);
  EXPECT_EQ(CountdownRule("25 - 3 * 1 = 22", numbers, "22").score, 1.0);
  EXPECT_EQ(CountdownRule(" (25 - 3) / 1 ", numbers, "22").score, 1.0);
  const std::vector<std::pair<std::string, std::string>> wrong = {
      {"25 - 3", "wrong_numbers"},             // 1 unused
      {"25 - 3 - 1 + 1", "wrong_numbers"},     // 1 used twice
      {"22", "wrong_numbers"},                 // the target itself
      {"25 + 3 - 1", "wrong_value"},           // 27
      {"25 - 3 * 1 = 23", "wrong_value"},      // claims the wrong target
      {"25 - (3 * 1", "answer_unparsable"},
      {"twenty-two", "answer_unparsable"},
      {"", "empty_answer"},
  };
  for (const auto& [answer, reason] : wrong) {
    const RuleVerdict v = CountdownRule(answer, numbers, "22");
    EXPECT_EQ(v.score, 0.0) << answer;
    EXPECT_EQ(v.reason, reason) << answer;
  }
  // Division must be exact: 7 / 2 * 2 is 7, not 6.
  EXPECT_EQ(CountdownRule("7 / 2 * 2", {7, 2, 2}, "7").score, 1.0);
  EXPECT_EQ(CountdownRule("1 + 2", {1, 2}, "three").reason, "gold_unparsable");
}

TEST(CountdownRule, HostileExpressionsGetAVerdict) {
  EXPECT_EQ(CountdownRule(std::string(1'000'000, '('), {1}, "1").score, 0.0);
  EXPECT_EQ(CountdownRule("99999999999999999999 * 99999999999999", {1}, "1").score, 0.0);
  EXPECT_EQ(CountdownRule("1 / 0", {1, 0}, "1").score, 0.0);
}

TEST(ExtractCode, LastFencedBlockOfTheAnswer) {
  EXPECT_EQ(ExtractCode("<think>```python\nx = 1\n```</think><answer>```python\nprint(2)\n```</answer>"),
            "print(2)\n");
  EXPECT_EQ(ExtractCode("text ```cpp\nint main() {}\n``` more ```\nsecond\n```"), "second\n");
  EXPECT_EQ(ExtractCode("no code here"), "");
  EXPECT_EQ(ExtractCode("```python\nunclosed"), "");
}

}  // namespace
}  // namespace r1::reward
