#include "reward/math/math_expression.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <numbers>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace r1::reward::math_internal {
namespace {

constexpr size_t kMaxVariables = 32;  // more distinct names is not an answer
constexpr size_t kMaxSubscript = 32;  // bytes of a subscript such as x_{12}
constexpr int kWordLetters = 4;       // this many single letters in a row is a word

bool IsLetter(char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)); }
bool IsDigit(char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }

struct NamedFunction {
  absl::string_view name;
  Function function;
};

constexpr NamedFunction kFunctions[] = {
    {"arcsin", Function::kAsin}, {"arccos", Function::kAcos}, {"arctan", Function::kAtan},
    {"sinh", Function::kSinh},   {"cosh", Function::kCosh},   {"tanh", Function::kTanh},
    {"sin", Function::kSin},     {"cos", Function::kCos},     {"tan", Function::kTan},
    {"cot", Function::kCot},     {"sec", Function::kSec},     {"csc", Function::kCsc},
    {"log", Function::kLn},      {"ln", Function::kLn},       {"exp", Function::kExp},
};

// Names recognised inside plain letter runs, longest first so that "sinh"
// wins over "sin" and "infinity" over "inf".
constexpr absl::string_view kPlainNames[] = {
    "infinity", "arcsin", "arccos", "arctan", "infty", "sqrt", "sinh", "cosh", "tanh",
    "sin", "cos", "tan", "cot", "sec", "csc", "log", "exp", "inf", "ln", "pi",
};

constexpr absl::string_view kGreek[] = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
    "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau",
    "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta",
    "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega",
};

std::optional<Function> FindFunction(absl::string_view name) {
  for (const NamedFunction& f : kFunctions) {
    if (f.name == name) return f.function;
  }
  return std::nullopt;
}

bool IsGreek(absl::string_view name) {
  for (absl::string_view g : kGreek) {
    if (g == name) return true;
  }
  return false;
}

absl::string_view MatchPlainName(absl::string_view rest) {
  for (absl::string_view name : kPlainNames) {
    if (absl::StartsWith(rest, name)) return name;
  }
  return {};
}

// Commands that can start a factor, so "2\sqrt{3}" and "3\pi" multiply.
bool IsValueCommand(absl::string_view name) {
  return name == "frac" || name == "binom" || name == "sqrt" || name == "pi" ||
         name == "infty" || name == "lfloor" || name == "lceil" ||
         FindFunction(name).has_value() || IsGreek(name);
}

Number Apply(Function f, const Number& x) {
  const long double v = x.value();
  switch (f) {
    case Function::kSin: return Number::Real(std::sin(v));
    case Function::kCos: return Number::Real(std::cos(v));
    case Function::kTan: return Number::Real(std::tan(v));
    case Function::kCot: return Number::Real(1 / std::tan(v));
    case Function::kSec: return Number::Real(1 / std::cos(v));
    case Function::kCsc: return Number::Real(1 / std::sin(v));
    case Function::kAsin: return Number::Real(std::asin(v));
    case Function::kAcos: return Number::Real(std::acos(v));
    case Function::kAtan: return Number::Real(std::atan(v));
    case Function::kSinh: return Number::Real(std::sinh(v));
    case Function::kCosh: return Number::Real(std::cosh(v));
    case Function::kTanh: return Number::Real(std::tanh(v));
    case Function::kLn:
      return v > 0 ? Number::Real(std::log(v))
                   : Number::Real(std::numeric_limits<long double>::quiet_NaN());
    case Function::kExp: return Number::Real(std::exp(v));
    case Function::kAbs: return Abs(x);
    case Function::kFloor: return Floor(x);
    case Function::kCeil: return Ceil(x);
  }
  return Number::Real(std::numeric_limits<long double>::quiet_NaN());
}

}  // namespace

bool IsMathName(absl::string_view word) {
  for (absl::string_view name : kPlainNames) {
    if (name == word) return true;
  }
  return false;
}

bool IsGreekName(absl::string_view name) { return IsGreek(name); }

std::optional<Decimal> Expression::AsDecimal(PercentMode mode) const {
  if (root_ < 0) return std::nullopt;
  const Node* n = &nodes_[root_];
  bool negative = false;
  int shift = 0;  // powers of ten applied to the literal
  if (n->kind == NodeKind::kNegate) {
    negative = true;
    n = &nodes_[n->children[0]];
  }
  if (n->kind == NodeKind::kPercent) {
    if (mode == PercentMode::kDivide) shift -= 2;
    n = &nodes_[n->children[0]];
  }
  // "3.2 \times 10^{-4}": a literal times 10 to an integer written as one.
  if (n->kind == NodeKind::kProduct && n->children.size() == 2 && n->inverse[0] == 0 &&
      n->inverse[1] == 0) {
    const Node& power = nodes_[n->children[1]];
    if (power.kind != NodeKind::kPower) return std::nullopt;
    const Node& base = nodes_[power.children[0]];
    const Node* exponent = &nodes_[power.children[1]];
    bool negative_exponent = false;
    if (exponent->kind == NodeKind::kNegate) {
      negative_exponent = true;
      exponent = &nodes_[exponent->children[0]];
    }
    if (base.kind != NodeKind::kNumber || !base.number.IsInteger() || base.number.num() != 10 ||
        exponent->kind != NodeKind::kNumber || !exponent->number.IsInteger() ||
        exponent->number.num() > 36 || exponent->number.num() < -36) {
      return std::nullopt;
    }
    const int k = static_cast<int>(exponent->number.num());
    shift += negative_exponent ? -k : k;
    n = &nodes_[n->children[0]];
  }
  if (n->kind != NodeKind::kNumber || n->significant == 0) return std::nullopt;
  Decimal d;
  d.significant = n->significant;
  d.ulp_exponent = n->ulp_exponent + shift;
  if (d.ulp_exponent > 36 || d.ulp_exponent < -36) return std::nullopt;
  d.value = n->number * Pow(Number::Integer(10), Number::Integer(shift));
  if (negative) d.value = -d.value;
  if (!d.value.exact()) return std::nullopt;
  return d;
}

void Expression::RenameVariable(absl::string_view from, absl::string_view to) {
  for (std::string& name : variables_) {
    if (name == from) name = std::string(to);
  }
}

bool Expression::IsSingleVariable() const {
  return root_ >= 0 && nodes_[root_].kind == NodeKind::kVariable;
}

bool Expression::IsNegatedVariable() const {
  return root_ >= 0 && nodes_[root_].kind == NodeKind::kNegate &&
         nodes_[nodes_[root_].children[0]].kind == NodeKind::kVariable;
}

void Expression::Negate() {
  if (root_ < 0) return;
  if (nodes_[root_].kind == NodeKind::kNegate) {
    root_ = nodes_[root_].children[0];  // the negation node stays, unused
    return;
  }
  Node node;
  node.kind = NodeKind::kNegate;
  node.children = {root_};
  nodes_.push_back(std::move(node));
  root_ = static_cast<int>(nodes_.size()) - 1;
}

Number Expression::Evaluate(std::span<const long double> values, PercentMode mode) const {
  return EvaluateNode(root_, values, mode);
}

// Recursion depth is the tree depth, which the parser's depth budget bounds.
Number Expression::EvaluateNode(int index, std::span<const long double> values,
                                PercentMode mode) const {
  const Node& n = nodes_[index];
  auto child = [&](size_t i) { return EvaluateNode(n.children[i], values, mode); };
  switch (n.kind) {
    case NodeKind::kNumber:
      return n.number;
    case NodeKind::kVariable:
      return Number::Real(values[n.variable]);
    case NodeKind::kSum: {
      Number sum = Number::Integer(0);
      for (size_t i = 0; i < n.children.size(); ++i) {
        sum = n.inverse[i] ? sum - child(i) : sum + child(i);
      }
      return sum;
    }
    case NodeKind::kProduct: {
      Number product = Number::Integer(1);
      for (size_t i = 0; i < n.children.size(); ++i) {
        product = n.inverse[i] ? product / child(i) : product * child(i);
      }
      return product;
    }
    case NodeKind::kNegate:
      return -child(0);
    case NodeKind::kPower:
      return Pow(child(0), child(1));
    case NodeKind::kFunction:
      return Apply(n.function, child(0));
    case NodeKind::kPercent:
      return mode == PercentMode::kDivide ? child(0) / Number::Integer(100) : child(0);
    case NodeKind::kFactorial:
      return Factorial(child(0));
    case NodeKind::kBinomial:
      return Binomial(child(0), child(1));
  }
  return Number::Real(std::numeric_limits<long double>::quiet_NaN());
}

// Every method returns a node index, or -1 after recording the failure.
class ExpressionParser {
 public:
  ExpressionParser(absl::string_view text, int max_depth, size_t max_nodes, Expression* out)
      : text_(text), max_depth_(max_depth), max_nodes_(max_nodes), out_(out) {}

  ParseFailure Run(int depth) {
    *out_ = Expression();
    const int root = Nest(depth) ? Sum(depth) : -1;
    if (failure_ == ParseFailure::kNone) {
      SkipSpaces();
      if (pos_ != text_.size()) Fail(ParseFailure::kSyntax);
    }
    if (failure_ == ParseFailure::kNone) out_->root_ = root;
    return failure_;
  }

 private:
  // ---- scanning ----
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  void SkipSpaces() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }
  // The letters of a command at pos_ ("frac" for "\frac12"), or "".
  absl::string_view PeekCommand() const {
    if (Peek() != '\\') return {};
    size_t end = pos_ + 1;
    while (end < text_.size() && IsLetter(text_[end])) ++end;
    return text_.substr(pos_ + 1, end - pos_ - 1);
  }
  bool Expect(char c) {
    SkipSpaces();
    if (Peek() != c) {
      Fail(ParseFailure::kSyntax);
      return false;
    }
    ++pos_;
    return true;
  }
  void Fail(ParseFailure failure) {
    if (failure_ == ParseFailure::kNone) failure_ = failure;
  }
  bool Nest(int depth) {
    if (depth > max_depth_) Fail(ParseFailure::kTooDeep);
    return failure_ == ParseFailure::kNone;
  }

  // ---- nodes ----
  int Add(Node node) {
    if (out_->nodes_.size() >= max_nodes_) {
      Fail(ParseFailure::kTooComplex);
      return -1;
    }
    out_->nodes_.push_back(std::move(node));
    return static_cast<int>(out_->nodes_.size()) - 1;
  }
  int Leaf(Number number) {
    Node node;
    node.number = number;
    return Add(std::move(node));
  }
  int Op(NodeKind kind, std::vector<int> children, std::vector<uint8_t> inverse = {}) {
    for (int c : children) {
      if (c < 0) return -1;
    }
    Node node;
    node.kind = kind;
    node.children = std::move(children);
    node.inverse = std::move(inverse);
    return Add(std::move(node));
  }
  int Func(Function f, int child) {
    if (child < 0) return -1;
    Node node;
    node.kind = NodeKind::kFunction;
    node.function = f;
    node.children = {child};
    return Add(std::move(node));
  }
  int Divide(int a, int b) { return Op(NodeKind::kProduct, {a, b}, {0, 1}); }
  int Variable(std::string name) {
    std::vector<std::string>& vars = out_->variables_;
    size_t index = 0;
    while (index < vars.size() && vars[index] != name) ++index;
    if (index == vars.size()) {
      if (vars.size() >= kMaxVariables) {
        Fail(ParseFailure::kTooComplex);
        return -1;
      }
      vars.push_back(std::move(name));
    }
    Node node;
    node.kind = NodeKind::kVariable;
    node.variable = static_cast<int>(index);
    return Add(std::move(node));
  }
  bool IsMinusOne(int index) const {
    const Node& n = out_->nodes_[index];
    if (n.kind == NodeKind::kNegate) {
      const Node& c = out_->nodes_[n.children[0]];
      return c.kind == NodeKind::kNumber && c.number.IsInteger() && c.number.num() == 1;
    }
    return n.kind == NodeKind::kNumber && n.number.IsInteger() && n.number.num() == -1;
  }

  // ---- grammar ----
  int Sum(int depth) {
    std::vector<int> children = {Term(depth)};
    std::vector<uint8_t> inverse = {0};
    if (children[0] < 0) return -1;
    while (true) {
      SkipSpaces();
      const char c = Peek();
      if (c != '+' && c != '-') break;
      ++pos_;
      const int term = Term(depth);
      if (term < 0) return -1;
      children.push_back(term);
      inverse.push_back(c == '-');
    }
    if (children.size() == 1) return children[0];
    return Op(NodeKind::kSum, std::move(children), std::move(inverse));
  }

  int Term(int depth) {
    std::vector<int> children = {Signed(depth)};
    std::vector<uint8_t> inverse = {0};
    if (children[0] < 0) return -1;
    while (true) {
      SkipSpaces();
      const char c = Peek();
      int factor;
      if (c == '*' || c == '/') {
        ++pos_;
        factor = Signed(depth);
      } else if (StartsImplicitFactor()) {
        factor = Power(depth);
      } else {
        break;
      }
      if (factor < 0) return -1;
      children.push_back(factor);
      inverse.push_back(c == '/');
    }
    if (children.size() == 1) return children[0];
    return Op(NodeKind::kProduct, std::move(children), std::move(inverse));
  }

  bool StartsImplicitFactor() {
    const char c = Peek();
    // "2 3" is not a product (a missing operator or a stray space in a
    // number), so a digit cannot follow a number literal.
    if (IsDigit(c) || (c == '.' && IsDigit(Peek(1)))) return !last_was_number_;
    if (IsLetter(c) || c == '(' || c == '[' || c == '{') return true;
    if (c == '|') return abs_depth_ == 0;  // inside |...| a bar closes
    if (c == '\\') return IsValueCommand(PeekCommand());
    return false;
  }

  // Signs are counted in a loop: "-----x" costs no recursion.
  int Signed(int depth) {
    bool negative = false;
    while (true) {
      SkipSpaces();
      if (Peek() == '-') {
        negative = !negative;
      } else if (Peek() != '+') {
        break;
      }
      ++pos_;
    }
    const int power = Power(depth);
    return negative ? Op(NodeKind::kNegate, {power}) : power;
  }

  int Power(int depth) {
    const int base = Postfix(depth);
    if (base < 0) return -1;
    SkipSpaces();
    if (Peek() == '^' || (Peek() == '*' && Peek(1) == '*')) {
      pos_ += Peek() == '^' ? 1 : 2;
      return Op(NodeKind::kPower, {base, Exponent(depth + 1)});
    }
    return base;
  }

  // "x^2", "x^{n+1}", "2^-1", "2^3^2" = 2^(3^2). A bare number exponent is the
  // whole number, as in plain text ("10^20"), not LaTeX's single character.
  int Exponent(int depth) {
    if (!Nest(depth)) return -1;
    SkipSpaces();
    ++no_mixed_;
    int e;
    if (Peek() == '{') {
      ++pos_;
      e = Group('}', depth);
    } else {
      e = Signed(depth);
    }
    --no_mixed_;
    return e;
  }

  int Postfix(int depth) {
    int p = Primary(depth);
    while (p >= 0) {
      SkipSpaces();
      if (Peek() == '!') {
        ++pos_;
        p = Op(NodeKind::kFactorial, {p});
      } else if (Peek() == '%') {
        ++pos_;
        out_->has_percent_ = true;
        p = Op(NodeKind::kPercent, {p});
      } else {
        break;
      }
    }
    return p;
  }

  int Primary(int depth) {
    SkipSpaces();
    const char c = Peek();
    if (IsDigit(c) || (c == '.' && IsDigit(Peek(1)))) return NumberLiteral();
    last_was_number_ = false;
    switch (c) {
      case '(':
        ++pos_;
        return Group(')', depth + 1);
      case '[':
        ++pos_;
        return Group(']', depth + 1);
      case '{':
        ++pos_;
        return Group('}', depth + 1);
      case '|': {
        ++pos_;
        ++abs_depth_;
        const int inner = Group('|', depth + 1);
        --abs_depth_;
        return Func(Function::kAbs, inner);
      }
      case '\\': {
        const absl::string_view name = PeekCommand();
        if (name.empty()) break;
        pos_ += 1 + name.size();
        return Command(name, depth);
      }
      default:
        if (IsLetter(c)) return Letters(depth);
    }
    Fail(ParseFailure::kSyntax);
    return -1;
  }

  // After the opening bracket.
  int Group(char close, int depth) {
    if (!Nest(depth)) return -1;
    const int inner = Sum(depth);
    if (inner < 0 || !Expect(close)) return -1;
    last_was_number_ = false;
    return inner;
  }

  // A LaTeX macro argument: {sum} or one character ("\frac12", "\sqrt2").
  int LatexArgument(int depth) {
    if (!Nest(depth)) return -1;
    SkipSpaces();
    ++no_mixed_;
    int result = -1;
    const char c = Peek();
    if (c == '{') {
      ++pos_;
      result = Group('}', depth);
    } else if (IsDigit(c)) {
      ++pos_;
      result = Leaf(Number::Integer(c - '0'));
    } else if (IsLetter(c)) {
      ++pos_;
      result = c == 'e' ? Leaf(Number::Real(std::numbers::e_v<long double>))
                        : Variable(std::string(1, c));
    } else if (c == '\\' && !PeekCommand().empty()) {
      const absl::string_view name = PeekCommand();
      pos_ += 1 + name.size();
      result = Command(name, depth);
    } else {
      Fail(ParseFailure::kSyntax);
    }
    --no_mixed_;
    return result;
  }

  int Command(absl::string_view name, int depth) {
    if (name == "frac") {
      const int num = LatexArgument(depth + 1);
      if (num < 0) return -1;
      return Divide(num, LatexArgument(depth + 1));
    }
    if (name == "binom") {
      const int n = LatexArgument(depth + 1);
      if (n < 0) return -1;
      return Op(NodeKind::kBinomial, {n, LatexArgument(depth + 1)});
    }
    if (name == "sqrt") {
      SkipSpaces();
      int exponent;
      if (Peek() == '[') {  // \sqrt[3]{8}: exponent 1/3
        ++pos_;
        const int index = Group(']', depth + 1);
        if (index < 0) return -1;
        exponent = Divide(Leaf(Number::Integer(1)), index);
      } else {
        exponent = Leaf(Number::Rational(1, 2));
      }
      if (exponent < 0) return -1;
      return Op(NodeKind::kPower, {LatexArgument(depth + 1), exponent});
    }
    if (name == "pi") return Leaf(Number::Real(std::numbers::pi_v<long double>));
    if (name == "infty") return Leaf(Number::Real(std::numeric_limits<long double>::infinity()));
    if (name == "lfloor" || name == "lceil") {
      if (!Nest(depth + 1)) return -1;
      const int inner = Sum(depth + 1);
      if (inner < 0) return -1;
      SkipSpaces();
      const absl::string_view close = name == "lfloor" ? "rfloor" : "rceil";
      if (PeekCommand() != close) {
        Fail(ParseFailure::kSyntax);
        return -1;
      }
      pos_ += 1 + close.size();
      last_was_number_ = false;
      return Func(name == "lfloor" ? Function::kFloor : Function::kCeil, inner);
    }
    if (std::optional<Function> f = FindFunction(name)) return Call(*f, name == "log", depth);
    if (IsGreek(name)) {
      std::string variable = absl::StrCat("\\", name);
      if (!Subscript(&variable)) return -1;
      return Variable(std::move(variable));
    }
    Fail(ParseFailure::kSyntax);
    return -1;
  }

  // After a function name: optional log base, optional power, the argument.
  int Call(Function f, bool is_log, int depth) {
    int base = -1;
    SkipSpaces();
    if (is_log && Peek() == '_') {  // \log_2 8, \log_{10} x
      ++pos_;
      base = LatexArgument(depth + 1);
      if (base < 0) return -1;
      SkipSpaces();
    }
    int power = -1;
    if (Peek() == '^') {
      ++pos_;
      power = Exponent(depth + 1);
      if (power < 0) return -1;
      // \sin^{-1} x is arcsin x, not 1 / sin x.
      if (IsMinusOne(power) && (f == Function::kSin || f == Function::kCos || f == Function::kTan)) {
        f = f == Function::kSin ? Function::kAsin
            : f == Function::kCos ? Function::kAcos : Function::kAtan;
        power = -1;
      }
    }
    int node = Func(f, Argument(depth + 1));
    if (base >= 0) node = Divide(node, Func(Function::kLn, base));
    if (power >= 0) node = Op(NodeKind::kPower, {node, power});
    return node;
  }

  // "(x+1)" or, without parentheses, one power: "\sin x^2" = sin(x^2).
  int Argument(int depth) {
    if (!Nest(depth)) return -1;
    SkipSpaces();
    if (Peek() == '(') {
      ++pos_;
      return Group(')', depth);
    }
    return Power(depth);
  }

  // A plain letter run: known names first ("sin", "pi", "sqrt"), else one
  // single-letter variable per letter ("xy" = x*y). A run with four or more
  // single letters in a row is a word ("Monday"), not a product.
  int Letters(int depth) {
    if (pos_ == 0 || !IsLetter(text_[pos_ - 1])) {
      size_t end = pos_;
      while (end < text_.size() && IsLetter(text_[end])) ++end;
      int singles = 0;
      for (size_t k = pos_; k < end;) {
        const absl::string_view name = MatchPlainName(text_.substr(k, end - k));
        if (!name.empty()) {
          k += name.size();
          singles = 0;
          continue;
        }
        ++k;
        if (++singles >= kWordLetters) {
          Fail(ParseFailure::kSyntax);
          return -1;
        }
      }
    }
    const absl::string_view name = MatchPlainName(text_.substr(pos_));
    if (!name.empty()) {
      pos_ += name.size();
      if (name == "pi") return Leaf(Number::Real(std::numbers::pi_v<long double>));
      if (name == "infty" || name == "infinity" || name == "inf") {
        return Leaf(Number::Real(std::numeric_limits<long double>::infinity()));
      }
      if (name == "sqrt") {
        return Op(NodeKind::kPower, {Argument(depth + 1), Leaf(Number::Rational(1, 2))});
      }
      return Call(*FindFunction(name), name == "log", depth);
    }
    const char c = text_[pos_++];
    if (c == 'e' && Peek() != '_') return Leaf(Number::Real(std::numbers::e_v<long double>));
    std::string variable(1, c);
    if (!Subscript(&variable)) return -1;
    return Variable(std::move(variable));
  }

  // Appends "_1" for "x_1" and "x_{1}" (spaces dropped), so both name the
  // same variable.
  bool Subscript(std::string* name) {
    if (Peek() != '_') return true;
    ++pos_;
    std::string sub;
    if (Peek() == '{') {
      int braces = 1;
      size_t k = pos_ + 1;
      for (; k < text_.size() && braces > 0; ++k) {
        if (text_[k] == '{') ++braces;
        if (text_[k] == '}') --braces;
        if (braces > 0 && text_[k] != ' ') sub.push_back(text_[k]);
        if (sub.size() > kMaxSubscript) break;
      }
      if (braces != 0 || sub.empty()) {
        Fail(ParseFailure::kSyntax);
        return false;
      }
      pos_ = k;
    } else if (IsLetter(Peek()) || IsDigit(Peek())) {
      sub.push_back(text_[pos_++]);
    } else {
      Fail(ParseFailure::kSyntax);
      return false;
    }
    absl::StrAppend(name, "_", sub);
    return true;
  }

  // "42", "0.5", ".5", "1.5e3", and mixed numbers "2 1/2", "2\frac{1}{2}".
  int NumberLiteral() {
    const size_t start = pos_;
    std::string digits;  // mantissa digits without the point
    int fraction_digits = 0;
    while (IsDigit(Peek())) digits.push_back(text_[pos_++]);
    bool integer = true;
    if (Peek() == '.' && (IsDigit(Peek(1)) || !digits.empty())) {
      ++pos_;
      integer = false;
      while (IsDigit(Peek())) {
        digits.push_back(text_[pos_++]);
        ++fraction_digits;
      }
    }
    // "0.1\overline{6}" = 1/6: repeating digits after the point.
    std::string repeating;
    if (!integer && PeekCommand() == "overline") {
      const size_t save = pos_;
      pos_ += 9;
      SkipSpaces();
      if (Peek() == '{') {
        ++pos_;
        while (IsDigit(Peek()) && repeating.size() <= 18) repeating.push_back(text_[pos_++]);
      }
      if (repeating.empty() || repeating.size() > 18 || Peek() != '}') {
        repeating.clear();
        pos_ = save;
      } else {
        ++pos_;
      }
    }
    int64_t exponent = 0;
    if (repeating.empty() && (Peek() == 'e' || Peek() == 'E')) {
      size_t k = pos_ + 1;
      const bool negative = k < text_.size() && text_[k] == '-';
      if (k < text_.size() && (text_[k] == '-' || text_[k] == '+')) ++k;
      if (k < text_.size() && IsDigit(text_[k])) {
        for (; k < text_.size() && IsDigit(text_[k]); ++k) {
          if (exponent < 1000000) exponent = exponent * 10 + (text_[k] - '0');
        }
        if (negative) exponent = -exponent;
        pos_ = k;
        integer = false;
      }
    }
    const size_t first = digits.find_first_not_of('0');
    digits.erase(0, first == std::string::npos ? digits.size() : first);
    Number value;
    if (digits.size() <= 36) {  // fits in 127 bits
      Int128 mantissa = 0;
      for (char d : digits) mantissa = mantissa * 10 + (d - '0');
      value = Number::Rational(mantissa, 1) *
              Pow(Number::Integer(10), Number::Integer(exponent - fraction_digits));
    } else {
      const std::string literal(text_.substr(start, pos_ - start));
      value = Number::Real(std::strtold(literal.c_str(), nullptr));
    }
    if (!repeating.empty()) {
      Int128 r = 0;
      for (char d : repeating) r = r * 10 + (d - '0');
      const Number ten = Number::Integer(10);
      const Number scale = Pow(ten, Number::Integer(fraction_digits)) *
                           (Pow(ten, Number::Integer(static_cast<int64_t>(repeating.size()))) -
                            Number::Integer(1));
      value = value + Number::Rational(r, 1) / scale;
    }
    if (integer && no_mixed_ == 0) {
      if (std::optional<Number> fraction = MixedFraction()) {
        value = value + *fraction;
      }
    }
    const int node = Leaf(value);
    // A decimal remembers how precisely it was written (see Decimal).
    const int64_t ulp_exponent = exponent - fraction_digits;
    if (node >= 0 && !integer && repeating.empty() && value.exact() && !digits.empty() &&
        digits.size() <= 36 && ulp_exponent >= -36 && ulp_exponent <= 36) {
      Node& n = out_->nodes_[node];
      n.significant = static_cast<int16_t>(digits.size());
      n.ulp_exponent = static_cast<int16_t>(ulp_exponent);
    }
    last_was_number_ = true;
    return node;
  }

  // The proper-fraction part of a mixed number after an integer: "\frac{1}{2}"
  // or, after a space, "1/2" not followed by more of an expression.
  std::optional<Number> MixedFraction() {
    const size_t save = pos_;
    SkipSpaces();
    const bool spaced = pos_ > save;
    Int128 num = 0, den = 0;
    bool ok = false;
    if (PeekCommand() == "frac") {
      pos_ += 5;
      ok = DigitArgument(&num) && DigitArgument(&den);
    } else if (spaced && IsDigit(Peek())) {
      ok = Digits(&num) && Peek() == '/' && (++pos_, Digits(&den));
      const char next = Peek();
      ok = ok && !(IsDigit(next) || IsLetter(next) || next == '.' || next == '(' ||
                   next == '^' || next == '\\' || next == '{' || next == '!' || next == '%');
    }
    if (ok && den != 0) return Number::Rational(num, den);
    pos_ = save;
    return std::nullopt;
  }
  bool Digits(Int128* value) {
    const size_t start = pos_;
    while (IsDigit(Peek()) && pos_ - start < 18) *value = *value * 10 + (text_[pos_++] - '0');
    return pos_ > start && !IsDigit(Peek());
  }
  bool DigitArgument(Int128* value) {
    SkipSpaces();
    if (IsDigit(Peek())) {
      *value = text_[pos_++] - '0';
      return true;
    }
    if (Peek() != '{') return false;
    ++pos_;
    SkipSpaces();
    *value = 0;
    if (!Digits(value)) return false;
    SkipSpaces();
    if (Peek() != '}') return false;
    ++pos_;
    return true;
  }

  const absl::string_view text_;
  const int max_depth_;
  const size_t max_nodes_;
  Expression* const out_;
  size_t pos_ = 0;
  ParseFailure failure_ = ParseFailure::kNone;
  bool last_was_number_ = false;
  int abs_depth_ = 0;  // open |...| groups
  int no_mixed_ = 0;   // > 0 inside exponents and LaTeX arguments
};

ParseFailure ParseExpression(absl::string_view text, int depth, int max_depth,
                             size_t max_nodes, Expression* out) {
  return ExpressionParser(text, max_depth, max_nodes, out).Run(depth);
}

}  // namespace r1::reward::math_internal
