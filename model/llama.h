// The dense student: Llama layout (GQA, SwiGLU, RMSNorm, RoPE in the Hugging
// Face "two halves" layout, optional tied embeddings). Module tree mirrors
// LlamaForCausalLM names: model.embed_tokens, model.layers.{i}.{input_layernorm,
// self_attn.{q,k,v,o}_proj, post_attention_layernorm, mlp.*}, model.norm,
// lm_head (absent when tied).
//
// Legend: B batch, T new tokens, S keys, H heads, G n_kv_heads, Dh head dim.
#ifndef R1_MODEL_LLAMA_H_
#define R1_MODEL_LLAMA_H_

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>

#include "model/causal_lm.h"
#include "model/layers.h"

namespace r1::model {

class GqaAttentionImpl : public torch::nn::Module {
 public:
  explicit GqaAttentionImpl(const config::ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const AttentionContext& ctx, LayerCache* cache);
  void InitCache(LayerCache& cache, int64_t batch, int64_t capacity, torch::TensorOptions options) const;

  torch::nn::Linear q_proj{nullptr};  // [H*Dh, D]
  torch::nn::Linear k_proj{nullptr};  // [G*Dh, D]
  torch::nn::Linear v_proj{nullptr};  // [G*Dh, D]
  torch::nn::Linear o_proj{nullptr};  // [D, H*Dh]

 private:
  int64_t n_heads_, n_kv_heads_, head_dim_;
  double rope_theta_;
};
TORCH_MODULE(GqaAttention);

class LlamaBlockImpl : public torch::nn::Module {
 public:
  explicit LlamaBlockImpl(const config::ModelConfig& config);
  torch::Tensor forward(const torch::Tensor& h, const AttentionContext& ctx, LayerCache* cache);

  RmsNorm input_layernorm{nullptr};
  GqaAttention self_attn{nullptr};
  RmsNorm post_attention_layernorm{nullptr};
  SwiGlu mlp{nullptr};
};
TORCH_MODULE(LlamaBlock);

class LlamaImpl : public CausalLmImpl {
 public:
  explicit LlamaImpl(const config::ModelConfig& config);
  ForwardResult Forward(const torch::Tensor& tokens, KvCache* cache, const ForwardOptions& options) override;

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
