// Lexer and parser of the Jinja subset, with transformers' settings:
// trim_blocks (the newline after a block or comment tag is dropped),
// lstrip_blocks (spaces before a block or comment tag that starts its line are
// dropped), keep_trailing_newline off (one final newline of the source is
// dropped), and the loopcontrols extension (break, continue).
//
// Operator precedence is jinja2's, which differs from Python's in places:
// `~` binds tighter than `+`, unary minus tighter than `**`, `**` is left
// associative, and filters and tests bind to the operand before them.
#include <algorithm>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/jinja_ast.h"
#include "common/status.h"
#include "common/utf8.h"

namespace r1::jinja {
namespace {

// ---------------------------------------------------------------- lexer ---

enum class Tok {
  kText,
  kVarBegin,
  kVarEnd,
  kBlockBegin,
  kBlockEnd,
  kName,
  kString,
  kInt,
  kFloat,
  kOp,
  kEof
};

struct Token {
  Tok type;
  int line;
  std::string text;  // text, name, operator, or the decoded string literal
  Value number;
};

std::string Describe(const Token& token) {
  switch (token.type) {
    case Tok::kText:
      return "template text";
    case Tok::kVarBegin:
      return "'{{'";
    case Tok::kVarEnd:
      return "'}}'";
    case Tok::kBlockBegin:
      return "'{%'";
    case Tok::kBlockEnd:
      return "'%}'";
    case Tok::kName:
      return absl::StrCat("'", token.text, "'");
    case Tok::kString:
      return "a string";
    case Tok::kInt:
    case Tok::kFloat:
      return "a number";
    case Tok::kOp:
      return absl::StrCat("'", token.text, "'");
    case Tok::kEof:
      return "the end of the template";
  }
  return "?";
}

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Python's str.rstrip() (every Unicode space).
absl::string_view RStripSpaces(absl::string_view text) {
  std::u32string cps = DecodeUtf8(text);
  size_t keep = cps.size();
  while (keep > 0 && IsPythonSpace(cps[keep - 1])) --keep;
  size_t bytes = 0;
  for (size_t i = 0; i < keep; ++i) {
    char32_t cp = cps[i];
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return text.substr(0, bytes);
}

// Bytes of Unicode whitespace starting at `pos`.
size_t SpacesAt(absl::string_view text, size_t pos) {
  size_t end = pos;
  while (end < text.size()) {
    const unsigned char c = text[end];
    size_t length = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    if (end + length > text.size()) break;
    char32_t cp = DecodeUtf8(text.substr(end, length))[0];
    if (!IsPythonSpace(cp)) break;
    end += length;
  }
  return end - pos;
}

bool AllSpaces(absl::string_view text) { return SpacesAt(text, 0) == text.size(); }

class Lexer {
 public:
  Lexer(absl::string_view source, const std::string& name) : name_(name) {
    // jinja2 normalizes every line break to "\n", then drops one final one.
    source_.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\r') {
        source_.push_back('\n');
        if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
      } else {
        source_.push_back(source[i]);
      }
    }
    if (!source_.empty() && source_.back() == '\n') source_.pop_back();
  }

  absl::StatusOr<std::vector<Token>> Run() {
    const absl::string_view src = source_;
    size_t pos = 0;
    bool line_starting = true;  // the text about to be read starts a line
    while (pos < src.size()) {
      size_t tag = src.find('{', pos);
      while (tag != absl::string_view::npos && tag + 1 < src.size() && src[tag + 1] != '{' &&
             src[tag + 1] != '%' && src[tag + 1] != '#') {
        tag = src.find('{', tag + 1);
      }
      if (tag == absl::string_view::npos || tag + 1 >= src.size()) {
        AddText(src.substr(pos));
        break;
      }
      const char kind = src[tag + 1];
      size_t inner = tag + 2;
      char modifier = 0;
      if (inner < src.size() && (src[inner] == '-' || src[inner] == '+')) modifier = src[inner++];

      absl::string_view text = src.substr(pos, tag - pos);
      const int text_line = line_;
      line_ += std::count(text.begin(), text.end(), '\n');
      if (modifier == '-') {
        text = RStripSpaces(text);
      } else if (modifier != '+' && kind != '{') {
        // lstrip_blocks: only when the tag is alone on its line so far.
        size_t line_start = text.rfind('\n');
        line_start = line_start == absl::string_view::npos ? 0 : line_start + 1;
        if ((line_start > 0 || line_starting) && line_start < text.size() &&
            AllSpaces(text.substr(line_start))) {
          text = text.substr(0, line_start);
        }
      }
      AddText(text, text_line);

      if (kind == '#') {
        R1_ASSIGN_OR_RETURN(pos, SkipComment(inner, &line_starting));
        continue;
      }
      const int tag_line = line_;
      tokens_.push_back({kind == '{' ? Tok::kVarBegin : Tok::kBlockBegin, tag_line, "", {}});
      R1_ASSIGN_OR_RETURN(pos, LexTag(inner, kind == '%', tag_line, &line_starting));
    }
    tokens_.push_back({Tok::kEof, line_, "", {}});
    return std::move(tokens_);
  }

 private:
  absl::Status Error(int line, absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat(name_, ":", line, ": ", message));
  }

  void AddText(absl::string_view text, int line = -1) {
    if (text.empty()) return;
    tokens_.push_back({Tok::kText, line < 0 ? line_ : line, std::string(text), {}});
  }

  // After the closing tag: `-` eats all following whitespace, a plain block
  // or comment end eats one newline (trim_blocks), `+` keeps everything.
  size_t AfterTagEnd(size_t end, char modifier, bool is_block, bool* line_starting) {
    const absl::string_view src = source_;
    size_t consumed = end;
    if (modifier == '-') {
      consumed += SpacesAt(src, end);
    } else if (modifier != '+' && is_block && end < src.size() && src[end] == '\n') {
      consumed += 1;
    }
    *line_starting = consumed > 0 && src[consumed - 1] == '\n';
    line_ += std::count(src.begin() + end, src.begin() + consumed, '\n');
    return consumed;
  }

  absl::StatusOr<size_t> SkipComment(size_t inner, bool* line_starting) {
    const absl::string_view src = source_;
    const size_t close = src.find("#}", inner);
    if (close == absl::string_view::npos) return Error(line_, "unclosed comment: missing '#}'");
    line_ += std::count(src.begin() + inner, src.begin() + close, '\n');
    char modifier = 0;
    if (close > inner && (src[close - 1] == '-' || src[close - 1] == '+')) {
      modifier = src[close - 1];
    }
    return AfterTagEnd(close + 2, modifier, /*is_block=*/true, line_starting);
  }

  absl::StatusOr<size_t> LexTag(size_t pos, bool is_block, int tag_line, bool* line_starting) {
    const absl::string_view src = source_;
    const absl::string_view close = is_block ? "%}" : "}}";
    std::vector<char> brackets;
    while (true) {
      while (pos < src.size() && IsAsciiSpace(src[pos])) {
        if (src[pos] == '\n') ++line_;
        ++pos;
      }
      if (pos >= src.size()) {
        return Error(tag_line, absl::StrCat("unclosed tag: missing '", close, "'"));
      }
      if (brackets.empty()) {
        char modifier = 0;
        size_t end = 0;
        if (src.substr(pos, 2) == close) {
          end = pos + 2;
        } else if (src[pos] == '-' && src.substr(pos + 1, 2) == close) {
          modifier = '-';
          end = pos + 3;
        } else if (is_block && src[pos] == '+' && src.substr(pos + 1, 2) == close) {
          modifier = '+';
          end = pos + 3;
        }
        if (end != 0) {
          tokens_.push_back({is_block ? Tok::kBlockEnd : Tok::kVarEnd, line_, "", {}});
          return AfterTagEnd(end, modifier, is_block, line_starting);
        }
      }
      const char c = src[pos];
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t end = pos;
        while (end < src.size() &&
               (std::isalnum(static_cast<unsigned char>(src[end])) || src[end] == '_')) {
          ++end;
        }
        tokens_.push_back({Tok::kName, line_, std::string(src.substr(pos, end - pos)), {}});
        pos = end;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        R1_ASSIGN_OR_RETURN(pos, LexNumber(pos));
      } else if (c == '\'' || c == '"') {
        R1_ASSIGN_OR_RETURN(pos, LexString(pos));
      } else {
        static constexpr absl::string_view kTwoChar[] = {"//", "**", "==", "!=", ">=", "<="};
        std::string op;
        for (absl::string_view two : kTwoChar) {
          if (src.substr(pos, 2) == two) op = std::string(two);
        }
        if (op.empty()) {
          if (absl::string_view("+-/*%~[](){}<>=.:|,;").find(c) == absl::string_view::npos) {
            return Error(line_, absl::StrFormat("unexpected character '%c'", c));
          }
          op = std::string(1, c);
        }
        if (op == "(" || op == "[" || op == "{") {
          brackets.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
        } else if (op == ")" || op == "]" || op == "}") {
          if (brackets.empty() || brackets.back() != c) {
            return Error(line_, absl::StrCat("unexpected '", op, "'"));
          }
          brackets.pop_back();
        }
        tokens_.push_back({Tok::kOp, line_, op, {}});
        pos += op.size();
      }
    }
  }

  // Integers (with `_` separators, 0b/0o/0x) and floats (with a fraction or
  // an exponent), as jinja2 reads them.
  absl::StatusOr<size_t> LexNumber(size_t pos) {
    const absl::string_view src = source_;
    auto digits_end = [&](size_t p, auto is_digit) {
      while (p < src.size() &&
             (is_digit(src[p]) || (src[p] == '_' && p + 1 < src.size() && is_digit(src[p + 1])))) {
        ++p;
      }
      return p;
    };
    auto decimal = [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)) != 0; };
    auto strip = [](absl::string_view s) {
      std::string out;
      for (char ch : s) {
        if (ch != '_') out.push_back(ch);
      }
      return out;
    };
    if (src[pos] == '0' && pos + 1 < src.size() &&
        absl::string_view("bBoOxX").find(src[pos + 1]) != absl::string_view::npos) {
      const char base_char = std::tolower(src[pos + 1]);
      const int base = base_char == 'b' ? 2 : base_char == 'o' ? 8 : 16;
      auto in_base = [base](char ch) {
        const int d = std::isdigit(static_cast<unsigned char>(ch))    ? ch - '0'
                      : std::isxdigit(static_cast<unsigned char>(ch)) ? std::tolower(ch) - 'a' + 10
                                                                      : 99;
        return d < base;
      };
      size_t start = pos + 2;
      if (start < src.size() && src[start] == '_') ++start;
      const size_t end = digits_end(start, in_base);
      if (end == start) return Error(line_, "invalid number literal");
      errno = 0;
      const std::string text = strip(src.substr(start, end - start));
      const unsigned long long v = std::strtoull(text.c_str(), nullptr, base);
      if (errno != 0 || v > static_cast<unsigned long long>(INT64_MAX)) {
        return Error(line_, "integer literal too large");
      }
      tokens_.push_back({Tok::kInt, line_, "", Value::Int(static_cast<int64_t>(v))});
      return end;
    }
    size_t end = digits_end(pos, decimal);
    bool is_float = false;
    // A float needs digits after the point; `1.` is an integer and an attribute.
    const bool after_dot = pos > 0 && src[pos - 1] == '.';
    if (!after_dot && end + 1 < src.size() && src[end] == '.' && decimal(src[end + 1])) {
      end = digits_end(end + 1, decimal);
      is_float = true;
    }
    if (!after_dot && end < src.size() && (src[end] == 'e' || src[end] == 'E')) {
      size_t exp = end + 1;
      if (exp < src.size() && (src[exp] == '+' || src[exp] == '-')) ++exp;
      if (exp < src.size() && decimal(src[exp])) {
        end = digits_end(exp, decimal);
        is_float = true;
      }
    }
    const std::string text = strip(src.substr(pos, end - pos));
    if (is_float) {
      tokens_.push_back({Tok::kFloat, line_, "", Value::Float(std::strtod(text.c_str(), nullptr))});
    } else {
      errno = 0;
      const long long v = std::strtoll(text.c_str(), nullptr, 10);
      if (errno != 0) return Error(line_, "integer literal too large");
      tokens_.push_back({Tok::kInt, line_, "", Value::Int(v)});
    }
    return end;
  }

  // A string literal with Python's backslash escapes (jinja2 decodes them
  // with the unicode-escape codec; unknown escapes stay as written).
  absl::StatusOr<size_t> LexString(size_t pos) {
    const absl::string_view src = source_;
    const char quote = src[pos];
    const int start_line = line_;
    std::string out;
    size_t i = pos + 1;
    auto hex_value = [&](size_t at, int count) -> std::optional<char32_t> {
      if (at + count > src.size()) return std::nullopt;
      char32_t v = 0;
      for (int k = 0; k < count; ++k) {
        const char h = src[at + k];
        if (!std::isxdigit(static_cast<unsigned char>(h))) return std::nullopt;
        v = v * 16 +
            (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : std::tolower(h) - 'a' + 10);
      }
      return v;
    };
    while (true) {
      if (i >= src.size()) return Error(start_line, "unterminated string literal");
      const char c = src[i];
      if (c == quote) break;
      if (c == '\n') ++line_;
      if (c != '\\') {
        out.push_back(c);
        ++i;
        continue;
      }
      if (i + 1 >= src.size()) return Error(start_line, "unterminated string literal");
      const char e = src[i + 1];
      i += 2;
      switch (e) {
        case '\n':
          ++line_;
          break;  // line continuation
        case '\\':
          out.push_back('\\');
          break;
        case '\'':
          out.push_back('\'');
          break;
        case '"':
          out.push_back('"');
          break;
        case 'a':
          out.push_back('\a');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'v':
          out.push_back('\v');
          break;
        case 'x':
        case 'u':
        case 'U': {
          const int count = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          std::optional<char32_t> cp = hex_value(i, count);
          if (!cp || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF)) {
            return Error(line_, absl::StrCat("invalid \\", std::string(1, e), " escape in string"));
          }
          utf8::AppendCodePoint(*cp, &out);
          i += count;
          break;
        }
        case 'N':
          return Error(line_, "\\N{...} escapes are not supported");
        default:
          if (e >= '0' && e <= '7') {
            char32_t v = e - '0';
            for (int k = 0; k < 2 && i < src.size() && src[i] >= '0' && src[i] <= '7'; ++k, ++i) {
              v = v * 8 + (src[i] - '0');
            }
            utf8::AppendCodePoint(v, &out);
          } else {
            out.push_back('\\');
            out.push_back(e);
            if (e == '\n') ++line_;
          }
      }
    }
    tokens_.push_back({Tok::kString, start_line, std::move(out), {}});
    return i + 1;
  }

  const std::string& name_;
  std::string source_;
  int line_ = 1;
  std::vector<Token> tokens_;
};

// --------------------------------------------------------------- parser ---

// Tags jinja2 knows that this engine does not implement: refused by name.
const std::set<std::string, std::less<>>& UnsupportedTags() {
  static const auto* tags = new std::set<std::string, std::less<>>{
      "raw",    "include", "import",     "from", "extends", "block",
      "filter", "with",    "autoescape", "do",   "trans",   "pluralize"};
  return *tags;
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, const std::string& name, const ParseLimits& limits)
      : tokens_(std::move(tokens)), name_(name), limits_(limits) {}

  absl::StatusOr<Body> ParseTemplate() {
    Body body;
    std::string end_tag;
    R1_RETURN_IF_ERROR(ParseBody({}, &body, &end_tag));
    return body;
  }

 private:
  // ----- token helpers -----
  const Token& Peek(int ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& Next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool IsOp(absl::string_view op, int ahead = 0) const {
    return Peek(ahead).type == Tok::kOp && Peek(ahead).text == op;
  }
  bool IsName(absl::string_view name, int ahead = 0) const {
    return Peek(ahead).type == Tok::kName && Peek(ahead).text == name;
  }
  bool AcceptOp(absl::string_view op) {
    if (!IsOp(op)) return false;
    Next();
    return true;
  }
  bool AcceptName(absl::string_view name) {
    if (!IsName(name)) return false;
    Next();
    return true;
  }

  absl::Status Error(int line, absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat(name_, ":", line, ": ", message));
  }
  absl::Status Unsupported(int line, absl::string_view construct) const {
    return absl::UnimplementedError(
        absl::StrCat(name_, ":", line, ": ", construct, " is not supported"));
  }
  absl::Status Unexpected(absl::string_view expected) const {
    return Error(Peek().line, absl::StrCat("expected ", expected, ", got ", Describe(Peek())));
  }
  absl::Status ExpectOp(absl::string_view op) {
    if (!AcceptOp(op)) return Unexpected(absl::StrCat("'", op, "'"));
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> ExpectName() {
    if (Peek().type != Tok::kName) return Unexpected("a name");
    return Next().text;
  }
  absl::Status ExpectBlockEnd(absl::string_view tag) {
    if (Peek().type != Tok::kBlockEnd) {
      return Error(Peek().line, absl::StrCat("expected '%}' to end the '", tag, "' tag, got ",
                                             Describe(Peek())));
    }
    Next();
    return absl::OkStatus();
  }

  // Guards the C++ stack against pathological nesting.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser* parser) : parser_(parser) { ++parser_->depth_; }
    ~DepthGuard() { --parser_->depth_; }
    absl::Status Check(int line) const {
      if (parser_->depth_ > parser_->limits_.max_nesting) {
        return parser_->Error(
            line, absl::StrCat("nesting deeper than ", parser_->limits_.max_nesting, " levels"));
      }
      return absl::OkStatus();
    }

   private:
    Parser* parser_;
  };

  // ----- statements -----

  // Parses statements until one of `end_tags` opens a block tag; that tag's
  // name is consumed and returned in `end_tag`, the rest of it is left for the
  // caller. With no end tags, parses to the end of the template.
  absl::Status ParseBody(const std::vector<absl::string_view>& end_tags, Body* body,
                         std::string* end_tag, absl::string_view open_tag = "", int open_line = 0) {
    DepthGuard guard(this);
    R1_RETURN_IF_ERROR(guard.Check(Peek().line));
    while (true) {
      const Token& token = Peek();
      switch (token.type) {
        case Tok::kEof:
          if (!end_tags.empty()) {
            return Error(open_line,
                         absl::StrCat("unclosed '", open_tag, "' block: expected ",
                                      absl::StrJoin(end_tags, " or ",
                                                    [](std::string* o, absl::string_view t) {
                                                      absl::StrAppend(o, "'{% ", t, " %}'");
                                                    }),
                                      " before the end of the template"));
          }
          return absl::OkStatus();
        case Tok::kText: {
          auto stmt = std::make_unique<Stmt>();
          stmt->kind = Stmt::Kind::kText;
          stmt->line = token.line;
          stmt->text = token.text;
          body->push_back(std::move(stmt));
          Next();
          break;
        }
        case Tok::kVarBegin: {
          Next();
          auto stmt = std::make_unique<Stmt>();
          stmt->kind = Stmt::Kind::kOutput;
          stmt->line = token.line;
          R1_ASSIGN_OR_RETURN(stmt->expr, ParseTuple(/*allow_conditional_without_parens=*/true));
          if (Peek().type != Tok::kVarEnd) return Unexpected("'}}'");
          Next();
          body->push_back(std::move(stmt));
          break;
        }
        case Tok::kBlockBegin: {
          const Token& keyword = Peek(1);
          if (keyword.type != Tok::kName) {
            return Error(keyword.line,
                         absl::StrCat("expected a tag name after '{%', got ", Describe(keyword)));
          }
          if (std::find(end_tags.begin(), end_tags.end(), keyword.text) != end_tags.end()) {
            Next();
            *end_tag = Next().text;
            return absl::OkStatus();
          }
          Next();
          R1_RETURN_IF_ERROR(ParseStatement(body));
          break;
        }
        default:
          return Error(token.line, absl::StrCat("unexpected ", Describe(token)));
      }
    }
  }

  absl::Status ParseStatement(Body* body) {
    const Token keyword = Next();
    const std::string& tag = keyword.text;
    if (tag == "if") return ParseIf(keyword.line, body);
    if (tag == "for") return ParseFor(keyword.line, body);
    if (tag == "set") return ParseSet(keyword.line, body);
    if (tag == "macro") return ParseMacro(keyword.line, body);
    if (tag == "call") return ParseCallBlock(keyword.line, body);
    if (tag == "generation") {
      auto stmt = std::make_unique<Stmt>();
      stmt->kind = Stmt::Kind::kGeneration;
      stmt->line = keyword.line;
      R1_RETURN_IF_ERROR(ExpectBlockEnd(tag));
      // A call block's body: no loop to break out of, not a soft frame.
      const int saved_loop_depth = loop_depth_;
      const bool saved_soft = soft_frame_;
      loop_depth_ = 0;
      soft_frame_ = false;
      std::string end;
      absl::Status status = ParseBody({"endgeneration"}, &stmt->body, &end, tag, keyword.line);
      loop_depth_ = saved_loop_depth;
      soft_frame_ = saved_soft;
      R1_RETURN_IF_ERROR(status);
      R1_RETURN_IF_ERROR(ExpectBlockEnd(end));
      body->push_back(std::move(stmt));
      return absl::OkStatus();
    }
    if (absl::StartsWith(tag, "end") || tag == "else" || tag == "elif") {
      return Error(keyword.line,
                   absl::StrCat("unexpected '{% ", tag, " %}': no open block to end"));
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) {
        return Error(keyword.line, absl::StrCat("'", tag, "' outside of a for loop"));
      }
      auto stmt = std::make_unique<Stmt>();
      stmt->kind = tag == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue;
      stmt->line = keyword.line;
      R1_RETURN_IF_ERROR(ExpectBlockEnd(tag));
      body->push_back(std::move(stmt));
      return absl::OkStatus();
    }
    if (UnsupportedTags().count(tag) > 0) {
      return Unsupported(keyword.line, absl::StrCat("the '{% ", tag, " %}' tag"));
    }
    return Error(keyword.line, absl::StrCat("unknown tag '", tag, "'"));
  }

  absl::Status ParseIf(int line, Body* body) {
    const bool saved_soft = soft_frame_;
    soft_frame_ = true;
    absl::Status status = ParseIfInSoftFrame(line, body);
    soft_frame_ = saved_soft;
    return status;
  }

  absl::Status ParseIfInSoftFrame(int line, Body* body) {
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = Stmt::Kind::kIf;
    stmt->line = line;
    std::string tag = "if";
    while (true) {
      R1_ASSIGN_OR_RETURN(ExprPtr condition, ParseTuple(false));
      R1_RETURN_IF_ERROR(ExpectBlockEnd(tag));
      Body branch;
      std::string end;
      R1_RETURN_IF_ERROR(ParseBody({"elif", "else", "endif"}, &branch, &end, "if", line));
      stmt->conditions.push_back(std::move(condition));
      stmt->bodies.push_back(std::move(branch));
      if (end == "elif") {
        tag = end;
        continue;
      }
      if (end == "else") {
        R1_RETURN_IF_ERROR(ExpectBlockEnd(end));
        R1_RETURN_IF_ERROR(ParseBody({"endif"}, &stmt->else_body, &end, "if", line));
      }
      R1_RETURN_IF_ERROR(ExpectBlockEnd(end));
      break;
    }
    body->push_back(std::move(stmt));
    return absl::OkStatus();
  }

  // Names for `for` and `set`: `x` or `a, b` (optionally parenthesized).
  absl::Status ParseTargets(Stmt* stmt) {
    const bool parenthesized = AcceptOp("(");
    while (true) {
      R1_ASSIGN_OR_RETURN(std::string target, ExpectName());
      stmt->targets.push_back(std::move(target));
      if (!AcceptOp(",")) break;
      stmt->unpack = true;
      if (Peek().type != Tok::kName) break;  // trailing comma
    }
    if (parenthesized) {
      stmt->unpack = true;
      R1_RETURN_IF_ERROR(ExpectOp(")"));
    }
    return absl::OkStatus();
  }

  absl::Status ParseFor(int line, Body* body) {
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = Stmt::Kind::kFor;
    stmt->line = line;
    R1_RETURN_IF_ERROR(ParseTargets(stmt.get()));
    if (!AcceptName("in")) return Unexpected("'in'");
    // The iterable stops before `if` (the loop filter) and `recursive`.
    R1_ASSIGN_OR_RETURN(stmt->expr, ParseTuple(/*allow_conditional_without_parens=*/false));
    if (AcceptName("if")) {
      R1_ASSIGN_OR_RETURN(stmt->condition, ParseExpression(true));
    }
    if (IsName("recursive")) return Unsupported(Peek().line, "a recursive for loop");
    R1_RETURN_IF_ERROR(ExpectBlockEnd("for"));
    std::string end;
    const bool saved_soft = soft_frame_;
    soft_frame_ = false;
    ++loop_depth_;
    absl::Status status = ParseBody({"else", "endfor"}, &stmt->body, &end, "for", line);
    --loop_depth_;
    if (status.ok() && end == "else") {
      status = ExpectBlockEnd(end);
      // `break` in a for's else belongs to an enclosing loop, if any.
      if (status.ok()) status = ParseBody({"endfor"}, &stmt->else_body, &end, "for", line);
    }
    soft_frame_ = saved_soft;
    R1_RETURN_IF_ERROR(status);
    R1_RETURN_IF_ERROR(ExpectBlockEnd(end));
    body->push_back(std::move(stmt));
    return absl::OkStatus();
  }

  absl::Status ParseSet(int line, Body* body) {
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = Stmt::Kind::kSet;
    stmt->line = line;
    if (Peek().type == Tok::kName && IsOp(".", 1)) {
      stmt->targets.push_back(Next().text);
      Next();
      R1_ASSIGN_OR_RETURN(stmt->namespace_attribute, ExpectName());
    } else {
      R1_RETURN_IF_ERROR(ParseTargets(stmt.get()));
    }
    if (AcceptOp("=")) {
      R1_ASSIGN_OR_RETURN(stmt->expr, ParseTuple(true));
      R1_RETURN_IF_ERROR(ExpectBlockEnd("set"));
    } else {
      if (IsOp("|")) return Unsupported(Peek().line, "a filter on a block set");
      if (stmt->unpack || !stmt->namespace_attribute.empty()) return Unexpected("'='");
      R1_RETURN_IF_ERROR(ExpectBlockEnd("set"));
      std::string end;
      R1_RETURN_IF_ERROR(ParseBody({"endset"}, &stmt->body, &end, "set", line));
      R1_RETURN_IF_ERROR(ExpectBlockEnd(end));
    }
    body->push_back(std::move(stmt));
    return absl::OkStatus();
  }

  absl::StatusOr<std::shared_ptr<MacroDef>> ParseSignature(bool allow_defaults) {
    auto macro = std::make_shared<MacroDef>();
    R1_RETURN_IF_ERROR(ExpectOp("("));
    while (!IsOp(")")) {
      R1_ASSIGN_OR_RETURN(std::string param, ExpectName());
      macro->params.push_back(std::move(param));
      if (allow_defaults && AcceptOp("=")) {
        R1_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression(true));
        macro->defaults.push_back(std::move(value));
      } else if (!macro->defaults.empty()) {
        return Error(Peek().line, "a parameter without a default follows one with a default");
      }
      if (!AcceptOp(",")) break;
    }
    R1_RETURN_IF_ERROR(ExpectOp(")"));
    return macro;
  }

  absl::Status ParseMacroBody(MacroDef* macro, absl::string_view tag, absl::string_view end_tag,
                              int line) {
    R1_RETURN_IF_ERROR(ExpectBlockEnd(tag));
    // jinja2 passes varargs/kwargs/caller only to macros that read them.
    std::set<std::string>* saved = reads_;
    std::set<std::string> reads;
    reads_ = &reads;
    const int saved_loop_depth = loop_depth_;
    const bool saved_soft = soft_frame_;
    loop_depth_ = 0;
    soft_frame_ = false;
    std::string end;
    absl::Status status = ParseBody({end_tag}, &macro->body, &end, tag, line);
    loop_depth_ = saved_loop_depth;
    soft_frame_ = saved_soft;
    reads_ = saved;
    R1_RETURN_IF_ERROR(status);
    macro->uses_varargs = reads.count("varargs") > 0;
    macro->uses_kwargs = reads.count("kwargs") > 0;
    macro->uses_caller = reads.count("caller") > 0;
    return ExpectBlockEnd(end);
  }

  absl::Status ParseMacro(int line, Body* body) {
    R1_ASSIGN_OR_RETURN(std::string name, ExpectName());
    R1_ASSIGN_OR_RETURN(std::shared_ptr<MacroDef> macro, ParseSignature(true));
    macro->name = name;
    R1_RETURN_IF_ERROR(ParseMacroBody(macro.get(), "macro", "endmacro", line));
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = Stmt::Kind::kMacro;
    stmt->line = line;
    stmt->targets.push_back(name);
    stmt->macro = std::move(macro);
    body->push_back(std::move(stmt));
    return absl::OkStatus();
  }

  absl::Status ParseCallBlock(int line, Body* body) {
    std::shared_ptr<MacroDef> caller = std::make_shared<MacroDef>();
    if (IsOp("(")) {
      R1_ASSIGN_OR_RETURN(caller, ParseSignature(true));
    }
    caller->name = "caller";
    auto stmt = std::make_unique<Stmt>();
    stmt->kind = Stmt::Kind::kCallBlock;
    stmt->line = line;
    R1_ASSIGN_OR_RETURN(stmt->expr, ParseExpression(true));
    if (stmt->expr->kind != Expr::Kind::kCall) {
      return Error(line, "expected a call after '{% call'");
    }
    R1_RETURN_IF_ERROR(ParseMacroBody(caller.get(), "call", "endcall", line));
    stmt->macro = std::move(caller);
    body->push_back(std::move(stmt));
    return absl::OkStatus();
  }

  // ----- expressions -----

  static ExprPtr MakeExpr(Expr::Kind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  // `a, b` without brackets makes a tuple where jinja2 allows it ({{ }},
  // set, for's iterable, if conditions).
  absl::StatusOr<ExprPtr> ParseTuple(bool allow_conditional) {
    const int line = Peek().line;
    R1_ASSIGN_OR_RETURN(ExprPtr first, ParseExpression(allow_conditional));
    if (!IsOp(",")) return first;
    auto tuple = MakeExpr(Expr::Kind::kTuple, line);
    tuple->items.push_back(std::move(first));
    while (AcceptOp(",")) {
      if (Peek().type == Tok::kVarEnd || Peek().type == Tok::kBlockEnd || IsName("if") ||
          IsOp(")")) {
        break;  // a trailing comma
      }
      R1_ASSIGN_OR_RETURN(ExprPtr item, ParseExpression(allow_conditional));
      tuple->items.push_back(std::move(item));
    }
    return tuple;
  }

  absl::StatusOr<ExprPtr> ParseExpression(bool allow_conditional) {
    DepthGuard guard(this);
    R1_RETURN_IF_ERROR(guard.Check(Peek().line));
    // The branch before `if` is soft too, which is known only after it:
    // unknown names in it wait in pending_unknowns_ until then.
    const size_t unknown_before = pending_unknowns_.size();
    ++pending_depth_;
    absl::StatusOr<ExprPtr> first = ParseOr();
    --pending_depth_;
    R1_RETURN_IF_ERROR(first.status());
    ExprPtr expr = *std::move(first);
    if (allow_conditional && IsName("if")) pending_unknowns_.resize(unknown_before);
    if (pending_depth_ == 0 && !pending_unknowns_.empty()) {
      const auto [line, what] = pending_unknowns_.front();
      pending_unknowns_.clear();
      return Unsupported(line, what);
    }
    if (!allow_conditional) return expr;
    while (IsName("if")) {
      const int line = Next().line;
      auto cond = MakeExpr(Expr::Kind::kCondition, line);
      const bool saved_soft = soft_frame_;
      soft_frame_ = true;
      absl::StatusOr<ExprPtr> test_or = ParseOr();
      ExprPtr otherwise;
      if (test_or.ok() && AcceptName("else")) {
        absl::StatusOr<ExprPtr> otherwise_or = ParseExpression(true);
        if (!otherwise_or.ok())
          test_or = otherwise_or.status();
        else
          otherwise = *std::move(otherwise_or);
      }
      soft_frame_ = saved_soft;
      R1_RETURN_IF_ERROR(test_or.status());
      ExprPtr test = *std::move(test_or);
      cond->items.push_back(std::move(expr));
      cond->items.push_back(std::move(test));
      cond->items.push_back(std::move(otherwise));
      expr = std::move(cond);
    }
    return expr;
  }

  absl::StatusOr<ExprPtr> ParseOr() {
    R1_ASSIGN_OR_RETURN(ExprPtr left, ParseAnd());
    while (IsName("or")) {
      auto e = MakeExpr(Expr::Kind::kOr, Next().line);
      R1_ASSIGN_OR_RETURN(ExprPtr right, ParseAnd());
      e->items.push_back(std::move(left));
      e->items.push_back(std::move(right));
      left = std::move(e);
    }
    return left;
  }

  absl::StatusOr<ExprPtr> ParseAnd() {
    R1_ASSIGN_OR_RETURN(ExprPtr left, ParseNot());
    while (IsName("and")) {
      auto e = MakeExpr(Expr::Kind::kAnd, Next().line);
      R1_ASSIGN_OR_RETURN(ExprPtr right, ParseNot());
      e->items.push_back(std::move(left));
      e->items.push_back(std::move(right));
      left = std::move(e);
    }
    return left;
  }

  absl::StatusOr<ExprPtr> ParseNot() {
    if (IsName("not")) {
      DepthGuard guard(this);
      R1_RETURN_IF_ERROR(guard.Check(Peek().line));
      auto e = MakeExpr(Expr::Kind::kNot, Next().line);
      R1_ASSIGN_OR_RETURN(e->object, ParseNot());
      return e;
    }
    return ParseCompare();
  }

  absl::StatusOr<ExprPtr> ParseCompare() {
    const int line = Peek().line;
    R1_ASSIGN_OR_RETURN(ExprPtr first, ParseMath1());
    auto compare = MakeExpr(Expr::Kind::kCompare, line);
    compare->items.push_back(std::move(first));
    while (true) {
      std::string op;
      if (Peek().type == Tok::kOp &&
          (Peek().text == "==" || Peek().text == "!=" || Peek().text == "<" ||
           Peek().text == "<=" || Peek().text == ">" || Peek().text == ">=")) {
        op = Next().text;
      } else if (AcceptName("in")) {
        op = "in";
      } else if (IsName("not") && IsName("in", 1)) {
        Next();
        Next();
        op = "notin";
      } else {
        break;
      }
      R1_ASSIGN_OR_RETURN(ExprPtr right, ParseMath1());
      compare->ops.push_back(op);
      compare->items.push_back(std::move(right));
    }
    if (compare->ops.empty()) return std::move(compare->items[0]);
    return compare;
  }

  absl::StatusOr<ExprPtr> Binary(std::string op, int line, ExprPtr left, ExprPtr right) {
    auto e = MakeExpr(Expr::Kind::kBinary, line);
    e->name = std::move(op);
    e->items.push_back(std::move(left));
    e->items.push_back(std::move(right));
    return e;
  }

  absl::StatusOr<ExprPtr> ParseMath1() {
    R1_ASSIGN_OR_RETURN(ExprPtr left, ParseConcat());
    while (IsOp("+") || IsOp("-")) {
      const Token& op = Next();
      R1_ASSIGN_OR_RETURN(ExprPtr right, ParseConcat());
      R1_ASSIGN_OR_RETURN(left, Binary(op.text, op.line, std::move(left), std::move(right)));
    }
    return left;
  }

  absl::StatusOr<ExprPtr> ParseConcat() {
    R1_ASSIGN_OR_RETURN(ExprPtr left, ParseMath2());
    while (IsOp("~")) {
      const Token& op = Next();
      R1_ASSIGN_OR_RETURN(ExprPtr right, ParseMath2());
      R1_ASSIGN_OR_RETURN(left, Binary("~", op.line, std::move(left), std::move(right)));
    }
    return left;
  }

  absl::StatusOr<ExprPtr> ParseMath2() {
    R1_ASSIGN_OR_RETURN(ExprPtr left, ParsePow());
    while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) {
      const Token& op = Next();
      R1_ASSIGN_OR_RETURN(ExprPtr right, ParsePow());
      R1_ASSIGN_OR_RETURN(left, Binary(op.text, op.line, std::move(left), std::move(right)));
    }
    return left;
  }

  absl::StatusOr<ExprPtr> ParsePow() {
    R1_ASSIGN_OR_RETURN(ExprPtr left, ParseUnary(true));
    while (IsOp("**")) {
      const Token& op = Next();
      R1_ASSIGN_OR_RETURN(ExprPtr right, ParseUnary(true));
      R1_ASSIGN_OR_RETURN(left, Binary("**", op.line, std::move(left), std::move(right)));
    }
    return left;
  }

  absl::StatusOr<ExprPtr> ParseUnary(bool with_filters) {
    DepthGuard guard(this);
    R1_RETURN_IF_ERROR(guard.Check(Peek().line));
    ExprPtr node;
    if (IsOp("-") || IsOp("+")) {
      const Token& op = Next();
      node = MakeExpr(op.text == "-" ? Expr::Kind::kNegate : Expr::Kind::kPlus, op.line);
      R1_ASSIGN_OR_RETURN(node->object, ParseUnary(false));
    } else {
      R1_ASSIGN_OR_RETURN(node, ParsePrimary());
      R1_ASSIGN_OR_RETURN(node, ParsePostfix(std::move(node)));
    }
    if (with_filters) return ParseFilterExpr(std::move(node));
    return node;
  }

  absl::StatusOr<ExprPtr> ParsePrimary() {
    const Token& token = Peek();
    switch (token.type) {
      case Tok::kName: {
        Next();
        const std::string& n = token.text;
        if (n == "true" || n == "True") return Literal(Value::Bool(true), token.line);
        if (n == "false" || n == "False") return Literal(Value::Bool(false), token.line);
        if (n == "none" || n == "None") return Literal(Value::None(), token.line);
        if (reads_ != nullptr) reads_->insert(n);
        auto e = MakeExpr(Expr::Kind::kName, token.line);
        e->name = n;
        return e;
      }
      case Tok::kString: {
        // Adjacent literals concatenate, as in Python.
        std::string text;
        const int line = token.line;
        while (Peek().type == Tok::kString) text += Next().text;
        return Literal(Value::String(std::move(text)), line);
      }
      case Tok::kInt:
      case Tok::kFloat:
        Next();
        return Literal(token.number, token.line);
      case Tok::kOp:
        if (token.text == "(") {
          Next();
          if (AcceptOp(")")) {
            return MakeExpr(Expr::Kind::kTuple, token.line);
          }
          R1_ASSIGN_OR_RETURN(ExprPtr inner, ParseTuple(true));
          R1_RETURN_IF_ERROR(ExpectOp(")"));
          return inner;
        }
        if (token.text == "[") {
          Next();
          auto list = MakeExpr(Expr::Kind::kList, token.line);
          while (!IsOp("]")) {
            R1_ASSIGN_OR_RETURN(ExprPtr item, ParseExpression(true));
            list->items.push_back(std::move(item));
            if (!AcceptOp(",")) break;
          }
          R1_RETURN_IF_ERROR(ExpectOp("]"));
          return list;
        }
        if (token.text == "{") {
          Next();
          auto dict = MakeExpr(Expr::Kind::kDict, token.line);
          while (!IsOp("}")) {
            R1_ASSIGN_OR_RETURN(ExprPtr key, ParseExpression(true));
            R1_RETURN_IF_ERROR(ExpectOp(":"));
            R1_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression(true));
            dict->items.push_back(std::move(key));
            dict->items.push_back(std::move(value));
            if (!AcceptOp(",")) break;
          }
          R1_RETURN_IF_ERROR(ExpectOp("}"));
          return dict;
        }
        break;
      default:
        break;
    }
    return Unexpected("an expression");
  }

  static ExprPtr Literal(Value value, int line) {
    auto e = MakeExpr(Expr::Kind::kLiteral, line);
    e->value = std::move(value);
    return e;
  }

  absl::StatusOr<ExprPtr> ParsePostfix(ExprPtr node) {
    while (true) {
      if (IsOp(".")) {
        const int line = Next().line;
        if (Peek().type == Tok::kName) {
          auto e = MakeExpr(Expr::Kind::kGetAttr, line);
          e->name = Next().text;
          e->object = std::move(node);
          node = std::move(e);
        } else if (Peek().type == Tok::kInt) {
          auto e = MakeExpr(Expr::Kind::kGetItem, line);
          e->object = std::move(node);
          e->items.push_back(Literal(Next().number, line));
          node = std::move(e);
        } else {
          return Unexpected("an attribute name after '.'");
        }
      } else if (IsOp("[")) {
        R1_ASSIGN_OR_RETURN(node, ParseSubscript(std::move(node)));
      } else if (IsOp("(")) {
        R1_ASSIGN_OR_RETURN(node, ParseCall(std::move(node)));
      } else {
        return node;
      }
    }
  }

  absl::StatusOr<ExprPtr> ParseSubscript(ExprPtr object) {
    const int line = Next().line;  // '['
    ExprPtr parts[3];
    int colons = 0;
    while (true) {
      if (IsOp(":")) {
        Next();
        if (++colons > 2) return Unexpected("']'");
        continue;
      }
      if (IsOp("]")) break;
      if (parts[colons]) return Unexpected("':' or ']'");
      R1_ASSIGN_OR_RETURN(parts[colons], ParseExpression(true));
      if (colons == 0 && IsOp(",")) return Unsupported(line, "a tuple subscript");
    }
    Next();  // ']'
    if (colons == 0) {
      if (!parts[0]) return Error(line, "empty subscript");
      auto e = MakeExpr(Expr::Kind::kGetItem, line);
      e->object = std::move(object);
      e->items.push_back(std::move(parts[0]));
      return e;
    }
    auto e = MakeExpr(Expr::Kind::kSlice, line);
    e->object = std::move(object);
    for (auto& part : parts) e->items.push_back(std::move(part));
    return e;
  }

  absl::Status ParseArgs(ArgExprs* args) {
    R1_RETURN_IF_ERROR(ExpectOp("("));
    while (!IsOp(")")) {
      if (IsOp("*") || IsOp("**")) return Unsupported(Peek().line, "*args/**kwargs in a call");
      if (Peek().type == Tok::kName && IsOp("=", 1)) {
        std::string key = Next().text;
        Next();
        R1_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression(true));
        args->keyword.emplace_back(std::move(key), std::move(value));
      } else {
        if (!args->keyword.empty()) {
          return Error(Peek().line, "a positional argument follows a keyword argument");
        }
        R1_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression(true));
        args->positional.push_back(std::move(value));
      }
      if (!AcceptOp(",")) break;
    }
    return ExpectOp(")");
  }

  absl::StatusOr<ExprPtr> ParseCall(ExprPtr callee) {
    auto e = MakeExpr(Expr::Kind::kCall, Peek().line);
    e->object = std::move(callee);
    R1_RETURN_IF_ERROR(ParseArgs(&e->args));
    return e;
  }

  // An unknown filter or test: an error now, or at render time if reached
  // (the node keeps a null function) where jinja2 defers it.
  absl::Status UnknownName(int line, std::string construct) {
    if (soft_frame_) return absl::OkStatus();
    if (pending_depth_ > 0) {
      pending_unknowns_.emplace_back(line, std::move(construct));
      return absl::OkStatus();
    }
    return Unsupported(line, construct);
  }

  absl::StatusOr<ExprPtr> ParseFilterExpr(ExprPtr node) {
    while (true) {
      if (IsOp("|")) {
        Next();
        const int line = Peek().line;
        R1_ASSIGN_OR_RETURN(std::string name, ExpectName());
        while (AcceptOp(".")) {  // dotted filter names
          R1_ASSIGN_OR_RETURN(std::string part, ExpectName());
          absl::StrAppend(&name, ".", part);
        }
        auto e = MakeExpr(Expr::Kind::kFilter, line);
        e->filter = FindFilter(name);
        if (e->filter == nullptr) {
          R1_RETURN_IF_ERROR(UnknownName(line, absl::StrCat("the filter '", name, "'")));
        }
        e->name = std::move(name);
        e->object = std::move(node);
        if (IsOp("(")) R1_RETURN_IF_ERROR(ParseArgs(&e->args));
        node = std::move(e);
      } else if (IsName("is")) {
        const int line = Next().line;
        auto e = MakeExpr(Expr::Kind::kTest, line);
        e->negated = AcceptName("not");
        R1_ASSIGN_OR_RETURN(std::string name, ExpectName());
        e->test = FindTest(name);
        if (e->test == nullptr) {
          R1_RETURN_IF_ERROR(UnknownName(line, absl::StrCat("the test '", name, "'")));
        }
        e->name = std::move(name);
        e->object = std::move(node);
        if (IsOp("(")) {
          R1_RETURN_IF_ERROR(ParseArgs(&e->args));
        } else if ((Peek().type == Tok::kName || Peek().type == Tok::kString ||
                    Peek().type == Tok::kInt || Peek().type == Tok::kFloat || IsOp("[") ||
                    IsOp("{")) &&
                   !IsName("else") && !IsName("or") && !IsName("and")) {
          // `x is divisibleby 3`: one argument without parentheses.
          if (IsName("is")) return Error(Peek().line, "'is' cannot follow a test");
          R1_ASSIGN_OR_RETURN(ExprPtr arg, ParsePrimary());
          R1_ASSIGN_OR_RETURN(arg, ParsePostfix(std::move(arg)));
          e->args.positional.push_back(std::move(arg));
        }
        node = std::move(e);
      } else if (IsOp("(")) {
        R1_ASSIGN_OR_RETURN(node, ParseCall(std::move(node)));
      } else {
        return node;
      }
    }
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  const std::string& name_;
  const ParseLimits& limits_;
  int depth_ = 0;
  int loop_depth_ = 0;
  // jinja2 reports an unknown filter or test at render time, when reached,
  // if it sits directly in an if statement or a conditional expression (a
  // "soft" frame); elsewhere (also in a for or macro body inside an if) at
  // compile time.
  bool soft_frame_ = false;
  int pending_depth_ = 0;  // expressions that may still turn out a conditional's branch
  std::vector<std::pair<int, std::string>> pending_unknowns_;  // (line, construct)
  std::set<std::string>* reads_ = nullptr;  // names read inside the macro being parsed
};

}  // namespace

absl::StatusOr<std::shared_ptr<const Program>> ParseProgram(absl::string_view source,
                                                            std::string name,
                                                            const ParseLimits& limits) {
  if (!utf8::IsValid(source)) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": the template is not valid UTF-8"));
  }
  auto program = std::make_shared<Program>();
  program->name = std::move(name);
  Lexer lexer(source, program->name);
  R1_ASSIGN_OR_RETURN(std::vector<Token> tokens, lexer.Run());
  Parser parser(std::move(tokens), program->name, limits);
  R1_ASSIGN_OR_RETURN(program->body, parser.ParseTemplate());
  return std::shared_ptr<const Program>(std::move(program));
}

}  // namespace r1::jinja
