// How a program's answer is checked against a test case's expected output.
#ifndef R1_SANDBOX_COMPARE_H_
#define R1_SANDBOX_COMPARE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace r1::sandbox {

// stdin/stdout cases: equal after stripping trailing whitespace (spaces, tabs,
// \r, \v, \f) from every line and dropping trailing blank lines.
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
