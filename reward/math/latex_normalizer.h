// Internal to r1_math_verify. Rewrites a LaTeX / Unicode / plain-text answer
// into the small dialect the parser reads: no math delimiters ($, \(, \[),
// no spacing commands or \left/\right, \text{...}-like wrappers unwrapped,
// units, degrees and currency dropped, \dfrac/\tfrac -> \frac, \cdot/\times
// -> *, Unicode operators to ASCII, whitespace collapsed to single spaces.
// One left-to-right pass plus a few linear clean-ups: time and memory are
// linear in the input and nothing recurses, whatever the input bytes are.
#ifndef R1_REWARD_MATH_LATEX_NORMALIZER_H_
#define R1_REWARD_MATH_LATEX_NORMALIZER_H_

#include <string>

#include "absl/strings/string_view.h"

namespace r1::reward::math_internal {

std::string NormalizeAnswer(absl::string_view text);

}  // namespace r1::reward::math_internal

#endif  // R1_REWARD_MATH_LATEX_NORMALIZER_H_
