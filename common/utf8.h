// UTF-8 encoding and strict decoding of single code points: the one copy the
// tokenizer.json pipeline (hf_tokenizer*), the Jinja engine (jinja_*) and the
// sandbox's JSON reader share. Torch-free and dependency-light (r1_utf8), so
// r1_jinja can link it without r1_common.
//
// Namespace r1::utf8 rather than r1: the names then read as what they do at
// the call site (utf8::IsValid, utf8::NextCodePoint), and they cannot collide
// with the other UTF-8 helpers of r1's sub-namespaces (say r1::reward's).
//
// Valid means the Unicode definition (RFC 3629): shortest form only, no
// surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
#ifndef R1_COMMON_UTF8_H_
#define R1_COMMON_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace r1::utf8 {

// Appends `cp` (at most U+10FFFF) as 1-4 bytes. Unchecked: a surrogate is
// written as its 3-byte form, which is what a lone JSON "\ud800" escape
// becomes in the sandbox's reader (NextCodePoint and IsValid reject it).
void AppendCodePoint(char32_t cp, std::string* out);

// The code point at text[pos] (pos < text.size()) and its length in bytes in
// *len; -1 with *len = 1 for a byte that does not start a valid sequence
// (stray continuation byte, C0/C1/F5..FF lead, truncated sequence, overlong
// form, surrogate, above U+10FFFF).
int32_t NextCodePoint(absl::string_view text, size_t pos, int* len);

// True when all of `text` is valid UTF-8 (the empty string is).
bool IsValid(absl::string_view text);

}  // namespace r1::utf8

#endif  // R1_COMMON_UTF8_H_
