// The one tokenizer wrapper: SentencePiece, reached through
// libr1_sentencepiece.so (see sentencepiece_shim.h for why it is dlopen'ed).
//
// Models trained here use ids 0 <unk>, 1 <s> (BOS), 2 </s> (EOS), 3 <pad>,
// then the chat and reasoning tags of chat_template.h as single tokens, and
// identity normalization, so Decode(Encode(text)) == text for any text whose
// characters the model covers.
#ifndef R1_COMMON_TOKENIZER_H_
#define R1_COMMON_TOKENIZER_H_

#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace r1 {

namespace config {
class TokenizerConfig;
}

// A piece's kind, numbered as in SentencePiece's ModelProto (the same numbers
// GGUF's tokenizer.ggml.token_type uses).
enum class PieceType {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,      // <s>, </s>, <pad>: never produced from text
  kUserDefined = 4,  // the chat tags: always matched whole in text
  kUnused = 5,
  kByte = 6,         // <0xNN> byte-fallback pieces
};

class Tokenizer {
 public:
  // Loads a .model file. Refuses models without the special tokens r1 needs.
  static absl::StatusOr<Tokenizer> Load(const std::string& model_path);

  // Trains a model on text files (one example per line) with the settings of
  // `config` and writes it atomically to `model_path` (conventionally
  // *.model). SentencePiece's own log is silenced unless `verbose`.
  static absl::Status Train(const config::TokenizerConfig& config,
                            const std::vector<std::string>& input_files,
                            const std::string& model_path, bool verbose = false);

  std::vector<int> Encode(absl::string_view text) const;
  // INVALID_ARGUMENT for ids outside the vocabulary.
  absl::StatusOr<std::string> Decode(const std::vector<int>& ids) const;

  int vocab_size() const;
  int bos_id() const { return bos_id_; }
  int eos_id() const { return eos_id_; }
  int pad_id() const { return pad_id_; }
  int unk_id() const { return unk_id_; }
  // The id of `piece`, or unk_id() when the vocabulary lacks it.
  int PieceToId(absl::string_view piece) const;
  std::string IdToPiece(int id) const;
  // Score (unigram log probability, or BPE merge priority) and kind of the
  // piece `id`; id must be in [0, vocab_size()).
  float PieceScore(int id) const;
  PieceType GetPieceType(int id) const;

 private:
  struct Handle;
  explicit Tokenizer(std::shared_ptr<const Handle> handle);

  std::shared_ptr<const Handle> handle_;
  int bos_id_ = -1;
  int eos_id_ = -1;
  int pad_id_ = -1;
  int unk_id_ = -1;
};

// Where libr1_sentencepiece.so was found, or why it could not be loaded.
absl::StatusOr<std::string> SentencePieceShimPath();

}  // namespace r1

#endif  // R1_COMMON_TOKENIZER_H_
