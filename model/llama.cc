#include "model/llama.h"

#include <torch/torch.h>

#include <cmath>

namespace r1::model {

int64_t GqaHeadDim(const config::ModelConfig& c) {
  return c.head_dim() > 0 ? c.head_dim() : c.dim() / std::max(c.n_heads(), 1);
}

GqaAttentionImpl::GqaAttentionImpl(const config::ModelConfig& c)
    : n_heads_(c.n_heads()),
      n_kv_heads_(c.n_kv_heads()),
      head_dim_(GqaHeadDim(c)),
      rope_(MakeRope(c, GqaHeadDim(c), RopeLayout::kHalves)) {
  q_proj = register_module("q_proj", MakeLinear(c.dim(), n_heads_ * head_dim_, c.qkv_bias()));
  k_proj = register_module("k_proj", MakeLinear(c.dim(), n_kv_heads_ * head_dim_, c.qkv_bias()));
  v_proj = register_module("v_proj", MakeLinear(c.dim(), n_kv_heads_ * head_dim_, c.qkv_bias()));
  o_proj = register_module("o_proj", MakeLinear(n_heads_ * head_dim_, c.dim(), c.o_bias()));
  if (c.qk_norm()) {
    q_norm = register_module("q_norm", RmsNorm(head_dim_, c.rms_norm_eps()));
    k_norm = register_module("k_norm", RmsNorm(head_dim_, c.rms_norm_eps()));
  }
}

void GqaAttentionImpl::InitCache(LayerCache& cache, int64_t batch, int64_t capacity,
                                 torch::TensorOptions options) const {
  cache.key = torch::zeros({batch, capacity, n_kv_heads_, head_dim_}, options);
  cache.value = torch::zeros({batch, capacity, n_kv_heads_, head_dim_}, options);
}

torch::Tensor GqaAttentionImpl::forward(const torch::Tensor& x, const AttentionContext& ctx, LayerCache* cache) {
  const int64_t batch = x.size(0), tokens = x.size(1);
  torch::Tensor q = q_proj(x).view({batch, tokens, n_heads_, head_dim_});     // [B, T, H, Dh]
  torch::Tensor k = k_proj(x).view({batch, tokens, n_kv_heads_, head_dim_});  // [B, T, G, Dh]
  if (q_norm) {  // Qwen3: each head normalized over Dh before RoPE
    q = q_norm(q);
    k = k_norm(k);
  }
  q = ApplyRope(q, ctx.positions, rope_);
  k = ApplyRope(k, ctx.positions, rope_);
  torch::Tensor v = v_proj(x).view({batch, tokens, n_kv_heads_, head_dim_});  // [B, T, G, Dh]
  if (cache != nullptr) {
    cache->key.narrow(1, ctx.cache_offset, tokens).copy_(k);
    cache->value.narrow(1, ctx.cache_offset, tokens).copy_(v);
    k = cache->key.narrow(1, 0, ctx.cache_offset + tokens);                  // [B, S, G, Dh]
    v = cache->value.narrow(1, 0, ctx.cache_offset + tokens);
  }
  // Query heads g*group .. g*group+group-1 share kv head g (Attend reads
  // each kv head once for its group).
  const torch::Tensor out = Attend(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), ctx,
                                   1.0 / std::sqrt(static_cast<double>(head_dim_)));  // [B, T, H, Dh]
  return o_proj(out.reshape({batch, tokens, n_heads_ * head_dim_}));
}

LlamaBlockImpl::LlamaBlockImpl(const config::ModelConfig& c, int64_t layer_index) {
  input_layernorm = register_module("input_layernorm", RmsNorm(c.dim(), c.rms_norm_eps()));
  self_attn = register_module("self_attn", GqaAttention(c));
  post_attention_layernorm = register_module("post_attention_layernorm", RmsNorm(c.dim(), c.rms_norm_eps()));
  if (LayerRoutes(c, layer_index)) {
    moe = register_module("mlp", Moe(c));
  } else {
    mlp = register_module("mlp", SwiGlu(c.dim(), c.ffn_hidden_dim(), c.mlp_bias()));
  }
}

torch::Tensor LlamaBlockImpl::forward(const torch::Tensor& h, const AttentionContext& ctx, LayerCache* cache,
                                      const ForwardOptions& options, torch::Tensor* aux_loss) {
  const torch::Tensor x = h + self_attn(input_layernorm(h), ctx, cache);
  const torch::Tensor normed = post_attention_layernorm(x);
  return x + (mlp ? mlp(normed)
                  : moe->forward(normed, aux_loss, options.record_expert_load, options.expert_load_mask));
}

LlamaImpl::LlamaImpl(const config::ModelConfig& c) : CausalLmImpl(c) {
  model_ = register_module("model", std::make_shared<torch::nn::Module>());
  embed_tokens_ = model_->register_module("embed_tokens", MakeEmbedding(c.vocab_size(), c.dim()));
  auto layers = model_->register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.n_layers(); ++i) {
    blocks_.push_back(LlamaBlock(c, i));
    layers->push_back(blocks_.back());
  }
  norm_ = model_->register_module("norm", RmsNorm(c.dim(), c.rms_norm_eps()));
  if (!c.tie_embeddings()) lm_head_ = register_module("lm_head", MakeLinear(c.dim(), c.vocab_size()));
}

ForwardResult LlamaImpl::Forward(const torch::Tensor& tokens, KvCache* cache, const ForwardOptions& options) {
  const int64_t batch = tokens.size(0), length = tokens.size(1);
  const AttentionContext ctx =
      MakeAttentionContext(options.token_valid, batch, length, cache, tokens.device(), options.segment_ids);
  ForwardResult result;
  result.aux_loss = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32).device(tokens.device()));
  torch::Tensor* aux = options.compute_aux_loss ? &result.aux_loss : nullptr;
  torch::Tensor h = embed_tokens_(tokens);
  for (size_t i = 0; i < blocks_.size(); ++i) {
    h = blocks_[i](h, ctx, cache ? &cache->layers[i] : nullptr, options, aux);
  }
  result.hidden = h;
  const torch::Tensor normed = norm_(h);
  result.logits = lm_head_ ? lm_head_(normed) : torch::matmul(normed, embed_tokens_->weight.t());
  if (cache != nullptr) cache->Advance(options.token_valid, length);
  return result;
}

void LlamaImpl::AfterOptimizerStep() {
  for (LlamaBlock& block : blocks_) {
    if (block->moe) block->moe->UpdateBias(config_.bias_update_speed());
  }
}

std::vector<torch::Tensor> LlamaImpl::ExpertLoad() const {
  std::vector<torch::Tensor> loads;
  for (const LlamaBlock& block : blocks_) {
    if (block->moe) loads.push_back(block->moe->load());
  }
  return loads;
}

void LlamaImpl::InitLayerCaches(KvCache& cache, torch::TensorOptions options) const {
  for (size_t i = 0; i < blocks_.size(); ++i) {
    blocks_[i]->self_attn->InitCache(cache.layers[i], cache.batch, cache.capacity, options);
  }
}

}  // namespace r1::model
