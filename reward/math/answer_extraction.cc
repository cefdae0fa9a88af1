#include "reward/math/answer_extraction.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "re2/re2.h"

namespace r1::reward {
namespace {

constexpr size_t kNpos = absl::string_view::npos;
constexpr absl::string_view kBoxedCommands[] = {"\\boxed", "\\fbox"};
constexpr absl::string_view kThinkOpen = "<think>", kThinkClose = "</think>";

bool IsAsciiLetter(char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

ExtractedAnswer Found(absl::string_view text, absl::string_view source) {
  ExtractedAnswer out;
  out.found = true;
  out.text = std::string(absl::StripAsciiWhitespace(text));
  out.source = std::string(source);
  return out;
}

ExtractedAnswer NotFound(absl::string_view reason) {
  ExtractedAnswer out;
  out.reason = std::string(reason);
  return out;
}

std::string JoinParts(const std::vector<absl::string_view>& parts) {
  std::string out;
  for (absl::string_view part : parts) {
    if (!out.empty()) out += ", ";
    absl::StrAppend(&out, absl::StripAsciiWhitespace(part));
  }
  return out;
}

// Whether s[i, ...) is `word` (lower case; s compared ignoring ASCII case)
// standing alone: no letter right before or after it inside s.
bool IsWordAt(absl::string_view s, size_t i, absl::string_view word) {
  if (i + word.size() > s.size()) return false;
  if (i > 0 && IsAsciiLetter(s[i - 1])) return false;
  if (!absl::EqualsIgnoreCase(s.substr(i, word.size()), word)) return false;
  const size_t after = i + word.size();
  return after >= s.size() || !IsAsciiLetter(s[after]);
}

// ---- separators between the parts of one answer ----

// Length of the plain separator at s[i] (whitespace, ',', ';', "and", "or"),
// or 0.
size_t PlainSeparatorAt(absl::string_view s, size_t i) {
  const char c = s[i];
  if (IsSpace(c) || c == ',' || c == ';') return 1;
  if (IsWordAt(s, i, "and")) return 3;
  if (IsWordAt(s, i, "or")) return 2;
  return 0;
}

bool IsPlainSeparatorRun(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = PlainSeparatorAt(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

constexpr absl::string_view kSpacingCommands[] = {"\\qquad", "\\quad"};  // whole commands
constexpr absl::string_view kSpacingSymbols[] = {"\\,", "\\;", "\\:", "\\ ", "\\\\"};
constexpr absl::string_view kMathDelimiters[] = {"\\(", "\\)", "\\[", "\\]"};
constexpr absl::string_view kTextCommands[] = {"\\text{", "\\textrm{", "\\textnormal{", "\\mbox{"};

// Length of the LaTeX separator at s[i] (spacing, a line break, \text{ and },
// and with math_delimiters \( \) \[ \]), or 0.
size_t CommandSeparatorAt(absl::string_view s, size_t i, bool math_delimiters) {
  const absl::string_view rest = s.substr(i);
  for (absl::string_view command : kSpacingCommands) {
    if (absl::StartsWith(rest, command) &&
        (rest.size() == command.size() || !IsAsciiLetter(rest[command.size()]))) {
      return command.size();
    }
  }
  for (absl::string_view symbol : kSpacingSymbols) {
    if (absl::StartsWith(rest, symbol)) return symbol.size();
  }
  if (math_delimiters) {
    for (absl::string_view delimiter : kMathDelimiters) {
      if (absl::StartsWith(rest, delimiter)) return delimiter.size();
    }
  }
  for (absl::string_view command : kTextCommands) {
    if (!absl::StartsWith(rest, command)) continue;
    const size_t close = rest.find_first_of("{}", command.size());
    if (close == kNpos || rest[close] != '}') return 0;
    const absl::string_view inner = rest.substr(command.size(), close - command.size());
    return IsPlainSeparatorRun(inner) ? close + 1 : 0;
  }
  return 0;
}

// Whether `s`, the text between two boxes (math_delimiters: '$', \( \) \[ \]
// count too) or two math spans, holds nothing but separators. It stops at
// the first byte that is none, so the cost is at most the length of `s`.
bool IsSeparatorRun(absl::string_view s, bool math_delimiters) {
  for (size_t i = 0; i < s.size();) {
    size_t n = PlainSeparatorAt(s, i);
    if (n == 0 && math_delimiters && s[i] == '$') n = 1;
    if (n == 0 && s[i] == '\\') n = CommandSeparatorAt(s, i, math_delimiters);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// ---- boxes ----

// Length of the box command (\boxed, \fbox) starting at text[at], or 0. A
// longer command ("\boxedx") is not one.
size_t BoxCommandAt(absl::string_view text, size_t at) {
  for (absl::string_view command : kBoxedCommands) {
    if (text.substr(at, command.size()) != command) continue;
    const size_t after = at + command.size();
    if (after >= text.size() || !IsAsciiLetter(text[after])) return command.size();
  }
  return 0;
}

// Start of the last box command that starts before `end`, or kNpos; *size
// gets its length. The cost is the distance scanned back.
size_t LastBoxCommand(absl::string_view text, size_t end, size_t* size) {
  while (end > 0) {
    const size_t at = text.rfind('\\', end - 1);
    if (at == kNpos) return kNpos;
    if (const size_t n = BoxCommandAt(text, at); n > 0) {
      *size = n;
      return at;
    }
    end = at;
  }
  return kNpos;
}

enum class ArgumentStatus { kOk, kEmpty, kUnclosed };

struct BoxArgument {
  ArgumentStatus status = ArgumentStatus::kUnclosed;
  absl::string_view content;
  size_t end = 0;  // one past the argument
};

// The argument of the box command at text[at] (`size` bytes), read forward
// no further than `limit`. Braces are matched with a counter, never
// recursion; "\{", "\}" and "\\" are escapes. Without a brace the argument
// is one token, up to whitespace or '$' ("\boxed 5").
BoxArgument ParseBoxArgument(absl::string_view text, size_t at, size_t size, size_t limit) {
  BoxArgument argument;
  size_t i = at + size;
  while (i < limit && IsSpace(text[i])) ++i;
  if (i < limit && text[i] == '{') {
    size_t depth = 0;
    const size_t open = i;
    for (; i < limit; ++i) {
      const char c = text[i];
      if (c == '\\' && i + 1 < limit && (text[i + 1] == '{' || text[i + 1] == '}' || text[i + 1] == '\\')) {
        ++i;
      } else if (c == '{') {
        ++depth;
      } else if (c == '}' && --depth == 0) {
        argument.content = text.substr(open + 1, i - open - 1);
        argument.end = i + 1;
        break;
      }
    }
    if (i >= limit) return argument;  // kUnclosed
  } else {
    const size_t start = i;
    while (i < limit && !IsSpace(text[i]) && text[i] != '$') ++i;
    argument.content = text.substr(start, i - start);
    argument.end = i;
  }
  argument.status = absl::StripAsciiWhitespace(argument.content).empty() ? ArgumentStatus::kEmpty
                                                                          : ArgumentStatus::kOk;
  return argument;
}

// Whether the '-' at text[at] is a Markdown bullet ("- \boxed{5}" opening a
// line) rather than a sign.
bool IsBullet(absl::string_view text, size_t at) {
  if (at + 1 < text.size() && !IsSpace(text[at + 1])) return false;
  size_t k = at;
  while (k > 0 && (text[k - 1] == ' ' || text[k - 1] == '\t')) --k;
  return k == 0 || text[k - 1] == '\n';
}

struct BoxGroup {
  bool present = false;  // a box command occurs at all
  bool ok = false;
  std::string text;
  absl::string_view reason;
  size_t start = 0;  // where the group's first box command starts
};

// The last box and the boxes right before it that only separators part from
// it (IsSeparatorRun with math delimiters), joined with ", ". Each step looks
// back from the group's start to the previous box command and reads that
// box's argument no further than the start, so every byte is read a bounded
// number of times: linear in the text.
BoxGroup LastBoxGroup(absl::string_view text) {
  BoxGroup group;
  size_t size = 0;
  size_t start = LastBoxCommand(text, text.size(), &size);
  if (start == kNpos) return group;
  group.present = true;
  const BoxArgument last = ParseBoxArgument(text, start, size, text.size());
  if (last.status != ArgumentStatus::kOk) {
    group.reason = last.status == ArgumentStatus::kUnclosed ? "unbalanced_braces" : "empty_boxed";
    return group;
  }
  std::vector<absl::string_view> parts = {last.content};
  while (true) {
    size_t previous_size = 0;
    const size_t previous = LastBoxCommand(text, start, &previous_size);
    if (previous == kNpos) break;
    const BoxArgument argument = ParseBoxArgument(text, previous, previous_size, start);
    if (argument.status == ArgumentStatus::kUnclosed ||
        !IsSeparatorRun(text.substr(argument.end, start - argument.end), /*math_delimiters=*/true)) {
      break;
    }
    if (argument.status == ArgumentStatus::kEmpty) {  // "\boxed{}, \boxed{2}": part of it is missing
      group.reason = "empty_boxed";
      return group;
    }
    parts.push_back(argument.content);
    start = previous;
  }
  std::reverse(parts.begin(), parts.end());
  // "$-\boxed{5}$": the sign is part of the answer.
  size_t before = start;
  while (before > 0 && (text[before - 1] == ' ' || text[before - 1] == '\t')) --before;
  std::string sign_part;
  if (before > 0 && text[before - 1] == '-' && !IsBullet(text, before - 1)) {
    sign_part = absl::StrCat("-(", absl::StripAsciiWhitespace(parts[0]), ")");
    parts[0] = sign_part;
  }
  group.ok = true;
  group.start = start;
  group.text = JoinParts(parts);
  return group;
}

// ---- <answer> ----

// The block opened by the last <answer>. "unclosed_answer_tag" when that tag
// is never closed (a truncated completion), even if an earlier block closed.
struct TagResult {
  bool ok = false;
  absl::string_view content;
  absl::string_view reason;
};

TagResult LastAnswerTag(absl::string_view text) {
  constexpr absl::string_view kOpen = "<answer>", kClose = "</answer>";
  TagResult result;
  const size_t open = text.rfind(kOpen);
  if (open == kNpos) return result;
  const size_t close = text.find(kClose, open + kOpen.size());
  if (close == kNpos) {
    result.reason = "unclosed_answer_tag";
    return result;
  }
  result.content = text.substr(open + kOpen.size(), close - open - kOpen.size());
  if (absl::StripAsciiWhitespace(result.content).empty()) {
    result.reason = "empty_answer_tag";
    return result;
  }
  result.ok = true;
  return result;
}

// ---- math spans ----

struct MathSpan {
  size_t start = 0, end = 0;  // the span with its delimiters
  absl::string_view content;  // without them; never blank
};

// The math spans of a text in order: $...$, $$...$$, \(...\), \[...\].
// Display spans may cross lines; an inline $ opens before a non-space and
// closes after a non-space, not before a digit, on the same line ("costs $5
// and $10" holds none); "\$" is a literal dollar. Blank spans are skipped.
// Linear: each '$' looks ahead only to the next '$' or line end, and a
// closing delimiter searched for and missing is remembered as missing.
class MathSpanScanner {
 public:
  MathSpanScanner(absl::string_view text, size_t from) : text_(text), i_(from) {}

  bool Next(MathSpan* span) {
    const size_t n = text_.size();
    while (i_ < n) {
      const size_t k = text_.find_first_of("$\\", i_);
      if (k == kNpos) break;
      if (text_[k] == '\\') {
        const char d = k + 1 < n ? text_[k + 1] : '\0';
        if (d == '(' && Delimited(k, "\\)", no_paren_, span)) return true;
        if (d == '[' && Delimited(k, "\\]", no_bracket_, span)) return true;
        if (d != '(' && d != '[') i_ = k + 2;  // "\$", "\\" or a command's first letter
        continue;
      }
      if (k + 1 < n && text_[k + 1] == '$') {
        if (Delimited(k, "$$", no_display_, span)) return true;
        continue;
      }
      i_ = k + 1;
      if (k + 1 >= n || IsSpace(text_[k + 1])) continue;  // "$ " opens nothing
      size_t j = k + 1;
      while (true) {
        j = text_.find_first_of("$\n", j);
        if (j == kNpos || text_[j] == '\n' || text_[j - 1] != '\\') break;
        ++j;  // "\$" inside
      }
      if (j == kNpos || text_[j] == '\n') continue;
      if (IsSpace(text_[j - 1]) || (j + 1 < n && IsDigit(text_[j + 1]))) continue;  // not a closer
      i_ = j + 1;
      *span = {k, j + 1, text_.substr(k + 1, j - k - 1)};
      return true;
    }
    i_ = n;
    return false;
  }

 private:
  // The span opened by the two-byte delimiter at text_[at] and closed by
  // `closer`; false (moving on) when there is none or it is blank.
  bool Delimited(size_t at, absl::string_view closer, bool& missing, MathSpan* span) {
    const size_t from = at + 2;
    const size_t close = missing ? kNpos : text_.find(closer, from);
    if (close == kNpos) {
      missing = true;
      i_ = from;
      return false;
    }
    i_ = close + closer.size();
    const absl::string_view content = text_.substr(from, close - from);
    if (absl::StripAsciiWhitespace(content).empty()) return false;
    *span = {at, i_, content};
    return true;
  }

  absl::string_view text_;
  size_t i_;
  bool no_display_ = false, no_paren_ = false, no_bracket_ = false;
};

bool OpensMath(absl::string_view text, size_t at) {
  if (at >= text.size()) return false;
  if (text[at] == '$') return true;
  return text[at] == '\\' && at + 1 < text.size() && (text[at + 1] == '(' || text[at + 1] == '[');
}

// The group of math spans that starts exactly at text[at]: the span there and
// the spans right after it that only plain separators part from it.
std::optional<std::string> MathGroupAt(absl::string_view text, size_t at) {
  MathSpanScanner scanner(text, at);
  MathSpan span;
  if (!scanner.Next(&span) || span.start != at) return std::nullopt;
  std::vector<absl::string_view> parts = {span.content};
  size_t end = span.end;
  while (scanner.Next(&span) && IsSeparatorRun(text.substr(end, span.start - end), false)) {
    parts.push_back(span.content);
    end = span.end;
  }
  return JoinParts(parts);
}

struct MathGroup {
  std::string text;
  size_t start = 0, end = 0;  // the group's first and last delimiters
};

// The last group of math spans of the text (spans parted only by plain
// separators).
std::optional<MathGroup> LastMathGroup(absl::string_view text) {
  MathSpanScanner scanner(text, 0);
  MathSpan span;
  std::vector<absl::string_view> parts;
  size_t start = 0, end = 0;
  while (scanner.Next(&span)) {
    if (parts.empty() || !IsSeparatorRun(text.substr(end, span.start - end), false)) {
      parts.clear();
      start = span.start;
    }
    parts.push_back(span.content);
    end = span.end;
  }
  if (parts.empty()) return std::nullopt;
  return MathGroup{JoinParts(parts), start, end};
}

// Whether the sentence around lower[start, end) (up to 200 bytes either side,
// to a sentence end or line break; before it also to a ';') says "not", "isn't", "cannot", "wrong",
// "incorrect" or "impossible": "$x = 5$ is not a solution" states no answer.
bool SentenceIsNegated(absl::string_view lower, size_t start, size_t end) {
  constexpr size_t kReach = 200;
  const auto is_end = [&](size_t i) {
    const char c = lower[i];
    return c == '\n' || ((c == '.' || c == '!' || c == '?') && (i + 1 >= lower.size() || IsSpace(lower[i + 1])));
  };
  size_t from = start;  // before the group a clause ends at ';' too: "$1$ is wrong; it is $2$"
  while (from > 0 && start - from < kReach && !is_end(from - 1) && lower[from - 1] != ';') --from;
  size_t to = end;
  while (to < lower.size() && to - end < kReach && !is_end(to)) ++to;
  for (absl::string_view piece : {lower.substr(from, start - from), lower.substr(end, to - end)}) {
    for (size_t i = 0; i < piece.size(); ++i) {
      for (absl::string_view word : {"not", "cannot", "wrong", "incorrect", "impossible"}) {
        if (IsWordAt(piece, i, word)) return true;
      }
      if (absl::StartsWith(piece.substr(i), "n't") && i > 0 && IsAsciiLetter(piece[i - 1])) return true;
    }
  }
  return false;
}

// ---- answer phrases ----

struct PhraseValue {
  bool negated = false;
  std::string text;  // empty: the phrase states nothing
};

// Skips ' ', '\t', '*' (Markdown bold) and one ':' from text[at].
size_t SkipPhraseEnd(absl::string_view text, size_t at) {
  bool colon = false;
  while (at < text.size()) {
    const char c = text[at];
    if (c == ' ' || c == '\t' || c == '*' || (c == ':' && !colon)) {
      colon = colon || c == ':';
      ++at;
    } else {
      break;
    }
  }
  return at;
}

// The answer stated from text[at] on (just after an answer phrase): the math
// span group it opens with, else its text up to the end of the sentence or
// line. `lower` is the text in ASCII lower case.
PhraseValue ValueAt(absl::string_view text, absl::string_view lower, size_t at) {
  PhraseValue value;
  const size_t n = text.size();
  size_t i = at;
  while (i < n && (IsSpace(text[i]) || text[i] == '*' || text[i] == ':')) ++i;
  // "Final Answer: The final answer is 5": the phrase repeated inside.
  for (absl::string_view phrase : {"the final answer is", "the answer is"}) {
    if (absl::StartsWith(lower.substr(i), phrase)) {
      i = SkipPhraseEnd(text, i + phrase.size());
      while (i < n && IsSpace(text[i])) ++i;
      break;
    }
  }
  if (IsWordAt(lower, i, "not")) {
    value.negated = true;
    return value;
  }
  if (OpensMath(text, i)) {
    if (std::optional<std::string> group = MathGroupAt(text, i)) {
      value.text = *std::move(group);
      return value;
    }
  }
  const size_t hope = lower.find("i hope it is correct", i);
  size_t j = i;
  for (; j < n && j != hope; ++j) {
    const char c = text[j];
    if (c == '\n') break;
    if (c == '<' && (absl::StartsWith(lower.substr(j), "</") || absl::StartsWith(lower.substr(j), "<think>") ||
                     absl::StartsWith(lower.substr(j), "<answer>"))) {
      break;  // a tag ends the answer: "the answer is 5</think>"
    }
    if ((c == '.' || c == '!' || c == '?') && (j + 1 >= n || IsSpace(text[j + 1]))) break;
    if (c == ',') {  // ", respectively", ", which ...": the answer ended
      size_t k = j + 1;
      while (k < n && (text[k] == ' ' || text[k] == '\t')) ++k;
      size_t letters = 0;
      while (k + letters < n && IsAsciiLetter(text[k + letters])) ++letters;
      if (letters >= 3 && !IsWordAt(lower, k, "and")) break;
    }
  }
  absl::string_view found = absl::StripAsciiWhitespace(text.substr(i, j - i));
  while (!found.empty() && (found.back() == '*' || found.back() == '.' || IsSpace(found.back()))) {
    found.remove_suffix(1);
  }
  value.text = std::string(found);
  return value;
}

// Position of the last `phrase` in `lower` with no letter right before it,
// searching starts at or before `end`; kNpos when none. Each rfind continues
// left of the previous hit, so the scan is linear.
size_t LastPhrase(absl::string_view lower, absl::string_view phrase, size_t end = kNpos) {
  while (true) {
    const size_t at = lower.rfind(phrase, end);
    if (at == kNpos) return kNpos;
    if (at == 0 || !IsAsciiLetter(lower[at - 1])) return at;
    end = at - 1;
  }
}

// Where the value of the last "final answer" phrase starts, or kNpos: after
// "final answer:", after " is"/" are" within 100 bytes of the same line, or
// after a line break when the rest of the text is one line ("**Final
// Answer**\n5").
size_t FinalAnswerValue(absl::string_view text, absl::string_view lower) {
  constexpr absl::string_view kPhrase = "final answer";
  const size_t at = LastPhrase(lower, kPhrase);
  if (at == kNpos) return kNpos;
  const size_t n = lower.size();
  size_t k = at + kPhrase.size();
  if (k < n && lower[k] == 's') ++k;
  if (k < n && IsAsciiLetter(lower[k])) return kNpos;
  size_t j = k;
  while (j < n && (lower[j] == ' ' || lower[j] == '\t' || lower[j] == '*')) ++j;
  if (j < n && lower[j] == ':') return j + 1;
  const size_t limit = std::min({n, k + 100, lower.find('\n', k)});
  for (size_t m = k; m < limit; ++m) {
    if (IsWordAt(lower, m, "is")) return SkipPhraseEnd(text, m + 2);
    if (IsWordAt(lower, m, "are")) return SkipPhraseEnd(text, m + 3);
  }
  if (j < n && (lower[j] == '\n' || lower[j] == '\r')) {
    const absl::string_view rest = absl::StripAsciiWhitespace(text.substr(j));
    if (!rest.empty() && rest.find('\n') == kNpos) return j;
  }
  return kNpos;
}

// Where the value of the last "Answer:" starts when it runs to the end of the
// text on one line, else kNpos.
size_t AnswerColonValue(absl::string_view text, absl::string_view lower) {
  constexpr absl::string_view kPhrase = "answer";
  const size_t n = lower.size();
  for (size_t end = kNpos;;) {
    const size_t at = LastPhrase(lower, kPhrase, end);
    if (at == kNpos) return kNpos;
    size_t j = at + kPhrase.size();
    while (j < n && (lower[j] == ' ' || lower[j] == '\t' || lower[j] == '*')) ++j;
    if (j < n && lower[j] == ':') {
      const size_t value = SkipPhraseEnd(text, j + 1);
      const absl::string_view rest = absl::StripAsciiWhitespace(text.substr(value));
      return !rest.empty() && rest.find('\n') == kNpos ? value : kNpos;
    }
    if (at == 0) return kNpos;
    end = at - 1;
  }
}

// Where the value of the last "answer is" / "answers are" starts, or kNpos;
// *negated when that phrase is "answer isn't" / "answers aren't".
size_t AnswerIsValue(absl::string_view text, absl::string_view lower, bool* negated) {
  size_t best = kNpos, best_end = 0;
  for (absl::string_view phrase : {"answer is", "answers are"}) {
    for (size_t end = kNpos;;) {
      const size_t at = LastPhrase(lower, phrase, end);
      if (at == kNpos) break;
      const size_t after = at + phrase.size();
      const bool word_ends = after >= lower.size() || !IsAsciiLetter(lower[after]);
      const bool contracted = absl::StartsWith(lower.substr(after), "n't") ||
                              absl::StartsWith(lower.substr(after), "nt ");
      if (word_ends || contracted) {
        if (best == kNpos || at > best) {
          best = at;
          best_end = after;
          *negated = contracted;
        }
        break;
      }
      if (at == 0) break;
      end = at - 1;
    }
  }
  return best == kNpos ? kNpos : SkipPhraseEnd(text, best_end);
}

// The free-text forms in their order (header, 4a-4d); the last math span
// only when `with_math`. Not found: "no_answer" or "negated_answer". A
// negated "answer is" after the phrase that would decide retracts it too:
// "Final Answer: 5. Wait, the answer isn't 5." gives nothing.
ExtractedAnswer FreeTextAnswer(absl::string_view text, bool with_math) {
  const std::string lower = absl::AsciiStrToLower(text);
  bool contracted = false;
  const size_t answer_is = AnswerIsValue(text, lower, &contracted);
  const bool answer_is_negated =
      answer_is != kNpos && (contracted || ValueAt(text, lower, answer_is).negated);
  const auto phrase = [&](size_t at, absl::string_view source) -> std::optional<ExtractedAnswer> {
    if (at == kNpos) return std::nullopt;
    const PhraseValue value = ValueAt(text, lower, at);
    if (value.negated || (answer_is_negated && answer_is > at)) return NotFound("negated_answer");
    if (value.text.empty()) return std::nullopt;
    return Found(value.text, source);
  };
  if (auto a = phrase(FinalAnswerValue(text, lower), "final_answer_phrase")) return *a;
  if (auto a = phrase(AnswerColonValue(text, lower), "answer_colon")) return *a;
  if (answer_is_negated) return NotFound("negated_answer");
  if (auto a = phrase(answer_is, "answer_is")) return *a;
  if (with_math) {
    if (std::optional<MathGroup> math = LastMathGroup(text)) {
      if (SentenceIsNegated(lower, math->start, math->end)) return NotFound("negated_answer");
      return Found(math->text, "last_math");
    }
  }
  return NotFound("no_answer");
}

// The last match of `pattern`: the last of a left-to-right non-overlapping
// scan, as Python's re.findall()[-1], so "(\d+)" on "12 34" gives "34".
//
// RE2 is linear in the bytes it reads, but one search may read far past the
// match it returns (a failing optional tail such as "(a)(?:.*z)?"), and a
// scan of many such matches would be quadratic. Two bounds keep it linear:
//  - Each search sees a window of kWindow bytes after its start, doubled
//    while no match is found or the match reaches the window's end, so long
//    and sparse matches are still found exactly. Anchors and \b see the whole
//    text. Only a pattern whose choice between alternatives depends on text
//    more than a window ahead can see a different match.
//  - After kMaxSearches searches (a completion full of matches), one search
//    with a greedy any-byte prefix finds where the last match starts (\C
//    also crosses invalid UTF-8) and the scan resumes kResync bytes before it.
enum class PatternOutcome { kMatched, kNoMatch, kInvalid };

constexpr size_t kWindow = 256;         // bytes
constexpr size_t kMaxSearches = 20000;  // before jumping near the last match
constexpr size_t kResync = 4096;        // bytes scanned again before it

PatternOutcome MatchLast(absl::string_view text, const std::string& pattern,
                         absl::string_view* capture) {
  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(pattern, options);
  if (!re.ok() || re.NumberOfCapturingGroups() < 1) return PatternOutcome::kInvalid;
  const re2::StringPiece input(text.data(), text.size());
  re2::StringPiece groups[2];  // [whole match, capture group 1]
  bool matched = false, jumped = false;
  size_t pos = 0, window = kWindow, searches = 0;
  while (pos <= text.size()) {
    if (++searches > kMaxSearches && !jumped) {
      jumped = true;
      RE2 last(absl::StrCat("(?s:\\C*)(", pattern, ")"), options);
      re2::StringPiece start[2];  // [whole, the last match of the pattern]
      if (!last.ok() || !last.Match(input, pos, text.size(), RE2::UNANCHORED, start, 2)) break;
      const size_t at = static_cast<size_t>(start[1].data() - text.data());
      pos = std::max(pos, at > kResync ? at - kResync : 0);
      window = kWindow;
    }
    const size_t end = std::min(text.size(), pos + window);
    const bool found = re.Match(input, pos, end, RE2::UNANCHORED, groups, 2);
    const size_t match_end =
        found ? static_cast<size_t>(groups[0].data() - text.data()) + groups[0].size() : end;
    if (end < text.size() && match_end == end) {  // undecided: more text might change it
      window *= 2;
      continue;
    }
    if (!found) break;
    // Group 1 may be empty, blank or not participate: such a match is skipped.
    const absl::string_view group(groups[1].data(), groups[1].size());
    if (groups[1].data() != nullptr && !absl::StripAsciiWhitespace(group).empty()) {
      matched = true;
      *capture = group;
    }
    pos = groups[0].empty() ? match_end + 1 : match_end;  // step past empty matches
    window = kWindow;
  }
  return matched ? PatternOutcome::kMatched : PatternOutcome::kNoMatch;
}


}  // namespace

ExtractedAnswer ExtractFinalAnswer(absl::string_view completion,
                                   const ExtractionOptions& options) {
  if (completion.size() > options.max_input_bytes) return NotFound("input_too_long");

  absl::string_view text = completion;
  if (options.after_think) {
    const size_t open = text.rfind(kThinkOpen), close = text.rfind(kThinkClose);
    if (open != kNpos && (close == kNpos || open > close)) return NotFound("unfinished_think");
    if (close != kNpos) text = text.substr(close + kThinkClose.size());
  }

  if (!options.pattern.empty()) {
    absl::string_view capture;
    switch (MatchLast(text, options.pattern, &capture)) {
      case PatternOutcome::kInvalid:
        return NotFound("invalid_pattern");
      case PatternOutcome::kMatched:
        return Found(capture, "pattern");
      case PatternOutcome::kNoMatch:
        break;
    }
  }

  absl::string_view failure = "no_answer";
  if (options.boxed) {
    BoxGroup boxed = LastBoxGroup(text);
    if (boxed.ok) return Found(boxed.text, "boxed");
    if (boxed.present) failure = boxed.reason;
  }

  if (options.answer_tag) {
    TagResult tag = LastAnswerTag(text);
    if (tag.ok) {
      // "<answer>The answer is \boxed{5}.</answer>": the box is the answer.
      BoxGroup inner = LastBoxGroup(tag.content);
      if (inner.ok) return Found(inner.text, "answer_tag");
      if (inner.present) return NotFound(inner.reason);
      // "<answer>The answer is 5.</answer>": the phrase's value.
      ExtractedAnswer phrase = FreeTextAnswer(tag.content, /*with_math=*/false);
      if (phrase.found) {
        phrase.source = "answer_tag";
        return phrase;
      }
      if (phrase.reason == "negated_answer") return phrase;
      return Found(tag.content, "answer_tag");
    }
    if (!tag.reason.empty() && failure == "no_answer") failure = tag.reason;
  }

  // Free text only when no box and no answer tag is there at all: a broken
  // one is a truncated final answer, not a reason to guess from the prose.
  if (options.free_text && failure == "no_answer") return FreeTextAnswer(text, /*with_math=*/true);
  return NotFound(failure);
}

std::string GoldAnswerText(absl::string_view gold) {
  size_t size = 0;
  if (LastBoxCommand(gold, gold.size(), &size) == kNpos) return std::string(gold);
  const BoxGroup group = LastBoxGroup(gold);
  // A broken box, or boxes outside the group: the gold is read whole.
  if (!group.ok || LastBoxCommand(gold, group.start, &size) != kNpos) return std::string(gold);
  return group.text;
}

}  // namespace r1::reward
