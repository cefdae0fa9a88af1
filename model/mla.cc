#include "model/mla.h"

#include <torch/torch.h>

#include <cmath>

namespace r1::model {

MlaImpl::MlaImpl(const config::ModelConfig& c)
    : n_heads_(c.n_heads()),
      kv_lora_rank_(c.kv_lora_rank()),
      nope_dim_(c.qk_nope_head_dim()),
      rope_dim_(c.qk_rope_head_dim()),
      v_dim_(c.v_head_dim()),
      rope_(MakeRope(c, c.qk_rope_head_dim(), RopeLayout::kInterleaved)),
      softmax_scale_(SoftmaxScaleMultiplier(c) /
                     std::sqrt(static_cast<double>(c.qk_nope_head_dim() + c.qk_rope_head_dim()))) {
  const int64_t dim = c.dim();
  const int64_t qk_dim = nope_dim_ + rope_dim_;
  if (c.q_lora_rank() == 0) {
    q_proj = register_module("q_proj", MakeLinear(dim, n_heads_ * qk_dim));
  } else {
    q_a_proj = register_module("q_a_proj", MakeLinear(dim, c.q_lora_rank()));
    q_a_layernorm = register_module("q_a_layernorm", RmsNorm(c.q_lora_rank(), c.rms_norm_eps()));
    q_b_proj = register_module("q_b_proj", MakeLinear(c.q_lora_rank(), n_heads_ * qk_dim));
  }
  kv_a_proj_with_mqa = register_module("kv_a_proj_with_mqa", MakeLinear(dim, kv_lora_rank_ + rope_dim_));
  kv_a_layernorm = register_module("kv_a_layernorm", RmsNorm(kv_lora_rank_, c.rms_norm_eps()));
  kv_b_proj = register_module("kv_b_proj", MakeLinear(kv_lora_rank_, n_heads_ * (nope_dim_ + v_dim_)));
  o_proj = register_module("o_proj", MakeLinear(n_heads_ * v_dim_, dim));
}

void MlaImpl::InitCache(LayerCache& cache, int64_t batch, int64_t capacity,
                        torch::TensorOptions options) const {
  cache.latent = torch::zeros({batch, capacity, kv_lora_rank_}, options);
  cache.rope_key = torch::zeros({batch, capacity, rope_dim_}, options);
}

torch::Tensor MlaImpl::forward(const torch::Tensor& x, const AttentionContext& ctx, LayerCache* cache,
                               bool absorbed) {
  const int64_t batch = x.size(0), tokens = x.size(1);
  const torch::Tensor q_flat = q_proj ? q_proj(x) : q_b_proj(q_a_layernorm(q_a_proj(x)));
  const torch::Tensor q = q_flat.view({batch, tokens, n_heads_, nope_dim_ + rope_dim_});  // [B, T, H, Dn+Dr]
  const torch::Tensor q_nope = q.narrow(-1, 0, nope_dim_);                                 // [B, T, H, Dn]
  const torch::Tensor q_pe =
      ApplyRope(q.narrow(-1, nope_dim_, rope_dim_), ctx.positions, rope_);

  const torch::Tensor kv = kv_a_proj_with_mqa(x);                                          // [B, T, R+Dr]
  torch::Tensor latent = kv_a_layernorm(kv.narrow(-1, 0, kv_lora_rank_));                  // [B, T, R]
  torch::Tensor rope_key = ApplyRope(kv.narrow(-1, kv_lora_rank_, rope_dim_), ctx.positions, rope_);  // [B, T, Dr]
  if (cache != nullptr) {
    cache->latent.narrow(1, ctx.cache_offset, tokens).copy_(latent);
    cache->rope_key.narrow(1, ctx.cache_offset, tokens).copy_(rope_key);
    latent = cache->latent.narrow(1, 0, ctx.cache_offset + tokens);                        // [B, S, R]
    rope_key = cache->rope_key.narrow(1, 0, ctx.cache_offset + tokens);                    // [B, S, Dr]
  }

  // Each head's query is [q_nope | q_pe] and its key [k_nope | shared k_pe].
  const int64_t keys = latent.size(1);
  torch::Tensor out;  // [B, T, H, Dv]
  if (absorbed) {
    // kv_b_proj.weight viewed per head: [H, Dn+Dv, R] = [W_UK; W_UV]. Folding
    // W_UK into the query makes the "keys" the shared latent itself.
    const torch::Tensor w = kv_b_proj->weight.view({n_heads_, nope_dim_ + v_dim_, kv_lora_rank_});
    const torch::Tensor w_uk = w.narrow(1, 0, nope_dim_);                                     // [H, Dn, R]
    const torch::Tensor w_uv = w.narrow(1, nope_dim_, v_dim_);                                // [H, Dv, R]
    const torch::Tensor q_latent = torch::einsum("bthd,hdr->bhtr", {q_nope, w_uk});           // [B, H, T, R]
    const torch::Tensor q_full = torch::cat({q_latent, q_pe.transpose(1, 2)}, -1);            // [B, H, T, R+Dr]
    // Every head's key is then [latent | k_pe] and its value the latent: one
    // kv head that all H query heads share, read once (not copied per head).
    const torch::Tensor k_shared = torch::cat({latent, rope_key}, -1).unsqueeze(1);           // [B, 1, S, R+Dr]
    const torch::Tensor out_latent = Attend(q_full, k_shared, latent.unsqueeze(1), ctx, softmax_scale_);  // [B, T, H, R]
    out = torch::einsum("bthr,hdr->bthd", {out_latent, w_uv});
  } else {
    const torch::Tensor kv_heads =
        kv_b_proj(latent).view({batch, keys, n_heads_, nope_dim_ + v_dim_}).transpose(1, 2);  // [B, H, S, Dn+Dv]
    const torch::Tensor rope_key_heads = rope_key.unsqueeze(1).expand({batch, n_heads_, keys, rope_dim_});  // [B, H, S, Dr]
    const torch::Tensor k_full = torch::cat({kv_heads.narrow(-1, 0, nope_dim_), rope_key_heads}, -1);  // [B, H, S, Dn+Dr]
    const torch::Tensor q_full = torch::cat({q_nope, q_pe}, -1).transpose(1, 2);             // [B, H, T, Dn+Dr]
    out = Attend(q_full, k_full, kv_heads.narrow(-1, nope_dim_, v_dim_), ctx, softmax_scale_);
  }
  return o_proj(out.reshape({batch, tokens, n_heads_ * v_dim_}));
}

}  // namespace r1::model
