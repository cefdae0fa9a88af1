#include "common/gguf.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <functional>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace r1 {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// {float32 bits, float16 bits} from NumPy 1.24.2 (Debian's python3-numpy):
//   /usr/bin/python3 -c "import numpy as np; b = np.array([...], np.uint32);
//     print(b.view(np.float32).astype(np.float16).view(np.uint16))"
constexpr uint32_t kHalfCases[][2] = {
    {0x00000000, 0x0000},  // 0.0
    {0x80000000, 0x8000},  // -0.0
    {0x3f800000, 0x3c00},  // 1.0
    {0xc0200000, 0xc100},  // -2.5
    {0x3dcccccd, 0x2e66},  // 0.1
    {0x40490fdb, 0x4248},  // pi
    {0x477fe000, 0x7bff},  // 65504, the largest half
    {0x477fefff, 0x7bff},  // just below the tie at 65520
    {0x477ff000, 0x7c00},  // 65520: tie, to even = infinity
    {0x49742400, 0x7c00},  // 1e6 overflows
    {0x7f7fffff, 0x7c00},  // FLT_MAX overflows
    {0x7f800000, 0x7c00},  // inf
    {0xff800000, 0xfc00},  // -inf
    {0x7fc00000, 0x7e00},  // NaN
    {0x38800000, 0x0400},  // 2^-14, smallest normal half
    {0x387fc000, 0x03ff},  // largest subnormal half
    {0x387fe000, 0x0400},  // halfway to 2^-14: rounds up into the normals
    {0x33800000, 0x0001},  // 2^-24, smallest subnormal half
    {0x33000000, 0x0000},  // 2^-25: tie, to even = 0
    {0x33000001, 0x0001},  // just above 2^-25
    {0x32ffffff, 0x0000},  // just below 2^-25
    {0x33c00000, 0x0002},  // 1.5 * 2^-24: tie, to even = 2
    {0x34200000, 0x0002},  // 2.5 * 2^-24: tie, to even = 2
    {0x3f801000, 0x3c00},  // 1 + 2^-11: tie, to even = 1
    {0x3f803000, 0x3c02},  // 1 + 3 * 2^-11: tie, to even = 1 + 2^-9
    {0x3f801001, 0x3c01},  // just above the tie
    {0xb3000001, 0x8001},  // negative subnormal
    {0x00000001, 0x0000},  // smallest float32 subnormal
    {0x37800000, 0x0100},  // 2^-16, a subnormal half
};

TEST(FloatToHalf, MatchesNumpyIncludingTiesOverflowAndSubnormals) {
  for (const auto& [float_bits, half_bits] : kHalfCases) {
    EXPECT_EQ(FloatToHalf(std::bit_cast<float>(float_bits)), half_bits)
        << absl::StrCat("float32 bits 0x", absl::Hex(float_bits));
  }
}

TEST(FloatToHalf, EveryHalfRoundTrips) {
  // Each finite half, widened to float32 exactly (NumPy: float16 -> float32),
  // must convert back to itself. Widening done by hand: value = steps * 2^-24
  // for subnormals, (1024 + mantissa) * 2^(exponent - 25) otherwise.
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    const uint32_t exponent = h >> 10, mantissa = h & 0x3ff;
    const float value = exponent == 0 ? std::ldexp(static_cast<float>(mantissa), -24)
                                      : std::ldexp(static_cast<float>(1024 + mantissa),
                                                   static_cast<int>(exponent) - 25);
    ASSERT_EQ(FloatToHalf(value), h) << value;
    ASSERT_EQ(FloatToHalf(-value), h | 0x8000) << -value;
  }
}

std::string TempPath(const std::string& name) {
  return (fs::temp_directory_path() / absl::StrCat("r1_gguf_", getpid(), "_", name)).string();
}

// The expected file was encoded by an independent program, Python's struct
// module and NumPy, straight from the GGUF v3 layout:
//
//   import struct, numpy as np
//   def s(x): b = x.encode(); return struct.pack('<Q', len(b)) + b
//   kv = [s('general.alignment') + struct.pack('<II', 4, 32),
//         s('general.architecture') + struct.pack('<I', 8) + s('llama'),
//         s('t.u32') + struct.pack('<II', 4, 7),
//         s('t.i32') + struct.pack('<Ii', 5, -3),
//         s('t.f32') + struct.pack('<If', 6, 1.5),
//         s('t.bool') + struct.pack('<IB', 7, 1),
//         s('t.strs') + struct.pack('<IIQ', 9, 8, 2) + s('a') + s('bc'),
//         s('t.floats') + struct.pack('<IIQff', 9, 6, 2, 0.5, -1.0),
//         s('t.ints') + struct.pack('<IIQii', 9, 5, 2, -1, 2)]
//   w = np.arange(6, dtype='<f4').tobytes()          # PyTorch shape [2, 3]
//   h = np.array([1, -2, 0.5], dtype='<f2').tobytes() # shape [3]
//   info = (s('w') + struct.pack('<I', 2) + struct.pack('<QQ', 3, 2) + struct.pack('<IQ', 0, 0) +
//           s('h') + struct.pack('<I', 1) + struct.pack('<Q', 3) + struct.pack('<IQ', 1, 32))
//   out = b'GGUF' + struct.pack('<IQQ', 3, 2, len(kv)) + b''.join(kv) + info
//   out += b'\0' * (-len(out) % 32)
//   out += w + b'\0' * (-len(w) % 32) + h + b'\0' * (-len(h) % 32)
//   print(out.hex())
constexpr char kExpectedHex[] =
    "474755460300000002000000000000000900000000000000110000000000000067656e6572616c2e616c69676e6d656e"
    "740400000020000000140000000000000067656e6572616c2e6172636869746563747572650800000005000000000000"
    "006c6c616d610500000000000000742e75333204000000070000000500000000000000742e69333205000000fdffffff"
    "0500000000000000742e663332060000000000c03f0600000000000000742e626f6f6c07000000010600000000000000"
    "742e73747273090000000800000002000000000000000100000000000000610200000000000000626308000000000000"
    "00742e666c6f617473090000000600000002000000000000000000003f000080bf0600000000000000742e696e747309"
    "000000050000000200000000000000ffffffff0200000001000000000000007702000000030000000000000002000000"
    "000000000000000000000000000000000100000000000000680100000003000000000000000100000020000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000803f0000004000004040"
    "000080400000a0400000000000000000003c00c000380000000000000000000000000000000000000000000000000000";

TEST(GgufWriter, WritesHeaderKeysTensorInfosAndAlignedDataByteForByte) {
  GgufWriter writer;
  writer.AddString("general.architecture", "llama");
  writer.AddUint32("t.u32", 7);
  writer.AddInt32("t.i32", -3);
  writer.AddFloat32("t.f32", 1.5f);
  writer.AddBool("t.bool", true);
  writer.AddStringArray("t.strs", {"a", "bc"});
  writer.AddFloat32Array("t.floats", {0.5f, -1.0f});
  writer.AddInt32Array("t.ints", {-1, 2});
  const float w[6] = {0, 1, 2, 3, 4, 5};
  writer.AddTensor("w", {2, 3}, w, GgufTensorType::kF32);
  const float h[3] = {1, -2, 0.5f};
  writer.AddTensor("h", {3}, h, GgufTensorType::kF16);
  const std::string path = TempPath("layout.gguf");
  ASSERT_TRUE(writer.Write(path).ok());
  absl::StatusOr<std::string> bytes = ReadFile(path);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(absl::BytesToHexString(*bytes), kExpectedHex);
  EXPECT_EQ(bytes->size() % GgufWriter::kAlignment, 0u);
  fs::remove(path);
}

TEST(GgufWriter, RepeatedKeyOrBadTensorFailsWithoutWriting) {
  const float x[2] = {1, 2};
  struct Case {
    std::string why;
    std::function<void(GgufWriter&)> misuse;
  };
  const std::vector<Case> cases = {
      {"added twice", [](GgufWriter& w) { w.AddUint32("general.alignment", 64); }},
      {"added twice", [&](GgufWriter& w) {
         w.AddTensor("x", {2}, x, GgufTensorType::kF32);
         w.AddTensor("x", {2}, x, GgufTensorType::kF16);
       }},
      {"dims", [&](GgufWriter& w) { w.AddTensor("x", {1, 1, 1, 1, 2}, x, GgufTensorType::kF32); }},
      {"dim must be > 0", [&](GgufWriter& w) { w.AddTensor("x", {2, 0}, x, GgufTensorType::kF32); }},
      {"name", [&](GgufWriter& w) { w.AddTensor(std::string(64, 'n'), {2}, x, GgufTensorType::kF32); }},
  };
  for (const Case& c : cases) {
    GgufWriter writer;
    c.misuse(writer);
    const std::string path = TempPath("misuse.gguf");
    const absl::Status status = writer.Write(path);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.why;
    EXPECT_THAT(status.message(), HasSubstr(c.why));
    EXPECT_THAT(status.message(), HasSubstr(path));
    EXPECT_FALSE(fs::exists(path));
  }
}

TEST(GgufWriter, MissingFolderErrorNamesThePath) {
  GgufWriter writer;
  const std::string path = TempPath("no_such_dir/model.gguf");
  const absl::Status status = writer.Write(path);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(path));
}

TEST(GgufWriter, FailedWriteKeepsTheOldFileAndLeavesNoPartialOne) {
  const std::string path = TempPath("full.gguf");
  ASSERT_TRUE(WriteFileAtomically(path, "old").ok());
  std::vector<float> big(100000, 1.0f);  // 400 KB, far past the limit below
  GgufWriter writer;
  writer.AddTensor("big", {static_cast<int64_t>(big.size())}, big.data(), GgufTensorType::kF32);
  // A file size limit makes writes fail with EFBIG the way a full disk
  // fails them with ENOSPC; SIGXFSZ would otherwise kill the test.
  rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit limit = old_limit;
  limit.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  const absl::Status status = writer.Write(path);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr(path));
  EXPECT_EQ(*ReadFile(path), "old");
  for (const auto& entry : fs::directory_iterator(fs::path(path).parent_path())) {
    EXPECT_THAT(entry.path().string(), ::testing::Not(HasSubstr(absl::StrCat(path, ".tmp"))));
  }
  fs::remove(path);
}

}  // namespace
}  // namespace r1
