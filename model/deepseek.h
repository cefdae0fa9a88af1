// The policy: DeepSeek-V3 layout. MLA attention, dense FFN in the first
// n_dense_layers (and where LayerRoutes says so), DeepSeekMoE elsewhere, and n_mtp_modules multi-token prediction
// modules that share the embedding and output head.
//
// Module tree mirrors Hugging Face DeepseekV3ForCausalLM names:
//   model.embed_tokens, model.layers.{i}.{input_layernorm, self_attn.*,
//   post_attention_layernorm, mlp.*}, model.norm, lm_head; MTP module k sits at
//   model.layers.{n_layers + k - 1} with enorm, hnorm, eh_proj, a block and
//   shared_head.norm.
#ifndef R1_MODEL_DEEPSEEK_H_
#define R1_MODEL_DEEPSEEK_H_

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>

#include <string>
#include <utility>
#include <vector>

#include "model/causal_lm.h"
#include "model/mla.h"
#include "model/moe.h"

namespace r1::model {

// One transformer block: h + attn(norm(h)), then + ffn(norm(h)).
class DeepSeekBlockImpl : public torch::nn::Module {
 public:
  DeepSeekBlockImpl(const config::ModelConfig& config, int64_t layer_index);
  torch::Tensor forward(const torch::Tensor& h, const AttentionContext& ctx, LayerCache* cache,
                        const ForwardOptions& options, torch::Tensor* aux_loss);

  RmsNorm input_layernorm{nullptr};
  Mla self_attn{nullptr};
  RmsNorm post_attention_layernorm{nullptr};
  SwiGlu dense_mlp{nullptr};  // registered as "mlp" when the layer is dense
  Moe moe{nullptr};           // registered as "mlp" when the layer is MoE
};
TORCH_MODULE(DeepSeekBlock);

// A multi-token prediction module (its block is registered at its own level
// so the names match Hugging Face's: model.layers.{L}.self_attn...).
class MtpModuleImpl : public DeepSeekBlockImpl {
 public:
  MtpModuleImpl(const config::ModelConfig& config, int64_t layer_index);
  RmsNorm enorm{nullptr}, hnorm{nullptr};
  torch::nn::Linear eh_proj{nullptr};  // [D, 2D]
  std::shared_ptr<torch::nn::Module> shared_head;  // holds "norm"
  RmsNorm head_norm{nullptr};
};
TORCH_MODULE(MtpModule);

// DeepSeek's releases store each MTP module's own copy of the main embedding
// and output head (model.layers.{n_layers + k - 1}.embed_tokens.weight and
// .shared_head.head.weight); r1's MTP modules share the main tensors instead
// of owning copies. The pairs (copy's name, main tensor's name) of a config:
// none unless arch DEEPSEEK_V3 with MTP modules. LoadModel and LoadTensors
// accept a copy equal to its main tensor; ExportHuggingFace writes them.
std::vector<std::pair<std::string, std::string>> MtpSharedCopies(const config::ModelConfig& config);

// The main tensor that `name` is a copy of (one of MtpSharedCopies), or empty
// when `name` is no such copy.
std::string MtpCopyOf(const config::ModelConfig& config, const std::string& name);

// The refusal of a copy that differs from its main tensor: `where` is the
// file (or source) holding the copy, `main` the main tensor as the message
// should name it.
absl::Status MtpCopyDiffers(const std::string& where, const std::string& copy, const std::string& main);

class DeepSeekV3Impl : public CausalLmImpl {
 public:
  explicit DeepSeekV3Impl(const config::ModelConfig& config);

  ForwardResult Forward(const torch::Tensor& tokens, KvCache* cache, const ForwardOptions& options) override;
  bool CanDraft() const override { return !mtp_.empty(); }
  ForwardResult Draft(const torch::Tensor& hidden, const torch::Tensor& next_tokens, const torch::Tensor& token_valid,
                      KvCache* cache, int64_t at, const ForwardOptions& options) override;
  void AfterOptimizerStep() override;
  std::vector<torch::Tensor> ExpertLoad() const override;

 protected:
  void InitLayerCaches(KvCache& cache, torch::TensorOptions options) const override;
  int64_t NumCachedLayers() const override { return static_cast<int64_t>(blocks_.size()); }

 private:
  std::shared_ptr<torch::nn::Module> model_;  // "model"
  torch::nn::Embedding embed_tokens_{nullptr};
  torch::nn::ModuleList layers_{nullptr};     // blocks, then MTP modules
  RmsNorm norm_{nullptr};
  torch::nn::Linear lm_head_{nullptr};
  std::vector<DeepSeekBlock> blocks_;
  std::vector<MtpModule> mtp_;
};

}  // namespace r1::model

#endif  // R1_MODEL_DEEPSEEK_H_
