#include "common/crc32c.h"

#include <gtest/gtest.h>

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

TEST(Crc32c, ContinuesAcrossChunks) {
  const std::string text = "The quick brown fox jumps over the lazy dog, twice over.";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    EXPECT_EQ(Crc32c(text.substr(cut), Crc32c(text.substr(0, cut))), Crc32c(text)) << cut;
  }
}

}  // namespace
}  // namespace r1
