#include "sft/lm_trainer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/test_support.h"
#include "model/causal_lm.h"
#include "model/checkpoint.h"

namespace r1::sft {
namespace {

namespace fs = std::filesystem;

config::ModelConfig Small() {
  config::ModelConfig c = testing::SmallModelConfig(config::DEEPSEEK_V3, 32);
  c.set_bias_update_speed(0.01);
  return c;
}

// Sequences with a learnable rule: each token is the previous plus one (mod 28), offset by 4.
PackedDataset CountingData(int rows, uint64_t seed) {
  torch::manual_seed(seed);
  std::vector<EncodedExample> examples;
  for (int r = 0; r < rows; ++r) {
    EncodedExample e;
    int start = static_cast<int>(torch::randint(0, 28, {1}).item<int64_t>());
    for (int t = 0; t < 16; ++t) {
      e.ids.push_back(4 + (start + t) % 28);
      e.loss_mask.push_back(1);
    }
    examples.push_back(e);
  }
  return Pack(examples, 16, 3);
}

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    at::set_num_threads(1);  // bit-identical reruns
    dir_ = fs::temp_directory_path() /
           absl::StrCat("r1_trainer_", getpid(), "_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  TrainerOptions Options(const std::string& name, int64_t steps) {
    TrainerOptions o;
    o.stage = "test";
    o.stage_dir = (dir_ / name).string();
    o.batch_size = 4;
    o.max_steps = steps;
    o.optimizer.set_lr(3e-3);
    o.optimizer.set_warmup_steps(2);
    o.checkpoint.set_every_steps(3);
    o.checkpoint.set_keep(5);
    o.seed = 7;
    return o;
  }

  // main_loss by step from a metrics file (the last line for a step wins).
  std::map<int, std::string> Losses(const std::string& name) {
    std::map<int, std::string> losses;
    const std::string text = *ReadFile((dir_ / name / "metrics.jsonl").string());
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      const size_t at = line.find("\"main_loss\":");
      if (at == absl::string_view::npos) continue;
      int step = std::stoi(std::string(line.substr(8, line.find(',') - 8)));
      losses[step] = std::string(line.substr(at, line.find(',', at) - at));
    }
    return losses;
  }
  fs::path dir_;
};

TEST(Pack, FillsRowsGreedilyAndMasksPadding) {
  std::vector<EncodedExample> examples(3);
  examples[0] = {{1, 10, 11, 2}, {0, 1, 1, 1}};
  examples[1] = {{1, 12, 2}, {0, 1, 1}};
  examples[2] = {{1, 13, 14, 15, 16, 17, 18, 2}, {0, 1, 1, 1, 1, 1, 1, 1}};
  examples[2].loss_mask[0] = 1;  // a first token is never a target, whatever its mask said
  const PackedDataset packed = Pack(examples, 7, 3);
  ASSERT_EQ(packed.rows(), 2);
  EXPECT_TRUE(torch::equal(packed.tokens[0], torch::tensor({1, 10, 11, 2, 1, 12, 2}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(packed.tokens[1], torch::tensor({1, 13, 14, 15, 16, 17, 18}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(packed.loss_mask[0], torch::tensor({0, 1, 1, 1, 0, 1, 1}, torch::kUInt8)));
  EXPECT_TRUE(torch::equal(packed.loss_mask[1], torch::tensor({0, 1, 1, 1, 1, 1, 1}, torch::kUInt8)));
  EXPECT_TRUE(torch::equal(packed.segment_ids[0], torch::tensor({1, 1, 1, 1, 2, 2, 2}, torch::kInt32)));
  EXPECT_EQ(packed.truncated, 1);
  EXPECT_EQ(packed.target_tokens(), 5 + 6);
  using Placement = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(packed.placement, (Placement{{0, 0}, {0, 4}, {1, 0}}));
  EXPECT_TRUE(torch::equal(Pack({examples[1]}, 5, 3).segment_ids[0], torch::tensor({1, 1, 1, 0, 0}, torch::kInt32)));
  const PackedDataset padded = Pack({examples[1]}, 5, 3);
  EXPECT_TRUE(torch::equal(padded.tokens[0], torch::tensor({1, 12, 2, 3, 3}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(padded.loss_mask[0], torch::tensor({0, 1, 1, 0, 0}, torch::kUInt8)));
}

TEST(Pack, ExamplesInOneRowSeeOnlyThemselves) {
  // Two examples packed into one row give the logits each gives alone.
  torch::manual_seed(3);
  model::CausalLm model = *model::MakeModel(Small());
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) {
      if (p.dim() == 2) p.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(p.size(1))));
    }
  }
  EncodedExample a{{1, 5, 6, 7, 2}, {0, 1, 1, 1, 1}}, b{{1, 9, 8, 2}, {0, 1, 1, 1}};
  const PackedDataset packed = Pack({a, b}, 12, 3);
  ASSERT_EQ(packed.rows(), 1);
  torch::NoGradGuard no_grad;
  model::ForwardOptions options;
  options.segment_ids = packed.segment_ids;
  options.compute_mtp = true;
  const model::ForwardResult together = model->Forward(packed.tokens, nullptr, options);
  const auto alone = [&](const EncodedExample& e) {
    model::ForwardOptions o;
    o.compute_mtp = true;
    return model->Forward(torch::tensor(std::vector<int64_t>(e.ids.begin(), e.ids.end())).unsqueeze(0), nullptr, o);
  };
  const model::ForwardResult ra = alone(a), rb = alone(b);
  EXPECT_TRUE(torch::allclose(together.logits[0].narrow(0, 0, 5), ra.logits[0], 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(together.logits[0].narrow(0, 5, 4), rb.logits[0], 1e-4, 1e-5));
  // Without segments the second example would see the first.
  EXPECT_FALSE(torch::allclose(model->Forward(packed.tokens, nullptr, {}).logits[0].narrow(0, 5, 4), rb.logits[0], 1e-4, 1e-5));
}

TEST_F(TrainerTest, LearnsARuleAndWritesCheckpointsAndMetrics) {
  torch::manual_seed(1);
  model::CausalLm model = *model::MakeModel(Small());
  const PackedDataset train = CountingData(64, 1), eval = CountingData(16, 2);
  const double before = EvalLoss(*model, eval, 8);
  absl::StatusOr<TrainerResult> result = TrainLm(*model, train, eval, Options("run", 60));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->steps, 60);
  EXPECT_LT(result->eval_loss, 0.5 * before) << "before " << before;
  EXPECT_EQ(result->checkpoint, model::CheckpointDir((dir_ / "run" / "checkpoints").string(), 60));
  EXPECT_TRUE(model::LoadModel(result->checkpoint).ok());
  EXPECT_EQ(Losses("run").size(), 60u);
}

TEST_F(TrainerTest, ResumedRunReproducesTheUninterruptedLosses) {
  const PackedDataset train = CountingData(10, 3), eval = CountingData(4, 4);  // several epochs in 9 steps
  torch::manual_seed(5);
  model::CausalLm straight = *model::MakeModel(Small());
  ASSERT_TRUE(TrainLm(*straight, train, eval, Options("run", 9)).ok());  // checkpoints at 3, 6, 9
  const auto uninterrupted = Losses("run");
  ASSERT_EQ(uninterrupted.size(), 9u);

  // As if the process had died after step 4: only the step-3 checkpoint is left.
  fs::remove_all(dir_ / "run" / "checkpoints" / "step_00000006");
  fs::remove_all(dir_ / "run" / "checkpoints" / "step_00000009");
  torch::manual_seed(99);  // a fresh process: a different init, overwritten by the checkpoint
  model::CausalLm resumed_model = *model::MakeModel(Small());
  TrainerOptions options = Options("run", 9);
  options.resume = true;
  absl::StatusOr<TrainerResult> resumed = TrainLm(*resumed_model, train, eval, options);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->steps, 9);

  const auto after = Losses("run");  // the resumed run's lines for steps 4..9 come last
  for (int step = 1; step <= 9; ++step) EXPECT_EQ(uninterrupted.at(step), after.at(step)) << "step " << step;
  const auto named = model::NamedTensors(*resumed_model);
  for (const auto& [name, tensor] : model::NamedTensors(*straight)) {
    for (const auto& [other_name, other] : named) {
      if (name == other_name) EXPECT_TRUE(torch::equal(tensor, other)) << name;
    }
  }
}

TEST_F(TrainerTest, RefusesEmptyDataAndMissingBudget) {
  torch::manual_seed(1);
  model::CausalLm model = *model::MakeModel(Small());
  EXPECT_FALSE(TrainLm(*model, PackedDataset(), PackedDataset(), Options("a", 5)).ok());
  EXPECT_FALSE(TrainLm(*model, CountingData(4, 1), PackedDataset(), Options("b", 0)).ok());
}

// A NaN in the loss (here from the extra loss term) must not reach the
// weights: the step is skipped and counted, the weights stay as they were.
TEST_F(TrainerTest, NonFiniteLossSkipsTheStepAndLeavesTheWeights) {
  torch::manual_seed(1);
  model::CausalLm model = *model::MakeModel(Small());
  std::map<std::string, torch::Tensor> before;
  for (const auto& [name, tensor] : model::NamedTensors(*model)) before[name] = tensor.clone();
  TrainerOptions options = Options("nan", 2);
  options.extra_loss = [](const torch::Tensor&, const torch::Tensor& logits,
                          const torch::Tensor&) -> absl::StatusOr<torch::Tensor> {
    return logits.sum() * std::numeric_limits<double>::quiet_NaN();
  };
  absl::StatusOr<TrainerResult> result = TrainLm(*model, CountingData(8, 1), PackedDataset(), options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->steps, 2);
  for (const auto& [name, tensor] : model::NamedTensors(*model)) {
    EXPECT_TRUE(torch::equal(tensor, before.at(name))) << name;
  }
  absl::StatusOr<std::string> metrics = ReadFile(options.stage_dir + "/metrics.jsonl");
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(*metrics, ::testing::HasSubstr("\"skipped_nonfinite_steps_total\":2,"));
}

TEST_F(TrainerTest, TimeBudgetStopsTraining) {
  torch::manual_seed(1);
  model::CausalLm model = *model::MakeModel(Small());
  TrainerOptions options = Options("timed", 0);
  options.max_seconds = 1.0;
  absl::StatusOr<TrainerResult> result = TrainLm(*model, CountingData(16, 1), PackedDataset(), options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GT(result->steps, 0);
  EXPECT_GE(result->seconds, 1.0);  // it stops at all: max_steps is unset
}

}  // namespace
}  // namespace r1::sft
