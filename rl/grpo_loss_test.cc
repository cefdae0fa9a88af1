// Hand-computed values of the GRPO objective and its gradient, one small
// case per variant.
#include "rl/grpo_loss.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <string>

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

// In float32 the mean of 8 x 1.2 is one ulp low and the std about 1e-7, so
// (r - mean) / (std + 1e-6) came out near 0.1 (0.2: -0.015, 0.7: 0.056).
TEST(GroupAdvantages, AllEqualGroupsGetExactlyZero) {
  for (const float reward : {1.2f, 0.2f, 0.7f}) {
    for (const int64_t g : {6, 8, 16}) {
      for (const config::AdvantageNorm norm : {config::GROUP_STD, config::GROUP_MEAN}) {
        // A uniform group, then a group with signal that must keep it.
        torch::Tensor rewards = torch::full({2 * g}, reward, torch::kFloat32);
        rewards[g] = reward + 1.0f;
        const torch::Tensor advantages = GroupAdvantages(rewards, g, norm);
        ASSERT_EQ(advantages.scalar_type(), torch::kFloat32);
        for (int64_t i = 0; i < g; ++i) {
          ASSERT_EQ(advantages[i].item<float>(), 0.0f) << "reward " << reward << " G " << g << " norm " << norm;
        }
        EXPECT_GT(advantages[g].item<float>(), 0.5f);
      }
    }
  }
}

TEST(GroupAdvantages, ComputedInDoublePrecision) {
  // Rewards 1.2 x 7 and 0.2 (as float32): mean 1.075, centred 0.125 and
  // -0.875, unbiased std sqrt((7 x 0.125^2 + 0.875^2) / 7) = sqrt(0.125), all
  // in float64 from the float32 inputs (hand computation below).
  torch::Tensor rewards = torch::full({8}, 1.2f);
  rewards[7] = 0.2f;
  const double hi = static_cast<double>(1.2f), lo = static_cast<double>(0.2f);
  const double mean = (7 * hi + lo) / 8;
  const double std = std::sqrt((7 * (hi - mean) * (hi - mean) + (lo - mean) * (lo - mean)) / 7);
  const torch::Tensor advantages = GroupAdvantages(rewards, 8, config::GROUP_STD);
  EXPECT_EQ(advantages[0].item<float>(), static_cast<float>((hi - mean) / (std + 1e-6)));
  EXPECT_EQ(advantages[7].item<float>(), static_cast<float>((lo - mean) / (std + 1e-6)));
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

TEST(GrpoLoss, LogRatiosAndK3AreClampedLikeVerl) {
  GrpoLossOptions options;
  // Policy ratio exp(100) (inf in float32) with A = -1: the log-ratio is
  // clamped to 20, so the loss is exp(20) and the gradient 0.
  auto [loss, grad] = OneToken(std::exp(100.0), -1.0).Run(options);
  EXPECT_NEAR(loss, std::exp(20.0), std::exp(20.0) * 1e-6);
  EXPECT_EQ(grad, 0.0);
  // k3 at log(pi_ref / pi) = 30 is exp(20) - 21 after the log-ratio clamp,
  // then clamped to 10; at -12 it is exp(-12) + 11 > 10, clamped too; at -5
  // it is exp(-5) + 4, left alone, with gradient 1 - exp(-5).
  options.kl_coef = 0.5;
  std::tie(loss, grad) = OneToken(1.0, 0.0, std::exp(30.0)).Run(options);
  EXPECT_NEAR(loss, 0.5 * 10, kTol);
  EXPECT_EQ(grad, 0.0);
  std::tie(loss, grad) = OneToken(1.0, 0.0, std::exp(-12.0)).Run(options);
  EXPECT_NEAR(loss, 0.5 * 10, kTol);
  EXPECT_EQ(grad, 0.0);
  std::tie(loss, grad) = OneToken(1.0, 0.0, std::exp(-5.0)).Run(options);
  EXPECT_NEAR(loss, 0.5 * (std::exp(-5.0) + 4.0), kTol);
  EXPECT_NEAR(grad, 0.5 * (1.0 - std::exp(-5.0)), kTol);
}

// Masked positions hold -inf, inf, NaN and 1e30 (a padded row, a worker's
// -inf logprob of a token outside its truncated distribution): the loss and
// every gradient match those with zeros there. Before torch::where, exp(ref -
// logp) was inf there and inf x 0 made the loss NaN.
TEST(GrpoLoss, MaskedPositionsNeverReachTheLossOrTheGradient) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Two sequences of three tokens; the last token of row 0 and the last two
  // of row 1 are masked.
  const torch::Tensor mask = torch::tensor({{1.0f, 1.0f, 0.0f}, {1.0f, 0.0f, 0.0f}});
  const torch::Tensor clean_logprobs = torch::tensor({{-0.5f, -1.0f, 0.0f}, {-2.0f, 0.0f, 0.0f}});
  const torch::Tensor clean_old = torch::tensor({{-0.6f, -0.9f, 0.0f}, {-1.5f, 0.0f, 0.0f}});
  const torch::Tensor clean_ref = torch::tensor({{-0.7f, -1.1f, 0.0f}, {-1.8f, 0.0f, 0.0f}});
  const torch::Tensor clean_entropy = torch::tensor({{1.0f, 2.0f, 0.0f}, {0.5f, 0.0f, 0.0f}});
  const torch::Tensor dirty_logprobs = torch::tensor({{-0.5f, -1.0f, -inf}, {-2.0f, -inf, -1e30f}});
  const torch::Tensor dirty_old = torch::tensor({{-0.6f, -0.9f, inf}, {-1.5f, nan, -inf}});
  const torch::Tensor dirty_ref = torch::tensor({{-0.7f, -1.1f, 1e30f}, {-1.8f, inf, nan}});
  const torch::Tensor dirty_entropy = torch::tensor({{1.0f, 2.0f, nan}, {0.5f, inf, nan}});
  const auto run = [&](const torch::Tensor& lp, const torch::Tensor& old, const torch::Tensor& ref,
                       const torch::Tensor& entropy, const GrpoLossOptions& options) {
    torch::Tensor logprobs = lp.clone().set_requires_grad(true);
    GrpoLossInputs in;
    in.logprobs = logprobs;
    in.old_logprobs = old;
    in.ref_logprobs = ref;
    in.entropy = entropy;
    in.advantages = torch::tensor({1.5f, -0.7f});
    in.mask = mask;
    const GrpoLoss loss = ComputeGrpoLoss(in, options);
    loss.loss.backward();
    return std::make_pair(loss, logprobs.grad());
  };
  for (const config::KlEstimator estimator : {config::K1, config::K2, config::K3}) {
    for (const config::LossAggregation aggregation : {config::TOKEN_MEAN, config::SEQUENCE_MEAN, config::SUM_NORM}) {
      GrpoLossOptions options;
      options.kl_coef = 0.1;
      options.kl_estimator = estimator;
      options.aggregation = aggregation;
      options.sum_norm_tokens = 3;
      options.entropy_coef = 0.01;
      options.dual_clip_c = 3;
      const auto [clean, clean_grad] = run(clean_logprobs, clean_old, clean_ref, clean_entropy, options);
      const auto [dirty, dirty_grad] = run(dirty_logprobs, dirty_old, dirty_ref, dirty_entropy, options);
      const std::string what = "estimator " + std::to_string(estimator) + " aggregation " + std::to_string(aggregation);
      ASSERT_TRUE(std::isfinite(dirty.loss.item<double>())) << what;
      ASSERT_TRUE(torch::isfinite(dirty_grad).all().item<bool>()) << what << "\n" << dirty_grad;
      EXPECT_EQ(dirty.loss.item<double>(), clean.loss.item<double>()) << what;
      EXPECT_TRUE(torch::equal(dirty_grad, clean_grad)) << what;
      EXPECT_EQ(dirty_grad[0][2].item<float>(), 0.0f);
      EXPECT_EQ(dirty.kl, clean.kl) << what;
      EXPECT_EQ(dirty.ratio_mean, clean.ratio_mean) << what;
      EXPECT_EQ(dirty.entropy, clean.entropy) << what;
      EXPECT_EQ(dirty.clip_fraction, clean.clip_fraction) << what;
      EXPECT_EQ(dirty.policy_loss, clean.policy_loss) << what;
    }
  }
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
