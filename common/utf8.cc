#include "common/utf8.h"

namespace r1::utf8 {

void AppendCodePoint(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int32_t NextCodePoint(absl::string_view text, size_t pos, int* len) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data()) + pos;
  const size_t available = text.size() - pos;
  const unsigned lead = s[0];
  *len = 1;
  if (lead < 0x80) return static_cast<int32_t>(lead);
  int trailing;
  uint32_t cp;
  uint32_t smallest;  // below it the sequence is an overlong form
  if (lead >= 0xC2 && lead <= 0xDF) {
    trailing = 1, cp = lead & 0x1F, smallest = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    trailing = 2, cp = lead & 0x0F, smallest = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    trailing = 3, cp = lead & 0x07, smallest = 0x10000;
  } else {
    return -1;
  }
  if (available < static_cast<size_t>(trailing) + 1) return -1;
  for (int i = 1; i <= trailing; ++i) {
    if ((s[i] & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (cp < smallest || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  *len = trailing + 1;
  return static_cast<int32_t>(cp);
}

bool IsValid(absl::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    int len;
    if (NextCodePoint(text, pos, &len) < 0) return false;
    pos += len;
  }
  return true;
}

}  // namespace r1::utf8
