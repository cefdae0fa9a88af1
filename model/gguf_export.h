// Export of a dense GQA model (r1's student and the dense Hugging Face
// families) as one GGUF file that llama.cpp loads with the architecture of
// its family: weights, hyperparameters and the SentencePiece vocabulary,
// written directly (no conversion script).
#ifndef R1_MODEL_GGUF_EXPORT_H_
#define R1_MODEL_GGUF_EXPORT_H_

#include <string>

#include "absl/status/status.h"
#include "common/gguf.h"
#include "common/tokenizer.h"
#include "proto/config.pb.h"

namespace r1::model {

class CausalLmImpl;

// Writes `model` and `tokenizer` (with its chat template, else r1's, as
// tokenizer.chat_template) to `path`, as
// llama.cpp's architecture for config.family:
//   "" (r1's own), llama, mistral -> "llama": ggml's normal RoPE, so q_proj
//       and k_proj rows (and their biases) are reordered from the Hugging Face
//       "two halves" layout to adjacent pairs; optional q/k/v, output and
//       feed-forward biases; llama3 RoPE scaling as rope_freqs.weight;
//   qwen2 -> "qwen2": NEOX RoPE (halves, no reordering), q/k/v biases
//       (zeros when the model has none: its loader requires them);
//   qwen3 -> "qwen3": NEOX RoPE, per-head q/k RMSNorm (required).
// An explicit head_dim is written as attention.key_length/value_length;
// linear RoPE scaling as rope.scaling.type/factor. Matrices are stored as
// `type` (F32, or F16 rounded to nearest even); norm weights, biases and
// rope_freqs always F32, as llama.cpp expects. Tied embeddings write no
// output.weight.
//
// FAILED_PRECONDITION, naming the family and what llama.cpp cannot hold, for
// DEEPSEEK_V3 and the MoE families (qwen3_moe, deepseek_v3, any routed
// experts), an unknown family, a bias or q/k norm the architecture's loader
// does not take (qwen2: output/feed-forward biases, q/k norm; qwen3: any
// bias; llama: q/k norm; q/k/v biases when n_heads * head_dim != dim),
// qwen2 with n_heads * head_dim != dim, llama3 scaling outside "llama", and
// rope_scaling yarn (not verified against llama.cpp's YaRN). UNIMPLEMENTED
// for a tokenizer.json tokenizer; INVALID_ARGUMENT when it has more pieces
// than the model's vocabulary (fewer are padded with unused "[PAD<id>]"
// pieces). The file is written atomically (temporary file + fsync + rename).
// OK when a model of `config` can be exported by ExportGguf, else the same
// FAILED_PRECONDITION ExportGguf returns for it, so that a caller (r1 export)
// can skip the GGUF files up front instead of failing half-way.
absl::Status CheckGgufExportable(const config::ModelConfig& config);

absl::Status ExportGguf(const std::string& path, CausalLmImpl& model, const Tokenizer& tokenizer,
                        GgufTensorType type);

}  // namespace r1::model

#endif  // R1_MODEL_GGUF_EXPORT_H_
