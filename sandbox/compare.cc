#include "sandbox/compare.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/utf8.h"

namespace r1::sandbox {
namespace {

constexpr int kMaxDepth = 512;
constexpr double kRelativeTolerance = 1e-6;

struct Json {
  enum Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = kNull;
  bool boolean = false;
  bool integer = false;  // a number written without fraction or exponent
  std::string digits;    // integer: sign and digits, "-0" as "0"
  double number = 0;
  std::string text;  // string, UTF-8 (lone surrogates encoded as-is)
  std::vector<Json> items;
  std::map<std::string, Json> members;
};

class Parser {
 public:
  explicit Parser(absl::string_view input) : in_(input) {}

  absl::StatusOr<Json> Document() {
    Json value;
    if (absl::Status s = Value(&value, 0); !s.ok()) return s;
    SkipSpace();
    if (pos_ != in_.size()) return Error("trailing characters");
    return value;
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(what, " at offset ", pos_));
  }
  void SkipSpace() {
    while (pos_ < in_.size() &&
           (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' || in_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Consume(absl::string_view word) {
    if (in_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  absl::Status Value(Json* out, int depth) {
    if (depth > kMaxDepth) return Error("nesting too deep");
    SkipSpace();
    if (pos_ >= in_.size()) return Error("unexpected end");
    const char c = in_[pos_];
    if (c == '{') return Object(out, depth);
    if (c == '[') return Array(out, depth);
    if (c == '"') {
      out->kind = Json::kString;
      return String(&out->text);
    }
    if (Consume("null")) {
      out->kind = Json::kNull;
      return absl::OkStatus();
    }
    if (Consume("true") || Consume("false")) {
      out->kind = Json::kBool;
      out->boolean = in_[pos_ - 4] == 't';
      return absl::OkStatus();
    }
    return Number(out);
  }

  absl::Status Number(Json* out) {
    out->kind = Json::kNumber;
    if (Consume("NaN")) {
      out->number = std::nan("");
      return absl::OkStatus();
    }
    if (Consume("Infinity")) {
      out->number = INFINITY;
      return absl::OkStatus();
    }
    if (Consume("-Infinity")) {
      out->number = -INFINITY;
      return absl::OkStatus();
    }
    const size_t start = pos_;
    auto digits = [&] {
      const size_t from = pos_;
      while (pos_ < in_.size() && absl::ascii_isdigit(in_[pos_])) ++pos_;
      return pos_ - from;
    };
    if (pos_ < in_.size() && in_[pos_] == '-') ++pos_;
    const size_t int_start = pos_;
    const size_t int_digits = digits();
    if (int_digits == 0) return Error("not a JSON value");
    if (int_digits > 1 && in_[int_start] == '0') return Error("leading zero");
    bool integer = true;
    if (pos_ < in_.size() && in_[pos_] == '.') {
      ++pos_;
      integer = false;
      if (digits() == 0) return Error("digits expected after '.'");
    }
    if (pos_ < in_.size() && (in_[pos_] == 'e' || in_[pos_] == 'E')) {
      ++pos_;
      integer = false;
      if (pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-')) ++pos_;
      if (digits() == 0) return Error("digits expected in exponent");
    }
    const std::string token(in_.substr(start, pos_ - start));
    out->integer = integer;
    out->number = std::strtod(token.c_str(), nullptr);
    if (integer) out->digits = token == "-0" ? "0" : token;
    return absl::OkStatus();
  }

  absl::StatusOr<unsigned> Hex4() {
    if (pos_ + 4 > in_.size()) return Error("short \\u escape");
    unsigned value = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = in_[pos_++];
      if (!absl::ascii_isxdigit(h)) return Error("bad \\u escape");
      const int digit = absl::ascii_isdigit(h) ? h - '0' : absl::ascii_tolower(h) - 'a' + 10;
      value = (value << 4) | digit;
    }
    return value;
  }

  absl::Status String(std::string* out) {
    ++pos_;  // opening quote
    while (true) {
      if (pos_ >= in_.size()) return Error("unterminated string");
      const char c = in_[pos_++];
      if (c == '"') return absl::OkStatus();
      if (static_cast<unsigned char>(c) < 0x20) return Error("control character in string");
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= in_.size()) return Error("unterminated escape");
      const char e = in_[pos_++];
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          absl::StatusOr<unsigned> cp = Hex4();
          if (!cp.ok()) return cp.status();
          unsigned code = *cp;
          // A surrogate pair is one code point; a lone surrogate stays itself.
          if (code >= 0xD800 && code < 0xDC00 && in_.substr(pos_, 2) == "\\u") {
            const size_t save = pos_;
            pos_ += 2;
            absl::StatusOr<unsigned> low = Hex4();
            if (low.ok() && *low >= 0xDC00 && *low < 0xE000) {
              code = 0x10000 + ((code - 0xD800) << 10) + (*low - 0xDC00);
            } else {
              pos_ = save;
            }
          }
          utf8::AppendCodePoint(code, out);
          break;
        }
        default:
          return Error("bad escape");
      }
    }
  }

  absl::Status Array(Json* out, int depth) {
    out->kind = Json::kArray;
    ++pos_;
    SkipSpace();
    if (Consume("]")) return absl::OkStatus();
    while (true) {
      Json item;
      if (absl::Status s = Value(&item, depth + 1); !s.ok()) return s;
      out->items.push_back(std::move(item));
      SkipSpace();
      if (Consume("]")) return absl::OkStatus();
      if (!Consume(",")) return Error("',' or ']' expected");
    }
  }

  absl::Status Object(Json* out, int depth) {
    out->kind = Json::kObject;
    ++pos_;
    SkipSpace();
    if (Consume("}")) return absl::OkStatus();
    while (true) {
      SkipSpace();
      if (pos_ >= in_.size() || in_[pos_] != '"') return Error("object key expected");
      std::string key;
      if (absl::Status s = String(&key); !s.ok()) return s;
      SkipSpace();
      if (!Consume(":")) return Error("':' expected");
      Json value;
      if (absl::Status s = Value(&value, depth + 1); !s.ok()) return s;
      out->members[key] = std::move(value);
      SkipSpace();
      if (Consume("}")) return absl::OkStatus();
      if (!Consume(",")) return Error("',' or '}' expected");
    }
  }

  absl::string_view in_;
  size_t pos_ = 0;
};

bool NumbersEqual(const Json& a, const Json& b) {
  if (a.integer && b.integer) return a.digits == b.digits;
  const double x = a.number, y = b.number;
  if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
  if (x == y) return true;
  if (!std::isfinite(x) || !std::isfinite(y)) return false;
  return std::fabs(x - y) <= kRelativeTolerance * std::max(std::fabs(x), std::fabs(y));
}

bool Equal(const Json& a, const Json& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Json::kNull: return true;
    case Json::kBool: return a.boolean == b.boolean;
    case Json::kNumber: return NumbersEqual(a, b);
    case Json::kString: return a.text == b.text;
    case Json::kArray:
      if (a.items.size() != b.items.size()) return false;
      for (size_t i = 0; i < a.items.size(); ++i) {
        if (!Equal(a.items[i], b.items[i])) return false;
      }
      return true;
    case Json::kObject:
      if (a.members.size() != b.members.size()) return false;
      for (auto ia = a.members.begin(), ib = b.members.begin(); ia != a.members.end();
           ++ia, ++ib) {
        if (ia->first != ib->first || !Equal(ia->second, ib->second)) return false;
      }
      return true;
  }
  return false;
}

// Lines with trailing whitespace stripped, trailing blank lines dropped.
std::vector<absl::string_view> NormalizedLines(absl::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  for (absl::string_view& line : lines) {
    while (!line.empty() && absl::ascii_isspace(static_cast<unsigned char>(line.back()))) {
      line.remove_suffix(1);
    }
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Walks a text's whitespace-separated tokens, counting lines.
class Tokens {
 public:
  explicit Tokens(absl::string_view text) : text_(text) {}
  // The next token, or false at the end; *line is its 1-based line.
  bool Next(absl::string_view* token, int64_t* line) {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) {
      if (text_[pos_] == '\n') ++line_;
      ++pos_;
    }
    if (pos_ == text_.size()) return false;
    const size_t start = pos_;
    while (pos_ < text_.size() && !IsSpace(text_[pos_])) ++pos_;
    *token = text_.substr(start, pos_ - start);
    *line = line_;
    return true;
  }
  // The line the text ends on (where "end of output" stands).
  int64_t EndLine() const { return line_; }

 private:
  absl::string_view text_;
  size_t pos_ = 0;
  int64_t line_ = 1;
};

struct Number {
  bool integer = false;
  std::string digits;  // integer: '-' and digits without leading zeros, "0" for zero
  double value = 0;
};

// `token` as a decimal number: [+-]?(D+(.D*)?|.D+)([eE][+-]?D+)?.
bool ParseNumber(absl::string_view token, Number* out) {
  size_t i = 0;
  const size_t n = token.size();
  auto digits = [&] {
    const size_t from = i;
    while (i < n && absl::ascii_isdigit(static_cast<unsigned char>(token[i]))) ++i;
    return i - from;
  };
  bool negative = false;
  if (i < n && (token[i] == '+' || token[i] == '-')) negative = token[i++] == '-';
  const size_t int_start = i;
  const size_t int_digits = digits();
  const size_t int_end = i;
  size_t frac_digits = 0;
  bool integer = true;
  if (i < n && token[i] == '.') {
    ++i;
    integer = false;
    frac_digits = digits();
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < n && (token[i] == 'e' || token[i] == 'E')) {
    ++i;
    integer = false;
    if (i < n && (token[i] == '+' || token[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  if (i != n) return false;
  out->integer = integer;
  if (integer) {
    absl::string_view d = token.substr(int_start, int_end - int_start);
    while (d.size() > 1 && d[0] == '0') d.remove_prefix(1);
    out->digits = absl::StrCat(negative && d != "0" ? "-" : "", d);
  }
  // Locale-independent; a value beyond double range is a word (or ±inf,
  // which NumericTokensEqual sends back to text comparison).
  absl::string_view unsigned_part = token;
  absl::ConsumePrefix(&unsigned_part, "+");
  if (!absl::SimpleAtod(unsigned_part, &out->value)) out->value = HUGE_VAL;
  return true;
}

// Numeric mode: two tokens equal as numbers (see compare.h), or as text.
bool NumericTokensEqual(absl::string_view want, absl::string_view got, const CompareSpec& spec) {
  if (want == got) return true;
  Number w, g;
  if (!ParseNumber(want, &w) || !ParseNumber(got, &g)) return false;
  if (w.integer && g.integer) return w.digits == g.digits;
  if (!std::isfinite(w.value) || !std::isfinite(g.value)) return false;  // beyond double range
  const double diff = std::fabs(g.value - w.value);
  return diff <= spec.abs_tolerance || diff <= spec.rel_tolerance * std::fabs(w.value);
}

std::string Quoted(absl::string_view text) {
  constexpr size_t kShown = 80;
  return absl::StrCat("\"", Printable(text, kShown), "\"");
}

OutputComparison CompareTokens(const CompareSpec& spec, absl::string_view expected,
                               absl::string_view actual) {
  Tokens want(expected), got(actual);
  while (true) {
    absl::string_view w, g;
    int64_t w_line = 0, g_line = 0;
    const bool has_w = want.Next(&w, &w_line);
    const bool has_g = got.Next(&g, &g_line);
    if (!has_w && !has_g) return {true, ""};
    if (!has_w) {
      return {false, absl::StrCat("line ", g_line, ": expected end of output, got ", Quoted(g))};
    }
    if (!has_g) {
      return {false, absl::StrCat("line ", w_line, ": expected ", Quoted(w), ", got end of output")};
    }
    const bool same =
        spec.mode == CompareMode::kNumeric ? NumericTokensEqual(w, g, spec) : w == g;
    if (!same) {
      return {false, absl::StrCat("line ", w_line, ": expected ", Quoted(w), ", got ", Quoted(g))};
    }
  }
}

absl::string_view DropFinalNewline(absl::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  return text;
}

OutputComparison CompareExact(absl::string_view expected, absl::string_view actual) {
  const absl::string_view want = DropFinalNewline(expected);
  const absl::string_view got = DropFinalNewline(actual);
  if (want == got) return {true, ""};
  size_t i = 0;
  int64_t line = 1;
  size_t line_start = 0;
  while (i < want.size() && i < got.size() && want[i] == got[i]) {
    if (want[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
    ++i;
  }
  constexpr size_t kShown = 40;
  auto show = [&](absl::string_view text) {
    return i < text.size() ? absl::StrCat("\"", Printable(text.substr(i), kShown), "\"")
                           : std::string("end of output");
  };
  return {false, absl::StrCat("line ", line, ", column ", i - line_start + 1, ": expected ",
                              show(want), ", got ", show(got))};
}

constexpr char kCompareForms[] =
    "exact, lines, tokens, numeric, numeric:TOL, numeric:abs=TOL, numeric:rel=TOL or "
    "numeric:abs=TOL,rel=TOL";

absl::Status BadSpec(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("compare mode \"", Printable(text, 60), "\": ",
                                                 why, " (one of ", kCompareForms, ")"));
}

}  // namespace

absl::StatusOr<CompareSpec> ParseCompareSpec(absl::string_view text) {
  CompareSpec spec;
  if (text == "exact") {
    spec.mode = CompareMode::kExact;
    return spec;
  }
  if (text == "lines") {
    spec.mode = CompareMode::kLines;
    return spec;
  }
  if (text == "tokens") {
    spec.mode = CompareMode::kTokens;
    return spec;
  }
  absl::string_view rest = text;
  if (!absl::ConsumePrefix(&rest, "numeric")) return BadSpec(text, "unknown mode");
  spec.mode = CompareMode::kNumeric;
  if (rest.empty()) return spec;
  if (!absl::ConsumePrefix(&rest, ":")) return BadSpec(text, "unknown mode");
  auto tolerance = [&](absl::string_view value, double* out) -> absl::Status {
    double v;
    if (value.empty() || !absl::SimpleAtod(value, &v) || IsSpace(value.front()) ||
        IsSpace(value.back())) {
      return BadSpec(text, absl::StrCat("tolerance \"", Printable(value, 40), "\" is not a number"));
    }
    if (!std::isfinite(v) || v < 0) {
      return BadSpec(text, "a tolerance must be finite and not negative");
    }
    *out = v;
    return absl::OkStatus();
  };
  if (!absl::StrContains(rest, '=')) {
    if (absl::Status s = tolerance(rest, &spec.abs_tolerance); !s.ok()) return s;
    spec.rel_tolerance = spec.abs_tolerance;
  } else {
    spec.abs_tolerance = 0;
    spec.rel_tolerance = 0;
    bool seen_abs = false, seen_rel = false;
    for (absl::string_view part : absl::StrSplit(rest, ',')) {
      std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
      bool* seen = kv.first == "abs" ? &seen_abs : kv.first == "rel" ? &seen_rel : nullptr;
      if (seen == nullptr || !absl::StrContains(part, '=')) {
        return BadSpec(text, absl::StrCat("\"", Printable(part, 40), "\" is not abs=TOL or rel=TOL"));
      }
      if (*seen) return BadSpec(text, absl::StrCat(kv.first, " is given twice"));
      *seen = true;
      double* out = kv.first == "abs" ? &spec.abs_tolerance : &spec.rel_tolerance;
      if (absl::Status s = tolerance(kv.second, out); !s.ok()) return s;
    }
  }
  if (spec.rel_tolerance >= 1) return BadSpec(text, "a relative tolerance must be below 1");
  return spec;
}

std::string CompareSpecName(const CompareSpec& spec) {
  switch (spec.mode) {
    case CompareMode::kExact: return "exact";
    case CompareMode::kLines: return "lines";
    case CompareMode::kTokens: return "tokens";
    case CompareMode::kNumeric:
      return absl::StrCat("numeric:abs=", spec.abs_tolerance, ",rel=", spec.rel_tolerance);
  }
  return "unknown";
}

OutputComparison CompareOutput(const CompareSpec& spec, absl::string_view expected,
                               absl::string_view actual) {
  switch (spec.mode) {
    case CompareMode::kExact:
      return CompareExact(expected, actual);
    case CompareMode::kLines: {
      OutputComparison result;
      result.match = StdoutMatches(expected, actual);
      if (!result.match) result.difference = StdoutDifference(expected, actual);
      return result;
    }
    case CompareMode::kTokens:
    case CompareMode::kNumeric:
      return CompareTokens(spec, expected, actual);
  }
  return {false, "unknown compare mode"};
}

bool StdoutMatches(absl::string_view expected, absl::string_view actual) {
  return NormalizedLines(expected) == NormalizedLines(actual);
}

std::string StdoutDifference(absl::string_view expected, absl::string_view actual) {
  const std::vector<absl::string_view> want = NormalizedLines(expected);
  const std::vector<absl::string_view> got = NormalizedLines(actual);
  constexpr size_t kShown = 80;
  for (size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
    if (i < want.size() && i < got.size() && want[i] == got[i]) continue;
    auto show = [&](const std::vector<absl::string_view>& lines) {
      return i < lines.size() ? absl::StrCat("\"", Printable(lines[i], kShown), "\"")
                              : std::string("end of output");
    };
    return absl::StrCat("line ", i + 1, ": expected ", show(want), ", got ", show(got));
  }
  return "";
}

absl::StatusOr<bool> JsonValuesMatch(absl::string_view expected, absl::string_view actual) {
  absl::StatusOr<Json> want = Parser(expected).Document();
  if (!want.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected output is not JSON: ", want.status().message()));
  }
  absl::StatusOr<Json> got = Parser(actual).Document();
  if (!got.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("actual output is not JSON: ", got.status().message()));
  }
  return Equal(*want, *got);
}

absl::Status CheckJson(absl::string_view text) { return Parser(text).Document().status(); }

absl::Status CheckJsonArray(absl::string_view text) {
  absl::StatusOr<Json> value = Parser(text).Document();
  if (!value.ok()) return value.status();
  if (value->kind != Json::kArray) return absl::InvalidArgumentError("not a JSON array");
  return absl::OkStatus();
}

std::string Printable(absl::string_view text, size_t max_bytes) {
  const bool cut = text.size() > max_bytes;
  std::string out(text.substr(0, max_bytes));
  for (char& c : out) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (!((u >= 0x20 && u < 0x7F) || c == '\n' || c == '\t')) c = '?';
  }
  if (cut) out += "...";
  return out;
}

}  // namespace r1::sandbox
