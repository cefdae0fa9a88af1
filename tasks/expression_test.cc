#include "tasks/expression.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace r1::tasks {
namespace {

using ::testing::HasSubstr;

Rational Eval(const std::string& text) {
  absl::StatusOr<Evaluation> e = EvaluateExpression(text);
  EXPECT_TRUE(e.ok()) << text << ": " << e.status();
  return e.ok() ? e->value : Rational{-999999, 1};
}

TEST(EvaluateExpression, PrecedenceAssociativityAndParentheses) {
  EXPECT_EQ(Eval("2 + 3 * 4"), (Rational{14, 1}));
  EXPECT_EQ(Eval("(2 + 3) * 4"), (Rational{20, 1}));
  EXPECT_EQ(Eval("10 - 4 - 3"), (Rational{3, 1}));
  EXPECT_EQ(Eval("100 / 10 / 5"), (Rational{2, 1}));
  EXPECT_EQ(Eval("-3 + 5"), (Rational{2, 1}));
  EXPECT_EQ(Eval("2 * -3"), (Rational{-6, 1}));
  EXPECT_EQ(Eval("--4"), (Rational{4, 1}));
  EXPECT_EQ(Eval(" ( ( 7 ) ) "), (Rational{7, 1}));
}

TEST(EvaluateExpression, DivisionIsExact) {
  EXPECT_EQ(Eval("7 / 2"), (Rational{7, 2}));
  EXPECT_EQ(Eval("7 / 2 * 2"), (Rational{7, 1}));
  EXPECT_EQ(Eval("1 / 3 + 1 / 6"), (Rational{1, 2}));
  EXPECT_EQ(Eval("6 / -4"), (Rational{-3, 2}));
  EXPECT_EQ(ToString(Eval("6 / -4")), "-3/2");
}

TEST(EvaluateExpression, UnicodeOperatorsAreAccepted) {
  EXPECT_EQ(Eval("6 \xC3\x97 7"), (Rational{42, 1}));
  EXPECT_EQ(Eval("42 \xC3\xB7 6"), (Rational{7, 1}));
}

TEST(EvaluateExpression, RecordsLiteralsInOrder) {
  absl::StatusOr<Evaluation> e = EvaluateExpression("(25 - 5) * 3 + 25");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->literals, (std::vector<int64_t>{25, 5, 3, 25}));
}

TEST(EvaluateExpression, RejectsMalformedInput) {
  for (const char* bad : {"", "2 +", "(2 + 3", "2 + 3)", "2 3", "two", "2 ** 3", "2 ^ 3", "1.5 + 1", "x"}) {
    EXPECT_FALSE(EvaluateExpression(bad).ok()) << bad;
  }
  EXPECT_THAT(std::string(EvaluateExpression("4 / (2 - 2)").status().message()), HasSubstr("division by zero"));
}

TEST(EvaluateExpression, OverflowIsAnErrorNotUndefinedBehaviour) {
  EXPECT_THAT(std::string(EvaluateExpression("99999999999999999999").status().message()), HasSubstr("too large"));
  EXPECT_THAT(std::string(EvaluateExpression("4000000000 * 4000000000 * 4000000000").status().message()),
              HasSubstr("too large"));
  EXPECT_EQ(Eval("9223372036854775807 - 1"), (Rational{9223372036854775806, 1}));
}

TEST(EvaluateExpression, HostileInputIsBounded) {
  const std::string deep = std::string(100000, '(') + "1" + std::string(100000, ')');
  EXPECT_THAT(std::string(EvaluateExpression(deep).status().message()), HasSubstr("longer than"));
  const std::string nested = std::string(200, '(') + "1" + std::string(200, ')');
  EXPECT_THAT(std::string(EvaluateExpression(nested).status().message()), HasSubstr("nested too deeply"));
  const std::string minus = std::string(1000, '-') + "1";
  EXPECT_FALSE(EvaluateExpression(minus).ok());
  EXPECT_FALSE(EvaluateExpression(std::string("1 +\xff\xfe 2")).ok());
}

}  // namespace
}  // namespace r1::tasks
