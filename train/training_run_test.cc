#include "train/training_run.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/test_support.h"
#include "model/causal_lm.h"
#include "model/checkpoint.h"
#include "model/optimizer.h"

namespace r1::train {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class TrainingRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("r1_training_run_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    torch::manual_seed(3);
    absl::StatusOr<model::CausalLm> made = model::MakeModel(testing::SmallModelConfig(config::LLAMA, 32));
    ASSERT_TRUE(made.ok()) << made.status();
    model_ = *made;
    optimizer_ = model::MakeAdamW(*model_, Options().optimizer);
  }
  void TearDown() override { fs::remove_all(dir_); }

  TrainingRunOptions Options() const {
    TrainingRunOptions options;
    options.stage = "unit";
    options.stage_dir = (dir_ / "stage").string();
    options.max_steps = 4;
    options.optimizer.set_lr(1e-2);
    options.checkpoint.set_every_steps(2);
    options.checkpoint.set_keep(1);
    return options;
  }

  // One AdamW step on a fixed batch, so the weights and moments change.
  void TrainOneStep(TrainingRun& run) {
    model::SetLearningRate(*optimizer_, run.LearningRate());
    optimizer_->zero_grad();
    const torch::Tensor tokens = torch::arange(0, 8, torch::kInt64).reshape({1, 8});
    model_->Forward(tokens, nullptr, {}).logits.pow(2).mean().backward();
    optimizer_->step();
    run.CompleteStep();
  }

  std::string Stage(const std::string& name) const { return (dir_ / "stage" / name).string(); }

  fs::path dir_;
  model::CausalLm model_{nullptr};
  std::unique_ptr<torch::optim::AdamW> optimizer_;
};

TEST_F(TrainingRunTest, ABudgetIsRequired) {
  TrainingRunOptions options = Options();
  options.max_steps = 0;
  const absl::Status status = TrainingRun::Validate(options);
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_THAT(status.message(), HasSubstr("unit: needs max_steps or max_seconds"));
  options.max_seconds = 10;
  EXPECT_TRUE(TrainingRun::Validate(options).ok());
}

TEST_F(TrainingRunTest, AFreshStartRemovesAnEarlierRunsOutputs) {
  ASSERT_TRUE(MakeDirs(Stage("checkpoints/step_00000009")).ok());
  ASSERT_TRUE(MakeDirs(Stage("tensorboard")).ok());
  ASSERT_TRUE(WriteFileAtomically(Stage("metrics.jsonl"), "{\"step\":9}\n").ok());
  TrainingRunOptions options = Options();
  options.resume = true;  // but there is no checkpoint of this run to resume: step_00000009 has no manifest
  TrainingRun run(*model_, *optimizer_, options);
  absl::StatusOr<std::optional<ResumePoint>> point = run.FindResumePoint();
  ASSERT_TRUE(point.ok()) << point.status();
  EXPECT_FALSE(point->has_value());
  ASSERT_TRUE(run.Begin().ok());
  EXPECT_FALSE(fs::exists(Stage("checkpoints/step_00000009")));
  EXPECT_THAT(ReadFile(Stage("metrics.jsonl")).value_or(""), ::testing::Not(HasSubstr("\"step\":9")));
}

TEST_F(TrainingRunTest, StepsSavesPruningAndAResumeThatContinuesWhereItStopped) {
  int fills = 0;
  TrainingRunOptions options = Options();
  options.fill_state = [&](model::TrainingState& state) {
    state.data_cursor = 100 + state.step;
    ++fills;
  };
  std::map<std::string, torch::Tensor> saved_weights;
  {
    TrainingRun run(*model_, *optimizer_, options);
    ASSERT_TRUE(run.Begin().ok());
    int steps = 0;
    while (!run.BudgetSpent()) {
      TrainOneStep(run);
      ASSERT_TRUE(run.Log({{"loss", 1.0 / run.step()}}, "detail").ok());
      ++steps;
    }
    EXPECT_EQ(steps, 4);
    EXPECT_EQ(fills, 2);  // saved at steps 2 and 4
    absl::StatusOr<std::string> final_checkpoint = run.Finish();
    ASSERT_TRUE(final_checkpoint.ok()) << final_checkpoint.status();
    EXPECT_EQ(*final_checkpoint, model::CheckpointDir(run.checkpoints_dir(), 4));
    EXPECT_EQ(fills, 2);  // step 4 was saved already
    EXPECT_FALSE(fs::exists(model::CheckpointDir(run.checkpoints_dir(), 2)));  // keep: 1
    for (auto& [name, tensor] : model::NamedTensors(*model_)) saved_weights[name] = tensor.clone();
  }
  const std::string metrics = ReadFile(Stage("metrics.jsonl")).value_or("");
  EXPECT_THAT(metrics, HasSubstr("{\"step\":4,"));

  // A new model and optimizer, resumed: the step, weights, moments and the
  // loop's own fields come back, and the budget of 6 steps allows 2 more.
  torch::manual_seed(99);
  model_ = *model::MakeModel(testing::SmallModelConfig(config::LLAMA, 32));
  optimizer_ = model::MakeAdamW(*model_, options.optimizer);
  options.resume = true;
  options.max_steps = 6;
  TrainingRun resumed(*model_, *optimizer_, options);
  absl::StatusOr<std::optional<ResumePoint>> point = resumed.FindResumePoint();
  ASSERT_TRUE(point.ok() && point->has_value()) << point.status();
  EXPECT_EQ((*point)->state.data_cursor, 104);
  ASSERT_TRUE(resumed.RestoreFrom(**point).ok());
  ASSERT_TRUE(resumed.Begin().ok());
  EXPECT_TRUE(resumed.resumed());
  EXPECT_EQ(resumed.step(), 4);
  for (auto& [name, tensor] : model::NamedTensors(*model_)) {
    EXPECT_TRUE(torch::equal(tensor, saved_weights.at(name))) << name;
  }
  EXPECT_FALSE(model::OptimizerStateTensors(*model_, *optimizer_).empty());
  int more = 0;
  while (!resumed.BudgetSpent()) {
    TrainOneStep(resumed);
    ASSERT_TRUE(resumed.Log({{"loss", 0.5}}, "").ok());
    ++more;
  }
  EXPECT_EQ(more, 2);
  ASSERT_TRUE(resumed.Finish().ok());
  // The resumed run appends to the metrics of the one it continues.
  const std::string appended = ReadFile(Stage("metrics.jsonl")).value_or("");
  EXPECT_THAT(appended, HasSubstr("{\"step\":2,"));
  EXPECT_THAT(appended, HasSubstr("{\"step\":6,"));
}

TEST_F(TrainingRunTest, TheGlobalGeneratorTravelsWithTheCheckpointWhenAsked) {
  TrainingRunOptions options = Options();
  options.global_rng = true;
  options.max_steps = 1;
  torch::manual_seed(7);
  {
    TrainingRun run(*model_, *optimizer_, options);
    ASSERT_TRUE(run.Begin().ok());
    TrainOneStep(run);
    ASSERT_TRUE(run.Finish().ok());
  }
  const torch::Tensor expected = torch::rand({4});  // the draws after the save
  torch::manual_seed(12345);
  options.resume = true;
  TrainingRun resumed(*model_, *optimizer_, options);
  absl::StatusOr<std::optional<ResumePoint>> point = resumed.FindResumePoint();
  ASSERT_TRUE(point.ok() && point->has_value());
  ASSERT_TRUE(resumed.RestoreFrom(**point).ok());
  EXPECT_TRUE(torch::equal(torch::rand({4}), expected));
}

TEST_F(TrainingRunTest, AFollowerRankWritesNothingButTakesPartInSaves) {
  TrainingRunOptions options = Options();
  options.leader = false;
  int fills = 0;
  options.fill_state = [&](model::TrainingState&) { ++fills; };
  double clock_calls = 0;
  options.shared_clock = [&](double) {
    ++clock_calls;
    return 0.0;  // rank 0's clock
  };
  TrainingRun run(*model_, *optimizer_, options);
  ASSERT_TRUE(run.Begin().ok());
  while (!run.BudgetSpent()) {
    TrainOneStep(run);
    ASSERT_TRUE(run.Log({{"loss", 1.0}}, "").ok());
  }
  absl::StatusOr<std::string> last = run.Finish();
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, model::CheckpointDir(run.checkpoints_dir(), 4));
  EXPECT_EQ(fills, 2);
  EXPECT_EQ(clock_calls, 5);
  EXPECT_FALSE(fs::exists(Stage("metrics.jsonl")));
  EXPECT_FALSE(fs::exists(Stage("checkpoints")));
}

}  // namespace
}  // namespace r1::train
