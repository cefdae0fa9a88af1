#include "eval/accuracy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace r1::eval {
namespace {

SampleVerdict Right(std::string answer = "42") { return {Verdict::kCorrect, std::move(answer)}; }
SampleVerdict Wrong(std::string answer) { return {Verdict::kWrong, std::move(answer)}; }
SampleVerdict Unscored() { return {Verdict::kUnscored, "42"}; }

TEST(Accuracy, EmptyInputIsAllZeros) {
  const Accuracy accuracy = AggregateAccuracy({});
  EXPECT_EQ(accuracy.prompts, 0);
  EXPECT_EQ(accuracy.unscored_prompts, 0);
  EXPECT_EQ(accuracy.unscored, 0);
  EXPECT_EQ(accuracy.avg_at_k, 0);
  EXPECT_EQ(accuracy.pass_at_k, 0);
  EXPECT_EQ(accuracy.maj_at_k, 0);
  EXPECT_EQ(accuracy.greedy_prompts, 0);
  EXPECT_EQ(accuracy.greedy, 0);
}

TEST(Accuracy, AvgPassAndMajorityOverPrompts) {
  // Prompt 0: 3 of 4 correct. Prompt 1: 1 of 4, the wrong answers agree.
  // Prompt 2: none correct.
  const Accuracy accuracy = AggregateAccuracy({
      {Right(), Right(), Right(), Wrong("7")},
      {Right(), Wrong("5"), Wrong("5"), Wrong("6")},
      {Wrong("1"), Wrong("2"), Wrong(""), Wrong("3")},
  });
  EXPECT_EQ(accuracy.prompts, 3);
  EXPECT_DOUBLE_EQ(accuracy.avg_at_k, (0.75 + 0.25 + 0) / 3);
  EXPECT_DOUBLE_EQ(accuracy.pass_at_k, 2.0 / 3);
  EXPECT_DOUBLE_EQ(accuracy.maj_at_k, 1.0 / 3);
  EXPECT_EQ(accuracy.unscored, 0);
}

TEST(Accuracy, CorrectSamplesVoteTogetherWhateverTheirText) {
  // Countdown: three different correct expressions outvote two equal wrong ones.
  const Accuracy accuracy =
      AggregateAccuracy({{Right("1+2*3"), Right("3*2+1"), Right(""), Wrong("9-2"), Wrong(" 9-2 ")}});
  EXPECT_DOUBLE_EQ(accuracy.maj_at_k, 1.0);
}

TEST(Accuracy, WrongSamplesWithoutAnAnswerDoNotVote) {
  const Accuracy accuracy = AggregateAccuracy({{Right(), Wrong(""), Wrong(" "), Wrong("")}});
  EXPECT_DOUBLE_EQ(accuracy.maj_at_k, 1.0);
  EXPECT_DOUBLE_EQ(accuracy.avg_at_k, 0.25);
}

TEST(Accuracy, ATieScoresOneOverTheTiedAnswers) {
  // Two answers with two votes each: even odds.
  EXPECT_DOUBLE_EQ(AggregateAccuracy({{Right(), Right(), Wrong("5"), Wrong("5")}}).maj_at_k, 0.5);
  // Three answers with one vote each, one of them correct.
  EXPECT_DOUBLE_EQ(AggregateAccuracy({{Right(), Wrong("5"), Wrong("6")}}).maj_at_k, 1.0 / 3);
  // A tie the correct answer is not part of.
  EXPECT_DOUBLE_EQ(AggregateAccuracy({{Right(), Wrong("5"), Wrong("5"), Wrong("6"), Wrong("6")}}).maj_at_k, 0);
}

TEST(Accuracy, UnscoredSamplesCountAsNeverDrawn) {
  // Prompt 0: one scored sample, correct; prompt 1: nothing scored, left out.
  const Accuracy accuracy = AggregateAccuracy({
      {Right(), Unscored(), Unscored()},
      {Unscored(), Unscored()},
      {Wrong("3"), Unscored()},
  });
  EXPECT_EQ(accuracy.prompts, 2);
  EXPECT_EQ(accuracy.unscored_prompts, 1);
  EXPECT_EQ(accuracy.unscored, 5);
  EXPECT_DOUBLE_EQ(accuracy.avg_at_k, 0.5);
  EXPECT_DOUBLE_EQ(accuracy.pass_at_k, 0.5);
  EXPECT_DOUBLE_EQ(accuracy.maj_at_k, 0.5);
}

TEST(Accuracy, UnscoredSamplesDoNotVote) {
  // Their answer text would otherwise outvote the correct sample.
  const Accuracy accuracy = AggregateAccuracy({{Right(), {Verdict::kUnscored, "5"}, {Verdict::kUnscored, "5"}}});
  EXPECT_DOUBLE_EQ(accuracy.maj_at_k, 1.0);
}

TEST(Accuracy, GreedyOverItsScoredSamples) {
  const Accuracy accuracy = AggregateAccuracy({{Right()}, {Wrong("1")}, {Wrong("2")}},
                                              {Right(), Unscored(), Wrong("2")});
  EXPECT_EQ(accuracy.greedy_prompts, 2);
  EXPECT_DOUBLE_EQ(accuracy.greedy, 0.5);
  EXPECT_EQ(accuracy.unscored, 1);
  EXPECT_EQ(AggregateAccuracy({{Right()}}, {Unscored()}).greedy, 0);
}

}  // namespace
}  // namespace r1::eval
