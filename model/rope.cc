#include "model/rope.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "model/cast.h"

namespace r1::model {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Dimension index at which a frequency makes `rotations` turns over `length` positions.
double CorrectionDim(double rotations, int64_t dim, double theta, double length) {
  return static_cast<double>(dim) * std::log(length / (rotations * 2 * kPi)) / (2 * std::log(theta));
}

}  // namespace

double YarnMscale(double scale, double k) { return scale <= 1 ? 1.0 : 0.1 * k * std::log(scale) + 1.0; }

double SoftmaxScaleMultiplier(const config::ModelConfig& c) {
  const config::RopeScaling& s = c.rope_scaling();
  if (c.arch() != config::DEEPSEEK_V3 || s.type() != "yarn" || s.mscale_all_dim() == 0) return 1.0;
  const double m = YarnMscale(s.factor(), s.mscale_all_dim());
  return m * m;
}

Rope MakeRope(const config::ModelConfig& c, int64_t rotary_dim, RopeLayout layout) {
  const double theta = c.rope_theta();
  const int64_t half = rotary_dim / 2;
  // The unscaled frequencies in float32, as r1 has always computed them;
  // the scalings below work in float64 on top.
  const torch::Tensor base =
      torch::pow(theta, -torch::arange(0, rotary_dim, 2, torch::kFloat32) / static_cast<double>(rotary_dim));
  std::vector<double> inv_freq(static_cast<size_t>(half));
  for (int64_t j = 0; j < half; ++j) inv_freq[j] = base[j].item<float>();
  Rope rope;
  rope.layout = layout;
  const config::RopeScaling& s = c.rope_scaling();
  const double factor = s.factor();
  const double original = s.original_max_position_embeddings();
  if (s.type() == "linear") {
    for (double& f : inv_freq) f /= factor;
  } else if (s.type() == "llama3") {
    const double low_wavelen = original / s.low_freq_factor(), high_wavelen = original / s.high_freq_factor();
    for (double& f : inv_freq) {
      const double wavelen = 2 * kPi / f;
      if (wavelen > low_wavelen) {
        f /= factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth = (original / wavelen - s.low_freq_factor()) / (s.high_freq_factor() - s.low_freq_factor());
        f = (1 - smooth) * f / factor + smooth * f;
      }
    }
  } else if (s.type() == "yarn") {
    const double length = original > 0 ? original : c.max_seq_len();
    const double lo = std::max(std::floor(CorrectionDim(s.beta_fast(), rotary_dim, theta, length)), 0.0);
    double hi = std::min(std::ceil(CorrectionDim(s.beta_slow(), rotary_dim, theta, length)),
                         static_cast<double>(rotary_dim - 1));
    if (hi == lo) hi += 0.001;  // avoids a zero-width ramp
    for (int64_t j = 0; j < half; ++j) {
      const double ramp = std::clamp((static_cast<double>(j) - lo) / (hi - lo), 0.0, 1.0);
      inv_freq[j] = inv_freq[j] / factor * ramp + inv_freq[j] * (1 - ramp);
    }
    if (s.attention_factor() > 0) {
      rope.cos_sin_scale = s.attention_factor();
    } else if (s.mscale() > 0 && s.mscale_all_dim() > 0) {
      rope.cos_sin_scale = YarnMscale(factor, s.mscale()) / YarnMscale(factor, s.mscale_all_dim());
    } else {
      rope.cos_sin_scale = YarnMscale(factor, 1);
    }
  }
  rope.inv_freq = torch::tensor(inv_freq, torch::kFloat64).to(torch::kFloat32);
  return rope;
}

torch::Tensor ApplyRope(const torch::Tensor& x, const torch::Tensor& positions, const Rope& rope) {
  const int64_t d = x.size(-1);
  const torch::Tensor inv_freq = OnDevice(rope.inv_freq, x.device());                // [d/2]
  torch::Tensor angles = AsDtype(positions, torch::kFloat32).unsqueeze(-1) * inv_freq;  // [B, T, d/2]
  if (x.dim() == 4) angles = angles.unsqueeze(2);                                  // [B, T, 1, d/2]
  torch::Tensor cos = angles.cos(), sin = angles.sin();
  if (rope.cos_sin_scale != 1) {
    cos = cos * rope.cos_sin_scale;
    sin = sin * rope.cos_sin_scale;
  }
  const torch::Tensor xf = AsDtype(x, torch::kFloat32);
  if (rope.layout == RopeLayout::kInterleaved) {
    const torch::Tensor pairs = xf.unflatten(-1, {d / 2, 2});
    const torch::Tensor a = pairs.select(-1, 0), b = pairs.select(-1, 1);
    return AsDtype(torch::stack({a * cos - b * sin, a * sin + b * cos}, -1).flatten(-2), x.scalar_type());
  }
  const torch::Tensor a = xf.narrow(-1, 0, d / 2), b = xf.narrow(-1, d / 2, d / 2);
  return AsDtype(torch::cat({a * cos - b * sin, a * sin + b * cos}, -1), x.scalar_type());
}

}  // namespace r1::model
