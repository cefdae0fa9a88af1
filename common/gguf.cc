#include "common/gguf.h"

#include <bit>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace r1 {
namespace {

// The format is little-endian; bytes are copied from memory as they are.
static_assert(std::endian::native == std::endian::little, "GGUF writer assumes a little-endian host");

// GGUF metadata value types.
enum ValueType : uint32_t {
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
};

constexpr uint32_t kVersion = 3;
constexpr int kMaxDims = 4;         // GGML_MAX_DIMS
constexpr size_t kMaxNameSize = 63; // GGML_MAX_NAME (64) less the terminator

template <typename T>
void Append(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

void AppendString(std::string& out, absl::string_view s) {
  Append<uint64_t>(out, s.size());
  out.append(s.data(), s.size());
}

uint64_t AlignUp(uint64_t n) {
  return (n + GgufWriter::kAlignment - 1) / GgufWriter::kAlignment * GgufWriter::kAlignment;
}

}  // namespace

uint16_t FloatToHalf(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const uint32_t abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00;  // NaN: quiet, payload dropped
  // 65520 = 0x477ff000 is halfway between the largest half (65504) and
  // 2^16; the tie goes to the even neighbour, 2^16, which is infinity.
  if (abs >= 0x477ff000) return sign | 0x7c00;
  if (abs >= 0x38800000) {  // >= 2^-14: a normal half
    // Rebias the exponent (127 -> 15) in place, then drop 13 mantissa bits
    // rounding to nearest even; a carry out of the mantissa correctly bumps
    // the exponent.
    uint32_t rebased = abs - (112u << 23);
    rebased += 0xfff + ((rebased >> 13) & 1);
    return sign | static_cast<uint16_t>(rebased >> 13);
  }
  // Below 2^-14: a multiple of the half subnormal step 2^-24. With the
  // implicit bit, value = mantissa * 2^(exponent - 150), so the number of
  // steps is mantissa >> (126 - exponent).
  const int exponent = static_cast<int>(abs >> 23);
  if (exponent < 102) return sign;  // below 2^-25: rounds to zero
  const uint32_t mantissa = (abs & 0x7fffff) | 0x800000;
  const int shift = 126 - exponent;  // 14..24
  uint32_t steps = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (steps & 1) != 0)) ++steps;  // may reach 0x400 = 2^-14
  return sign | static_cast<uint16_t>(steps);
}

GgufWriter::GgufWriter() { AddUint32("general.alignment", kAlignment); }

bool GgufWriter::BeginKey(absl::string_view key, uint32_t value_type) {
  if (!keys_.emplace(key).second) {
    if (error_.empty()) error_ = absl::StrCat("GGUF key ", key, " added twice");
    return false;
  }
  AppendString(metadata_, key);
  Append<uint32_t>(metadata_, value_type);
  ++kv_count_;
  return true;
}

void GgufWriter::AddString(absl::string_view key, absl::string_view value) {
  if (BeginKey(key, kString)) AppendString(metadata_, value);
}

void GgufWriter::AddUint32(absl::string_view key, uint32_t value) {
  if (BeginKey(key, kUint32)) Append(metadata_, value);
}

void GgufWriter::AddInt32(absl::string_view key, int32_t value) {
  if (BeginKey(key, kInt32)) Append(metadata_, value);
}

void GgufWriter::AddFloat32(absl::string_view key, float value) {
  if (BeginKey(key, kFloat32)) Append(metadata_, value);
}

void GgufWriter::AddBool(absl::string_view key, bool value) {
  if (BeginKey(key, kBool)) Append<uint8_t>(metadata_, value ? 1 : 0);
}

void GgufWriter::AddStringArray(absl::string_view key, const std::vector<std::string>& values) {
  if (!BeginKey(key, kArray)) return;
  Append<uint32_t>(metadata_, kString);
  Append<uint64_t>(metadata_, values.size());
  for (const std::string& v : values) AppendString(metadata_, v);
}

void GgufWriter::AddFloat32Array(absl::string_view key, const std::vector<float>& values) {
  if (!BeginKey(key, kArray)) return;
  Append<uint32_t>(metadata_, kFloat32);
  Append<uint64_t>(metadata_, values.size());
  for (float v : values) Append(metadata_, v);
}

void GgufWriter::AddInt32Array(absl::string_view key, const std::vector<int32_t>& values) {
  if (!BeginKey(key, kArray)) return;
  Append<uint32_t>(metadata_, kInt32);
  Append<uint64_t>(metadata_, values.size());
  for (int32_t v : values) Append(metadata_, v);
}

void GgufWriter::AddTensor(absl::string_view name, const std::vector<int64_t>& shape, const float* data,
                           GgufTensorType type) {
  const auto fail = [&](absl::string_view why) {
    if (error_.empty()) error_ = absl::StrCat("GGUF tensor ", name, ": ", why);
  };
  if (name.empty() || name.size() > kMaxNameSize) {
    return fail(absl::StrCat("name must be 1..", kMaxNameSize, " bytes"));
  }
  if (shape.empty() || shape.size() > kMaxDims) return fail(absl::StrCat("needs 1..", kMaxDims, " dims"));
  if (type != GgufTensorType::kF32 && type != GgufTensorType::kF16) return fail("unsupported type");
  if (data == nullptr) return fail("no data");
  Tensor tensor{std::string(name), {}, type, {}};
  uint64_t count = 1;
  for (auto it = shape.rbegin(); it != shape.rend(); ++it) {
    if (*it <= 0) return fail("every dim must be > 0");
    tensor.dims.push_back(static_cast<uint64_t>(*it));
    count *= static_cast<uint64_t>(*it);
  }
  if (!tensor_names_.emplace(name).second) return fail("added twice");
  if (type == GgufTensorType::kF32) {
    tensor.bytes.assign(reinterpret_cast<const char*>(data), count * sizeof(float));
  } else {
    tensor.bytes.resize(count * sizeof(uint16_t));
    for (uint64_t i = 0; i < count; ++i) {
      const uint16_t h = FloatToHalf(data[i]);
      std::memcpy(&tensor.bytes[i * sizeof(uint16_t)], &h, sizeof(uint16_t));
    }
  }
  tensors_.push_back(std::move(tensor));
}

absl::Status GgufWriter::Write(const std::string& path) const {
  if (!error_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot write ", path, ": ", error_));
  }
  std::string head;
  head.append("GGUF", 4);
  Append<uint32_t>(head, kVersion);
  Append<uint64_t>(head, tensors_.size());
  Append<uint64_t>(head, kv_count_);
  head.append(metadata_);
  uint64_t offset = 0;  // relative to the data section
  for (const Tensor& t : tensors_) {
    AppendString(head, t.name);
    Append<uint32_t>(head, static_cast<uint32_t>(t.dims.size()));
    for (uint64_t d : t.dims) Append(head, d);
    Append<uint32_t>(head, static_cast<uint32_t>(t.type));
    Append<uint64_t>(head, offset);
    offset += AlignUp(t.bytes.size());
  }
  head.resize(AlignUp(head.size()), '\0');

  const auto with_path = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat("cannot write GGUF file ", path, ": ", s.message()));
  };
  AtomicFileWriter file;
  if (absl::Status s = file.Open(path); !s.ok()) return with_path(s);
  if (absl::Status s = file.Write(head); !s.ok()) return with_path(s);
  const std::string zeros(kAlignment, '\0');
  for (const Tensor& t : tensors_) {
    if (absl::Status s = file.Write(t.bytes); !s.ok()) return with_path(s);
    const size_t pad = AlignUp(t.bytes.size()) - t.bytes.size();
    if (absl::Status s = file.Write(absl::string_view(zeros.data(), pad)); !s.ok()) return with_path(s);
  }
  if (absl::Status s = file.Commit(); !s.ok()) return with_path(s);
  return absl::OkStatus();
}

}  // namespace r1
