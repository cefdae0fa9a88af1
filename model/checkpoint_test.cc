#include "model/checkpoint.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/file_util.h"
#include "common/test_support.h"
#include "model/lm_loss.h"
#include "model/optimizer.h"
#include "model/safetensors.h"

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


// Every NaN and infinity, wherever it sits (inside the vectorized groups of
// 64 values or in the tail after them), and nothing else: against LibTorch's
// isfinite, for each weight dtype, through both overloads.
TEST(CountNonFinite, CountsExactlyTheNanAndInfValues) {
  for (torch::Dtype dtype : {torch::kFloat32, torch::kBFloat16, torch::kFloat16, torch::kFloat64}) {
    for (int64_t n : {0, 1, 63, 64, 65, 200, 1000}) {
      torch::Tensor t = torch::randn({n}, torch::kFloat64).mul_(1e3).to(dtype);
      // The largest finite value: all exponent bits but one set.
      const double largest = dtype == torch::kFloat32    ? std::numeric_limits<float>::max()
                             : dtype == torch::kBFloat16 ? 3.3895313892515355e38
                             : dtype == torch::kFloat16  ? 65504.0
                                                         : std::numeric_limits<double>::max();
      if (n > 0) t[0] = largest;
      for (int64_t at : {int64_t{1}, int64_t{63}, int64_t{64}, n - 1}) {
        if (at > 0 && at < n) t[at] = std::numeric_limits<double>::quiet_NaN();
      }
      if (n > 130) t[130] = -std::numeric_limits<double>::infinity();
      if (n > 199) t[199] = std::numeric_limits<double>::infinity();
      const int64_t want = torch::isfinite(t).logical_not().sum().item<int64_t>();
      EXPECT_EQ(CountNonFinite(t), want) << dtype << " " << n;
      EXPECT_EQ(CountNonFinite(t.data_ptr(), t.numel(), dtype), want) << dtype << " " << n;
      if (n == 1000) EXPECT_EQ(want, 6) << dtype;  // the test places what it means to
    }
  }
  const torch::Tensor ints = torch::full({100}, -1, torch::kInt32);  // all exponent bits set, yet integers
  EXPECT_EQ(CountNonFinite(ints), 0);
  EXPECT_EQ(CountNonFinite(ints.data_ptr(), 100, torch::kInt32), 0);
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
  ASSERT_TRUE(SaveCheckpoint(Path("ckpt"), *model, nullptr, &state).ok());
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
  ASSERT_TRUE(SaveCheckpoint(Path("ckpt"), *model, nullptr, nullptr).ok());
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
  absl::StatusOr<Tokenizer> tokenizer = testing::TinyTokenizer(Path("tok"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  ASSERT_TRUE(ExportHuggingFace(Path("hf"), *model, *tokenizer).ok());
  for (const char* file : {"config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json",
                           "generation_config.json"}) {
    EXPECT_TRUE(fs::exists(Path(absl::StrCat("hf/", file)))) << file;
  }
  EXPECT_FALSE(fs::exists(Path("hf/training_state.safetensors")));
  // config.json carries r1_model_config, so the export is an r1 checkpoint:
  // its manifest is what lets it load back.
  EXPECT_TRUE(fs::exists(Path("hf/manifest.json")));
  EXPECT_THAT(*ReadFile(Path("hf/config.json")), HasSubstr("\"r1_model_config\""));
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
  for (int step : {10, 20, 30}) ASSERT_TRUE(SaveCheckpoint(CheckpointDir(Path("ckpts"), step), *model, nullptr, nullptr).ok());
  fs::create_directories(Path("ckpts/step_00000040.tmp.99"));  // an interrupted save
  EXPECT_EQ(*LatestCheckpoint(Path("ckpts")), CheckpointDir(Path("ckpts"), 30));
  ASSERT_TRUE(PruneCheckpoints(Path("ckpts"), 2).ok());
  EXPECT_FALSE(fs::exists(CheckpointDir(Path("ckpts"), 10)));
  EXPECT_TRUE(fs::exists(CheckpointDir(Path("ckpts"), 20)));
  EXPECT_EQ(LatestCheckpoint(Path("empty")).status().code(), absl::StatusCode::kNotFound);
  // A save that fails leaves no folder behind.
  ASSERT_TRUE(WriteFileAtomically(Path("file"), "x").ok());
  EXPECT_FALSE(SaveCheckpoint(Path("file/sub"), *model, nullptr, nullptr).ok());
}

// A folder as another tool writes it: config.json with the standard keys
// only (no "r1_model_config"), model.safetensors, no manifest.
void WriteHuggingFaceFolder(const std::string& dir, const config::ModelConfig& c,
                            const std::vector<std::pair<std::string, torch::Tensor>>& tensors) {
  fs::create_directories(dir);
  google::protobuf::Struct root;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ModelConfigToJson(c, 1, 2, 0), &root).ok());
  ASSERT_EQ(root.mutable_fields()->erase("r1_model_config"), 1u);
  ASSERT_EQ(root.mutable_fields()->erase("r1_format_version"), 1u);
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(root, &json).ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/config.json", json).ok());
  ASSERT_TRUE(WriteSafetensors(dir + "/model.safetensors", tensors).ok());
}

// NamedTensors with one tensor's first value replaced.
std::vector<std::pair<std::string, torch::Tensor>> WithValue(CausalLmImpl& model, const std::string& name,
                                                             double value) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& [n, t] : NamedTensors(model)) {
    torch::Tensor copy = t.detach().clone();
    if (n == name) copy.view({-1})[0] = value;
    tensors.emplace_back(n, copy);
  }
  return tensors;
}

torch::Tensor Logits(CausalLmImpl& model) {
  torch::NoGradGuard no_grad;
  return model.Forward(torch::arange(8, torch::kInt64).view({1, 8}), nullptr, {}).logits;
}

TEST_F(CheckpointTest, R1CheckpointWithoutItsManifestIsRefusedAPlainHuggingFaceFolderLoads) {
  torch::manual_seed(5);
  CausalLm model = *MakeModel(SmallLlama());
  TrainingState state;
  state.step = 3;
  ASSERT_TRUE(SaveCheckpoint(Path("ckpt"), *model, nullptr, &state).ok());
  {
    // Weights of 1e30 are finite: only the manifest would have caught this.
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.fill_(1e30);
  }
  ASSERT_TRUE(WriteSafetensors(Path("ckpt/model.safetensors"), NamedTensors(*model)).ok());
  EXPECT_EQ(LoadModel(Path("ckpt")).status().code(), absl::StatusCode::kDataLoss);  // the CRC catches it
  fs::remove(Path("ckpt/manifest.json"));

  const absl::Status refused = LoadModel(Path("ckpt")).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(refused.message()), HasSubstr(absl::StrCat("checkpoint ", Path("ckpt"), " has no manifest.json")));
  EXPECT_THAT(std::string(refused.message()), HasSubstr("r1_model_config"));
  for (const absl::Status& s : {LoadTrainingState(Path("ckpt")).status(), RestoreWeights(Path("ckpt"), *model)}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat(Path("ckpt"), " has no manifest.json")));
  }

  // The same weights as a deliberately imported Hugging Face folder: no
  // r1_model_config, so no manifest is expected, and 1e30 is not judged.
  WriteHuggingFaceFolder(Path("hf"), model->config(), NamedTensors(*model));
  absl::StatusOr<CausalLm> imported = LoadModel(Path("hf"));
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_TRUE(torch::equal(NamedTensors(**imported)[0].second, NamedTensors(*model)[0].second));
}

TEST_F(CheckpointTest, SaveWritesTheFormatVersion) {
  torch::manual_seed(7);
  CausalLm model = *MakeModel(SmallLlama());
  ASSERT_TRUE(SaveCheckpoint(Path("ckpt"), *model, nullptr, nullptr).ok());
  google::protobuf::Struct root;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*ReadFile(Path("ckpt/config.json")), &root).ok());
  ASSERT_TRUE(root.fields().contains("r1_format_version"));
  EXPECT_EQ(root.fields().at("r1_format_version").number_value(), kCheckpointFormatVersion);
  EXPECT_EQ(kCheckpointFormatVersion, 1);
}

// An export whose config.json `edit` changed before the manifest was written:
// every checksum matches, so only the format version can refuse it.
void ExportWithEditedConfig(const std::string& dir, CausalLmImpl& model, const Tokenizer& tokenizer,
                            const std::function<void(google::protobuf::Struct&)>& edit) {
  const absl::Status exported = ExportHuggingFace(dir, model, tokenizer, [&](const std::string& folder) {
    google::protobuf::Struct root;
    if (!google::protobuf::util::JsonStringToMessage(*ReadFile(folder + "/config.json"), &root).ok()) {
      return absl::InternalError("config.json does not parse");
    }
    edit(root);
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(root, &json);
    return WriteFileAtomically(folder + "/config.json", json);
  });
  ASSERT_TRUE(exported.ok()) << exported;
}

TEST_F(CheckpointTest, AnotherFormatVersionIsRefusedNamingTheFolderAndBothVersions) {
  torch::manual_seed(8);
  CausalLm model = *MakeModel(SmallLlama());
  absl::StatusOr<Tokenizer> tokenizer = testing::TinyTokenizer(Path("tok"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  for (int version : {kCheckpointFormatVersion + 1, kCheckpointFormatVersion - 1}) {
    const std::string dir = Path(absl::StrCat("v", version));
    ExportWithEditedConfig(dir, *model, *tokenizer, [&](google::protobuf::Struct& root) {
      (*root.mutable_fields())["r1_format_version"].set_number_value(version);
    });
    for (const absl::Status& s : {LoadModel(dir).status(), RestoreWeights(dir, *model), LoadTrainingState(dir).status()}) {
      EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
      EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat("checkpoint ", dir, " has format version ", version)));
      EXPECT_THAT(std::string(s.message()),
                  HasSubstr(absl::StrCat("this r1 supports format version ", kCheckpointFormatVersion, " only")));
      EXPECT_THAT(std::string(s.message()), HasSubstr(version > kCheckpointFormatVersion ? "a newer r1" : "an older r1"));
    }
  }
  ExportWithEditedConfig(Path("fraction"), *model, *tokenizer, [](google::protobuf::Struct& root) {
    (*root.mutable_fields())["r1_format_version"].set_number_value(1.5);
  });
  const absl::Status fraction = LoadModel(Path("fraction")).status();
  EXPECT_EQ(fraction.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(fraction.message()), HasSubstr("\"r1_format_version\" is not an integer"));
}

// Checkpoints written before the key existed are version 1.
TEST_F(CheckpointTest, CheckpointWithoutFormatVersionLoadsAsVersionOne) {
  torch::manual_seed(9);
  CausalLm model = *MakeModel(SmallLlama());
  absl::StatusOr<Tokenizer> tokenizer = testing::TinyTokenizer(Path("tok"));
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  ExportWithEditedConfig(Path("old"), *model, *tokenizer, [](google::protobuf::Struct& root) {
    ASSERT_EQ(root.mutable_fields()->erase("r1_format_version"), 1u);
  });
  absl::StatusOr<CausalLm> loaded = LoadModel(Path("old"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(RestoreWeights(Path("old"), **loaded).ok());
  EXPECT_TRUE(torch::equal(Logits(*model), Logits(**loaded)));
}

TEST_F(CheckpointTest, NonFiniteWeightsAreRefusedNamingTheTensor) {
  torch::manual_seed(6);
  CausalLm model = *MakeModel(SmallLlama());
  const std::string name = "model.layers.1.mlp.down_proj.weight";
  for (double bad : {std::nan(""), std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}) {
    fs::remove_all(Path("hf"));
    WriteHuggingFaceFolder(Path("hf"), model->config(), WithValue(*model, name, bad));
    const absl::Status s = LoadModel(Path("hf")).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat(Path("hf/model.safetensors"), ": tensor ", name,
                                                                 " is not finite: 1 of its 1536 values are NaN")));
  }
  fs::remove_all(Path("hf"));
  WriteHuggingFaceFolder(Path("hf"), model->config(), WithValue(*model, name, 1e30));
  EXPECT_TRUE(LoadModel(Path("hf")).ok());

  // An r1 checkpoint whose manifest matches (the NaN was saved) is refused
  // too, through every way in, and in bfloat16 as in float32.
  config::ModelConfig bf16 = SmallDeepSeek();
  bf16.set_dtype(config::BFLOAT16);
  for (const config::ModelConfig& c : {SmallLlama(), bf16}) {
    CausalLm saved = *MakeModel(c);
    {
      torch::NoGradGuard no_grad;
      saved->named_parameters()["model.norm.weight"].view({-1})[7] = std::nan("");
    }
    ASSERT_TRUE(SaveCheckpoint(Path("nan"), *saved, nullptr, nullptr).ok());
    // RestoreWeights into a model of the same config: names and shapes are
    // checked first, so another layout would be refused for its shapes.
    CausalLm target = *MakeModel(c);
    for (const absl::Status& s : {LoadModel(Path("nan")).status(), RestoreWeights(Path("nan"), *target)}) {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(std::string(s.message()), HasSubstr("tensor model.norm.weight is not finite: 1 of its 32 values"));
    }
  }
}

TEST_F(CheckpointTest, ShardedFolderLoadsButShardNamesOutsideTheFolderAreRefused) {
  torch::manual_seed(7);
  CausalLm model = *MakeModel(SmallLlama());
  WriteHuggingFaceFolder(Path("hf"), model->config(), {});
  fs::remove(Path("hf/model.safetensors"));
  const auto all = NamedTensors(*model);
  const std::vector<std::pair<std::string, torch::Tensor>> first(all.begin(), all.begin() + all.size() / 2);
  const std::vector<std::pair<std::string, torch::Tensor>> second(all.begin() + all.size() / 2, all.end());
  ASSERT_TRUE(WriteSafetensors(Path("hf/model-00001-of-00002.safetensors"), first).ok());
  ASSERT_TRUE(WriteSafetensors(Path("hf/model-00002-of-00002.safetensors"), second).ok());
  ASSERT_TRUE(WriteSafetensors(Path("outside.safetensors"), second).ok());
  ASSERT_TRUE(WriteSafetensors(Path("hf/copy.safetensors"), second).ok());
  // The index maps the first half to shard 1 and the second half to `shard`.
  const auto write_index = [&](const std::string& shard) {
    std::string map;
    for (const auto& [name, t] : first) absl::StrAppend(&map, "\"", name, "\": \"model-00001-of-00002.safetensors\",");
    const std::string escaped = absl::StrReplaceAll(shard, {{"\\", "\\\\"}});  // as JSON
    for (const auto& [name, t] : second) absl::StrAppend(&map, "\"", name, "\": \"", escaped, "\",");
    map.pop_back();
    ASSERT_TRUE(WriteFileAtomically(Path("hf/model.safetensors.index.json"),
                                    absl::StrCat("{\"metadata\": {}, \"weight_map\": {", map, "}}")).ok());
  };
  write_index("model-00002-of-00002.safetensors");
  absl::StatusOr<CausalLm> loaded = LoadModel(Path("hf"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(torch::equal(Logits(*model), Logits(**loaded)));

  for (const std::string& shard : {std::string("../outside.safetensors"), Path("outside.safetensors"),
                                   std::string("sub/x.safetensors"), std::string("..\\outside.safetensors"),
                                   std::string(".."), std::string("")}) {
    write_index(shard);
    const absl::Status s = LoadModel(Path("hf")).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << shard;
    EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat("names shard \"", shard,
                                                                 "\", which is not a plain file name in the folder")));
    EXPECT_THAT(std::string(s.message()), HasSubstr(Path("hf/model.safetensors.index.json")));
  }
  write_index("missing.safetensors");
  EXPECT_EQ(LoadModel(Path("hf")).status().code(), absl::StatusCode::kNotFound);
  // A tensor in two shards (copy.safetensors repeats shard 2): which copy
  // would win is arbitrary.
  write_index("model-00002-of-00002.safetensors");
  std::string index = *ReadFile(Path("hf/model.safetensors.index.json"));
  const std::string map_start = "\"weight_map\": {";
  index.insert(index.find(map_start) + map_start.size(), "\"other\": \"copy.safetensors\", ");
  ASSERT_TRUE(WriteFileAtomically(Path("hf/model.safetensors.index.json"), index).ok());
  const std::string message(LoadModel(Path("hf")).status().message());
  EXPECT_THAT(message, HasSubstr(" is in both "));
  EXPECT_THAT(message, HasSubstr(Path("hf/copy.safetensors")));
}

TEST_F(CheckpointTest, ConfigTheWeightFilesCannotFillIsRefusedBeforeBuildingTheModel) {
  torch::manual_seed(8);
  CausalLm model = *MakeModel(SmallLlama());
  const auto refused = [&](const config::ModelConfig& c) {
    fs::remove_all(Path("hf"));
    WriteHuggingFaceFolder(Path("hf"), c, NamedTensors(*model));  // the small model's weights
    return LoadModel(Path("hf")).status();
  };
  // Out of any bound: refused naming config.json and the field.
  config::ModelConfig huge = SmallLlama();
  huge.set_dim(1000000);
  absl::Status s = refused(huge);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr(Path("hf/config.json")));
  EXPECT_THAT(std::string(s.message()), HasSubstr("dim"));
  // Within the bounds a config may have, but far more than the 1.7e4-value
  // files hold: refused from the headers, before 1.9e8 values are allocated.
  config::ModelConfig wide = SmallLlama();
  wide.set_dim(2048);
  wide.set_ffn_hidden_dim(5632);
  wide.set_n_layers(4);
  s = refused(wide);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(absl::StrFormat("%s describes a model of %.0f values (dim 2048, 4 layers, vocab_size 40) but "
                                        "its weight files hold %d",
                                        Path("hf/config.json"), ModelTensorElements(wide),
                                        static_cast<int>(ModelTensorElements(SmallLlama())))));
  // One layer more than the files hold is refused the same way.
  config::ModelConfig deeper = SmallLlama();
  deeper.set_n_layers(3);
  EXPECT_THAT(std::string(refused(deeper).message()), HasSubstr("does not match the weights"));
}

TEST(ModelTensorElements, CountsEveryTensorOfTheBuiltModel) {
  std::vector<config::ModelConfig> configs = {SmallLlama(), SmallDeepSeek()};
  config::ModelConfig untied = SmallLlama();
  untied.set_tie_embeddings(false);
  untied.set_n_kv_heads(1);
  configs.push_back(untied);
  config::ModelConfig full_rank = SmallDeepSeek();
  full_rank.set_q_lora_rank(0);
  full_rank.set_n_shared_experts(0);
  full_rank.set_n_mtp_modules(2);
  full_rank.set_n_dense_layers(0);
  configs.push_back(full_rank);
  config::ModelConfig dense = SmallDeepSeek();
  dense.set_n_dense_layers(3);
  dense.set_n_mtp_modules(0);
  dense.set_n_shared_experts(2);
  configs.push_back(dense);
  for (const config::ModelConfig& c : configs) {
    CausalLm model = *MakeModel(c);
    double count = 0;
    for (const auto& [name, tensor] : NamedTensors(*model)) count += static_cast<double>(tensor.numel());
    EXPECT_EQ(ModelTensorElements(c), count) << c.DebugString();
  }
}

TEST_F(CheckpointTest, DamagedWeightFilesAreRefusedAtLoad) {
  torch::manual_seed(9);
  CausalLm model = *MakeModel(SmallLlama());
  WriteHuggingFaceFolder(Path("hf"), model->config(), NamedTensors(*model));
  const std::string weights = Path("hf/model.safetensors");
  const std::string bytes = *ReadFile(weights);
  // Cut inside the header: the header length points past the end.
  ASSERT_TRUE(WriteFileAtomically(weights, bytes.substr(0, 40)).ok());
  absl::Status s = LoadModel(Path("hf")).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat(weights, " is not a valid safetensors file: header length")));
  // Cut inside the data: the last tensor's range runs past the end.
  ASSERT_TRUE(WriteFileAtomically(weights, bytes.substr(0, bytes.size() - 4)).ok());
  s = LoadModel(Path("hf")).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("-byte data section"));
  EXPECT_THAT(std::string(s.message()), HasSubstr(weights));
}

// A safetensors file whose data section starts with one spare byte, so every
// tensor's bytes start at an odd offset in the file (released files need not
// align their data; WriteSafetensors always does).
void WriteOddOffsetSafetensors(const std::string& path,
                               const std::vector<std::pair<std::string, torch::Tensor>>& tensors) {
  std::string json = "{", data(1, '\0');
  for (const auto& [name, tensor] : tensors) {
    const torch::Tensor t = tensor.contiguous();
    const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
    absl::StrAppend(&json, json.size() > 1 ? "," : "", "\"", name, "\":{\"dtype\":\"",
                    *SafetensorsDtypeName(t.scalar_type()), "\",\"shape\":[", absl::StrJoin(t.sizes(), ","),
                    "],\"data_offsets\":[", data.size(), ",", data.size() + bytes, "]}");
    data.append(static_cast<const char*>(t.data_ptr()), bytes);
  }
  json += "}";
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string prefix(8, '\0');
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((json.size() >> (8 * i)) & 0xFF);
  ASSERT_TRUE(WriteFileAtomically(path, prefix + json + data).ok());
}

// `tensors` in `dtype` (e_score_correction_bias stays float32, as DeepSeek
// releases it).
std::vector<std::pair<std::string, torch::Tensor>> InDtype(
    const std::vector<std::pair<std::string, torch::Tensor>>& tensors, torch::Dtype dtype) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& [name, t] : tensors) {
    out.emplace_back(name, absl::EndsWith(name, "e_score_correction_bias") ? t.detach().clone()
                                                                           : t.detach().to(dtype));
  }
  return out;
}

// A Hugging Face folder sharded in two: the first half of `tensors` in an
// aligned shard (WriteSafetensors), the rest in one with odd offsets, and the
// index naming both.
void WriteShardedFolder(const std::string& dir, const config::ModelConfig& c,
                        const std::vector<std::pair<std::string, torch::Tensor>>& tensors) {
  WriteHuggingFaceFolder(dir, c, {});
  fs::remove(dir + "/model.safetensors");
  const size_t half = tensors.size() / 2;
  const std::vector<std::pair<std::string, torch::Tensor>> first(tensors.begin(), tensors.begin() + half);
  const std::vector<std::pair<std::string, torch::Tensor>> second(tensors.begin() + half, tensors.end());
  ASSERT_TRUE(WriteSafetensors(dir + "/model-00001-of-00002.safetensors", first).ok());
  WriteOddOffsetSafetensors(dir + "/model-00002-of-00002.safetensors", second);
  std::string map;
  for (size_t i = 0; i < tensors.size(); ++i) {
    absl::StrAppend(&map, i == 0 ? "" : ",", "\"", tensors[i].first, "\": \"model-0000", i < half ? 1 : 2,
                    "-of-00002.safetensors\"");
  }
  ASSERT_TRUE(WriteFileAtomically(dir + "/model.safetensors.index.json",
                                  absl::StrCat("{\"metadata\": {}, \"weight_map\": {", map, "}}")).ok());
}

// Released checkpoints come in float32, bfloat16 or float16, in one file or
// sharded, aligned or not; each loads into either run dtype as exactly the
// conversion of what the files hold.
TEST_F(CheckpointTest, FloatHalfAndBfloat16FilesLoadAsTheirExactConversion) {
  torch::manual_seed(10);
  for (const config::ModelConfig& c : {SmallLlama(), SmallDeepSeek()}) {
    CausalLm model = *MakeModel(c);
    for (torch::Dtype stored : {torch::kFloat32, torch::kFloat16, torch::kBFloat16}) {
      const std::vector<std::pair<std::string, torch::Tensor>> on_disk = InDtype(NamedTensors(*model), stored);
      for (const std::string layout : {"single", "odd", "sharded"}) {
        const std::string dir = Path(absl::StrCat("hf_", layout));
        fs::remove_all(dir);
        if (layout == "sharded") {
          WriteShardedFolder(dir, c, on_disk);
        } else {
          WriteHuggingFaceFolder(dir, c, {});
          if (layout == "odd") WriteOddOffsetSafetensors(dir + "/model.safetensors", on_disk);
          if (layout == "single") ASSERT_TRUE(WriteSafetensors(dir + "/model.safetensors", on_disk).ok());
        }
        for (config::DType run : {config::FLOAT32, config::BFLOAT16}) {
          absl::StatusOr<CausalLm> loaded = LoadModel(dir, {"", run});
          ASSERT_TRUE(loaded.ok()) << loaded.status();
          const auto tensors = NamedTensors(**loaded);
          ASSERT_EQ(tensors.size(), on_disk.size());
          for (size_t i = 0; i < tensors.size(); ++i) {
            const auto& [name, value] = tensors[i];
            ASSERT_EQ(name, on_disk[i].first);
            EXPECT_EQ(value.scalar_type(), absl::EndsWith(name, "e_score_correction_bias") || run == config::FLOAT32
                                               ? torch::kFloat32
                                               : torch::kBFloat16)
                << name;
            EXPECT_TRUE(torch::equal(value, on_disk[i].second.to(value.scalar_type())))
                << c.arch() << " " << stored << " " << layout << " " << run << ": " << name;
          }
        }
      }
    }
  }
}

// Each bad folder is refused with the tensor and the file that holds it (or,
// for a tensor no file has, the file or index that should).
TEST_F(CheckpointTest, BadWeightFilesAreRefusedNamingTheTensorAndFile) {
  torch::manual_seed(11);
  CausalLm model = *MakeModel(SmallLlama());
  const std::vector<std::pair<std::string, torch::Tensor>> good = InDtype(NamedTensors(*model), torch::kFloat16);
  const std::string name = "model.layers.1.self_attn.k_proj.weight";  // [16, 32]
  const auto refused = [&](const std::vector<std::pair<std::string, torch::Tensor>>& tensors, bool sharded) {
    fs::remove_all(Path("hf"));
    if (sharded) {
      WriteShardedFolder(Path("hf"), model->config(), tensors);
    } else {
      WriteHuggingFaceFolder(Path("hf"), model->config(), tensors);
    }
    const absl::Status s = LoadModel(Path("hf")).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    return std::string(s.message());
  };
  const std::string single = Path("hf/model.safetensors"), second = Path("hf/model-00002-of-00002.safetensors");
  for (bool sharded : {false, true}) {
    const std::string file = sharded ? second : single;  // `name` is in the second half
    auto misshapen = good;
    for (auto& [n, t] : misshapen) {
      if (n == name) t = torch::zeros({32, 16}, torch::kFloat16);
    }
    EXPECT_THAT(refused(misshapen, sharded),
                HasSubstr(absl::StrCat(file, ": tensor ", name, " has shape [32, 16], the model expects [16, 32]")));
    // Under another name, so the files still hold as many values as the
    // config needs (fewer are refused from the headers alone).
    auto missing = good;
    for (auto& [n, t] : missing) {
      if (n == name) n = "model.layers.1.self_attn.k_proj.weight_renamed";
    }
    EXPECT_THAT(refused(missing, sharded),
                HasSubstr(absl::StrCat(sharded ? Path("hf/model.safetensors.index.json") : single, " has no tensor ",
                                       name, " that the model needs")));
    auto extra = good;
    extra.emplace_back("model.layers.9.mlp.up_proj.weight", torch::zeros({2}, torch::kFloat16));
    EXPECT_THAT(refused(extra, sharded),
                HasSubstr(absl::StrCat(file, " has tensor model.layers.9.mlp.up_proj.weight that the model does not")));
    auto nan = good;
    for (auto& [n, t] : nan) {
      if (n == name) t.view({-1})[5] = std::nan("");
    }
    EXPECT_THAT(refused(nan, sharded),
                HasSubstr(absl::StrCat(file, ": tensor ", name, " is not finite: 1 of its 512 values are NaN")));
  }
  // A cut header, in a shard.
  fs::remove_all(Path("hf"));
  WriteShardedFolder(Path("hf"), model->config(), good);
  const std::string bytes = *ReadFile(second);
  ASSERT_TRUE(WriteFileAtomically(second, bytes.substr(0, 30)).ok());
  absl::Status s = LoadModel(Path("hf")).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat(second, " is not a valid safetensors file: header length")));
  // A header that is not JSON.
  std::string garbled = bytes;
  garbled[8] = 'x';
  ASSERT_TRUE(WriteFileAtomically(second, garbled).ok());
  EXPECT_THAT(std::string(LoadModel(Path("hf")).status().message()),
              HasSubstr(absl::StrCat(second, " is not a valid safetensors file: header is not JSON")));
}

// Finiteness is judged on the values the model will hold: float32's largest
// value is a weight in float32 but rounds to infinity in bfloat16.
TEST_F(CheckpointTest, AWeightThatOverflowsTheRunDtypeIsRefused) {
  torch::manual_seed(12);
  CausalLm model = *MakeModel(SmallLlama());
  const std::string name = "model.layers.0.mlp.gate_proj.weight";
  WriteHuggingFaceFolder(Path("hf"), model->config(), WithValue(*model, name, std::numeric_limits<float>::max()));
  EXPECT_TRUE(LoadModel(Path("hf"), {"", config::FLOAT32}).ok());
  const absl::Status s = LoadModel(Path("hf"), {"", config::BFLOAT16}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(absl::StrCat(Path("hf/model.safetensors"), ": tensor ", name, " is not finite: 1 of its")));
}

// Names and shapes are checked before any weight is copied: a checkpoint of
// another shape leaves the model it was to be restored into as it was.
TEST_F(CheckpointTest, RestoreRefusesAnotherShapeBeforeTouchingTheModel) {
  torch::manual_seed(13);
  config::ModelConfig wider = SmallLlama();
  wider.set_vocab_size(41);
  CausalLm other = *MakeModel(wider);
  ASSERT_TRUE(SaveCheckpoint(Path("ckpt"), *other, nullptr, nullptr).ok());
  CausalLm model = *MakeModel(SmallLlama());
  std::vector<torch::Tensor> before;
  for (const auto& [name, t] : NamedTensors(*model)) before.push_back(t.clone());
  const absl::Status s = RestoreWeights(Path("ckpt"), *model);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("tensor model.embed_tokens.weight has shape [41, 32], the model expects [40, 32]"));
  const auto after = NamedTensors(*model);
  for (size_t i = 0; i < after.size(); ++i) EXPECT_TRUE(torch::equal(after[i].second, before[i])) << after[i].first;
  // The same config restores exactly.
  CausalLm same = *MakeModel(SmallLlama());
  ASSERT_TRUE(SaveCheckpoint(Path("same"), *same, nullptr, nullptr).ok());
  ASSERT_TRUE(RestoreWeights(Path("same"), *model).ok());
  EXPECT_TRUE(torch::equal(Logits(*model), Logits(*same)));
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
