#include "reward/math/answer_extraction.h"

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "re2/re2.h"

namespace r1::reward {
namespace {

constexpr absl::string_view kBoxedCommands[] = {"\\boxed", "\\fbox"};

bool IsAsciiLetter(char c) { return absl::ascii_isalpha(static_cast<unsigned char>(c)); }
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

// Position of the last `command` in text[0, end) that is a whole command (not
// followed by a letter, so "\boxedx" is not \boxed), or npos. Each rfind
// continues left of the previous hit, so the scan is linear.
size_t LastCommand(absl::string_view text, absl::string_view command) {
  size_t end = text.size();
  while (end >= command.size()) {
    size_t at = text.rfind(command, end - command.size());
    if (at == absl::string_view::npos) return at;
    size_t after = at + command.size();
    if (after >= text.size() || !IsAsciiLetter(text[after])) return at;
    if (at == 0) break;
    end = at + command.size() - 1;
  }
  return absl::string_view::npos;
}

// Content of the last \boxed / \fbox in `text`. Braces are matched with a
// counter, never recursion, so a million nested braces cost one linear scan;
// "\{" and "\}" are escaped braces and do not count.
struct BoxedResult {
  bool present = false;  // a \boxed command occurs at all
  bool ok = false;
  absl::string_view content;
  absl::string_view reason;
};

BoxedResult LastBoxed(absl::string_view text) {
  BoxedResult result;
  size_t at = absl::string_view::npos;
  size_t command_size = 0;
  for (absl::string_view command : kBoxedCommands) {
    size_t pos = LastCommand(text, command);
    if (pos != absl::string_view::npos && (at == absl::string_view::npos || pos > at)) {
      at = pos;
      command_size = command.size();
    }
  }
  if (at == absl::string_view::npos) return result;
  result.present = true;
  size_t i = at + command_size;
  while (i < text.size() && IsSpace(text[i])) ++i;
  if (i < text.size() && text[i] == '{') {
    size_t depth = 0;
    const size_t open = i;
    for (; i < text.size(); ++i) {
      char c = text[i];
      if (c == '\\' && i + 1 < text.size() &&
          (text[i + 1] == '{' || text[i + 1] == '}' || text[i + 1] == '\\')) {
        ++i;
      } else if (c == '{') {
        ++depth;
      } else if (c == '}' && --depth == 0) {
        result.content = text.substr(open + 1, i - open - 1);
        break;
      }
    }
    if (i >= text.size()) {
      result.reason = "unbalanced_braces";
      return result;
    }
  } else {
    // "\boxed 5": the argument is one token, up to whitespace or '$'.
    size_t start = i;
    while (i < text.size() && !IsSpace(text[i]) && text[i] != '$') ++i;
    result.content = text.substr(start, i - start);
  }
  if (absl::StripAsciiWhitespace(result.content).empty()) {
    result.reason = "empty_boxed";
    return result;
  }
  result.ok = true;
  return result;
}

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
  if (open == absl::string_view::npos) return result;
  // An opening tag after the last block is a final answer cut off.
  const size_t close = text.find(kClose, open + kOpen.size());
  if (close == absl::string_view::npos) {
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

  if (!options.pattern.empty()) {
    absl::string_view capture;
    switch (MatchLast(completion, options.pattern, &capture)) {
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
    BoxedResult boxed = LastBoxed(completion);
    if (boxed.ok) return Found(boxed.content, "boxed");
    if (boxed.present) failure = boxed.reason;
  }

  if (options.answer_tag) {
    TagResult tag = LastAnswerTag(completion);
    if (tag.ok) {
      // "<answer>The answer is \boxed{5}</answer>": the box is the answer.
      BoxedResult inner = LastBoxed(tag.content);
      if (!inner.present) return Found(tag.content, "answer_tag");
      if (inner.ok) return Found(inner.content, "answer_tag");
      return NotFound(inner.reason);
    }
    if (!tag.reason.empty() && failure == "no_answer") failure = tag.reason;
  }
  return NotFound(failure);
}

}  // namespace r1::reward
