#include "sandbox/compare.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <vector>

#include "absl/strings/ascii.h"
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

}  // namespace

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
