// Rotary position embedding: the frequencies of a model (with the scalings
// released checkpoints use to stretch their context) and the rotation.
//
// inv_freq_j = theta^(-2j/d) for j < d/2, then, by config.rope_scaling.type:
//  - "linear": inv_freq / factor (positions divided by the factor);
//  - "llama3": per frequency, by its wavelength w = 2 pi / inv_freq against
//    L = original_max_position_embeddings: w > L / low_freq_factor is divided
//    by factor, w < L / high_freq_factor is kept, and between the two
//    s = (L / w - low) / (high - low) blends (1 - s) inv_freq / factor + s inv_freq;
//  - "yarn": with the correction dims of b rotations,
//    c(b) = d ln(L / (2 pi b)) / (2 ln theta), lo = max(floor(c(beta_fast)), 0)
//    and hi = min(ceil(c(beta_slow)), d - 1), the ramp r_j = clamp((j - lo) /
//    (hi - lo), 0, 1) blends inv_freq / factor (weight r_j) with inv_freq
//    (weight 1 - r_j); cos and sin are multiplied by the attention factor (see
//    RopeScaling in proto/config.proto).
#ifndef R1_MODEL_ROPE_H_
#define R1_MODEL_ROPE_H_

#include <torch/types.h>

#include "proto/config.pb.h"

namespace r1::model {

// Which dimensions RoPE rotates together. DeepSeek-V3's published weights
// rotate adjacent pairs (2j, 2j+1); Hugging Face Llama/Qwen/Mistral weights
// rotate the two halves (j, j + d/2). Each layout keeps its own convention, so
// import and export copy q/k weights without permuting them.
enum class RopeLayout { kInterleaved, kHalves };

struct Rope {
  torch::Tensor inv_freq;     // [d/2] float32 (CPU; moved to the input's device on use)
  double cos_sin_scale = 1;   // YaRN's attention factor; 1 otherwise
  RopeLayout layout = RopeLayout::kHalves;
};

// The frequencies of `rotary_dim` (even) rotated dims under config's
// rope_theta and rope_scaling, as float32.
Rope MakeRope(const config::ModelConfig& config, int64_t rotary_dim, RopeLayout layout);

// YaRN's m(s, k) = 1 + 0.1 k ln(s) for s > 1, else 1.
double YarnMscale(double scale, double k);

// DeepSeek-V3 multiplies its softmax scale by m(factor, mscale_all_dim)^2
// under YaRN scaling with mscale_all_dim set; 1 for everything else.
double SoftmaxScaleMultiplier(const config::ModelConfig& config);

// Rotates x [B, T, H, d] or [B, T, d] at `positions` [B, T]: angle =
// position * inv_freq_j, cos and sin times rope.cos_sin_scale.
torch::Tensor ApplyRope(const torch::Tensor& x, const torch::Tensor& positions, const Rope& rope);

}  // namespace r1::model

#endif  // R1_MODEL_ROPE_H_
