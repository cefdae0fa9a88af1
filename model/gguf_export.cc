#include "model/gguf_export.h"

#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "common/tokenizer.h"
#include "model/causal_lm.h"

namespace r1::model {
namespace {

// llama.cpp's general.file_type values (enum llama_ftype).
constexpr uint32_t kFileTypeAllF32 = 0;
constexpr uint32_t kFileTypeMostlyF16 = 1;

// Score of the filler pieces that pad a tokenizer smaller than the model's
// vocabulary: far below any real piece, so text never tokenizes into them.
constexpr float kFillerScore = -1000.0f;

// llama.cpp's name for each tensor of a Llama block (after "blk.N.").
const std::map<std::string, std::string, std::less<>>& BlockNames() {
  static const auto* const names = new std::map<std::string, std::string, std::less<>>{
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  return *names;
}

// The GGUF name of a Hugging Face Llama tensor name, or empty if unknown.
std::string GgufName(const std::string& hf_name) {
  if (hf_name == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf_name == "model.norm.weight") return "output_norm.weight";
  if (hf_name == "lm_head.weight") return "output.weight";
  // model.layers.<N>.<rest>
  const std::vector<absl::string_view> parts = absl::StrSplit(hf_name, absl::MaxSplits('.', 3));
  int layer = 0;
  if (parts.size() != 4 || parts[0] != "model" || parts[1] != "layers" || !absl::SimpleAtoi(parts[2], &layer)) {
    return "";
  }
  const auto it = BlockNames().find(parts[3]);
  if (it == BlockNames().end()) return "";
  return absl::StrCat("blk.", layer, ".", it->second);
}

// Hugging Face Llama rotates each head's two halves together (dims j and
// j + Dh/2); ggml's normal RoPE, which llama.cpp's llama architecture uses,
// rotates adjacent pairs (2j, 2j + 1). Reordering the projection's output
// rows so that old row j goes to 2j and old row j + Dh/2 to 2j + 1 makes
// the two agree; q and k get the same per-head order, so q.k is unchanged.
// weight [heads * Dh, D] -> same shape, rows reordered.
torch::Tensor ToAdjacentPairRope(const torch::Tensor& weight, int64_t heads) {
  const int64_t rows = weight.size(0), in = weight.size(1);
  const int64_t head_dim = rows / heads;
  return weight.reshape({heads, 2, head_dim / 2, in})  // [H, half, pair index j, D]
      .transpose(1, 2)                                  // [H, j, half, D]
      .reshape({rows, in})
      .contiguous();
}

// The tokenizer's vocabulary, padded with unused filler pieces up to the
// model's vocab_size: llama.cpp sizes token_embd and output by the token
// count, so the two must agree.
struct Vocab {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int32_t> types;  // GGUF token types = SentencePiece piece types
};

Vocab MakeVocab(const Tokenizer& tokenizer, int vocab_size) {
  Vocab vocab;
  for (int id = 0; id < vocab_size; ++id) {
    if (id < tokenizer.vocab_size()) {
      vocab.pieces.push_back(tokenizer.IdToPiece(id));
      vocab.scores.push_back(tokenizer.PieceScore(id));
      vocab.types.push_back(static_cast<int32_t>(tokenizer.GetPieceType(id)));
    } else {
      vocab.pieces.push_back(absl::StrCat("[PAD", id, "]"));
      vocab.scores.push_back(kFillerScore);
      vocab.types.push_back(static_cast<int32_t>(PieceType::kUnused));
    }
  }
  return vocab;
}

}  // namespace

absl::Status ExportGguf(const std::string& path, CausalLmImpl& model, const std::string& tokenizer_path,
                        GgufTensorType type) {
  const config::ModelConfig& c = model.config();
  if (c.arch() != config::LLAMA) {
    return absl::FailedPreconditionError(absl::StrCat(
        "GGUF export supports only the LLAMA (dense student) layout; this model is ",
        config::ModelArch_Name(c.arch()),
        ", whose attention and experts llama.cpp's llama architecture cannot hold"));
  }
  if (tokenizer_path.empty()) return absl::InvalidArgumentError("a GGUF export needs its tokenizer.model");
  R1_ASSIGN_OR_RETURN(Tokenizer tokenizer, Tokenizer::Load(tokenizer_path));
  if (tokenizer.vocab_size() > c.vocab_size()) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer ", tokenizer_path, " has ", tokenizer.vocab_size(),
                                                   " pieces, more than the model's vocab_size ", c.vocab_size()));
  }
  const int64_t head_dim = c.dim() / c.n_heads();

  GgufWriter gguf;
  gguf.AddString("general.architecture", "llama");
  gguf.AddString("general.name", std::filesystem::path(path).stem().string());
  gguf.AddUint32("general.file_type", type == GgufTensorType::kF16 ? kFileTypeMostlyF16 : kFileTypeAllF32);
  gguf.AddUint32("llama.vocab_size", c.vocab_size());
  gguf.AddUint32("llama.context_length", c.max_seq_len());
  gguf.AddUint32("llama.embedding_length", c.dim());
  gguf.AddUint32("llama.block_count", c.n_layers());
  gguf.AddUint32("llama.feed_forward_length", c.ffn_hidden_dim());
  gguf.AddUint32("llama.attention.head_count", c.n_heads());
  gguf.AddUint32("llama.attention.head_count_kv", c.n_kv_heads());
  gguf.AddUint32("llama.rope.dimension_count", head_dim);
  gguf.AddFloat32("llama.rope.freq_base", static_cast<float>(c.rope_theta()));
  gguf.AddFloat32("llama.attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps()));

  // SentencePiece vocabulary ("llama" = llama.cpp's SPM tokenizer). r1's
  // tokenizers are trained without a dummy prefix (tokenizer.cc), so
  // llama.cpp must not prepend a space either.
  const Vocab vocab = MakeVocab(tokenizer, c.vocab_size());
  gguf.AddString("tokenizer.ggml.model", "llama");
  gguf.AddStringArray("tokenizer.ggml.tokens", vocab.pieces);
  gguf.AddFloat32Array("tokenizer.ggml.scores", vocab.scores);
  gguf.AddInt32Array("tokenizer.ggml.token_type", vocab.types);
  gguf.AddUint32("tokenizer.ggml.bos_token_id", tokenizer.bos_id());
  gguf.AddUint32("tokenizer.ggml.eos_token_id", tokenizer.eos_id());
  if (tokenizer.unk_id() >= 0) gguf.AddUint32("tokenizer.ggml.unknown_token_id", tokenizer.unk_id());
  if (tokenizer.pad_id() >= 0) gguf.AddUint32("tokenizer.ggml.padding_token_id", tokenizer.pad_id());
  gguf.AddBool("tokenizer.ggml.add_bos_token", true);
  gguf.AddBool("tokenizer.ggml.add_eos_token", false);
  gguf.AddBool("tokenizer.ggml.add_space_prefix", false);

  torch::NoGradGuard no_grad;
  for (const auto& [hf_name, tensor] : NamedTensors(model)) {
    const std::string name = GgufName(hf_name);
    if (name.empty()) {
      return absl::InternalError(absl::StrCat("no GGUF name for the Llama tensor ", hf_name));
    }
    torch::Tensor weight = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    if (absl::EndsWith(hf_name, "self_attn.q_proj.weight")) weight = ToAdjacentPairRope(weight, c.n_heads());
    if (absl::EndsWith(hf_name, "self_attn.k_proj.weight")) weight = ToAdjacentPairRope(weight, c.n_kv_heads());
    // llama.cpp multiplies norm weights in F32 and rejects other types there.
    const GgufTensorType tensor_type = weight.dim() == 1 ? GgufTensorType::kF32 : type;
    gguf.AddTensor(name, weight.sizes().vec(), weight.data_ptr<float>(), tensor_type);
  }
  return gguf.Write(path);
}

}  // namespace r1::model
