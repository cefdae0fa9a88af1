// Private to the hf_tokenizer*.cc files: the components a tokenizer.json
// pipeline is built from. The public API is hf_tokenizer.h.
//
// Text is UTF-8 bytes throughout; offsets are byte offsets. The components
// accept invalid UTF-8 (see hf_tokenizer.h for what it means to each).
#ifndef R1_COMMON_HF_TOKENIZER_INTERNAL_H_
#define R1_COMMON_HF_TOKENIZER_INTERNAL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/hf_tokenizer.h"
#include "common/utf8.h"

struct pcre2_real_code_8;

namespace r1::hf_internal {

// ---- UTF-8 ----------------------------------------------------------------

// Decoding and encoding code points: common/utf8.h.
// Unicode White_Space, as Rust's char::is_whitespace and regex `\s`.
bool IsWhitespace(int32_t cp);
// Rust regex `\w`: Alphabetic, marks, Nd, Pc, Join_Control.
bool IsWordChar(int32_t cp);

// Calls fn(begin, end, valid) over `text` split into maximal runs of valid
// UTF-8 and of invalid bytes, in order.
template <typename Fn>
void ForEachUtf8Run(absl::string_view text, Fn&& fn) {
  size_t run_start = 0;
  bool run_valid = true;
  size_t pos = 0;
  while (pos < text.size()) {
    int len = 1;
    const bool valid = static_cast<unsigned char>(text[pos]) < 0x80 ||
                       utf8::NextCodePoint(text, pos, &len) >= 0;
    if (valid != run_valid && pos > run_start) {
      fn(run_start, pos, run_valid);
      run_start = pos;
    }
    run_valid = valid;
    pos += len;
  }
  if (pos > run_start) fn(run_start, pos, run_valid);
}

// ---- Patterns (PCRE2) ------------------------------------------------------

// A compiled pattern, shared read-only between threads (each thread keeps its
// own match data and JIT stack). Regex patterns are Oniguruma syntax in the
// files; the released ones (look-ahead, \p{..}, (?i:..)) mean the same in
// PCRE2 with UTF and UCP once \s is widened to Oniguruma's (White_Space,
// which adds U+0085 NEL; the JavaScript port's \s lacks it too).
class Regex {
 public:
  // `literal`: the pattern is a plain string (tokenizer.json's {"String": ..}).
  static absl::StatusOr<std::shared_ptr<const Regex>> Compile(
      const std::string& pattern, bool literal);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Appends the [begin, end) byte ranges of the non-empty, non-overlapping
  // matches, left to right. Invalid UTF-8 runs never match and end the
  // subject the pattern sees (look-arounds stop there).
  void FindAll(absl::string_view text,
               std::vector<std::pair<size_t, size_t>>* matches) const;

 private:
  explicit Regex(pcre2_real_code_8* code) : code_(code) {}
  void FindAllValid(absl::string_view text, size_t offset,
                    std::vector<std::pair<size_t, size_t>>* matches) const;
  pcre2_real_code_8* code_;
};

// tokenizers' SplitDelimiterBehavior.
enum class SplitBehavior {
  kRemoved,
  kIsolated,
  kMergedWithPrevious,
  kMergedWithNext,
  kContiguous,
};

// The pieces [begin, end) of a text of `size` bytes cut at `matches` (sorted,
// non-overlapping) as tokenizers' NormalizedString::split does; with `invert`
// the matches and the gaps between them swap roles. Empty pieces are dropped.
std::vector<std::pair<size_t, size_t>> SplitAtMatches(
    size_t size, const std::vector<std::pair<size_t, size_t>>& matches,
    SplitBehavior behavior, bool invert);

// ---- Normalizers -----------------------------------------------------------

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string Normalize(std::string text) const = 0;
};

enum class UnicodeForm { kNfc, kNfd, kNfkc, kNfkd };
// nullptr with an error if ICU lacks the form.
absl::StatusOr<std::unique_ptr<Normalizer>> MakeUnicodeNormalizer(UnicodeForm form);
std::unique_ptr<Normalizer> MakeLowercaseNormalizer();
std::unique_ptr<Normalizer> MakeStripNormalizer(bool left, bool right);
std::unique_ptr<Normalizer> MakePrependNormalizer(std::string prepend);
std::unique_ptr<Normalizer> MakeReplaceNormalizer(std::shared_ptr<const Regex> pattern,
                                                  std::string content);
std::unique_ptr<Normalizer> MakeNormalizerSequence(
    std::vector<std::unique_ptr<Normalizer>> normalizers);

// Replaces every match of `pattern` in `text` with `content`.
std::string ReplaceAll(const Regex& pattern, absl::string_view text,
                       absl::string_view content);

// ---- Pre-tokenizers --------------------------------------------------------

struct Piece {
  std::string text;
  // Starts at offset 0 of the original input (Metaspace's prepend_scheme
  // "first" prepends only there).
  bool at_start = false;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces each piece by its sub-pieces, in order.
  virtual void PreTokenize(std::vector<Piece>* pieces) const = 0;
};

// The GPT-2 pattern ByteLevel uses when use_regex is true.
extern const char kGpt2Pattern[];

// The 256 characters byte-level BPE spells bytes with (GPT-2's bytes_to_unicode),
// as UTF-8, indexed by byte.
const std::vector<std::string>& ByteLevelAlphabet();
// The byte a byte-level character stands for, or -1.
int ByteLevelCharToByte(int32_t cp);

std::unique_ptr<PreTokenizer> MakeByteLevelPreTokenizer(
    bool add_prefix_space, std::shared_ptr<const Regex> gpt2_regex_or_null);
std::unique_ptr<PreTokenizer> MakeSplitPreTokenizer(std::shared_ptr<const Regex> pattern,
                                                    SplitBehavior behavior, bool invert);
std::unique_ptr<PreTokenizer> MakeDigitsPreTokenizer(bool individual_digits);
enum class PrependScheme { kFirst, kAlways, kNever };
std::unique_ptr<PreTokenizer> MakeMetaspacePreTokenizer(std::string replacement,
                                                        PrependScheme scheme, bool split);
std::unique_ptr<PreTokenizer> MakePreTokenizerSequence(
    std::vector<std::unique_ptr<PreTokenizer>> pre_tokenizers);

// ---- Added tokens ----------------------------------------------------------

// Leftmost-longest matching over a set of strings (a byte trie).
class TokenTrie {
 public:
  TokenTrie();
  void Add(absl::string_view content, int value);
  bool empty() const { return nodes_.size() == 1; }
  // The value of the longest string starting at text[pos] and its length;
  // -1 when none does.
  int LongestAt(absl::string_view text, size_t pos, size_t* length) const;
  // Calls fn(value, length) for every string starting at text[pos], shortest first.
  template <typename Fn>
  void ForEachPrefixAt(absl::string_view text, size_t pos, Fn&& fn) const {
    int node = 0;
    for (size_t i = pos; i < text.size(); ++i) {
      node = Child(node, static_cast<unsigned char>(text[i]));
      if (node < 0) return;
      if (nodes_[node].value >= 0) fn(nodes_[node].value, i + 1 - pos);
    }
  }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int>> children;  // sorted by byte
    int value = -1;
  };
  int Child(int node, unsigned char byte) const;
  bool first_byte_[256];
  std::vector<Node> nodes_;
};

// ---- Models -----------------------------------------------------------------

class Model {
 public:
  virtual ~Model() = default;
  // Appends the ids of one pre-token.
  virtual void Encode(absl::string_view piece, std::vector<int>* ids) const = 0;
  virtual const std::unordered_map<std::string, int>& vocab() const = 0;
};

// ---- Model: BPE ------------------------------------------------------------

struct BpeOptions {
  std::unordered_map<std::string, int> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  std::string unk_token;  // "" = none
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
};

class BpeModel : public Model {
 public:
  // Errors name the merge (its index in `merges`) that the vocabulary lacks.
  static absl::StatusOr<std::unique_ptr<BpeModel>> Create(BpeOptions options,
                                                         const std::string& where);
  // Short pieces are remembered per thread (words repeat), as the reference
  // library caches them too.
  void Encode(absl::string_view piece, std::vector<int>* ids) const override;

  const std::unordered_map<std::string, int>& vocab() const override { return vocab_; }

 private:
  struct MergeResult {
    int rank;
    int merged_id;
  };
  static uint64_t PairKey(int left, int right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  void EncodeUncached(absl::string_view piece, std::vector<int>* ids) const;
  // The id of a one-character token, or -1.
  int CharId(int32_t cp) const;

  std::unordered_map<std::string, int> vocab_;
  absl::flat_hash_map<uint64_t, MergeResult> merges_;
  std::vector<int> ascii_ids_;  // [128]: id of each ASCII character, or -1
  absl::flat_hash_map<int32_t, int> char_ids_;  // other one-code-point tokens
  uint64_t serial_ = 0;  // names this model's entries in the per-thread caches
  int byte_ids_[256];  // <0xNN> tokens for byte_fallback, or -1
  int unk_id_ = -1;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
};

// ---- Model: Unigram ----------------------------------------------------------

struct UnigramOptions {
  std::vector<std::pair<std::string, double>> pieces;  // id = index; log probabilities
  int unk_id = -1;  // -1: none
  bool byte_fallback = false;
};

// SentencePiece's unigram model as the tokenizers library runs it: the
// segmentation with the highest total score (Viterbi; on equal scores the
// first path found stays), characters no piece covers scored as unknown
// (lowest score - 10) and runs of them fused into one unknown piece.
class UnigramModel : public Model {
 public:
  static absl::StatusOr<std::unique_ptr<UnigramModel>> Create(UnigramOptions options,
                                                              const std::string& where);
  void Encode(absl::string_view piece, std::vector<int>* ids) const override;
  const std::unordered_map<std::string, int>& vocab() const override { return vocab_; }

 private:
  std::unordered_map<std::string, int> vocab_;
  std::vector<double> scores_;  // by id
  std::unique_ptr<TokenTrie> trie_;  // piece -> id
  double unk_score_ = 0;
  int unk_id_ = -1;
  int byte_ids_[256];  // <0xNN> pieces for byte_fallback, or -1
  bool byte_fallback_ = false;
};

// ---- Decoders --------------------------------------------------------------

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Rewrites the token strings (tokenizers' decode_chain). Without
  // `repair_utf8` the byte-producing decoders leave invalid UTF-8 as is.
  virtual void DecodeChain(std::vector<std::string>* tokens, bool repair_utf8) const = 0;
};

std::unique_ptr<Decoder> MakeByteLevelDecoder();
std::unique_ptr<Decoder> MakeByteFallbackDecoder();
std::unique_ptr<Decoder> MakeFuseDecoder();
std::unique_ptr<Decoder> MakeStripDecoder(int32_t content, int start, int stop);
std::unique_ptr<Decoder> MakeReplaceDecoder(std::shared_ptr<const Regex> pattern,
                                            std::string content);
std::unique_ptr<Decoder> MakeMetaspaceDecoder(int32_t replacement, PrependScheme scheme);
std::unique_ptr<Decoder> MakeDecoderSequence(std::vector<std::unique_ptr<Decoder>> decoders);

// Invalid UTF-8 replaced by U+FFFD, one per maximal ill-formed subpart (as
// Rust's String::from_utf8_lossy and the WHATWG decoder do).
std::string RepairUtf8(absl::string_view bytes);

// ---- The whole pipeline ----------------------------------------------------

// TemplateProcessing's `single` template: items in order, each either the
// sequence ($A) or the ids of one special token.
struct Template {
  struct Item {
    bool is_sequence = false;
    std::vector<int> ids;
  };
  std::vector<Item> items;
};

struct Pipeline {
  std::vector<HfAddedToken> added_tokens;  // in id order
  std::unordered_map<std::string, int> added_by_content;  // -> index in added_tokens
  std::unordered_map<int, int> added_by_id;              // -> index in added_tokens
  TokenTrie raw_trie;         // normalized: false -> index, matched in raw text
  TokenTrie normalized_trie;  // normalized: true -> index, in normalized text

  std::unique_ptr<Normalizer> normalizer;       // null: none
  std::unique_ptr<PreTokenizer> pre_tokenizer;  // null: none
  std::unique_ptr<Model> model;
  std::vector<Template> templates;              // applied in order
  std::unique_ptr<Decoder> decoder;             // null: tokens joined by " "

  std::vector<std::string> id_to_model_token;   // "" where the model has no id
  int vocab_size = 0;
};

}  // namespace r1::hf_internal

#endif  // R1_COMMON_HF_TOKENIZER_INTERNAL_H_
