// Equivalence of a model's final answer and a gold answer, for the math
// reward rule. Both strings are LaTeX-ish text; the answer is untrusted model
// output. Work is bounded: sizes are checked first, nesting is limited before
// any recursion, and comparisons have a fixed budget, so any input ends in a
// verdict in about linear time.
//
// Numeric policy:
//  - Numbers stay exact rationals (128-bit) while they fit, and two exact
//    values must be exactly equal: 1/3 != 0.333333, 10^20 != 10^20 + 1.
//  - Once a side is irrational or overflows (\pi, \sqrt{2}, e, 10^50) the
//    test is |a - b| <= max(absolute_tolerance, relative_tolerance *
//    max(|a|, |b|)): 3.14159265 = \pi but 3.14 != \pi (relative 5e-4).
//  - Expressions with variables are compared at `random_points` seeded
//    points with positive and negative coordinates; points where either side
//    is undefined are skipped (and the range widens from |x| < 3 up to
//    |x| < 3000 until enough are found), so sides are compared on their
//    common domain: \ln(x^2) = 2\ln|x|, \sqrt{x-50} = \sqrt{x-50}.
//    Undefined constants (1/0, \sqrt{-1}) equal nothing, not even themselves.
//  - A gold answer that cannot be parsed (or is longer than
//    max_answer_bytes) is never correct: "gold_unparsable".
//
// Structure: top-level "1, 2", "1 and 2", "x = 1 or x = 2" and "\pm 2" are
// unordered sets of answers (duplicates collapse) and equal "\{1, 2\}";
// "(1, 2)" is an ordered pair or interval: order and both brackets must match;
// unions of intervals compare piecewise, unordered. "x = 5" and "(x, y) =
// (1, 2)" equal "5" and "(1, 2)"; two equations are equal when their sides
// match (either way round) or l1 - r1 is a non-zero constant times l2 - r2.
//
// Decisions, documented and tested:
//  - "x = 5" != "y = 5"; "x = 1, y = 2" != "(1, 2)"; "(1, 2)" != "1, 2";
//    "\{5\}" != "5"; "\{1, 2\} \cup \{3\}" != "\{1, 2, 3\}".
//  - Top-level "1,234" is 1234 (thousands); "1, 234" and commas inside
//    brackets separate: "(1,234)" is a pair.
//  - "2 1/2" and "2\frac{1}{2}" are mixed numbers (5/2); "2 3" is unparsable.
//  - "x^23" is x^(23) (plain-text reading); "\frac12" is 1/2 (LaTeX's
//    one-character arguments); "\sqrt16" is \sqrt{1}6 but Unicode "√16" is 4.
//  - Degrees are dropped, not converted: 90^\circ = 90 != \pi/2, and
//    \sin 30^\circ is sin(30 rad). \log without a base is the natural log.
//  - e is Euler's number; i is an ordinary variable (no complex numbers).
//    Variables are case-sensitive: "X" != "x".
//  - Answers made only of letters are words compared case-insensitively
//    ("Yes" = "yes"), so "xy" != "yx"; four or more single letters in a row
//    ("Monday") are a word, never a product.
//  - Units are dropped: known unit words ("5 cm", "12 square feet"), any
//    short \text{...} after a quantity ("5\text{ m}"), and up to three
//    trailing words after a number ("5 apples"); a bare letter stays a
//    variable ("5m" != 5).
//  - Percent: "50%" = 50 always, and = 0.5 when percent_equals_fraction.
#ifndef R1_REWARD_MATH_MATH_VERIFY_H_
#define R1_REWARD_MATH_MATH_VERIFY_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace r1::reward {

struct MathVerifyOptions {
  double relative_tolerance = 1e-6;  // for values that are not exact rationals
  double absolute_tolerance = 1e-9;  // floor of the tolerance near zero
  int random_points = 5;             // points per comparison with variables
  uint64_t seed = 0;                 // seeds the points; same seed, same verdict
  size_t max_answer_bytes = 4096;    // longer answers: "answer_too_long"
  int max_depth = 64;                // nesting limit (capped at 256 internally)
  bool percent_equals_fraction = true;  // 50% also equals 0.5 (always equals 50)
};

struct MathVerdict {
  bool correct = false;
  // One of: "equal", "not_equal", "empty_answer", "answer_too_long",
  // "too_deep", "answer_too_complex", "answer_unparsable", "gold_unparsable",
  // "invalid_options".
  std::string reason;
};

MathVerdict VerifyMathAnswer(absl::string_view answer, absl::string_view gold,
                             const MathVerifyOptions& options = {});

}  // namespace r1::reward

#endif  // R1_REWARD_MATH_MATH_VERIFY_H_
