#include "tasks/expression.h"

#include <cstdlib>
#include <numeric>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace r1::tasks {
namespace {

using Int128 = __int128;

absl::StatusOr<Rational> Make(Int128 num, Int128 den) {
  if (den == 0) return absl::InvalidArgumentError("division by zero");
  if (den < 0) {
    num = -num;
    den = -den;
  }
  Int128 a = num < 0 ? -num : num, b = den;
  while (b != 0) {
    Int128 t = a % b;
    a = b;
    b = t;
  }
  if (a > 1) {
    num /= a;
    den /= a;
  }
  constexpr Int128 kMax = INT64_MAX;
  if (num > kMax || num < -kMax || den > kMax) return absl::InvalidArgumentError("number too large");
  return Rational{static_cast<int64_t>(num), static_cast<int64_t>(den)};
}

// Recursive descent over:
//   expr   := term (('+' | '-') term)*
//   term   := unary (('*' | '/') unary)*
//   unary  := '-' unary | primary
//   primary:= integer | '(' expr ')'
class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  absl::StatusOr<Evaluation> Parse() {
    Evaluation out;
    literals_ = &out.literals;
    auto value = Expr(0);
    if (!value.ok()) return value.status();
    SkipSpace();
    if (pos_ != text_.size()) return Error("unexpected character");
    out.value = *value;
    return out;
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(what, " at offset ", pos_));
  }
  void SkipSpace() {
    while (pos_ < text_.size() && absl::ascii_isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool Accept(char c) {
    SkipSpace();
    // Unicode multiplication and division signs are common in model output.
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    if (c == '*' && text_.substr(pos_, 2) == "\xC3\x97") {  // U+00D7 ×
      pos_ += 2;
      return true;
    }
    if (c == '/' && text_.substr(pos_, 2) == "\xC3\xB7") {  // U+00F7 ÷
      pos_ += 2;
      return true;
    }
    return false;
  }

  absl::StatusOr<Rational> Expr(int depth) {
    auto left = Term(depth);
    if (!left.ok()) return left;
    Rational value = *left;
    while (true) {
      const bool plus = Accept('+');
      if (!plus && !Accept('-')) return value;
      auto right = Term(depth);
      if (!right.ok()) return right;
      const Int128 num = static_cast<Int128>(value.num) * right->den +
                         (plus ? 1 : -1) * static_cast<Int128>(right->num) * value.den;
      auto next = Make(num, static_cast<Int128>(value.den) * right->den);
      if (!next.ok()) return next;
      value = *next;
    }
  }

  absl::StatusOr<Rational> Term(int depth) {
    auto left = Unary(depth);
    if (!left.ok()) return left;
    Rational value = *left;
    while (true) {
      const bool times = Accept('*');
      if (!times && !Accept('/')) return value;
      auto right = Unary(depth);
      if (!right.ok()) return right;
      absl::StatusOr<Rational> next =
          times ? Make(static_cast<Int128>(value.num) * right->num,
                       static_cast<Int128>(value.den) * right->den)
                : Make(static_cast<Int128>(value.num) * right->den,
                       static_cast<Int128>(value.den) * right->num);
      if (!next.ok()) return next;
      value = *next;
    }
  }

  absl::StatusOr<Rational> Unary(int depth) {
    if (depth > kMaxExpressionDepth) return Error("expression nested too deeply");
    if (Accept('-')) {
      auto inner = Unary(depth + 1);
      if (!inner.ok()) return inner;
      return Rational{-inner->num, inner->den};
    }
    return Primary(depth);
  }

  absl::StatusOr<Rational> Primary(int depth) {
    SkipSpace();
    if (Accept('(')) {
      auto inner = Expr(depth + 1);
      if (!inner.ok()) return inner;
      if (!Accept(')')) return Error("missing ')'");
      return inner;
    }
    const size_t start = pos_;
    Int128 value = 0;
    while (pos_ < text_.size() && absl::ascii_isdigit(static_cast<unsigned char>(text_[pos_]))) {
      value = value * 10 + (text_[pos_] - '0');
      if (value > INT64_MAX) return Error("number too large");
      ++pos_;
    }
    if (pos_ == start) return Error(pos_ < text_.size() ? "expected a number" : "unexpected end");
    literals_->push_back(static_cast<int64_t>(value));
    return Rational{static_cast<int64_t>(value), 1};
  }

  absl::string_view text_;
  size_t pos_ = 0;
  std::vector<int64_t>* literals_ = nullptr;
};

}  // namespace

std::string ToString(const Rational& value) {
  return value.den == 1 ? absl::StrCat(value.num) : absl::StrCat(value.num, "/", value.den);
}

absl::StatusOr<Evaluation> EvaluateExpression(absl::string_view expression) {
  if (expression.size() > kMaxExpressionLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("expression longer than ", kMaxExpressionLength, " bytes"));
  }
  return Parser(expression).Parse();
}

}  // namespace r1::tasks
