#include "reward/math/math_verify.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "reward/math/latex_normalizer.h"
#include "reward/math/math_expression.h"
#include "reward/math/math_number.h"

// An answer is a list of items ("1, 2", "x = 1 or x = 2"); an item is an
// expression, a relation ("y = 2x + 1", "x > 2", "\{x : x > 2\}"), a bracket
// (tuple or interval "(1, 2]", set "\{1, 2\}"), a matrix, a union of
// intervals, or plain words. Lists and sets compare as unordered sets, tuples
// and intervals in order with the same brackets, matrices cell by cell.
// "x = 5" equals "5": an equation whose one side is a label (see IsLabel)
// stands for its other side when compared with a non-relation; an inequality
// in one variable stands for its interval ("x > 2" for (2, \infty)).
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
  enum class Kind : uint8_t { kExpression, kRelation, kBracket, kUnion, kText, kMatrix };
  Kind kind = Kind::kExpression;
  Expression expression;    // kExpression
  // kRelation: sides; kBracket, kUnion: elements; kMatrix: cells, row by row
  std::vector<Item> parts;
  std::vector<RelOp> ops;   // kRelation: ops[i] is between parts[i] and parts[i + 1]
  char open = 0, close = 0;  // kBracket: '(' '[' '{' and ')' ']' '}'
  std::string text;         // kText: lower case, or as written for a label
  size_t rows = 0, columns = 0;  // kMatrix
  bool label = false;       // a relation side that names a value: "x", "f(2)", "AB"
  // The variable a set is of: "x" for the inequality "1 < x \le 2" (a
  // kRelation, whose as_set holds the interval or union it describes: (1, 2])
  // and for "x \in [0, 1]" (the kBracket [0, 1]). Empty otherwise.
  std::string variable;
  std::vector<Item> as_set;
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

// Markers that MarkMatrices puts in place of a matrix environment's
// \begin, \end, "\\" and "&"; the normalizer keeps unknown commands as they are.
constexpr absl::string_view kMatrixOpen = "matrixopen";
constexpr absl::string_view kMatrixClose = "matrixclose";
constexpr absl::string_view kMatrixRow = "matrixrow";
constexpr absl::string_view kMatrixColumn = "matrixcol";

Token TokenAt(absl::string_view s, size_t i) {
  const char c = s[i];
  if (c == '\\' && i + 1 < s.size()) {
    if (s[i + 1] == '{') return {1, 2};
    if (s[i + 1] == '}') return {-1, 2};
    size_t end = i + 1;
    while (end < s.size() && IsLetter(s[end])) ++end;
    const absl::string_view name = s.substr(i + 1, end - i - 1);
    const int change = name == kMatrixOpen ? 1 : name == kMatrixClose ? -1 : 0;
    return {change, std::max<size_t>(end - i, 2)};
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

// ---- matrices, before normalization ----

// vmatrix and Vmatrix are determinants, values rather than matrices: they are
// left as they are and do not parse.
bool IsMatrixEnvironment(absl::string_view name) {
  if (absl::EndsWith(name, "*")) name.remove_suffix(1);
  return name == "matrix" || name == "pmatrix" || name == "bmatrix" || name == "Bmatrix" ||
         name == "smallmatrix" || name == "array";
}

// "{pmatrix}" at s[i] (spaces first allowed): the name, and where it ends.
bool EnvironmentName(absl::string_view s, size_t i, absl::string_view* name, size_t* end) {
  while (i < s.size() && s[i] == ' ') ++i;
  if (i >= s.size() || s[i] != '{') return false;
  size_t k = i + 1;
  while (k < s.size() && IsLetter(s[k])) ++k;
  if (k < s.size() && s[k] == '*') ++k;
  if (k == i + 1 || k >= s.size() || s[k] != '}') return false;
  *name = s.substr(i + 1, k - i - 1);
  *end = k + 1;
  return true;
}

// The position of `c` in s[from, from + limit), or npos: bounded, so that a
// repeated opener without its closer costs no quadratic rescans.
size_t FindWithin(absl::string_view s, size_t from, char c, size_t limit) {
  const size_t at = s.substr(from, limit).find(c);
  return at == absl::string_view::npos ? at : from + at;
}

// After "\begin{array}": an optional "[t]" and the column spec "{c|c}" (whose
// braces may nest, "@{}c@{}"); after "\begin{pmatrix*}": an optional "[r]".
// Options longer than a real one are not skipped (and then do not parse).
size_t SkipMatrixOptions(absl::string_view s, size_t i, absl::string_view name) {
  constexpr size_t kMaxSpec = 64;
  size_t k = i;
  while (k < s.size() && s[k] == ' ') ++k;
  if (k < s.size() && s[k] == '[') {
    const size_t close = FindWithin(s, k, ']', 8);
    if (close == absl::string_view::npos) return i;
    k = close + 1;
    while (k < s.size() && s[k] == ' ') ++k;
  }
  if (name != "array" && name != "array*") return k;
  if (k >= s.size() || s[k] != '{') return i;
  int depth = 0;
  for (size_t j = k; j < s.size() && j - k < kMaxSpec; ++j) {
    if (s[j] == '{') ++depth;
    if (s[j] == '}' && --depth == 0) return j + 1;
  }
  return i;
}

// After a row break "\\": an optional spacing argument "[2pt]".
size_t SkipRowSpacing(absl::string_view s, size_t i) {
  size_t k = i;
  while (k < s.size() && s[k] == ' ') ++k;
  if (k >= s.size() || s[k] != '[') return i;
  const size_t close = FindWithin(s, k, ']', 12);
  if (close == absl::string_view::npos) return i;
  const absl::string_view length = Trim(s.substr(k + 1, close - k - 1));
  for (absl::string_view unit : {"pt", "em", "ex", "mm", "cm", "in", "mu", "bp", "pc"}) {
    if (length.size() > unit.size() && absl::EndsWith(length, unit) &&
        (IsDigit(length[0]) || length[0] == '.' || length[0] == '-')) {
      return close + 1;
    }
  }
  return i;
}

// Rewrites matrix environments into markers that survive normalization, which
// turns "&" and "\\" into spaces: "\begin{pmatrix}1 & 2\\ 3 & 4\end{pmatrix}"
// becomes " \matrixopen 1 \matrixcol 2 \matrixrow 3 \matrixcol 4 \matrixclose ".
// Only "&" and "\\" of a matrix itself are rewritten, not those of another
// environment inside it. One pass; the stack of open environments is the only
// state and the structure parser's depth check bounds its use. False (the
// answer is too complex) past kMaxMatrixSeparators, which also bounds how
// much the markers add.
constexpr size_t kMaxMatrixSeparators = 32 * kMaxItems;

bool MarkMatrices(absl::string_view s, std::string* out_string) {
  std::string& out = *out_string;
  if (!absl::StrContains(s, "\\begin")) {
    out = std::string(s);
    return true;
  }
  out.reserve(s.size() + 64);
  std::vector<std::pair<absl::string_view, bool>> environments;  // name, is a matrix
  size_t separators = 0;
  for (size_t i = 0; i < s.size();) {
    const bool in_matrix = !environments.empty() && environments.back().second;
    const char c = s[i];
    if (in_matrix && (c == '&' || (c == '\\' && i + 1 < s.size() && s[i + 1] == '\\')) &&
        ++separators > kMaxMatrixSeparators) {
      return false;
    }
    if (c == '&' && in_matrix) {
      out.append(" \\matrixcol ");
      ++i;
      continue;
    }
    if (c != '\\' || i + 1 >= s.size()) {
      out.push_back(c);
      ++i;
      continue;
    }
    if (s[i + 1] == '\\') {
      if (in_matrix) {
        out.append(" \\matrixrow ");
        i = SkipRowSpacing(s, i + 2);
      } else {
        out.append("\\\\");
        i += 2;
      }
      continue;
    }
    if (!IsLetter(s[i + 1])) {  // "\&", "\{": copied whole so "&" is not a separator
      out.append(s.data() + i, 2);
      i += 2;
      continue;
    }
    size_t end = i + 1;
    while (end < s.size() && IsLetter(s[end])) ++end;
    const absl::string_view command = s.substr(i + 1, end - i - 1);
    absl::string_view name;
    size_t after;
    if ((command == "begin" || command == "end") && EnvironmentName(s, end, &name, &after)) {
      if (command == "begin") {
        const bool matrix = IsMatrixEnvironment(name);
        environments.emplace_back(name, matrix);
        if (matrix) {
          out.append(" \\matrixopen ");
          i = SkipMatrixOptions(s, after, name);
          continue;
        }
      } else if (!environments.empty() && environments.back().first == name) {
        const bool matrix = environments.back().second;
        environments.pop_back();
        if (matrix) {
          out.append(" \\matrixclose ");
          i = after;
          continue;
        }
      }
      out.append(s.data() + i, after - i);  // another environment, or a stray \end
      i = after;
      continue;
    }
    if (in_matrix && (command == "hline" || command == "hdashline")) {
      out.push_back(' ');
      i = end;
      continue;
    }
    out.append(s.data() + i, end - i);
    i = end;
  }
  return true;
}

// ---- labels: what an equation may name ----

// The normalized side of an equation that names the value on the other side:
// a name ("x", "x_1", "AB", "\theta", "a_{n}", "f'"), a call of one ("f(x)",
// "f(2)", "f^{-1}(3)", "P(A)"), an angle ("\angle A", "m\angle ABC") or a
// segment ("\overline{AB}"). Not "x^2", "2x", "|x|", "x + 1" or "\sin x":
// those are conditions on a value, so "x^2 = 4" never stands for 4.
bool IsLabel(absl::string_view s) {
  constexpr size_t kMaxName = 32;
  auto letters = [&](size_t i) {
    size_t end = i;
    while (end < s.size() && IsLetter(s[end]) && end - i <= kMaxName) ++end;
    return end;
  };
  for (absl::string_view angle : {"m\\angle", "\\angle", "\\measuredangle"}) {
    if (absl::StartsWith(s, angle) && (s.size() == angle.size() || !IsLetter(s[angle.size()]))) {
      size_t i = angle.size();
      while (i < s.size() && s[i] == ' ') ++i;
      const size_t end = letters(i);
      return end > i && end == s.size() && end - i <= 4;
    }
  }
  if (absl::StartsWith(s, "\\overline{")) {
    const size_t end = letters(10);
    return end > 10 && end - 10 <= 4 && end + 1 == s.size() && s[end] == '}';
  }
  size_t i = 0;
  if (!s.empty() && s[0] == '\\') {
    const size_t end = letters(1);
    if (!math_internal::IsGreekName(s.substr(1, end - 1))) return false;
    i = end;
  } else {
    const size_t end = letters(0);
    if (end == 0 || end - 0 > kMaxName) return false;
    const absl::string_view run = s.substr(0, end);
    if (run == "e") return false;  // Euler's number
    for (size_t n = 2; n <= std::min<size_t>(run.size(), 8); ++n) {
      if (math_internal::IsMathName(run.substr(0, n))) return false;  // "sin", "log", "pi"
    }
    i = end;
  }
  if (i < s.size() && s[i] == '_') {
    ++i;
    if (i < s.size() && s[i] == '{') {
      const size_t close = FindWithin(s, i, '}', 16);
      if (close == absl::string_view::npos || close == i + 1) return false;
      const absl::string_view sub = s.substr(i + 1, close - i - 1);
      if (absl::StrContains(sub, '{')) return false;
      i = close + 1;
    } else if (i < s.size() && (IsLetter(s[i]) || IsDigit(s[i]))) {
      ++i;
    } else {
      return false;
    }
  }
  while (i < s.size() && s[i] == '\'') ++i;
  if (i == s.size()) return true;
  // f^{-1}(3): an inverse function, only before a call.
  for (absl::string_view inverse : {"^{-1}", "^-1"}) {
    if (s.substr(i, inverse.size()) == inverse) {
      i += inverse.size();
      break;
    }
  }
  if (i >= s.size() || s[i] != '(') return false;
  int depth = 0;
  for (size_t k = i; k < s.size();) {
    const Token token = TokenAt(s, k);
    depth += token.depth_change;
    if (depth < 0) return false;
    if (depth == 0) return k + token.length == s.size() && k > i + 1;
    k += token.length;
  }
  return false;
}

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

    if (IsWholeMatrix(text)) return ParseMatrix(text, depth, item);

    if (std::vector<absl::string_view> parts = SplitUnion(text); parts.size() > 1) {
      item->kind = Item::Kind::kUnion;
      return ParseParts(parts, depth, item);
    }

    std::vector<absl::string_view> sides;
    std::vector<RelOp> ops;
    SplitRelations(text, &sides, &ops);
    if (!ops.empty()) {
      // "x \in [0, 1]" is the interval, for the variable x.
      if (ops.size() == 1 && ops[0] == RelOp::kIn) {
        if (Trim(sides[0]).empty()) return Fail(ParseFailure::kSyntax);
        if (!ParseItem(sides[1], depth + 1, item)) return false;
        Expression named;
        if (item->variable.empty() && item->kind != Item::Kind::kRelation &&
            math_internal::ParseExpression(sides[0], depth + 1, max_depth_, kMaxNodes, &named) ==
                ParseFailure::kNone &&
            named.IsSingleVariable()) {
          item->variable = named.variables()[0];
        }
        return true;
      }
      if (std::count(ops.begin(), ops.end(), RelOp::kIn) > 0) return Fail(ParseFailure::kSyntax);
      item->kind = Item::Kind::kRelation;
      item->ops = std::move(ops);
      if (sides.size() > kMaxItems) return Fail(ParseFailure::kTooComplex);
      item->parts.resize(sides.size());
      for (size_t i = 0; i < sides.size(); ++i) {
        if (!ParseSide(sides[i], depth + 1, &item->parts[i])) return false;
      }
      return SetOfInequality(item);
    }

    char open = 0, close = 0;
    bool escaped = false;
    absl::string_view inner;
    if (SplitBracket(text, &open, &close, &escaped, &inner)) {
      const bool set = open == '{' && close == '}';
      if ((open == '{') != (close == '}')) return Fail(ParseFailure::kSyntax);
      // "\{x : x > 2\}" is the relation that describes it.
      if (set && escaped) {
        absl::string_view variable, condition;
        if (SplitSetBuilder(inner, &variable, &condition)) {
          return ParseSetBuilder(variable, condition, depth, item);
        }
      }
      // "\left( \begin{array}...\end{array} \right)": the matrix.
      if (!set && IsWholeMatrix(Trim(inner))) return ParseMatrix(Trim(inner), depth + 1, item);
      std::vector<std::string> elements;
      if (ParseFailure f = SplitList(inner, {}, &elements); f != ParseFailure::kNone) {
        return Fail(f);
      }
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

  // A side of a relation. A label that is no expression ("\angle A", "g'(x)")
  // is kept as its text, compared only with the same label.
  bool ParseSide(absl::string_view side, int depth, Item* item) {
    const absl::string_view trimmed = Trim(side);
    const bool label = IsLabel(trimmed);
    if (ParseItem(side, depth, item)) {
      item->label = label;
      return true;
    }
    if (!label || failure_ != ParseFailure::kSyntax) return false;
    failure_ = ParseFailure::kNone;
    *item = Item();
    item->kind = Item::Kind::kText;
    item->text = std::string(trimmed);
    item->label = true;
    return true;
  }

  // ---- matrices ----

  // " \matrixopen ... \matrixclose " and nothing around it.
  static bool IsWholeMatrix(absl::string_view s) {
    if (s.empty() || CommandAt(s, 0) != kMatrixOpen) return false;
    int depth = 0;
    for (size_t i = 0; i < s.size();) {
      const Token token = TokenAt(s, i);
      depth += token.depth_change;
      if (depth <= 0) {
        return depth == 0 && i + token.length == s.size() && CommandAt(s, i) == kMatrixClose;
      }
      i += token.length;
    }
    return false;
  }

  // Cells split at the matrix's own row and column markers; every row must
  // have the same number of cells (a trailing "\\" adds no row).
  bool ParseMatrix(absl::string_view s, int depth, Item* item) {
    if (depth > max_depth_) return Fail(ParseFailure::kTooDeep);
    const size_t open = 1 + kMatrixOpen.size();
    const size_t close = s.size() - 1 - kMatrixClose.size();
    const absl::string_view inner = s.substr(open, close - open);
    std::vector<absl::string_view> cells;
    std::vector<size_t> row_sizes = {0};
    int level = 0;
    size_t start = 0;
    for (size_t i = 0; i <= inner.size();) {
      const bool at_end = i == inner.size();
      const Token token = at_end ? Token{0, 1} : TokenAt(inner, i);
      level += token.depth_change;
      const absl::string_view command = at_end ? absl::string_view() : CommandAt(inner, i);
      if (at_end || (level == 0 && (command == kMatrixRow || command == kMatrixColumn))) {
        if (cells.size() >= kMaxItems) return Fail(ParseFailure::kTooComplex);
        cells.push_back(Trim(inner.substr(start, i - start)));
        ++row_sizes.back();
        if (command == kMatrixRow) row_sizes.push_back(0);
        start = i + token.length;
      }
      i += token.length;
    }
    // "1 & 2 \\ 3 & 4 \\": the last row is one empty cell.
    if (row_sizes.size() > 1 && row_sizes.back() == 1 && cells.back().empty()) {
      row_sizes.pop_back();
      cells.pop_back();
    }
    for (size_t size : row_sizes) {
      if (size != row_sizes[0]) return Fail(ParseFailure::kSyntax);
    }
    item->kind = Item::Kind::kMatrix;
    item->rows = row_sizes.size();
    item->columns = row_sizes[0];
    return ParseParts(cells, depth, item);
  }

  // ---- sets described by a condition ----

  // "x : x > 2", "x \mid x > 2", "x | x > 2", "x \in R : x > 2" (the inside of
  // \{ \}): the variable and the condition.
  static bool SplitSetBuilder(absl::string_view inner, absl::string_view* variable,
                              absl::string_view* condition) {
    int depth = 0;
    for (size_t i = 0; i < inner.size();) {
      const Token token = TokenAt(inner, i);
      depth += token.depth_change;
      const absl::string_view command = CommandAt(inner, i);
      // "\middle|" is a bar too.
      const bool middle = command == "middle" && inner.substr(i + 7, 1) == "|";
      if (depth == 0 && (inner[i] == ':' || inner[i] == '|' || command == "mid" ||
                         command == "colon" || middle)) {
        absl::string_view left = Trim(inner.substr(0, i));
        *condition = inner.substr(i + token.length + (middle ? 1 : 0));
        // "x \in R": the reals, the only domain read (\mathbb{R} normalizes to R).
        std::vector<absl::string_view> sides;
        std::vector<RelOp> ops;
        SplitRelations(left, &sides, &ops);
        if (ops.size() == 1 && ops[0] == RelOp::kIn && Trim(sides[1]) == "R") {
          left = Trim(sides[0]);
        } else if (!ops.empty()) {
          return false;
        }
        *variable = left;
        return !left.empty();
      }
      i += token.length;
    }
    return false;
  }

  bool ParseSetBuilder(absl::string_view variable, absl::string_view condition, int depth,
                       Item* item) {
    Expression bound;
    if (math_internal::ParseExpression(variable, depth + 1, max_depth_, kMaxNodes, &bound) !=
            ParseFailure::kNone ||
        !bound.IsSingleVariable()) {
      return Fail(ParseFailure::kSyntax);
    }
    if (!ParseItem(condition, depth + 1, item)) return false;
    // The condition must be about the set's variable: "\{x : y > 2\}" is not (2, \infty).
    if (item->kind == Item::Kind::kRelation) {
      if (item->variable != bound.variables()[0]) return Fail(ParseFailure::kSyntax);
      return true;
    }
    if (item->kind == Item::Kind::kBracket || item->kind == Item::Kind::kUnion) return true;
    return Fail(ParseFailure::kSyntax);
  }

  // ---- inequalities as intervals ----

  Item Infinity(bool negative) {
    Item item;
    math_internal::ParseExpression(negative ? "-\\infty" : "\\infty", 0, kHardMaxDepth, kMaxNodes,
                                   &item.expression);
    return item;
  }

  Item Interval(char open, Item lower, Item upper, char close) {
    Item item;
    item.kind = Item::Kind::kBracket;
    item.open = open;
    item.close = close;
    item.parts.push_back(std::move(lower));
    item.parts.push_back(std::move(upper));
    return item;
  }

  // Fills relation->variable and as_set for "x > 2", "2 \le x", "-1 < x \le 3",
  // "5 \ge x > 2" and "x \ne 2": one side a single variable, the bounds
  // expressions without it. A one-sided inequality may negate its variable:
  // "-x > -1" is multiplied by -1, so it is "x < 1". Always true (a relation
  // need not be one of these).
  bool SetOfInequality(Item* relation) {
    const std::vector<Item>& p = relation->parts;
    const std::vector<RelOp>& ops = relation->ops;
    auto variable_of = [](const Item& side) -> const std::string* {
      if (side.kind != Item::Kind::kExpression || !side.expression.IsSingleVariable()) {
        return nullptr;
      }
      return &side.expression.variables()[0];
    };
    auto is_bound = [](const Item& side, const std::string& name) {
      if (side.kind != Item::Kind::kExpression) return false;
      const std::vector<std::string>& names = side.expression.variables();
      return std::find(names.begin(), names.end(), name) == names.end();
    };
    auto lower = [](RelOp op) { return op == RelOp::kLt || op == RelOp::kLe; };
    auto upper = [](RelOp op) { return op == RelOp::kGt || op == RelOp::kGe; };
    auto strict = [](RelOp op) { return op == RelOp::kLt || op == RelOp::kGt; };
    if (p.size() == 2) {
      // The variable's side, tried in this order: "x > 2", "2 < x", then
      // with the variable negated, "-x > -1", "-1 < -x".
      auto variable_or_negated_of = [&](const Item& side, bool negated) -> const std::string* {
        if (!negated) return variable_of(side);
        if (side.kind != Item::Kind::kExpression || !side.expression.IsNegatedVariable()) {
          return nullptr;
        }
        return &side.expression.variables()[0];
      };
      const std::string* name = nullptr;
      const Item* bound = nullptr;
      RelOp op = ops[0];
      bool negated = false;
      for (const bool negate : {false, true}) {
        for (const int side : {0, 1}) {
          const std::string* found = variable_or_negated_of(p[side], negate);
          if (found == nullptr || !is_bound(p[1 - side], *found)) continue;
          name = found;
          bound = &p[1 - side];
          op = side == 0 ? ops[0] : Flip(ops[0]);  // "2 < x" is "x > 2"
          negated = negate;
          break;
        }
        if (name != nullptr) break;
      }
      if (name == nullptr) return true;
      Item negated_bound;
      if (negated) {  // "-x > b" is "x < -b"
        negated_bound = *bound;
        negated_bound.expression.Negate();
        negated_bound.label = false;
        negated_bound.text.clear();
        bound = &negated_bound;
        op = Flip(op);
      }
      if (op == RelOp::kNe) {
        Item both;
        both.kind = Item::Kind::kUnion;
        both.parts.push_back(Interval('(', Infinity(true), *bound, ')'));
        both.parts.push_back(Interval('(', *bound, Infinity(false), ')'));
        relation->as_set.push_back(std::move(both));
      } else if (lower(op)) {  // x < b
        relation->as_set.push_back(Interval('(', Infinity(true), *bound, strict(op) ? ')' : ']'));
      } else if (upper(op)) {  // x > b
        relation->as_set.push_back(Interval(strict(op) ? '(' : '[', *bound, Infinity(false), ')'));
      } else {
        return true;
      }
      relation->variable = *name;
      return true;
    }
    if (p.size() == 3) {
      const std::string* name = variable_of(p[1]);
      if (name == nullptr || !is_bound(p[0], *name) || !is_bound(p[2], *name)) return true;
      if (lower(ops[0]) && lower(ops[1])) {  // a < x \le b
        relation->as_set.push_back(Interval(strict(ops[0]) ? '(' : '[', p[0], p[2],
                                            strict(ops[1]) ? ')' : ']'));
      } else if (upper(ops[0]) && upper(ops[1])) {  // b > x \ge a
        relation->as_set.push_back(Interval(strict(ops[1]) ? '(' : '[', p[2], p[0],
                                            strict(ops[0]) ? ')' : ']'));
      } else {
        return true;
      }
      relation->variable = *name;
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

bool IsTuple(const Item& item) {
  return item.kind == Item::Kind::kBracket && item.open == '(' && item.close == ')';
}

class Comparator {
 public:
  explicit Comparator(const MathVerifyOptions& options) : options_(options) {}

  bool out_of_budget() const { return budget_ < 0; }

  bool Answers(const std::vector<Item>& a, const std::vector<Item>& b) {
    if (a.size() == 1 && b.size() == 1) {
      if (Items(a[0], b[0])) return true;
      if (options_.strict) return false;  // what follows is for lists, or lenient
    }
    // "1, 2" and "\{2, 1\}" are the same set of solutions.
    const std::vector<Item>* set_a = a.size() > 1 ? &a : IsSet(a[0]) ? &a[0].parts : nullptr;
    const std::vector<Item>* set_b = b.size() > 1 ? &b : IsSet(b[0]) ? &b[0].parts : nullptr;
    if (set_a != nullptr && set_b != nullptr) return Unordered(*set_a, *set_b);
    // "x < -1 or x > 3" is (-\infty, -1) \cup (3, \infty).
    if (const std::vector<Item>* pieces_a = UnionPieces(a)) {
      if (const std::vector<Item>* pieces_b = UnionPieces(b)) {
        if (Unordered(*pieces_a, *pieces_b)) return true;
      }
    }
    // Lenient: a list or set of values in the order of a gold tuple
    // ("x = 1, y = 2" for (1, 2)), and the other way round.
    if (!options_.strict) {
      if (set_a != nullptr && b.size() == 1 && IsTuple(b[0])) return Ordered(*set_a, b[0].parts);
      if (set_b != nullptr && a.size() == 1 && IsTuple(a[0])) return Ordered(a[0].parts, *set_b);
    }
    return false;
  }

 private:
  bool Equal(const Number& x, const Number& y) const {
    return math_internal::NumbersEqual(x, y, options_.relative_tolerance,
                                       options_.absolute_tolerance);
  }
  // Four blocks of points (see PointSet), each with room for skipped ones.
  int Block() const { return options_.random_points + 1; }
  int MaxAttempts() const { return 4 * Block(); }

  // The pieces of a union: a union item's intervals, or a list (two or more)
  // of inequalities in one variable.
  static const std::vector<Item>* UnionPieces(const std::vector<Item>& items) {
    if (items.size() == 1) return items[0].kind == Item::Kind::kUnion ? &items[0].parts : nullptr;
    for (const Item& item : items) {
      if (item.kind != Item::Kind::kRelation || item.as_set.empty()) return nullptr;
    }
    return &items;
  }

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
    if (a.kind == Kind::kRelation && b.kind == Kind::kRelation) return RelationPair(a, b);
    // Strict: sets of different variables differ ("x > 2", "y \in (2, \infty)").
    const bool variables = !options_.strict || a.variable.empty() || b.variable.empty() ||
                           a.variable == b.variable;
    // "x = 5" is 5; "x > 2" is (2, \infty).
    if (a.kind == Kind::kRelation) {
      if (const Item* value = AssignedValue(a)) return Items(*value, b);
      return !a.as_set.empty() && variables && Items(a.as_set[0], b);
    }
    if (b.kind == Kind::kRelation) {
      if (const Item* value = AssignedValue(b)) return Items(a, *value);
      return !b.as_set.empty() && variables && Items(a, b.as_set[0]);
    }
    if (a.kind != b.kind || !variables) return false;
    switch (a.kind) {
      case Kind::kExpression:
        return Expressions(a.expression, b.expression);
      case Kind::kBracket:
        if (a.open != b.open || a.close != b.close) return false;
        if (IsSet(a)) return Unordered(a.parts, b.parts);
        return Ordered(a.parts, b.parts);
      case Kind::kMatrix:
        return a.rows == b.rows && a.columns == b.columns && Ordered(a.parts, b.parts);
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

  // What an equation stands for when compared with a value: the side opposite
  // its label ("x = 5", "f(2) = 5", "AB = 4", "(x, y) = (1, 2)", "5 = x"), the
  // last value of a chain whose values agree ("x = \frac{6}{8} = 0.75"), or
  // the value of a true equation of constants ("2 + 3 = 5"). *label is the
  // named side (null for constants). Null when it is none of these.
  const Item* AssignedValue(const Item& relation, const Item** label = nullptr) {
    if (std::any_of(relation.ops.begin(), relation.ops.end(),
                    [](RelOp op) { return op != RelOp::kEq; })) {
      return nullptr;
    }
    auto names = [](const Item& side) {
      if (side.label) return true;
      if (side.kind == Item::Kind::kBracket && side.open == '(' && side.close == ')') {
        return std::all_of(side.parts.begin(), side.parts.end(), [](const Item& p) {
          return p.kind == Item::Kind::kExpression && p.expression.IsSingleVariable();
        });
      }
      return side.kind == Item::Kind::kExpression && side.expression.IsSingleVariable();
    };
    auto constant = [](const Item& side) {
      return side.kind == Item::Kind::kExpression && side.expression.variables().empty();
    };
    const std::vector<Item>& p = relation.parts;
    const Item* named = nullptr;
    size_t first = 0;
    if (names(p[0])) {
      named = &p[0];
      first = 1;
    } else if (p.size() == 2 && names(p[1])) {
      if (label != nullptr) *label = &p[1];
      return &p[0];
    } else if (!std::all_of(p.begin(), p.end(), constant)) {
      return nullptr;
    }
    for (size_t i = first; i + 1 < p.size(); ++i) {
      if (!Items(p[i], p[i + 1])) return nullptr;
    }
    if (label != nullptr) *label = named;
    return &p.back();
  }

  bool RelationPair(const Item& a, const Item& b) {
    // Two labelled values: the same value, and (strict) the same label.
    const Item *label_a = nullptr, *label_b = nullptr;
    const Item* value_a = AssignedValue(a, &label_a);
    const Item* value_b = value_a != nullptr ? AssignedValue(b, &label_b) : nullptr;
    if (value_a != nullptr && value_b != nullptr) {
      const bool labels = !options_.strict ||
                          (label_a != nullptr && label_b != nullptr && Items(*label_a, *label_b));
      if (labels && Items(*value_a, *value_b)) return true;
    }
    // Inequalities of the same variable describing the same set.
    if (!a.as_set.empty() && !b.as_set.empty() &&
        (a.variable == b.variable || !options_.strict) && Items(a.as_set[0], b.as_set[0])) {
      return true;
    }
    return Relations(a, b);
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
      if (budget_ < 0) return false;
      return Equal(v[0], v[1]) || RoundsTo(a, ma, v[1]) || RoundsTo(b, mb, v[0]);
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

  // A rational whose decimal expansion ends: 3, 1/8, 0.1234567.
  static bool Terminates(const Number& x) {
    if (!x.exact()) return false;
    math_internal::Int128 den = x.den();
    while (den % 2 == 0) den /= 2;
    while (den % 5 == 0) den /= 5;
    return den == 1;
  }

  // True when `e` is a decimal written to at least `precision` significant
  // digits and is `other` correctly rounded at the digits it shows: within
  // half a unit of its last digit. Only a value that no decimal writes
  // exactly (1/3, \sqrt{2}) is met by rounding: an integer or a terminating
  // decimal must be written exactly (1.23457e8 != 123456789, 0.123457 !=
  // 0.1234567).
  bool RoundsTo(const Expression& e, PercentMode mode, const Number& other) const {
    if (options_.precision <= 0 || !other.IsFinite() || Terminates(other)) return false;
    const std::optional<math_internal::Decimal> d = e.AsDecimal(mode);
    if (!d || d->significant < options_.precision) return false;
    const Number twice_error = math_internal::Abs(d->value - other) * Number::Integer(2);
    const Number slack =
        math_internal::Pow(Number::Integer(10), Number::Integer(d->ulp_exponent)) - twice_error;
    if (!slack.IsFinite()) return false;
    return slack.exact() ? slack.num() >= 0 : slack.value() >= 0;
  }

  const MathVerifyOptions& options_;
  int64_t budget_ = kComparisonBudget;
  absl::flat_hash_map<std::pair<const Item*, const Item*>, bool> memo_;
};

// ---- lenient variables ----

// Every variable name used anywhere in `items`, and in `compound` those used
// inside an expression that is more than the bare variable ("y" of "f(y)" or
// "y + 1", not of "y"). Iterative: the item tree is as deep as the nesting.
void CollectVariables(const std::vector<Item>& items, absl::flat_hash_set<std::string>* names,
                      absl::flat_hash_set<std::string>* compound) {
  std::vector<const Item*> stack;
  for (const Item& item : items) stack.push_back(&item);
  while (!stack.empty()) {
    const Item* item = stack.back();
    stack.pop_back();
    if (item->kind == Item::Kind::kExpression) {
      const bool bare = item->expression.IsSingleVariable();
      for (const std::string& name : item->expression.variables()) {
        names->insert(name);
        if (!bare) compound->insert(name);
      }
    }
    if (!item->variable.empty()) names->insert(item->variable);
    for (const Item& part : item->parts) stack.push_back(&part);
    for (const Item& part : item->as_set) stack.push_back(&part);
  }
}

void RenameVariable(std::vector<Item>* items, const std::string& from, const std::string& to) {
  std::vector<Item*> stack;
  for (Item& item : *items) stack.push_back(&item);
  while (!stack.empty()) {
    Item* item = stack.back();
    stack.pop_back();
    if (item->kind == Item::Kind::kExpression) item->expression.RenameVariable(from, to);
    if (item->variable == from) item->variable = to;
    for (Item& part : item->parts) stack.push_back(&part);
    for (Item& part : item->as_set) stack.push_back(&part);
  }
}

// Lenient mode: when the answer uses exactly one variable the gold does not,
// and the gold exactly one the answer does not, the answer's is read as the
// gold's ("f(y)" for "f(x)", "t^2 + 1" for "x^2 + 1"). Both must appear in
// more than a bare letter, so that choices stay apart ("B" != "A").
void MatchLoneVariable(const std::vector<Item>& gold, std::vector<Item>* answer) {
  absl::flat_hash_set<std::string> gold_names, answer_names, gold_compound, answer_compound;
  CollectVariables(gold, &gold_names, &gold_compound);
  CollectVariables(*answer, &answer_names, &answer_compound);
  const std::string *only_gold = nullptr, *only_answer = nullptr;
  for (const std::string& name : gold_names) {
    if (answer_names.contains(name)) continue;
    if (only_gold != nullptr) return;
    only_gold = &name;
  }
  for (const std::string& name : answer_names) {
    if (gold_names.contains(name)) continue;
    if (only_answer != nullptr) return;
    only_answer = &name;
  }
  if (only_gold != nullptr && only_answer != nullptr && gold_compound.contains(*only_gold) &&
      answer_compound.contains(*only_answer)) {
    RenameVariable(answer, *only_answer, *only_gold);
  }
}

bool ValidOptions(const MathVerifyOptions& o) {
  return std::isfinite(o.relative_tolerance) && o.relative_tolerance >= 0 &&
         std::isfinite(o.absolute_tolerance) && o.absolute_tolerance >= 0 &&
         o.random_points >= 1 && o.random_points <= 1000 && o.max_depth >= 1 &&
         o.max_answer_bytes >= 1 && o.precision >= 0 && o.precision <= 30;
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
  std::string gold_marked;
  const bool gold_fits = MarkMatrices(gold, &gold_marked);
  const std::string gold_normalized = math_internal::NormalizeAnswer(gold_marked);
  std::vector<Item> gold_items;
  if (!gold_fits || gold_normalized.empty() ||
      StructureParser(max_depth).Parse(gold_normalized, &gold_items) != ParseFailure::kNone) {
    return Verdict(false, "gold_unparsable");
  }

  if (answer.size() > options.max_answer_bytes) return Verdict(false, "answer_too_long");
  std::string marked;
  if (!MarkMatrices(answer, &marked)) return Verdict(false, "answer_too_complex");
  // A decimal comma ("3,5") is a point only against a gold that is one
  // decimal literal; against anything else it separates (latex_normalizer.h).
  // The gold is never reread: a gold "-2,1" is a list of roots, and an answer
  // "-2.1" must not match it.
  const std::string normalized =
      math_internal::ReadDecimalComma(math_internal::NormalizeAnswer(marked), gold_normalized);
  if (normalized.empty()) return Verdict(false, "empty_answer");
  std::vector<Item> answer_items;
  switch (StructureParser(max_depth).Parse(normalized, &answer_items)) {
    case ParseFailure::kNone: break;
    case ParseFailure::kTooDeep: return Verdict(false, "too_deep");
    case ParseFailure::kTooComplex: return Verdict(false, "answer_too_complex");
    case ParseFailure::kSyntax: return Verdict(false, "answer_unparsable");
  }

  if (!options.strict) MatchLoneVariable(gold_items, &answer_items);
  Comparator comparator(options);
  const bool equal = comparator.Answers(answer_items, gold_items);
  if (comparator.out_of_budget()) return Verdict(false, "answer_too_complex");
  return equal ? Verdict(true, "equal") : Verdict(false, "not_equal");
}

}  // namespace r1::reward
