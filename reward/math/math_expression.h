// Internal to r1_math_verify. Parses one normalized math expression (see
// latex_normalizer.h) into a tree and evaluates it with exact rationals where
// possible. Grammar, loosest binding first:
//   sum     := term (('+' | '-') term)*
//   term    := unary (('*' | '/') unary | implicit-factor)*    "2x", "2(x+1)"
//   unary   := ('+' | '-')* power                              iterative
//   power   := postfix ('^' exponent)?                         right-assoc
//   postfix := primary ('!' | '%')*
//   primary := number [mixed fraction] | variable | constant | (sum) | [sum]
//            | {sum} | |sum| | \frac A B | \binom A B | \sqrt[n]{A}
//            | function [^k] (argument) | \lfloor sum \rfloor | \lceil sum \rceil
// LaTeX arguments A are {sum} or a single character ("\frac12" = 1/2).
// Nesting (groups, arguments, exponents) is limited by a depth budget and the
// node count by max_nodes, so the recursion and the tree stay bounded.
#ifndef R1_REWARD_MATH_MATH_EXPRESSION_H_
#define R1_REWARD_MATH_MATH_EXPRESSION_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "reward/math/math_number.h"

namespace r1::reward::math_internal {

// How a postfix '%' evaluates: 50% as 50 (kStrip) or as 0.5 (kDivide).
enum class PercentMode : uint8_t { kStrip, kDivide };

enum class ParseFailure : uint8_t { kNone, kSyntax, kTooDeep, kTooComplex };

enum class NodeKind : uint8_t {
  kNumber, kVariable, kSum, kProduct, kNegate, kPower, kFunction, kPercent,
  kFactorial, kBinomial,
};

enum class Function : uint8_t {
  kSin, kCos, kTan, kCot, kSec, kCsc, kAsin, kAcos, kAtan, kSinh, kCosh, kTanh,
  kLn, kExp, kAbs, kFloor, kCeil,
};

struct Node {
  NodeKind kind = NodeKind::kNumber;
  Function function = Function::kSin;  // kFunction
  Number number;                       // kNumber
  // kNumber written as a decimal ("0.250", "1.5e3"): its significant digits as
  // written (3 and 2) and the place of its last digit, 10^ulp_exponent (-3 and
  // 2). 0 digits for integers, repeating decimals and literals too long to be exact.
  int16_t significant = 0;
  int16_t ulp_exponent = 0;
  int variable = -1;                   // kVariable: index into variables()
  std::vector<int> children;           // indices into the node array
  // kSum: child i is subtracted; kProduct: child i divides. Same length as children.
  std::vector<uint8_t> inverse;
};

// A decimal as written, with how precisely it was written: "-0.333333",
// "33.3333%" (in PercentMode::kDivide), "3.33333 \times 10^{-4}".
struct Decimal {
  Number value;          // exact
  int significant = 0;   // digits from the first non-zero one
  int ulp_exponent = 0;  // the last written digit is worth 10^ulp_exponent
};

class Expression {
 public:
  // Variable names in order of first appearance: "x", "x_1", "\alpha".
  const std::vector<std::string>& variables() const { return variables_; }
  bool has_percent() const { return has_percent_; }
  size_t size() const { return nodes_.size(); }
  // True when the whole expression is one variable ("x", "\theta").
  bool IsSingleVariable() const;
  // True when the whole expression is one negated variable ("-x"); its name
  // is variables()[0].
  bool IsNegatedVariable() const;
  // The expression times -1: "-x" for "x", and "x" for "-x" (one node more at most).
  void Negate();
  // values[i] is bound to variables()[i].
  Number Evaluate(std::span<const long double> values, PercentMode mode) const;
  // The whole expression as one decimal literal, possibly negated, with a
  // percent sign or times an integer power of ten; nullopt otherwise.
  std::optional<Decimal> AsDecimal(PercentMode mode) const;
  // Every use of variable `from` becomes `to` ("y" read as "x").
  void RenameVariable(absl::string_view from, absl::string_view to);

 private:
  friend class ExpressionParser;
  Number EvaluateNode(int index, std::span<const long double> values, PercentMode mode) const;

  std::vector<Node> nodes_;
  int root_ = -1;
  std::vector<std::string> variables_;
  bool has_percent_ = false;
};

// Parses `text` entirely. `depth` is the nesting already used by the caller;
// nesting beyond max_depth gives kTooDeep, more than max_nodes nodes kTooComplex.
ParseFailure ParseExpression(absl::string_view text, int depth, int max_depth,
                             size_t max_nodes, Expression* out);

// Function and constant names the parser knows as words ("sin", "pi",
// "infty"); other letter runs are products of single-letter variables.
bool IsMathName(absl::string_view word);
// Greek letter commands the parser reads as variables, without the backslash.
bool IsGreekName(absl::string_view name);

}  // namespace r1::reward::math_internal

#endif  // R1_REWARD_MATH_MATH_EXPRESSION_H_
