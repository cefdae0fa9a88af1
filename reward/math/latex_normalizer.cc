#include "reward/math/latex_normalizer.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "re2/re2.h"
#include "reward/math/math_expression.h"

namespace r1::reward::math_internal {
namespace {

bool IsLetter(char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)); }
bool IsDigit(char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }
bool IsSpace(char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); }

enum class Action {
  kDrop,       // \displaystyle, \circ (degrees), \!
  kSpace,      // \quad
  kReplace,    // \dfrac -> \frac, \cdot -> *
  kDelimiter,  // \left, \right, \big: dropped with a following "." (null delimiter)
  kWrapper,    // \text{...}: the command and its braces go, the content stays
};

struct CommandRule {
  absl::string_view name;
  Action action;
  absl::string_view replacement = "";
};

constexpr CommandRule kCommandRules[] = {
    {"displaystyle", Action::kDrop}, {"textstyle", Action::kDrop},
    {"scriptstyle", Action::kDrop}, {"limits", Action::kDrop},
    {"nolimits", Action::kDrop}, {"circ", Action::kDrop},
    {"degree", Action::kDrop}, {"degrees", Action::kDrop},
    {"mathstrut", Action::kDrop}, {"strut", Action::kDrop},
    {"quad", Action::kSpace}, {"qquad", Action::kSpace},
    {"enspace", Action::kSpace}, {"thinspace", Action::kSpace},
    {"left", Action::kDelimiter}, {"right", Action::kDelimiter},
    {"big", Action::kDelimiter}, {"Big", Action::kDelimiter},
    {"bigg", Action::kDelimiter}, {"Bigg", Action::kDelimiter},
    {"bigl", Action::kDelimiter}, {"bigr", Action::kDelimiter},
    {"Bigl", Action::kDelimiter}, {"Bigr", Action::kDelimiter},
    {"biggl", Action::kDelimiter}, {"biggr", Action::kDelimiter},
    {"Biggl", Action::kDelimiter}, {"Biggr", Action::kDelimiter},
    {"dfrac", Action::kReplace, "\\frac"}, {"tfrac", Action::kReplace, "\\frac"},
    {"cfrac", Action::kReplace, "\\frac"}, {"dbinom", Action::kReplace, "\\binom"},
    {"tbinom", Action::kReplace, "\\binom"},
    {"cdot", Action::kReplace, "*"}, {"times", Action::kReplace, "*"},
    {"ast", Action::kReplace, "*"}, {"div", Action::kReplace, "/"},
    {"leq", Action::kReplace, "\\le"}, {"leqslant", Action::kReplace, "\\le"},
    {"geq", Action::kReplace, "\\ge"}, {"geqslant", Action::kReplace, "\\ge"},
    {"neq", Action::kReplace, "\\ne"}, {"lt", Action::kReplace, "<"},
    {"gt", Action::kReplace, ">"}, {"approx", Action::kReplace, "="},
    {"lbrace", Action::kReplace, "\\{"}, {"rbrace", Action::kReplace, "\\}"},
    {"lvert", Action::kReplace, "|"}, {"rvert", Action::kReplace, "|"},
    {"vert", Action::kReplace, "|"}, {"lbrack", Action::kReplace, "["},
    {"rbrack", Action::kReplace, "]"}, {"langle", Action::kReplace, "("},
    {"rangle", Action::kReplace, ")"}, {"emptyset", Action::kReplace, "\\{\\}"},
    {"varnothing", Action::kReplace, "\\{\\}"}, {"infin", Action::kReplace, "\\infty"},
    {"land", Action::kReplace, " and "}, {"lor", Action::kReplace, " or "},
    {"text", Action::kWrapper}, {"textbf", Action::kWrapper},
    {"textit", Action::kWrapper}, {"textrm", Action::kWrapper},
    {"textsf", Action::kWrapper}, {"texttt", Action::kWrapper},
    {"textnormal", Action::kWrapper}, {"textup", Action::kWrapper},
    {"mathrm", Action::kWrapper}, {"mathbf", Action::kWrapper},
    {"mathit", Action::kWrapper}, {"mathsf", Action::kWrapper},
    {"mathtt", Action::kWrapper}, {"mathnormal", Action::kWrapper},
    {"mathbb", Action::kWrapper}, {"mathcal", Action::kWrapper},
    {"mbox", Action::kWrapper}, {"hbox", Action::kWrapper},
    {"operatorname", Action::kWrapper}, {"boldsymbol", Action::kWrapper},
    {"bm", Action::kWrapper}, {"emph", Action::kWrapper},
    {"boxed", Action::kWrapper}, {"fbox", Action::kWrapper},
};

const CommandRule* FindRule(absl::string_view name) {
  for (const CommandRule& rule : kCommandRules) {
    if (rule.name == name) return &rule;
  }
  return nullptr;
}

// UTF-8 sequences models often emit, mapped to the ASCII dialect. Commands get
// a trailing space so that "πr" does not become the command "\pir". The
// Unicode root applies to the whole following number ("√16" = 4), unlike
// LaTeX's \sqrt16, so it maps to the plain-text function name.
struct UnicodeRule {
  absl::string_view utf8;
  absl::string_view replacement;
};

constexpr UnicodeRule kUnicodeRules[] = {
    {"\u2212", "-"},  {"\u2013", "-"},       {"\u00d7", "*"},       {"\u00f7", "/"},
    {"\u00b7", "*"},  {"\u22c5", "*"},       {"\u2217", "*"},       {"\u221a", " sqrt "},
    {"\u03c0", "\\pi "}, {"\u221e", "\\infty "}, {"\u2264", "\\le "}, {"\u2265", "\\ge "},
    {"\u2260", "\\ne "}, {"\u00b0", ""},     {"\u00b1", "\\pm "},   {"\u2213", "\\mp "},
    {"\u222a", "\\cup "}, {"\u2208", "\\in "}, {"\u2205", "\\{\\}"}, {"\u00a0", " "},
    {"\u2009", " "},  {"\u202f", " "},       {"\u2002", " "},       {"\u2003", " "},
};

class Normalizer {
 public:
  explicit Normalizer(absl::string_view in) : in_(in) { out_.reserve(in.size()); }

  std::string Run() {
    while (i_ < in_.size()) {
      const char c = in_[i_];
      if (c == '\\') {
        Command();
      } else if (c == '{') {
        OpenBrace();
      } else if (c == '}') {
        ++i_;
        // A brace that closes a \text{...} wrapper becomes a space.
        if (!brace_is_wrapper_.empty()) {
          const bool wrapper = brace_is_wrapper_.back();
          brace_is_wrapper_.pop_back();
          if (wrapper) {
            Space();
            continue;
          }
        }
        out_.push_back('}');
      } else if (c == '^') {
        Superscript();
      } else if (c == '$') {
        ++i_;
      } else if (c == '~' || IsSpace(c)) {
        ++i_;
        Space();
      } else if (static_cast<unsigned char>(c) >= 0x80) {
        Unicode();
      } else {
        out_.push_back(c);
        ++i_;
      }
    }
    return std::move(out_);
  }

 private:
  void Space() {
    if (!out_.empty() && out_.back() != ' ') out_.push_back(' ');
  }
  void SkipSpaces() {
    while (i_ < in_.size() && IsSpace(in_[i_])) ++i_;
  }

  void Command() {
    if (i_ + 1 >= in_.size()) {  // a lone trailing backslash
      ++i_;
      return;
    }
    const char d = in_[i_ + 1];
    if (!IsLetter(d)) {
      i_ += 2;
      switch (d) {
        case ',': case '!': case '$':  // thin space (also a thousands separator), \$
          return;
        case ';': case ':': case ' ': case '\\': case '\n': case '&':
          Space();
          return;
        case '(': case ')': case '[': case ']':  // math delimiters \( \) \[ \]
          return;
        case '%':
          out_.push_back('%');
          return;
        case '|':
          out_.push_back('|');
          return;
        default:  // \{ \} and anything else the parser may know
          out_.push_back('\\');
          out_.push_back(d);
          return;
      }
    }
    size_t end = i_ + 1;
    while (end < in_.size() && IsLetter(in_[end])) ++end;
    const absl::string_view name = in_.substr(i_ + 1, end - i_ - 1);
    i_ = end;
    const CommandRule* rule = FindRule(name);
    if (rule == nullptr) {
      out_.push_back('\\');
      out_.append(name.data(), name.size());
      return;
    }
    switch (rule->action) {
      case Action::kDrop:
        return;
      case Action::kSpace:
        Space();
        return;
      case Action::kReplace:
        out_.append(rule->replacement.data(), rule->replacement.size());
        return;
      case Action::kDelimiter:
        SkipSpaces();
        if (i_ < in_.size() && in_[i_] == '.') ++i_;
        return;
      case Action::kWrapper:
        SkipSpaces();
        if (i_ < in_.size() && in_[i_] == '{') {
          ++i_;
          if (rule->name != "boxed" && rule->name != "fbox" && SkipTextUnit()) return;
          brace_is_wrapper_.push_back(true);
        }
        Space();
        return;
    }
  }

  // At the content of a wrapper such as \text{: "5 \text{ m}", "5\,\mathrm{m/s}".
  // Short words right after a quantity are a unit, single letters included,
  // and are dropped with their braces. The scan stops after kMaxUnit bytes,
  // so it costs O(1) per wrapper.
  bool SkipTextUnit() {
    constexpr size_t kMaxUnit = 32;
    size_t k = i_;
    while (k < in_.size() && k - i_ <= kMaxUnit &&
           (IsLetter(in_[k]) || IsDigit(in_[k]) || in_[k] == ' ' || in_[k] == '/' ||
            in_[k] == '.' || in_[k] == '^')) {
      ++k;
    }
    if (k >= in_.size() || in_[k] != '}') return false;
    const absl::string_view unit = absl::StripAsciiWhitespace(in_.substr(i_, k - i_));
    if (unit.empty() || !IsLetter(unit[0]) || unit == "e" ||
        absl::EqualsIgnoreCase(unit, "and") || absl::EqualsIgnoreCase(unit, "or")) {
      return false;
    }
    size_t end = out_.size();
    while (end > 0 && out_[end - 1] == ' ') --end;
    if (end == 0) return false;
    const char last = out_[end - 1];
    if (!IsDigit(last) && last != ')' && last != '}' && last != ']' && last != '%') return false;
    i_ = k + 1;
    // The unit's power goes with it: "5\text{ cm}^2" is 5, not 25.
    size_t p = i_;
    while (p < in_.size() && IsSpace(in_[p])) ++p;
    if (p < in_.size() && in_[p] == '^') {
      const absl::string_view power = in_.substr(p + 1, 3);
      if (!power.empty() && IsDigit(power[0])) {
        i_ = p + 2;
      } else if (power.size() == 3 && power[0] == '{' && IsDigit(power[1]) && power[2] == '}') {
        i_ = p + 4;
      }
    }
    Space();
    return true;
  }

  void OpenBrace() {
    // "1{,}234": LaTeX's thousands separator; elsewhere {,} is a comma.
    if (in_.substr(i_, 3) == "{,}") {
      i_ += 3;
      const bool between_digits = !out_.empty() && IsDigit(out_.back()) &&
                                  i_ < in_.size() && IsDigit(in_[i_]);
      if (!between_digits) out_.push_back(',');
      return;
    }
    ++i_;
    brace_is_wrapper_.push_back(false);
    out_.push_back('{');
  }

  // "^\circ", "^{\circ}": degrees, dropped (90^\circ = 90).
  void Superscript() {
    size_t k = i_ + 1;
    while (k < in_.size() && IsSpace(in_[k])) ++k;
    const bool braced = k < in_.size() && in_[k] == '{';
    if (braced) {
      ++k;
      while (k < in_.size() && IsSpace(in_[k])) ++k;
    }
    if (in_.substr(k, 5) == "\\circ" && (k + 5 >= in_.size() || !IsLetter(in_[k + 5]))) {
      k += 5;
      while (k < in_.size() && IsSpace(in_[k])) ++k;
      if (!braced) {
        i_ = k;
        return;
      }
      if (k < in_.size() && in_[k] == '}') {
        i_ = k + 1;
        return;
      }
    }
    out_.push_back('^');
    ++i_;
  }

  void Unicode() {
    const absl::string_view rest = in_.substr(i_);
    for (const UnicodeRule& rule : kUnicodeRules) {
      if (rule.utf8[0] == rest[0] && absl::StartsWith(rest, rule.utf8)) {  // lead byte first: cheap on binary input
        i_ += rule.utf8.size();
        out_.append(rule.replacement.data(), rule.replacement.size());
        return;
      }
    }
    out_.push_back(in_[i_++]);  // anything else passes through; the parser rejects it
  }

  const absl::string_view in_;
  size_t i_ = 0;
  std::string out_;
  std::vector<bool> brace_is_wrapper_;  // one entry per open '{'
};

// Latin-1 so that arbitrary bytes in the answer are just characters.
RE2::Options Latin1CaseInsensitive() {
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_case_sensitive(false);
  options.set_log_errors(false);
  return options;
}

// Units after a quantity ("5 cm", "5cm^2", "12 square feet") carry no value
// for equivalence. Only multi-letter names: a single letter is a variable.
const RE2& UnitPattern() {
  static const RE2* const kPattern = new RE2(
      "(^|[^a-z\\\\])(?:(?:square|sq\\.?|cubic)\\s+)?"
      "(?:cm|mm|km|centimet(?:er|re)s?|millimet(?:er|re)s?|kilomet(?:er|re)s?|"
      "met(?:er|re)s?|inch(?:es)?|feet|foot|ft|yards?|yds?|miles?|kg|kilograms?|"
      "grams?|mg|pounds?|lbs?|ounces?|oz|lit(?:er|re)s?|ml|gallons?|seconds?|"
      "minutes?|hours?|hrs?|days?|weeks?|months?|years?|dollars?|cents?|euros?|"
      "units?|degrees?|radians?|mph)"
      "(?:\\s*\\^\\s*\\{?\\s*[23]\\s*\\}?)?($|[^a-z])",
      Latin1CaseInsensitive());
  return *kPattern;
}

const RE2& PercentWordPattern() {
  static const RE2* const kPattern =
      new RE2("(^|[^a-z])percent($|[^a-z])", Latin1CaseInsensitive());
  return *kPattern;
}

// "5 apples": up to three trailing words (three letters or more, not math
// names) after a number or a closing bracket are units too.
void StripTrailingWords(std::string& s) {
  size_t end = s.size();
  for (int words = 0; words < 3; ++words) {
    while (end > 0 && s[end - 1] == ' ') --end;
    size_t start = end;
    while (start > 0 && IsLetter(s[start - 1])) --start;
    const absl::string_view word(s.data() + start, end - start);
    if (word.size() < 3 || IsMathName(word) || absl::EqualsIgnoreCase(word, "and")) return;  // "or" is short
    if (start == 0 || s[start - 1] != ' ') return;
    size_t before = start;
    while (before > 0 && s[before - 1] == ' ') --before;
    if (before == 0) return;
    const char prev = s[before - 1];
    if (IsDigit(prev) || prev == ')' || prev == '}' || prev == ']' || prev == '%') {
      s.resize(before);
      return;
    }
    if (!IsLetter(prev)) return;
    end = before;  // another word before this one: try it as part of the unit
  }
}

}  // namespace

std::string NormalizeAnswer(absl::string_view text) {
  std::string s = Normalizer(text).Run();
  RE2::GlobalReplace(&s, PercentWordPattern(), "\\1%\\2");
  RE2::GlobalReplace(&s, UnitPattern(), "\\1 \\2");
  StripTrailingWords(s);
  // Trailing sentence punctuation and spaces: "5." is 5.
  while (!s.empty() && (s.back() == ' ' || s.back() == '.')) s.pop_back();
  size_t first = 0;
  while (first < s.size() && s[first] == ' ') ++first;
  s.erase(0, first);
  return s;
}

}  // namespace r1::reward::math_internal
