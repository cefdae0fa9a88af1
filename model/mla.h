// Multi-Head Latent Attention (DeepSeek-V2/V3).
//
// Legend: B batch, T new tokens, S keys, D dim, H heads, R kv_lora_rank,
// Rq q_lora_rank, Dn qk_nope_head_dim, Dr qk_rope_head_dim, Dv v_head_dim.
//
// Keys and values come from one shared latent c_kv [B, S, R] (after
// kv_a_layernorm) plus one RoPE key per token shared by all heads; only those
// two are cached. Two equivalent forms:
//  - naive: expand c_kv through kv_b_proj into per-head keys and values;
//  - absorbed: fold W_UK into the query and W_UV into the output, attending
//    directly over c_kv. Cheaper when decoding from a long cache.
#ifndef R1_MODEL_MLA_H_
#define R1_MODEL_MLA_H_

#include "model/kv_cache.h"
#include "model/layers.h"
#include "proto/config.pb.h"

namespace r1::model {

class MlaImpl : public torch::nn::Module {
 public:
  explicit MlaImpl(const config::ModelConfig& config);

  // x [B, T, D] -> [B, T, D]. With a cache, the new latents and RoPE keys are
  // written at ctx.cache_offset and attention covers the whole cache prefix.
  torch::Tensor forward(const torch::Tensor& x, const AttentionContext& ctx, LayerCache* cache,
                        bool absorbed);

  // Cache tensors for `batch` rows of `capacity` tokens.
  void InitCache(LayerCache& cache, int64_t batch, int64_t capacity, torch::TensorOptions options) const;

  // Query path: q_proj, or q_a_proj -> q_a_layernorm -> q_b_proj when Rq > 0.
  torch::nn::Linear q_proj{nullptr};      // [H*(Dn+Dr), D]
  torch::nn::Linear q_a_proj{nullptr};    // [Rq, D]
  RmsNorm q_a_layernorm{nullptr};         // [Rq]
  torch::nn::Linear q_b_proj{nullptr};    // [H*(Dn+Dr), Rq]
  torch::nn::Linear kv_a_proj_with_mqa{nullptr};  // [R+Dr, D]
  RmsNorm kv_a_layernorm{nullptr};        // [R]
  torch::nn::Linear kv_b_proj{nullptr};   // [H*(Dn+Dv), R]
  torch::nn::Linear o_proj{nullptr};      // [D, H*Dv]

 private:
  int64_t n_heads_, kv_lora_rank_, nope_dim_, rope_dim_, v_dim_;
  Rope rope_;             // over Dr, adjacent pairs
  double softmax_scale_;  // 1 / sqrt(Dn + Dr), times YaRN's mscale^2 when scaled
};
TORCH_MODULE(Mla);

}  // namespace r1::model

#endif  // R1_MODEL_MLA_H_
