// Export of the dense student (LLAMA layout) as one GGUF file that llama.cpp
// loads with its "llama" architecture: weights, hyperparameters and the
// SentencePiece vocabulary, written directly (no conversion script).
#ifndef R1_MODEL_GGUF_EXPORT_H_
#define R1_MODEL_GGUF_EXPORT_H_

#include <string>

#include "absl/status/status.h"
#include "common/gguf.h"

namespace r1::model {

class CausalLmImpl;

// Writes `model` and the tokenizer at `tokenizer_path` to `path`. Matrices are
// stored as `type` (F32, or F16 rounded to nearest even); norm weights are
// always F32, as llama.cpp expects. q_proj/k_proj rows are reordered from the
// Hugging Face "two halves" RoPE layout to the adjacent pairs of ggml's
// normal RoPE. FAILED_PRECONDITION for an architecture other than LLAMA
// (DeepSeek-V3's MLA and MoE have no place in llama.cpp's llama layout);
// the tokenizer's own error when it does not load; INVALID_ARGUMENT when it
// has more pieces than the model's vocabulary (fewer are padded with unused
// "[PAD<id>]" pieces). The file is written atomically (temporary file +
// fsync + rename).
absl::Status ExportGguf(const std::string& path, CausalLmImpl& model, const std::string& tokenizer_path,
                        GgufTensorType type);

}  // namespace r1::model

#endif  // R1_MODEL_GGUF_EXPORT_H_
