#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace r1 {
namespace {

// 0xE3069283 is the published check value of CRC-32C (RFC 3720, B.4); the
// others come from a bitwise Python implementation (see the test's history).
TEST(Crc32c, MatchesPublishedAndIndependentValues) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  std::string bytes;
  for (int r = 0; r < 3; ++r) {
    for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  }
  EXPECT_EQ(Crc32c(bytes), 0x9FA293B3u);
}

// 100,003 bytes, byte i = (31 i + i / 256) mod 256: long enough for the
// interleaved rounds. The value is from the bitwise definition in Python:
//   crc ^= 0xFFFFFFFF; per byte: crc ^= b, 8 times crc = crc >> 1 ^ (0x82F63B78 if crc & 1 else 0);
//   finally crc ^ 0xFFFFFFFF.
TEST(Crc32c, MatchesTheBitwiseDefinitionOnALongInput) {
  std::string bytes(100003, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 31 + (i >> 8)) & 0xFF);
  EXPECT_EQ(Crc32c(bytes), 0x39867B6Fu);
}

TEST(Crc32c, ContinuesAcrossChunks) {
  const std::string text = "The quick brown fox jumps over the lazy dog, twice over.";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    EXPECT_EQ(Crc32c(text.substr(cut), Crc32c(text.substr(0, cut))), Crc32c(text)) << cut;
  }
}

// The instruction path and the tables give the same checksum for every
// length and alignment (the 8-byte loop, its tail, unaligned starts), and
// continue each other's checksums.
TEST(Crc32c, InstructionAndTablesAgree) {
  if (!crc32c_internal::HaveInstruction()) GTEST_SKIP() << "no crc32 instruction on this CPU";
  std::mt19937 random(7);
  std::string bytes(4096 + 16, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t length : {0, 1, 7, 8, 9, 15, 16, 63, 64, 65, 1000, 4096}) {
      const absl::string_view piece(bytes.data() + offset, length);
      EXPECT_EQ(crc32c_internal::WithInstruction(piece, 0), crc32c_internal::WithTables(piece, 0))
          << offset << " " << length;
      EXPECT_EQ(crc32c_internal::WithInstruction(piece, 0x12345678u),
                crc32c_internal::WithTables(piece, 0x12345678u));
    }
  }
  // Long inputs run as three interleaved streams of 8 KiB, joined: around
  // and across those rounds too.
  std::string long_bytes(7 * 8192 + 64, '\0');
  for (char& c : long_bytes) c = static_cast<char>(random());
  for (size_t offset : {0, 3}) {
    for (size_t length : {3 * 8192 - 1, 3 * 8192, 3 * 8192 + 1, 6 * 8192 + 8, 7 * 8192 + 13}) {
      const absl::string_view piece(long_bytes.data() + offset, length);
      EXPECT_EQ(crc32c_internal::WithInstruction(piece, 0x9ABCDEF0u), crc32c_internal::WithTables(piece, 0x9ABCDEF0u))
          << offset << " " << length;
    }
  }
  EXPECT_EQ(crc32c_internal::WithInstruction("123456789", 0), 0xE3069283u);
  EXPECT_EQ(crc32c_internal::WithTables("123456789", 0), 0xE3069283u);
}

}  // namespace
}  // namespace r1
