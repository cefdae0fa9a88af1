// The one tokenizer wrapper, over two implementations:
// - SentencePiece `.model`, reached through libr1_sentencepiece.so (see
//   sentencepiece_shim.h for why it is dlopen'ed): r1's own tokenizers.
//   Models trained here use ids 0 <unk>, 1 <s> (BOS), 2 </s> (EOS), 3 <pad>,
//   then the chat and reasoning tags of chat_template.h as single tokens, and
//   identity normalization, so Decode(Encode(text)) == text for any text
//   whose characters the model covers.
// - Hugging Face `tokenizer.json` (hf_tokenizer.h): released models' own,
//   with the special tokens of tokenizer_config.json, the stop ids of
//   generation_config.json and the model's chat template beside it. r1's
//   reasoning tags are ordinary text to such a tokenizer unless its
//   vocabulary has them.
#ifndef R1_COMMON_TOKENIZER_H_
#define R1_COMMON_TOKENIZER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace r1 {

namespace config {
class TokenizerConfig;
}
struct HfChatTemplate;

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
  // Loads `path`: a SentencePiece .model file (refused without the special
  // tokens r1 needs), a tokenizer.json file, or a model folder (its
  // tokenizer.json first, else its tokenizer.model). With tokenizer.json,
  // tokenizer_config.json, generation_config.json and the chat template
  // beside it are read too when present; a SentencePiece model's folder
  // may carry a chat_template.jinja (one a run's config gave it).
  // `fallback_chat_template`: a .jinja file (a run's data.chat_template)
  // that becomes the chat template when the model has none of its own. It
  // is then among files() as chat_template.jinja, so checkpoints and exports
  // carry it and the stages after find it in the folder. Errors name it.
  static absl::StatusOr<Tokenizer> Load(const std::string& path, const std::string& fallback_chat_template = "");

  // Trains a model on text files (one example per line) with the settings of
  // `config` and writes it atomically to `model_path` (conventionally
  // *.model). SentencePiece's own log is silenced unless `verbose`.
  static absl::Status Train(const config::TokenizerConfig& config,
                            const std::vector<std::string>& input_files,
                            const std::string& model_path, bool verbose = false);

  // The text's ids, without BOS/EOS (tokenizer.json: add_special_tokens
  // false, as transformers encodes a rendered chat template). With
  // `add_special_tokens`: what a plain-text encode adds (SentencePiece: BOS,
  // as r1's exports set add_bos_token; tokenizer.json: its post-processor).
  std::vector<int> Encode(absl::string_view text, bool add_special_tokens = false) const;
  // The text of `ids`; control and special tokens (BOS, EOS, <|im_end|>..)
  // are left out. INVALID_ARGUMENT for ids outside the vocabulary, except
  // that tokenizer.json skips ids past its end as the tokenizers library
  // does (a released model's padded embedding rows).
  absl::StatusOr<std::string> Decode(const std::vector<int>& ids) const;

  int vocab_size() const;
  // -1 when the tokenizer has none (Qwen has no BOS). pad_id() falls back
  // to eos_id() for a tokenizer.json without a pad token.
  int bos_id() const { return bos_id_; }
  int eos_id() const { return eos_id_; }
  int pad_id() const { return pad_id_; }
  int unk_id() const { return unk_id_; }
  // Ids that end a generation: EOS, plus generation_config.json's
  // eos_token_id (one id or a list) for a tokenizer.json folder.
  bool IsStop(int id) const;
  const std::vector<int>& stop_ids() const { return stop_ids_; }
  // The model's own chat template (a tokenizer.json folder with
  // chat_template.jinja or tokenizer_config.json's chat_template, a folder's
  // chat_template.jinja, or Load's fallback), or null: then r1's own
  // (chat_template.h) applies.
  const HfChatTemplate* chat_template() const { return chat_template_.get(); }
  // The files this tokenizer was loaded from, as (path, name in a model
  // folder): what a checkpoint or an export copies to carry it.
  const std::vector<std::pair<std::string, std::string>>& files() const { return files_; }
  // The file this tokenizer was loaded from (tokenizer.model or
  // tokenizer.json), for messages.
  const std::string& path() const { return files_.front().first; }
  // "sentencepiece" or "tokenizer.json".
  absl::string_view kind() const;
  // The id of `piece`, or unk_id() when the vocabulary lacks it.
  int PieceToId(absl::string_view piece) const;
  std::string IdToPiece(int id) const;
  // Score (unigram log probability, or BPE merge priority) and kind of the
  // piece `id`; id must be in [0, vocab_size()).
  float PieceScore(int id) const;
  PieceType GetPieceType(int id) const;

 private:
  class Backend;
  class SentencePieceBackend;
  class HfBackend;
  explicit Tokenizer(std::shared_ptr<const Backend> backend);
  static absl::StatusOr<Tokenizer> LoadSentencePiece(const std::string& model_path);
  static absl::StatusOr<Tokenizer> LoadTokenizerJson(const std::string& json_path);
  // Makes the template in `jinja_path` this tokenizer's, with its BOS, EOS,
  // UNK and PAD pieces as the template's special tokens, and adds the file
  // to files_.
  absl::Status AttachChatTemplate(const std::string& jinja_path);

  std::shared_ptr<const Backend> backend_;
  std::shared_ptr<const HfChatTemplate> chat_template_;
  std::vector<std::pair<std::string, std::string>> files_;
  std::vector<int> stop_ids_;
  int bos_id_ = -1;
  int eos_id_ = -1;
  int pad_id_ = -1;
  int unk_id_ = -1;
};

// Where libr1_sentencepiece.so was found, or why it could not be loaded.
absl::StatusOr<std::string> SentencePieceShimPath();

}  // namespace r1

#endif  // R1_COMMON_TOKENIZER_H_
