// Conversions that cost nothing when there is nothing to convert. Tensor::to
// returns the tensor itself then, but still goes through the dispatcher
// (about 0.4 µs); a batch-1 decode step of a tiny model made dozens of such
// calls.
#ifndef R1_MODEL_CAST_H_
#define R1_MODEL_CAST_H_

#include <torch/types.h>

namespace r1::model {

// `t` in `dtype`: `t` itself when it already is.
inline torch::Tensor AsDtype(const torch::Tensor& t, torch::ScalarType dtype) {
  return t.scalar_type() == dtype ? t : t.to(dtype);
}

// `t` on `device`: `t` itself when it already is.
inline torch::Tensor OnDevice(const torch::Tensor& t, torch::Device device) {
  return t.device() == device ? t : t.to(device);
}

}  // namespace r1::model

#endif  // R1_MODEL_CAST_H_
