// A writer of GGUF version 3, the single-file model format of ggml and
// llama.cpp, so a trained student runs in llama.cpp without a conversion step.
//
// File layout (all little-endian):
//   "GGUF", uint32 version (3), uint64 tensor_count, uint64 kv_count
//   kv_count x { string key, uint32 value_type, value }
//   tensor_count x { string name, uint32 n_dims, uint64 dims[n_dims],
//                    uint32 ggml_type, uint64 offset }
//   zero padding up to a multiple of general.alignment
//   tensor data, each tensor starting at data_start + offset, offsets aligned
// where string = uint64 byte length + bytes (no terminator) and an array value
// = uint32 element type, uint64 count, elements.
//
// dims are in GGML order, fastest-varying first: a PyTorch [rows, cols]
// matrix is written as dims {cols, rows}. Callers pass PyTorch shapes.
#ifndef R1_COMMON_GGUF_H_
#define R1_COMMON_GGUF_H_

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace r1 {

// ggml's type codes for the element types r1 writes.
enum class GgufTensorType : uint32_t { kF32 = 0, kF16 = 1 };

// IEEE 754 binary16 bits of `value`: round to nearest, ties to even; values
// at or above 65520 in magnitude become infinity, values too small for a
// normal half become subnormals (or signed zero); NaN stays a (quiet) NaN.
uint16_t FloatToHalf(float value);

class GgufWriter {
 public:
  // Every tensor's offset (and the data section's start) is a multiple of
  // this; it is written as the first key, general.alignment.
  static constexpr uint32_t kAlignment = 32;

  GgufWriter();

  // Keys are written in the order added. A repeated key, or a tensor the
  // format cannot hold, is a caller bug reported by Write(), which then
  // writes nothing.
  void AddString(absl::string_view key, absl::string_view value);
  void AddUint32(absl::string_view key, uint32_t value);
  void AddInt32(absl::string_view key, int32_t value);
  void AddFloat32(absl::string_view key, float value);
  void AddBool(absl::string_view key, bool value);
  void AddStringArray(absl::string_view key, const std::vector<std::string>& values);
  void AddFloat32Array(absl::string_view key, const std::vector<float>& values);
  void AddInt32Array(absl::string_view key, const std::vector<int32_t>& values);

  // Copies (and for kF16 converts) `shape`-product floats from `data`, a
  // row-major array whose `shape` is in PyTorch order, outermost first. At
  // most 4 dims (ggml's limit), each > 0; names shorter than 64 bytes.
  void AddTensor(absl::string_view name, const std::vector<int64_t>& shape, const float* data,
                 GgufTensorType type);

  // Writes the file through a temporary file beside `path`, fsync and rename,
  // so a failed write (full disk, ...) leaves no complete-looking file.
  // Errors name `path`.
  absl::Status Write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    std::vector<uint64_t> dims;  // GGML order, fastest first
    GgufTensorType type;
    std::string bytes;           // the data exactly as written
  };

  // Starts a key/value; false (and error_ set) for a repeated key.
  bool BeginKey(absl::string_view key, uint32_t value_type);

  std::string metadata_;  // the encoded key/values
  uint64_t kv_count_ = 0;
  std::set<std::string, std::less<>> keys_;
  std::vector<Tensor> tensors_;
  std::set<std::string, std::less<>> tensor_names_;
  std::string error_;  // the first misuse, returned by Write()
};

}  // namespace r1

#endif  // R1_COMMON_GGUF_H_
