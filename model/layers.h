// Building blocks shared by the DeepSeek-V3 and Llama layouts.
//
// Legend: B batch, T new tokens, S keys (cache length after this step), D dim,
// H heads, V vocab.
#ifndef R1_MODEL_LAYERS_H_
#define R1_MODEL_LAYERS_H_

#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "model/kv_cache.h"
#include "model/rope.h"

namespace r1::model {

// y = x * rsqrt(mean(x^2) + eps) * weight, computed in float32.
class RmsNormImpl : public torch::nn::Module {
 public:
  RmsNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;  // [dim]

 private:
  double eps_;
};
TORCH_MODULE(RmsNorm);

// y = x @ weight^T (+ bias), weight [out, in]; bias-free unless asked.
torch::nn::Linear MakeLinear(int64_t in, int64_t out, bool bias = false);

// weight [vocab, dim], HF name embed_tokens.
torch::nn::Embedding MakeEmbedding(int64_t vocab, int64_t dim);

// For building a model whose every tensor is loaded right after. While one
// lives on this thread, MakeLinear and MakeEmbedding make their tensors
// directly in `dtype`, uninitialized: a model about to be loaded in bfloat16
// never exists in float32 (that alone peaked at 2.3x the weights' bytes) and
// skips the random init. Thread-local, so models built on other threads at
// the same time are not affected.
class ScopedBuildDtype {
 public:
  explicit ScopedBuildDtype(torch::Dtype dtype);
  ~ScopedBuildDtype();
  ScopedBuildDtype(const ScopedBuildDtype&) = delete;
  ScopedBuildDtype& operator=(const ScopedBuildDtype&) = delete;

 private:
  const torch::Dtype* previous_;
  torch::Dtype dtype_;
};

// down(silu(gate(x)) * up(x)), HF names gate_proj / up_proj / down_proj
// (with biases when `bias`: Llama's mlp_bias).
class SwiGluImpl : public torch::nn::Module {
 public:
  SwiGluImpl(int64_t dim, int64_t hidden, bool bias = false);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(SwiGlu);

// Per-call attention inputs shared by every layer.
struct AttentionContext {
  torch::Tensor positions;  // [B, T] int64 RoPE positions of the new tokens
  torch::Tensor mask_bias;  // [B, 1, T, S] float32: 0 where a query may attend, -inf elsewhere
  int64_t cache_offset = 0; // where the new tokens go in the cache
};

// Builds positions and the causal + padding mask for T new tokens after
// `past` cached ones. `token_valid` [B, T] (or undefined = all valid) marks
// left padding; `past_valid` [B, past] and `past_next_position` [B] describe
// the cache (undefined when there is none).
AttentionContext MakeAttentionContext(const torch::Tensor& token_valid, int64_t batch, int64_t tokens,
                                      int64_t past, const torch::Tensor& past_valid,
                                      const torch::Tensor& past_next_position, torch::Device device);

// The same for T new tokens continuing `cache` (nullptr = no cache), or, when
// `segment_ids` [B, T] is defined (no cache), for packed rows: attention stays
// within each segment and positions restart at each segment's start.
AttentionContext MakeAttentionContext(const torch::Tensor& token_valid, int64_t batch, int64_t tokens,
                                      const KvCache* cache, torch::Device device,
                                      const torch::Tensor& segment_ids = torch::Tensor());

// Scaled dot-product attention with the context's mask:
// softmax(q k^T * scale + mask_bias) v, the softmax in float32.
// q [B, H, T, dk], k [B, G, S, dk], v [B, G, S, dv] -> [B, T, H, dv], where G
// divides H and query heads g*H/G .. (g+1)*H/G - 1 share kv head g (G = H:
// one each; grouped-query attention; G = 1: absorbed MLA's shared latent).
torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const AttentionContext& ctx, double scale);

}  // namespace r1::model

#endif  // R1_MODEL_LAYERS_H_
