#include "reward/math/math_verify.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "reward/math/latex_normalizer.h"
#include "reward/math/math_expression.h"
#include "reward/math/math_number.h"

// An answer is a list of items ("1, 2", "x = 1 or x = 2"); an item is an
// expression, a relation ("y = 2x + 1", "x > 2"), a bracket (tuple or
// interval "(1, 2]", set "\{1, 2\}"), a union of intervals, or plain words.
// Lists and sets compare as unordered sets, tuples and intervals in order
// with the same brackets. "x = 5" equals "5": a relation whose one side is a
// single variable stands for its other side when compared with a non-relation.
namespace r1::reward {
namespace {

using math_internal::Expression;
using math_internal::Number;
using math_internal::ParseFailure;
using math_internal::PercentMode;

constexpr int kHardMaxDepth = 256;           // bounds the stack whatever the options say
constexpr size_t kMaxNodes = 1 << 16;        // per expression
constexpr size_t kMaxItems = 256;            // per list, tuple or set
constexpr int64_t kComparisonBudget = 1 << 22;  // node evaluations per verdict

bool IsLetter(char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)); }
bool IsDigit(char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }

enum class RelOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kIn };

RelOp Flip(RelOp op) {
  switch (op) {
    case RelOp::kLt: return RelOp::kGt;
    case RelOp::kGt: return RelOp::kLt;
    case RelOp::kLe: return RelOp::kGe;
    case RelOp::kGe: return RelOp::kLe;
    default: return op;
  }
}

struct Item {
  enum class Kind : uint8_t { kExpression, kRelation, kBracket, kUnion, kText };
  Kind kind = Kind::kExpression;
  Expression expression;    // kExpression
  std::vector<Item> parts;  // kRelation: sides; kBracket, kUnion: elements
  std::vector<RelOp> ops;   // kRelation: ops[i] is between parts[i] and parts[i + 1]
  char open = 0, close = 0;  // kBracket: '(' '[' '{' and ')' ']' '}'
  std::string text;         // kText, lower case
};

bool IsSet(const Item& item) { return item.kind == Item::Kind::kBracket && item.open == '{'; }

// ---- splitting at bracket depth 0 ----

// Bracket depth change of the token at s[i] and its length: "(", "[", "{",
// "\{" open; ")", "]", "}", "\}" close; a command is skipped whole so that
// the letters of "\cor" are not the word "or".
struct Token {
  int depth_change = 0;
  size_t length = 1;
};

Token TokenAt(absl::string_view s, size_t i) {
  const char c = s[i];
  if (c == '\\' && i + 1 < s.size()) {
    if (s[i + 1] == '{') return {1, 2};
    if (s[i + 1] == '}') return {-1, 2};
    size_t end = i + 1;
    while (end < s.size() && IsLetter(s[end])) ++end;
    return {0, std::max<size_t>(end - i, 2)};
  }
  if (c == '(' || c == '[' || c == '{') return {1, 1};
  if (c == ')' || c == ']' || c == '}') return {-1, 1};
  return {0, 1};
}

absl::string_view CommandAt(absl::string_view s, size_t i) {
  if (s[i] != '\\') return {};
  size_t end = i + 1;
  while (end < s.size() && IsLetter(s[end])) ++end;
  return s.substr(i + 1, end - i - 1);
}

// "1,234,567": a comma with 1-3 digits before (exactly 3 after an earlier
// thousands comma), exactly 3 digits after, and no leading zero.
bool IsThousandsComma(absl::string_view s, size_t i, bool* in_number) {
  const bool previous = *in_number;
  *in_number = false;
  if (i + 3 >= s.size() || !IsDigit(s[i + 1]) || !IsDigit(s[i + 2]) || !IsDigit(s[i + 3])) {
    return false;
  }
  if (i + 4 < s.size() && IsDigit(s[i + 4])) return false;
  size_t start = i;
  while (start > 0 && IsDigit(s[start - 1])) --start;
  const size_t group = i - start;
  if (group < 1 || group > 3) return false;
  if (start > 0 && s[start - 1] == ',') {
    if (!previous || group != 3) return false;
  } else {
    if (s[start] == '0') return false;
    // Not the digits of a decimal, a name or an index ("x_1,234", "2^1,234").
    const char before = start > 0 ? s[start - 1] : ' ';
    if (before == '.' || before == '_' || before == '^' || IsLetter(before)) return false;
  }
  *in_number = true;
  return true;
}

struct SplitOptions {
  bool thousands = false;  // drop thousands commas instead of splitting
  bool words = false;      // "and" / "or" separate too
};

// Splits at depth-0 commas and semicolons (and words). kSyntax on unbalanced
// brackets, kTooComplex past kMaxItems pieces (checked as they are made, so a
// megabyte of "1," costs no megabyte of strings).
ParseFailure SplitList(absl::string_view s, SplitOptions options,
                       std::vector<std::string>* pieces) {
  int depth = 0;
  bool in_number = false;
  std::string current;
  for (size_t i = 0; i < s.size();) {
    const Token token = TokenAt(s, i);
    depth += token.depth_change;
    if (depth < 0) return ParseFailure::kSyntax;
    const char c = s[i];
    if (depth == 0 && token.depth_change == 0) {
      if (c == ',' && options.thousands && IsThousandsComma(s, i, &in_number)) {
        ++i;
        continue;
      }
      if (c == ',' || c == ';') {
        if (pieces->size() >= kMaxItems) return ParseFailure::kTooComplex;
        pieces->push_back(std::move(current));
        current.clear();
        ++i;
        continue;
      }
      if (options.words && IsLetter(c) && (i == 0 || !IsLetter(s[i - 1]))) {
        size_t end = i;
        while (end < s.size() && IsLetter(s[end])) ++end;
        const absl::string_view word = s.substr(i, end - i);
        if (absl::EqualsIgnoreCase(word, "and") || absl::EqualsIgnoreCase(word, "or")) {
          if (pieces->size() >= kMaxItems) return ParseFailure::kTooComplex;
          pieces->push_back(std::move(current));
          current.clear();
          i = end;
          continue;
        }
        current.append(word.data(), word.size());
        i = end;
        continue;
      }
    }
    current.append(s.data() + i, token.length);
    i += token.length;
  }
  if (depth != 0) return ParseFailure::kSyntax;
  pieces->push_back(std::move(current));
  return ParseFailure::kNone;
}

// Splits "a = b", "1 < x \le 2", "x \in [0, 1]" at depth-0 relation signs.
void SplitRelations(absl::string_view s, std::vector<absl::string_view>* sides,
                    std::vector<RelOp>* ops) {
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size();) {
    const Token token = TokenAt(s, i);
    depth += token.depth_change;
    size_t length = 0;
    RelOp op = RelOp::kEq;
    if (depth == 0 && token.depth_change == 0) {
      const absl::string_view two = s.substr(i, 2);
      const absl::string_view command = CommandAt(s, i);
      if (two == "<=") {
        op = RelOp::kLe, length = 2;
      } else if (two == ">=") {
        op = RelOp::kGe, length = 2;
      } else if (two == "!=") {
        op = RelOp::kNe, length = 2;
      } else if (two == "==") {
        op = RelOp::kEq, length = 2;
      } else if (s[i] == '=') {
        op = RelOp::kEq, length = 1;
      } else if (s[i] == '<') {
        op = RelOp::kLt, length = 1;
      } else if (s[i] == '>') {
        op = RelOp::kGt, length = 1;
      } else if (command == "le" || command == "ge" || command == "ne" || command == "in") {
        op = command == "le" ? RelOp::kLe
             : command == "ge" ? RelOp::kGe
             : command == "ne" ? RelOp::kNe : RelOp::kIn;
        length = 1 + command.size();
      }
    }
    if (length > 0) {
      sides->push_back(s.substr(start, i - start));
      ops->push_back(op);
      i += length;
      start = i;
    } else {
      i += token.length;
    }
  }
  sides->push_back(s.substr(start));
}

// Splits at depth-0 "\cup".
std::vector<absl::string_view> SplitUnion(absl::string_view s) {
  std::vector<absl::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size();) {
    const Token token = TokenAt(s, i);
    depth += token.depth_change;
    if (depth == 0 && CommandAt(s, i) == "cup") {
      parts.push_back(s.substr(start, i - start));
      start = i + token.length;
    }
    i += token.length;
  }
  parts.push_back(s.substr(start));
  return parts;
}

// "(a, b]" -> open '(', close ']', inner "a, b" when the first bracket closes
// at the very end. `escaped` is true for "\{ ... \}".
bool SplitBracket(absl::string_view s, char* open, char* close, bool* escaped,
                  absl::string_view* inner) {
  if (s.empty()) return false;
  const Token first = TokenAt(s, 0);
  if (first.depth_change != 1) return false;
  int depth = 0;
  for (size_t i = 0; i < s.size();) {
    const Token token = TokenAt(s, i);
    depth += token.depth_change;
    if (depth == 0) {
      if (i + token.length != s.size()) return false;
      *escaped = first.length == 2;
      *open = s[first.length - 1];
      *close = s[i + token.length - 1];
      *inner = s.substr(first.length, i - first.length);
      return true;
    }
    i += token.length;
  }
  return false;
}

// "x = \pm 2" -> "x = +2", "x = -2". Only one \pm (or \mp) is expanded.
std::vector<std::string> ExpandPlusMinus(const std::string& s) {
  size_t at = std::string::npos;
  int count = 0;
  absl::string_view command;
  for (size_t i = 0; i < s.size(); ++i) {
    const absl::string_view name = CommandAt(s, i);
    if (name == "pm" || name == "mp") {
      if (count++ == 0) {
        at = i;
        command = name;
      }
    }
  }
  if (count != 1) return {s};
  const bool pm = command == "pm";
  std::string plus = s, minus = s;
  plus.replace(at, 3, pm ? "+" : "-");
  minus.replace(at, 3, pm ? "-" : "+");
  return {std::move(plus), std::move(minus)};
}

// Only letters and spaces, with a word that is not a math name: "Yes",
// "no solution". "xy" counts as a word here (documented).
bool IsWords(absl::string_view s) {
  bool wordy = false;
  for (size_t i = 0; i < s.size();) {
    if (s[i] == ' ') {
      ++i;
      continue;
    }
    if (!IsLetter(s[i])) return false;
    size_t end = i;
    while (end < s.size() && IsLetter(s[end])) ++end;
    const absl::string_view run = s.substr(i, end - i);
    if (run.size() >= 2 && !math_internal::IsMathName(run)) wordy = true;
    i = end;
  }
  return wordy;
}

// Text that failed to parse as math but reads as prose: "(A) Monday".
bool IsTextLike(absl::string_view s) {
  bool letter = false;
  for (char c : s) {
    if (IsLetter(c)) {
      letter = true;
    } else if (!IsDigit(c) && !absl::StrContains(" .,'-()!?:", c)) {
      return false;
    }
  }
  return letter;
}

absl::string_view Trim(absl::string_view s) { return absl::StripAsciiWhitespace(s); }

class StructureParser {
 public:
  explicit StructureParser(int max_depth) : max_depth_(max_depth) {}

  ParseFailure Parse(absl::string_view normalized, std::vector<Item>* items) {
    // One linear pass rejects deep nesting before any per-level work, so a
    // million nested braces cost O(n), not O(n * depth).
    int depth = 0, deepest = 0;
    for (size_t i = 0; i < normalized.size();) {
      const Token token = TokenAt(normalized, i);
      depth += token.depth_change;
      deepest = std::max(deepest, depth);
      i += token.length;
    }
    if (deepest + 1 > max_depth_) return ParseFailure::kTooDeep;
    std::vector<std::string> pieces;
    if (ParseFailure f = SplitList(normalized, {.thousands = true, .words = true}, &pieces);
        f != ParseFailure::kNone) {
      return f;
    }
    for (const std::string& piece : pieces) {
      for (const std::string& expanded : ExpandPlusMinus(piece)) {
        if (items->size() >= kMaxItems) return ParseFailure::kTooComplex;
        items->emplace_back();
        if (!ParseItem(expanded, 1, &items->back())) return failure_;
      }
    }
    return ParseFailure::kNone;
  }

 private:
  bool Fail(ParseFailure failure) {
    if (failure_ == ParseFailure::kNone) failure_ = failure;
    return false;
  }

  bool ParseItem(absl::string_view text, int depth, Item* item) {
    if (depth > max_depth_) return Fail(ParseFailure::kTooDeep);
    text = Trim(text);
    if (text.empty()) return Fail(ParseFailure::kSyntax);

    if (std::vector<absl::string_view> parts = SplitUnion(text); parts.size() > 1) {
      item->kind = Item::Kind::kUnion;
      return ParseParts(parts, depth, item);
    }

    std::vector<absl::string_view> sides;
    std::vector<RelOp> ops;
    SplitRelations(text, &sides, &ops);
    if (!ops.empty()) {
      // "x \in [0, 1]" is the interval.
      if (ops.size() == 1 && ops[0] == RelOp::kIn) {
        if (Trim(sides[0]).empty()) return Fail(ParseFailure::kSyntax);
        return ParseItem(sides[1], depth + 1, item);
      }
      if (std::count(ops.begin(), ops.end(), RelOp::kIn) > 0) return Fail(ParseFailure::kSyntax);
      item->kind = Item::Kind::kRelation;
      item->ops = std::move(ops);
      return ParseParts(sides, depth, item);
    }

    char open, close;
    bool escaped;
    absl::string_view inner;
    if (SplitBracket(text, &open, &close, &escaped, &inner)) {
      std::vector<std::string> elements;
      if (ParseFailure f = SplitList(inner, {}, &elements); f != ParseFailure::kNone) {
        return Fail(f);
      }
      const bool set = open == '{' && close == '}';
      if ((open == '{') != (close == '}')) return Fail(ParseFailure::kSyntax);
      if ((set && escaped) || elements.size() > 1) {
        item->kind = Item::Kind::kBracket;
        item->open = open;
        item->close = close;
        if (set && escaped && elements.size() == 1 && Trim(elements[0]).empty()) {
          return true;  // \{\}: the empty set
        }
        std::vector<absl::string_view> views(elements.begin(), elements.end());
        return ParseParts(views, depth, item);
      }
    }

    if (IsWords(text)) {
      item->kind = Item::Kind::kText;
      item->text = absl::AsciiStrToLower(text);
      return true;
    }

    item->kind = Item::Kind::kExpression;
    const ParseFailure failure =
        math_internal::ParseExpression(text, depth, max_depth_, kMaxNodes, &item->expression);
    if (failure == ParseFailure::kNone) return true;
    if (failure == ParseFailure::kSyntax && IsTextLike(text)) {
      item->kind = Item::Kind::kText;
      item->text = absl::AsciiStrToLower(text);
      return true;
    }
    return Fail(failure);
  }

  bool ParseParts(const std::vector<absl::string_view>& parts, int depth, Item* item) {
    if (parts.size() > kMaxItems) return Fail(ParseFailure::kTooComplex);
    item->parts.resize(parts.size());
    for (size_t i = 0; i < parts.size(); ++i) {
      if (!ParseItem(parts[i], depth + 1, &item->parts[i])) return false;
    }
    return true;
  }

  const int max_depth_;
  ParseFailure failure_ = ParseFailure::kNone;
};

// ---- comparison ----

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Coordinate of variable j (in name order) at point k: a random magnitude in
// [0.1, 3) * scale, never an integer (integers hide floor(x) vs x). For the
// first three variables the sign is bit j of k: point 0 is all positive and
// point 2^j flips variable j alone, so within points 0-4 every product of
// them takes both signs (sqrt(x^2) != x, |xyz| != xyz) whatever the seed.
// Further variables get random signs.
long double Coordinate(uint64_t* state, uint64_t k, uint64_t j, long double scale) {
  const long double u = static_cast<long double>(SplitMix64(state) >> 11) * 0x1.0p-53L;
  const long double magnitude = (0.1L + 2.9L * u) * scale;
  const bool negative = j < 3 ? ((k >> j) & 1) : (SplitMix64(state) & 1);
  return negative ? -magnitude : magnitude;
}

// Expressions evaluated together at shared points: each maps its own
// variables onto the union of names. Points come in blocks of `block`; each
// block is 10 times wider than the one before (up to 1000), so an expression
// defined only far from zero (sqrt(x - 50)) still gets points.
class PointSet {
 public:
  PointSet(std::vector<const Expression*> expressions, uint64_t seed, int block)
      : expressions_(std::move(expressions)), state_(seed), block_(block) {
    for (const Expression* e : expressions_) {
      for (const std::string& name : e->variables()) {
        if (std::find(names_.begin(), names_.end(), name) == names_.end()) names_.push_back(name);
      }
    }
    std::sort(names_.begin(), names_.end());  // order-independent of the inputs
    for (const Expression* e : expressions_) {
      std::vector<size_t>& slots = slots_.emplace_back();
      for (const std::string& name : e->variables()) {
        slots.push_back(std::find(names_.begin(), names_.end(), name) - names_.begin());
      }
    }
  }

  bool has_variables() const { return !names_.empty(); }

  // Draws the next point and evaluates expression i there in modes[i].
  void Next(const std::vector<PercentMode>& modes, std::vector<Number>* values, int64_t* budget) {
    static constexpr long double kScales[] = {1, 10, 100, 1000};
    const long double scale = kScales[std::min<uint64_t>(next_point_ / block_, 3)];
    point_.resize(names_.size());
    for (size_t j = 0; j < point_.size(); ++j) {
      point_[j] = Coordinate(&state_, next_point_, j, scale);
    }
    ++next_point_;
    values->clear();
    for (size_t i = 0; i < expressions_.size(); ++i) {
      scratch_.clear();
      for (size_t slot : slots_[i]) scratch_.push_back(point_[slot]);
      values->push_back(expressions_[i]->Evaluate(scratch_, modes[i]));
      *budget -= static_cast<int64_t>(expressions_[i]->size());
    }
  }

 private:
  std::vector<const Expression*> expressions_;
  std::vector<std::string> names_;
  std::vector<std::vector<size_t>> slots_;
  std::vector<long double> point_, scratch_;
  uint64_t state_;
  const uint64_t block_;
  uint64_t next_point_ = 0;
};

class Comparator {
 public:
  explicit Comparator(const MathVerifyOptions& options) : options_(options) {}

  bool out_of_budget() const { return budget_ < 0; }

  bool Answers(const std::vector<Item>& a, const std::vector<Item>& b) {
    if (a.size() == 1 && b.size() == 1) return Items(a[0], b[0]);
    // "1, 2" and "\{2, 1\}" are the same set of solutions.
    const std::vector<Item>* set_a = a.size() > 1 ? &a : IsSet(a[0]) ? &a[0].parts : nullptr;
    const std::vector<Item>* set_b = b.size() > 1 ? &b : IsSet(b[0]) ? &b[0].parts : nullptr;
    return set_a != nullptr && set_b != nullptr && Unordered(*set_a, *set_b);
  }

 private:
  bool Equal(const Number& x, const Number& y) const {
    return math_internal::NumbersEqual(x, y, options_.relative_tolerance,
                                       options_.absolute_tolerance);
  }
  // Four blocks of points (see PointSet), each with room for skipped ones.
  int Block() const { return options_.random_points + 1; }
  int MaxAttempts() const { return 4 * Block(); }

  // Memoized on the pair: nested sets and relations compare sub-items from
  // several places (both directions of set cover, mirrored relations), which
  // without a memo would cost 2^depth.
  bool Items(const Item& a, const Item& b) {
    const auto key = std::make_pair(&a, &b);
    if (const auto it = memo_.find(key); it != memo_.end()) return it->second;
    const bool equal = ItemsUncached(a, b);
    memo_.emplace(key, equal);
    return equal;
  }

  bool ItemsUncached(const Item& a, const Item& b) {
    if (--budget_ < 0) return false;
    using Kind = Item::Kind;
    if (a.kind == Kind::kRelation && b.kind == Kind::kRelation) return Relations(a, b);
    if (a.kind == Kind::kRelation) {
      const Item* value = AssignedValue(a);
      return value != nullptr && Items(*value, b);
    }
    if (b.kind == Kind::kRelation) {
      const Item* value = AssignedValue(b);
      return value != nullptr && Items(a, *value);
    }
    if (a.kind != b.kind) return false;
    switch (a.kind) {
      case Kind::kExpression:
        return Expressions(a.expression, b.expression);
      case Kind::kBracket:
        if (a.open != b.open || a.close != b.close) return false;
        if (IsSet(a)) return Unordered(a.parts, b.parts);
        return Ordered(a.parts, b.parts);
      case Kind::kUnion:
        return Unordered(a.parts, b.parts);
      case Kind::kText:
        return a.text == b.text;
      case Kind::kRelation:
        break;
    }
    return false;
  }

  bool Ordered(const std::vector<Item>& a, const std::vector<Item>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!Items(a[i], b[i])) return false;
    }
    return true;
  }

  // Set equality: every element of each side equals some element of the other.
  // Items are always asked as (answer part, gold part), so the memo is shared.
  bool Unordered(const std::vector<Item>& a, const std::vector<Item>& b) {
    for (const Item& x : a) {
      if (std::none_of(b.begin(), b.end(), [&](const Item& y) { return Items(x, y); })) {
        return false;
      }
    }
    for (const Item& y : b) {
      if (std::none_of(a.begin(), a.end(), [&](const Item& x) { return Items(x, y); })) {
        return false;
      }
    }
    return true;
  }

  // "x = 5" stands for 5 when compared with a non-relation; also "5 = x" and
  // "(x, y) = (1, 2)".
  static const Item* AssignedValue(const Item& relation) {
    if (relation.ops.size() != 1 || relation.ops[0] != RelOp::kEq) return nullptr;
    auto is_variable = [](const Item& side) {
      if (side.kind == Item::Kind::kBracket && side.open == '(' && side.close == ')') {
        return std::all_of(side.parts.begin(), side.parts.end(), [](const Item& p) {
          return p.kind == Item::Kind::kExpression && p.expression.IsSingleVariable();
        });
      }
      return side.kind == Item::Kind::kExpression && side.expression.IsSingleVariable();
    };
    if (is_variable(relation.parts[0])) return &relation.parts[1];
    if (is_variable(relation.parts[1])) return &relation.parts[0];
    return nullptr;
  }

  bool Relations(const Item& a, const Item& b) {
    const size_t n = a.parts.size();
    if (n == b.parts.size()) {
      if (a.ops == b.ops && Ordered(a.parts, b.parts)) return true;
      // "2 < x" is "x > 2".
      bool mirrored = true;
      for (size_t i = 0; i + 1 < n && mirrored; ++i) mirrored = a.ops[i] == Flip(b.ops[n - 2 - i]);
      for (size_t i = 0; i < n && mirrored; ++i) mirrored = Items(a.parts[i], b.parts[n - 1 - i]);
      if (mirrored) return true;
    }
    return Proportional(a, b);
  }

  // Equations with the same solutions up to a constant factor: "y = 2x + 1"
  // and "2x - y + 1 = 0". (l1 - r1) / (l2 - r2) must be one non-zero constant
  // at every point.
  bool Proportional(const Item& a, const Item& b) {
    auto plain_equation = [](const Item& r) {
      return r.ops.size() == 1 && r.ops[0] == RelOp::kEq &&
             r.parts[0].kind == Item::Kind::kExpression &&
             r.parts[1].kind == Item::Kind::kExpression;
    };
    if (!plain_equation(a) || !plain_equation(b)) return false;
    PointSet points({&a.parts[0].expression, &a.parts[1].expression, &b.parts[0].expression,
                     &b.parts[1].expression},
                    options_.seed, Block());
    if (!points.has_variables()) return false;  // "1 = 2" vs "2 = 4" says nothing
    const std::vector<PercentMode> modes(4, PercentMode::kStrip);
    std::vector<Number> v;
    const Number zero = Number::Integer(0);
    bool have_ratio = false;
    long double ratio = 0;
    int valid = 0;
    for (int attempt = 0; attempt < MaxAttempts() && valid < options_.random_points; ++attempt) {
      points.Next(modes, &v, &budget_);
      if (budget_ < 0) return false;
      if (!std::all_of(v.begin(), v.end(), [](const Number& x) { return x.IsFinite(); })) continue;
      const Number d1 = v[0] - v[1], d2 = v[2] - v[3];
      const bool zero1 = Equal(d1, zero), zero2 = Equal(d2, zero);
      if (zero1 != zero2) return false;
      ++valid;
      if (zero1) continue;
      const long double r = d1.value() / d2.value();
      if (!have_ratio) {
        ratio = r;
        have_ratio = true;
      } else if (!Equal(Number::Real(r), Number::Real(ratio))) {
        return false;
      }
    }
    return valid > 0;
  }

  // Percent signs read both ways when percent_equals_fraction: 50% is 50 or 0.5.
  bool Expressions(const Expression& a, const Expression& b) {
    auto modes = [&](const Expression& e) {
      std::vector<PercentMode> m = {PercentMode::kStrip};
      if (e.has_percent() && options_.percent_equals_fraction) m.push_back(PercentMode::kDivide);
      return m;
    };
    for (PercentMode ma : modes(a)) {
      for (PercentMode mb : modes(b)) {
        if (ExpressionsIn(a, ma, b, mb)) return true;
      }
    }
    return false;
  }

  bool ExpressionsIn(const Expression& a, PercentMode ma, const Expression& b, PercentMode mb) {
    PointSet points({&a, &b}, options_.seed, Block());
    const std::vector<PercentMode> modes = {ma, mb};
    std::vector<Number> v;
    if (!points.has_variables()) {
      points.Next(modes, &v, &budget_);
      return budget_ >= 0 && Equal(v[0], v[1]);
    }
    // Points where either side is undefined (log of a negative, 1/0) are
    // skipped; the sides must agree at every other point, and at one at least.
    int valid = 0;
    for (int attempt = 0; attempt < MaxAttempts() && valid < options_.random_points; ++attempt) {
      points.Next(modes, &v, &budget_);
      if (budget_ < 0) return false;
      if (!v[0].IsFinite() || !v[1].IsFinite()) continue;
      if (!Equal(v[0], v[1])) return false;
      ++valid;
    }
    return valid > 0;
  }

  const MathVerifyOptions& options_;
  int64_t budget_ = kComparisonBudget;
  absl::flat_hash_map<std::pair<const Item*, const Item*>, bool> memo_;
};

bool ValidOptions(const MathVerifyOptions& o) {
  return std::isfinite(o.relative_tolerance) && o.relative_tolerance >= 0 &&
         std::isfinite(o.absolute_tolerance) && o.absolute_tolerance >= 0 &&
         o.random_points >= 1 && o.random_points <= 1000 && o.max_depth >= 1 &&
         o.max_answer_bytes >= 1;
}

MathVerdict Verdict(bool correct, absl::string_view reason) {
  return MathVerdict{correct, std::string(reason)};
}

}  // namespace

MathVerdict VerifyMathAnswer(absl::string_view answer, absl::string_view gold,
                             const MathVerifyOptions& options) {
  if (!ValidOptions(options)) return Verdict(false, "invalid_options");
  const int max_depth = std::min(options.max_depth, kHardMaxDepth);

  // The gold answer first: a broken gold is a dataset bug whatever the answer.
  if (gold.size() > options.max_answer_bytes) return Verdict(false, "gold_unparsable");
  const std::string gold_normalized = math_internal::NormalizeAnswer(gold);
  std::vector<Item> gold_items;
  if (gold_normalized.empty() ||
      StructureParser(max_depth).Parse(gold_normalized, &gold_items) != ParseFailure::kNone) {
    return Verdict(false, "gold_unparsable");
  }

  if (answer.size() > options.max_answer_bytes) return Verdict(false, "answer_too_long");
  const std::string normalized = math_internal::NormalizeAnswer(answer);
  if (normalized.empty()) return Verdict(false, "empty_answer");
  std::vector<Item> answer_items;
  switch (StructureParser(max_depth).Parse(normalized, &answer_items)) {
    case ParseFailure::kNone: break;
    case ParseFailure::kTooDeep: return Verdict(false, "too_deep");
    case ParseFailure::kTooComplex: return Verdict(false, "answer_too_complex");
    case ParseFailure::kSyntax: return Verdict(false, "answer_unparsable");
  }

  Comparator comparator(options);
  const bool equal = comparator.Answers(answer_items, gold_items);
  if (comparator.out_of_budget()) return Verdict(false, "answer_too_complex");
  return equal ? Verdict(true, "equal") : Verdict(false, "not_equal");
}

}  // namespace r1::reward
