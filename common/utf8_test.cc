#include "common/utf8.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace r1::utf8 {
namespace {

std::string Encode(char32_t cp) {
  std::string out;
  AppendCodePoint(cp, &out);
  return out;
}

// NextCodePoint at 0, with the length folded in: {cp, len}.
std::pair<int32_t, int> Decode(const std::string& bytes) {
  int len = 0;
  const int32_t cp = NextCodePoint(bytes, 0, &len);
  return {cp, len};
}

TEST(Utf8, EveryLengthBoundaryRoundTrips) {
  struct Case {
    char32_t cp;
    std::string bytes;
  };
  const Case cases[] = {
      {0x00, std::string(1, '\0')},
      {0x7F, "\x7F"},
      {0x80, "\xC2\x80"},
      {0x7FF, "\xDF\xBF"},
      {0x800, "\xE0\xA0\x80"},
      {0xD7FF, "\xED\x9F\xBF"},
      {0xE000, "\xEE\x80\x80"},
      {0xFFFF, "\xEF\xBF\xBF"},
      {0x10000, "\xF0\x90\x80\x80"},
      {0x10FFFF, "\xF4\x8F\xBF\xBF"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(static_cast<uint32_t>(c.cp));
    EXPECT_EQ(Encode(c.cp), c.bytes);
    EXPECT_EQ(Decode(c.bytes), std::make_pair(static_cast<int32_t>(c.cp),
                                              static_cast<int>(c.bytes.size())));
    EXPECT_TRUE(IsValid(c.bytes));
  }
}

TEST(Utf8, EveryScalarValueRoundTrips) {
  std::string bytes;
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp == 0xD800) cp = 0xE000;
    bytes.clear();
    AppendCodePoint(cp, &bytes);
    int len = 0;
    ASSERT_EQ(NextCodePoint(bytes, 0, &len), static_cast<int32_t>(cp));
    ASSERT_EQ(len, static_cast<int>(bytes.size()));
  }
}

TEST(Utf8, DecodesAtAnOffset) {
  const std::string text = "a\xC3\xA9\xE2\x82\xAC";  // a, e-acute, euro sign
  int len = 0;
  EXPECT_EQ(NextCodePoint(text, 1, &len), 0xE9);
  EXPECT_EQ(len, 2);
  EXPECT_EQ(NextCodePoint(text, 3, &len), 0x20AC);
  EXPECT_EQ(len, 3);
}

TEST(Utf8, OverlongFormsAreInvalid) {
  for (const std::string bytes : {"\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xE0\x9F\xBF",
                                  "\xF0\x80\x80\x80", "\xF0\x8F\xBF\xBF"}) {
    EXPECT_EQ(Decode(bytes), std::make_pair(-1, 1)) << bytes.size();
    EXPECT_FALSE(IsValid(bytes));
  }
}

TEST(Utf8, SurrogatesAreInvalidButEncodable) {
  for (char32_t cp : {0xD800, 0xDBFF, 0xDC00, 0xDFFF}) {
    const std::string bytes = Encode(cp);
    EXPECT_EQ(bytes.size(), 3u);  // what a lone JSON \u escape becomes
    EXPECT_EQ(Decode(bytes), std::make_pair(-1, 1));
    EXPECT_FALSE(IsValid(bytes));
  }
}

TEST(Utf8, AboveTheLastCodePointIsInvalid) {
  for (const std::string bytes : {"\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xF7\xBF\xBF\xBF",
                                  "\xF8\x88\x80\x80\x80", "\xFF"}) {
    EXPECT_EQ(Decode(bytes), std::make_pair(-1, 1)) << bytes.size();
    EXPECT_FALSE(IsValid(bytes));
  }
}

TEST(Utf8, TruncatedSequencesAreInvalid) {
  for (const std::string bytes : {"\xC3", "\xE2\x82", "\xE2", "\xF0\x9F\x98", "\xF0"}) {
    EXPECT_EQ(Decode(bytes), std::make_pair(-1, 1)) << bytes.size();
    EXPECT_FALSE(IsValid(bytes));
    EXPECT_FALSE(IsValid("ok" + bytes));
  }
  // A sequence cut by the next character's lead byte, not by the end.
  EXPECT_EQ(Decode("\xE2\x82" "a"), std::make_pair(-1, 1));
  EXPECT_FALSE(IsValid("\xE2\x82" "a"));
}

TEST(Utf8, StrayContinuationBytesAreInvalid) {
  for (const std::string bytes : {"\x80", "\xBF", "\x80\x80"}) {
    EXPECT_EQ(Decode(bytes), std::make_pair(-1, 1));
    EXPECT_FALSE(IsValid(bytes));
  }
}

TEST(Utf8, ValidTextIncludingEmptyAndNul) {
  EXPECT_TRUE(IsValid(""));
  EXPECT_TRUE(IsValid(std::string("a\0b", 3)));
  EXPECT_TRUE(IsValid("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValid("h\xC3\xA9llo \xED\xA0\x80"));  // a surrogate at the end
}

}  // namespace
}  // namespace r1::utf8
