#include "model/families.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/status.h"
#include "model/checkpoint.h"
#include "model/moe.h"  // LayerRoutes

namespace r1::model {
namespace {

using config::ModelConfig;
using google::protobuf::Struct;
using google::protobuf::Value;

constexpr char kR1ModelConfigKey[] = "r1_model_config";
constexpr char kFormatVersionKey[] = "r1_format_version";

bool IsR1Key(absl::string_view key) { return key == kR1ModelConfigKey || key == kFormatVersionKey; }

// ---------------------------------------------------------------------------
// The key tables. kRead keys are consumed by the Read* functions below (an
// import checks that every kRead key present was read, so a table and its
// code cannot drift apart); kInert keys are accepted with any value.

constexpr KeyRole R = KeyRole::kRead;
constexpr KeyRole I = KeyRole::kInert;

// Keys every family's config.json may carry: the decoder sizes and RoPE that
// all six share, and transformers' PretrainedConfig attributes.
constexpr FamilyKey kCommonKeys[] = {
    {"model_type", R, "selects the family"},
    {"vocab_size", R, "vocab_size (required)"},
    {"hidden_size", R, "dim (required)"},
    {"num_hidden_layers", R, "n_layers (required)"},
    {"num_attention_heads", R, "n_heads (required)"},
    {"max_position_embeddings", R, "max_seq_len"},
    {"rope_theta", R, "rope_theta (absent: 10000)"},
    {"rope_scaling", R, "rope_scaling: null/default, linear, llama3 or yarn; others refused"},
    {"rope_parameters", R, "transformers 5's rope_theta + rope_scaling in one object"},
    {"partial_rotary_factor", R, "must be 1: r1 rotates every dim of a head"},
    {"rms_norm_eps", R, "rms_norm_eps (absent: 1e-6)"},
    {"hidden_act", R, "must be silu (SwiGLU)"},
    {"attention_dropout", R, "must be 0: dropout would change training"},
    {"tie_word_embeddings", R, "tie_embeddings (absent: false)"},
    {"torch_dtype", R, "run dtype: bfloat16 -> BFLOAT16, float32 and float16 -> FLOAT32; export writes it back"},
    {"dtype", R, "newer spelling of torch_dtype"},
    {"quantization_config", R, "refused: r1 does not run quantized weights"},
    {"pruned_heads", R, "must be empty: pruned heads change the attention"},
    {"is_encoder_decoder", R, "must be false: decoder-only families"},
    {"add_cross_attention", R, "must be false: no cross-attention in a causal LM"},
    {"architectures", I, "names transformers' class; the family is chosen by model_type"},
    {"transformers_version", I, "the version of transformers that wrote the file"},
    {"_name_or_path", I, "where transformers loaded the model from"},
    {"name_or_path", I, "where transformers loaded the model from"},
    {"_commit_hash", I, "the Hub revision transformers loaded"},
    {"auto_map", I, "remote-code class names; r1 runs its own implementation of the family"},
    {"bos_token_id", I, "a tokenizer id: r1 takes ids from the tokenizer (export writes them back)"},
    {"eos_token_id", I, "a tokenizer id: r1 takes ids from the tokenizer (export writes them back)"},
    {"pad_token_id", I, "a tokenizer id: r1 takes ids from the tokenizer (export writes them back)"},
    {"sep_token_id", I, "a tokenizer id"},
    {"decoder_start_token_id", I, "encoder-decoder generation only"},
    {"use_cache", I, "whether transformers keeps a KV cache: the same values either way"},
    {"initializer_range", I, "initializes new weights; imported weights are loaded"},
    {"output_attentions", I, "what transformers' forward returns"},
    {"output_hidden_states", I, "what transformers' forward returns"},
    {"return_dict", I, "what transformers' forward returns"},
    {"torchscript", I, "transformers' TorchScript export switch"},
    {"use_bfloat16", I, "TensorFlow-era flag, superseded by torch_dtype"},
    {"tf_legacy_loss", I, "TensorFlow loss switch"},
    {"is_decoder", I, "a decoder-only model is a decoder either way"},
    {"cross_attention_hidden_size", I, "used only with add_cross_attention (refused)"},
    {"tie_encoder_decoder", I, "encoder-decoder models only"},
    {"chunk_size_feed_forward", I, "not read by these families' models (and chunking would not change values)"},
    {"finetuning_task", I, "classification heads, not the causal LM"},
    {"id2label", I, "classification heads, not the causal LM"},
    {"label2id", I, "classification heads, not the causal LM"},
    {"num_labels", I, "classification heads, not the causal LM"},
    {"problem_type", I, "classification heads, not the causal LM"},
    {"task_specific_params", I, "pipeline hints"},
    {"prefix", I, "pipeline hints"},
    {"tokenizer_class", I, "tokenizer hint; r1 loads the folder's tokenizer"},
    {"attn_implementation", I, "kernel choice of transformers: the same function"},
    {"_attn_implementation", I, "kernel choice of transformers: the same function"},
    {"_attn_implementation_autoset", I, "kernel choice of transformers: the same function"},
    // Generation defaults of old transformers configs: r1's sampling config decides.
    {"max_length", I, "generation default; r1's sampling config decides"},
    {"min_length", I, "generation default; r1's sampling config decides"},
    {"do_sample", I, "generation default; r1's sampling config decides"},
    {"early_stopping", I, "generation default; r1's sampling config decides"},
    {"num_beams", I, "generation default; r1's sampling config decides"},
    {"num_beam_groups", I, "generation default; r1's sampling config decides"},
    {"diversity_penalty", I, "generation default; r1's sampling config decides"},
    {"temperature", I, "generation default; r1's sampling config decides"},
    {"top_k", I, "generation default; r1's sampling config decides"},
    {"top_p", I, "generation default; r1's sampling config decides"},
    {"typical_p", I, "generation default; r1's sampling config decides"},
    {"repetition_penalty", I, "generation default; r1's sampling config decides"},
    {"length_penalty", I, "generation default; r1's sampling config decides"},
    {"no_repeat_ngram_size", I, "generation default; r1's sampling config decides"},
    {"encoder_no_repeat_ngram_size", I, "generation default; r1's sampling config decides"},
    {"bad_words_ids", I, "generation default; r1's sampling config decides"},
    {"num_return_sequences", I, "generation default; r1's sampling config decides"},
    {"output_scores", I, "generation default; r1's sampling config decides"},
    {"return_dict_in_generate", I, "generation default; r1's sampling config decides"},
    {"forced_bos_token_id", I, "generation default; r1's sampling config decides"},
    {"forced_eos_token_id", I, "generation default; r1's sampling config decides"},
    {"remove_invalid_values", I, "generation default; r1's sampling config decides"},
    {"exponential_decay_length_penalty", I, "generation default; r1's sampling config decides"},
    {"suppress_tokens", I, "generation default; r1's sampling config decides"},
    {"begin_suppress_tokens", I, "generation default; r1's sampling config decides"},
};

// transformers' LlamaConfig.
constexpr FamilyKey kLlamaKeys[] = {
    {"intermediate_size", R, "ffn_hidden_dim (required)"},
    {"num_key_value_heads", R, "n_kv_heads (absent: num_attention_heads)"},
    {"head_dim", R, "head_dim (absent: hidden_size / num_attention_heads)"},
    {"attention_bias", R, "qkv_bias and o_bias"},
    {"mlp_bias", R, "mlp_bias"},
    {"pretraining_tp", I, "transformers slices the same matmuls into this many pieces: the same function"},
};

// transformers' MistralConfig.
constexpr FamilyKey kMistralKeys[] = {
    {"intermediate_size", R, "ffn_hidden_dim (required)"},
    {"num_key_value_heads", R, "n_kv_heads (absent: 8)"},
    {"head_dim", R, "head_dim (absent: hidden_size / num_attention_heads)"},
    {"sliding_window", R, "null or >= max_position_embeddings; a shorter window is refused (no sliding-window attention)"},
    {"layer_types", R, "accepted only when every entry is \"full_attention\""},
};

// transformers' Qwen2Config. q/k/v carry biases, o_proj does not.
constexpr FamilyKey kQwen2Keys[] = {
    {"intermediate_size", R, "ffn_hidden_dim (required)"},
    {"num_key_value_heads", R, "n_kv_heads (absent: 32)"},
    {"head_dim", R, "head_dim (absent: hidden_size / num_attention_heads)"},
    {"use_sliding_window", R, "must be false: r1 has no sliding-window attention"},
    {"layer_types", R, "accepted only when every entry is \"full_attention\""},
    {"sliding_window", I, "used only when use_sliding_window is true (refused)"},
    {"max_window_layers", I, "used only when use_sliding_window is true (refused)"},
    {"use_mrope", I, "not read by transformers' Qwen2 model (a Qwen2-VL leftover in Qwen2.5 configs)"},
};

// transformers' Qwen3Config. Per-head RMSNorm on q and k.
constexpr FamilyKey kQwen3Keys[] = {
    {"intermediate_size", R, "ffn_hidden_dim (required)"},
    {"num_key_value_heads", R, "n_kv_heads (absent: 32)"},
    {"head_dim", R, "head_dim (absent: 128)"},
    {"attention_bias", R, "qkv_bias and o_bias"},
    {"use_sliding_window", R, "must be false: r1 has no sliding-window attention"},
    {"layer_types", R, "accepted only when every entry is \"full_attention\""},
    {"sliding_window", I, "used only when use_sliding_window is true (refused)"},
    {"max_window_layers", I, "used only when use_sliding_window is true (refused)"},
};

// transformers' Qwen3MoeConfig. Per-head q/k RMSNorm; softmax router
// without shared experts or balancing bias.
constexpr FamilyKey kQwen3MoeKeys[] = {
    {"intermediate_size", R, "ffn_hidden_dim: the dense (mlp_only) layers (required)"},
    {"num_key_value_heads", R, "n_kv_heads (absent: 4)"},
    {"head_dim", R, "head_dim (absent: hidden_size / num_attention_heads)"},
    {"attention_bias", R, "qkv_bias and o_bias"},
    {"use_sliding_window", R, "must be false: r1 has no sliding-window attention"},
    {"layer_types", R, "accepted only when every entry is \"full_attention\""},
    {"num_experts", R, "n_routed_experts (absent: 128; 0 = every layer dense)"},
    {"num_experts_per_tok", R, "n_activated_experts (absent: 8)"},
    {"moe_intermediate_size", R, "moe_inter_dim (absent: 768)"},
    {"norm_topk_prob", R, "norm_topk_prob (absent: false)"},
    {"decoder_sparse_step", R, "dense_layers: layer i is dense when (i + 1) % step != 0 (absent: 1)"},
    {"mlp_only_layers", R, "dense_layers (absent: none)"},
    {"sliding_window", I, "used only when use_sliding_window is true (refused)"},
    {"max_window_layers", I, "used only when use_sliding_window is true (refused)"},
    {"router_aux_loss_coef", I, "transformers' training loss weight; r1 balances with its own seq_aux_loss_alpha"},
    {"output_router_logits", I, "whether transformers returns router logits (and adds its aux loss in training)"},
};

// transformers' DeepseekV3Config (and the keys of DeepSeek's own config.json).
constexpr FamilyKey kDeepSeekV3Keys[] = {
    {"intermediate_size", R, "inter_dim: the dense layers (required)"},
    {"moe_intermediate_size", R, "moe_inter_dim (absent: 2048)"},
    {"num_key_value_heads", R, "must equal num_attention_heads (MLA has no key/value groups)"},
    {"q_lora_rank", R, "q_lora_rank (null: 0, full-rank queries; absent: 1536)"},
    {"kv_lora_rank", R, "kv_lora_rank (required)"},
    {"qk_nope_head_dim", R, "qk_nope_head_dim (required)"},
    {"qk_rope_head_dim", R, "qk_rope_head_dim (required)"},
    {"v_head_dim", R, "v_head_dim (required)"},
    {"qk_head_dim", R, "must equal qk_nope_head_dim + qk_rope_head_dim"},
    {"head_dim", R, "must equal qk_rope_head_dim (transformers' rotary width)"},
    {"n_shared_experts", R, "n_shared_experts (absent: 1)"},
    {"n_routed_experts", R, "n_routed_experts (absent: 256; null refused)"},
    {"num_experts_per_tok", R, "n_activated_experts (absent: 8)"},
    {"routed_scaling_factor", R, "routed_scaling_factor (absent: 2.5)"},
    {"n_group", R, "n_group (absent: 8)"},
    {"topk_group", R, "topk_group (absent: 4)"},
    {"topk_method", R, "must be noaux_tc"},
    {"scoring_func", R, "must be sigmoid"},
    {"norm_topk_prob", R, "norm_topk_prob (absent: true)"},
    {"first_k_dense_replace", R, "n_dense_layers (absent: 3)"},
    {"moe_layer_freq", R, "moe_layer_freq (absent: 1)"},
    {"num_nextn_predict_layers", R, "n_mtp_modules (absent: 0)"},
    {"rope_interleave", R, "must be true: r1 rotates adjacent pairs, as DeepSeek's weights expect"},
    {"attention_bias", R, "must be false: r1's MLA has no biases"},
    {"pretraining_tp", I, "transformers slices the same matmuls into this many pieces: the same function"},
    {"ep_size", I, "expert-parallel degree of DeepSeek's own code: placement, not math"},
    {"aux_loss_alpha", I, "training loss weight; r1's seq_aux_loss_alpha applies"},
    {"seq_aux", I, "training switch; r1's seq_aux_loss_alpha and bias_update_speed apply"},
};

// ---------------------------------------------------------------------------
// JSON helpers.

Value Number(double v) {
  Value value;
  value.set_number_value(v);
  return value;
}
Value String(const std::string& s) {
  Value value;
  value.set_string_value(s);
  return value;
}
Value Bool(bool b) {
  Value value;
  value.set_bool_value(b);
  return value;
}
Value Null() {
  Value value;
  value.set_null_value(google::protobuf::NULL_VALUE);
  return value;
}

std::string ToJson(const google::protobuf::Message& message, bool whitespace) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = whitespace;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

// A JSON value as it would be written in a file (one line).
std::string ValueText(const Value& value) { return ToJson(value, false); }

// The exact ModelConfig as a JSON object.
Value ExactConfig(const ModelConfig& c) {
  Struct exact;
  (void)google::protobuf::util::JsonStringToMessage(ToJson(c, false), &exact);
  Value value;
  *value.mutable_struct_value() = exact;
  return value;
}

// A JSON object's members in file order, each value both as written (so that
// what r1 leaves alone is written back byte for byte) and parsed.
class JsonObject {
 public:
  struct Member {
    std::string key;         // decoded
    std::string key_text;    // as written, quotes included
    std::string value_text;  // as written
    Value value;
  };

  static absl::StatusOr<JsonObject> Parse(absl::string_view json, const std::string& source) {
    Struct parsed;
    if (auto s = google::protobuf::util::JsonStringToMessage(std::string(json), &parsed); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(source, " is not valid JSON: ", std::string(s.message())));
    }
    const auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(source, " is not a JSON object r1 can read: ", why));
    };
    JsonObject object;
    size_t i = SkipSpace(json, 0);
    if (i >= json.size() || json[i] != '{') return bad("it does not start with {");
    i = SkipSpace(json, i + 1);
    if (i < json.size() && json[i] == '}') return EndsAt(json, i + 1) ? absl::StatusOr<JsonObject>(object) : bad("text after }");
    while (true) {
      if (i >= json.size() || json[i] != '"') return bad("a key is not a string");
      const size_t key_end = StringEnd(json, i);
      if (key_end == absl::string_view::npos) return bad("an unterminated key");
      Member m;
      m.key_text = std::string(json.substr(i, key_end - i));
      m.key = m.key_text.substr(1, m.key_text.size() - 2);
      if (m.key.find('\\') != std::string::npos) {  // escapes: let the JSON parser decode the key
        Struct one;
        if (!google::protobuf::util::JsonStringToMessage(absl::StrCat("{", m.key_text, ": null}"), &one).ok() ||
            one.fields().size() != 1) {
          return bad(absl::StrCat("key ", m.key_text));
        }
        m.key = one.fields().begin()->first;
      }
      i = SkipSpace(json, key_end);
      if (i >= json.size() || json[i] != ':') return bad(absl::StrCat("no : after key ", m.key_text));
      i = SkipSpace(json, i + 1);
      const size_t value_end = ValueEnd(json, i);
      if (value_end == absl::string_view::npos || value_end == i) return bad(absl::StrCat("the value of ", m.key_text));
      m.value_text = std::string(json.substr(i, value_end - i));
      if (object.Find(m.key) != nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": key \"", m.key, "\" appears twice"));
      }
      const auto it = parsed.fields().find(m.key);
      if (it == parsed.fields().end()) return bad(absl::StrCat("key ", m.key_text));
      m.value = it->second;
      object.members_.push_back(std::move(m));
      i = SkipSpace(json, value_end);
      if (i < json.size() && json[i] == ',') {
        i = SkipSpace(json, i + 1);
        continue;
      }
      if (i < json.size() && json[i] == '}') return EndsAt(json, i + 1) ? absl::StatusOr<JsonObject>(object) : bad("text after }");
      return bad("a member is not followed by , or }");
    }
  }

  const std::vector<Member>& members() const { return members_; }

  const Member* Find(absl::string_view key) const {
    for (const Member& m : members_) {
      if (m.key == key) return &m;
    }
    return nullptr;
  }

  // Replaces the value of `key` (written anew) or appends the member.
  void Set(const std::string& key, const Value& value, const std::string& text) {
    for (Member& m : members_) {
      if (m.key == key) {
        m.value = value;
        m.value_text = text;
        return;
      }
    }
    members_.push_back({key, absl::StrCat("\"", key, "\""), text, value});
  }
  void Set(const std::string& key, const Value& value) { Set(key, value, ValueText(value)); }

  void Erase(absl::string_view key) {
    members_.erase(std::remove_if(members_.begin(), members_.end(), [&](const Member& m) { return m.key == key; }),
                   members_.end());
  }

  // The object with one member per line, values as written.
  std::string Text() const {
    if (members_.empty()) return "{}\n";
    std::string text = "{\n";
    for (size_t i = 0; i < members_.size(); ++i) {
      absl::StrAppend(&text, "  ", members_[i].key_text, ": ", members_[i].value_text,
                      i + 1 < members_.size() ? ",\n" : "\n");
    }
    return text + "}\n";
  }

 private:
  static bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  static size_t SkipSpace(absl::string_view s, size_t i) {
    while (i < s.size() && IsSpace(s[i])) ++i;
    return i;
  }
  static bool EndsAt(absl::string_view s, size_t i) { return SkipSpace(s, i) == s.size(); }
  // One past the closing quote of the string that opens at s[i], or npos.
  static size_t StringEnd(absl::string_view s, size_t i) {
    for (++i; i < s.size(); ++i) {
      if (s[i] == '\\') {
        ++i;
      } else if (s[i] == '"') {
        return i + 1;
      }
    }
    return absl::string_view::npos;
  }
  // One past the value that starts at s[i], or npos.
  static size_t ValueEnd(absl::string_view s, size_t i) {
    int depth = 0;
    for (; i < s.size(); ++i) {
      const char c = s[i];
      if (c == '"') {
        i = StringEnd(s, i);
        if (i == absl::string_view::npos) return i;
        if (depth == 0) return i;
        --i;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0) return i;
        if (--depth == 0) return i + 1;
      } else if (depth == 0 && (c == ',' || IsSpace(c))) {
        return i;
      }
    }
    return depth == 0 ? i : absl::string_view::npos;
  }

  std::vector<Member> members_;
};

// ---------------------------------------------------------------------------
// Reading an imported config.json.

// Typed access to the members of one JSON object (the file's root, or a
// nested object such as rope_scaling, whose keys are then named
// "rope_scaling.<key>" in messages). Records every key read.
class Fields {
 public:
  Fields(const Struct& object, std::string source, std::string prefix)
      : object_(object), source_(std::move(source)), prefix_(std::move(prefix)) {}

  // The value of `key`; nullptr when absent or null.
  const Value* Get(const std::string& key) const {
    read_.insert(key);
    const auto it = object_.fields().find(key);
    if (it == object_.fields().end() || it->second.kind_case() == Value::kNullValue) return nullptr;
    return &it->second;
  }
  bool Has(const std::string& key) const { return Get(key) != nullptr; }
  // Present, even if null.
  bool Present(const std::string& key) const {
    read_.insert(key);
    return object_.fields().contains(key);
  }
  const std::set<std::string>& read() const { return read_; }
  const Struct& object() const { return object_; }

  // `"<prefix><key>" <why>`, naming the file.
  absl::Status Error(const std::string& key, absl::string_view why) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": \"", prefix_, key, "\" ", why));
  }
  // A key whose value asks for what r1 does not compute.
  absl::Status Refuse(const std::string& key, absl::string_view why) const {
    const Value* value = Get(key);
    return Error(key, absl::StrCat("is ", value != nullptr ? ValueText(*value) : "null", ": ", why));
  }

  absl::StatusOr<double> Number(const std::string& key, std::optional<double> fallback) const {
    const Value* v = Get(key);
    if (v == nullptr) {
      if (fallback.has_value()) return *fallback;
      return absl::InvalidArgumentError(absl::StrCat(source_, " has no \"", prefix_, key, "\""));
    }
    if (v->kind_case() != Value::kNumberValue) return Error(key, "is not a number");
    return v->number_value();
  }
  absl::StatusOr<int> Int(const std::string& key, std::optional<int> fallback = std::nullopt) const {
    R1_ASSIGN_OR_RETURN(double v, Number(key, fallback));
    if (!(v >= -2147483648.0 && v <= 2147483647.0) || v != std::floor(v)) return Error(key, "is not an integer");
    return static_cast<int>(v);
  }
  absl::StatusOr<bool> Bool(const std::string& key, bool fallback) const {
    const Value* v = Get(key);
    if (v == nullptr) return fallback;
    if (v->kind_case() != Value::kBoolValue) return Error(key, "is not true or false");
    return v->bool_value();
  }
  absl::StatusOr<std::string> String(const std::string& key, const std::string& fallback) const {
    const Value* v = Get(key);
    if (v == nullptr) return fallback;
    if (v->kind_case() != Value::kStringValue) return Error(key, "is not a string");
    return v->string_value();
  }
  // A list of integers (absent or null: empty).
  absl::StatusOr<std::vector<int>> IntList(const std::string& key) const {
    const Value* v = Get(key);
    std::vector<int> out;
    if (v == nullptr) return out;
    if (v->kind_case() != Value::kListValue) return Error(key, "is not a list");
    for (const Value& item : v->list_value().values()) {
      if (item.kind_case() != Value::kNumberValue || item.number_value() != std::floor(item.number_value()) ||
          std::abs(item.number_value()) > 2147483647.0) {
        return Error(key, "is not a list of integers");
      }
      out.push_back(static_cast<int>(item.number_value()));
    }
    return out;
  }

  // Copies an integer key into the config (`fallback` nullopt: required).
  absl::Status CopyInt(const std::string& key, std::optional<int> fallback, ModelConfig& c,
                       void (ModelConfig::*set)(int32_t)) const {
    R1_ASSIGN_OR_RETURN(int value, Int(key, fallback));
    (c.*set)(value);
    return absl::OkStatus();
  }

  const std::string& source() const { return source_; }

 private:
  const Struct& object_;
  std::string source_;
  std::string prefix_;
  mutable std::set<std::string> read_;
};

// The keys of each RoPE scaling type besides its type key ("rope_type" or
// the older "type"), after transformers' modeling_rope_utils.
struct RopeType {
  const char* name;
  std::vector<std::string> keys;
};
const std::vector<RopeType>& RopeTypes() {
  static const auto* types = new std::vector<RopeType>{
      {"default", {}},
      {"linear", {"factor"}},
      {"llama3", {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}},
      {"yarn",
       {"factor", "original_max_position_embeddings", "beta_fast", "beta_slow", "mscale", "mscale_all_dim",
        "attention_factor", "truncate"}},
  };
  return *types;
}

// rope_scaling (or transformers 5's rope_parameters, which also carries
// rope_theta) onto c.rope_scaling. `label` names the key in messages.
absl::Status ReadRopeScaling(const Fields& root, const std::string& label, ModelConfig& c) {
  const Value* value = root.Get(label);
  if (value == nullptr) return absl::OkStatus();
  if (value->kind_case() != Value::kStructValue) return root.Error(label, "is not an object");
  const Fields r(value->struct_value(), root.source(), absl::StrCat(label, "."));
  R1_ASSIGN_OR_RETURN(std::string type, r.String("rope_type", ""));
  R1_ASSIGN_OR_RETURN(std::string old_type, r.String("type", ""));
  if (!type.empty() && !old_type.empty() && type != old_type) {
    return root.Error(label, absl::StrCat("has rope_type \"", type, "\" and type \"", old_type, "\""));
  }
  if (type.empty()) type = old_type;
  if (type.empty()) type = label == "rope_parameters" ? "default" : "";
  if (type.empty()) return root.Error(label, "has no rope_type");
  const auto known = std::find_if(RopeTypes().begin(), RopeTypes().end(),
                                  [&](const RopeType& t) { return type == t.name; });
  if (known == RopeTypes().end()) {
    return root.Error(label, absl::StrCat("has rope_type \"", type, "\", which r1 does not implement (it implements "
                                          "linear, llama3 and yarn; \"default\" or null for none)"));
  }
  // Every other key is refused by name: it could change the frequencies.
  std::vector<std::string> allowed = known->keys;
  allowed.insert(allowed.end(), {"rope_type", "type"});
  if (label == "rope_parameters") allowed.insert(allowed.end(), {"rope_theta", "partial_rotary_factor"});
  std::vector<std::string> present;
  for (const auto& [key, unused] : r.object().fields()) present.push_back(key);
  std::sort(present.begin(), present.end());
  for (const std::string& key : present) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return absl::InvalidArgumentError(absl::StrCat(root.source(), ": key \"", label, ".", key,
                                                     "\" is not supported by r1 for rope_type ", type,
                                                     " (it may change the computation)"));
    }
  }
  if (label == "rope_parameters") {
    R1_ASSIGN_OR_RETURN(double theta, r.Number("rope_theta", c.rope_theta()));
    c.set_rope_theta(theta);
    R1_ASSIGN_OR_RETURN(double partial, r.Number("partial_rotary_factor", 1.0));
    if (partial != 1) return r.Refuse("partial_rotary_factor", "r1 rotates every dim of a head (1 only)");
  }
  if (type == "default") return absl::OkStatus();

  config::RopeScaling& s = *c.mutable_rope_scaling();
  s.set_type(type);
  const int max_positions = c.max_seq_len();
  if (type == "linear") {
    R1_ASSIGN_OR_RETURN(double factor, r.Number("factor", std::nullopt));
    s.set_factor(factor);
  } else if (type == "llama3") {
    R1_ASSIGN_OR_RETURN(double factor, r.Number("factor", std::nullopt));
    R1_ASSIGN_OR_RETURN(double low, r.Number("low_freq_factor", std::nullopt));
    R1_ASSIGN_OR_RETURN(double high, r.Number("high_freq_factor", std::nullopt));
    R1_ASSIGN_OR_RETURN(int original, r.Int("original_max_position_embeddings", std::nullopt));
    s.set_factor(factor);
    s.set_low_freq_factor(low);
    s.set_high_freq_factor(high);
    s.set_original_max_position_embeddings(original);
  } else {  // yarn
    // Absent original length: max_position_embeddings. Absent factor: their
    // ratio. A factor that is given is used as given, as transformers 5 does
    // (some 4.x releases used the ratio whenever the original length was set).
    R1_ASSIGN_OR_RETURN(int original, r.Int("original_max_position_embeddings", max_positions));
    if (original <= 0) return r.Error("original_max_position_embeddings", "must be > 0");
    R1_ASSIGN_OR_RETURN(double factor, r.Number("factor", static_cast<double>(max_positions) / original));
    s.set_factor(factor);
    s.set_original_max_position_embeddings(original);
    for (const auto& [key, set] : std::initializer_list<std::pair<const char*, void (config::RopeScaling::*)(double)>>{
             {"beta_fast", &config::RopeScaling::set_beta_fast},
             {"beta_slow", &config::RopeScaling::set_beta_slow},
             {"mscale", &config::RopeScaling::set_mscale},
             {"mscale_all_dim", &config::RopeScaling::set_mscale_all_dim},
             {"attention_factor", &config::RopeScaling::set_attention_factor}}) {
      if (!r.Has(key)) continue;
      R1_ASSIGN_OR_RETURN(double v, r.Number(key, std::nullopt));
      (s.*set)(v);
    }
    R1_ASSIGN_OR_RETURN(bool truncate, r.Bool("truncate", true));
    if (!truncate) {
      return r.Refuse("truncate", "r1's YaRN rounds the correction range to whole dims (truncate true) only");
    }
  }
  return absl::OkStatus();
}

// What a family's config class assumes for absent keys that differ by family.
struct Defaults {
  int max_position_embeddings;
  int num_key_value_heads;  // 0: num_attention_heads
  int head_dim;             // 0: hidden_size / num_attention_heads
};

// The keys every family reads the same way.
absl::Status ReadCommon(const Fields& r, const Defaults& d, ModelConfig& c) {
  R1_RETURN_IF_ERROR(r.CopyInt("vocab_size", std::nullopt, c, &ModelConfig::set_vocab_size));
  R1_RETURN_IF_ERROR(r.CopyInt("hidden_size", std::nullopt, c, &ModelConfig::set_dim));
  R1_RETURN_IF_ERROR(r.CopyInt("num_hidden_layers", std::nullopt, c, &ModelConfig::set_n_layers));
  R1_RETURN_IF_ERROR(r.CopyInt("num_attention_heads", std::nullopt, c, &ModelConfig::set_n_heads));
  R1_RETURN_IF_ERROR(r.CopyInt("max_position_embeddings", d.max_position_embeddings, c, &ModelConfig::set_max_seq_len));
  R1_ASSIGN_OR_RETURN(double theta, r.Number("rope_theta", 10000.0));
  c.set_rope_theta(theta);
  R1_ASSIGN_OR_RETURN(double eps, r.Number("rms_norm_eps", 1e-6));
  c.set_rms_norm_eps(eps);

  if (r.Has("rope_parameters")) {
    if (r.Has("rope_scaling")) return r.Error("rope_parameters", "and \"rope_scaling\" are both given: give one");
    if (r.Has("rope_theta")) return r.Error("rope_parameters", "and \"rope_theta\" are both given: give one");
    R1_RETURN_IF_ERROR(ReadRopeScaling(r, "rope_parameters", c));
  } else {
    R1_RETURN_IF_ERROR(ReadRopeScaling(r, "rope_scaling", c));
  }
  R1_ASSIGN_OR_RETURN(double partial, r.Number("partial_rotary_factor", 1.0));
  if (partial != 1) return r.Refuse("partial_rotary_factor", "r1 rotates every dim of a head (1 only)");

  R1_ASSIGN_OR_RETURN(std::string act, r.String("hidden_act", "silu"));
  if (act != "silu") return r.Refuse("hidden_act", "r1's feed-forward layers are SwiGLU (silu only)");
  R1_ASSIGN_OR_RETURN(double dropout, r.Number("attention_dropout", 0.0));
  if (dropout != 0) {
    return r.Refuse("attention_dropout", "r1 has no attention dropout, and training with it would differ (0 only)");
  }
  R1_ASSIGN_OR_RETURN(bool tie, r.Bool("tie_word_embeddings", false));
  c.set_tie_embeddings(tie);

  // The run dtype. float16 files run in float32: r1 does not compute in
  // float16 (it overflows where bfloat16 does not), and float16 converts to
  // float32 exactly, so an export writes the same float16 values back.
  R1_ASSIGN_OR_RETURN(std::string dtype, r.String("dtype", ""));
  R1_ASSIGN_OR_RETURN(std::string torch_dtype, r.String("torch_dtype", ""));
  if (!dtype.empty() && !torch_dtype.empty() && dtype != torch_dtype) {
    return r.Error("dtype", absl::StrCat("is \"", dtype, "\" but \"torch_dtype\" is \"", torch_dtype, "\""));
  }
  const std::string& weights = dtype.empty() ? torch_dtype : dtype;
  if (weights == "bfloat16") {
    c.set_dtype(config::BFLOAT16);
  } else if (!weights.empty() && weights != "float32" && weights != "float16") {
    return r.Refuse(dtype.empty() ? "torch_dtype" : "dtype",
                    "r1 runs bfloat16, float32 and float16 (as float32) weights");
  }

  if (r.Has("quantization_config")) {
    return r.Error("quantization_config", "is present: r1 does not run quantized (e.g. fp8) weights; convert the "
                                          "checkpoint to bfloat16 and remove the key");
  }
  if (const Value* pruned = r.Get("pruned_heads");
      pruned != nullptr && !(pruned->kind_case() == Value::kStructValue && pruned->struct_value().fields().empty())) {
    return r.Refuse("pruned_heads", "r1 runs every head (empty only)");
  }
  for (const char* key : {"is_encoder_decoder", "add_cross_attention"}) {
    R1_ASSIGN_OR_RETURN(bool on, r.Bool(key, false));
    if (on) return r.Refuse(key, "r1 runs decoder-only causal LMs (false only)");
  }
  return absl::OkStatus();
}

// GQA attention and the dense FFN of the Llama-like families.
absl::Status ReadGqa(const Fields& r, const Defaults& d, ModelConfig& c) {
  c.set_arch(config::LLAMA);
  R1_RETURN_IF_ERROR(r.CopyInt("intermediate_size", std::nullopt, c, &ModelConfig::set_ffn_hidden_dim));
  R1_RETURN_IF_ERROR(r.CopyInt("num_key_value_heads", d.num_key_value_heads > 0 ? d.num_key_value_heads : c.n_heads(),
                               c, &ModelConfig::set_n_kv_heads));
  R1_ASSIGN_OR_RETURN(int head_dim, r.Int("head_dim", d.head_dim));
  if (head_dim != 0) c.set_head_dim(head_dim);  // 0: dim / n_heads
  return absl::OkStatus();
}

// "attention_bias" of Llama, Qwen3 and Qwen3-MoE: biases on q, k, v and o.
absl::Status ReadAttentionBias(const Fields& r, ModelConfig& c) {
  R1_ASSIGN_OR_RETURN(bool bias, r.Bool("attention_bias", false));
  if (bias) {
    c.set_qkv_bias(true);
    c.set_o_bias(true);
  }
  return absl::OkStatus();
}

absl::Status RefuseSlidingWindow(const Fields& r) {
  R1_ASSIGN_OR_RETURN(bool sliding, r.Bool("use_sliding_window", false));
  if (sliding) return r.Refuse("use_sliding_window", "r1 does not implement sliding-window attention (false only)");
  return absl::OkStatus();
}

absl::Status RequireFullAttention(const Fields& r) {
  const Value* types = r.Get("layer_types");
  if (types == nullptr) return absl::OkStatus();
  if (types->kind_case() != Value::kListValue) return r.Error("layer_types", "is not a list");
  for (int i = 0; i < types->list_value().values_size(); ++i) {
    const Value& t = types->list_value().values(i);
    if (t.kind_case() != Value::kStringValue || t.string_value() != "full_attention") {
      return r.Error("layer_types", absl::StrCat("[", i, "] is ", ValueText(t), ": r1 implements full attention only "
                                                 "(every entry \"full_attention\")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadLlama(const Fields& r, const Defaults& d, ModelConfig& c) {
  R1_RETURN_IF_ERROR(ReadGqa(r, d, c));
  R1_RETURN_IF_ERROR(ReadAttentionBias(r, c));
  R1_ASSIGN_OR_RETURN(bool mlp_bias, r.Bool("mlp_bias", false));
  if (mlp_bias) c.set_mlp_bias(true);
  return absl::OkStatus();
}

absl::Status ReadMistral(const Fields& r, const Defaults& d, ModelConfig& c) {
  R1_RETURN_IF_ERROR(ReadGqa(r, d, c));
  // The context r1 uses is max_position_embeddings: a window at least that
  // long never takes effect, a shorter one would.
  if (r.Has("sliding_window")) {
    R1_ASSIGN_OR_RETURN(int window, r.Int("sliding_window"));
    if (window < c.max_seq_len()) {
      return r.Refuse("sliding_window",
                      absl::StrCat("shorter than the context r1 uses (max_position_embeddings ", c.max_seq_len(),
                                   "), and r1 does not implement sliding-window attention (null, or a window of at "
                                   "least max_position_embeddings, only)"));
    }
  }
  return RequireFullAttention(r);
}

absl::Status ReadQwen2(const Fields& r, const Defaults& d, ModelConfig& c) {
  R1_RETURN_IF_ERROR(ReadGqa(r, d, c));
  c.set_qkv_bias(true);
  R1_RETURN_IF_ERROR(RefuseSlidingWindow(r));
  return RequireFullAttention(r);
}

absl::Status ReadQwen3Attention(const Fields& r, const Defaults& d, ModelConfig& c) {
  R1_RETURN_IF_ERROR(ReadGqa(r, d, c));
  R1_RETURN_IF_ERROR(ReadAttentionBias(r, c));
  c.set_qk_norm(true);
  R1_RETURN_IF_ERROR(RefuseSlidingWindow(r));
  return RequireFullAttention(r);
}

absl::Status ReadQwen3(const Fields& r, const Defaults& d, ModelConfig& c) { return ReadQwen3Attention(r, d, c); }

absl::Status ReadQwen3Moe(const Fields& r, const Defaults& d, ModelConfig& c) {
  R1_RETURN_IF_ERROR(ReadQwen3Attention(r, d, c));
  R1_ASSIGN_OR_RETURN(int experts, r.Int("num_experts", 128));
  R1_ASSIGN_OR_RETURN(int top_k, r.Int("num_experts_per_tok", 8));
  R1_ASSIGN_OR_RETURN(int expert_width, r.Int("moe_intermediate_size", 768));
  R1_ASSIGN_OR_RETURN(bool norm_topk_prob, r.Bool("norm_topk_prob", false));
  R1_ASSIGN_OR_RETURN(int step, r.Int("decoder_sparse_step", 1));
  if (step < 1) return r.Refuse("decoder_sparse_step", "must be >= 1 (every step-th layer routes)");
  R1_ASSIGN_OR_RETURN(std::vector<int> mlp_only, r.IntList("mlp_only_layers"));
  for (int layer : mlp_only) {
    if (layer < 0 || layer >= c.n_layers()) {
      return r.Error("mlp_only_layers", absl::StrCat("lists layer ", layer, ", outside 0 .. num_hidden_layers - 1 (",
                                                     c.n_layers() - 1, ")"));
    }
  }
  // transformers: layer i routes when num_experts > 0, i is not in
  // mlp_only_layers and (i + 1) % decoder_sparse_step == 0.
  for (int i = 0; i < c.n_layers(); ++i) {
    const bool listed = std::find(mlp_only.begin(), mlp_only.end(), i) != mlp_only.end();
    if (experts == 0 || listed || (i + 1) % step != 0) c.add_dense_layers(i);
  }
  if (experts == 0) return absl::OkStatus();
  c.set_n_routed_experts(experts);
  c.set_n_activated_experts(top_k);
  c.set_moe_inter_dim(expert_width);
  c.set_n_shared_experts(0);
  c.set_routed_scaling_factor(1);
  c.set_router_scoring(config::SOFTMAX);
  c.set_norm_topk_prob(norm_topk_prob);
  return absl::OkStatus();
}

absl::Status ReadDeepSeekV3(const Fields& r, const Defaults&, ModelConfig& c) {
  using M = ModelConfig;
  c.set_arch(config::DEEPSEEK_V3);
  if (c.tie_embeddings()) return r.Refuse("tie_word_embeddings", "DeepSeek-V3 has its own lm_head (false only)");
  c.clear_tie_embeddings();
  R1_RETURN_IF_ERROR(r.CopyInt("intermediate_size", std::nullopt, c, &M::set_inter_dim));
  if (r.Present("q_lora_rank") && !r.Has("q_lora_rank")) {
    c.set_q_lora_rank(0);  // null: queries at full rank
  } else {
    R1_RETURN_IF_ERROR(r.CopyInt("q_lora_rank", 1536, c, &M::set_q_lora_rank));
  }
  R1_RETURN_IF_ERROR(r.CopyInt("kv_lora_rank", std::nullopt, c, &M::set_kv_lora_rank));
  R1_RETURN_IF_ERROR(r.CopyInt("qk_nope_head_dim", std::nullopt, c, &M::set_qk_nope_head_dim));
  R1_RETURN_IF_ERROR(r.CopyInt("qk_rope_head_dim", std::nullopt, c, &M::set_qk_rope_head_dim));
  R1_RETURN_IF_ERROR(r.CopyInt("v_head_dim", std::nullopt, c, &M::set_v_head_dim));
  R1_RETURN_IF_ERROR(r.CopyInt("moe_intermediate_size", 2048, c, &M::set_moe_inter_dim));
  R1_RETURN_IF_ERROR(r.CopyInt("n_shared_experts", 1, c, &M::set_n_shared_experts));
  if (r.Present("n_routed_experts") && !r.Has("n_routed_experts")) {
    return r.Refuse("n_routed_experts", "DeepSeek's code reads null as a model without routed experts, which r1's "
                                        "DeepSeek-V3 layout does not have (give the number of experts)");
  }
  R1_RETURN_IF_ERROR(r.CopyInt("n_routed_experts", 256, c, &M::set_n_routed_experts));
  R1_RETURN_IF_ERROR(r.CopyInt("num_experts_per_tok", 8, c, &M::set_n_activated_experts));
  R1_RETURN_IF_ERROR(r.CopyInt("n_group", 8, c, &M::set_n_group));
  R1_RETURN_IF_ERROR(r.CopyInt("topk_group", 4, c, &M::set_topk_group));
  R1_RETURN_IF_ERROR(r.CopyInt("first_k_dense_replace", 3, c, &M::set_n_dense_layers));
  R1_RETURN_IF_ERROR(r.CopyInt("moe_layer_freq", 1, c, &M::set_moe_layer_freq));
  R1_RETURN_IF_ERROR(r.CopyInt("num_nextn_predict_layers", 0, c, &M::set_n_mtp_modules));
  R1_ASSIGN_OR_RETURN(double scaling, r.Number("routed_scaling_factor", 2.5));
  c.set_routed_scaling_factor(scaling);
  R1_ASSIGN_OR_RETURN(bool norm_topk_prob, r.Bool("norm_topk_prob", true));
  c.set_norm_topk_prob(norm_topk_prob);

  R1_ASSIGN_OR_RETURN(int kv_heads, r.Int("num_key_value_heads", c.n_heads()));
  if (kv_heads != c.n_heads()) {
    return r.Refuse("num_key_value_heads", absl::StrCat("MLA gives every head its own keys and values: it must equal "
                                                        "num_attention_heads (", c.n_heads(), ")"));
  }
  const int qk_head_dim = c.qk_nope_head_dim() + c.qk_rope_head_dim();
  R1_ASSIGN_OR_RETURN(int given_qk_head_dim, r.Int("qk_head_dim", qk_head_dim));
  if (given_qk_head_dim != qk_head_dim) {
    return r.Refuse("qk_head_dim", absl::StrCat("it must equal qk_nope_head_dim + qk_rope_head_dim (", qk_head_dim, ")"));
  }
  R1_ASSIGN_OR_RETURN(int head_dim, r.Int("head_dim", c.qk_rope_head_dim()));
  if (head_dim != c.qk_rope_head_dim()) {
    return r.Refuse("head_dim", absl::StrCat("transformers rotates head_dim dims, so it must equal qk_rope_head_dim (",
                                             c.qk_rope_head_dim(), ")"));
  }
  R1_ASSIGN_OR_RETURN(std::string topk_method, r.String("topk_method", "noaux_tc"));
  if (topk_method != "noaux_tc") {
    return r.Refuse("topk_method", "r1 implements DeepSeek-V3's noaux_tc routing only (group-limited top-k on "
                                   "bias-corrected sigmoid affinities)");
  }
  R1_ASSIGN_OR_RETURN(std::string scoring, r.String("scoring_func", "sigmoid"));
  if (scoring != "sigmoid") return r.Refuse("scoring_func", "DeepSeek-V3's router scores with sigmoid only");
  R1_ASSIGN_OR_RETURN(bool interleave, r.Bool("rope_interleave", true));
  if (!interleave) {
    return r.Refuse("rope_interleave", "r1 rotates adjacent pairs, the layout of DeepSeek-V3's weights (true only)");
  }
  R1_ASSIGN_OR_RETURN(bool bias, r.Bool("attention_bias", false));
  if (bias) return r.Refuse("attention_bias", "r1's MLA projections have no biases (false only)");
  return absl::OkStatus();
}

// The registry. An import runs ReadCommon, then the family's `read`.
struct Family {
  const char* model_type;
  absl::Span<const FamilyKey> keys;
  Defaults defaults;  // of the config class, where families differ
  absl::Status (*read)(const Fields&, const Defaults&, ModelConfig&);
};

const std::vector<Family>& Families() {
  static const auto* families = new std::vector<Family>{
      {"llama", kLlamaKeys, {2048, 0, 0}, &ReadLlama},
      {"mistral", kMistralKeys, {4096 * 32, 8, 0}, &ReadMistral},
      {"qwen2", kQwen2Keys, {32768, 32, 0}, &ReadQwen2},
      {"qwen3", kQwen3Keys, {32768, 32, 128}, &ReadQwen3},
      {"qwen3_moe", kQwen3MoeKeys, {32768, 4, 0}, &ReadQwen3Moe},
      {"deepseek_v3", kDeepSeekV3Keys, {4096, 0, 0}, &ReadDeepSeekV3},
  };
  return *families;
}

const Family* FindFamily(const std::string& model_type) {
  for (const Family& f : Families()) {
    if (model_type == f.model_type) return &f;
  }
  return nullptr;
}

const FamilyKey* FindKey(const Family& family, absl::string_view key) {
  for (absl::Span<const FamilyKey> table : {family.keys, absl::Span<const FamilyKey>(kCommonKeys)}) {
    for (const FamilyKey& k : table) {
      if (key == k.key) return &k;
    }
  }
  return nullptr;
}

absl::StatusOr<ModelConfig> ImportFamily(const JsonObject& object, const Struct& root, const std::string& source) {
  const Fields r(root, source, "");
  R1_ASSIGN_OR_RETURN(std::string type, r.String("model_type", ""));
  const Family* family = FindFamily(type);
  if (family == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": model_type \"", type, "\" is not supported (",
                                                   absl::StrJoin(SupportedFamilies(), ", "), ")"));
  }
  // Nothing is ignored silently: a key the tables do not list may change the
  // computation.
  std::vector<std::string> unknown;
  for (const JsonObject::Member& m : object.members()) {
    if (!IsR1Key(m.key) && FindKey(*family, m.key) == nullptr) unknown.push_back(absl::StrCat("\"", m.key, "\""));
  }
  if (!unknown.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": key ", unknown[0], " of model_type ", type, " is not supported by r1 (it may change the computation)",
        unknown.size() > 1 ? absl::StrCat("; nor are ", absl::StrJoin(unknown.begin() + 1, unknown.end(), ", ")) : ""));
  }
  ModelConfig c;
  R1_RETURN_IF_ERROR(ReadCommon(r, family->defaults, c));
  R1_RETURN_IF_ERROR(family->read(r, family->defaults, c));
  // Every key the table says is read must have been read.
  for (const JsonObject::Member& m : object.members()) {
    const FamilyKey* k = FindKey(*family, m.key);
    if (k != nullptr && k->role == KeyRole::kRead && !r.read().contains(m.key)) {
      return absl::InternalError(absl::StrCat("model/families.cc lists \"", m.key, "\" of model_type ", type,
                                              " as read, but its reader does not read it"));
    }
  }
  c.set_family(type);
  return c;
}

// The object without r1's keys, as text.
std::string WithoutR1Keys(JsonObject object) {
  object.Erase(kR1ModelConfigKey);
  object.Erase(kFormatVersionKey);
  return object.Text();
}

// A token id r1's tokenizer gives: kept when the file already says so (as
// the id or within a list of ids, as Llama 3 lists its end tokens).
void UpdateTokenId(JsonObject& object, const std::string& key, int id) {
  if (id < 0) return;
  if (const JsonObject::Member* m = object.Find(key); m != nullptr) {
    if (m->value.kind_case() == Value::kNumberValue && m->value.number_value() == id) return;
    if (m->value.kind_case() == Value::kListValue) {
      for (const Value& v : m->value.list_value().values()) {
        if (v.kind_case() == Value::kNumberValue && v.number_value() == id) return;
      }
    }
  }
  object.Set(key, Number(id));
}

// An imported family's config.json: hf_config's keys in their order and
// as written, updated where r1 may have changed the model, plus r1's keys.
std::string ImportedConfigJson(const ModelConfig& c, JsonObject object, int bos_id, int eos_id, int pad_id) {
  object.Erase(kR1ModelConfigKey);
  object.Erase(kFormatVersionKey);
  // The two sizes a run may change (--set model.max_seq_len=...): written
  // back only when they differ, so an unchanged file keeps its bytes.
  for (const auto& [key, value] : {std::pair<const char*, int64_t>{"vocab_size", c.vocab_size()},
                                   std::pair<const char*, int64_t>{"max_position_embeddings", c.max_seq_len()}}) {
    const JsonObject::Member* member = object.Find(key);
    if (member == nullptr || member->value.kind_case() != Value::kNumberValue ||
        member->value.number_value() != static_cast<double>(value)) {
      object.Set(key, Number(value));
    }
  }
  UpdateTokenId(object, "bos_token_id", bos_id);
  UpdateTokenId(object, "eos_token_id", eos_id);
  UpdateTokenId(object, "pad_token_id", pad_id);
  ModelConfig exact = c;
  exact.clear_hf_config();  // the file itself carries it
  // Printed from the message, so in field order (a Struct's order is not
  // stable), one field per line, indented under its key.
  const std::string exact_text = absl::StrReplaceAll(ToJson(exact, true), {{"\n", "\n  "}});
  object.Set(kR1ModelConfigKey, ExactConfig(exact), std::string(absl::StripTrailingAsciiWhitespace(exact_text)));
  object.Set(kFormatVersionKey, Number(kCheckpointFormatVersion));
  return object.Text();
}

// ---------------------------------------------------------------------------
// r1's own models as Hugging Face configs.

// Whether some layer of the main model routes to experts.
bool AnyLayerRoutes(const ModelConfig& c) {
  for (int i = 0; i < c.n_layers(); ++i) {
    if (LayerRoutes(c, i)) return true;
  }
  return false;
}

// The family whose config.json an own model is written as: DeepSeek-V3 for
// arch DEEPSEEK_V3; for LLAMA the one whose layout has the model's
// attention and feed-forward: routed experts -> Qwen3-MoE, q/k norm ->
// Qwen3, q/k/v biases without an o_proj bias -> Qwen2, else Llama.
// OwnFamilyRefusal says whether its keys express every field.
std::string OwnFamily(const ModelConfig& c) {
  if (c.arch() == config::DEEPSEEK_V3) return "deepseek_v3";
  if (AnyLayerRoutes(c)) return "qwen3_moe";
  if (c.qk_norm()) return "qwen3";
  if (c.qkv_bias() && !c.o_bias()) return "qwen2";
  return "llama";
}

// Empty when OwnFamily's config.json expresses every field of `c` that
// changes what the model computes; else "<field> <why>" for the first that
// it cannot. Fields it leaves out on purpose: device (where it runs), and
// bias_update_speed, seq_aux_loss_alpha and mtp_loss_weight (training only).
std::string OwnFamilyRefusal(const ModelConfig& c) {
  const std::string family = OwnFamily(c);
  if (family == "deepseek_v3") {
    // DeepSeek-V3's config places routing by first_k_dense_replace and
    // moe_layer_freq only.
    ModelConfig by_rule = c;
    by_rule.clear_dense_layers();
    for (int i = 0; i < c.n_layers(); ++i) {
      if (LayerRoutes(c, i) != LayerRoutes(by_rule, i)) {
        return absl::StrCat("dense_layers makes layer ", i, " dense, which DeepSeek-V3's config.json cannot say (it "
                            "places the dense layers by first_k_dense_replace and moe_layer_freq only)");
      }
    }
    return "";
  }
  // Llama's attention_bias puts biases on q, k, v and o together; Qwen2 has
  // them on q, k, v only; no family has o alone.
  if (c.o_bias() && !c.qkv_bias()) {
    return "o_bias is set without qkv_bias: no Hugging Face family has an o_proj bias alone (Llama's "
           "attention_bias biases q, k, v and o together; Qwen2 biases q, k and v)";
  }
  if ((family == "qwen3" || family == "qwen3_moe") && c.qkv_bias() && !c.o_bias()) {
    return "qkv_bias is set without o_bias: with q/k norm or routed experts (Qwen3, Qwen3-MoE) attention_bias "
           "biases q, k, v and o together";
  }
  if (family != "llama" && c.mlp_bias()) {
    return absl::StrCat("mlp_bias is set: only Llama's config has MLP biases, and this model's ",
                        family == "qwen2" ? "q/k/v biases without an o_proj bias are Qwen2's layout"
                        : family == "qwen3" ? "q/k norm is Qwen3's layout"
                                            : "routed experts are Qwen3-MoE's layout",
                        ", which has none");
  }
  if (family != "qwen3_moe") return "";
  // Qwen3-MoE: q/k norm, softmax router without shared experts, scaling or groups.
  if (!c.qk_norm()) {
    return "n_routed_experts routes experts on arch LLAMA without qk_norm: the Hugging Face family with routed "
           "experts in this layout, Qwen3-MoE, also normalizes q and k";
  }
  if (c.router_scoring() != config::SOFTMAX) {
    return absl::StrCat("router_scoring is ", config::RouterScoring_Name(c.router_scoring()),
                        ": Qwen3-MoE's router is a softmax without a balancing bias (SOFTMAX only)");
  }
  if (c.n_shared_experts() != 0) {
    return absl::StrCat("n_shared_experts is ", c.n_shared_experts(), ": Qwen3-MoE has no shared experts (0 only)");
  }
  if (c.routed_scaling_factor() != 1) {
    return absl::StrCat("routed_scaling_factor is ", c.routed_scaling_factor(),
                        ": Qwen3-MoE does not scale the routed output (1 only)");
  }
  if (c.n_group() > 1) {
    return absl::StrCat("n_group is ", c.n_group(), ": Qwen3-MoE routes without expert groups (1 only)");
  }
  return "";
}

// config.json of r1's own model, as its OwnFamily.
std::string OwnConfigJson(const ModelConfig& c, int bos_id, int eos_id, int pad_id) {
  Struct root;
  auto& f = *root.mutable_fields();
  const std::string family = OwnFamily(c);
  const bool deepseek = family == "deepseek_v3";
  const char* architecture = deepseek               ? "DeepseekV3ForCausalLM"
                             : family == "qwen3_moe" ? "Qwen3MoeForCausalLM"
                             : family == "qwen3"     ? "Qwen3ForCausalLM"
                             : family == "qwen2"     ? "Qwen2ForCausalLM"
                                                     : "LlamaForCausalLM";
  *f["architectures"].mutable_list_value()->add_values() = String(architecture);
  f["model_type"] = String(family);
  f["vocab_size"] = Number(c.vocab_size());
  f["hidden_size"] = Number(c.dim());
  f["num_hidden_layers"] = Number(c.n_layers());
  f["num_attention_heads"] = Number(c.n_heads());
  f["max_position_embeddings"] = Number(c.max_seq_len());
  f["rope_theta"] = Number(c.rope_theta());
  f["rms_norm_eps"] = Number(c.rms_norm_eps());
  f["hidden_act"] = String("silu");
  // Qwen2's q/k/v biases are implied by the family (it has no such key).
  if (family != "qwen2") f["attention_bias"] = Bool(!deepseek && c.qkv_bias() && c.o_bias());
  f["torch_dtype"] = String(c.dtype() == config::BFLOAT16 ? "bfloat16" : "float32");
  if (bos_id >= 0) f["bos_token_id"] = Number(bos_id);
  if (eos_id >= 0) f["eos_token_id"] = Number(eos_id);
  if (pad_id >= 0) f["pad_token_id"] = Number(pad_id);
  if (c.has_rope_scaling()) {
    const config::RopeScaling& s = c.rope_scaling();
    Struct scaling;
    auto& g = *scaling.mutable_fields();
    g["rope_type"] = String(s.type());
    g["factor"] = Number(s.factor());
    if (s.type() == "llama3") {
      g["low_freq_factor"] = Number(s.low_freq_factor());
      g["high_freq_factor"] = Number(s.high_freq_factor());
    }
    if (s.type() != "linear") g["original_max_position_embeddings"] = Number(s.original_max_position_embeddings());
    if (s.type() == "yarn") {
      g["beta_fast"] = Number(s.beta_fast());
      g["beta_slow"] = Number(s.beta_slow());
      if (s.has_mscale()) g["mscale"] = Number(s.mscale());
      if (s.has_mscale_all_dim()) g["mscale_all_dim"] = Number(s.mscale_all_dim());
      if (s.has_attention_factor()) g["attention_factor"] = Number(s.attention_factor());
    }
    *f["rope_scaling"].mutable_struct_value() = scaling;
  }
  if (deepseek) {
    f["num_key_value_heads"] = Number(c.n_heads());
    f["q_lora_rank"] = c.q_lora_rank() > 0 ? Number(c.q_lora_rank()) : Null();
    f["kv_lora_rank"] = Number(c.kv_lora_rank());
    f["qk_nope_head_dim"] = Number(c.qk_nope_head_dim());
    f["qk_rope_head_dim"] = Number(c.qk_rope_head_dim());
    f["qk_head_dim"] = Number(c.qk_nope_head_dim() + c.qk_rope_head_dim());
    f["v_head_dim"] = Number(c.v_head_dim());
    f["intermediate_size"] = Number(c.inter_dim());
    f["moe_intermediate_size"] = Number(c.moe_inter_dim());
    f["first_k_dense_replace"] = Number(c.n_dense_layers());
    if (c.moe_layer_freq() != 1) f["moe_layer_freq"] = Number(c.moe_layer_freq());
    f["n_shared_experts"] = Number(c.n_shared_experts());
    f["n_routed_experts"] = Number(c.n_routed_experts());
    f["num_experts_per_tok"] = Number(c.n_activated_experts());
    f["routed_scaling_factor"] = Number(c.routed_scaling_factor());
    f["norm_topk_prob"] = Bool(c.norm_topk_prob());
    f["scoring_func"] = String("sigmoid");
    f["topk_method"] = String("noaux_tc");
    f["n_group"] = Number(c.n_group());
    f["topk_group"] = Number(c.topk_group());
    f["num_nextn_predict_layers"] = Number(c.n_mtp_modules());
    f["rope_interleave"] = Bool(true);
    f["tie_word_embeddings"] = Bool(false);
  } else {
    f["num_key_value_heads"] = Number(c.n_kv_heads());
    // Always explicit: the families' defaults differ (Qwen3: 128).
    f["head_dim"] = Number(c.head_dim() > 0 ? c.head_dim() : c.dim() / std::max(c.n_heads(), 1));
    f["intermediate_size"] = Number(c.ffn_hidden_dim());
    f["tie_word_embeddings"] = Bool(c.tie_embeddings());
    if (family == "llama") f["mlp_bias"] = Bool(c.mlp_bias());
    if (family != "llama") f["use_sliding_window"] = Bool(false);
    if (family == "qwen3_moe") {
      f["num_experts"] = Number(c.n_routed_experts());
      f["num_experts_per_tok"] = Number(c.n_activated_experts());
      f["moe_intermediate_size"] = Number(c.moe_inter_dim());
      f["norm_topk_prob"] = Bool(c.norm_topk_prob());
      // Every dense layer listed, whatever placed it (n_dense_layers,
      // moe_layer_freq or dense_layers): Qwen3-MoE's mlp_only_layers.
      f["decoder_sparse_step"] = Number(1);
      auto& dense = *f["mlp_only_layers"].mutable_list_value();
      for (int i = 0; i < c.n_layers(); ++i) {
        if (!LayerRoutes(c, i)) *dense.add_values() = Number(i);
      }
    }
  }
  // The exact config, including what Hugging Face has no key for.
  f[kR1ModelConfigKey] = ExactConfig(c);
  f[kFormatVersionKey] = Number(kCheckpointFormatVersion);
  return ToJson(root, true);
}

}  // namespace

const std::vector<std::string>& SupportedFamilies() {
  static const auto* names = [] {
    auto* list = new std::vector<std::string>;
    for (const Family& f : Families()) list->push_back(f.model_type);
    return list;
  }();
  return *names;
}

std::vector<FamilyKey> FamilyKeys(const std::string& model_type) {
  const Family* family = FindFamily(model_type);
  if (family == nullptr) return {};
  std::vector<FamilyKey> keys(family->keys.begin(), family->keys.end());
  keys.insert(keys.end(), std::begin(kCommonKeys), std::end(kCommonKeys));
  return keys;
}

absl::StatusOr<ModelConfig> ModelConfigFromJson(const std::string& json, const std::string& source) {
  R1_ASSIGN_OR_RETURN(JsonObject object, JsonObject::Parse(json, source));
  Struct root;
  for (const JsonObject::Member& m : object.members()) (*root.mutable_fields())[m.key] = m.value;
  if (const auto exact = root.fields().find(kR1ModelConfigKey);
      exact != root.fields().end() && exact->second.kind_case() == Value::kStructValue) {
    ModelConfig c;
    std::string text;
    (void)google::protobuf::util::MessageToJsonString(exact->second.struct_value(), &text);
    if (auto s = google::protobuf::util::JsonStringToMessage(text, &c); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": bad r1_model_config: ", std::string(s.message())));
    }
    // r1 leaves hf_config out of r1_model_config: the file is the config.
    if (!c.family().empty()) c.set_hf_config(WithoutR1Keys(object));
    return c;
  }
  R1_ASSIGN_OR_RETURN(ModelConfig c, ImportFamily(object, root, source));
  c.set_hf_config(WithoutR1Keys(object));
  return c;
}

std::string ModelConfigToJson(const ModelConfig& c, int bos_id, int eos_id, int pad_id) {
  if (!c.family().empty()) {
    absl::StatusOr<JsonObject> object = JsonObject::Parse(c.hf_config(), "hf_config");
    // ValidateModel refuses a family without a JSON object in hf_config; a
    // config that skipped it is written as r1's own layout (r1_model_config
    // still holds all of it).
    if (object.ok()) return ImportedConfigJson(c, *std::move(object), bos_id, eos_id, pad_id);
  }
  return OwnConfigJson(c, bos_id, eos_id, pad_id);
}

absl::Status CheckHuggingFaceExportable(const ModelConfig& c) {
  if (!c.family().empty()) return absl::OkStatus();  // its own config.json goes back
  const std::string refusal = OwnFamilyRefusal(c);
  if (refusal.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "model.", refusal, ", so transformers would read the exported config.json (model_type ", OwnFamily(c),
      ") as another model; r1's own checkpoints keep the exact config"));
}

std::string ReleasedWeightDtype(const ModelConfig& c) {
  if (c.family().empty()) return "";
  Struct root;
  if (!google::protobuf::util::JsonStringToMessage(c.hf_config(), &root).ok()) return "";
  for (const char* key : {"dtype", "torch_dtype"}) {
    const auto it = root.fields().find(key);
    if (it == root.fields().end() || it->second.kind_case() != Value::kStringValue) continue;
    const std::string& name = it->second.string_value();
    if (name == "float32" || name == "bfloat16" || name == "float16") return name;
  }
  return "";
}

}  // namespace r1::model
