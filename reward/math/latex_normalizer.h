// Internal to r1_math_verify. Rewrites a LaTeX / Unicode / plain-text answer
// into the small dialect the parser reads: no math delimiters ($, \(, \[),
// no spacing commands or \left/\right, \text{...}-like wrappers unwrapped,
// units, degrees and currency dropped, \dfrac/\tfrac -> \frac, \cdot/\times
// -> *, Unicode operators to ASCII, whitespace collapsed to single spaces.
// Answer forms the parser has no syntax for are rewritten here:
//  - Grouped numbers lose their separators: "32,\!349", "32{,}349",
//    "1\,000", "1 000 000", "3.141\,592" (first group 1-3 digits, then
//    exactly 3; a grouped fraction 3s and a last group of 1-3). Malformed
//    groups stay apart: "2\,3" is "2 3" (unparsable), "1{,}2" is "1,2".
//  - Clock times ("9:30", "9:30 PM") and numerals in a base other than 10
//    ("204_5", "(204)_{5}", "A3_{16}", "a3_16") become one letters-only word
//    that the verifier compares as text: equal to the same time or the same
//    base and value, never to a number. "54_{10}" is the number 54. Digits
//    A-F in either case count below the base only; letters alone must be
//    two or more capitals ("FF_{16}"), so "a_{16}" stays a variable.
//  - A multiple-choice answer "(B)", "B)", "Option B", "(B) 42" is the
//    letter B (a variable, as a bare "B" already is).
// One left-to-right pass plus a few linear clean-ups: time and memory are
// linear in the input and nothing recurses, whatever the input bytes are.
#ifndef R1_REWARD_MATH_LATEX_NORMALIZER_H_
#define R1_REWARD_MATH_LATEX_NORMALIZER_H_

#include <string>

#include "absl/strings/string_view.h"

namespace r1::reward::math_internal {

std::string NormalizeAnswer(absl::string_view text);

// Decimal commas depend on the gold, so the verifier applies this to the
// normalized answer with the normalized gold: when the gold is one decimal
// literal ("3.5", "-0.25", "1000.99") and the answer is one number with a
// single comma that is not a thousands comma ("3,5", "1000,99", "0,125",
// "-2,75"), the comma is read as a decimal point. Otherwise the answer comes
// back unchanged: "1,234" stays 1234, and "3,5" stays the list {3, 5}
// against any other gold (a list, an integer, a fraction). The gold itself
// is never reread: a gold "-2,1" is a list of roots.
std::string ReadDecimalComma(absl::string_view answer, absl::string_view gold);

}  // namespace r1::reward::math_internal

#endif  // R1_REWARD_MATH_LATEX_NORMALIZER_H_
