// The models against an independent PyTorch implementation
// (tests/golden/model_reference.py, written from the specification, not from
// this code): logits, MTP logits, every loss term, the gradient of every
// weight, and the losses of three AdamW steps.
#include <google/protobuf/util/json_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "model/causal_lm.h"
#include "model/lm_loss.h"
#include "model/safetensors.h"

namespace r1::model {
namespace {

// Float32 here against float64 there: the reference author measured float32
// reruns within about 5e-6 (logits) and 4e-6 (gradients, relative to each
// tensor's largest entry).
constexpr double kLogitTolerance = 1e-4;
constexpr double kGradTolerance = 1e-4;

struct Golden {
  CausalLm model;
  std::map<std::string, torch::Tensor> expected;  // golden.* tensors
};

Golden Load(const std::string& name) {
  const std::string path = absl::StrCat("tests/golden/", name, ".safetensors");
  absl::StatusOr<SafetensorsFile> file = ReadSafetensors(path);
  EXPECT_TRUE(file.ok()) << file.status();
  config::ModelConfig config;
  const auto parsed = google::protobuf::util::JsonStringToMessage(file->metadata.at("config"), &config);
  EXPECT_TRUE(parsed.ok()) << parsed.message();
  absl::StatusOr<CausalLm> model = MakeModel(config);
  EXPECT_TRUE(model.ok()) << model.status();
  Golden golden{*model, {}};
  std::map<std::string, torch::Tensor> weights;
  for (auto& [key, tensor] : file->tensors) {
    (absl::StartsWith(key, "golden.") ? golden.expected : weights)[key] = tensor;
  }
  absl::Status loaded = LoadTensors(*golden.model, weights, path);
  EXPECT_TRUE(loaded.ok()) << loaded;
  return golden;
}

double MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

class GoldenModel : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenModel, ForwardLossesGradientsAndAdamWMatchTheReference) {
  Golden g = Load(GetParam());
  CausalLmImpl& model = *g.model;
  const torch::Tensor tokens = g.expected.at("golden.tokens");
  ForwardOptions options;
  options.compute_mtp = true;
  options.compute_aux_loss = true;
  const auto loss_of = [&]() {
    const ForwardResult forward = model.Forward(tokens, nullptr, options);
    return std::make_pair(forward, ComputeLmLoss(forward, tokens, model.config().mtp_loss_weight()));
  };

  auto [forward, loss] = loss_of();
  EXPECT_LT(MaxAbsDiff(forward.logits, g.expected.at("golden.logits")), kLogitTolerance);
  ASSERT_EQ(static_cast<int>(forward.mtp_logits.size()), model.config().n_mtp_modules());
  for (size_t k = 1; k <= forward.mtp_logits.size(); ++k) {
    EXPECT_LT(MaxAbsDiff(forward.mtp_logits[k - 1], g.expected.at(absl::StrCat("golden.mtp_logits.", k))),
              kLogitTolerance) << "MTP module " << k;
  }
  EXPECT_NEAR(loss.total.item<double>(), g.expected.at("golden.loss").item<double>(), 1e-4);
  if (g.expected.count("golden.main_loss")) {
    EXPECT_NEAR(loss.main.item<double>(), g.expected.at("golden.main_loss").item<double>(), 1e-4);
    EXPECT_NEAR(loss.mtp.item<double>(), g.expected.at("golden.mtp_loss").item<double>(), 1e-4);
    EXPECT_NEAR(loss.aux.item<double>(), g.expected.at("golden.aux_loss").item<double>(), 1e-5);
  }

  loss.total.backward();
  int checked = 0;
  for (const auto& item : model.named_parameters()) {
    const std::string key = absl::StrCat("golden.grad.", item.key());
    ASSERT_TRUE(g.expected.count(key)) << key;
    ASSERT_TRUE(item.value().grad().defined()) << item.key() << " got no gradient";
    const torch::Tensor expected = g.expected.at(key);
    const double scale = std::max(1e-3, expected.abs().max().item<double>());
    EXPECT_LT(MaxAbsDiff(item.value().grad(), expected) / scale, kGradTolerance) << item.key();
    ++checked;
  }
  EXPECT_GT(checked, 10);

  torch::optim::AdamW optimizer(model.parameters(),
                                torch::optim::AdamWOptions(1e-2).betas({0.9, 0.95}).eps(1e-8).weight_decay(0.1));
  const torch::Tensor expected_losses = g.expected.at("golden.adamw_losses");
  for (int64_t step = 0; step < 4; ++step) {
    optimizer.zero_grad();
    LmLoss l = loss_of().second;
    // Later steps amplify float32 rounding; the reference measured 2.4e-5.
    EXPECT_NEAR(l.total.item<double>(), expected_losses[step].item<double>(), 2e-4) << "before step " << step + 1;
    if (step < 3) {
      l.total.backward();
      optimizer.step();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, GoldenModel,
                         ::testing::Values("deepseek_a", "deepseek_b", "llama_a", "llama_b"));

TEST(GoldenModel, AMixedUpRopeLayoutIsCaught) {
  // DeepSeek weights rotate adjacent pairs, Llama weights the two halves. Load
  // Llama weights into a model whose layout is wrong by permuting q/k rows
  // into the other layout: the logits must no longer match.
  Golden g = Load("llama_a");
  CausalLmImpl& model = *g.model;
  const torch::Tensor tokens = g.expected.at("golden.tokens");
  torch::NoGradGuard no_grad;
  ASSERT_LT(MaxAbsDiff(model.Forward(tokens, nullptr, {}).logits, g.expected.at("golden.logits")), kLogitTolerance);
  const int64_t head_dim = model.config().dim() / model.config().n_heads();
  // Half layout -> interleaved layout within each head: [a0..a3, b0..b3] -> [a0 b0 a1 b1 ...].
  const torch::Tensor perm = torch::arange(head_dim).view({2, head_dim / 2}).t().reshape({-1});
  for (auto& item : model.named_parameters()) {
    if (!absl::EndsWith(item.key(), "q_proj.weight") && !absl::EndsWith(item.key(), "k_proj.weight")) continue;
    torch::Tensor w = item.value();
    const int64_t heads = w.size(0) / head_dim;
    w.copy_(w.view({heads, head_dim, -1}).index_select(1, perm).reshape(w.sizes()));
  }
  EXPECT_GT(MaxAbsDiff(model.Forward(tokens, nullptr, {}).logits, g.expected.at("golden.logits")), 1e-2);
}

TEST(LoadTensors, RefusesMissingExtraAndMisshapenTensors) {
  Golden g = Load("llama_b");
  std::map<std::string, torch::Tensor> weights;
  for (const auto& [name, tensor] : NamedTensors(*g.model)) weights[name] = tensor.detach().clone();
  std::map<std::string, torch::Tensor> missing = weights;
  missing.erase("model.norm.weight");
  EXPECT_THAT(std::string(LoadTensors(*g.model, missing, "f").message()), ::testing::HasSubstr("no tensor model.norm.weight"));
  std::map<std::string, torch::Tensor> extra = weights;
  extra["lm_head.weight"] = torch::zeros({64, 32});
  EXPECT_THAT(std::string(LoadTensors(*g.model, extra, "f").message()), ::testing::HasSubstr("lm_head.weight that the model does not"));
  std::map<std::string, torch::Tensor> misshapen = weights;
  misshapen["model.norm.weight"] = torch::zeros({31});
  EXPECT_THAT(std::string(LoadTensors(*g.model, misshapen, "f").message()), ::testing::HasSubstr("shape [31], the model expects [32]"));
}

// Handed-over tensors of the parameter's dtype become the parameters (no
// copy); one of another dtype is converted and copied; the model then
// computes the reference logits (DeepSeek: MLA, MoE with its bias buffer).
TEST(AdoptTensors, TensorsOfTheParametersDtypeBecomeTheParameters) {
  for (const std::string name : {"deepseek_b", "llama_b"}) {
    Golden g = Load(name);
    absl::StatusOr<CausalLm> fresh = MakeModel(g.model->config());
    ASSERT_TRUE(fresh.ok()) << fresh.status();
    std::map<std::string, torch::Tensor> weights;
    for (const auto& [key, tensor] : NamedTensors(*g.model)) weights[key] = tensor.detach().clone();
    const std::string converted = "model.norm.weight";
    weights[converted] = weights[converted].to(torch::kFloat64);
    const std::map<std::string, torch::Tensor> handed = weights;  // same tensors, to compare pointers
    ASSERT_TRUE(AdoptTensors(**fresh, weights, name).ok());
    for (const auto& [key, tensor] : NamedTensors(**fresh)) {
      if (key == converted) {
        EXPECT_NE(tensor.data_ptr(), handed.at(key).data_ptr()) << key;
        EXPECT_EQ(tensor.scalar_type(), torch::kFloat32);
      } else {
        EXPECT_EQ(tensor.data_ptr(), handed.at(key).data_ptr()) << key;
      }
    }
    const torch::Tensor tokens = g.expected.at("golden.tokens");
    EXPECT_LT(MaxAbsDiff((*fresh)->Forward(tokens, nullptr, {}).logits, g.expected.at("golden.logits")),
              kLogitTolerance)
        << name;
    // LoadTensors copies: the model's storage stays its own.
    absl::StatusOr<CausalLm> copied = MakeModel(g.model->config());
    ASSERT_TRUE(copied.ok());
    ASSERT_TRUE(LoadTensors(**copied, handed, name).ok());
    for (const auto& [key, tensor] : NamedTensors(**copied)) EXPECT_NE(tensor.data_ptr(), handed.at(key).data_ptr());
  }
}

}  // namespace
}  // namespace r1::model
