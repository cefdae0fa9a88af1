#include "reward/scorer.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "absl/strings/str_cat.h"

namespace r1::reward {
namespace {

config::RewardServiceConfig Mix(std::initializer_list<std::pair<const char*, double>> rules) {
  config::RewardServiceConfig config;
  for (const auto& [name, weight] : rules) {
    config::RewardRuleConfig* rule = config.add_rules();
    rule->set_rule(name);
    rule->set_weight(weight);
  }
  return config;
}

ScoreItem Item(const std::string& task, const std::string& completion, const std::string& reference) {
  ScoreItem item;
  item.set_id("item-1");
  item.set_task(task);
  item.set_completion(completion);
  item.set_reference(reference);
  return item;
}

std::map<std::string, RuleScore> ByRule(const ScoreResult& result) {
  std::map<std::string, RuleScore> rules;
  for (const RuleScore& r : result.rules()) rules[r.rule()] = r;
  return rules;
}

ScoreResult ScoreOne(const Scorer& scorer, const ScoreItem& item) {
  return scorer.Score(item, absl::InfiniteFuture(), nullptr);
}

TEST(Scorer, TotalIsTheWeightedSumOfTheRulesThatApply) {
  auto scorer = Scorer::Create(Mix({{"math", 1.0}, {"countdown", 1.0}, {"format", 0.2}}));
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  const ScoreResult right = ScoreOne(**scorer, Item("arithmetic", "<think>2 + 2 = 4.</think><answer>4</answer>", "4"));
  EXPECT_EQ(right.id(), "item-1");
  EXPECT_TRUE(right.error().empty());
  EXPECT_TRUE(right.correct());
  EXPECT_DOUBLE_EQ(right.total(), 1.2);
  // Countdown does not apply to an arithmetic item.
  const auto rules = ByRule(right);
  EXPECT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules.at("math").reason(), "equal");
  EXPECT_EQ(rules.at("format").weight(), 0.2);

  const ScoreResult wrong = ScoreOne(**scorer, Item("arithmetic", "<think>2 + 2 = 5.</think><answer>5</answer>", "4"));
  EXPECT_FALSE(wrong.correct());
  EXPECT_DOUBLE_EQ(wrong.total(), 0.2);

  const ScoreResult unformatted = ScoreOne(**scorer, Item("math", "The answer is \\boxed{4}.", "4"));
  EXPECT_TRUE(unformatted.correct());
  EXPECT_DOUBLE_EQ(unformatted.total(), 1.0);
  EXPECT_EQ(ByRule(unformatted).at("format").reason(), "missing_tag");
}

TEST(Scorer, CountdownItemsUseTheCountdownRule) {
  auto scorer = Scorer::Create(Mix({{"math", 1.0}, {"countdown", 1.0}}));
  ASSERT_TRUE(scorer.ok());
  ScoreItem item = Item("countdown", "<think>25 - 3 = 22</think><answer>25 - (3 * 1)</answer>", "22");
  for (int n : {3, 1, 25}) item.add_numbers(n);
  const ScoreResult result = ScoreOne(**scorer, item);
  EXPECT_TRUE(result.correct());
  EXPECT_EQ(ByRule(result).count("math"), 0u);
  item.set_completion("<think>x</think><answer>25 - 3</answer>");
  EXPECT_EQ(ByRule(ScoreOne(**scorer, item)).at("countdown").reason(), "wrong_numbers");
  item.set_completion("no tags at all");
  EXPECT_EQ(ByRule(ScoreOne(**scorer, item)).at("countdown").reason(), "no_answer");
}

TEST(Scorer, BadItemsGetAnErrorAndTheRestAreScored) {
  auto scorer = Scorer::Create(Mix({{"math", 1.0}, {"countdown", 1.0}, {"format", 0.5}}));
  ASSERT_TRUE(scorer.ok());
  const ScoreItem good = Item("math", "<think>a</think><answer>7</answer>", "7");
  const ScoreItem no_task = Item("", "<think>a</think><answer>7</answer>", "7");
  const ScoreItem countdown_without_numbers = Item("countdown", "<think>a</think><answer>1+2</answer>", "3");
  const ScoreItem code_without_tests = Item("code", "```python\nprint(1)\n```", "");
  const std::vector<ScoreResult> results =
      (*scorer)->ScoreBatch({&good, &no_task, &countdown_without_numbers, &code_without_tests, &good},
                            absl::InfiniteFuture(), nullptr);
  ASSERT_EQ(results.size(), 5u);
  EXPECT_TRUE(results[0].correct());
  EXPECT_DOUBLE_EQ(results[0].total(), 1.5);
  EXPECT_EQ(results[1].error(), "item has no task");
  EXPECT_EQ(results[2].error(), "countdown item has no numbers");
  EXPECT_EQ(results[3].error(), "code item has no tests");
  for (int i : {1, 2, 3}) EXPECT_EQ(results[i].total(), 0.0);
  EXPECT_DOUBLE_EQ(results[4].total(), 1.5);
}

TEST(Scorer, UnparsableGoldNeverScores) {
  auto scorer = Scorer::Create(Mix({{"math", 1.0}}));
  ASSERT_TRUE(scorer.ok());
  const ScoreResult result = ScoreOne(**scorer, Item("math", "<answer>}{</answer>", "}{"));
  EXPECT_FALSE(result.correct());
  EXPECT_EQ(result.total(), 0.0);
}

TEST(Scorer, CompletionsOverTheByteLimitScoreZeroButGetAVerdict) {
  config::RewardServiceConfig config = Mix({{"math", 1.0}, {"format", 1.0}, {"length", 1.0}});
  config.set_max_completion_bytes(1000);
  config.mutable_rules(2)->mutable_length()->set_max_length(500);
  config.mutable_rules(2)->mutable_length()->set_overlong_buffer(100);
  auto scorer = Scorer::Create(config);
  ASSERT_TRUE(scorer.ok());
  const std::string huge = absl::StrCat("<think>", std::string(5000, 'a'), "</think><answer>4</answer>");
  const ScoreResult result = ScoreOne(**scorer, Item("math", huge, "4"));
  EXPECT_FALSE(result.correct());
  const auto rules = ByRule(result);
  EXPECT_EQ(rules.at("math").reason(), "completion_too_long");
  EXPECT_EQ(rules.at("format").reason(), "completion_too_long");
  EXPECT_EQ(rules.at("length").score(), -1.0);
  EXPECT_DOUBLE_EQ(result.total(), -1.0);
}

TEST(Scorer, CosineLengthUsesCorrectness) {
  config::RewardServiceConfig config = Mix({{"math", 0.0}, {"length", 1.0}});
  config.mutable_rules(1)->mutable_length()->set_mode(config::COSINE);
  config.mutable_rules(1)->mutable_length()->set_max_length(1000);  // the completion is 34 characters
  auto scorer = Scorer::Create(config);
  ASSERT_TRUE(scorer.ok());
  ScoreItem item = Item("math", "<think>a</think><answer>4</answer>", "4");
  item.set_completion_tokens(0);
  const double right = ScoreOne(**scorer, item).total();
  item.set_reference("5");
  const double wrong = ScoreOne(**scorer, item).total();
  EXPECT_GT(right, 0.99);   // correct and short: near correct_short (1)
  EXPECT_LT(wrong, -0.49);  // wrong and short: near wrong_short (-0.5)
}

TEST(Scorer, RejectsAnEmptyMix) {
  EXPECT_FALSE(Scorer::Create(config::RewardServiceConfig()).ok());
}

}  // namespace
}  // namespace r1::reward
