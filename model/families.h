// The Hugging Face model families r1 runs, in one place: how each family's
// config.json maps onto a ModelConfig, and how a ModelConfig is written back
// as config.json.
//
// Families (by config.json's "model_type"):
//   llama        LlamaForCausalLM      arch LLAMA
//   mistral      MistralForCausalLM    arch LLAMA
//   qwen2        Qwen2ForCausalLM      arch LLAMA, q/k/v biases
//   qwen3        Qwen3ForCausalLM      arch LLAMA, per-head q/k RMSNorm
//   qwen3_moe    Qwen3MoeForCausalLM   arch LLAMA, q/k norm, softmax-routed experts
//   deepseek_v3  DeepseekV3ForCausalLM arch DEEPSEEK_V3 (MLA, DeepSeekMoE, MTP)
//
// Every key of an imported config.json is accounted for: families.cc has a
// table per family (plus one of the keys every transformers config carries)
// where each key is either read (mapped onto a ModelConfig field, or checked
// and refused when its value asks for something r1 does not compute) or inert
// with the reason it cannot change what r1 computes. Any other key is refused
// by name: a key r1 does not know may change the computation, and a model that
// silently computes something else than its weights were trained for is worse
// than one that does not load. A key that is absent takes the default of the
// family's transformers config class, as transformers would read the file.
//
// An imported model keeps its config.json: ModelConfig.family is the
// model_type and ModelConfig.hf_config the JSON object without r1's own keys
// (one member per line, each key and value as the file wrote it), so that a
// checkpoint or an export writes every key back (see ModelConfigToJson).
// r1's own models have neither: they are written as the family whose layout
// they have, and exported only where its keys express the whole model
// (CheckHuggingFaceExportable).
#ifndef R1_MODEL_FAMILIES_H_
#define R1_MODEL_FAMILIES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/config.pb.h"

namespace r1::model {

// The model_types r1 imports, in the order of the table above.
const std::vector<std::string>& SupportedFamilies();

// How r1 treats one config.json key.
enum class KeyRole {
  kRead,   // mapped onto the ModelConfig, or checked and refused by value
  kInert,  // accepted with any value: it does not change what r1 computes
};

struct FamilyKey {
  const char* key;
  KeyRole role;
  const char* note;  // kRead: the field it sets and what is refused; kInert: why it is inert
};

// Every key `model_type`'s config.json may carry: the family's own table,
// then the keys common to every family. Empty for an unknown model_type.
std::vector<FamilyKey> FamilyKeys(const std::string& model_type);

// The ModelConfig a config.json describes. With "r1_model_config" (r1 wrote
// the folder) it is exactly that config, and for an imported family hf_config
// is set again from the file (minus r1's keys). Otherwise the file is read as
// its family's transformers config: INVALID_ARGUMENT names `source` and the
// key that is missing, malformed, unknown or asks for what r1 does not
// implement. The result is not validated (ValidateModel does that).
absl::StatusOr<config::ModelConfig> ModelConfigFromJson(const std::string& json, const std::string& source);

// config.json for `config`. r1's own models (family empty): the keys of the
// Hugging Face family whose layout the model has: deepseek_v3 for arch
// DEEPSEEK_V3; for LLAMA qwen3_moe with routed experts, qwen3 with q/k norm,
// qwen2 with q/k/v biases but no o_proj bias, else llama (head_dim,
// rope_scaling, attention_bias and mlp_bias included). An imported family:
// every key of hf_config in its order, with vocab_size and the token ids
// (when >= 0; -1 = leave as is) updated. Both add "r1_model_config" (the
// exact ModelConfig, hf_config left out: the file itself carries it) and
// "r1_format_version", so r1 reloads the exact config whatever the keys say.
std::string ModelConfigToJson(const config::ModelConfig& config, int bos_id, int eos_id, int pad_id);

// Whether ModelConfigToJson's Hugging Face keys alone describe `config`, so
// that transformers (or r1 importing the folder without r1's keys) computes
// what r1 does. Always for an imported family. For r1's own models,
// FAILED_PRECONDITION naming the first field the chosen family cannot
// express: an o_proj bias without q/k/v biases; q/k/v biases without o with
// q/k norm or experts; MLP biases outside Llama; routed experts on LLAMA
// without q/k norm, or with another router than Qwen3-MoE's (SOFTMAX, no
// shared experts, routed_scaling_factor 1, n_group 1); DeepSeek-V3
// dense_layers that move a layer off first_k_dense_replace/moe_layer_freq's
// placement. Training-only fields (bias_update_speed, seq_aux_loss_alpha,
// mtp_loss_weight) and device are not part of the model it describes.
// ExportHuggingFace refuses what this refuses.
absl::Status CheckHuggingFaceExportable(const config::ModelConfig& config);

// The dtype an imported family's weights were released in: hf_config's
// "torch_dtype" (or newer "dtype"): "float32", "bfloat16" or "float16".
// Empty for r1's own models and when hf_config names none.
std::string ReleasedWeightDtype(const config::ModelConfig& config);

}  // namespace r1::model

#endif  // R1_MODEL_FAMILIES_H_
