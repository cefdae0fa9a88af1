// The held-out set and the generators that must stay apart from it.
#include "tasks/held_out.h"

#include <gtest/gtest.h>

#include <set>

namespace r1::tasks {
namespace {

TEST(NormalizePrompt, FoldsWhitespaceAndAsciiCase) {
  EXPECT_EQ(NormalizePrompt("  What is\t12 +\n\n 3?  "), "what is 12 + 3?");
  EXPECT_EQ(NormalizePrompt("ÉTÉ  x"), "ÉtÉ x");  // bytes >= 0x80 are left alone
  EXPECT_EQ(NormalizePrompt(""), "");
  EXPECT_NE(NormalizePrompt("1 + 2"), NormalizePrompt("1 + 3"));
}

TEST(HeldOutPrompts, MatchesByNormalisedText) {
  std::vector<data::PromptRecord> records(1);
  records[0].set_prompt("What is 4 + 5?");
  const HeldOutPrompts held_out(records);
  EXPECT_TRUE(held_out.Contains("what is 4 +  5?"));
  EXPECT_FALSE(held_out.Contains("What is 4 + 6?"));
  EXPECT_TRUE(TrainingPrompt(data::SftRecord()).empty());
}

TEST(HeldOutPrompts, TrainingPromptOfAConversationIsItsFirstUserTurn) {
  data::SftRecord record;
  data::ChatMessage* system = record.add_messages();
  system->set_role("system");
  system->set_content("be brief");
  data::ChatMessage* user = record.add_messages();
  user->set_role("user");
  user->set_content("What is 1 + 1?");
  EXPECT_EQ(TrainingPrompt(record), "What is 1 + 1?");
}

config::DataConfig ArithmeticData(int n_eval) {
  config::DataConfig data;
  config::TaskConfig* task = data.add_tasks();
  task->set_kind(config::ARITHMETIC);
  task->set_difficulty(1);
  data.set_n_eval(n_eval);
  data.set_eval_seed(2);
  return data;
}

// A corpus drawn with the eval set's own seed would start with every eval
// prompt: none may remain, and the count still holds.
TEST(WorkedExamplesApartFrom, SkipsEveryHeldOutPrompt) {
  const config::DataConfig data = ArithmeticData(40);
  absl::StatusOr<std::vector<data::PromptRecord>> eval = LoadEvalPrompts(data, "");
  ASSERT_TRUE(eval.ok()) << eval.status();
  ASSERT_EQ(eval->size(), 40u);
  absl::StatusOr<TaskMix> mix = TaskMix::Create({data.tasks().begin(), data.tasks().end()});
  ASSERT_TRUE(mix.ok());
  const HeldOutPrompts held_out(*eval);
  absl::StatusOr<std::vector<data::SftRecord>> corpus = WorkedExamplesApartFrom(*mix, data.eval_seed(), 100, held_out);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  ASSERT_EQ(corpus->size(), 100u);
  for (const data::SftRecord& example : *corpus) EXPECT_FALSE(held_out.Contains(example.prompt())) << example.prompt();
  // The same draws without a held-out set contain them: the test can fail.
  absl::StatusOr<std::vector<data::SftRecord>> plain = WorkedExamplesApartFrom(*mix, data.eval_seed(), 100, {});
  ASSERT_TRUE(plain.ok());
  int overlap = 0;
  for (const data::SftRecord& example : *plain) overlap += held_out.Contains(example.prompt()) ? 1 : 0;
  EXPECT_GE(overlap, 40);
}

TEST(WorkedExamplesApartFrom, RefusesWhenEveryPromptIsHeldOut) {
  const config::DataConfig data = ArithmeticData(1);
  absl::StatusOr<TaskMix> mix = TaskMix::Create({data.tasks().begin(), data.tasks().end()});
  ASSERT_TRUE(mix.ok());
  // Hold out the first 300 draws of seed 7; ask for 3 examples from them only
  // (the limit is 100 x 3 + 100 draws, all of them held out).
  std::vector<data::PromptRecord> all;
  for (uint64_t i = 0; i < 400; ++i) all.push_back(mix->Generate(7, i).record);
  absl::StatusOr<std::vector<data::SftRecord>> none = WorkedExamplesApartFrom(*mix, 7, 3, HeldOutPrompts(all));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("too few distinct prompts"), std::string::npos) << none.status();
}

}  // namespace
}  // namespace r1::tasks
