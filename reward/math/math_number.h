// Internal to r1_math_verify. A real number that stays an exact rational
// (128-bit numerator and denominator) while it fits and falls back to a long
// double when an operation overflows or is irrational (roots, \pi, sin).
// Exactness is what lets 10^20 and 10^20 + 1 differ.
#ifndef R1_REWARD_MATH_MATH_NUMBER_H_
#define R1_REWARD_MATH_MATH_NUMBER_H_

#include <cstdint>

namespace r1::reward::math_internal {

using Int128 = __int128;

class Number {
 public:
  Number() = default;
  static Number Integer(int64_t value) { return Rational(value, 1); }
  // Reduced to lowest terms; den == 0 gives NaN (undefined, never equal).
  static Number Rational(Int128 num, Int128 den);
  static Number Real(long double value);

  bool exact() const { return exact_; }
  bool IsInteger() const { return exact_ && den_ == 1; }
  Int128 num() const { return num_; }  // exact() only
  Int128 den() const { return den_; }  // exact() only, > 0
  long double value() const { return value_; }
  bool IsFinite() const;

 private:
  bool exact_ = true;
  Int128 num_ = 0;
  Int128 den_ = 1;
  long double value_ = 0;  // always set; approximate when exact_
};

Number operator-(const Number& a);
Number operator+(const Number& a, const Number& b);
Number operator-(const Number& a, const Number& b);
Number operator*(const Number& a, const Number& b);
Number operator/(const Number& a, const Number& b);
// Exact for rational bases with small rational exponents whose root is exact
// (8^(2/3) = 4, (-8)^(1/3) = -2); otherwise powl.
Number Pow(const Number& base, const Number& exponent);
Number Factorial(const Number& n);
Number Binomial(const Number& n, const Number& k);
Number Floor(const Number& x);
Number Ceil(const Number& x);
Number Abs(const Number& x);

// Exact values compare exactly; otherwise |a - b| <= max(absolute,
// relative * max(|a|, |b|)). Infinities equal only themselves; NaN nothing.
bool NumbersEqual(const Number& a, const Number& b, double relative, double absolute);

}  // namespace r1::reward::math_internal

#endif  // R1_REWARD_MATH_MATH_NUMBER_H_
