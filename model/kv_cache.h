// Key/value cache for incremental decoding, owned by the caller (a rollout
// worker holds many), never by the model: the model owns weights only.
//
// Rows of a batch advance together (one shared `length`); prompts of different
// lengths are left-padded, and `key_valid` marks the padding so no query ever
// attends to it. RoPE positions count valid tokens per row.
//
// MLA layers store only the normalized latent c_kv and the shared RoPE key —
// (kv_lora_rank + qk_rope_head_dim) values per token per layer — instead of
// full per-head keys and values.
#ifndef R1_MODEL_KV_CACHE_H_
#define R1_MODEL_KV_CACHE_H_

#include <torch/types.h>

#include <vector>

namespace r1::model {

struct LayerCache {
  // MLA (DeepSeek-V3 layout)
  torch::Tensor latent;    // [B, S_max, kv_lora_rank], after kv_a_layernorm
  torch::Tensor rope_key;  // [B, S_max, qk_rope_head_dim], RoPE applied
  // Grouped-query attention (Llama layout)
  torch::Tensor key;       // [B, S_max, n_kv_heads, head_dim], RoPE applied
  torch::Tensor value;     // [B, S_max, n_kv_heads, head_dim]
};

struct KvCache {
  int64_t batch = 0;
  int64_t capacity = 0;            // S_max, tokens
  int64_t length = 0;              // positions filled so far (all rows)
  torch::Tensor key_valid;         // [B, S_max] bool; false for left padding
  torch::Tensor next_position;     // [B] int64: RoPE position of each row's next token
  std::vector<LayerCache> layers;

  // Bytes held by the cached keys/values (all layers, all rows).
  int64_t Bytes() const;

  // Records `tokens` new positions after a forward pass wrote their keys:
  // marks them valid (per `token_valid` [B, T], undefined = all) and moves
  // each row's next RoPE position past its valid tokens.
  void Advance(const torch::Tensor& token_valid, int64_t tokens);
};

}  // namespace r1::model

#endif  // R1_MODEL_KV_CACHE_H_
