#include "model/checkpoint.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/test_support.h"
#include "model/lm_loss.h"
#include "model/optimizer.h"

namespace r1::model {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

config::ModelConfig SmallDeepSeek() {
  config::ModelConfig c = testing::SmallModelConfig(config::DEEPSEEK_V3, 48);
  c.set_bias_update_speed(0.01);  // large enough that two steps move the bias visibly
  return c;
}

config::ModelConfig SmallLlama() {
  config::ModelConfig c = testing::SmallModelConfig(config::LLAMA, 40);
  c.set_tie_embeddings(true);
  c.set_rope_theta(500000);
  return c;
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("r1_ckpt_", getpid(), "_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

// One training step of next-token loss; returns the loss.
double Step(CausalLmImpl& model, torch::optim::AdamW& optimizer, const torch::Tensor& tokens) {
  ClearGradients(model);
  ForwardOptions options;
  options.compute_mtp = true;
  options.record_expert_load = true;
  LmLoss loss = ComputeLmLoss(model.Forward(tokens, nullptr, options), tokens, model.config().mtp_loss_weight());
  loss.total.backward();
  optimizer.step();
  model.AfterOptimizerStep();
  return loss.total.item<double>();
}

TEST_F(CheckpointTest, ResumingFromACheckpointContinuesExactly) {
  torch::manual_seed(1);
  CausalLm model = *MakeModel(SmallDeepSeek());
  config::OptimizerConfig oc;
  oc.set_lr(1e-2);
  auto optimizer = MakeAdamW(*model, oc);
  const torch::Tensor tokens = torch::randint(0, 48, {2, 16}, torch::kInt64);
  Step(*model, *optimizer, tokens);
  Step(*model, *optimizer, tokens);

  TrainingState state;
  state.step = 2;
  state.data_cursor = 17;
  state.optimizer = OptimizerStateTensors(*model, *optimizer);
  state.extra["stage"] = "pretrain";
  ASSERT_TRUE(SaveCheckpoint(Path("ckpt"), *model, "", &state).ok());
  for (const char* file : {"config.json", "model.safetensors", "training_state.safetensors", "manifest.json"}) {
    EXPECT_TRUE(fs::exists(Path(absl::StrCat("ckpt/", file)))) << file;
  }

  absl::StatusOr<CausalLm> loaded = LoadModel(Path("ckpt"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  absl::StatusOr<TrainingState> loaded_state = LoadTrainingState(Path("ckpt"));
  ASSERT_TRUE(loaded_state.ok()) << loaded_state.status();
  EXPECT_EQ(loaded_state->step, 2);
  EXPECT_EQ(loaded_state->data_cursor, 17);
  EXPECT_EQ(loaded_state->extra.at("stage"), "pretrain");
  auto resumed_optimizer = MakeAdamW(**loaded, oc);
  ASSERT_TRUE(RestoreOptimizerState(**loaded, *resumed_optimizer, loaded_state->optimizer).ok());
  // The MoE balancing bias is part of the weights file.
  for (const auto& [name, tensor] : NamedTensors(*model)) {
    bool found = false;
    for (const auto& [other_name, other] : NamedTensors(**loaded)) {
      if (other_name == name) {
        EXPECT_TRUE(torch::equal(tensor, other)) << name;
        found = true;
      }
    }
    EXPECT_TRUE(found) << name;
  }
  // Both continue with identical losses.
  for (int i = 0; i < 2; ++i) {
    EXPECT_DOUBLE_EQ(Step(*model, *optimizer, tokens), Step(**loaded, *resumed_optimizer, tokens));
  }
}

TEST_F(CheckpointTest, CorruptedOrTruncatedFilesAreRefused) {
  torch::manual_seed(2);
  CausalLm model = *MakeModel(SmallLlama());
  ASSERT_TRUE(SaveCheckpoint(Path("ckpt"), *model, "", nullptr).ok());
  const std::string weights = Path("ckpt/model.safetensors");
  std::string bytes = *ReadFile(weights);

  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x01;  // one bit inside the tensor data
  ASSERT_TRUE(WriteFileAtomically(weights, flipped).ok());
  absl::StatusOr<CausalLm> corrupt = LoadModel(Path("ckpt"));
  ASSERT_FALSE(corrupt.ok());
  EXPECT_EQ(corrupt.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(corrupt.status().message()), HasSubstr("model.safetensors fails its CRC-32C check"));

  ASSERT_TRUE(WriteFileAtomically(weights, bytes.substr(0, bytes.size() - 100)).ok());
  absl::StatusOr<CausalLm> truncated = LoadModel(Path("ckpt"));
  ASSERT_FALSE(truncated.ok());
  EXPECT_THAT(std::string(truncated.status().message()), HasSubstr("truncated"));

  fs::remove(weights);
  EXPECT_THAT(std::string(LoadModel(Path("ckpt")).status().message()), HasSubstr("incomplete"));
  EXPECT_EQ(LoadModel(Path("nothing")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CheckpointTest, ConfigJsonRoundTripsAndImportsFromHuggingFaceKeys) {
  for (const config::ModelConfig& c : {SmallDeepSeek(), SmallLlama()}) {
    const std::string json = ModelConfigToJson(c, 1, 2, 3);
    absl::StatusOr<config::ModelConfig> exact = ModelConfigFromJson(json, "config.json");
    ASSERT_TRUE(exact.ok()) << exact.status();
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*exact, c));

    // Without r1's own key, the standard keys alone give the same model.
    google::protobuf::Struct root;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &root).ok());
    ASSERT_EQ(root.mutable_fields()->erase("r1_model_config"), 1u);
    std::string hf;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(root, &hf).ok());
    absl::StatusOr<config::ModelConfig> imported = ModelConfigFromJson(hf, "config.json");
    ASSERT_TRUE(imported.ok()) << imported.status() << hf;
    EXPECT_EQ(imported->arch(), c.arch());
    EXPECT_EQ(imported->n_kv_heads(), c.n_kv_heads());
    EXPECT_EQ(imported->kv_lora_rank(), c.kv_lora_rank());
    EXPECT_EQ(imported->n_activated_experts(), c.n_activated_experts());
    EXPECT_EQ(imported->tie_embeddings(), c.tie_embeddings());
    EXPECT_DOUBLE_EQ(imported->rope_theta(), c.rope_theta());
  }
  EXPECT_THAT(std::string(ModelConfigFromJson("{\"model_type\": \"gpt2\"}", "c.json").status().message()),
              HasSubstr("model_type \"gpt2\" is not supported"));
  EXPECT_THAT(std::string(ModelConfigFromJson("{\"model_type\": \"llama\"}", "c.json").status().message()),
              HasSubstr("c.json has no \"vocab_size\""));
  EXPECT_FALSE(ModelConfigFromJson("not json", "c.json").ok());
}

TEST_F(CheckpointTest, ExportedFolderHasTheHuggingFaceFilesAndLoadsBack) {
  torch::manual_seed(3);
  CausalLm model = *MakeModel(SmallLlama());
  EXPECT_FALSE(ExportHuggingFace(Path("hf"), *model, "").ok());  // the tokenizer is part of a model
  absl::StatusOr<std::string> tokenizer = testing::TrainTinyTokenizer(Path("tok"), 40);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  ASSERT_TRUE(ExportHuggingFace(Path("hf"), *model, *tokenizer).ok());
  for (const char* file : {"config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json",
                           "generation_config.json"}) {
    EXPECT_TRUE(fs::exists(Path(absl::StrCat("hf/", file)))) << file;
  }
  EXPECT_FALSE(fs::exists(Path("hf/training_state.safetensors")));
  EXPECT_THAT(*ReadFile(Path("hf/config.json")), HasSubstr("\"LlamaForCausalLM\""));
  absl::StatusOr<CausalLm> back = LoadModel(Path("hf"));
  ASSERT_TRUE(back.ok()) << back.status();
  torch::NoGradGuard no_grad;
  EXPECT_THAT(*ReadFile(Path("hf/generation_config.json")), HasSubstr("\"eos_token_id\": 2"));
  EXPECT_THAT(*ReadFile(Path("hf/tokenizer_config.json")), HasSubstr("\"<think>\""));
  const torch::Tensor tokens = torch::randint(0, 40, {1, 8}, torch::kInt64);
  EXPECT_TRUE(torch::equal(model->Forward(tokens, nullptr, {}).logits, (*back)->Forward(tokens, nullptr, {}).logits));
}

TEST_F(CheckpointTest, LatestSkipsUnfinishedFoldersAndPruneKeepsTheNewest) {
  torch::manual_seed(4);
  CausalLm model = *MakeModel(SmallLlama());
  for (int step : {10, 20, 30}) ASSERT_TRUE(SaveCheckpoint(CheckpointDir(Path("ckpts"), step), *model, "", nullptr).ok());
  fs::create_directories(Path("ckpts/step_00000040.tmp.99"));  // an interrupted save
  EXPECT_EQ(*LatestCheckpoint(Path("ckpts")), CheckpointDir(Path("ckpts"), 30));
  ASSERT_TRUE(PruneCheckpoints(Path("ckpts"), 2).ok());
  EXPECT_FALSE(fs::exists(CheckpointDir(Path("ckpts"), 10)));
  EXPECT_TRUE(fs::exists(CheckpointDir(Path("ckpts"), 20)));
  EXPECT_EQ(LatestCheckpoint(Path("empty")).status().code(), absl::StatusCode::kNotFound);
  // A save that fails leaves no folder behind.
  ASSERT_TRUE(WriteFileAtomically(Path("file"), "x").ok());
  EXPECT_FALSE(SaveCheckpoint(Path("file/sub"), *model, "", nullptr).ok());
}

TEST(LearningRate, WarmsUpLinearlyThenDecaysToTheFloor) {
  config::OptimizerConfig c;
  c.set_lr(1.0);
  c.set_warmup_steps(10);
  c.set_min_lr_ratio(0.1);
  EXPECT_DOUBLE_EQ(LearningRate(c, 0, 110), 0.1);
  EXPECT_DOUBLE_EQ(LearningRate(c, 9, 110), 1.0);
  EXPECT_DOUBLE_EQ(LearningRate(c, 10, 110), 1.0);
  EXPECT_NEAR(LearningRate(c, 60, 110), 0.55, 1e-12);  // half way down the cosine
  EXPECT_NEAR(LearningRate(c, 110, 110), 0.1, 1e-12);
  EXPECT_NEAR(LearningRate(c, 500, 110), 0.1, 1e-12);
}

}  // namespace
}  // namespace r1::model
