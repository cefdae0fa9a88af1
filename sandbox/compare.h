// How a program's answer is checked against a test case's expected output.
#ifndef R1_SANDBOX_COMPARE_H_
#define R1_SANDBOX_COMPARE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace r1::sandbox {

// How a stdin/stdout case's expected output and the program's stdout are
// compared (CompareSpec, per item; the code rule's `compare` is the default).
// Whitespace below is ASCII: space, \t, \n, \v, \f, \r.
//
//   exact    byte for byte, except that one final "\n" at the end of either
//            text is dropped first (a reference saved without its last
//            newline still equals print()'s output). "\r\n" is not "\n",
//            trailing spaces count, a second trailing newline counts.
//   lines    line by line, each line's trailing whitespace stripped and
//            trailing blank lines dropped; leading spaces, inner blank lines
//            and runs of spaces inside a line count (r1's comparison before
//            modes existed: StdoutMatches).
//   tokens   the default: both texts split on runs of whitespace, the token
//            sequences equal token by token, byte for byte (Codeforces'
//            wcmp). Line breaks are whitespace like any other: "1 2" equals
//            "1\n2", but "1 2" is not "12" and "Yes" is not "YES".
//   numeric  tokens, except that a pair of tokens that are both decimal
//            numbers compares by value: equal when |actual - expected| <=
//            abs or <= rel * |expected| (testlib's doubleCompare, DMOJ's
//            floats), so "0.50" equals "0.5" and "1e-7" equals "0" at the
//            default 1e-6 / 1e-6. A number is [+-]?(D+(.D*)?|.D+)([eE][+-]?D+)?
//            with D a digit; anything else (nan, inf, 0x1p3, 1,5, 1_000) is a
//            word and compares byte for byte, so NaN or infinity only equal
//            the very same text. Two integers (no '.', no exponent) compare
//            exactly by value ("007" = "7", "-0" = "0", but 10^18 + 1 is not
//            10^18): no rounding to forgive there. Numbers beyond double
//            range (1e400) compare as text.
//
// Written as a string in configs and items: "exact", "lines", "tokens",
// "numeric" (abs = rel = 1e-6), "numeric:1e-4" (abs = rel = 1e-4), or
// "numeric:abs=1e-4", "numeric:rel=1e-9", "numeric:abs=1e-4,rel=1e-9" (a
// tolerance not named is 0). Tolerances are finite, >= 0, rel < 1.
enum class CompareMode { kExact, kLines, kTokens, kNumeric };

struct CompareSpec {
  CompareMode mode = CompareMode::kTokens;
  double abs_tolerance = 1e-6;  // numeric only
  double rel_tolerance = 1e-6;  // numeric only
};

// INVALID_ARGUMENT naming `text` and the accepted forms when it is not one.
absl::StatusOr<CompareSpec> ParseCompareSpec(absl::string_view text);
// "exact", "lines", "tokens", or "numeric:abs=A,rel=R".
std::string CompareSpecName(const CompareSpec& spec);

struct OutputComparison {
  bool match = false;
  // The first difference ("line 3: expected \"7\", got \"8\""), printable
  // ASCII only; empty on a match. In the token modes the quoted texts are the
  // first differing tokens and the line is the expected token's line (or the
  // got token's, when the expected output has ended).
  std::string difference;
};

OutputComparison CompareOutput(const CompareSpec& spec, absl::string_view expected,
                               absl::string_view actual);

// The `lines` mode: equal after stripping trailing whitespace from every line
// and dropping trailing blank lines.
bool StdoutMatches(absl::string_view expected, absl::string_view actual);

// A short description of the first difference ("line 3: expected \"7\", got
// \"8\""), printable ASCII only; empty when StdoutMatches.
std::string StdoutDifference(absl::string_view expected, absl::string_view actual);

// Function-call cases: both texts are JSON (Python's json.dumps dialect, which
// adds NaN, Infinity and -Infinity). Equal when the parsed values are:
// integers exactly; any number involving a fraction or exponent within 1e-6
// relative (math.isclose, so 0.0 only equals 0); NaN equals NaN; true/false
// are not numbers; strings by code points; arrays element-wise; objects by key
// set and values (a repeated key: the last one counts, as in Python).
// INVALID_ARGUMENT saying which text is not JSON. Nesting deeper than 512
// levels is refused rather than recursed into.
absl::StatusOr<bool> JsonValuesMatch(absl::string_view expected, absl::string_view actual);

// OK when `text` is a JSON array (a test case's positional arguments).
absl::Status CheckJsonArray(absl::string_view text);
// OK when `text` is any JSON value.
absl::Status CheckJson(absl::string_view text);

// At most `max_bytes` of `text` with every byte that is not printable ASCII,
// newline or tab replaced by '?', and "..." when cut: safe for logs and for
// proto string fields (which must be UTF-8).
std::string Printable(absl::string_view text, size_t max_bytes);

}  // namespace r1::sandbox

#endif  // R1_SANDBOX_COMPARE_H_
