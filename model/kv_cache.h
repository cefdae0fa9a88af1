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
//
// Sequence operations (the idea of llama.cpp's per-sequence cache calls:
// copy a sequence, drop one, defragment) work on rows as wholes, whatever
// tensors a layer's attention layout caches. Callers such as the rollout
// engine use only these, so a new layout adds its tensors to LayerCache
// (and to LayerCache::Fields) and touches nothing outside model/.
//
// Letters: B rows (sequences), S_max capacity in tokens, P a copied
// sequence's length.
#ifndef R1_MODEL_KV_CACHE_H_
#define R1_MODEL_KV_CACHE_H_

#include <torch/types.h>

#include <array>
#include <vector>

namespace r1::model {

struct LayerCache {
  // MLA (DeepSeek-V3 layout)
  torch::Tensor latent;    // [B, S_max, kv_lora_rank], after kv_a_layernorm
  torch::Tensor rope_key;  // [B, S_max, qk_rope_head_dim], RoPE applied
  // Grouped-query attention (Llama layout)
  torch::Tensor key;       // [B, S_max, n_kv_heads, head_dim], RoPE applied
  torch::Tensor value;     // [B, S_max, n_kv_heads, head_dim]

  // Every tensor slot above, in a fixed order, defined or not (a layout
  // leaves the others' undefined). Each defined one is [B, S_max, ...]: row
  // first, position second, which is all the sequence operations rely on.
  static constexpr size_t kFields = 4;
  std::array<torch::Tensor*, kFields> Fields();
  std::array<const torch::Tensor*, kFields> Fields() const;
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

  // Rows [first, first + count) as a cache of `count` rows that shares this
  // one's storage, so a forward pass on the view (decoding only the active
  // rows) writes its keys, validity and positions straight into this cache.
  // The view's `length` is a copy: afterwards set `length = view.length`.
  // A view outlives no Compact() (which reallocates).
  KvCache Rows(int64_t first, int64_t count) const;

  // Writes the sequence in row `from_row` of `from` (its first from.length
  // positions: keys and validity) into row `row` at positions
  // [at, at + from.length). The row's other positions become invalid and its
  // next RoPE position continues the source's, so decoding the row goes on
  // exactly as it would in `from`. This is how the samples of one prompt
  // share its prefill. `length` is left alone: the caller decides where the
  // shared end goes when several rows join at once. Both caches come from the
  // same model (same layers and layout).
  void CopySequence(const KvCache& from, int64_t from_row, int64_t row, int64_t at);

  // Row `to` takes row `from`'s keys, validity and next position; `from` is
  // left empty (ClearRow). Keeps live rows packed when one in the middle ends.
  void MoveRow(int64_t from, int64_t to);

  // Empties `row`: every position invalid, next position 0. Its stale keys
  // stay in memory but no query attends to them.
  void ClearRow(int64_t row);

  // Moves each row's valid entries to the front of the position axis, in
  // their order, and ends the axis (`length`) at the longest row: room for
  // new tokens without changing what any row attends to (keys carry their
  // RoPE already, and positions come from next_position, not the axis).
  void Compact();
};

}  // namespace r1::model

#endif  // R1_MODEL_KV_CACHE_H_
