// tokenizer.json's text stages: Unicode classes, patterns (PCRE2), normalizers
// (ICU) and pre-tokenizers.
#include <unicode/casemap.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/bytestream.h>

#include <algorithm>
#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/hf_tokenizer_internal.h"
#include "common/utf8.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace r1::hf_internal {

// ---- Unicode classes -------------------------------------------------------

bool IsWhitespace(int32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool IsWordChar(int32_t cp) {
  if (cp < 0) return false;
  if (cp < 0x80) {
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
           (cp >= 'A' && cp <= 'Z') || cp == '_';
  }
  const int8_t type = u_charType(cp);
  return u_hasBinaryProperty(cp, UCHAR_ALPHABETIC) || type == U_NON_SPACING_MARK ||
         type == U_COMBINING_SPACING_MARK || type == U_ENCLOSING_MARK ||
         type == U_DECIMAL_DIGIT_NUMBER || type == U_CONNECTOR_PUNCTUATION ||
         u_hasBinaryProperty(cp, UCHAR_JOIN_CONTROL);
}

// ---- Patterns (PCRE2) ------------------------------------------------------

namespace {

// Per-thread PCRE2 match state: the compiled code is shared, these are not.
struct ThreadMatchState {
  ThreadMatchState() {
    // 16 pairs covers every released pattern's groups; with more, PCRE2 still
    // fills pair 0 (the whole match), the only one read here.
    data = pcre2_match_data_create(16, nullptr);
    context = pcre2_match_context_create(nullptr);
    // Long runs (a megabyte of spaces) need more than the default 32 KiB.
    jit_stack = pcre2_jit_stack_create(32 * 1024, 64 * 1024 * 1024, nullptr);
    pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~ThreadMatchState() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
  }
  pcre2_match_data* data;
  pcre2_match_context* context;
  pcre2_jit_stack* jit_stack;
};

ThreadMatchState& MatchState() {
  thread_local ThreadMatchState state;
  return state;
}

// Oniguruma's \s is Unicode White_Space; PCRE2's (with UCP) lacks U+0085
// (NEL). Adds it: \s -> [\s\x{85}] and \S -> [^\s\x{85}] outside
// classes, \s -> \s\x{85} inside one. (\S inside a class is left as is.)
std::string WithOnigurumaSpaces(const std::string& pattern) {
  std::string out;
  out.reserve(pattern.size() + 16);
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[i + 1];
      ++i;
      if (next == 's') {
        out += in_class ? "\\s\\x{85}" : "[\\s\\x{85}]";
      } else if (next == 'S' && !in_class) {
        out += "[^\\s\\x{85}]";
      } else {
        out += c;
        out += next;
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    if (in_class && c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
      // A POSIX class such as [:alpha:] inside a class.
      const size_t end = pattern.find(":]", i + 2);
      if (end != std::string::npos) {
        out.append(pattern, i, end + 2 - i);
        i = end + 1;
        continue;
      }
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Regex>> Regex::Compile(const std::string& pattern,
                                                            bool literal) {
  // UCP: \s, \w, \d and \p{..} by Unicode properties, as Oniguruma does.
  const uint32_t options = literal ? (PCRE2_UTF | PCRE2_LITERAL) : (PCRE2_UTF | PCRE2_UCP);
  const std::string translated = literal ? pattern : WithOnigurumaSpaces(pattern);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(), options,
                    &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    return absl::InvalidArgumentError(absl::StrCat(
        "pattern does not compile at offset ", error_offset, ": ",
        reinterpret_cast<const char*>(message)));
  }
  // Without JIT (not built for this CPU) matching still works, only slower.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return std::shared_ptr<const Regex>(new Regex(code));
}

Regex::~Regex() { pcre2_code_free(code_); }

void Regex::FindAllValid(absl::string_view text, size_t offset,
                         std::vector<std::pair<size_t, size_t>>* matches) const {
  ThreadMatchState& state = MatchState();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  while (start < text.size()) {
    const int rc = pcre2_match(code_, subject, text.size(), start, PCRE2_NO_UTF_CHECK,
                               state.data, state.context);
    if (rc < 0) break;  // no (further) match
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.data);
    const size_t begin = ovector[0];
    const size_t end = ovector[1];
    if (end > begin) {
      matches->emplace_back(offset + begin, offset + end);
      start = end;
    } else {
      // An empty match cuts nothing; go on from the next character.
      if (begin >= text.size()) break;
      int len;
      utf8::NextCodePoint(text, begin, &len);
      start = begin + len;
    }
  }
}

void Regex::FindAll(absl::string_view text,
                    std::vector<std::pair<size_t, size_t>>* matches) const {
  ForEachUtf8Run(text, [&](size_t begin, size_t end, bool valid) {
    if (valid) FindAllValid(text.substr(begin, end - begin), begin, matches);
  });
}

std::vector<std::pair<size_t, size_t>> SplitAtMatches(
    size_t size, const std::vector<std::pair<size_t, size_t>>& matches,
    SplitBehavior behavior, bool invert) {
  struct Segment {
    size_t begin, end;
    bool is_match;
  };
  std::vector<Segment> segments;
  segments.reserve(matches.size() * 2 + 1);
  size_t previous_end = 0;
  for (const auto& [begin, end] : matches) {
    if (previous_end < begin) segments.push_back({previous_end, begin, invert});
    segments.push_back({begin, end, !invert});
    previous_end = end;
  }
  if (previous_end < size) segments.push_back({previous_end, size, invert});

  std::vector<std::pair<size_t, size_t>> pieces;
  pieces.reserve(segments.size());
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kRemoved:
      for (const Segment& s : segments) {
        if (!s.is_match) pieces.emplace_back(s.begin, s.end);
      }
      break;
    case SplitBehavior::kIsolated:
      for (const Segment& s : segments) pieces.emplace_back(s.begin, s.end);
      break;
    case SplitBehavior::kMergedWithPrevious:
      // A match joins the piece before it unless that piece is a match too.
      for (const Segment& s : segments) {
        if (s.is_match && !previous_match && !pieces.empty()) {
          pieces.back().second = s.end;
        } else {
          pieces.emplace_back(s.begin, s.end);
        }
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      // A match joins the piece after it unless that piece is a match too.
      for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        if (it->is_match && !previous_match && !pieces.empty()) {
          pieces.back().first = it->begin;
        } else {
          pieces.emplace_back(it->begin, it->end);
        }
        previous_match = it->is_match;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
    case SplitBehavior::kContiguous:
      // Runs of adjacent matches become one piece.
      for (const Segment& s : segments) {
        if (s.is_match == previous_match && !pieces.empty()) {
          pieces.back().second = s.end;
        } else {
          pieces.emplace_back(s.begin, s.end);
        }
        previous_match = s.is_match;
      }
      break;
  }
  pieces.erase(std::remove_if(pieces.begin(), pieces.end(),
                              [](const auto& p) { return p.first == p.second; }),
               pieces.end());
  return pieces;
}

std::string ReplaceAll(const Regex& pattern, absl::string_view text,
                       absl::string_view content) {
  std::vector<std::pair<size_t, size_t>> matches;
  pattern.FindAll(text, &matches);
  if (matches.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t previous_end = 0;
  for (const auto& [begin, end] : matches) {
    out.append(text.data() + previous_end, begin - previous_end);
    out.append(content.data(), content.size());
    previous_end = end;
  }
  out.append(text.data() + previous_end, text.size() - previous_end);
  return out;
}

// ---- Normalizers -----------------------------------------------------------

namespace {

bool IsAscii(absl::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// Applies `transform` (valid UTF-8 in, appended to out) to each valid run and
// copies invalid runs unchanged.
template <typename Transform>
std::string TransformValidRuns(absl::string_view text, Transform&& transform) {
  std::string out;
  out.reserve(text.size());
  ForEachUtf8Run(text, [&](size_t begin, size_t end, bool valid) {
    const absl::string_view run = text.substr(begin, end - begin);
    if (valid) {
      transform(run, &out);
    } else {
      out.append(run.data(), run.size());
    }
  });
  return out;
}

class UnicodeNormalizer : public Normalizer {
 public:
  UnicodeNormalizer(const icu::Normalizer2* icu, bool ascii_is_normal)
      : icu_(icu), ascii_is_normal_(ascii_is_normal) {}
  std::string Normalize(std::string text) const override {
    if (ascii_is_normal_ && IsAscii(text)) return text;
    return TransformValidRuns(text, [&](absl::string_view run, std::string* out) {
      icu::StringByteSink<std::string> sink(out);
      UErrorCode status = U_ZERO_ERROR;
      icu_->normalizeUTF8(0, icu::StringPiece(run.data(), static_cast<int32_t>(run.size())),
                          sink, nullptr, status);
      if (U_FAILURE(status)) out->append(run.data(), run.size());
    });
  }

 private:
  const icu::Normalizer2* icu_;  // owned by ICU, immutable, thread-safe
  bool ascii_is_normal_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  std::string Normalize(std::string text) const override {
    if (IsAscii(text)) {
      for (char& c : text) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      return text;
    }
    // Root locale: full case mapping with the final-sigma rule, as Rust's
    // str::to_lowercase (no Turkish or Lithuanian tailoring).
    return TransformValidRuns(text, [](absl::string_view run, std::string* out) {
      icu::StringByteSink<std::string> sink(out);
      UErrorCode status = U_ZERO_ERROR;
      icu::CaseMap::utf8ToLower("", 0,
                                icu::StringPiece(run.data(), static_cast<int32_t>(run.size())),
                                sink, nullptr, status);
      if (U_FAILURE(status)) out->append(run.data(), run.size());
    });
  }
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  std::string Normalize(std::string text) const override {
    size_t begin = 0;
    size_t end = text.size();
    bool seen_content = false;
    size_t pos = 0;
    while (pos < text.size()) {
      int len;
      const int32_t cp = utf8::NextCodePoint(text, pos, &len);
      if (!IsWhitespace(cp)) {
        if (!seen_content) begin = pos;
        seen_content = true;
        end = pos + len;
      }
      pos += len;
    }
    if (!seen_content) return (left_ || right_) ? std::string() : text;
    if (!left_) begin = 0;
    if (!right_) end = text.size();
    return text.substr(begin, end - begin);
  }

 private:
  bool left_, right_;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prepend) : prepend_(std::move(prepend)) {}
  std::string Normalize(std::string text) const override {
    // As tokenizers: nothing is prepended to an empty string.
    if (text.empty()) return text;
    return prepend_ + text;
  }

 private:
  std::string prepend_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(std::shared_ptr<const Regex> pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  std::string Normalize(std::string text) const override {
    return ReplaceAll(*pattern_, text, content_);
  }

 private:
  std::shared_ptr<const Regex> pattern_;
  std::string content_;
};

class NormalizerSequence : public Normalizer {
 public:
  explicit NormalizerSequence(std::vector<std::unique_ptr<Normalizer>> normalizers)
      : normalizers_(std::move(normalizers)) {}
  std::string Normalize(std::string text) const override {
    for (const auto& normalizer : normalizers_) text = normalizer->Normalize(std::move(text));
    return text;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> normalizers_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Normalizer>> MakeUnicodeNormalizer(UnicodeForm form) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* icu = nullptr;
  switch (form) {
    case UnicodeForm::kNfc: icu = icu::Normalizer2::getNFCInstance(status); break;
    case UnicodeForm::kNfd: icu = icu::Normalizer2::getNFDInstance(status); break;
    case UnicodeForm::kNfkc: icu = icu::Normalizer2::getNFKCInstance(status); break;
    case UnicodeForm::kNfkd: icu = icu::Normalizer2::getNFKDInstance(status); break;
  }
  if (U_FAILURE(status) || icu == nullptr) {
    return absl::InternalError(absl::StrCat("ICU normalizer unavailable: ", u_errorName(status)));
  }
  // Every form leaves ASCII unchanged (no ASCII character decomposes or has a
  // compatibility mapping).
  return std::unique_ptr<Normalizer>(new UnicodeNormalizer(icu, /*ascii_is_normal=*/true));
}

std::unique_ptr<Normalizer> MakeLowercaseNormalizer() {
  return std::make_unique<LowercaseNormalizer>();
}
std::unique_ptr<Normalizer> MakeStripNormalizer(bool left, bool right) {
  return std::make_unique<StripNormalizer>(left, right);
}
std::unique_ptr<Normalizer> MakePrependNormalizer(std::string prepend) {
  return std::make_unique<PrependNormalizer>(std::move(prepend));
}
std::unique_ptr<Normalizer> MakeReplaceNormalizer(std::shared_ptr<const Regex> pattern,
                                                  std::string content) {
  return std::make_unique<ReplaceNormalizer>(std::move(pattern), std::move(content));
}
std::unique_ptr<Normalizer> MakeNormalizerSequence(
    std::vector<std::unique_ptr<Normalizer>> normalizers) {
  return std::make_unique<NormalizerSequence>(std::move(normalizers));
}

// ---- Pre-tokenizers --------------------------------------------------------

const char kGpt2Pattern[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

const std::vector<std::string>& ByteLevelAlphabet() {
  static const std::vector<std::string>* alphabet = [] {
    // Printable Latin-1 bytes stand for themselves; the rest (controls, space,
    // DEL, NBSP, soft hyphen) take the code points from 256 up, in byte order.
    auto* table = new std::vector<std::string>(256);
    int next_extra = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                             (b >= 0xAE && b <= 0xFF);
      utf8::AppendCodePoint(printable ? b : next_extra++, &(*table)[b]);
    }
    return table;
  }();
  return *alphabet;
}

int ByteLevelCharToByte(int32_t cp) {
  static const std::vector<int>* reverse = [] {
    auto* table = new std::vector<int>(512, -1);
    const auto& alphabet = ByteLevelAlphabet();
    for (int b = 0; b < 256; ++b) {
      int len;
      (*table)[utf8::NextCodePoint(alphabet[b], 0, &len)] = b;
    }
    return table;
  }();
  return (cp >= 0 && cp < 512) ? (*reverse)[cp] : -1;
}

namespace {

// Replaces each piece by the sub-ranges `split` gives for it.
template <typename SplitFn>
void SplitEachPiece(std::vector<Piece>* pieces, SplitFn&& split) {
  std::vector<Piece> out;
  out.reserve(pieces->size());
  for (Piece& piece : *pieces) {
    const std::vector<std::pair<size_t, size_t>> ranges = split(piece.text);
    if (ranges.size() == 1 && ranges[0].first == 0 && ranges[0].second == piece.text.size()) {
      out.push_back(std::move(piece));
      continue;
    }
    for (const auto& [begin, end] : ranges) {
      out.push_back({piece.text.substr(begin, end - begin), piece.at_start && begin == 0});
    }
  }
  *pieces = std::move(out);
}

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, std::shared_ptr<const Regex> regex)
      : add_prefix_space_(add_prefix_space), regex_(std::move(regex)) {}

  void PreTokenize(std::vector<Piece>* pieces) const override {
    if (add_prefix_space_) {
      for (Piece& piece : *pieces) {
        if (piece.text.empty() || piece.text[0] != ' ') piece.text.insert(0, 1, ' ');
      }
    }
    if (regex_ != nullptr) {
      std::vector<std::pair<size_t, size_t>> matches;
      SplitEachPiece(pieces, [&](const std::string& text) {
        matches.clear();
        regex_->FindAll(text, &matches);
        return SplitAtMatches(text.size(), matches, SplitBehavior::kIsolated, false);
      });
    }
    // Each byte becomes its 1- or 2-byte alphabet character.
    static const auto* table = [] {
      struct Entry {
        char bytes[2];
        int length;
      };
      auto* entries = new std::array<Entry, 256>();
      const auto& alphabet = ByteLevelAlphabet();
      for (int b = 0; b < 256; ++b) {
        (*entries)[b].length = static_cast<int>(alphabet[b].size());
        for (int i = 0; i < (*entries)[b].length; ++i) (*entries)[b].bytes[i] = alphabet[b][i];
      }
      return entries;
    }();
    std::string mapped;
    for (Piece& piece : *pieces) {
      mapped.resize(piece.text.size() * 2);
      char* out = mapped.data();
      for (char c : piece.text) {
        const auto& entry = (*table)[static_cast<unsigned char>(c)];
        out[0] = entry.bytes[0];
        out[1] = entry.bytes[1];  // overwritten next unless length is 2
        out += entry.length;
      }
      mapped.resize(out - mapped.data());
      piece.text.swap(mapped);
    }
  }

 private:
  bool add_prefix_space_;
  std::shared_ptr<const Regex> regex_;  // null: use_regex false
};

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(std::shared_ptr<const Regex> pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void PreTokenize(std::vector<Piece>* pieces) const override {
    std::vector<std::pair<size_t, size_t>> matches;
    SplitEachPiece(pieces, [&](const std::string& text) {
      matches.clear();
      pattern_->FindAll(text, &matches);
      return SplitAtMatches(text.size(), matches, behavior_, invert_);
    });
  }

 private:
  std::shared_ptr<const Regex> pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

// Rust's char::is_numeric: general categories Nd, Nl and No.
bool IsNumeric(int32_t cp) {
  if (cp < 0) return false;
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  const int8_t type = u_charType(cp);
  return type == U_DECIMAL_DIGIT_NUMBER || type == U_LETTER_NUMBER || type == U_OTHER_NUMBER;
}

class DigitsPreTokenizer : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual_digits) : individual_digits_(individual_digits) {}
  void PreTokenize(std::vector<Piece>* pieces) const override {
    std::vector<std::pair<size_t, size_t>> matches;
    SplitEachPiece(pieces, [&](const std::string& text) {
      matches.clear();
      size_t pos = 0;
      while (pos < text.size()) {
        int len;
        const int32_t cp = utf8::NextCodePoint(text, pos, &len);
        if (IsNumeric(cp)) matches.emplace_back(pos, pos + len);
        pos += len;
      }
      return SplitAtMatches(
          text.size(), matches,
          individual_digits_ ? SplitBehavior::kIsolated : SplitBehavior::kContiguous, false);
    });
  }

 private:
  bool individual_digits_;
};

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {}
  void PreTokenize(std::vector<Piece>* pieces) const override {
    for (Piece& piece : *pieces) {
      std::string replaced;
      replaced.reserve(piece.text.size() + replacement_.size());
      for (char c : piece.text) {
        if (c == ' ') {
          replaced += replacement_;
        } else {
          replaced.push_back(c);
        }
      }
      const bool starts_with_replacement =
          absl::string_view(replaced).substr(0, replacement_.size()) == replacement_;
      if (!starts_with_replacement &&
          (scheme_ == PrependScheme::kAlways ||
           (scheme_ == PrependScheme::kFirst && piece.at_start))) {
        replaced.insert(0, replacement_);
      }
      piece.text = std::move(replaced);
    }
    if (!split_) return;
    std::vector<std::pair<size_t, size_t>> matches;
    SplitEachPiece(pieces, [&](const std::string& text) {
      matches.clear();
      for (size_t pos = text.find(replacement_); pos != std::string::npos;
           pos = text.find(replacement_, pos + replacement_.size())) {
        matches.emplace_back(pos, pos + replacement_.size());
      }
      return SplitAtMatches(text.size(), matches, SplitBehavior::kMergedWithNext, false);
    });
  }

 private:
  std::string replacement_;  // one character, UTF-8
  PrependScheme scheme_;
  bool split_;
};

class PreTokenizerSequence : public PreTokenizer {
 public:
  explicit PreTokenizerSequence(std::vector<std::unique_ptr<PreTokenizer>> pre_tokenizers)
      : pre_tokenizers_(std::move(pre_tokenizers)) {}
  void PreTokenize(std::vector<Piece>* pieces) const override {
    for (const auto& pre_tokenizer : pre_tokenizers_) pre_tokenizer->PreTokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> pre_tokenizers_;
};

}  // namespace

std::unique_ptr<PreTokenizer> MakeByteLevelPreTokenizer(
    bool add_prefix_space, std::shared_ptr<const Regex> gpt2_regex_or_null) {
  return std::make_unique<ByteLevelPreTokenizer>(add_prefix_space,
                                                 std::move(gpt2_regex_or_null));
}
std::unique_ptr<PreTokenizer> MakeSplitPreTokenizer(std::shared_ptr<const Regex> pattern,
                                                    SplitBehavior behavior, bool invert) {
  return std::make_unique<SplitPreTokenizer>(std::move(pattern), behavior, invert);
}
std::unique_ptr<PreTokenizer> MakeDigitsPreTokenizer(bool individual_digits) {
  return std::make_unique<DigitsPreTokenizer>(individual_digits);
}
std::unique_ptr<PreTokenizer> MakeMetaspacePreTokenizer(std::string replacement,
                                                        PrependScheme scheme, bool split) {
  return std::make_unique<MetaspacePreTokenizer>(std::move(replacement), scheme, split);
}
std::unique_ptr<PreTokenizer> MakePreTokenizerSequence(
    std::vector<std::unique_ptr<PreTokenizer>> pre_tokenizers) {
  return std::make_unique<PreTokenizerSequence>(std::move(pre_tokenizers));
}

}  // namespace r1::hf_internal
