#include "reward/math/math_number.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace r1::reward::math_internal {
namespace {

constexpr Int128 kMax = static_cast<Int128>(~static_cast<unsigned __int128>(0) >> 1);
constexpr Int128 kMin = -kMax - 1;
constexpr int64_t kMaxExactExponent = 4096;  // |e| above this: powl
constexpr int kMaxExactRoot = 64;            // q in x^(p/q) tried exactly

long double ToLongDouble(Int128 num, Int128 den) {
  return static_cast<long double>(num) / static_cast<long double>(den);
}

Int128 Gcd(Int128 a, Int128 b) {  // a, b > kMin
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b != 0) {
    Int128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

Number Nan() { return Number::Real(std::numeric_limits<long double>::quiet_NaN()); }

// base^e exactly, or nullopt on overflow.
std::optional<Int128> PowInt(Int128 base, uint64_t e) {
  Int128 result = 1;
  while (e > 0) {
    if (e & 1) {
      if (__builtin_mul_overflow(result, base, &result)) return std::nullopt;
    }
    e >>= 1;
    if (e > 0 && __builtin_mul_overflow(base, base, &base)) return std::nullopt;
  }
  return result;
}

// The q-th root of n >= 0 when it is an integer.
std::optional<Int128> IntegerRoot(Int128 n, int q) {
  if (n < 2) return n;
  long double guess = std::roundl(std::pow(static_cast<long double>(n), 1.0L / q));
  if (!(guess < 1.8e19L)) return std::nullopt;  // a root of n < 2^127 is smaller
  Int128 center = static_cast<Int128>(guess);
  for (Int128 c = std::max<Int128>(center - 1, 0); c <= center + 1; ++c) {
    std::optional<Int128> p = PowInt(c, q);
    if (p && *p == n) return c;
  }
  return std::nullopt;
}

// x^n for an integer n, exact when possible.
Number PowInteger(const Number& base, Int128 n) {
  if (base.exact() && n >= -kMaxExactExponent && n <= kMaxExactExponent) {
    uint64_t e = static_cast<uint64_t>(n < 0 ? -n : n);
    std::optional<Int128> num = PowInt(base.num(), e);
    std::optional<Int128> den = PowInt(base.den(), e);
    if (num && den) {
      return n < 0 ? Number::Rational(*den, *num) : Number::Rational(*num, *den);
    }
  }
  return Number::Real(std::pow(base.value(), static_cast<long double>(n)));
}

}  // namespace

Number Number::Rational(Int128 num, Int128 den) {
  if (den == 0) return Nan();
  if (num == kMin || den == kMin) return Real(ToLongDouble(num, den));
  if (den < 0) {
    num = -num;
    den = -den;
  }
  Int128 g = Gcd(num, den);
  Number out;
  out.num_ = num / g;
  out.den_ = den / g;
  out.value_ = ToLongDouble(out.num_, out.den_);
  return out;
}

Number Number::Real(long double value) {
  Number out;
  out.exact_ = false;
  out.value_ = value;
  return out;
}

bool Number::IsFinite() const { return exact_ || std::isfinite(value_); }

Number operator-(const Number& a) {
  if (a.exact() && a.num() != kMin) return Number::Rational(-a.num(), a.den());
  return Number::Real(-a.value());
}

Number operator+(const Number& a, const Number& b) {
  if (a.exact() && b.exact()) {
    Int128 g = Gcd(a.den(), b.den());
    Int128 x, y, num, den;
    if (!__builtin_mul_overflow(a.num(), b.den() / g, &x) &&
        !__builtin_mul_overflow(b.num(), a.den() / g, &y) &&
        !__builtin_add_overflow(x, y, &num) &&
        !__builtin_mul_overflow(a.den() / g, b.den(), &den)) {
      return Number::Rational(num, den);
    }
  }
  return Number::Real(a.value() + b.value());
}

Number operator-(const Number& a, const Number& b) { return a + (-b); }

Number operator*(const Number& a, const Number& b) {
  if (a.exact() && b.exact()) {
    // Dens are >= 1, so both gcds are >= 1.
    Int128 g1 = Gcd(a.num(), b.den()), g2 = Gcd(b.num(), a.den());
    Int128 num, den;
    if (!__builtin_mul_overflow(a.num() / g1, b.num() / g2, &num) &&
        !__builtin_mul_overflow(a.den() / g2, b.den() / g1, &den)) {
      return Number::Rational(num, den);
    }
  }
  return Number::Real(a.value() * b.value());
}

Number operator/(const Number& a, const Number& b) {
  if (b.exact()) {
    if (b.num() == 0) return Nan();  // undefined, so never equal to anything
    return a * Number::Rational(b.den(), b.num());
  }
  if (b.value() == 0) return Nan();
  return Number::Real(a.value() / b.value());
}

Number Pow(const Number& base, const Number& exponent) {
  if (exponent.exact()) {
    if (exponent.IsInteger()) {
      if (base.exact() && base.num() == 0 && exponent.num() < 0) return Nan();
      return PowInteger(base, exponent.num());
    }
    if (exponent.den() <= kMaxExactRoot) {
      const int q = static_cast<int>(exponent.den());
      const bool negative = base.value() < 0;
      if (negative && q % 2 == 0) return Nan();  // no real even root
      if (base.exact()) {
        Int128 magnitude = negative ? -base.num() : base.num();
        std::optional<Int128> num = IntegerRoot(magnitude, q);
        std::optional<Int128> den = IntegerRoot(base.den(), q);
        if (num && den) {
          Number root = Number::Rational(negative ? -*num : *num, *den);
          return PowInteger(root, exponent.num());
        }
      }
      if (negative) {  // odd root of a negative number: (-x)^(p/q) = (-1)^p x^(p/q)
        long double magnitude = std::pow(-base.value(), exponent.value());
        return Number::Real(exponent.num() % 2 != 0 ? -magnitude : magnitude);
      }
    }
  }
  return Number::Real(std::pow(base.value(), exponent.value()));
}

Number Factorial(const Number& n) {
  if (n.IsInteger()) {
    if (n.num() < 0) return Nan();
    if (n.num() <= 33) {  // 34! overflows 127 bits
      Int128 result = 1;
      for (Int128 i = 2; i <= n.num(); ++i) result *= i;
      return Number::Rational(result, 1);
    }
  }
  return Number::Real(std::tgamma(n.value() + 1));
}

Number Binomial(const Number& n, const Number& k) {
  if (n.IsInteger() && k.IsInteger() && n.num() >= 0) {
    if (k.num() < 0 || k.num() > n.num()) return Number::Integer(0);
    Int128 r = std::min(k.num(), n.num() - k.num());
    if (r <= 10000) {
      Number result = Number::Integer(1);
      for (Int128 i = 0; i < r && result.exact(); ++i) {
        result = result * Number::Rational(n.num() - i, i + 1);
      }
      if (result.exact()) return result;
    }
  }
  const long double nv = n.value(), kv = k.value();
  return Number::Real(std::exp(std::lgamma(nv + 1) - std::lgamma(kv + 1) - std::lgamma(nv - kv + 1)));
}

Number Floor(const Number& x) {
  if (x.exact()) {
    Int128 q = x.num() / x.den();
    if (x.num() % x.den() != 0 && x.num() < 0) --q;
    return Number::Rational(q, 1);
  }
  return Number::Real(std::floor(x.value()));
}

Number Ceil(const Number& x) { return -Floor(-x); }

Number Abs(const Number& x) { return x.value() < 0 ? -x : x; }

bool NumbersEqual(const Number& a, const Number& b, double relative, double absolute) {
  if (a.exact() && b.exact()) return a.num() == b.num() && a.den() == b.den();
  const long double x = a.value(), y = b.value();
  if (std::isnan(x) || std::isnan(y)) return false;
  if (std::isinf(x) || std::isinf(y)) return x == y;
  const long double scale = std::max(std::fabs(x), std::fabs(y));
  return std::fabs(x - y) <= std::max<long double>(absolute, relative * scale);
}

}  // namespace r1::reward::math_internal
