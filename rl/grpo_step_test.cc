// GrpoUpdate against an independent PyTorch program
// (tests/golden/grpo_step_reference.py, written from the GRPO, DAPO and
// Dr. GRPO formulas, not from this code): one update of a tiny Llama on six
// sequences of two groups (different lengths, one masked out of the loss),
// with old logprobs that put about a third of the tokens beyond a clip bound,
// a k3 KL term to a perturbed reference, and each aggregation. Compared: the
// aggregated loss, the gradient norm of every optimizer step, the token means
// of the loss metrics, and every weight after the update. The reference runs
// each sequence alone and each mini-batch whole; here mini-batches are cut
// into right-padded micro-batches whose gradients are accumulated, so the
// comparison also checks each micro-batch's share.
//
// Regenerate the golden file: /usr/bin/python3 tests/golden/grpo_step_reference.py
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "model/causal_lm.h"
#include "model/optimizer.h"
#include "model/safetensors.h"
#include "rl/grpo_step.h"

namespace r1::rl {
namespace {

constexpr char kGoldenFile[] = "tests/golden/grpo_step.safetensors";
const std::vector<std::string> kCases = {"token_mean", "sequence_mean", "sum_norm", "sequence_mean_two_updates"};

// Float32 here, float64 in the reference. The reference reruns itself in
// float32 and lands within 2e-7 (objective), 1.6e-6 (gradient norms,
// relative), 1e-7 (metrics) and 5.1e-7 (weights; 7e-8 in the cases with
// AdamW eps 1) of its float64 values. The tolerances allow about 10 to 100
// times that for a different order of operations (batched, padded, float32
// logits), and stay far below what they must tell apart: the three
// aggregations' objectives differ by at least 0.036 and their weights after
// the step by at least 1.6e-3.
constexpr double kObjectiveTolerance = 1e-5;  // absolute
constexpr double kGradNormTolerance = 1e-5;   // relative
constexpr double kMetricTolerance = 1e-5;     // absolute, on token means
constexpr double kWeightTolerance = 1e-5;     // absolute, every element

struct Golden {
  config::ModelConfig config;
  model::SafetensorsFile file;
  const torch::Tensor& at(const std::string& name) const { return file.tensors.at(name); }
  double Number(const std::string& name) const { return at(name).item<double>(); }
};

absl::StatusOr<Golden> LoadGolden() {
  Golden golden;
  R1_ASSIGN_OR_RETURN(golden.file, model::ReadSafetensors(kGoldenFile));
  const auto parsed = google::protobuf::util::JsonStringToMessage(golden.file.metadata.at("config"), &golden.config);
  if (!parsed.ok()) return absl::InvalidArgumentError(std::string(parsed.message()));
  return golden;
}

// The model whose weights are the golden tensors named `prefix` + weight name.
absl::StatusOr<model::CausalLm> LoadModel(const Golden& golden, const std::string& prefix) {
  R1_ASSIGN_OR_RETURN(model::CausalLm model, model::MakeModel(golden.config));
  std::map<std::string, torch::Tensor> weights;
  for (const auto& [name, tensor] : golden.file.tensors) {
    if (absl::StartsWith(name, prefix)) weights[name.substr(prefix.size())] = tensor;
  }
  R1_RETURN_IF_ERROR(model::LoadTensors(*model, weights, kGoldenFile));
  return model;
}

std::vector<Sequence> LoadSequences(const Golden& golden, const std::string& name) {
  const torch::Tensor tokens = golden.at("seq.tokens");            // [N, Lmax]
  const torch::Tensor old = golden.at("seq.old_logprobs");         // [N, Lmax]
  const torch::Tensor advantages = golden.at(name + ".advantages");  // [N]
  std::vector<Sequence> sequences(static_cast<size_t>(tokens.size(0)));
  for (int64_t i = 0; i < tokens.size(0); ++i) {
    Sequence& s = sequences[static_cast<size_t>(i)];
    const int64_t length = golden.at("seq.length")[i].item<int64_t>();
    s.completion_start = golden.at("seq.completion_start")[i].item<int64_t>();
    for (int64_t p = 0; p < length; ++p) s.tokens.push_back(tokens[i][p].item<int64_t>());
    for (int64_t j = 0; j < length - s.completion_start; ++j) s.old_logprobs.push_back(old[i][j].item<float>());
    s.in_loss = golden.at("seq.in_loss")[i].item<int64_t>() != 0;
    s.advantage = advantages[i].item<float>();
  }
  return sequences;
}

class GrpoStepGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(GrpoStepGolden, OneUpdateMatchesTheReference) {
  absl::StatusOr<Golden> golden = LoadGolden();
  ASSERT_TRUE(golden.ok()) << golden.status();
  const Golden& g = *golden;
  const std::string name = GetParam();
  const auto option = [&](const char* key) { return g.Number(name + ".opt." + key); };

  absl::StatusOr<model::CausalLm> loaded_policy = LoadModel(g, "policy.");
  absl::StatusOr<model::CausalLm> loaded_reference = LoadModel(g, "reference.");
  ASSERT_TRUE(loaded_policy.ok()) << loaded_policy.status();
  ASSERT_TRUE(loaded_reference.ok()) << loaded_reference.status();
  model::CausalLm policy = *loaded_policy;
  model::CausalLm reference = *loaded_reference;
  for (auto& p : reference->parameters()) p.set_requires_grad(false);
  config::OptimizerConfig optimizer_config;
  optimizer_config.set_beta1(option("beta1"));
  optimizer_config.set_beta2(option("beta2"));
  optimizer_config.set_eps(option("eps"));
  optimizer_config.set_weight_decay(option("weight_decay"));
  auto optimizer = model::MakeAdamW(*policy, optimizer_config);

  GrpoUpdateOptions options;
  config::LossAggregation aggregation;
  ASSERT_TRUE(config::LossAggregation_Parse(g.file.metadata.at("case." + name + ".aggregation"), &aggregation));
  options.loss.aggregation = aggregation;
  options.loss.clip_eps_low = option("clip_eps_low");
  options.loss.clip_eps_high = option("clip_eps_high");
  options.loss.kl_coef = option("kl_coef");
  options.loss.kl_estimator = config::K3;
  options.loss.entropy_coef = option("entropy_coef");
  options.loss.sum_norm_tokens = option("sum_norm_tokens");
  options.temperature = option("temperature");
  options.updates = static_cast<int64_t>(option("updates"));
  options.micro_batch_size = static_cast<int64_t>(option("micro_batch_size"));
  options.lr = option("lr");
  options.grad_clip = option("grad_clip");
  options.pad_id = 0;  // never a real token in the golden sequences

  std::vector<Sequence> sequences = LoadSequences(g, name);
  const std::vector<Sequence> given = sequences;
  const StepStats stats = GrpoUpdate(*policy, reference.get(), *optimizer, sequences, options, /*dp=*/nullptr);

  EXPECT_EQ(stats.rounds_taken, static_cast<double>(options.updates));
  EXPECT_EQ(stats.rounds_skipped, 0);
  EXPECT_EQ(stats.trained_tokens, g.Number(name + ".tokens"));
  EXPECT_NEAR(stats.objective, g.Number(name + ".objective"), kObjectiveTolerance);
  const torch::Tensor norms = g.at(name + ".grad_norms");  // [updates]
  const double norm_mean = norms.mean().item<double>(), norm_max = norms.max().item<double>();
  EXPECT_NEAR(stats.grad_norm_sum / stats.rounds_taken, norm_mean, kGradNormTolerance * norm_mean);
  EXPECT_NEAR(stats.grad_norm_max, norm_max, kGradNormTolerance * norm_max);
  const double tokens = std::max(1.0, stats.trained_tokens);
  EXPECT_NEAR(stats.kl_sum / tokens, g.Number(name + ".kl"), kMetricTolerance);
  EXPECT_NEAR(stats.clip_fraction_sum / tokens, g.Number(name + ".clip_fraction"), kMetricTolerance);
  EXPECT_NEAR(stats.ratio_sum / tokens, g.Number(name + ".ratio_mean"), kMetricTolerance);
  EXPECT_NEAR(stats.entropy_sum / tokens, g.Number(name + ".entropy"), kMetricTolerance);

  int checked = 0;
  for (const auto& item : policy->named_parameters()) {
    const torch::Tensor expected = g.at(name + ".after." + item.key());
    const double diff = (item.value().detach().to(torch::kFloat64) - expected.to(torch::kFloat64)).abs().max().item<double>();
    EXPECT_LT(diff, kWeightTolerance) << item.key();
    ++checked;
  }
  int expected_weights = 0;
  for (const auto& [key, tensor] : g.file.tensors) expected_weights += absl::StartsWith(key, name + ".after.") ? 1 : 0;
  EXPECT_EQ(checked, expected_weights);
  EXPECT_GT(checked, 10);
  for (const auto& p : policy->parameters()) EXPECT_FALSE(p.grad().defined());  // cleared after the update
  for (size_t i = 0; i < given.size(); ++i) {  // rollout logprobs stay as given
    EXPECT_EQ(sequences[i].old_logprobs, given[i].old_logprobs) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, GrpoStepGolden, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(GrpoStepGolden, TheFileHoldsTheCasesTested) {
  // A regenerated file with another case list must not be half tested.
  absl::StatusOr<Golden> golden = LoadGolden();
  ASSERT_TRUE(golden.ok()) << golden.status();
  EXPECT_EQ(golden->file.metadata.at("cases"), absl::StrJoin(kCases, ","));
}

}  // namespace
}  // namespace r1::rl
