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
#include "common/chat_template.h"
#include "common/tokenizer.h"
#include "model/causal_lm.h"
#include "model/llama.h"
#include "model/moe.h"
#include "model/rope.h"

namespace r1::model {
namespace {

// llama.cpp's general.file_type values (enum llama_ftype).
constexpr uint32_t kFileTypeAllF32 = 0;
constexpr uint32_t kFileTypeMostlyF16 = 1;

// Score of the filler pieces that pad a tokenizer smaller than the model's
// vocabulary: far below any real piece, so text never tokenizes into them.
constexpr float kFillerScore = -1000.0f;

// What llama.cpp's loader and graph for one architecture take beyond the
// plain GQA decoder (src/llama-model.cpp, load_tensors, and the architecture's
// graph). Its loader refuses a file with a tensor it does not create, so a
// model feature without a place here cannot be exported as that architecture.
struct GgufArch {
  const char* name;         // general.architecture, and the prefix of its keys
  bool adjacent_pair_rope;  // ggml's normal RoPE (pairs 2j, 2j+1); else NEOX (halves j, j+Dh/2, as Hugging Face)
  bool qkv_bias;            // accepts attn_{q,k,v}.bias, attn_q.bias sized by the embedding width
  bool requires_qkv_bias;   // loads only with them (zeros are written for a model without)
  bool out_and_mlp_bias;    // accepts attn_output.bias and ffn_{gate,up,down}.bias
  bool qk_norm;             // requires attn_{q,k}_norm.weight [Dh], applied per head before RoPE; else has none
  bool rope_freqs;          // accepts rope_freqs.weight [Dh/2], the divisors of llama3 frequency scaling
  bool free_head_dim;       // attn_q/attn_output are heads * key_length wide; else the embedding width
};

constexpr GgufArch kLlamaArch{.name = "llama",
                              .adjacent_pair_rope = true,
                              .qkv_bias = true,
                              .requires_qkv_bias = false,
                              .out_and_mlp_bias = true,
                              .qk_norm = false,
                              .rope_freqs = true,
                              .free_head_dim = true};
constexpr GgufArch kQwen2Arch{.name = "qwen2",
                              .adjacent_pair_rope = false,
                              .qkv_bias = true,
                              .requires_qkv_bias = true,
                              .out_and_mlp_bias = false,
                              .qk_norm = false,
                              .rope_freqs = false,
                              .free_head_dim = false};
constexpr GgufArch kQwen3Arch{.name = "qwen3",
                              .adjacent_pair_rope = false,
                              .qkv_bias = false,
                              .requires_qkv_bias = false,
                              .out_and_mlp_bias = false,
                              .qk_norm = true,
                              .rope_freqs = false,
                              .free_head_dim = true};

// llama.cpp's architecture for `c`, or FAILED_PRECONDITION naming what of the
// model it cannot hold.
absl::StatusOr<const GgufArch*> ArchFor(const config::ModelConfig& c) {
  const std::string model = c.family().empty() ? "r1's own model" : absl::StrCat("family \"", c.family(), "\"");
  if (c.arch() != config::LLAMA) {
    return absl::FailedPreconditionError(absl::StrCat(
        "GGUF export supports only the dense LLAMA layout (families llama, mistral, qwen2, qwen3); this model is ",
        config::ModelArch_Name(c.arch()), " (", model,
        "), whose MLA attention and experts llama.cpp's dense architectures cannot hold"));
  }
  bool routes = false;
  for (int64_t i = 0; i < c.n_layers(); ++i) routes = routes || LayerRoutes(c, i);
  if (c.family() == "qwen3_moe" || c.family() == "deepseek_v3" || routes) {
    return absl::FailedPreconditionError(absl::StrCat(
        "GGUF export does not support MoE models (", model,
        "): only dense models (llama, mistral, qwen2, qwen3) are exported, and this one has routed experts"));
  }
  const GgufArch* arch = nullptr;
  if (c.family().empty() || c.family() == "llama" || c.family() == "mistral") {
    arch = &kLlamaArch;
  } else if (c.family() == "qwen2") {
    arch = &kQwen2Arch;
  } else if (c.family() == "qwen3") {
    arch = &kQwen3Arch;
  } else {
    return absl::FailedPreconditionError(
        absl::StrCat("GGUF export does not know ", model, " (llama, mistral, qwen2, qwen3)"));
  }
  const auto refuse = [&](absl::string_view what) {
    return absl::FailedPreconditionError(
        absl::StrCat("GGUF export of ", model, " as llama.cpp's \"", arch->name, "\" architecture: ", what));
  };
  const int64_t q_width = c.n_heads() * GqaHeadDim(c);
  if (c.qkv_bias() && !arch->qkv_bias) return refuse("it has no q/k/v projection biases (qkv_bias)");
  if ((c.qkv_bias() || arch->requires_qkv_bias) && q_width != c.dim()) {
    return refuse(absl::StrCat("its attn_q.bias is dim (", c.dim(),
                               ") wide, the model's q projection n_heads * head_dim (", q_width, ")"));
  }
  if (!arch->free_head_dim && q_width != c.dim()) {
    return refuse(absl::StrCat("its attention is dim (", c.dim(), ") wide, the model's n_heads * head_dim (", q_width,
                               ")"));
  }
  if (c.o_bias() && !arch->out_and_mlp_bias) return refuse("it has no attention output bias (o_bias)");
  if (c.mlp_bias() && !arch->out_and_mlp_bias) return refuse("it has no feed-forward biases (mlp_bias)");
  if (c.qk_norm() != arch->qk_norm) {
    return refuse(arch->qk_norm ? "it requires the per-head q/k RMSNorm (qk_norm), which this model does not have"
                                : "it has no per-head q/k RMSNorm (qk_norm)");
  }
  const std::string& scaling = c.rope_scaling().type();
  if (scaling == "llama3" && !arch->rope_freqs) return refuse("it has no rope_freqs tensor for rope_scaling llama3");
  if (scaling == "yarn") {
    // llama.cpp's YaRN derives its attention factor and correction range
    // from keys of its own; that they reproduce rope.h's YaRN exactly is not
    // established, and a model that computes something else is worse than none.
    return refuse("rope_scaling yarn is not exported (llama.cpp's YaRN is not verified to match r1's)");
  }
  if (!scaling.empty() && scaling != "linear" && scaling != "llama3") {
    return refuse(absl::StrCat("rope_scaling ", scaling, " is not exported"));
  }
  return arch;
}

// llama.cpp's name for each tensor of a GQA block (after "blk.N.").
const std::map<std::string, std::string, std::less<>>& BlockNames() {
  static const auto* const names = new std::map<std::string, std::string, std::less<>>{
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.o_proj.bias", "attn_output.bias"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
      {"mlp.gate_proj.bias", "ffn_gate.bias"},
      {"mlp.up_proj.bias", "ffn_up.bias"},
      {"mlp.down_proj.bias", "ffn_down.bias"},
  };
  return *names;
}

// The GGUF name of a Hugging Face GQA tensor name, or empty if unknown.
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

// Hugging Face rotates each head's two halves together (dims j and
// j + Dh/2); ggml's normal RoPE, which llama.cpp's llama architecture uses,
// rotates adjacent pairs (2j, 2j + 1). Reordering the projection's output
// rows so that old row j goes to 2j and old row j + Dh/2 to 2j + 1 makes
// the two agree; q and k get the same per-head order, so q.k is unchanged.
// A bias is reordered with its rows. weight [heads * Dh, D] or bias
// [heads * Dh] -> same shape, rows reordered.
torch::Tensor ToAdjacentPairRope(const torch::Tensor& rows, int64_t heads) {
  const int64_t head_dim = rows.size(0) / heads;
  return rows.reshape({heads, 2, head_dim / 2, -1})  // [H, half, pair index j, D or 1]
      .transpose(1, 2)                              // [H, j, half, D or 1]
      .reshape(rows.sizes())
      .contiguous();
}

// llama3 frequency scaling as llama.cpp takes it: ggml divides each of the
// Dh/2 unscaled frequencies theta^(-2j/Dh) by rope_freqs[j], so the divisor is
// unscaled / scaled, both as rope.h computes them. [Dh/2] float32.
std::vector<float> RopeFreqDivisors(const config::ModelConfig& c, int64_t head_dim) {
  config::ModelConfig unscaled_config = c;
  unscaled_config.clear_rope_scaling();
  const torch::Tensor unscaled = MakeRope(unscaled_config, head_dim, RopeLayout::kHalves).inv_freq.to(torch::kFloat64);
  const torch::Tensor scaled = MakeRope(c, head_dim, RopeLayout::kHalves).inv_freq.to(torch::kFloat64);
  const torch::Tensor divisors = (unscaled / scaled).to(torch::kFloat32).contiguous();
  return std::vector<float>(divisors.data_ptr<float>(), divisors.data_ptr<float>() + divisors.numel());
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

absl::Status CheckGgufExportable(const config::ModelConfig& config) { return ArchFor(config).status(); }

absl::Status ExportGguf(const std::string& path, CausalLmImpl& model, const Tokenizer& tokenizer,
                        GgufTensorType type) {
  const config::ModelConfig& c = model.config();
  R1_ASSIGN_OR_RETURN(const GgufArch* arch, ArchFor(c));
  if (tokenizer.kind() != "sentencepiece") {
    return absl::UnimplementedError(absl::StrCat("GGUF export writes SentencePiece vocabularies (llama.cpp's \"llama\" "
                                                 "tokenizer); ", tokenizer.path(), " is a ", tokenizer.kind(),
                                                 " tokenizer"));
  }
  if (tokenizer.vocab_size() > c.vocab_size()) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer ", tokenizer.path(), " has ", tokenizer.vocab_size(),
                                                   " pieces, more than the model's vocab_size ", c.vocab_size()));
  }
  const int64_t head_dim = GqaHeadDim(c);
  const auto key = [&](absl::string_view name) { return absl::StrCat(arch->name, ".", name); };

  GgufWriter gguf;
  gguf.AddString("general.architecture", arch->name);
  gguf.AddString("general.name", std::filesystem::path(path).stem().string());
  gguf.AddUint32("general.file_type", type == GgufTensorType::kF16 ? kFileTypeMostlyF16 : kFileTypeAllF32);
  gguf.AddUint32(key("vocab_size"), c.vocab_size());
  gguf.AddUint32(key("context_length"), c.max_seq_len());
  gguf.AddUint32(key("embedding_length"), c.dim());
  gguf.AddUint32(key("block_count"), c.n_layers());
  gguf.AddUint32(key("feed_forward_length"), c.ffn_hidden_dim());
  gguf.AddUint32(key("attention.head_count"), c.n_heads());
  gguf.AddUint32(key("attention.head_count_kv"), c.n_kv_heads());
  // llama.cpp assumes dim / n_heads unless told (Qwen3: 128 over 1024 / 16).
  if (head_dim != c.dim() / c.n_heads()) {
    gguf.AddUint32(key("attention.key_length"), head_dim);
    gguf.AddUint32(key("attention.value_length"), head_dim);
  }
  gguf.AddUint32(key("rope.dimension_count"), head_dim);
  gguf.AddFloat32(key("rope.freq_base"), static_cast<float>(c.rope_theta()));
  if (c.rope_scaling().type() == "linear") {
    // ggml multiplies every frequency by 1 / factor.
    gguf.AddString(key("rope.scaling.type"), "linear");
    gguf.AddFloat32(key("rope.scaling.factor"), static_cast<float>(c.rope_scaling().factor()));
  }
  gguf.AddFloat32(key("attention.layer_norm_rms_epsilon"), static_cast<float>(c.rms_norm_eps()));

  // SentencePiece vocabulary ("llama" = llama.cpp's SPM tokenizer, which
  // every architecture can use). r1's tokenizers are trained without a dummy
  // prefix (tokenizer.cc), so llama.cpp must not prepend a space either.
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
  gguf.AddString("tokenizer.chat_template", ChatTemplateSource(tokenizer));
  gguf.AddBool("tokenizer.ggml.add_space_prefix", false);

  if (c.rope_scaling().type() == "llama3") {
    const std::vector<float> divisors = RopeFreqDivisors(c, head_dim);
    gguf.AddTensor("rope_freqs.weight", {static_cast<int64_t>(divisors.size())}, divisors.data(),
                   GgufTensorType::kF32);
  }
  torch::NoGradGuard no_grad;
  for (const auto& [hf_name, tensor] : NamedTensors(model)) {
    const std::string name = GgufName(hf_name);
    if (name.empty()) {
      return absl::InternalError(absl::StrCat("no GGUF name for the GQA tensor ", hf_name));
    }
    torch::Tensor weight = tensor.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    if (arch->adjacent_pair_rope && absl::StrContains(hf_name, "self_attn.q_proj.")) {
      weight = ToAdjacentPairRope(weight, c.n_heads());
    }
    if (arch->adjacent_pair_rope && absl::StrContains(hf_name, "self_attn.k_proj.")) {
      weight = ToAdjacentPairRope(weight, c.n_kv_heads());
    }
    // llama.cpp multiplies norm weights and adds biases in F32 and rejects
    // other types there.
    const GgufTensorType tensor_type = weight.dim() == 1 ? GgufTensorType::kF32 : type;
    gguf.AddTensor(name, weight.sizes().vec(), weight.data_ptr<float>(), tensor_type);
  }
  if (arch->requires_qkv_bias && !c.qkv_bias()) {
    // Zero biases: the same computation in a file the loader accepts.
    const std::vector<float> zeros(c.n_heads() * head_dim, 0.0f);
    for (int i = 0; i < c.n_layers(); ++i) {
      const std::string p = absl::StrCat("blk.", i, ".");
      gguf.AddTensor(p + "attn_q.bias", {c.n_heads() * head_dim}, zeros.data(), GgufTensorType::kF32);
      gguf.AddTensor(p + "attn_k.bias", {c.n_kv_heads() * head_dim}, zeros.data(), GgufTensorType::kF32);
      gguf.AddTensor(p + "attn_v.bias", {c.n_kv_heads() * head_dim}, zeros.data(), GgufTensorType::kF32);
    }
  }
  return gguf.Write(path);
}

}  // namespace r1::model
