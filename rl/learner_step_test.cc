// GuardedOptimizerStep: one optimizer round of the learner. A round whose loss
// or gradient norm is not finite must leave the policy (weights and the MoE
// bias buffers) and AdamW's state (moments and step counts) exactly as they
// were; gradient clipping alone cannot: a NaN norm compares false against the
// clip, an inf one scales every gradient by 0 into NaN.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>

#include "common/test_support.h"
#include "model/causal_lm.h"
#include "model/optimizer.h"
#include "rl/learner.h"

namespace r1::rl {
namespace {

constexpr int kVocab = 40;

using Tensors = std::map<std::string, torch::Tensor>;

// Copies of every weight and buffer, and of AdamW's state, by name.
struct Snapshot {
  Tensors model;
  Tensors optimizer;
};

void ExpectSame(const Tensors& want, const Tensors& got, const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (const auto& [name, tensor] : want) {
    ASSERT_TRUE(got.count(name)) << what << ": " << name;
    EXPECT_TRUE(torch::equal(tensor, got.at(name))) << what << ": " << name << " changed";
  }
}

class GuardedOptimizerStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(7);
    absl::StatusOr<model::CausalLm> made = model::MakeModel(testing::SmallModelConfig(config::DEEPSEEK_V3, kVocab));
    ASSERT_TRUE(made.ok()) << made.status();
    policy_ = *made;
    config::OptimizerConfig optimizer;
    optimizer.set_lr(1e-2);
    optimizer_ = model::MakeAdamW(*policy_, optimizer);
  }

  // Forward and backward of a stand-in loss (next-token cross-entropy on
  // random tokens), counting the routed experts as the learner does.
  void Backward() {
    const torch::Tensor tokens = torch::randint(0, kVocab, {2, 9}, torch::kInt64);  // [B, T+1]
    model::ForwardOptions forward;
    forward.record_expert_load = true;
    const torch::Tensor logits = policy_->Forward(tokens.narrow(1, 0, 8), nullptr, forward).logits;  // [B, T, V]
    torch::nn::functional::cross_entropy(logits.reshape({-1, kVocab}), tokens.narrow(1, 1, 8).reshape({-1}))
        .backward();
  }

  model::OptimizerRound Step(bool loss_finite) {
    return model::GuardedOptimizerStep(*policy_, *optimizer_, /*lr=*/1e-2, /*grad_clip=*/1.0, loss_finite);
  }

  Snapshot Take() {
    Snapshot s;
    for (const auto& [name, tensor] : model::NamedTensors(*policy_)) s.model[name] = tensor.detach().clone();
    for (const auto& [name, tensor] : model::OptimizerStateTensors(*policy_, *optimizer_)) {
      s.optimizer[name] = tensor.detach().clone();
    }
    return s;
  }

  double TotalExpertLoad() const {
    double total = 0;
    for (const torch::Tensor& load : policy_->ExpertLoad()) total += load.sum().item<double>();
    return total;
  }

  // Sets one element of the first parameter's gradient.
  void Poison(float value) {
    torch::NoGradGuard no_grad;
    policy_->parameters()[0].mutable_grad().view({-1})[0].fill_(value);
  }

  model::CausalLm policy_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
};

TEST_F(GuardedOptimizerStepTest, FiniteRoundStepsAndMovesTheBias) {
  const Snapshot before = Take();
  Backward();
  ASSERT_GT(TotalExpertLoad(), 0);
  const model::OptimizerRound round = Step(true);
  EXPECT_FALSE(round.skipped);
  EXPECT_TRUE(std::isfinite(round.grad_norm));
  EXPECT_GT(round.grad_norm, 0);
  EXPECT_FALSE(round.expert_balance.empty());
  EXPECT_EQ(TotalExpertLoad(), 0);  // the bias update consumed the counts
  const Snapshot after = Take();
  EXPECT_FALSE(after.optimizer.empty());
  int moved = 0;
  for (const auto& [name, tensor] : before.model) moved += torch::equal(tensor, after.model.at(name)) ? 0 : 1;
  EXPECT_GT(moved, 0);
  // The MoE bias (a buffer) moved too.
  bool bias_moved = false;
  for (const auto& [name, tensor] : before.model) {
    if (name.find("e_score_correction_bias") != std::string::npos) {
      bias_moved = bias_moved || !torch::equal(tensor, after.model.at(name));
    }
  }
  EXPECT_TRUE(bias_moved);
}

TEST_F(GuardedOptimizerStepTest, NonFiniteGradientLeavesWeightsAndOptimizerStateAlone) {
  Backward();
  ASSERT_FALSE(Step(true).skipped);  // AdamW has moments and a step count now
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    const Snapshot before = Take();
    model::ClearGradients(*policy_);
    Backward();
    Poison(bad);
    const model::OptimizerRound round = Step(true);
    EXPECT_TRUE(round.skipped) << bad;
    EXPECT_FALSE(std::isfinite(round.grad_norm)) << bad;
    EXPECT_TRUE(round.expert_balance.empty());
    const Snapshot after = Take();
    ExpectSame(before.model, after.model, "weights and buffers");
    ExpectSame(before.optimizer, after.optimizer, "AdamW state");
    for (const torch::Tensor& p : policy_->parameters()) EXPECT_FALSE(p.grad().defined());
    EXPECT_EQ(TotalExpertLoad(), 0);  // the skipped round's routing does not steer the next bias update
  }
  // Training goes on: the next finite round is AdamW's second step, not its fourth.
  Backward();
  ASSERT_FALSE(Step(true).skipped);
  for (const auto& [name, tensor] : model::OptimizerStateTensors(*policy_, *optimizer_)) {
    if (name.rfind("step.", 0) == 0) {
      EXPECT_EQ(tensor.item<int64_t>(), 2) << name;
    }
  }
}

TEST_F(GuardedOptimizerStepTest, NonFiniteLossSkipsTheRoundEvenWithFiniteGradients) {
  Backward();
  const Snapshot before = Take();
  const model::OptimizerRound round = Step(/*loss_finite=*/false);
  EXPECT_TRUE(round.skipped);
  EXPECT_TRUE(std::isfinite(round.grad_norm));
  const Snapshot after = Take();
  ExpectSame(before.model, after.model, "weights and buffers");
  ExpectSame(before.optimizer, after.optimizer, "AdamW state");
}

}  // namespace
}  // namespace r1::rl
