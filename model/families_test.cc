#include "model/families.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/config.h"
#include "common/file_util.h"
#include "common/test_support.h"
#include "common/tokenizer.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"

namespace r1::model {
namespace {

namespace fs = std::filesystem;
using google::protobuf::Struct;
using google::protobuf::Value;
using google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// config.json of released models, as their Hub repositories publish them.
constexpr char kLlama32_1B[] = R"({
  "architectures": [
    "LlamaForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": 128001,
  "head_dim": 64,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 16,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 32.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
}
)";

constexpr char kMistral7Bv03[] = R"({
  "architectures": [
    "MistralForCausalLM"
  ],
  "attention_dropout": 0.0,
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 32768,
  "model_type": "mistral",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05,
  "rope_theta": 1000000.0,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.42.0.dev0",
  "use_cache": true,
  "vocab_size": 32768
}
)";

constexpr char kQwen25_05B[] = R"({
  "architectures": [
    "Qwen2ForCausalLM"
  ],
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151643,
  "hidden_act": "silu",
  "hidden_size": 896,
  "initializer_range": 0.02,
  "intermediate_size": 4864,
  "max_position_embeddings": 32768,
  "max_window_layers": 24,
  "model_type": "qwen2",
  "num_attention_heads": 14,
  "num_hidden_layers": 24,
  "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06,
  "rope_theta": 1000000.0,
  "sliding_window": 32768,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.40.1",
  "use_cache": true,
  "use_mrope": false,
  "use_sliding_window": false,
  "vocab_size": 151936
}
)";

constexpr char kQwen3_06B[] = R"({
  "architectures": [
    "Qwen3ForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "eos_token_id": 151645,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 1024,
  "initializer_range": 0.02,
  "intermediate_size": 3072,
  "max_position_embeddings": 40960,
  "max_window_layers": 28,
  "model_type": "qwen3",
  "num_attention_heads": 16,
  "num_hidden_layers": 28,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000,
  "sliding_window": null,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.51.0",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
}
)";

constexpr char kQwen3_30B_A3B[] = R"({
  "architectures": [
    "Qwen3MoeForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 151643,
  "decoder_sparse_step": 1,
  "eos_token_id": 151645,
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 6144,
  "max_position_embeddings": 40960,
  "max_window_layers": 48,
  "mlp_only_layers": [],
  "model_type": "qwen3_moe",
  "moe_intermediate_size": 768,
  "norm_topk_prob": true,
  "num_attention_heads": 32,
  "num_experts": 128,
  "num_experts_per_tok": 8,
  "num_hidden_layers": 48,
  "num_key_value_heads": 4,
  "output_router_logits": false,
  "rms_norm_eps": 1e-06,
  "rope_scaling": null,
  "rope_theta": 1000000.0,
  "router_aux_loss_coef": 0.001,
  "sliding_window": null,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.51.0",
  "use_cache": true,
  "use_sliding_window": false,
  "vocab_size": 151936
}
)";

// DeepSeek-V3's config.json without its quantization_config, as it reads
// once the fp8 weights are converted to bfloat16 (r1 refuses fp8; see the
// refusal cases).
constexpr char kDeepSeekV3[] = R"({
  "architectures": [
    "DeepseekV3ForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "auto_map": {
    "AutoConfig": "configuration_deepseek.DeepseekV3Config",
    "AutoModel": "modeling_deepseek.DeepseekV3Model",
    "AutoModelForCausalLM": "modeling_deepseek.DeepseekV3ForCausalLM"
  },
  "aux_loss_alpha": 0.001,
  "bos_token_id": 0,
  "eos_token_id": 1,
  "ep_size": 1,
  "first_k_dense_replace": 3,
  "hidden_act": "silu",
  "hidden_size": 7168,
  "initializer_range": 0.02,
  "intermediate_size": 18432,
  "kv_lora_rank": 512,
  "max_position_embeddings": 163840,
  "model_type": "deepseek_v3",
  "moe_intermediate_size": 2048,
  "moe_layer_freq": 1,
  "n_group": 8,
  "n_routed_experts": 256,
  "n_shared_experts": 1,
  "norm_topk_prob": true,
  "num_attention_heads": 128,
  "num_experts_per_tok": 8,
  "num_hidden_layers": 61,
  "num_key_value_heads": 128,
  "num_nextn_predict_layers": 1,
  "pretraining_tp": 1,
  "q_lora_rank": 1536,
  "qk_nope_head_dim": 128,
  "qk_rope_head_dim": 64,
  "rms_norm_eps": 1e-06,
  "rope_scaling": {
    "beta_fast": 32,
    "beta_slow": 1,
    "factor": 40,
    "mscale": 1.0,
    "mscale_all_dim": 1.0,
    "original_max_position_embeddings": 4096,
    "type": "yarn"
  },
  "rope_theta": 10000,
  "routed_scaling_factor": 2.5,
  "scoring_func": "sigmoid",
  "seq_aux": true,
  "tie_word_embeddings": false,
  "topk_group": 4,
  "topk_method": "noaux_tc",
  "torch_dtype": "bfloat16",
  "transformers_version": "4.33.1",
  "use_cache": true,
  "v_head_dim": 128,
  "vocab_size": 129280
}
)";

constexpr char kSource[] = "/models/m/config.json";

absl::StatusOr<config::ModelConfig> Import(const std::string& json) { return ModelConfigFromJson(json, kSource); }

Struct ParseStruct(const std::string& json) {
  Struct root;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &root).ok()) << json;
  return root;
}

std::string ToText(const Struct& root) {
  std::string json;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(root, &json).ok());
  return json;
}

// `json` with `key` set to `value` (JSON text), or removed when `value` is null.
std::string With(const std::string& json, const std::string& key, const char* value) {
  Struct root = ParseStruct(json);
  if (value == nullptr) {
    root.mutable_fields()->erase(key);
  } else {
    Value v;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(value, &v).ok()) << value;
    (*root.mutable_fields())[key] = v;
  }
  return ToText(root);
}

// The realistic configs, each mapped onto the fields a reader of the family's
// transformers class would expect.

TEST(ModelConfigFromJson, Llama32_1B) {
  absl::StatusOr<config::ModelConfig> c = Import(kLlama32_1B);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->arch(), config::LLAMA);
  EXPECT_EQ(c->family(), "llama");
  EXPECT_EQ(c->vocab_size(), 128256);
  EXPECT_EQ(c->dim(), 2048);
  EXPECT_EQ(c->n_layers(), 16);
  EXPECT_EQ(c->n_heads(), 32);
  EXPECT_EQ(c->n_kv_heads(), 8);
  EXPECT_EQ(c->head_dim(), 64);
  EXPECT_EQ(c->ffn_hidden_dim(), 8192);
  EXPECT_EQ(c->max_seq_len(), 131072);
  EXPECT_DOUBLE_EQ(c->rope_theta(), 500000);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps(), 1e-5);
  EXPECT_TRUE(c->tie_embeddings());
  EXPECT_EQ(c->dtype(), config::BFLOAT16);
  EXPECT_FALSE(c->qkv_bias() || c->o_bias() || c->mlp_bias() || c->qk_norm());
  EXPECT_EQ(c->n_routed_experts(), 0);
  ASSERT_TRUE(c->has_rope_scaling());
  EXPECT_EQ(c->rope_scaling().type(), "llama3");
  EXPECT_DOUBLE_EQ(c->rope_scaling().factor(), 32);
  EXPECT_DOUBLE_EQ(c->rope_scaling().low_freq_factor(), 1);
  EXPECT_DOUBLE_EQ(c->rope_scaling().high_freq_factor(), 4);
  EXPECT_EQ(c->rope_scaling().original_max_position_embeddings(), 8192);
  EXPECT_TRUE(MessageDifferencer::Equals(ParseStruct(c->hf_config()), ParseStruct(kLlama32_1B)));
  EXPECT_TRUE(ValidateModel(*c, "model").ok()) << ValidateModel(*c, "model");
}

TEST(ModelConfigFromJson, Mistral7Bv03) {
  absl::StatusOr<config::ModelConfig> c = Import(kMistral7Bv03);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->arch(), config::LLAMA);
  EXPECT_EQ(c->family(), "mistral");
  EXPECT_EQ(c->vocab_size(), 32768);
  EXPECT_EQ(c->dim(), 4096);
  EXPECT_EQ(c->n_layers(), 32);
  EXPECT_EQ(c->n_heads(), 32);
  EXPECT_EQ(c->n_kv_heads(), 8);
  EXPECT_EQ(c->head_dim(), 0);  // dim / n_heads = 128
  EXPECT_EQ(c->ffn_hidden_dim(), 14336);
  EXPECT_EQ(c->max_seq_len(), 32768);
  EXPECT_DOUBLE_EQ(c->rope_theta(), 1e6);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps(), 1e-5);
  EXPECT_FALSE(c->tie_embeddings());
  EXPECT_FALSE(c->has_rope_scaling());
  EXPECT_FALSE(c->qkv_bias() || c->o_bias() || c->mlp_bias() || c->qk_norm());
  EXPECT_TRUE(ValidateModel(*c, "model").ok()) << ValidateModel(*c, "model");
}

TEST(ModelConfigFromJson, Qwen25_05B) {
  absl::StatusOr<config::ModelConfig> c = Import(kQwen25_05B);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->arch(), config::LLAMA);
  EXPECT_EQ(c->family(), "qwen2");
  EXPECT_EQ(c->vocab_size(), 151936);
  EXPECT_EQ(c->dim(), 896);
  EXPECT_EQ(c->n_layers(), 24);
  EXPECT_EQ(c->n_heads(), 14);
  EXPECT_EQ(c->n_kv_heads(), 2);
  EXPECT_EQ(c->head_dim(), 0);  // 896 / 14 = 64
  EXPECT_EQ(c->ffn_hidden_dim(), 4864);
  EXPECT_EQ(c->max_seq_len(), 32768);
  EXPECT_DOUBLE_EQ(c->rope_theta(), 1e6);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps(), 1e-6);
  EXPECT_TRUE(c->tie_embeddings());
  EXPECT_TRUE(c->qkv_bias());
  EXPECT_FALSE(c->o_bias() || c->mlp_bias() || c->qk_norm());
  EXPECT_TRUE(ValidateModel(*c, "model").ok()) << ValidateModel(*c, "model");
}

TEST(ModelConfigFromJson, Qwen3_06B) {
  absl::StatusOr<config::ModelConfig> c = Import(kQwen3_06B);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->arch(), config::LLAMA);
  EXPECT_EQ(c->family(), "qwen3");
  EXPECT_EQ(c->dim(), 1024);
  EXPECT_EQ(c->n_layers(), 28);
  EXPECT_EQ(c->n_heads(), 16);
  EXPECT_EQ(c->n_kv_heads(), 8);
  EXPECT_EQ(c->head_dim(), 128);  // 16 * 128 = 2048 != 1024
  EXPECT_EQ(c->ffn_hidden_dim(), 3072);
  EXPECT_EQ(c->max_seq_len(), 40960);
  EXPECT_DOUBLE_EQ(c->rope_theta(), 1e6);
  EXPECT_TRUE(c->tie_embeddings());
  EXPECT_TRUE(c->qk_norm());
  EXPECT_FALSE(c->qkv_bias() || c->o_bias() || c->mlp_bias());
  EXPECT_FALSE(c->has_rope_scaling());
  EXPECT_EQ(c->n_routed_experts(), 0);
  EXPECT_TRUE(ValidateModel(*c, "model").ok()) << ValidateModel(*c, "model");
}

TEST(ModelConfigFromJson, Qwen3_30B_A3B) {
  absl::StatusOr<config::ModelConfig> c = Import(kQwen3_30B_A3B);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->arch(), config::LLAMA);
  EXPECT_EQ(c->family(), "qwen3_moe");
  EXPECT_EQ(c->dim(), 2048);
  EXPECT_EQ(c->n_layers(), 48);
  EXPECT_EQ(c->n_heads(), 32);
  EXPECT_EQ(c->n_kv_heads(), 4);
  EXPECT_EQ(c->head_dim(), 128);
  EXPECT_TRUE(c->qk_norm());
  EXPECT_FALSE(c->tie_embeddings());
  EXPECT_EQ(c->ffn_hidden_dim(), 6144);
  EXPECT_EQ(c->n_routed_experts(), 128);
  EXPECT_EQ(c->n_activated_experts(), 8);
  EXPECT_EQ(c->moe_inter_dim(), 768);
  EXPECT_EQ(c->n_shared_experts(), 0);
  EXPECT_DOUBLE_EQ(c->routed_scaling_factor(), 1);
  EXPECT_EQ(c->router_scoring(), config::SOFTMAX);
  EXPECT_TRUE(c->norm_topk_prob());
  EXPECT_EQ(c->n_group(), 1);
  EXPECT_EQ(c->dense_layers_size(), 0);  // every layer routes
  EXPECT_EQ(c->moe_layer_freq(), 1);
  EXPECT_EQ(c->n_dense_layers(), 0);
  EXPECT_TRUE(ValidateModel(*c, "model").ok()) << ValidateModel(*c, "model");
}

TEST(ModelConfigFromJson, DeepSeekV3) {
  absl::StatusOr<config::ModelConfig> c = Import(kDeepSeekV3);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->arch(), config::DEEPSEEK_V3);
  EXPECT_EQ(c->family(), "deepseek_v3");
  EXPECT_EQ(c->vocab_size(), 129280);
  EXPECT_EQ(c->dim(), 7168);
  EXPECT_EQ(c->n_layers(), 61);
  EXPECT_EQ(c->n_heads(), 128);
  EXPECT_EQ(c->max_seq_len(), 163840);
  EXPECT_EQ(c->q_lora_rank(), 1536);
  EXPECT_EQ(c->kv_lora_rank(), 512);
  EXPECT_EQ(c->qk_nope_head_dim(), 128);
  EXPECT_EQ(c->qk_rope_head_dim(), 64);
  EXPECT_EQ(c->v_head_dim(), 128);
  EXPECT_EQ(c->inter_dim(), 18432);
  EXPECT_EQ(c->moe_inter_dim(), 2048);
  EXPECT_EQ(c->n_dense_layers(), 3);
  EXPECT_EQ(c->moe_layer_freq(), 1);
  EXPECT_EQ(c->n_shared_experts(), 1);
  EXPECT_EQ(c->n_routed_experts(), 256);
  EXPECT_EQ(c->n_activated_experts(), 8);
  EXPECT_EQ(c->n_group(), 8);
  EXPECT_EQ(c->topk_group(), 4);
  EXPECT_TRUE(c->norm_topk_prob());
  EXPECT_EQ(c->router_scoring(), config::SIGMOID);
  EXPECT_DOUBLE_EQ(c->routed_scaling_factor(), 2.5);
  EXPECT_EQ(c->n_mtp_modules(), 1);
  EXPECT_DOUBLE_EQ(c->rope_theta(), 10000);
  EXPECT_EQ(c->dtype(), config::BFLOAT16);
  EXPECT_FALSE(c->has_tie_embeddings());
  ASSERT_TRUE(c->has_rope_scaling());
  const config::RopeScaling& s = c->rope_scaling();
  EXPECT_EQ(s.type(), "yarn");
  EXPECT_DOUBLE_EQ(s.factor(), 40);
  EXPECT_EQ(s.original_max_position_embeddings(), 4096);
  EXPECT_DOUBLE_EQ(s.beta_fast(), 32);
  EXPECT_DOUBLE_EQ(s.beta_slow(), 1);
  EXPECT_DOUBLE_EQ(s.mscale(), 1);
  EXPECT_DOUBLE_EQ(s.mscale_all_dim(), 1);
  EXPECT_FALSE(s.has_attention_factor());
  // r1's own balancing settings are not in the file.
  EXPECT_FALSE(c->has_bias_update_speed());
  EXPECT_FALSE(c->has_seq_aux_loss_alpha());
  EXPECT_TRUE(ValidateModel(*c, "model").ok()) << ValidateModel(*c, "model");
}

// Absent keys take the defaults of the family's transformers config class.
TEST(ModelConfigFromJson, AbsentKeysTakeTheConfigClassDefaults) {
  absl::StatusOr<config::ModelConfig> qwen3 = Import(With(With(kQwen3_06B, "head_dim", nullptr), "num_key_value_heads", nullptr));
  ASSERT_TRUE(qwen3.ok()) << qwen3.status();
  EXPECT_EQ(qwen3->head_dim(), 128);
  EXPECT_EQ(qwen3->n_kv_heads(), 32);
  absl::StatusOr<config::ModelConfig> moe = Import(With(With(kQwen3_30B_A3B, "norm_topk_prob", nullptr), "head_dim", nullptr));
  ASSERT_TRUE(moe.ok()) << moe.status();
  EXPECT_FALSE(moe->norm_topk_prob());
  EXPECT_EQ(moe->head_dim(), 0);  // hidden_size / num_attention_heads
  absl::StatusOr<config::ModelConfig> llama =
      Import(With(With(With(kLlama32_1B, "num_key_value_heads", nullptr), "max_position_embeddings", nullptr),
                  "rope_scaling", nullptr));
  ASSERT_TRUE(llama.ok()) << llama.status();
  EXPECT_EQ(llama->n_kv_heads(), 32);
  EXPECT_EQ(llama->max_seq_len(), 2048);
  absl::StatusOr<config::ModelConfig> mistral = Import(With(kMistral7Bv03, "num_key_value_heads", nullptr));
  ASSERT_TRUE(mistral.ok()) << mistral.status();
  EXPECT_EQ(mistral->n_kv_heads(), 8);
  std::string deepseek = kDeepSeekV3;
  for (const char* key : {"q_lora_rank", "n_group", "topk_group", "routed_scaling_factor", "first_k_dense_replace",
                          "num_nextn_predict_layers", "n_shared_experts", "norm_topk_prob"}) {
    deepseek = With(deepseek, key, nullptr);
  }
  absl::StatusOr<config::ModelConfig> v3 = Import(deepseek);
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_EQ(v3->q_lora_rank(), 1536);
  EXPECT_EQ(v3->n_group(), 8);
  EXPECT_EQ(v3->topk_group(), 4);
  EXPECT_DOUBLE_EQ(v3->routed_scaling_factor(), 2.5);
  EXPECT_EQ(v3->n_dense_layers(), 3);
  EXPECT_EQ(v3->n_mtp_modules(), 0);
  EXPECT_EQ(v3->n_shared_experts(), 1);
  EXPECT_TRUE(v3->norm_topk_prob());
  // null is not absent: DeepSeek-V2-Lite's "q_lora_rank": null means full rank.
  absl::StatusOr<config::ModelConfig> full_rank = Import(With(kDeepSeekV3, "q_lora_rank", "null"));
  ASSERT_TRUE(full_rank.ok()) << full_rank.status();
  EXPECT_EQ(full_rank->q_lora_rank(), 0);
}

TEST(ModelConfigFromJson, Qwen3MoeDenseLayersFollowMlpOnlyLayersAndTheSparseStep) {
  absl::StatusOr<config::ModelConfig> c =
      Import(With(With(kQwen3_30B_A3B, "mlp_only_layers", "[0, 5]"), "decoder_sparse_step", "3"));
  ASSERT_TRUE(c.ok()) << c.status();
  // (i + 1) % 3 != 0 for every i but 2, 5, 8, ...; 5 is listed.
  std::vector<int> routing;
  for (int i = 0; i < c->n_layers(); ++i) {
    if (std::find(c->dense_layers().begin(), c->dense_layers().end(), i) == c->dense_layers().end()) {
      routing.push_back(i);
    }
  }
  std::vector<int> expected;
  for (int i = 2; i < 48; i += 3) {
    if (i != 5) expected.push_back(i);
  }
  EXPECT_EQ(routing, expected);
  EXPECT_TRUE(ValidateModel(*c, "model").ok()) << ValidateModel(*c, "model");
  // No experts: every layer is dense, and no expert field is set.
  absl::StatusOr<config::ModelConfig> dense = Import(With(kQwen3_30B_A3B, "num_experts", "0"));
  ASSERT_TRUE(dense.ok()) << dense.status();
  EXPECT_EQ(dense->dense_layers_size(), 48);
  EXPECT_FALSE(dense->has_n_routed_experts());
  EXPECT_TRUE(ValidateModel(*dense, "model").ok()) << ValidateModel(*dense, "model");
}

TEST(ModelConfigFromJson, DtypesMapOntoTheRunDtype) {
  for (const auto& [key, value, expected] : std::vector<std::tuple<const char*, const char*, config::DType>>{
           {"torch_dtype", "\"bfloat16\"", config::BFLOAT16},
           {"torch_dtype", "\"float32\"", config::FLOAT32},
           {"torch_dtype", "\"float16\"", config::FLOAT32},  // float16 files run in float32
           {"dtype", "\"bfloat16\"", config::BFLOAT16}}) {
    absl::StatusOr<config::ModelConfig> c = Import(With(With(kLlama32_1B, "torch_dtype", nullptr), key, value));
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ(c->dtype(), expected) << key << " " << value;
  }
  absl::StatusOr<config::ModelConfig> c = Import(With(kQwen3_06B, "torch_dtype", "\"float16\""));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(ReleasedWeightDtype(*c), "float16");
  EXPECT_EQ(ReleasedWeightDtype(testing::SmallModelConfig(config::LLAMA, 40)), "");
}

TEST(ModelConfigFromJson, RopeScalingTypes) {
  absl::StatusOr<config::ModelConfig> linear =
      Import(With(kLlama32_1B, "rope_scaling", R"({"type": "linear", "factor": 2.0})"));
  ASSERT_TRUE(linear.ok()) << linear.status();
  EXPECT_EQ(linear->rope_scaling().type(), "linear");
  EXPECT_DOUBLE_EQ(linear->rope_scaling().factor(), 2);
  for (const char* none : {"null", R"({"rope_type": "default"})"}) {
    absl::StatusOr<config::ModelConfig> c = Import(With(kLlama32_1B, "rope_scaling", none));
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_FALSE(c->has_rope_scaling()) << none;
  }
  // Qwen3's recipe for long contexts: yarn over the original 32768 positions.
  absl::StatusOr<config::ModelConfig> yarn = Import(With(
      kQwen3_06B, "rope_scaling",
      R"({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768, "attention_factor": 1.1})"));
  ASSERT_TRUE(yarn.ok()) << yarn.status();
  EXPECT_EQ(yarn->rope_scaling().type(), "yarn");
  EXPECT_DOUBLE_EQ(yarn->rope_scaling().factor(), 4);
  EXPECT_EQ(yarn->rope_scaling().original_max_position_embeddings(), 32768);
  EXPECT_DOUBLE_EQ(yarn->rope_scaling().attention_factor(), 1.1);
  // Without a factor, yarn's is max_position_embeddings / the original length.
  absl::StatusOr<config::ModelConfig> derived = Import(
      With(kQwen3_06B, "rope_scaling", R"({"rope_type": "yarn", "original_max_position_embeddings": 10240})"));
  ASSERT_TRUE(derived.ok()) << derived.status();
  EXPECT_DOUBLE_EQ(derived->rope_scaling().factor(), 4);
  // transformers 5 writes rope_theta and the scaling as one object.
  absl::StatusOr<config::ModelConfig> v5 = Import(With(
      With(With(kLlama32_1B, "rope_scaling", nullptr), "rope_theta", nullptr), "rope_parameters",
      R"({"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0, "low_freq_factor": 1.0,
          "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})"));
  ASSERT_TRUE(v5.ok()) << v5.status();
  EXPECT_DOUBLE_EQ(v5->rope_theta(), 500000);
  EXPECT_EQ(v5->rope_scaling().type(), "llama3");
  EXPECT_EQ(v5->rope_scaling().original_max_position_embeddings(), 8192);
}

// One key of a valid config changed: accepted, because its value does not
// change what r1 computes.
struct AcceptedCase {
  const char* base;
  const char* key;
  const char* value;  // JSON; nullptr removes the key
};

class AcceptedKeys : public ::testing::TestWithParam<AcceptedCase> {};

TEST_P(AcceptedKeys, Load) {
  absl::StatusOr<config::ModelConfig> c = Import(With(GetParam().base, GetParam().key, GetParam().value));
  EXPECT_TRUE(c.ok()) << GetParam().key << ": " << c.status();
}

INSTANTIATE_TEST_SUITE_P(
    Families, AcceptedKeys,
    ::testing::Values(AcceptedCase{kMistral7Bv03, "sliding_window", "32768"},  // never shorter than the context
                      AcceptedCase{kMistral7Bv03, "sliding_window", "131072"},
                      AcceptedCase{kQwen25_05B, "sliding_window", "1024"},  // inert: use_sliding_window is false
                      AcceptedCase{kQwen25_05B, "max_window_layers", "2"},
                      AcceptedCase{kQwen25_05B, "use_mrope", "true"},
                      AcceptedCase{kQwen3_06B, "layer_types", R"(["full_attention", "full_attention"])"},
                      AcceptedCase{kQwen3_30B_A3B, "router_aux_loss_coef", "0.5"},
                      AcceptedCase{kQwen3_30B_A3B, "output_router_logits", "true"},
                      AcceptedCase{kDeepSeekV3, "rope_interleave", "true"},
                      AcceptedCase{kDeepSeekV3, "ep_size", "8"},
                      AcceptedCase{kDeepSeekV3, "seq_aux", "false"},
                      AcceptedCase{kDeepSeekV3, "qk_head_dim", "192"},
                      AcceptedCase{kDeepSeekV3, "head_dim", "64"},
                      AcceptedCase{kLlama32_1B, "pretraining_tp", "4"},
                      AcceptedCase{kLlama32_1B, "use_cache", "false"},
                      AcceptedCase{kLlama32_1B, "_name_or_path", "\"meta-llama/Llama-3.2-1B\""},
                      AcceptedCase{kLlama32_1B, "eos_token_id", "[128001, 128008, 128009]"},
                      AcceptedCase{kLlama32_1B, "pruned_heads", "{}"},
                      AcceptedCase{kLlama32_1B, "partial_rotary_factor", "1.0"},
                      AcceptedCase{kLlama32_1B, "quantization_config", "null"},
                      AcceptedCase{kLlama32_1B, "temperature", "0.6"}));

// One key of a valid config changed: refused, naming config.json and the key.
struct RefusedCase {
  const char* name;
  const char* base;
  const char* key;
  const char* value;     // JSON
  const char* expected;  // in the message, which starts with the file's name
};

void PrintTo(const RefusedCase& c, std::ostream* os) { *os << c.name; }

class RefusedKeys : public ::testing::TestWithParam<RefusedCase> {};

TEST_P(RefusedKeys, AreRefusedByName) {
  const RefusedCase& p = GetParam();
  absl::StatusOr<config::ModelConfig> c = Import(With(p.base, p.key, p.value));
  ASSERT_FALSE(c.ok()) << p.key << " = " << p.value;
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), StartsWith(kSource));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr(p.expected));
}

INSTANTIATE_TEST_SUITE_P(
    Families, RefusedKeys,
    ::testing::Values(
        RefusedCase{"UnknownLlamaKey", kLlama32_1B, "foo", "1",
                    "key \"foo\" of model_type llama is not supported by r1 (it may change the computation)"},
        RefusedCase{"UnknownQwen3Key", kQwen3_06B, "foo", "1",
                    "key \"foo\" of model_type qwen3 is not supported by r1 (it may change the computation)"},
        // A key of another family is unknown to this one.
        RefusedCase{"SlidingWindowInLlama", kLlama32_1B, "sliding_window", "null",
                    "key \"sliding_window\" of model_type llama is not supported by r1"},
        RefusedCase{"MlpBiasInQwen2", kQwen25_05B, "mlp_bias", "false",
                    "key \"mlp_bias\" of model_type qwen2 is not supported by r1"},
        RefusedCase{"Gemma2Softcapping", kMistral7Bv03, "final_logit_softcapping", "30.0",
                    "key \"final_logit_softcapping\" of model_type mistral is not supported by r1"},
        RefusedCase{"HiddenAct", kLlama32_1B, "hidden_act", "\"gelu\"", "\"hidden_act\" is \"gelu\": r1's feed-forward"},
        RefusedCase{"AttentionDropout", kQwen3_06B, "attention_dropout", "0.1", "\"attention_dropout\" is 0.1: r1 has no"},
        RefusedCase{"TorchDtype", kLlama32_1B, "torch_dtype", "\"float64\"", "\"torch_dtype\" is \"float64\": r1 runs"},
        RefusedCase{"Dtype", kQwen3_06B, "dtype", "\"float32\"", "\"dtype\" is \"float32\" but \"torch_dtype\" is \"bfloat16\""},
        RefusedCase{"PartialRotary", kLlama32_1B, "partial_rotary_factor", "0.5", "\"partial_rotary_factor\" is 0.5"},
        RefusedCase{"QuantizedLlama", kLlama32_1B, "quantization_config", R"({"quant_method": "gptq", "bits": 4})",
                    "\"quantization_config\" is present: r1 does not run quantized"},
        RefusedCase{"QuantizedDeepSeek", kDeepSeekV3, "quantization_config",
                    R"({"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "weight_block_size": [128, 128]})",
                    "\"quantization_config\" is present: r1 does not run quantized (e.g. fp8) weights; convert the "
                    "checkpoint to bfloat16"},
        RefusedCase{"PrunedHeads", kLlama32_1B, "pruned_heads", R"({"0": [1]})", "\"pruned_heads\" is"},
        RefusedCase{"EncoderDecoder", kLlama32_1B, "is_encoder_decoder", "true", "\"is_encoder_decoder\" is true"},
        RefusedCase{"CrossAttention", kQwen3_06B, "add_cross_attention", "true", "\"add_cross_attention\" is true"},
        RefusedCase{"RopeDynamic", kLlama32_1B, "rope_scaling", R"({"rope_type": "dynamic", "factor": 2.0})",
                    "\"rope_scaling\" has rope_type \"dynamic\", which r1 does not implement"},
        RefusedCase{"RopeLongrope", kQwen3_06B, "rope_scaling",
                    R"({"type": "longrope", "long_factor": [1.0], "short_factor": [1.0]})",
                    "\"rope_scaling\" has rope_type \"longrope\", which r1 does not implement"},
        RefusedCase{"RopeSu", kMistral7Bv03, "rope_scaling", R"({"type": "su"})",
                    "\"rope_scaling\" has rope_type \"su\", which r1 does not implement"},
        RefusedCase{"RopeWithoutType", kLlama32_1B, "rope_scaling", R"({"factor": 2.0})",
                    "\"rope_scaling\" has no rope_type"},
        RefusedCase{"RopeUnknownKey", kLlama32_1B, "rope_scaling", R"({"rope_type": "linear", "factor": 2.0, "foo": 1})",
                    "key \"rope_scaling.foo\" is not supported by r1 for rope_type linear"},
        RefusedCase{"RopeKeyOfAnotherType", kLlama32_1B, "rope_scaling",
                    R"({"rope_type": "linear", "factor": 2.0, "low_freq_factor": 1.0})",
                    "key \"rope_scaling.low_freq_factor\" is not supported by r1 for rope_type linear"},
        RefusedCase{"RopeMropeSection", kQwen3_30B_A3B, "rope_scaling",
                    R"({"rope_type": "default", "mrope_section": [8, 8, 8]})",
                    "key \"rope_scaling.mrope_section\" is not supported by r1 for rope_type default"},
        RefusedCase{"RopeLlama3Incomplete", kLlama32_1B, "rope_scaling", R"({"rope_type": "llama3", "factor": 8.0})",
                    "has no \"rope_scaling.low_freq_factor\""},
        RefusedCase{"RopeYarnTruncate", kQwen3_06B, "rope_scaling", R"({"rope_type": "yarn", "factor": 4.0, "truncate": false})",
                    "\"rope_scaling.truncate\" is false"},
        RefusedCase{"RopeTypesDisagree", kQwen3_06B, "rope_scaling", R"({"rope_type": "yarn", "type": "linear", "factor": 4.0})",
                    "\"rope_scaling\" has rope_type \"yarn\" and type \"linear\""},
        RefusedCase{"RopeParametersBesideRopeTheta", kQwen3_06B, "rope_parameters", R"({"rope_type": "default", "rope_theta": 1e6})",
                    "\"rope_parameters\" and \"rope_theta\" are both given"},
        RefusedCase{"HeadDimNotAnInteger", kLlama32_1B, "head_dim", "\"64\"", "\"head_dim\" is not a number"},
        RefusedCase{"BiasNotABool", kLlama32_1B, "attention_bias", "1", "\"attention_bias\" is not true or false"},
        RefusedCase{"MistralWindow", kMistral7Bv03, "sliding_window", "4096",
                    "\"sliding_window\" is 4096: shorter than the context r1 uses (max_position_embeddings 32768), and r1 "
                    "does not implement sliding-window attention"},
        RefusedCase{"MistralLayerTypes", kMistral7Bv03, "layer_types", R"(["full_attention", "sliding_attention"])",
                    "\"layer_types\" [1] is \"sliding_attention\": r1 implements full attention only"},
        RefusedCase{"Qwen2SlidingWindow", kQwen25_05B, "use_sliding_window", "true",
                    "\"use_sliding_window\" is true: r1 does not implement sliding-window attention"},
        RefusedCase{"Qwen2LayerTypes", kQwen25_05B, "layer_types", R"(["sliding_attention"])",
                    "\"layer_types\" [0] is \"sliding_attention\""},
        RefusedCase{"Qwen3SlidingWindow", kQwen3_06B, "use_sliding_window", "true",
                    "\"use_sliding_window\" is true: r1 does not implement sliding-window attention"},
        RefusedCase{"Qwen3LayerTypes", kQwen3_06B, "layer_types", R"(["full_attention", "sliding_attention"])",
                    "\"layer_types\" [1] is \"sliding_attention\""},
        RefusedCase{"Qwen3MoeSlidingWindow", kQwen3_30B_A3B, "use_sliding_window", "true",
                    "\"use_sliding_window\" is true"},
        RefusedCase{"Qwen3MoeSparseStep", kQwen3_30B_A3B, "decoder_sparse_step", "0", "\"decoder_sparse_step\" is 0"},
        RefusedCase{"Qwen3MoeMlpOnlyLayers", kQwen3_30B_A3B, "mlp_only_layers", "[3, 48]",
                    "\"mlp_only_layers\" lists layer 48, outside 0 .. num_hidden_layers - 1 (47)"},
        RefusedCase{"DeepSeekTopkMethod", kDeepSeekV3, "topk_method", "\"greedy\"",
                    "\"topk_method\" is \"greedy\": r1 implements DeepSeek-V3's noaux_tc routing only"},
        RefusedCase{"DeepSeekScoring", kDeepSeekV3, "scoring_func", "\"softmax\"", "\"scoring_func\" is \"softmax\""},
        RefusedCase{"DeepSeekRopeInterleave", kDeepSeekV3, "rope_interleave", "false", "\"rope_interleave\" is false"},
        RefusedCase{"DeepSeekKvHeads", kDeepSeekV3, "num_key_value_heads", "16",
                    "\"num_key_value_heads\" is 16: MLA gives every head its own keys and values: it must equal "
                    "num_attention_heads (128)"},
        RefusedCase{"DeepSeekQkHeadDim", kDeepSeekV3, "qk_head_dim", "128",
                    "\"qk_head_dim\" is 128: it must equal qk_nope_head_dim + qk_rope_head_dim (192)"},
        RefusedCase{"DeepSeekHeadDim", kDeepSeekV3, "head_dim", "192", "\"head_dim\" is 192"},
        RefusedCase{"DeepSeekAttentionBias", kDeepSeekV3, "attention_bias", "true", "\"attention_bias\" is true"},
        RefusedCase{"DeepSeekNullExperts", kDeepSeekV3, "n_routed_experts", "null",
                    "\"n_routed_experts\" is null: DeepSeek's code reads null as a model without routed experts"},
        RefusedCase{"DeepSeekTiedEmbeddings", kDeepSeekV3, "tie_word_embeddings", "true",
                    "\"tie_word_embeddings\" is true"},
        RefusedCase{"UnknownDeepSeekKey", kDeepSeekV3, "topk_group_mode", "1",
                    "key \"topk_group_mode\" of model_type deepseek_v3 is not supported by r1"}),
    [](const ::testing::TestParamInfo<RefusedCase>& info) { return std::string(info.param.name); });

TEST(ModelConfigFromJson, UnknownModelTypeAndMissingSizesAreRefused) {
  EXPECT_THAT(std::string(Import(With(kLlama32_1B, "model_type", "\"gemma2\"")).status().message()),
              HasSubstr("model_type \"gemma2\" is not supported (llama, mistral, qwen2, qwen3, qwen3_moe, deepseek_v3)"));
  EXPECT_THAT(std::string(Import(With(kLlama32_1B, "hidden_size", nullptr)).status().message()),
              HasSubstr(absl::StrCat(kSource, " has no \"hidden_size\"")));
  EXPECT_THAT(std::string(Import("[1, 2]").status().message()), HasSubstr("is not valid JSON"));
  EXPECT_THAT(std::string(Import(R"({"model_type": "llama", "model_type": "qwen3"})").status().message()),
              HasSubstr("Repeated map key: 'model_type'"));
}

// Every key of the realistic configs is in its family's table, and no table
// lists a key twice.
TEST(FamilyKeys, ListEveryKeyOnceAndCoverTheReleasedConfigs) {
  EXPECT_EQ(SupportedFamilies(), (std::vector<std::string>{"llama", "mistral", "qwen2", "qwen3", "qwen3_moe",
                                                           "deepseek_v3"}));
  for (const std::string& family : SupportedFamilies()) {
    std::set<std::string> seen;
    for (const FamilyKey& k : FamilyKeys(family)) {
      EXPECT_TRUE(seen.insert(k.key).second) << family << " lists " << k.key << " twice";
      EXPECT_NE(std::string(k.note), "") << k.key;
    }
  }
  EXPECT_TRUE(FamilyKeys("gpt2").empty());
  for (const char* json : {kLlama32_1B, kMistral7Bv03, kQwen25_05B, kQwen3_06B, kQwen3_30B_A3B, kDeepSeekV3}) {
    const Struct root = ParseStruct(json);
    std::set<std::string> listed;
    for (const FamilyKey& k : FamilyKeys(root.fields().at("model_type").string_value())) listed.insert(k.key);
    for (const auto& [key, value] : root.fields()) EXPECT_TRUE(listed.contains(key)) << key;
  }
}

config::ModelConfig SmallLlama() {
  config::ModelConfig c = testing::SmallModelConfig(config::LLAMA, 40);
  c.set_tie_embeddings(true);
  c.set_rope_theta(500000);
  return c;
}

// r1's own models: the exact config back, no family, no hf_config.
TEST(ModelConfigToJson, R1OwnModelsRoundTripExactly) {
  for (const config::ModelConfig& c : {SmallLlama(), testing::SmallModelConfig(config::DEEPSEEK_V3, 48)}) {
    const std::string json = ModelConfigToJson(c, 1, 2, 3);
    absl::StatusOr<config::ModelConfig> back = ModelConfigFromJson(json, "config.json");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(MessageDifferencer::Equals(*back, c)) << back->DebugString();
    EXPECT_TRUE(back->family().empty());
    EXPECT_TRUE(back->hf_config().empty());
    const Struct root = ParseStruct(json);
    EXPECT_EQ(root.fields().at("model_type").string_value(),
              c.arch() == config::LLAMA ? "llama" : "deepseek_v3");
    EXPECT_EQ(root.fields().at("bos_token_id").number_value(), 1);
  }
}

// The key order of a JSON object's top level as written.
std::vector<std::string> TopLevelKeys(const std::string& json) {
  const Struct root = ParseStruct(json);
  std::vector<std::pair<size_t, std::string>> at;
  for (const auto& [key, unused] : root.fields()) {
    // Members are one per line at two spaces' indentation in every file here.
    const size_t pos = json.find(absl::StrCat("\n  \"", key, "\":"));
    EXPECT_NE(pos, std::string::npos) << key;
    at.emplace_back(pos, key);
  }
  std::sort(at.begin(), at.end());
  std::vector<std::string> keys;
  for (const auto& [pos, key] : at) keys.push_back(key);
  return keys;
}

// An imported config is written back with every key, in its order and with
// its values; r1 adds only its own two keys, and reads back the exact config.
TEST(ModelConfigToJson, ImportedFamiliesKeepEveryKey) {
  for (const char* json : {kLlama32_1B, kMistral7Bv03, kQwen25_05B, kQwen3_06B, kQwen3_30B_A3B, kDeepSeekV3}) {
    absl::StatusOr<config::ModelConfig> c = Import(json);
    ASSERT_TRUE(c.ok()) << c.status();
    const std::string written = ModelConfigToJson(*c, -1, -1, -1);
    Struct root = ParseStruct(written);
    ASSERT_TRUE(root.fields().contains("r1_model_config"));
    EXPECT_EQ(root.fields().at("r1_format_version").number_value(), kCheckpointFormatVersion);
    EXPECT_FALSE(root.fields().at("r1_model_config").struct_value().fields().contains("hf_config"));
    root.mutable_fields()->erase("r1_model_config");
    root.mutable_fields()->erase("r1_format_version");
    EXPECT_TRUE(MessageDifferencer::Equals(root, ParseStruct(json))) << written;
    std::vector<std::string> keys = TopLevelKeys(written);
    keys.resize(keys.size() - 2);  // r1's keys come last
    EXPECT_EQ(keys, TopLevelKeys(json));
    // Untouched values are written as they were ("rope_theta": 500000.0
    // stays so, nested objects keep their lines).
    for (absl::string_view line : absl::StrSplit(json, '\n')) {
      EXPECT_THAT(written, HasSubstr(absl::StripSuffix(line, ",")));
    }

    absl::StatusOr<config::ModelConfig> back = ModelConfigFromJson(written, "config.json");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(MessageDifferencer::Equals(*back, *c)) << back->DebugString();
    EXPECT_EQ(ModelConfigToJson(*back, -1, -1, -1), written);
  }
}

TEST(ModelConfigToJson, ImportedFamiliesTakeTheTokenizersIdsAndVocabSize) {
  absl::StatusOr<config::ModelConfig> c = Import(With(kLlama32_1B, "eos_token_id", "[128001, 128008, 128009]"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(ModelConfigToJson(*c, 128000, 128009, 128004), HasSubstr("\"max_position_embeddings\": 131072,"));
  c->set_vocab_size(128300);
  c->set_max_seq_len(4096);  // a run's --set model.max_seq_len
  const std::string json = ModelConfigToJson(*c, 128000, 128009, 128004);
  EXPECT_THAT(json, HasSubstr("\n  \"vocab_size\": 128300,\n"));
  EXPECT_EQ(ParseStruct(json).fields().at("max_position_embeddings").number_value(), 4096);
  EXPECT_THAT(json, HasSubstr("\n  \"eos_token_id\": [128001,128008,128009],\n"));  // as With() wrote it
  const Struct root = ParseStruct(json);
  EXPECT_EQ(root.fields().at("vocab_size").number_value(), 128300);
  EXPECT_EQ(root.fields().at("bos_token_id").number_value(), 128000);
  EXPECT_EQ(root.fields().at("eos_token_id").list_value().values_size(), 3);  // 128009 is one of them
  EXPECT_EQ(root.fields().at("pad_token_id").number_value(), 128004);       // added
  const Struct other = ParseStruct(ModelConfigToJson(*c, 1, 2, -1));
  EXPECT_EQ(other.fields().at("eos_token_id").number_value(), 2);
  EXPECT_FALSE(other.fields().contains("pad_token_id"));
}

// ---------------------------------------------------------------------------
// Import -> export -> import with weights.

class FamilyRoundTrip : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("r1_families_", getpid(), "_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    absl::StatusOr<std::string> tokenizer = testing::TrainTinyTokenizer(Path("tok"), 40);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    absl::StatusOr<Tokenizer> loaded = Tokenizer::Load(*tokenizer);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    tokenizer_ = *loaded;
    bos_ = loaded->bos_id();
    eos_ = loaded->eos_id();
    pad_ = loaded->pad_id();
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // A released-style folder: `json` as config.json and random weights in
  // the file's dtype, laid out as the imported config says. A DeepSeek-V3
  // config with MTP layers gets each layer's copy of the embedding and head,
  // as DeepSeek's releases store them.
  void WriteReleasedFolder(const std::string& folder, const std::string& json, torch::Dtype file_dtype) {
    absl::StatusOr<config::ModelConfig> c = ModelConfigFromJson(json, "config.json");
    ASSERT_TRUE(c.ok()) << c.status();
    c->set_dtype(config::FLOAT32);
    absl::StatusOr<CausalLm> model = MakeModel(*c);
    ASSERT_TRUE(model.ok()) << model.status();
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    std::map<std::string, torch::Tensor> by_name;
    for (const auto& [name, tensor] : NamedTensors(**model)) {
      // Away from the init (biases start at 0, norms at 1): every value matters.
      torch::Tensor t = torch::randn(tensor.sizes());
      const bool bias = name.find("e_score_correction_bias") != std::string::npos;
      tensors.emplace_back(name, t.to(bias ? torch::kFloat32 : file_dtype));
      by_name[name] = tensors.back().second;
    }
    if (c->family() == "deepseek_v3") {
      for (int k = 0; k < c->n_mtp_modules(); ++k) {
        const std::string layer = absl::StrCat("model.layers.", c->n_layers() + k, ".");
        tensors.emplace_back(layer + "embed_tokens.weight", by_name.at("model.embed_tokens.weight").clone());
        tensors.emplace_back(layer + "shared_head.head.weight", by_name.at("lm_head.weight").clone());
      }
    }
    fs::create_directories(folder);
    ASSERT_TRUE(WriteFileAtomically(folder + "/config.json", json).ok());
    ASSERT_TRUE(WriteSafetensors(folder + "/model.safetensors", tensors).ok());
  }

  // Every tensor of the two files: same names, dtypes and bits.
  void ExpectSameTensors(const std::string& a, const std::string& b) {
    absl::StatusOr<SafetensorsFile> x = ReadSafetensors(a);
    absl::StatusOr<SafetensorsFile> y = ReadSafetensors(b);
    ASSERT_TRUE(x.ok()) << x.status();
    ASSERT_TRUE(y.ok()) << y.status();
    ASSERT_EQ(x->tensors.size(), y->tensors.size());
    for (const auto& [name, tensor] : x->tensors) {
      ASSERT_TRUE(y->tensors.contains(name)) << name;
      const torch::Tensor& other = y->tensors.at(name);
      EXPECT_EQ(tensor.scalar_type(), other.scalar_type()) << name;
      EXPECT_TRUE(torch::equal(tensor, other)) << name;
    }
  }

  // Imports `json` with weights in `file_dtype`, exports it (running in
  // `run_dtype`), and checks the export against the original, then imports
  // the export again, as r1 (r1_model_config) and as another tool would
  // (the Hugging Face keys alone).
  void RoundTrip(std::string json, torch::Dtype file_dtype, config::DType run_dtype) {
    json = With(With(With(json, "bos_token_id", absl::StrCat(bos_).c_str()), "eos_token_id",
                     absl::StrCat(eos_).c_str()),
                "pad_token_id", absl::StrCat(pad_).c_str());
    WriteReleasedFolder(Path("released"), json, file_dtype);
    LoadOptions options;
    options.dtype = run_dtype;
    absl::StatusOr<CausalLm> model = LoadModel(Path("released"), options);
    ASSERT_TRUE(model.ok()) << model.status();
    ASSERT_TRUE(ExportHuggingFace(Path("export"), **model, *tokenizer_).ok());
    ExpectSameTensors(Path("released/model.safetensors"), Path("export/model.safetensors"));

    const std::string exported = *ReadFile(Path("export/config.json"));
    Struct root = ParseStruct(exported);
    root.mutable_fields()->erase("r1_model_config");
    root.mutable_fields()->erase("r1_format_version");
    EXPECT_TRUE(MessageDifferencer::Equals(root, ParseStruct(json))) << exported;

    // As r1 reads it: the exact config, the same weights.
    absl::StatusOr<CausalLm> back = LoadModel(Path("export"), options);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(MessageDifferencer::Equals((*back)->config(), (*model)->config()));
    const auto ours = NamedTensors(**model);
    const auto theirs = NamedTensors(**back);
    ASSERT_EQ(ours.size(), theirs.size());
    for (size_t i = 0; i < ours.size(); ++i) {
      EXPECT_EQ(ours[i].first, theirs[i].first);
      EXPECT_TRUE(torch::equal(ours[i].second, theirs[i].second)) << ours[i].first;
    }
    // As a plain Hugging Face folder (the r1 keys, which come last, and the
    // manifest removed).
    const size_t r1_keys = exported.find(",\n  \"r1_model_config\"");
    ASSERT_NE(r1_keys, std::string::npos);
    fs::create_directories(Path("plain"));
    ASSERT_TRUE(WriteFileAtomically(Path("plain/config.json"), exported.substr(0, r1_keys) + "\n}\n").ok());
    fs::copy_file(Path("export/model.safetensors"), Path("plain/model.safetensors"));
    absl::StatusOr<CausalLm> plain = LoadModel(Path("plain"), options);
    ASSERT_TRUE(plain.ok()) << plain.status();
    ASSERT_TRUE(ExportHuggingFace(Path("export2"), **plain, *tokenizer_).ok());
    ExpectSameTensors(Path("released/model.safetensors"), Path("export2/model.safetensors"));
    EXPECT_EQ(*ReadFile(Path("export2/config.json")), exported);
  }

  fs::path dir_;
  std::optional<Tokenizer> tokenizer_;
  int bos_ = -1, eos_ = -1, pad_ = -1;
};

// A small model in a released family's layout (the shapes are tiny; every
// key is the released config's own).
std::string SmallLlamaFamilyConfig() {
  std::string json = kLlama32_1B;
  for (const auto& [key, value] : std::vector<std::pair<const char*, const char*>>{
           {"vocab_size", "48"}, {"hidden_size", "32"}, {"intermediate_size", "40"}, {"num_hidden_layers", "2"},
           {"num_attention_heads", "4"}, {"num_key_value_heads", "2"}, {"head_dim", "8"},
           {"max_position_embeddings", "64"}, {"tie_word_embeddings", "false"},
           {"rope_scaling", R"({"factor": 4.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                "original_max_position_embeddings": 16, "rope_type": "llama3"})"}}) {
    json = With(json, key, value);
  }
  return json;
}

TEST_F(FamilyRoundTrip, Bfloat16LlamaIsBitIdentical) {
  RoundTrip(SmallLlamaFamilyConfig(), torch::kBFloat16, config::BFLOAT16);
}

// r1 export loads in float32; the weights still go back in bfloat16, exactly.
TEST_F(FamilyRoundTrip, Bfloat16LlamaRunInFloat32IsBitIdentical) {
  RoundTrip(SmallLlamaFamilyConfig(), torch::kBFloat16, config::FLOAT32);
}

TEST_F(FamilyRoundTrip, Float16LlamaRunsInFloat32AndGoesBackInFloat16) {
  RoundTrip(With(SmallLlamaFamilyConfig(), "torch_dtype", "\"float16\""), torch::kFloat16, config::FLOAT32);
}

// The tiny checkpoints of every family's golden test (tests/golden/families:
// biases, qk-norm, routed experts, DeepSeek-V3 with its float32 balancing
// bias), as bfloat16 releases, run in bfloat16 and in float32.
const char* const kGoldenFamilies[] = {"llama3",  "llama_linear", "mistral",        "qwen2",         "qwen3",
                                       "qwen3_moe_a", "qwen3_moe_b", "deepseek_v3_a", "deepseek_v3_b"};

std::string GoldenConfig(const std::string& name) {
  absl::StatusOr<std::string> json = ReadFile(absl::StrCat("tests/golden/families/", name, "/config.json"));
  EXPECT_TRUE(json.ok()) << json.status();
  return json.ok() ? *json : "";
}

TEST_F(FamilyRoundTrip, EveryFamilyIsBitIdentical) {
  for (const char* name : kGoldenFamilies) {
    for (config::DType run : {config::BFLOAT16, config::FLOAT32}) {
      SCOPED_TRACE(absl::StrCat(name, " ", config::DType_Name(run)));
      for (const char* folder : {"released", "export", "plain", "export2"}) fs::remove_all(Path(folder));
      RoundTrip(With(GoldenConfig(name), "torch_dtype", "\"bfloat16\""), torch::kBFloat16, run);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

// DeepSeek-V3 / R1 releases carry their MTP layer (num_nextn_predict_layers
// 1) as model.layers.{L} with its own copies of the embedding and head: the
// folder loads, and goes back with the same tensor names and bits.
TEST_F(FamilyRoundTrip, DeepSeekV3ReleaseWithItsMtpLayerIsBitIdentical) {
  for (const char* name : {"deepseek_v3_a", "deepseek_v3_b"}) {
    for (config::DType run : {config::BFLOAT16, config::FLOAT32}) {
      SCOPED_TRACE(absl::StrCat(name, " ", config::DType_Name(run)));
      for (const char* folder : {"released", "export", "plain", "export2"}) fs::remove_all(Path(folder));
      const std::string json =
          With(With(GoldenConfig(name), "torch_dtype", "\"bfloat16\""), "num_nextn_predict_layers", "1");
      RoundTrip(json, torch::kBFloat16, run);
      const int layers = static_cast<int>(ParseStruct(json).fields().at("num_hidden_layers").number_value());
      for (const char* folder : {"released", "export"}) {
        absl::StatusOr<SafetensorsFile> file = ReadSafetensors(Path(absl::StrCat(folder, "/model.safetensors")));
        ASSERT_TRUE(file.ok()) << file.status();
        EXPECT_TRUE(torch::equal(file->tensors.at(absl::StrCat("model.layers.", layers, ".embed_tokens.weight")),
                                 file->tensors.at("model.embed_tokens.weight")));
        EXPECT_TRUE(torch::equal(file->tensors.at(absl::StrCat("model.layers.", layers, ".shared_head.head.weight")),
                                 file->tensors.at("lm_head.weight")));
      }
      if (::testing::Test::HasFailure()) return;
    }
  }
}

// A copy that differs from the main tensor would make the MTP layer compute
// with another embedding or head than r1's shared one: refused by name, also
// when the MTP layer sits in a shard of its own (as in the releases).
TEST_F(FamilyRoundTrip, DeepSeekV3MtpCopyThatDiffersFromTheMainTensorIsRefused) {
  const std::string json =
      With(With(GoldenConfig("deepseek_v3_a"), "torch_dtype", "\"bfloat16\""), "num_nextn_predict_layers", "1");
  WriteReleasedFolder(Path("released"), json, torch::kBFloat16);
  absl::StatusOr<SafetensorsFile> released = ReadSafetensors(Path("released/model.safetensors"));
  ASSERT_TRUE(released.ok()) << released.status();
  // Shard 2 holds layer 3, the MTP layer (3 main layers).
  const auto write_shards = [&](const std::map<std::string, torch::Tensor>& tensors) {
    std::vector<std::pair<std::string, torch::Tensor>> one, two;
    std::vector<std::string> map;
    for (const auto& [name, tensor] : tensors) {
      const bool mtp = name.rfind("model.layers.3.", 0) == 0;
      (mtp ? two : one).emplace_back(name, tensor);
      map.push_back(absl::StrCat("\"", name, "\": \"", mtp ? "b.safetensors" : "a.safetensors", "\""));
    }
    fs::create_directories(Path("sharded"));
    ASSERT_TRUE(WriteFileAtomically(Path("sharded/config.json"), json).ok());
    ASSERT_TRUE(WriteSafetensors(Path("sharded/a.safetensors"), one).ok());
    ASSERT_TRUE(WriteSafetensors(Path("sharded/b.safetensors"), two).ok());
    ASSERT_TRUE(WriteFileAtomically(Path("sharded/model.safetensors.index.json"),
                                    absl::StrCat("{\"weight_map\": {", absl::StrJoin(map, ", "), "}}"))
                    .ok());
  };
  write_shards(released->tensors);
  absl::StatusOr<CausalLm> loaded = LoadModel(Path("sharded"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  // r1's model holds one embedding and one head.
  for (const auto& [name, tensor] : NamedTensors(**loaded)) {
    EXPECT_EQ(name.find("shared_head.head"), std::string::npos) << name;
    EXPECT_EQ(name.find("layers.3.embed_tokens"), std::string::npos) << name;
  }

  for (const auto& [copy, main] : std::vector<std::pair<std::string, std::string>>{
           {"model.layers.3.embed_tokens.weight", "model.embed_tokens.weight"},
           {"model.layers.3.shared_head.head.weight", "lm_head.weight"}}) {
    SCOPED_TRACE(copy);
    std::map<std::string, torch::Tensor> tensors = released->tensors;
    torch::Tensor changed = tensors.at(copy).clone();
    // The very last value, moved by 1 toward 0's other side: never equal to
    // itself in bfloat16 (randn stays far below 256), unlike x * 2 + 1,
    // which is x when randn gives exactly -1 on some CPU's sampling path.
    const float last = changed.view({-1})[-1].item<float>();
    changed.view({-1})[-1] = last > 0 ? last - 1 : last + 1;
    tensors[copy] = changed;
    write_shards(tensors);
    const absl::Status refused = LoadModel(Path("sharded")).status();
    EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(refused.message()),
                HasSubstr(absl::StrCat(Path("sharded/b.safetensors"), ": tensor ", copy, " differs from ", main, " (",
                                       Path("sharded/a.safetensors"), ")")));
    EXPECT_THAT(std::string(refused.message()), HasSubstr("MTP modules share the main model's embedding and output head"));
    // The same through LoadTensors.
    absl::StatusOr<config::ModelConfig> c = ModelConfigFromJson(json, "config.json");
    ASSERT_TRUE(c.ok()) << c.status();
    CausalLm model = *MakeModel(*c);
    EXPECT_TRUE(LoadTensors(*model, released->tensors, "released").ok());
    EXPECT_THAT(std::string(LoadTensors(*model, tensors, "changed").message()),
                HasSubstr(absl::StrCat("changed: tensor ", copy, " differs from ", main)));
  }
  // Without MTP layers in the config, the copies are tensors the model does not have.
  const std::string without = With(json, "num_nextn_predict_layers", "0");
  fs::remove_all(Path("sharded"));
  fs::create_directories(Path("sharded"));
  ASSERT_TRUE(WriteFileAtomically(Path("sharded/config.json"), without).ok());
  std::vector<std::pair<std::string, torch::Tensor>> embed_copy;
  for (const auto& [name, tensor] : released->tensors) {
    if (name.rfind("model.layers.3.", 0) != 0 || name == "model.layers.3.embed_tokens.weight") {
      embed_copy.emplace_back(name, tensor);
    }
  }
  ASSERT_TRUE(WriteSafetensors(Path("sharded/model.safetensors"), embed_copy).ok());
  EXPECT_THAT(std::string(LoadModel(Path("sharded")).status().message()),
              HasSubstr("has tensor model.layers.3.embed_tokens.weight that the model does not"));
}

// ---------------------------------------------------------------------------
// r1's own models exported as the Hugging Face family of their layout.

// `model` away from its init (norms 1, biases 0, std 0.02), so that a
// misread norm, bias or scale shows in the logits.
void Randomize(CausalLmImpl& model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model.parameters()) {
    if (p.dim() == 2) {
      p.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(p.size(1))));
    } else {
      p.normal_(0.5, 0.3);
    }
  }
  for (auto& b : model.buffers()) b.normal_(0.0, 0.1);  // the MoE balancing bias
}

// SmallModelConfig's Llama with `change` applied.
config::ModelConfig OwnLlama(const std::function<void(config::ModelConfig&)>& change) {
  config::ModelConfig c = testing::SmallModelConfig(config::LLAMA, 40);
  change(c);
  return c;
}

// Qwen3-MoE's layout: q/k norm, softmax-routed experts.
config::ModelConfig OwnLlamaWithExperts(const std::function<void(config::ModelConfig&)>& change) {
  return OwnLlama([&](config::ModelConfig& c) {
    c.set_n_layers(4);
    c.set_qk_norm(true);
    c.set_n_routed_experts(4);
    c.set_n_activated_experts(2);
    c.set_moe_inter_dim(8);
    c.set_n_shared_experts(0);
    c.set_router_scoring(config::SOFTMAX);
    change(c);
  });
}

class OwnExport : public FamilyRoundTrip {
 protected:
  // Exports r1's own model `c` (random weights), then imports the export as
  // another tool would read it: config.json without r1's keys, no manifest.
  // It must be the same model: the family `family`, the same weights and
  // bit-identical logits.
  void ExportAndImportPlain(const config::ModelConfig& c, const std::string& family) {
    SCOPED_TRACE(c.ShortDebugString());
    for (const char* folder : {"own", "plain"}) fs::remove_all(Path(folder));
    ASSERT_TRUE(ValidateModel(c, "model").ok()) << ValidateModel(c, "model");
    ASSERT_TRUE(CheckHuggingFaceExportable(c).ok()) << CheckHuggingFaceExportable(c);
    torch::manual_seed(21);
    absl::StatusOr<CausalLm> model = MakeModel(c);
    ASSERT_TRUE(model.ok()) << model.status();
    Randomize(**model);
    ASSERT_TRUE(ExportHuggingFace(Path("own"), **model, *tokenizer_).ok());

    Struct root = ParseStruct(*ReadFile(Path("own/config.json")));
    EXPECT_EQ(root.fields().at("model_type").string_value(), family);
    ASSERT_EQ(root.mutable_fields()->erase("r1_model_config"), 1u);
    ASSERT_EQ(root.mutable_fields()->erase("r1_format_version"), 1u);
    fs::create_directories(Path("plain"));
    ASSERT_TRUE(WriteFileAtomically(Path("plain/config.json"), ToText(root)).ok());
    fs::copy_file(Path("own/model.safetensors"), Path("plain/model.safetensors"));
    absl::StatusOr<CausalLm> plain = LoadModel(Path("plain"));
    ASSERT_TRUE(plain.ok()) << plain.status();
    EXPECT_EQ((*plain)->config().family(), family);

    const auto ours = NamedTensors(**model);
    const auto theirs = NamedTensors(**plain);
    ASSERT_EQ(ours.size(), theirs.size());
    for (size_t i = 0; i < ours.size(); ++i) {
      EXPECT_EQ(ours[i].first, theirs[i].first);
      EXPECT_TRUE(torch::equal(ours[i].second, theirs[i].second)) << ours[i].first;
    }
    torch::NoGradGuard no_grad;
    const torch::Tensor tokens = torch::randint(0, c.vocab_size(), {2, 12}, torch::kInt64);
    const torch::Tensor expected = (*model)->Forward(tokens, nullptr, {}).logits;
    const torch::Tensor got = (*plain)->Forward(tokens, nullptr, {}).logits;
    EXPECT_TRUE(torch::equal(got, expected)) << "max |diff| " << (got - expected).abs().max().item<double>();
    EXPECT_GT(expected.std().item<double>(), 0.1);

    // And r1's own reload of the export is exact, whatever the keys say.
    absl::StatusOr<CausalLm> exact = LoadModel(Path("own"));
    ASSERT_TRUE(exact.ok()) << exact.status();
    EXPECT_TRUE(MessageDifferencer::Equals((*exact)->config(), c));
  }
};

TEST_F(OwnExport, LlamaWithQkNormGoesOutAsQwen3) {
  ExportAndImportPlain(OwnLlama([](config::ModelConfig& c) { c.set_qk_norm(true); }), "qwen3");
  // With biases on q, k, v and o (Qwen3's attention_bias) and its own head width.
  ExportAndImportPlain(OwnLlama([](config::ModelConfig& c) {
                         c.set_qk_norm(true);
                         c.set_qkv_bias(true);
                         c.set_o_bias(true);
                         c.set_head_dim(16);
                         c.set_tie_embeddings(true);
                       }),
                       "qwen3");
}

TEST_F(OwnExport, LlamaWithLlama3ScalingAndItsOwnHeadWidthGoesOutAsLlama) {
  ExportAndImportPlain(OwnLlama([](config::ModelConfig& c) {
                         c.set_head_dim(16);  // dim 32 / 4 heads would be 8
                         c.set_rope_theta(500000);
                         config::RopeScaling& s = *c.mutable_rope_scaling();
                         s.set_type("llama3");
                         s.set_factor(8);
                         s.set_low_freq_factor(1);
                         s.set_high_freq_factor(4);
                         s.set_original_max_position_embeddings(8);
                       }),
                       "llama");
  // Llama's attention_bias (q, k, v and o) and mlp_bias, with linear scaling.
  ExportAndImportPlain(OwnLlama([](config::ModelConfig& c) {
                         c.set_qkv_bias(true);
                         c.set_o_bias(true);
                         c.set_mlp_bias(true);
                         c.mutable_rope_scaling()->set_type("linear");
                         c.mutable_rope_scaling()->set_factor(2);
                       }),
                       "llama");
}

TEST_F(OwnExport, LlamaWithQkvBiasesOnlyGoesOutAsQwen2) {
  ExportAndImportPlain(OwnLlama([](config::ModelConfig& c) {
                         c.set_qkv_bias(true);
                         c.set_tie_embeddings(true);
                       }),
                       "qwen2");
}

// Every placement of the dense layers (n_dense_layers, moe_layer_freq,
// dense_layers) is written as Qwen3-MoE's mlp_only_layers.
TEST_F(OwnExport, LlamaWithExpertsGoesOutAsQwen3Moe) {
  ExportAndImportPlain(OwnLlamaWithExperts([](config::ModelConfig& c) {
                         c.set_n_dense_layers(1);
                         c.set_moe_layer_freq(2);  // routes at layer 2 only
                         c.set_norm_topk_prob(false);
                       }),
                       "qwen3_moe");
  ExportAndImportPlain(OwnLlamaWithExperts([](config::ModelConfig& c) {
                         c.add_dense_layers(2);  // routes at 0, 1 and 3
                         c.set_norm_topk_prob(true);
                         c.set_qkv_bias(true);
                         c.set_o_bias(true);
                         config::RopeScaling& s = *c.mutable_rope_scaling();
                         s.set_type("yarn");
                         s.set_factor(4);
                         s.set_original_max_position_embeddings(16);
                         s.set_beta_fast(16);
                       }),
                       "qwen3_moe");
}

// DeepSeek-V3's keys: group-limited routing, every other layer routing,
// norm_topk_prob, YaRN with its softmax mscale, full-rank queries, and the
// MTP layer with its copies of the embedding and head.
TEST_F(OwnExport, DeepSeekV3GoesOutWithItsRoutingAndScaling) {
  config::ModelConfig c = testing::SmallModelConfig(config::DEEPSEEK_V3, 40);
  c.set_n_dense_layers(0);
  c.set_moe_layer_freq(2);  // routes at 0 and 2
  c.add_dense_layers(1);    // dense already: nothing DeepSeek-V3's keys cannot say
  c.set_n_group(3);
  c.set_topk_group(2);
  c.set_norm_topk_prob(false);
  c.set_routed_scaling_factor(1.5);
  c.set_q_lora_rank(0);
  config::RopeScaling& s = *c.mutable_rope_scaling();
  s.set_type("yarn");
  s.set_factor(4);
  s.set_original_max_position_embeddings(16);
  s.set_mscale(1);
  s.set_mscale_all_dim(0.8);
  ExportAndImportPlain(c, "deepseek_v3");
  absl::StatusOr<SafetensorsFile> file = ReadSafetensors(Path("own/model.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(torch::equal(file->tensors.at("model.layers.3.embed_tokens.weight"),
                           file->tensors.at("model.embed_tokens.weight")));
  EXPECT_TRUE(torch::equal(file->tensors.at("model.layers.3.shared_head.head.weight"),
                           file->tensors.at("lm_head.weight")));
}

// What no Hugging Face family's config.json can say: export refuses, naming
// the field, before writing anything; the checkpoint still keeps the exact
// config.
TEST_F(OwnExport, FieldsNoFamilyExpressesAreRefusedByName) {
  config::ModelConfig deepseek = testing::SmallModelConfig(config::DEEPSEEK_V3, 40);
  deepseek.add_dense_layers(2);  // layer 2 would route by first_k_dense_replace and moe_layer_freq
  const std::vector<std::pair<config::ModelConfig, const char*>> cases = {
      {OwnLlama([](config::ModelConfig& c) { c.set_o_bias(true); }), "model.o_bias"},
      {OwnLlama([](config::ModelConfig& c) {
         c.set_qk_norm(true);
         c.set_qkv_bias(true);
       }),
       "model.qkv_bias"},
      {OwnLlama([](config::ModelConfig& c) {
         c.set_qk_norm(true);
         c.set_mlp_bias(true);
       }),
       "model.mlp_bias"},
      {OwnLlama([](config::ModelConfig& c) {
         c.set_qkv_bias(true);
         c.set_mlp_bias(true);
       }),
       "model.mlp_bias"},
      {OwnLlamaWithExperts([](config::ModelConfig& c) { c.clear_qk_norm(); }), "model.n_routed_experts"},
      {OwnLlamaWithExperts([](config::ModelConfig& c) { c.set_router_scoring(config::SIGMOID); }),
       "model.router_scoring"},
      {OwnLlamaWithExperts([](config::ModelConfig& c) { c.set_n_shared_experts(1); }), "model.n_shared_experts"},
      {OwnLlamaWithExperts([](config::ModelConfig& c) { c.set_routed_scaling_factor(2); }),
       "model.routed_scaling_factor"},
      {OwnLlamaWithExperts([](config::ModelConfig& c) {
         c.set_n_group(2);
         c.set_topk_group(1);
       }),
       "model.n_group"},
      {OwnLlamaWithExperts([](config::ModelConfig& c) { c.set_mlp_bias(true); }), "model.mlp_bias"},
      {deepseek, "model.dense_layers"},
  };
  for (const auto& [c, field] : cases) {
    SCOPED_TRACE(c.ShortDebugString());
    ASSERT_TRUE(ValidateModel(c, "model").ok()) << ValidateModel(c, "model");
    absl::StatusOr<CausalLm> model = MakeModel(c);
    ASSERT_TRUE(model.ok()) << model.status();
    const absl::Status refused = ExportHuggingFace(Path("own"), **model, *tokenizer_);
    EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(refused.message()), HasSubstr(absl::StrCat("cannot export ", Path("own"), ": ", field)));
    EXPECT_THAT(std::string(refused.message()), HasSubstr("transformers would read the exported config.json"));
    EXPECT_EQ(CheckHuggingFaceExportable(c).code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_FALSE(fs::exists(Path("own")));
    // r1's own checkpoint reloads the exact config.
    absl::StatusOr<config::ModelConfig> back = ModelConfigFromJson(ModelConfigToJson(c, 1, 2, 3), "config.json");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_TRUE(MessageDifferencer::Equals(*back, c)) << back->DebugString();
  }
  ASSERT_TRUE(SaveCheckpoint(Path("ckpt"), **MakeModel(cases[0].first), &*tokenizer_, nullptr).ok());
  absl::StatusOr<CausalLm> back = LoadModel(Path("ckpt"));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(MessageDifferencer::Equals((*back)->config(), cases[0].first));
}

// ModelTensorElements counts what MakeModel builds and what the families'
// released files hold, for every layout the families import.
TEST(ModelTensorElements, CountsEveryFamilysTensors) {
  for (const char* name : kGoldenFamilies) {
    SCOPED_TRACE(name);
    absl::StatusOr<config::ModelConfig> c = ModelConfigFromJson(GoldenConfig(name), "config.json");
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE(ValidateModel(*c, "model").ok()) << ValidateModel(*c, "model");
    absl::StatusOr<CausalLm> model = MakeModel(*c);
    ASSERT_TRUE(model.ok()) << model.status();
    double built = 0;
    for (const auto& [tensor_name, tensor] : NamedTensors(**model)) built += static_cast<double>(tensor.numel());
    EXPECT_EQ(ModelTensorElements(*c), built);
    absl::StatusOr<SafetensorsFile> file =
        ReadSafetensors(absl::StrCat("tests/golden/families/", name, "/model.safetensors"));
    ASSERT_TRUE(file.ok()) << file.status();
    double held = 0;
    for (const auto& [tensor_name, tensor] : file->tensors) held += static_cast<double>(tensor.numel());
    EXPECT_EQ(ModelTensorElements(*c), held);
  }
  // Features the golden folders do not combine: o_bias without qkv_bias,
  // shared experts and sigmoid routing in the GQA layout, DeepSeek-V3 with
  // dense_layers, moe_layer_freq and MTP.
  config::ModelConfig llama = testing::SmallModelConfig(config::LLAMA, 40);
  llama.set_o_bias(true);
  llama.set_mlp_bias(true);
  llama.set_n_routed_experts(4);
  llama.set_n_activated_experts(2);
  llama.set_moe_inter_dim(8);
  llama.set_n_shared_experts(1);
  llama.add_dense_layers(0);
  config::ModelConfig deepseek = testing::SmallModelConfig(config::DEEPSEEK_V3, 40);
  deepseek.set_n_dense_layers(0);
  deepseek.set_moe_layer_freq(2);
  deepseek.add_dense_layers(2);
  deepseek.set_n_mtp_modules(2);
  for (const config::ModelConfig& c : {llama, deepseek}) {
    ASSERT_TRUE(ValidateModel(c, "model").ok()) << ValidateModel(c, "model");
    absl::StatusOr<CausalLm> model = MakeModel(c);
    ASSERT_TRUE(model.ok()) << model.status();
    double built = 0;
    for (const auto& [tensor_name, tensor] : NamedTensors(**model)) built += static_cast<double>(tensor.numel());
    EXPECT_EQ(ModelTensorElements(c), built) << c.DebugString();
  }
}

}  // namespace
}  // namespace r1::model
