#include "model/layers.h"

#include <torch/torch.h>

#include <cmath>

#include "model/cast.h"

namespace r1::model {

RmsNormImpl::RmsNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RmsNormImpl::forward(const torch::Tensor& x) {
  const torch::Tensor xf = AsDtype(x, torch::kFloat32);
  const torch::Tensor normed = xf * torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return AsDtype(normed * AsDtype(weight, torch::kFloat32), x.scalar_type());
}

namespace {

// The dtype of the innermost ScopedBuildDtype on this thread, or null.
thread_local const torch::Dtype* build_dtype = nullptr;

}  // namespace

ScopedBuildDtype::ScopedBuildDtype(torch::Dtype dtype) : previous_(build_dtype), dtype_(dtype) {
  build_dtype = &dtype_;
}

ScopedBuildDtype::~ScopedBuildDtype() { build_dtype = previous_; }

torch::nn::Linear MakeLinear(int64_t in, int64_t out, bool bias) {
  if (build_dtype == nullptr) return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
  // Weights follow: a 1x1 module whose tensors are then swapped for
  // uninitialized ones of the real shape in the build dtype, so no float32
  // copy and no init (set_data, as Module::to does, keeps the registration).
  torch::nn::Linear linear(torch::nn::LinearOptions(1, 1).bias(bias));
  const auto options = torch::TensorOptions().dtype(*build_dtype);
  linear->weight.set_data(torch::empty({out, in}, options));
  if (bias) linear->bias.set_data(torch::empty({out}, options));
  linear->options.in_features(in).out_features(out);
  return linear;
}

torch::nn::Embedding MakeEmbedding(int64_t vocab, int64_t dim) {
  if (build_dtype == nullptr) return torch::nn::Embedding(vocab, dim);
  return torch::nn::Embedding(torch::nn::EmbeddingOptions(vocab, dim)._weight(
      torch::empty({vocab, dim}, torch::TensorOptions().dtype(*build_dtype))));
}

SwiGluImpl::SwiGluImpl(int64_t dim, int64_t hidden, bool bias) {
  gate_proj = register_module("gate_proj", MakeLinear(dim, hidden, bias));
  up_proj = register_module("up_proj", MakeLinear(dim, hidden, bias));
  down_proj = register_module("down_proj", MakeLinear(hidden, dim, bias));
}

torch::Tensor SwiGluImpl::forward(const torch::Tensor& x) {
  return down_proj(torch::silu(gate_proj(x)) * up_proj(x));
}

AttentionContext MakeAttentionContext(const torch::Tensor& token_valid, int64_t batch, int64_t tokens,
                                      int64_t past, const torch::Tensor& past_valid,
                                      const torch::Tensor& past_next_position, torch::Device device) {
  const auto long_opts = torch::TensorOptions().dtype(torch::kInt64).device(device);
  const torch::Tensor valid = token_valid.defined()
                                  ? token_valid.to(device, torch::kBool)
                                  : torch::ones({batch, tokens}, long_opts.dtype(torch::kBool));
  // Position of each token = valid tokens before it in its row.     // [B, T]
  const torch::Tensor valid_long = valid.to(torch::kInt64);
  torch::Tensor positions = valid_long.cumsum(1) - valid_long;
  if (past_next_position.defined()) positions = positions + past_next_position.unsqueeze(1);

  const int64_t keys = past + tokens;
  const torch::Tensor key_valid =
      past > 0 ? torch::cat({OnDevice(past_valid.narrow(1, 0, past), device), valid}, 1) : valid;  // [B, S]
  const torch::Tensor query_index = torch::arange(past, keys, long_opts).unsqueeze(1);     // [T, 1]
  const torch::Tensor key_index = torch::arange(0, keys, long_opts).unsqueeze(0);          // [1, S]
  const torch::Tensor causal = key_index <= query_index;                                   // [T, S]
  // A padding query may see only itself, so its softmax stays finite.
  const torch::Tensor self = key_index == query_index;
  const torch::Tensor mask = (causal.unsqueeze(0) & key_valid.unsqueeze(1)) | self.unsqueeze(0);  // [B, T, S]
  // Built once per forward pass and added to every layer's scores.
  const torch::Tensor bias = torch::zeros(mask.sizes(), long_opts.dtype(torch::kFloat32))
                                 .masked_fill_(mask.logical_not(), -std::numeric_limits<float>::infinity());
  return AttentionContext{positions, bias.unsqueeze(1), past};
}

AttentionContext MakeAttentionContext(const torch::Tensor& token_valid, int64_t batch, int64_t tokens,
                                      const KvCache* cache, torch::Device device, const torch::Tensor& segment_ids) {
  if (segment_ids.defined()) {
    TORCH_CHECK(cache == nullptr, "segment_ids are for packed training rows, not for cached decoding");
    AttentionContext ctx = MakeAttentionContext(token_valid, batch, tokens, 0, torch::Tensor(), torch::Tensor(), device);
    const torch::Tensor segments = segment_ids.to(device, torch::kInt64);               // [B, T]
    const torch::Tensor index = torch::arange(tokens, ctx.positions.options()).expand({batch, tokens});
    // A segment starts where the id changes; its tokens count from there.
    torch::Tensor starts = torch::ones({batch, tokens}, segments.options().dtype(torch::kBool));
    if (tokens > 1) {
      starts.narrow(1, 1, tokens - 1).copy_(segments.narrow(1, 1, tokens - 1) != segments.narrow(1, 0, tokens - 1));
    }
    const torch::Tensor start_index = std::get<0>(torch::where(starts, index, torch::zeros_like(index)).cummax(1));
    ctx.positions = index - start_index;
    const torch::Tensor other_segment = (segments.unsqueeze(2) != segments.unsqueeze(1)).unsqueeze(1);  // [B, 1, T, S]
    ctx.mask_bias = ctx.mask_bias.masked_fill(other_segment, -std::numeric_limits<float>::infinity());
    return ctx;
  }
  if (cache == nullptr) {
    return MakeAttentionContext(token_valid, batch, tokens, 0, torch::Tensor(), torch::Tensor(), device);
  }
  TORCH_CHECK(cache->length + tokens <= cache->capacity, "KV cache full: ", cache->length, " + ", tokens,
              " tokens exceed its capacity of ", cache->capacity);
  return MakeAttentionContext(token_valid, batch, tokens, cache->length, cache->key_valid,
                              cache->next_position, device);
}

torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                     const AttentionContext& ctx, double scale) {
  const int64_t batch = q.size(0), heads = q.size(1), tokens = q.size(2);
  const int64_t kv_heads = k.size(1), keys = k.size(2);
  TORCH_CHECK(kv_heads > 0 && heads % kv_heads == 0 && v.size(1) == kv_heads, "Attend: ", heads,
              " query heads cannot share ", kv_heads, " key heads and ", v.size(1), " value heads");
  // A kv head's query heads are consecutive, so [B, H, T] reshapes to
  // [B * G, H / G * T] rows that meet that head's keys in one product: the
  // keys and values are read once per kv head, never copied per query head.
  const int64_t rows = heads / kv_heads * tokens;
  const torch::Tensor scores = torch::bmm(q.reshape({batch * kv_heads, rows, q.size(3)}),
                                          k.reshape({batch * kv_heads, keys, k.size(3)}).transpose(1, 2))
                                   .view({batch, heads, tokens, keys});  // [B, H, T, S]
  const torch::Tensor probs = torch::softmax(torch::add(ctx.mask_bias, AsDtype(scores, torch::kFloat32), scale), -1);
  const torch::Tensor out = torch::bmm(AsDtype(probs, v.scalar_type()).view({batch * kv_heads, rows, keys}),
                                       v.reshape({batch * kv_heads, keys, v.size(3)}));  // [B * G, rows, dv]
  return out.view({batch, heads, tokens, v.size(3)}).transpose(1, 2);  // [B, T, H, dv]
}

}  // namespace r1::model
