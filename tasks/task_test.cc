#include "tasks/task.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/chat_template.h"
#include "tasks/arithmetic.h"
#include "tasks/countdown.h"

namespace r1::tasks {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<Task> Make(config::TaskKind kind, int difficulty) {
  config::TaskConfig config;
  config.set_kind(kind);
  config.set_difficulty(difficulty);
  absl::StatusOr<std::unique_ptr<Task>> task = MakeTask(config);
  EXPECT_TRUE(task.ok()) << task.status();
  return std::move(*task);
}

struct TaskCase {
  config::TaskKind kind;
  int difficulty;
};

void PrintTo(const TaskCase& c, std::ostream* os) {
  *os << TaskKindName(c.kind) << " d" << c.difficulty;
}

class EveryTask : public ::testing::TestWithParam<TaskCase> {
 protected:
  std::unique_ptr<Task> task_ = Make(GetParam().kind, GetParam().difficulty);
};

TEST_P(EveryTask, ItemsArePureFunctionsOfSeedAndIndex) {
  std::set<std::string> prompts;
  for (uint64_t i = 0; i < 50; ++i) {
    const data::PromptRecord a = task_->Generate(11, i);
    const data::PromptRecord b = task_->Generate(11, i);
    EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
    EXPECT_EQ(a.task(), std::string(task_->name()));
    EXPECT_FALSE(a.answer().empty());
    prompts.insert(a.prompt());
  }
  // Distinct enough to be a dataset (the easiest levels repeat a little).
  EXPECT_GE(prompts.size(), 40u);
  int same = 0;
  for (uint64_t i = 0; i < 50; ++i) same += task_->Generate(11, i).prompt() == task_->Generate(12, i).prompt();
  EXPECT_LE(same, 5);
}

TEST_P(EveryTask, CorrectWorkedSolutionsAreVerifiedCorrect) {
  Rng rng(1);
  for (uint64_t i = 0; i < 200; ++i) {
    const data::PromptRecord item = task_->Generate(3, i);
    const WorkedSolution solution = task_->Solve(item, 0.0, rng);
    EXPECT_FALSE(solution.has_error);
    EXPECT_FALSE(solution.reasoning.empty()) << item.prompt();
    EXPECT_TRUE(task_->IsCorrect(item, solution.answer))
        << item.prompt() << " -> " << solution.reasoning << " => " << solution.answer;
  }
}

TEST_P(EveryTask, ErroneousSolutionsGiveWrongAnswers) {
  Rng rng(2);
  int wrong = 0;
  for (uint64_t i = 0; i < 200; ++i) {
    const data::PromptRecord item = task_->Generate(4, i);
    const WorkedSolution solution = task_->Solve(item, 1.0, rng);
    EXPECT_TRUE(solution.has_error);
    wrong += !task_->IsCorrect(item, solution.answer);
  }
  // A slip always changes the answer here: no cancelling second slip exists.
  EXPECT_EQ(wrong, 200);
}

TEST_P(EveryTask, ErrorRateControlsTheShareOfErroneousSolutions) {
  Rng rng(3);
  int errors = 0;
  for (uint64_t i = 0; i < 1000; ++i) errors += task_->Solve(task_->Generate(5, i), 0.3, rng).has_error;
  EXPECT_NEAR(errors / 1000.0, 0.3, 0.05);
}

TEST_P(EveryTask, WrongAndMalformedAnswersAreRejected) {
  const data::PromptRecord item = task_->Generate(6, 0);
  for (const char* bad : {"", "banana", "1e999", "((((", "</answer>"}) {
    EXPECT_FALSE(task_->IsCorrect(item, bad)) << bad;
  }
  EXPECT_FALSE(task_->IsCorrect(item, std::string(1 << 20, '9')));
}

INSTANTIATE_TEST_SUITE_P(
    Tasks, EveryTask,
    ::testing::ValuesIn([] {
      std::vector<TaskCase> cases;
      for (config::TaskKind kind : {config::ARITHMETIC, config::COUNTDOWN, config::LINEAR_EQUATION}) {
        for (int d = 1; d <= 5; ++d) cases.push_back({kind, d});
      }
      return cases;
    }()),
    [](const ::testing::TestParamInfo<TaskCase>& info) {
      return absl::StrCat(TaskKindName(info.param.kind), "_d", info.param.difficulty);
    });

TEST(Arithmetic, DifficultySetsOperandsAndOperators) {
  const auto operators = [](const std::string& prompt) {
    int n = 0;
    for (char c : prompt) n += c == '+' || c == '-' || c == '*';
    return n;
  };
  EXPECT_EQ(operators(Make(config::ARITHMETIC, 1)->Generate(1, 0).prompt()), 1);
  EXPECT_EQ(operators(Make(config::ARITHMETIC, 2)->Generate(1, 0).prompt()), 2);
  EXPECT_EQ(operators(Make(config::ARITHMETIC, 5)->Generate(1, 0).prompt()), 4);
  bool saw_multiply = false;
  auto hard = Make(config::ARITHMETIC, 4);
  for (uint64_t i = 0; i < 20; ++i) saw_multiply |= hard->Generate(1, i).prompt().find('*') != std::string::npos;
  EXPECT_TRUE(saw_multiply);
  auto easy = Make(config::ARITHMETIC, 3);
  for (uint64_t i = 0; i < 50; ++i) EXPECT_EQ(easy->Generate(1, i).prompt().find('*'), std::string::npos);
}

TEST(Arithmetic, SolutionFollowsPrecedence) {
  data::PromptRecord item;
  item.set_prompt("What is 2 + 3 * 4 - 1?");
  item.set_answer("13");
  Rng rng(1);
  const WorkedSolution s = Make(config::ARITHMETIC, 4)->Solve(item, 0.0, rng);
  EXPECT_EQ(s.reasoning,
            "3 * 4 = 12. 2 + 12: ones 2 + 2 = 4, tens 0 + 1 + 0 = 1, so 14. "
            "14 - 1: ones 4 - 1 = 3, tens 1 - 0 - 0 = 1, so 13.");
  EXPECT_EQ(s.answer, "13");
}

TEST(Arithmetic, ColumnStepsCarryBorrowAndSigns) {
  const std::pair<ColumnStep, std::string> cases[] = {
      {AddOrSubtractByColumns(39, '+', 48), "39 + 48: ones 9 + 8 = 17, tens 3 + 4 + 1 = 8, so 87."},
      {AddOrSubtractByColumns(54, '+', 94), "54 + 94: ones 4 + 4 = 8, tens 5 + 9 + 0 = 14, so 148."},
      {AddOrSubtractByColumns(51, '+', 8), "51 + 8: ones 1 + 8 = 9, tens 5 + 0 + 0 = 5, so 59."},
      {AddOrSubtractByColumns(51, '-', 8), "51 - 8: ones 11 - 8 = 3, tens 5 - 0 - 1 = 4, so 43."},
      {AddOrSubtractByColumns(35, '-', 73), "35 - 73 = -(73 - 35): ones 13 - 5 = 8, tens 7 - 3 - 1 = 3, so -38."},
      {AddOrSubtractByColumns(100, '-', 99),
       "100 - 99: ones 10 - 9 = 1, tens 10 - 9 - 1 = 0, hundreds 1 - 0 - 1 = 0, so 1."},
      {AddOrSubtractByColumns(-12, '+', 30), "-12 + 30 = 30 - 12: ones 10 - 2 = 8, tens 3 - 1 - 1 = 1, so 18."},
      {AddOrSubtractByColumns(-40, '+', 15), "-40 + 15 = -(40 - 15): ones 10 - 5 = 5, tens 4 - 1 - 1 = 2, so -25."},
      {AddOrSubtractByColumns(-12, '-', 30), "-12 - 30 = -(12 + 30): ones 2 + 0 = 2, tens 1 + 3 + 0 = 4, so -42."},
      {AddOrSubtractByColumns(7, '-', 7), "7 - 7: ones 7 - 7 = 0, so 0."},
  };
  for (const auto& [step, text] : cases) EXPECT_EQ(step.text, text);
  // Every value is right for a sweep of operands, and a slip always changes it.
  Rng rng(3);
  for (int64_t a = -120; a <= 150; a += 7) {
    for (int64_t b = 0; b <= 120; b += 11) {
      for (char op : {'+', '-'}) {
        const int64_t expected = op == '+' ? a + b : a - b;
        EXPECT_EQ(AddOrSubtractByColumns(a, op, b).value, expected) << a << op << b;
        EXPECT_NE(AddOrSubtractByColumns(a, op, b, &rng).value, expected) << a << op << b;
      }
    }
  }
}

TEST(Countdown, NumbersMatchDifficultyAndTargetIsReachable) {
  const int counts[] = {3, 3, 4, 4, 5};
  for (int d = 1; d <= 5; ++d) {
    auto task = Make(config::COUNTDOWN, d);
    const data::PromptRecord item = task->Generate(1, 7);
    EXPECT_EQ(item.numbers_size(), counts[d - 1]);
    EXPECT_THAT(item.prompt(), HasSubstr(absl::StrCat("make ", item.answer(), ".")));
  }
}

TEST(Countdown, VerifierChecksValueAndExactUseOfNumbers) {
  data::PromptRecord item;
  item.set_answer("24");
  for (int n : {2, 3, 4, 1}) item.add_numbers(n);
  CountdownTask task(3);
  EXPECT_TRUE(task.IsCorrect(item, "3 * 2 * 4 * 1"));
  EXPECT_TRUE(task.IsCorrect(item, " (3 * 2 * 4) / 1 "));
  EXPECT_TRUE(task.IsCorrect(item, "3 * 2 * 4 * 1 = 24"));
  EXPECT_FALSE(task.IsCorrect(item, "3 * 2 * 4 * 1 = 25"));   // claims another target
  EXPECT_FALSE(task.IsCorrect(item, "3 * 2 * 4"));            // 1 unused
  EXPECT_FALSE(task.IsCorrect(item, "3 * 2 * 4 * 1 * 1"));    // 1 used twice
  EXPECT_FALSE(task.IsCorrect(item, "3 * 8 * 1"));            // 8 is not given
  EXPECT_FALSE(task.IsCorrect(item, "3 * 2 * 4 + 1"));        // 25
  EXPECT_FALSE(task.IsCorrect(item, "24"));
}

TEST(Countdown, SolverShowsFailedAttemptsThenTheSolution) {
  auto task = Make(config::COUNTDOWN, 5);
  Rng rng(4);
  int with_failures = 0;
  for (uint64_t i = 0; i < 50; ++i) {
    const WorkedSolution s = task->Solve(task->Generate(1, i), 0.0, rng);
    with_failures += s.reasoning.find(" is not ") != std::string::npos;
    EXPECT_THAT(s.reasoning, HasSubstr("That is "));
  }
  EXPECT_GT(with_failures, 25);
  EXPECT_EQ(Make(config::COUNTDOWN, 1)->Solve(Make(config::COUNTDOWN, 1)->Generate(1, 0), 0.0, rng)
                .reasoning.find(" is not "),
            std::string::npos);
}

TEST(LinearEquation, AnswerFormsAndWorkedSteps) {
  auto task = Make(config::LINEAR_EQUATION, 4);
  data::PromptRecord item;
  item.set_prompt("Solve for x: 3(x + 6) = 5x - 2.");
  item.set_answer("10");
  EXPECT_TRUE(task->IsCorrect(item, "10"));
  EXPECT_TRUE(task->IsCorrect(item, "x = 10"));
  EXPECT_TRUE(task->IsCorrect(item, " x=10. "));
  EXPECT_FALSE(task->IsCorrect(item, "11"));
  EXPECT_FALSE(task->IsCorrect(item, "10.5"));
  EXPECT_FALSE(task->IsCorrect(item, "y = 10 + 1"));
  Rng rng(1);
  const WorkedSolution s = task->Solve(item, 0.0, rng);
  EXPECT_EQ(s.reasoning,
            "Expand: 3x + 18 = 5x - 2. Subtract 5x from both sides: -2x + 18 = -2. "
            "Subtract 18 from both sides: -2x = -20. Divide both sides by -2: x = 10.");
  EXPECT_EQ(s.answer, "10");
}

TEST(ParseCompletion, FindsTheAnswerAndChecksTheFormat) {
  ParsedCompletion p = ParseCompletion("<think>2 + 2 = 4.</think><answer>4</answer>");
  EXPECT_TRUE(p.well_formed);
  EXPECT_EQ(p.answer, "4");
  EXPECT_TRUE(ParseCompletion("<think>a</think><answer>4</answer>\n ").well_formed);
  // Whitespace around the blocks is layout, not content.
  EXPECT_TRUE(ParseCompletion(" \n<think>a</think>\n<answer> 4 </answer>").well_formed);
  EXPECT_EQ(p.format_reason, "well_formed");
  const std::pair<const char*, const char*> bad_cases[] = {
      {"<answer>4</answer>", "missing_tag"},
      {"<think>a</think>", "missing_tag"},
      {"<think>a</think><answer>4", "missing_tag"},
      {"x<think>a</think><answer>4</answer>", "text_before_think"},
      {"<think>a</think><answer>4</answer>tail", "text_after_answer"},
      {"<think>a<think>b</think><answer>4</answer>", "repeated_tag"},
      {"<think>a</think><answer>4</answer><answer>5</answer>", "repeated_tag"},
      {"<answer>4</answer><think>a</think>", "wrong_order"},
      {"</think><think>a<answer>4</answer>", "wrong_order"},
      {"<think>a</think>So:<answer>4</answer>", "text_between_think_and_answer"},
      {"<think>a</think><answer></answer>", "empty_answer"},
      {"<think>a</think><answer> \n </answer>", "empty_answer"},
      {"\n x <think>a</think><answer>4</answer>", "text_before_think"},
  };
  for (const auto& [bad, reason] : bad_cases) {
    const ParsedCompletion parsed = ParseCompletion(bad);
    EXPECT_FALSE(parsed.well_formed) << bad;
    EXPECT_EQ(parsed.format_reason, reason) << bad;
  }
  // The last complete answer block counts, even in a malformed completion.
  EXPECT_EQ(ParseCompletion("<answer>1</answer> then <answer>2</answer>").answer, "2");
  EXPECT_FALSE(ParseCompletion("<answer>1").answer.has_value());
  EXPECT_FALSE(ParseCompletion("").answer.has_value());
}

TEST(MakeTask, RejectsBadConfig) {
  config::TaskConfig config;
  config.set_kind(config::COUNTDOWN);
  config.set_difficulty(6);
  EXPECT_THAT(std::string(MakeTask(config).status().message()), HasSubstr("difficulty must be in [1, 5]"));
  EXPECT_THAT(std::string(ParseTaskKind("sudoku").status().message()), HasSubstr("unknown task \"sudoku\""));
  EXPECT_EQ(*ParseTaskKind("linear_equation"), config::LINEAR_EQUATION);
}

TEST(TaskMix, MixesByWeightDeterministically) {
  std::vector<config::TaskConfig> configs(2);
  configs[0].set_kind(config::ARITHMETIC);
  configs[0].set_weight(3);
  configs[1].set_kind(config::COUNTDOWN);
  configs[1].set_weight(1);
  absl::StatusOr<TaskMix> mix = TaskMix::Create(configs);
  ASSERT_TRUE(mix.ok());
  std::map<std::string, int> counts;
  for (uint64_t i = 0; i < 2000; ++i) {
    const TaskMix::Item item = mix->Generate(9, i);
    ++counts[item.record.task()];
    EXPECT_EQ(item.record.SerializeAsString(), mix->Generate(9, i).record.SerializeAsString());
  }
  EXPECT_NEAR(counts["arithmetic"] / 2000.0, 0.75, 0.04);
  EXPECT_NE(mix->Find("countdown"), nullptr);
  EXPECT_EQ(mix->Find("linear_equation"), nullptr);
  configs[1].set_weight(0);
  EXPECT_FALSE(TaskMix::Create(configs).ok());
  EXPECT_FALSE(TaskMix::Create({}).ok());
}

TEST(TaskMix, WorkedExampleIsInTheReasoningFormatAndCorrectWithoutErrors) {
  std::vector<config::TaskConfig> configs(1);
  configs[0].set_kind(config::COUNTDOWN);
  absl::StatusOr<TaskMix> mix = TaskMix::Create(configs);
  ASSERT_TRUE(mix.ok());
  const data::SftRecord example = mix->WorkedExample(1, 0);
  EXPECT_EQ(example.SerializeAsString(), mix->WorkedExample(1, 0).SerializeAsString());
  const absl::string_view r = example.response();
  ASSERT_EQ(r.find(kThinkOpen), 0u);
  const size_t close = r.find(kThinkClose);
  const size_t answer = r.find(kAnswerOpen);
  ASSERT_NE(close, absl::string_view::npos);
  ASSERT_EQ(answer, close + kThinkClose.size());
  ASSERT_TRUE(absl::EndsWith(r, kAnswerClose));
  const absl::string_view final_answer = r.substr(answer + kAnswerOpen.size(), r.size() - kAnswerClose.size() - answer - kAnswerOpen.size());
  const TaskMix::Item item = mix->Generate(1, 0);
  EXPECT_TRUE(item.task->IsCorrect(item.record, final_answer)) << r;
}

}  // namespace
}  // namespace r1::tasks
