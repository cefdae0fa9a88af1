// Equivalence of a model's final answer and a gold answer, for the math
// reward rule. Both strings are LaTeX-ish text; the answer is untrusted model
// output. Work is bounded: sizes are checked first, nesting is limited before
// any recursion, and comparisons have a fixed budget, so any input ends in a
// verdict in about linear time.
//
// Numeric policy:
//  - Numbers stay exact rationals (128-bit) while they fit, and two exact
//    values must be exactly equal: 10^20 != 10^20 + 1, 0.5 != 0.55.
//  - Precision (`precision`, default 6, as Math-Verify's rounding): a decimal
//    written to at least `precision` significant digits equals a value that
//    no decimal writes exactly when it is that value correctly rounded at the
//    digits it shows (within half a unit of its last digit): 0.333333 = 1/3,
//    0.3333333333 = 1/3, 0.666667 = 2/3, 1.41421 = \sqrt{2}, 33.3333% = 1/3,
//    3.33333 \times 10^{-4} = 1/3000. Decided against: 0.3333 and 0.33 != 1/3
//    (fewer digits than `precision`), 0.666666 != 2/3 (truncated, not
//    rounded), 0.3333334 != 1/3 (wrong at its 7th digit); integers and
//    terminating decimals are never met by rounding, they can be written
//    exactly (1.23457e8 != 123456789, 2.999999 != 3, 0.123457 != 0.1234567).
//    Math-Verify rounds both sides to 6 decimal places instead; counting the
//    digits written is stricter for small values (0.000333 != 1/3000) and
//    does not ask 9 digits of 1000/3 (333.333 = 1000/3). precision = 0: off.
//  - Once a side is irrational or overflows (\pi, \sqrt{2}, e, 10^50) the
//    test is also |a - b| <= max(absolute_tolerance, relative_tolerance *
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
// unions of intervals compare piecewise, unordered. Two equations are equal
// when their sides match (either way round) or l1 - r1 is a non-zero constant
// times l2 - r2.
//  - Matrices (pmatrix, bmatrix, Bmatrix, matrix, smallmatrix, array, also
//    inside \left( \right)) compare cell by cell with the same shape; the
//    bracket style does not matter. A column vector is an n x 1 matrix: not
//    the tuple (1, 2), not the 1 x n row. vmatrix and Vmatrix are
//    determinants, values, and are not read (unparsable): never equal.
//  - Equations against values: an equation whose one side is a label stands
//    for its other side: "x = 5" = 5, "f(x) = 1" = 1, "f(2) = 5" = 5,
//    "AB = 4, CD = 5" = "4, 5", "\angle A = 30" = 30, "(x, y) = (1, 2)" =
//    (1, 2). A label is a name (x, x_1, AB, \theta), a call of one (f(x),
//    f^{-1}(3), P(A)), an angle (\angle A) or a segment (\overline{AB});
//    never "x^2", "2x", "|x|" or "\sin x", so "x^2 = 4" != 4. A chain is its
//    value when its values agree ("x = \frac{6}{8} = 0.75" = 3/4), and a true
//    equation of constants is its value ("2 + 3 = 5" = 5).
//  - Inequalities in one variable are intervals: "-793 < a < 10" =
//    (-793, 10), "x \ge 2" = [2, \infty), "x < 3" = (-\infty, 3), "x \ne 2"
//    = (-\infty, 2) \cup (2, \infty), "x < -1 or x > 3" = (-\infty, -1) \cup
//    (3, \infty); endpoints and open/closed ends must match. A one-sided
//    inequality of a negated variable is multiplied by -1: "-x > -1" =
//    "x < 1" = (-\infty, 1) ("-2x > -4" is no interval). Two
//    inequalities of the same variable are equal when their sets are.
//  - Sets by relation: "\{x : x > 2\}" (also "\mid", "|", "x \in
//    \mathbb{R} :") is its condition, so it equals "x > 2" and (2, \infty);
//    the condition must be about the set's variable. "x \in S" is S:
//    "x \in \{1, 2\}" = "\{1, 2\}" = "1, 2".
//  - Variables (`strict`, default true, as Math-Verify's): strict matches
//    variables by name: "x + 1" != "y + 1", "x = 5" != "y = 5", "AB = 4" !=
//    "CD = 4", "x > 2" != "y > 2", and a list is never a tuple. Both modes let
//    an equation stand for its value when the other side names nothing
//    ("y = 5" = 5). Lenient (strict = false): when the answer uses exactly
//    one variable the gold does not and the gold exactly one the answer does
//    not, the answer's is read as the gold's ("f(y)" = "f(x)", "t^2" = "x^2",
//    "y = 5" = "x = 5"); labelled values compare by value alone ("AB = 4" =
//    "CD = 4"); and a top-level list or set compares in order with a tuple
//    ("x = 1, y = 2" = (1, 2), "1, 2" = (1, 2), "2, 1" != (1, 2)).
//
// Decisions, documented and tested:
//  - "x = 5" != "y = 5"; "x = 1, y = 2" != "(1, 2)"; "(1, 2)" != "1, 2";
//    "\{5\}" != "5"; "\{1, 2\} \cup \{3\}" != "\{1, 2, 3\}" (all strict).
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
//  - Grouped numbers: "32,\!349", "32{,}349", "1\,000", "1 000 000" and
//    "3.141\,592" are plain numbers (first group 1-3 digits, then exactly 3);
//    "2\,3" is unparsable and "32, 349" is a list. A decimal comma ("3,5",
//    "1000,99") is a point only when the gold is one decimal literal
//    ("3.5"); "1,234" stays 1234. A gold's comma always separates (a gold
//    "-2,1" is two roots, never -2.1).
//  - Base-n numerals ("204_5", "204_{5}", "(204)_5", "A3_{16}" = "a3_16";
//    bases 2-16, digits A-F in either case below the base) equal the same
//    base and value only: "204_5" != 54 and 54 != "204_5", "A3_{16}" != 163,
//    so echoing a conversion question earns nothing; "54_{10}" = 54. Letters
//    alone need two or more capitals ("FF_{16}"): "a_{16}" is a variable.
//  - Clock times: "9:30" = "09:30", "9:30 PM" = "21:30", "12:05 AM" = "0:05";
//    an unmarked hour 1-12 equals only itself ("9:30" != "9:30 AM"); a time
//    is not a number ("12:00" != 12).
//  - Multiple choice: "(B)", "B)", "\text{(B)}", "Option B", "(B) 42" are the
//    letter B (A-J); option text is ignored unless it names another choice
//    or goes on with math ("(B) or (C)", "(A) + 1"). "b" != "B".
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
  // Significant digits a decimal needs to equal the exact value it rounds to
  // (0.333333 = 1/3); 0 = decimals compare exactly. At most 30.
  int precision = 6;
  // Variables by name (see "Variables" above); false is Math-Verify's strict=False.
  bool strict = true;
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
