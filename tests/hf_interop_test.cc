// An outside check of export: Debian's python3-torch, through the independent
// reference (tests/golden/model_reference.py, which reads only standard
// Hugging Face config keys and tensor names), loads a folder r1 exported and
// computes logits that must equal r1's.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/test_support.h"
#include "model/causal_lm.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"

namespace r1::model {
namespace {

namespace fs = std::filesystem;

config::ModelConfig Config(config::ModelArch arch) {
  config::ModelConfig c = testing::SmallModelConfig(arch, 40);
  // Away from the defaults the reference would otherwise assume.
  if (arch == config::LLAMA) c.set_rope_theta(500000);
  if (arch == config::DEEPSEEK_V3) c.set_routed_scaling_factor(1.5);
  return c;
}

class HfInterop : public ::testing::TestWithParam<config::ModelArch> {};

TEST_P(HfInterop, IndependentPythonReferenceReproducesExportedLogits) {
  ASSERT_TRUE(fs::exists("/usr/bin/python3"));
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("r1_hf_", getpid(), "_", GetParam());
  fs::remove_all(dir);
  torch::manual_seed(11);
  CausalLm model = *MakeModel(Config(GetParam()));
  {
    // Away from the small default init, so a layout mistake shows.
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) {
      if (p.dim() == 2) p.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(p.size(1))));
    }
    for (auto& b : model->buffers()) b.normal_(0.0, 0.1);  // the MoE balancing bias
  }
  absl::StatusOr<Tokenizer> tokenizer = testing::TinyTokenizer((dir / "tok").string());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  ASSERT_TRUE(ExportHuggingFace((dir / "model").string(), *model, *tokenizer).ok());
  // The export is an r1 checkpoint (config.json carries r1_model_config) with
  // its manifest, so r1 loads it back under the strict checks.
  ASSERT_TRUE(fs::exists(dir / "model" / "manifest.json"));
  absl::StatusOr<CausalLm> back = LoadModel((dir / "model").string());
  ASSERT_TRUE(back.ok()) << back.status();

  const torch::Tensor tokens = torch::randint(0, 40, {2, 9}, torch::kInt64);
  std::vector<std::string> rows;
  for (int64_t b = 0; b < 2; ++b) {
    std::vector<int64_t> ids(tokens[b].data_ptr<int64_t>(), tokens[b].data_ptr<int64_t>() + 9);
    rows.push_back(absl::StrJoin(ids, " "));
  }
  const std::string out = (dir / "logits.safetensors").string();
  const std::string command = absl::StrCat("/usr/bin/python3 tests/golden/model_reference.py forward --model ",
                                           (dir / "model").string(), " --tokens '", absl::StrJoin(rows, ","),
                                           "' --out ", out);
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  absl::StatusOr<SafetensorsFile> reference = ReadSafetensors(out);
  ASSERT_TRUE(reference.ok()) << reference.status();
  torch::NoGradGuard no_grad;
  const torch::Tensor ours = model->Forward(tokens, nullptr, {}).logits;
  const torch::Tensor theirs = reference->tensors.at("logits");
  EXPECT_LT((ours - theirs).abs().max().item<double>(), 1e-4);
  EXPECT_TRUE(torch::equal((*back)->Forward(tokens, nullptr, {}).logits, ours));
  EXPECT_GT(ours.std().item<double>(), 0.1);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Export, HfInterop, ::testing::Values(config::LLAMA, config::DEEPSEEK_V3),
                         [](const auto& info) { return config::ModelArch_Name(info.param); });

}  // namespace
}  // namespace r1::model
