// Exact evaluation of the arithmetic expressions tasks use: integers,
// + - * /, unary minus, parentheses. Values are rationals, so 7 / 2 * 2 is
// exactly 7. Input is untrusted (model output): length and nesting are capped
// and overflow is an error, never undefined behaviour.
#ifndef R1_TASKS_EXPRESSION_H_
#define R1_TASKS_EXPRESSION_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"

namespace r1::tasks {

// num / den in lowest terms, den > 0.
struct Rational {
  int64_t num = 0;
  int64_t den = 1;
  bool IsInteger() const { return den == 1; }
  friend bool operator==(const Rational&, const Rational&) = default;
};

std::string ToString(const Rational& value);

struct Evaluation {
  Rational value;
  std::vector<int64_t> literals;  // the integer literals, in order of appearance
};

inline constexpr size_t kMaxExpressionLength = 4096;  // bytes
inline constexpr int kMaxExpressionDepth = 64;        // nested parentheses

// INVALID_ARGUMENT for a syntax error, division by zero, overflow, or input
// beyond the caps above.
absl::StatusOr<Evaluation> EvaluateExpression(absl::string_view expression);

}  // namespace r1::tasks

#endif  // R1_TASKS_EXPRESSION_H_
