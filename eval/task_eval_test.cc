#include "eval/task_eval.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/test_support.h"
#include "model/causal_lm.h"

namespace r1::eval {
namespace {

using ::testing::HasSubstr;

// A tiny random model: its completions are noise, which is all a test of the
// bookkeeping needs; the judges below decide what is correct.
class TaskEvalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("r1_task_eval_test_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    absl::StatusOr<std::string> path = r1::testing::TrainTinyTokenizer(dir_.string(), 40);
    ASSERT_TRUE(path.ok()) << path.status();
    absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(*path);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    tokenizer_ = std::make_unique<Tokenizer>(std::move(*tokenizer));
    torch::manual_seed(7);
    absl::StatusOr<model::CausalLm> model = model::MakeModel(r1::testing::SmallModelConfig(config::LLAMA, 40));
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::make_unique<model::CausalLm>(std::move(*model));
    for (int i = 0; i < 3; ++i) {
      data::PromptRecord& record = prompts_.emplace_back();
      record.set_id(absl::StrCat("p", i));
      record.set_prompt(absl::StrCat("What is ", i, " + 2?"));
      record.set_answer(absl::StrCat(i + 2));
      record.set_task("arithmetic");
    }
    options_.samples = 4;
    options_.max_new_tokens = 8;
    options_.batch_size = 5;  // batches cut across prompts
    options_.sampling.temperature = 1.0;
    options_.greedy = false;
    options_.seed = 11;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  absl::StatusOr<TaskEvalResult> Evaluate(const Judge& judge) {
    return EvaluateOnTasks(**model_, *tokenizer_, prompts_, judge, options_);
  }

  std::filesystem::path dir_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<model::CausalLm> model_;
  std::vector<data::PromptRecord> prompts_;
  TaskEvalOptions options_;
};

Judgement Scored(bool correct) {
  Judgement j;
  j.verdict = correct ? Verdict::kCorrect : Verdict::kWrong;
  j.has_correctness_rule = true;
  j.reward = correct ? 1 : 0;
  j.rule_scores["math"] = correct ? 1 : 0;
  return j;
}

Judgement Unscored(const std::string& code) {
  Judgement j;
  j.error_code = code;
  return j;
}

// Verdicts that depend on the completion's text and its position in the
// batch, so every kind turns up: correct, wrong, unscored for good.
Judgement ByText(const std::string& text, size_t position) {
  switch ((std::hash<std::string>()(text) + position) % 3) {
    case 0: return Scored(true);
    case 1: return Scored(false);
    default: return Unscored(kInvalidItem);
  }
}

TEST_F(TaskEvalTest, AccuraciesAreTheAggregateOfTheJudgesVerdicts) {
  std::map<std::string, std::vector<Verdict>> seen;  // prompt id -> verdicts, as judged
  const Judge judge = [&](const std::vector<CompletionToJudge>& items) -> absl::StatusOr<std::vector<Judgement>> {
    std::vector<Judgement> judged;
    for (size_t i = 0; i < items.size(); ++i) {
      judged.push_back(ByText(items[i].completion, i));
      seen[items[i].prompt->id()].push_back(judged.back().verdict);
    }
    return judged;
  };
  absl::StatusOr<TaskEvalResult> result = Evaluate(judge);
  ASSERT_TRUE(result.ok()) << result.status();

  // By hand: unscored samples left out, a prompt with none scored left out.
  double avg = 0, pass = 0;
  int prompts = 0, unscored = 0, judged = 0;
  for (const auto& [id, verdicts] : seen) {
    int scored = 0, correct = 0;
    for (Verdict v : verdicts) {
      ++judged;
      unscored += v == Verdict::kUnscored ? 1 : 0;
      scored += v != Verdict::kUnscored ? 1 : 0;
      correct += v == Verdict::kCorrect ? 1 : 0;
    }
    if (scored == 0) continue;
    ++prompts;
    avg += static_cast<double>(correct) / scored;
    pass += correct > 0 ? 1 : 0;
  }
  EXPECT_EQ(judged, 12);
  EXPECT_GT(unscored, 0);  // every kind of verdict turned up
  EXPECT_LT(avg, prompts);
  EXPECT_GT(pass, 0);
  EXPECT_EQ(result->prompts, 3);
  EXPECT_EQ(result->samples, 4);
  EXPECT_EQ(result->unscored, unscored);
  ASSERT_GT(prompts, 0);
  EXPECT_DOUBLE_EQ(result->avg_at_k, avg / prompts);
  EXPECT_DOUBLE_EQ(result->pass_at_k, pass / prompts);
}

TEST_F(TaskEvalTest, PassingFaultsAreJudgedAgainAndGreedyIsJudgedToo) {
  int calls = 0;
  const Judge judge = [&](const std::vector<CompletionToJudge>& items) -> absl::StatusOr<std::vector<Judgement>> {
    ++calls;
    // The first call finds the sandbox pool busy; the rest judge.
    return std::vector<Judgement>(items.size(), calls == 1 ? Unscored("sandbox_busy") : Scored(true));
  };
  options_.greedy = true;
  absl::StatusOr<TaskEvalResult> result = Evaluate(judge);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->unscored, 0);
  EXPECT_DOUBLE_EQ(result->avg_at_k, 1.0);
  EXPECT_DOUBLE_EQ(result->maj_at_k, 1.0);
  EXPECT_DOUBLE_EQ(result->greedy, 1.0);
  EXPECT_EQ(calls, 3 + 1 + 1);  // 12 samples in 3 batches, one of them twice; 3 greedy in one
}

TEST_F(TaskEvalTest, AnInvalidItemIsNotJudgedAgain) {
  int calls = 0;
  const Judge judge = [&](const std::vector<CompletionToJudge>& items) -> absl::StatusOr<std::vector<Judgement>> {
    ++calls;
    return std::vector<Judgement>(items.size(), Unscored(kInvalidItem));
  };
  absl::StatusOr<TaskEvalResult> result = Evaluate(judge);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(result->unscored, 12);
  EXPECT_EQ(result->avg_at_k, 0);
}

TEST_F(TaskEvalTest, ATaskWithoutACorrectnessRuleIsRefusedByName) {
  const Judge format_only = [](const std::vector<CompletionToJudge>& items) -> absl::StatusOr<std::vector<Judgement>> {
    Judgement j;
    j.verdict = Verdict::kWrong;  // `correct` false by default: no rule judged it
    return std::vector<Judgement>(items.size(), j);
  };
  const absl::Status refused = CheckJudgeKnowsTasks(prompts_, format_only, "held-out prompts", "my rules");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("held-out prompts: task \"arithmetic\" has no correctness rule in my rules"));
  absl::StatusOr<TaskEvalResult> result = Evaluate(format_only);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(), HasSubstr("task \"arithmetic\""));

  const Judge math = [](const std::vector<CompletionToJudge>& items) -> absl::StatusOr<std::vector<Judgement>> {
    return std::vector<Judgement>(items.size(), Scored(false));
  };
  EXPECT_TRUE(CheckJudgeKnowsTasks(prompts_, math, "held-out prompts", "my rules").ok());
}

TEST_F(TaskEvalTest, AFailedJudgeFailsTheEval) {
  const Judge gone = [](const std::vector<CompletionToJudge>&) -> absl::StatusOr<std::vector<Judgement>> {
    return absl::UnavailableError("reward service: connection refused");
  };
  EXPECT_EQ(Evaluate(gone).status().code(), absl::StatusCode::kUnavailable);
  const Judge short_answer = [](const std::vector<CompletionToJudge>&) -> absl::StatusOr<std::vector<Judgement>> {
    return std::vector<Judgement>(1, Scored(true));
  };
  EXPECT_EQ(Evaluate(short_answer).status().code(), absl::StatusCode::kInternal);
}

TEST_F(TaskEvalTest, KeptSamplesCarryTheJudgesVerdict) {
  const Judge judge = [](const std::vector<CompletionToJudge>& items) -> absl::StatusOr<std::vector<Judgement>> {
    std::vector<Judgement> judged;
    for (size_t i = 0; i < items.size(); ++i) judged.push_back(ByText(items[i].completion, i));
    return judged;
  };
  options_.keep_all_samples = true;
  absl::StatusOr<TaskEvalResult> result = Evaluate(judge);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->examples.size(), 12u);
  int unscored = 0;
  for (const data::SampleRecord& example : result->examples) {
    EXPECT_THAT(example.id(), ::testing::StartsWith("p"));
    if (example.reason() == kInvalidItem) {
      ++unscored;
      EXPECT_TRUE(example.reward_breakdown().empty());
    } else {
      EXPECT_EQ(example.reason() == "correct", example.reward_breakdown().at("math") == 1) << example.reason();
    }
  }
  EXPECT_EQ(unscored, result->unscored);

  options_.keep_all_samples = false;
  options_.keep_examples = 2;  // the first sample of the first two prompts
  result = Evaluate(judge);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->examples.size(), 2u);
  EXPECT_EQ(result->examples[1].id(), "p1");
}

TEST_F(TaskEvalTest, JsonHoldsTheFieldsTheReportReadsAndUnscored) {
  TaskEvalResult r;
  r.prompts = 3;
  r.samples = 4;
  r.avg_at_k = 0.5;
  r.unscored = 2;
  const std::string json = TaskEvalJson(r, "ckpt", false);
  for (const char* field : {"\"checkpoint\": \"ckpt\"", "\"prompts\": 3, \"samples\": 4", "\"avg_at_k\": 0.5000",
                            "\"pass_at_k\"", "\"maj_at_k\"", "\"greedy\": null", "\"format_rate\"",
                            "\"mean_completion_tokens\"", "\"unscored\": 2"}) {
    EXPECT_THAT(json, HasSubstr(field));
  }
}

}  // namespace
}  // namespace r1::eval
