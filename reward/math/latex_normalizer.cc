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

// Between two digits, Run() leaves these markers for ResolveDigitGroups(),
// which removes them when the digits form a grouped number ("32{,}349",
// "1\,000\,000") and otherwise turns them back into a space or a comma. Raw
// control bytes in the input are mapped to kControl first, so the markers
// cannot be forged.
constexpr char kThinMark = '\x01';   // \, or \! between digits
constexpr char kCommaMark = '\x02';  // {,} or ,\! between digits
constexpr char kControl = '\x7f';    // any other control byte: the parser rejects it

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

// "am", "PM", "a.m.", "p. m.": the half of a 12-hour clock time.
bool IsMeridiem(absl::string_view word) {
  std::string letters;
  for (char c : word) {
    if (IsLetter(c)) {
      letters.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
    } else if (c != '.' && c != ' ') {
      return false;
    }
    if (letters.size() > 2) return false;
  }
  return letters == "am" || letters == "pm";
}

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
      } else if (c == ',' && in_.substr(i_ + 1, 2) == "\\!" && DigitBefore() &&
                 DigitAfter(i_ + 3)) {
        i_ += 3;  // "32,\!349" and "11,\! 111": LaTeX's thousands comma
        SkipSpaces();
        out_.push_back(kCommaMark);
      } else if (static_cast<unsigned char>(c) < 0x20) {
        out_.push_back(kControl);
        ++i_;
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
  // The output so far ends with a digit, a space aside (spaces never run
  // long in out_; looking at two bytes keeps this O(1) regardless).
  bool DigitBefore() const {
    size_t end = out_.size();
    if (end > 0 && out_[end - 1] == ' ') --end;
    return end > 0 && IsDigit(out_[end - 1]);
  }
  // The input from `k` on starts with a digit, whitespace aside.
  bool DigitAfter(size_t k) const {
    while (k < in_.size() && IsSpace(in_[k])) ++k;
    return k < in_.size() && IsDigit(in_[k]);
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
        case ',': case '!':
          // Between digits a thin space may group thousands ("1\,000");
          // elsewhere it is dropped ("\! 5", "5\,\text{m}").
          if (DigitBefore() && DigitAfter(i_)) out_.push_back(kThinMark);
          return;
        case '$':  // \$
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
    // "9:30\text{ PM}" keeps its PM: a clock time, not a unit.
    if (IsMeridiem(unit) && end >= 3 && out_[end - 3] == ':') return false;
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
    // "1{,}234", "14 {, }916": LaTeX's thousands comma; elsewhere {,} is a comma.
    size_t k = i_ + 1;
    while (k < in_.size() && IsSpace(in_[k])) ++k;
    if (k < in_.size() && in_[k] == ',') {
      ++k;
      while (k < in_.size() && IsSpace(in_[k])) ++k;
      if (k < in_.size() && in_[k] == '}') {
        i_ = k + 1;
        if (DigitBefore() && DigitAfter(i_)) {
          while (!out_.empty() && out_.back() == ' ') out_.pop_back();
          SkipSpaces();
          out_.push_back(kCommaMark);
        } else {
          out_.push_back(',');
        }
        return;
      }
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
        // Spaces collapse like ASCII ones, so the output never holds a run of
        // spaces that a backward look (DigitBefore, SkipTextUnit) would rescan.
        if (rule.replacement == " ") {
          Space();
        } else {
          out_.append(rule.replacement.data(), rule.replacement.size());
        }
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

size_t DigitRun(absl::string_view s, size_t i) {
  size_t end = i;
  while (end < s.size() && IsDigit(s[end])) ++end;
  return end - i;
}

// ---- grouped numbers: "1\,000", "32{,}349", "1 000 000", "3.141\,592" ----

// A character before a number's first digit that makes the digits part of
// something else: a decimal or a name ("x_1 000", "2^1 000"), a fraction
// ("1/2 000"), a clock time ("12:00 000") or a list ("1,000 000").
bool BlocksGroupingBefore(char c) {
  return IsLetter(c) || c == '.' || c == '_' || c == '^' || c == '/' || c == '\\' || c == ':' ||
         c == ',';
}

// Removes the separators of a grouped number: the integer part is 1-3 digits
// (no leading zero) and then groups of exactly 3; a grouped fraction has groups
// of 3 and a last one of 1-3. Separators are kThinMark, kCommaMark (integer
// part only) or one plain space; a number grouped with plain spaces must not be
// followed by '/' or '^' ("2 100/3" stays a mixed number). Anything else keeps
// its text, with kThinMark as a space and kCommaMark as a comma, so "2\,3" is
// "2 3" (unparsable), not 23. One pass; each byte is looked at twice at most.
std::string ResolveDigitGroups(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (!IsDigit(s[i])) {
      if (s[i] == kCommaMark) {
        out.push_back(',');
      } else if (s[i] != kThinMark) {
        out.push_back(s[i]);
      }
      ++i;
      continue;
    }
    // A number starts here: digit runs are consumed whole, so s[i - 1] is no digit.
    const size_t start = i;
    bool ok = start == 0 || !BlocksGroupingBefore(s[start - 1]);
    const bool first_short = s[i] != '0' && DigitRun(s, i) <= 3;
    bool plain = false;        // some separator is a bare space
    bool separated = false;    // some separator at all
    bool fraction = false;     // past the '.'
    int groups = 0;            // groups completed in the current part
    size_t group = DigitRun(s, i);
    i += group;
    // A group that a separator or the '.' ends: only the integer part's first
    // group may have other than 3 digits.
    auto complete = [&]() {
      if ((fraction || groups > 0) && group != 3) ok = false;
      ++groups;
    };
    while (i < s.size()) {
      if (!fraction && s[i] == '.' && i + 1 < s.size() && IsDigit(s[i + 1])) {
        if (groups > 0) complete();  // the integer part was grouped
        fraction = true;
        groups = 0;
        group = DigitRun(s, i + 1);
        i += 1 + group;
        continue;
      }
      size_t k = i;
      int marks = 0;
      bool comma = false;
      while (k < s.size() && (s[k] == ' ' || s[k] == kThinMark || s[k] == kCommaMark)) {
        if (s[k] != ' ') {
          ++marks;
          comma = comma || s[k] == kCommaMark;
        }
        ++k;
      }
      if (k == i || k >= s.size() || !IsDigit(s[k])) break;
      if (marks > 1 || (comma && fraction)) ok = false;
      if (marks == 0) plain = true;
      if (!fraction && groups == 0 && !first_short) ok = false;
      separated = true;
      complete();
      group = DigitRun(s, k);
      i = k + group;
    }
    // The last group: in a grouped integer part exactly 3, in a grouped fraction 1-3.
    if (groups > 0 && (fraction ? group > 3 : group != 3)) ok = false;
    if (plain && i < s.size() && (s[i] == '/' || s[i] == '^')) ok = false;
    if (i < s.size() && (s[i] == '_' || s[i] == ':')) ok = false;
    for (size_t k = start; k < i;) {
      if (IsDigit(s[k]) || s[k] == '.') {
        out.push_back(s[k++]);
        continue;
      }
      bool comma = false;  // a separator run
      while (k < i && (s[k] == ' ' || s[k] == kThinMark || s[k] == kCommaMark)) {
        comma = comma || s[k] == kCommaMark;
        ++k;
      }
      if (!(ok && separated)) out.push_back(comma ? ',' : ' ');
    }
  }
  return out;
}

// ---- clock times, base-n numerals: compared as opaque words ----
//
// The parser has no such values, so they become one lower-case word that
// the verifier compares as text: equal to the same time or numeral, and
// never to a number ("12:00" != 12, "204_5" != 54). A word is letters only;
// digit d is written as the letter 'a' + d.

void AppendDigitLetters(int value, int width, std::string* out) {
  char letters[8];
  for (int k = width - 1; k >= 0; --k) {
    letters[k] = static_cast<char>('a' + value % 10);
    value /= 10;
  }
  out->append(letters, width);
}

// Where a time or a numeral may start and end.
bool OpensToken(absl::string_view s, size_t i) {
  if (i == 0) return true;
  const char c = s[i - 1];
  return c == ' ' || c == '(' || c == '[' || c == '{' || c == ',' || c == ';' || c == '=';
}
bool ClosesToken(absl::string_view s, size_t i) {
  if (i >= s.size()) return true;
  const char c = s[i];
  return c == ' ' || c == ')' || c == ']' || c == '}' || c == ',' || c == ';' || c == '\\' ||
         c == '=';
}

// "9:30", "09:30", "9:30:15", "9:30 PM", "9:30pm", "9:30 p.m": hours 0-23
// (1-12 with AM/PM), minutes and seconds 00-59. A time with AM/PM, or
// without one and an hour of 0 or 13-23, is a time of day on the 24-hour
// clock: "9:30 PM" = "21:30", "12:05 AM" = "0:05". Without AM/PM an hour of
// 1-12 could be either half of the day, so such a time equals only itself
// unmarked: "9:30" = "09:30" but != "9:30 AM" and != "9:30 PM".
// Returns the end of the time at s[i] (0 when there is none); `ambiguous`
// says whether it is such an unmarked 1-12 time.
size_t MatchClockTime(absl::string_view s, size_t i, int* seconds_of_day, bool* ambiguous) {
  const size_t hour_digits = DigitRun(s, i);
  if (hour_digits < 1 || hour_digits > 2) return 0;
  int hour = 0;
  for (size_t k = i; k < i + hour_digits; ++k) hour = hour * 10 + (s[k] - '0');
  size_t k = i + hour_digits;
  int parts[2] = {0, 0};
  int count = 0;
  while (count < 2 && k < s.size() && s[k] == ':' && DigitRun(s, k + 1) == 2) {
    parts[count++] = (s[k + 1] - '0') * 10 + (s[k + 2] - '0');
    k += 3;
  }
  if (count == 0 || parts[0] > 59 || parts[1] > 59) return 0;
  if (k < s.size() && (s[k] == ':' || IsDigit(s[k]))) return 0;
  // An optional AM/PM.
  size_t m = k;
  if (m < s.size() && s[m] == ' ') ++m;
  int meridiem = 0;  // 1: AM, 2: PM
  if (m < s.size()) {
    const char half = absl::ascii_tolower(static_cast<unsigned char>(s[m]));
    if (half == 'a' || half == 'p') {
      size_t n = m + 1;
      if (n < s.size() && s[n] == '.') ++n;
      if (n < s.size() && s[n] == ' ') ++n;
      if (n < s.size() && (s[n] == 'm' || s[n] == 'M')) {
        ++n;
        if (n < s.size() && s[n] == '.') ++n;
        if (ClosesToken(s, n)) {
          meridiem = half == 'a' ? 1 : 2;
          k = n;
        }
      }
    }
  }
  if (!ClosesToken(s, k)) return 0;
  *ambiguous = false;
  if (meridiem != 0) {
    if (hour < 1 || hour > 12) return 0;
    hour = hour % 12 + (meridiem == 2 ? 12 : 0);
  } else if (hour > 23) {
    return 0;
  } else {
    *ambiguous = hour >= 1 && hour <= 12;
  }
  *seconds_of_day = (hour * 60 + parts[0]) * 60 + parts[1];
  return k;
}

// A digit of a numeral in a base up to 16: 0-9, A-F or a-f; -1 otherwise.
int HexDigitValue(char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// "204_5", "204_{5}", "(204)_5", "1A_{16}", "A3_{16}", "a3_16": digits valid
// in the base (2-16; A-F in either case, each below the base). Digits that
// are letters only must be two or more capitals ("FF_{16}"): "a_{16}",
// "c_{12}", "ab_{16}" and "A_{16}" stay subscripted variables. Base 10 is an
// ordinary number ("54_{10}" = 54); other bases compare by base and value
// only, never with a decimal number: a model that echoes the question's
// "convert 54 to base 5" or "convert 204_5 to base 10" is not rewarded.
// Returns the end, or 0.
size_t MatchBaseNumeral(absl::string_view s, size_t i, std::string* word) {
  const bool parenthesized = s[i] == '(';
  size_t k = parenthesized ? i + 1 : i;
  if (k >= s.size() || HexDigitValue(s[k]) < 0) return 0;
  const size_t digits_begin = k;
  bool decimal_digit = false, lower_case = false;
  while (k < s.size() && HexDigitValue(s[k]) >= 0) {
    decimal_digit |= IsDigit(s[k]);
    lower_case |= s[k] >= 'a';
    ++k;
  }
  const absl::string_view digits = s.substr(digits_begin, k - digits_begin);
  if (!decimal_digit && (lower_case || digits.size() < 2)) return 0;
  if (parenthesized) {
    if (k >= s.size() || s[k] != ')') return 0;
    ++k;
  }
  if (k >= s.size() || s[k] != '_') return 0;
  ++k;
  const bool braced = k < s.size() && s[k] == '{';
  if (braced) {
    ++k;
    while (k < s.size() && s[k] == ' ') ++k;
  }
  const size_t base_digits = DigitRun(s, k);
  if (base_digits < 1 || base_digits > 2) return 0;
  const int base = base_digits == 1 ? s[k] - '0' : (s[k] - '0') * 10 + (s[k + 1] - '0');
  k += base_digits;
  if (braced) {
    while (k < s.size() && s[k] == ' ') ++k;
    if (k >= s.size() || s[k] != '}') return 0;
    ++k;
  }
  if (!ClosesToken(s, k) || base < 2 || base > 16) return 0;
  std::string canonical;
  for (char c : digits) {
    const int value = HexDigitValue(c);
    if (value >= base) return 0;
    if (canonical.empty() && value == 0) continue;  // leading zeros
    canonical.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
  }
  if (canonical.empty()) canonical = "0";
  if (base == 10) {
    *word = std::move(canonical);
    return k;
  }
  *word = "basenumeral";
  AppendDigitLetters(base, 2, word);
  word->push_back('z');
  for (char c : canonical) word->push_back(IsDigit(c) ? 'a' + (c - '0') : 'k' + (c - 'A'));
  return k;
}

std::string ReadClockTimesAndBases(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::string word;
  for (size_t i = 0; i < s.size();) {
    if ((HexDigitValue(s[i]) >= 0 || s[i] == '(') && OpensToken(s, i)) {
      int seconds = 0;
      bool ambiguous = false;
      if (size_t end = MatchClockTime(s, i, &seconds, &ambiguous); end != 0) {
        out.append(ambiguous ? "clocktimeu" : "clocktimev");
        AppendDigitLetters(seconds, 5, &out);
        i = end;
        continue;
      }
      if (size_t end = MatchBaseNumeral(s, i, &word); end != 0) {
        out.append(word);
        i = end;
        continue;
      }
    }
    out.push_back(s[i++]);
  }
  return out;
}

// ---- multiple choice ----

// A single capital letter standing alone ("C", "(C)", "C)"), or a
// parenthesized single letter: another choice inside option text.
bool MentionsAnotherChoice(absl::string_view rest) {
  for (size_t k = 0; k < rest.size(); ++k) {
    if (!IsLetter(rest[k])) continue;
    const bool alone = (k == 0 || !IsLetter(rest[k - 1])) &&
                       (k + 1 >= rest.size() || !IsLetter(rest[k + 1]));
    if (!alone) continue;
    if (absl::ascii_isupper(static_cast<unsigned char>(rest[k]))) return true;
    if (k > 0 && rest[k - 1] == '(' && (k < 2 || !IsLetter(rest[k - 2])) &&
        k + 1 < rest.size() && rest[k + 1] == ')') {
      return true;
    }
  }
  const std::string lower = absl::AsciiStrToLower(rest);
  return absl::StrContains(lower, "option") || absl::StrContains(lower, "choice");
}

// Option text starts like a value or a word: "(A) 42", "(A) \frac12",
// "(A) Monday". "(A) + 1", "(A) = 5", "(A) \le 2" and "(A) or ..." go on
// with math or a hedge, so the letter is not taken alone.
bool StartsOptionText(absl::string_view rest) {
  if (rest.empty()) return false;
  const char c = rest[0];
  if (IsLetter(c)) {
    size_t end = 0;
    while (end < rest.size() && IsLetter(rest[end])) ++end;
    const absl::string_view word = rest.substr(0, end);
    return !absl::EqualsIgnoreCase(word, "or") && !absl::EqualsIgnoreCase(word, "and");
  }
  if (IsDigit(c) || c == '(' || c == '[') return true;
  if (c == '\\' && rest.size() > 1) {
    if (rest[1] == '{') return true;
    size_t end = 1;
    while (end < rest.size() && IsLetter(rest[end])) ++end;
    const absl::string_view name = rest.substr(1, end - 1);
    return name == "frac" || name == "sqrt" || name == "pi" || name == "binom" ||
           name == "infty";
  }
  return false;
}

// "(B)", "B)", "Option B", "choice (B)", "(B) 42", "B) \frac{1}{2}": the
// letter of a multiple-choice option (A-J) is the answer; option text after
// "(B)" or "B)" is dropped unless it names another choice ("(B) or (C)").
// Everything else is returned unchanged.
std::string ReadChoiceLetter(std::string s) {
  size_t k = 0;
  bool prefixed = false;
  for (absl::string_view word : {"option", "choice"}) {
    if (s.size() > word.size() && absl::EqualsIgnoreCase(s.substr(0, word.size()), word) &&
        (s[word.size()] == ' ' || s[word.size()] == '(')) {
      k = word.size();
      if (s[k] == ' ') ++k;
      prefixed = true;
      break;
    }
  }
  const bool open = k < s.size() && s[k] == '(';
  if (open) ++k;
  if (k >= s.size() || s[k] < 'A' || s[k] > 'J') return s;
  const char letter = s[k++];
  const bool close = k < s.size() && s[k] == ')';
  if (close) ++k;
  if (open && !close) return s;
  if (k == s.size()) {
    if (!prefixed && !close) return s;  // a bare letter: already itself
    return std::string(1, letter);
  }
  if (!close || s[k] != ' ') return s;
  const absl::string_view rest = absl::string_view(s).substr(k + 1);
  if (!StartsOptionText(rest) || MentionsAnotherChoice(rest)) return s;
  return std::string(1, letter);
}

}  // namespace

std::string NormalizeAnswer(absl::string_view text) {
  std::string s = ResolveDigitGroups(Normalizer(text).Run());
  RE2::GlobalReplace(&s, PercentWordPattern(), "\\1%\\2");
  RE2::GlobalReplace(&s, UnitPattern(), "\\1 \\2");
  StripTrailingWords(s);
  // Trailing sentence punctuation and spaces: "5." is 5.
  while (!s.empty() && (s.back() == ' ' || s.back() == '.')) s.pop_back();
  size_t first = 0;
  while (first < s.size() && s[first] == ' ') ++first;
  s.erase(0, first);
  return ReadChoiceLetter(ReadClockTimesAndBases(s));
}

std::string ReadDecimalComma(absl::string_view answer, absl::string_view gold) {
  // The gold: one decimal literal with a point, such as "3.5" or "-0.25".
  size_t g = !gold.empty() && gold[0] == '-' ? 1 : 0;
  const size_t gold_int = DigitRun(gold, g);
  g += gold_int;
  if (g >= gold.size() || gold[g] != '.' || DigitRun(gold, g + 1) != gold.size() - g - 1 ||
      g + 1 == gold.size()) {
    return std::string(answer);
  }
  // The answer: digits, one comma, digits; not a thousands comma.
  size_t a = !answer.empty() && answer[0] == '-' ? 1 : 0;
  const size_t left = DigitRun(answer, a);
  if (left == 0 || a + left >= answer.size() || answer[a + left] != ',') return std::string(answer);
  const size_t right = DigitRun(answer, a + left + 1);
  if (right == 0 || a + left + 1 + right != answer.size()) return std::string(answer);
  if (left <= 3 && answer[a] != '0' && right == 3) return std::string(answer);  // "1,234"
  std::string decimal(answer);
  decimal[a + left] = '.';
  return decimal;
}

}  // namespace r1::reward::math_internal
