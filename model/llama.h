// The GQA decoder of the Llama, Mistral, Qwen2, Qwen3 and Qwen3-MoE families,
// and r1's dense student: GQA attention (optional q/k/v and o biases, per-head
// RMSNorm on q and k, head_dim independent of dim / n_heads), RoPE in the
// Hugging Face "two halves" layout with the family's scaling, RMSNorm, and per
// layer a SwiGLU FFN (optional biases) or routed experts (Qwen3-MoE; see
// LayerRoutes), optional tied embeddings. Module tree mirrors the Hugging Face
// names: model.embed_tokens, model.layers.{i}.{input_layernorm,
// self_attn.{q,k,v,o}_proj, self_attn.{q,k}_norm, post_attention_layernorm,
// mlp.*}, model.norm, lm_head (absent when tied).
//
// Legend: B batch, T new tokens, S keys, H heads, G n_kv_heads, Dh head dim.
#ifndef R1_MODEL_LLAMA_H_
#define R1_MODEL_LLAMA_H_

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>

#include "model/causal_lm.h"
#include "model/layers.h"
#include "model/moe.h"

namespace r1::model {

// Per-head width of a GQA model: head_dim when set, else dim / n_heads.
int64_t GqaHeadDim(const config::ModelConfig& config);

class GqaAttentionImpl : public torch::nn::Module {
 public:
  explicit GqaAttentionImpl(const config::ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const AttentionContext& ctx, LayerCache* cache);
  void InitCache(LayerCache& cache, int64_t batch, int64_t capacity, torch::TensorOptions options) const;

  torch::nn::Linear q_proj{nullptr};  // [H*Dh, D] (+ bias [H*Dh] when qkv_bias)
  torch::nn::Linear k_proj{nullptr};  // [G*Dh, D]
  torch::nn::Linear v_proj{nullptr};  // [G*Dh, D]
  torch::nn::Linear o_proj{nullptr};  // [D, H*Dh] (+ bias [D] when o_bias)
  RmsNorm q_norm{nullptr};            // [Dh], qk_norm only
  RmsNorm k_norm{nullptr};            // [Dh], qk_norm only

 private:
  int64_t n_heads_, n_kv_heads_, head_dim_;
  Rope rope_;
};
TORCH_MODULE(GqaAttention);

class LlamaBlockImpl : public torch::nn::Module {
 public:
  LlamaBlockImpl(const config::ModelConfig& config, int64_t layer_index);
  torch::Tensor forward(const torch::Tensor& h, const AttentionContext& ctx, LayerCache* cache,
                        const ForwardOptions& options, torch::Tensor* aux_loss);

  RmsNorm input_layernorm{nullptr};
  GqaAttention self_attn{nullptr};
  RmsNorm post_attention_layernorm{nullptr};
  SwiGlu mlp{nullptr};  // registered as "mlp" when the layer is dense
  Moe moe{nullptr};     // registered as "mlp" when the layer routes
};
TORCH_MODULE(LlamaBlock);

class LlamaImpl : public CausalLmImpl {
 public:
  explicit LlamaImpl(const config::ModelConfig& config);
  ForwardResult Forward(const torch::Tensor& tokens, KvCache* cache, const ForwardOptions& options) override;
  void AfterOptimizerStep() override;
  std::vector<torch::Tensor> ExpertLoad() const override;

 protected:
  void InitLayerCaches(KvCache& cache, torch::TensorOptions options) const override;
  int64_t NumCachedLayers() const override { return static_cast<int64_t>(blocks_.size()); }

 private:
  std::shared_ptr<torch::nn::Module> model_;
  torch::nn::Embedding embed_tokens_{nullptr};
  std::vector<LlamaBlock> blocks_;
  RmsNorm norm_{nullptr};
  torch::nn::Linear lm_head_{nullptr};  // null when tied to embed_tokens
};

}  // namespace r1::model

#endif  // R1_MODEL_LLAMA_H_
