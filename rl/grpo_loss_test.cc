// Hand-computed values of the GRPO objective and its gradient, one small
// case per variant.
#include "rl/grpo_loss.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace r1::rl {
namespace {

constexpr double kTol = 1e-5;

TEST(GroupAdvantages, NormalizedCentredAndUniformGroups) {
  const torch::Tensor rewards = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f});
  // Group 1: mean 0.5, unbiased std sqrt(1/3); group 2: all equal.
  const torch::Tensor std_adv = GroupAdvantages(rewards, 4, config::GROUP_STD);
  const double a = 0.5 / (std::sqrt(1.0 / 3.0) + 1e-6);
  const float want[] = {float(a), float(-a), float(-a), float(a), 0, 0, 0, 0};
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(std_adv[i].item<float>(), want[i], kTol) << i;
  const torch::Tensor mean_adv = GroupAdvantages(rewards, 4, config::GROUP_MEAN);
  const float want_mean[] = {0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0};
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(mean_adv[i].item<float>(), want_mean[i], kTol) << i;
  const torch::Tensor uniform = UniformGroups(rewards, 4);
  EXPECT_FALSE(uniform[0].item<bool>());
  EXPECT_TRUE(uniform[1].item<bool>());
}

// One token: logprob log(p_new) (with grad), old log(p_old), advantage a.
struct OneToken {
  torch::Tensor logprobs;
  GrpoLossInputs inputs;
  OneToken(double ratio, double advantage, double ref_ratio = 1.0) {
    const double old_lp = std::log(0.2);
    logprobs = torch::full({1, 1}, old_lp + std::log(ratio), torch::requires_grad());
    inputs.logprobs = logprobs;
    inputs.old_logprobs = torch::full({1, 1}, old_lp);
    // ref_ratio = pi_ref / pi at the token.
    inputs.ref_logprobs = torch::full({1, 1}, old_lp + std::log(ratio) + std::log(ref_ratio));
    inputs.advantages = torch::full({1}, advantage);
    inputs.mask = torch::ones({1, 1});
  }
  // Loss and d loss / d logprob.
  std::pair<double, double> Run(const GrpoLossOptions& options) {
    GrpoLoss loss = ComputeGrpoLoss(inputs, options);
    loss.loss.backward();
    return {loss.loss.item<double>(), logprobs.grad().item<double>()};
  }
};

TEST(GrpoLoss, ClippedSurrogatePositiveAdvantage) {
  GrpoLossOptions options;  // eps 0.2 both sides, no KL
  // Inside the clip range: loss -r A, gradient -r A.
  auto [loss, grad] = OneToken(0.9, 1.0).Run(options);
  EXPECT_NEAR(loss, -0.9, kTol);
  EXPECT_NEAR(grad, -0.9, kTol);
  // Above 1 + eps with A > 0: clipped at 1.2, no gradient.
  std::tie(loss, grad) = OneToken(1.5, 1.0).Run(options);
  EXPECT_NEAR(loss, -1.2, kTol);
  EXPECT_NEAR(grad, 0.0, kTol);
  // Clip-higher (DAPO): eps_high 0.6 lets the ratio 1.5 through.
  options.clip_eps_high = 0.6;
  std::tie(loss, grad) = OneToken(1.5, 1.0).Run(options);
  EXPECT_NEAR(loss, -1.5, kTol);
  EXPECT_NEAR(grad, -1.5, kTol);
}

TEST(GrpoLoss, ClippedSurrogateNegativeAdvantageAndDualClip) {
  GrpoLossOptions options;
  // Below 1 - eps with A < 0: clipped at 0.8, no gradient.
  auto [loss, grad] = OneToken(0.5, -1.0).Run(options);
  EXPECT_NEAR(loss, 0.8, kTol);
  EXPECT_NEAR(grad, 0.0, kTol);
  // Above 1 + eps with A < 0: the unclipped term is the smaller, so it counts.
  std::tie(loss, grad) = OneToken(1.5, -1.0).Run(options);
  EXPECT_NEAR(loss, 1.5, kTol);
  EXPECT_NEAR(grad, 1.5, kTol);
  // Dual clip c = 3: a ratio of 4 would cost 4; it is capped at 3, no gradient.
  options.dual_clip_c = 3.0;
  std::tie(loss, grad) = OneToken(4.0, -1.0).Run(options);
  EXPECT_NEAR(loss, 3.0, kTol);
  EXPECT_NEAR(grad, 0.0, kTol);
  // ... and leaves a ratio under c alone.
  std::tie(loss, grad) = OneToken(1.5, -1.0).Run(options);
  EXPECT_NEAR(loss, 1.5, kTol);
  // Positive advantages are never dual-clipped.
  std::tie(loss, grad) = OneToken(0.9, 2.0).Run(options);
  EXPECT_NEAR(loss, -1.8, kTol);
}

TEST(GrpoLoss, KlEstimatorsAndTheirGradients) {
  // pi_ref / pi = 0.5 at the token; ratio 1 and A = 0, so only the KL counts.
  const double x = std::log(0.5);  // log(pi_ref / pi)
  GrpoLossOptions options;
  options.kl_coef = 0.1;
  options.kl_estimator = config::K1;  // log pi - log pi_ref
  auto [loss, grad] = OneToken(1.0, 0.0, 0.5).Run(options);
  EXPECT_NEAR(loss, 0.1 * -x, kTol);
  EXPECT_NEAR(grad, 0.1 * 1.0, kTol);
  options.kl_estimator = config::K2;  // (log pi - log pi_ref)^2 / 2
  std::tie(loss, grad) = OneToken(1.0, 0.0, 0.5).Run(options);
  EXPECT_NEAR(loss, 0.1 * 0.5 * x * x, kTol);
  EXPECT_NEAR(grad, 0.1 * -x, kTol);
  options.kl_estimator = config::K3;  // pi_ref/pi - log(pi_ref/pi) - 1
  std::tie(loss, grad) = OneToken(1.0, 0.0, 0.5).Run(options);
  EXPECT_NEAR(loss, 0.1 * (0.5 - x - 1.0), kTol);
  EXPECT_NEAR(grad, 0.1 * (1.0 - 0.5), kTol);
  // The k3 estimate is never negative and zero when the policies agree.
  std::tie(loss, grad) = OneToken(1.0, 0.0, 1.0).Run(options);
  EXPECT_NEAR(loss, 0.0, kTol);
}

TEST(GrpoLoss, AggregationVariants) {
  // Two sequences, ratio 1 everywhere, so each token's loss is -A.
  // Sequence 0: A = 1, 2 tokens; sequence 1: A = -2, 1 token (then padding).
  GrpoLossInputs in;
  torch::Tensor logprobs = torch::zeros({2, 3}, torch::requires_grad());
  in.logprobs = logprobs;
  in.old_logprobs = torch::zeros({2, 3});
  in.advantages = torch::tensor({1.0f, -2.0f});
  in.mask = torch::tensor({{1.0f, 1.0f, 0.0f}, {1.0f, 0.0f, 0.0f}});
  GrpoLossOptions options;
  options.aggregation = config::TOKEN_MEAN;  // (-1 - 1 + 2) / 3
  GrpoLoss token_mean = ComputeGrpoLoss(in, options);
  EXPECT_NEAR(token_mean.loss.item<double>(), 0.0, kTol);
  token_mean.loss.backward();
  // d/d logprob = -A / 3 on each counted token, 0 on padding.
  EXPECT_NEAR(logprobs.grad()[0][0].item<double>(), -1.0 / 3, kTol);
  EXPECT_NEAR(logprobs.grad()[1][0].item<double>(), 2.0 / 3, kTol);
  EXPECT_NEAR(logprobs.grad()[1][1].item<double>(), 0.0, kTol);
  options.aggregation = config::SEQUENCE_MEAN;  // ((-1 - 1) / 2 + 2 / 1) / 2
  EXPECT_NEAR(ComputeGrpoLoss(in, options).loss.item<double>(), 0.5, kTol);
  options.aggregation = config::SUM_NORM;  // (-1 - 1 + 2) / (2 sequences x 4)
  options.sum_norm_tokens = 4;
  EXPECT_NEAR(ComputeGrpoLoss(in, options).loss.item<double>(), 0.0, kTol);
  in.advantages = torch::tensor({1.0f, 1.0f});  // (-1 - 1 - 1) / 8
  EXPECT_NEAR(ComputeGrpoLoss(in, options).loss.item<double>(), -3.0 / 8, kTol);
}

TEST(GrpoLoss, MetricsAndEntropyBonus) {
  GrpoLossInputs in;
  in.logprobs = torch::log(torch::tensor({{1.5f, 1.0f}})) + std::log(0.2f);
  in.old_logprobs = torch::full({1, 2}, std::log(0.2f));
  in.advantages = torch::tensor({1.0f});
  in.mask = torch::ones({1, 2});
  in.entropy = torch::tensor({{2.0f, 4.0f}});
  GrpoLossOptions options;
  options.entropy_coef = 0.01;
  const GrpoLoss loss = ComputeGrpoLoss(in, options);
  EXPECT_NEAR(loss.clip_fraction, 0.5, kTol);  // the 1.5 ratio is clipped
  EXPECT_NEAR(loss.ratio_mean, 1.25, kTol);
  EXPECT_NEAR(loss.entropy, 3.0, kTol);
  EXPECT_NEAR(loss.policy_loss, (-1.2 - 1.0) / 2, kTol);
  EXPECT_NEAR(loss.loss.item<double>(), (-1.2 - 1.0) / 2 - 0.01 * 3.0, kTol);
}

}  // namespace
}  // namespace r1::rl
