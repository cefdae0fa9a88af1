#include "eval/verdict.h"

#include <gtest/gtest.h>

#include "proto/reward.pb.h"

namespace r1::eval {
namespace {

TEST(Verdict, CorrectIsTheRulesVerdict) {
  reward::ScoreResult result;
  result.set_correct(true);
  EXPECT_EQ(VerdictOf(result), Verdict::kCorrect);
  result.set_correct(false);
  EXPECT_EQ(VerdictOf(result), Verdict::kWrong);
}

TEST(Verdict, AnErrorIsNoVerdictNotAWrongAnswer) {
  reward::ScoreResult result;
  result.set_correct(true);  // never set with an error, but an error wins
  result.set_error("every sandbox was busy");
  result.set_error_code("sandbox_busy");
  EXPECT_EQ(VerdictOf(result), Verdict::kUnscored);
  const Judgement judgement = JudgementOf(result);
  EXPECT_EQ(judgement.verdict, Verdict::kUnscored);
  EXPECT_EQ(judgement.error_code, "sandbox_busy");
  EXPECT_TRUE(judgement.rule_scores.empty());
}

TEST(Verdict, AnErrorWithoutACodeIsNotRetried) {
  reward::ScoreResult result;
  result.set_error("item has no task");
  EXPECT_EQ(JudgementOf(result).error_code, kInvalidItem);
}

TEST(Verdict, JudgementCarriesTheRulesAndWhetherOneJudgedCorrectness) {
  reward::ScoreResult result;
  result.set_total(0.2);
  reward::RuleScore* format = result.add_rules();
  format->set_rule("format");
  format->set_score(1);
  Judgement judgement = JudgementOf(result);
  EXPECT_EQ(judgement.verdict, Verdict::kWrong);
  EXPECT_FALSE(judgement.has_correctness_rule);
  EXPECT_DOUBLE_EQ(judgement.reward, 0.2);
  EXPECT_EQ(judgement.rule_scores.at("format"), 1);
  for (const char* rule : {"math", "countdown", "code"}) {
    reward::ScoreResult with = result;
    with.add_rules()->set_rule(rule);
    EXPECT_TRUE(JudgementOf(with).has_correctness_rule) << rule;
  }
}

}  // namespace
}  // namespace r1::eval
