// A Hugging Face `tokenizer.json` engine: the parts released LLM tokenizers
// use (byte-level BPE as in GPT-2, Llama-3, Qwen2/2.5/3, DeepSeek-V3/R1;
// SentencePiece-style BPE with byte fallback as in Llama-2 and Mistral;
// SentencePiece's Unigram model),
// behaving as the `tokenizers` library's encode(text, add_special_tokens)
// and decode(ids, skip_special_tokens).
//
// Every component type or option it does not implement is refused by name at
// load, never approximated; errors name the file and the JSON path.
//
// Invalid UTF-8 (which the reference library cannot receive) is defined here
// as: added tokens still match byte for byte; normalizers and pattern splits
// see only the valid runs and pass each maximal invalid run through unchanged
// as its own piece; the model sees each invalid byte as one symbol (byte-level
// tokenizers encode it as its byte token, byte_fallback gives <0xNN>, else
// unk). DecodeBytes(Encode(x)) == x for byte-level tokenizers on any bytes.
//
// Torch-free (common/). The const methods are safe to call from many threads.
#ifndef R1_COMMON_HF_TOKENIZER_H_
#define R1_COMMON_HF_TOKENIZER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace r1 {

namespace hf_internal {
struct Pipeline;
}

// One entry of tokenizer.json's `added_tokens`.
struct HfAddedToken {
  int id = 0;
  std::string content;
  bool special = false;      // skipped by Decode(..., skip_special_tokens)
  bool single_word = false;  // matches only where no word character touches it
  bool lstrip = false;       // swallows the whitespace on its left
  bool rstrip = false;       // swallows the whitespace on its right
  bool normalized = false;   // matched in the normalized text (else the raw text)
};

class HfTokenizer {
 public:
  // Reads and parses a tokenizer.json file.
  static absl::StatusOr<HfTokenizer> Load(const std::string& path);
  // Parses tokenizer.json text; `origin` names it in errors (a path).
  static absl::StatusOr<HfTokenizer> FromJson(absl::string_view json,
                                              const std::string& origin);

  // As tokenizers' encode(text, add_special_tokens).ids: added tokens split
  // first, then normalizer, pre-tokenizer and model; the post-processor's
  // special tokens (BOS/EOS) only when `add_special_tokens`.
  std::vector<int> Encode(absl::string_view text,
                          bool add_special_tokens = false) const;

  // As tokenizers' decode(ids, skip_special_tokens): invalid UTF-8 that the
  // decoders produce becomes U+FFFD as the reference library does.
  // INVALID_ARGUMENT for ids outside the vocabulary.
  absl::StatusOr<std::string> Decode(const std::vector<int>& ids,
                                     bool skip_special_tokens = false) const;
  // Decode without the UTF-8 repair: the exact bytes the tokens stand for
  // (a streaming detokenizer holds back an incomplete character itself).
  absl::StatusOr<std::string> DecodeBytes(const std::vector<int>& ids,
                                          bool skip_special_tokens = false) const;

  // Max id + 1 over the model's vocabulary and the added tokens.
  int vocab_size() const;
  // Added tokens first, then the model's vocabulary.
  std::optional<int> TokenToId(absl::string_view token) const;
  // "" for an id that names no token.
  std::string IdToToken(int id) const;
  // An added token with special: true.
  bool IsSpecial(int id) const;
  // The added tokens in id order.
  const std::vector<HfAddedToken>& added_tokens() const;

 private:
  explicit HfTokenizer(std::shared_ptr<const hf_internal::Pipeline> pipeline);
  absl::StatusOr<std::string> DecodeImpl(const std::vector<int>& ids,
                                         bool skip_special_tokens,
                                         bool repair_utf8) const;

  std::shared_ptr<const hf_internal::Pipeline> pipeline_;
};

}  // namespace r1

#endif  // R1_COMMON_HF_TOKENIZER_H_
