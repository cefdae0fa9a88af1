#include "common/tokenizer.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <map>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "common/chat_template.h"
#include "common/file_util.h"
#include "common/hf_chat_template.h"
#include "common/hf_tokenizer.h"
#include "common/sentencepiece_shim.h"
#include "common/status.h"
#include "proto/config.pb.h"

namespace r1 {
namespace {

constexpr char kShimName[] = "libr1_sentencepiece.so";
constexpr size_t kErrorSize = 1024;

// Function table of the dlopen'ed shim.
struct ShimApi {
  std::string path;
  decltype(&r1spm_load) load;
  decltype(&r1spm_load_bytes) load_bytes;
  decltype(&r1spm_free) free_processor;
  decltype(&r1spm_free_buffer) free_buffer;
  decltype(&r1spm_encode) encode;
  decltype(&r1spm_decode) decode;
  decltype(&r1spm_vocab_size) vocab_size;
  decltype(&r1spm_piece_to_id) piece_to_id;
  decltype(&r1spm_id_to_piece) id_to_piece;
  decltype(&r1spm_piece_score) piece_score;
  decltype(&r1spm_piece_type) piece_type;
  decltype(&r1spm_special_id) special_id;
  decltype(&r1spm_train) train;
};

std::vector<std::string> ShimCandidates() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("R1_SENTENCEPIECE_SHIM"); env != nullptr && *env != '\0') {
    candidates.push_back(env);
  }
  const std::string exe_dir = ExecutableDir();
  candidates.push_back(absl::StrCat(exe_dir, "/", kShimName));
  candidates.push_back(absl::StrCat(exe_dir, "/../lib/", kShimName));
#ifdef R1_SENTENCEPIECE_SHIM_BUILD_PATH
  candidates.push_back(R1_SENTENCEPIECE_SHIM_BUILD_PATH);
#endif
  return candidates;
}

absl::StatusOr<ShimApi> OpenShim() {
  std::vector<std::string> tried;
  for (const std::string& candidate : ShimCandidates()) {
    if (!std::filesystem::exists(candidate)) {
      tried.push_back(candidate);
      continue;
    }
    // RTLD_DEEPBIND: the shim and libsentencepiece resolve symbols in their own
    // dependency tree first, so SentencePiece's bundled protobuf 3.14 never
    // binds to (or is bound by) the process's libprotobuf.so.32.
    void* lib = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (lib == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot load ", candidate, ": ", dlerror()));
    }
    ShimApi api;
    api.path = candidate;
    bool missing = false;
    std::string missing_name;
    const auto bind = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      if (fn == nullptr && !missing) {
        missing = true;
        missing_name = name;
      }
    };
    decltype(&r1spm_abi_version) abi_version;
    bind(abi_version, "r1spm_abi_version");
    bind(api.load, "r1spm_load");
    bind(api.load_bytes, "r1spm_load_bytes");
    bind(api.free_processor, "r1spm_free");
    bind(api.free_buffer, "r1spm_free_buffer");
    bind(api.encode, "r1spm_encode");
    bind(api.decode, "r1spm_decode");
    bind(api.vocab_size, "r1spm_vocab_size");
    bind(api.piece_to_id, "r1spm_piece_to_id");
    bind(api.id_to_piece, "r1spm_id_to_piece");
    bind(api.piece_score, "r1spm_piece_score");
    bind(api.piece_type, "r1spm_piece_type");
    bind(api.special_id, "r1spm_special_id");
    bind(api.train, "r1spm_train");
    if (missing) {
      return absl::FailedPreconditionError(
          absl::StrCat(candidate, " lacks symbol ", missing_name, "; rebuild r1"));
    }
    if (abi_version() != R1SPM_ABI_VERSION) {
      return absl::FailedPreconditionError(absl::StrCat(
          candidate, " has ABI version ", abi_version(), ", expected ", R1SPM_ABI_VERSION,
          "; rebuild r1"));
    }
    return api;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("cannot find ", kShimName, " (set R1_SENTENCEPIECE_SHIM); tried ",
                   absl::StrJoin(tried, ", ")));
}

absl::StatusOr<const ShimApi*> Shim() {
  static const absl::StatusOr<ShimApi>* const shim = new absl::StatusOr<ShimApi>(OpenShim());
  if (!shim->ok()) return shim->status();
  return &shim->value();
}

}  // namespace

// What each implementation provides; Tokenizer adds the special ids, the
// stop ids, the chat template and the files.
class Tokenizer::Backend {
 public:
  virtual ~Backend() = default;
  virtual std::vector<int> Encode(absl::string_view text, bool add_special_tokens) const = 0;
  virtual absl::StatusOr<std::string> Decode(const std::vector<int>& ids) const = 0;
  virtual int vocab_size() const = 0;
  virtual std::optional<int> PieceToId(absl::string_view piece) const = 0;
  virtual std::string IdToPiece(int id) const = 0;
  virtual float PieceScore(int id) const = 0;
  virtual PieceType GetPieceType(int id) const = 0;
  virtual absl::string_view kind() const = 0;
};

class Tokenizer::SentencePieceBackend : public Tokenizer::Backend {
 public:
  SentencePieceBackend(const ShimApi* api, R1SpmProcessor* processor) : api_(api), processor_(processor) {}
  ~SentencePieceBackend() override { api_->free_processor(processor_); }

  int SpecialId(int which) const { return api_->special_id(processor_, which); }

  std::vector<int> Encode(absl::string_view text, bool add_special_tokens) const override {
    int* ids = nullptr;
    size_t num_ids = 0;
    char error[kErrorSize] = "";
    // SentencePiece fails only when no model is loaded, which Load() rules out.
    if (api_->encode(processor_, text.data(), text.size(), &ids, &num_ids, error, sizeof(error)) != 0) {
      std::fprintf(stderr, "r1: internal error in tokenizer encode: %s\n", error);
      std::abort();
    }
    std::vector<int> out;
    if (add_special_tokens) out.push_back(SpecialId(1));
    out.insert(out.end(), ids, ids + num_ids);
    api_->free_buffer(ids);
    return out;
  }

  absl::StatusOr<std::string> Decode(const std::vector<int>& ids) const override {
    char* text = nullptr;
    size_t text_size = 0;
    char error[kErrorSize] = "";
    if (api_->decode(processor_, ids.data(), ids.size(), &text, &text_size, error, sizeof(error)) != 0) {
      return absl::InvalidArgumentError(error);
    }
    std::string out(text, text_size);
    api_->free_buffer(text);
    return out;
  }

  int vocab_size() const override { return api_->vocab_size(processor_); }

  std::optional<int> PieceToId(absl::string_view piece) const override {
    const int id = api_->piece_to_id(processor_, piece.data(), piece.size());
    // SentencePiece answers unk for an unknown piece; only "<unk>" itself is unk.
    if (id == SpecialId(0) && piece != IdToPiece(id)) return std::nullopt;
    return id;
  }

  std::string IdToPiece(int id) const override {
    const char* piece = api_->id_to_piece(processor_, id);
    return piece == nullptr ? std::string() : std::string(piece);
  }

  float PieceScore(int id) const override { return api_->piece_score(processor_, id); }
  PieceType GetPieceType(int id) const override { return static_cast<PieceType>(api_->piece_type(processor_, id)); }
  absl::string_view kind() const override { return "sentencepiece"; }

 private:
  const ShimApi* api_;
  R1SpmProcessor* processor_;
};

class Tokenizer::HfBackend : public Tokenizer::Backend {
 public:
  explicit HfBackend(HfTokenizer tokenizer) : tokenizer_(std::move(tokenizer)) {
    for (const HfAddedToken& token : tokenizer_.added_tokens()) added_[token.id] = &token;
  }

  std::vector<int> Encode(absl::string_view text, bool add_special_tokens) const override {
    return tokenizer_.Encode(text, add_special_tokens);
  }
  // Ids past the vocabulary are skipped, as the tokenizers library's decode
  // skips ids it has no token for: released models pad their embedding past
  // the tokenizer (Qwen2.5: 151665 tokens, 151936 rows), and a sampled
  // padding id must not fail a whole rollout. Negative ids are an error.
  absl::StatusOr<std::string> Decode(const std::vector<int>& ids) const override {
    std::vector<int> known;
    known.reserve(ids.size());
    std::copy_if(ids.begin(), ids.end(), std::back_inserter(known),
                 [vocab = tokenizer_.vocab_size()](int id) { return id < vocab; });
    return tokenizer_.Decode(known, /*skip_special_tokens=*/true);
  }
  int vocab_size() const override { return tokenizer_.vocab_size(); }
  std::optional<int> PieceToId(absl::string_view piece) const override { return tokenizer_.TokenToId(piece); }
  std::string IdToPiece(int id) const override { return tokenizer_.IdToToken(id); }
  // BPE has merge ranks, not piece scores.
  float PieceScore(int) const override { return 0; }
  PieceType GetPieceType(int id) const override {
    const auto it = added_.find(id);
    if (it != added_.end()) return it->second->special ? PieceType::kControl : PieceType::kUserDefined;
    return PieceType::kNormal;
  }
  absl::string_view kind() const override { return "tokenizer.json"; }

 private:
  HfTokenizer tokenizer_;
  std::map<int, const HfAddedToken*> added_;
};

Tokenizer::Tokenizer(std::shared_ptr<const Backend> backend) : backend_(std::move(backend)) {}

absl::StatusOr<std::string> SentencePieceShimPath() {
  R1_ASSIGN_OR_RETURN(const ShimApi* api, Shim());
  return api->path;
}

absl::StatusOr<Tokenizer> Tokenizer::Load(const std::string& path, const std::string& fallback_chat_template) {
  std::error_code ec;
  std::string file = path;
  if (std::filesystem::is_directory(path, ec)) {
    const std::string json = absl::StrCat(path, "/tokenizer.json");
    const std::string model = absl::StrCat(path, "/tokenizer.model");
    if (std::filesystem::exists(json, ec)) {
      file = json;
    } else if (std::filesystem::exists(model, ec)) {
      file = model;
    } else {
      return absl::NotFoundError(
          absl::StrCat("model folder ", path, " has neither tokenizer.json nor tokenizer.model"));
    }
  }
  R1_ASSIGN_OR_RETURN(Tokenizer tokenizer,
                      absl::EndsWith(file, ".json") ? LoadTokenizerJson(file) : LoadSentencePiece(file));
  // The model's own template wins over a config's, as the one it was
  // trained (or released) with.
  if (tokenizer.chat_template_ == nullptr && !fallback_chat_template.empty()) {
    R1_RETURN_IF_ERROR(tokenizer.AttachChatTemplate(fallback_chat_template));
  }
  return tokenizer;
}

absl::Status Tokenizer::AttachChatTemplate(const std::string& jinja_path) {
  absl::StatusOr<std::string> source = ReadFile(jinja_path);
  if (!source.ok()) {
    return absl::Status(source.status().code(), absl::StrCat("chat template: ", source.status().message()));
  }
  R1_ASSIGN_OR_RETURN(HfChatTemplate chat, MakeChatTemplate(*std::move(source), jinja_path));
  const auto piece = [&](int id) -> std::optional<std::string> {
    if (id < 0 || id >= vocab_size()) return std::nullopt;
    return IdToPiece(id);
  };
  chat.bos_token = piece(bos_id_);
  chat.eos_token = piece(eos_id_);
  chat.unk_token = piece(unk_id_);
  chat.pad_token = piece(pad_id_);
  chat_template_ = std::make_shared<const HfChatTemplate>(std::move(chat));
  files_.emplace_back(jinja_path, "chat_template.jinja");
  return absl::OkStatus();
}

absl::StatusOr<Tokenizer> Tokenizer::LoadSentencePiece(const std::string& model_path) {
  R1_ASSIGN_OR_RETURN(const ShimApi* api, Shim());
  // Read the bytes here so a missing file gets r1's NOT_FOUND message rather
  // than SentencePiece's.
  absl::StatusOr<std::string> bytes_or = ReadFile(model_path);
  if (!bytes_or.ok()) {
    return absl::Status(bytes_or.status().code(),
                        absl::StrCat("tokenizer model: ", bytes_or.status().message()));
  }
  const std::string& bytes = *bytes_or;
  char error[kErrorSize] = "";
  R1SpmProcessor* processor = api->load_bytes(bytes.data(), bytes.size(), error, sizeof(error));
  if (processor == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer model ", model_path, " is not a valid SentencePiece model: ", error));
  }
  auto backend = std::make_shared<SentencePieceBackend>(api, processor);
  Tokenizer tokenizer(backend);
  tokenizer.unk_id_ = backend->SpecialId(0);
  tokenizer.bos_id_ = backend->SpecialId(1);
  tokenizer.eos_id_ = backend->SpecialId(2);
  tokenizer.pad_id_ = backend->SpecialId(3);
  tokenizer.stop_ids_ = {tokenizer.eos_id_};
  tokenizer.files_ = {{model_path, "tokenizer.model"}};
  if (tokenizer.bos_id() < 0 || tokenizer.eos_id() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tokenizer model ", model_path, " has no BOS/EOS tokens; train it with `r1 tokenizer train`"));
  }
  for (const std::string& token : ChatSpecialTokens()) {
    if (!backend->PieceToId(token).has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer model ", model_path, " lacks the special token ", token,
                       "; train it with `r1 tokenizer train`"));
    }
  }
  // A template a run's config gave the model, saved beside it.
  const std::filesystem::path jinja = std::filesystem::path(model_path).parent_path() / "chat_template.jinja";
  std::error_code ec;
  if (std::filesystem::exists(jinja, ec)) R1_RETURN_IF_ERROR(tokenizer.AttachChatTemplate(jinja.string()));
  return tokenizer;
}

namespace {

absl::StatusOr<nlohmann::ordered_json> ReadJsonObject(const std::string& path) {
  R1_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a JSON object"));
  }
  return json;
}

}  // namespace

absl::StatusOr<Tokenizer> Tokenizer::LoadTokenizerJson(const std::string& json_path) {
  R1_ASSIGN_OR_RETURN(HfTokenizer hf, HfTokenizer::Load(json_path));
  const std::string dir = std::filesystem::path(json_path).parent_path().string();
  const std::string prefix = dir.empty() ? "" : absl::StrCat(dir, "/");
  auto backend = std::make_shared<HfBackend>(std::move(hf));
  Tokenizer tokenizer(backend);
  tokenizer.files_ = {{json_path, "tokenizer.json"}};
  std::error_code ec;

  // The special tokens, by name, from tokenizer_config.json.
  const std::string config_path = absl::StrCat(prefix, "tokenizer_config.json");
  nlohmann::ordered_json config = nlohmann::ordered_json::object();
  if (std::filesystem::exists(config_path, ec)) {
    R1_ASSIGN_OR_RETURN(config, ReadJsonObject(config_path));
    tokenizer.files_.emplace_back(config_path, "tokenizer_config.json");
  }
  const auto id_of = [&](const char* key, int* id) -> absl::Status {
    R1_ASSIGN_OR_RETURN(std::optional<std::string> token, SpecialToken(config, key, config_path));
    if (!token.has_value() || token->empty()) return absl::OkStatus();
    const std::optional<int> found = backend->PieceToId(*token);
    if (!found.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(config_path, ": ", key, " \"", *token, "\" is not in ", json_path));
    }
    *id = *found;
    return absl::OkStatus();
  };
  R1_RETURN_IF_ERROR(id_of("bos_token", &tokenizer.bos_id_));
  R1_RETURN_IF_ERROR(id_of("eos_token", &tokenizer.eos_id_));
  R1_RETURN_IF_ERROR(id_of("pad_token", &tokenizer.pad_id_));
  R1_RETURN_IF_ERROR(id_of("unk_token", &tokenizer.unk_id_));
  if (tokenizer.eos_id_ >= 0) tokenizer.stop_ids_.push_back(tokenizer.eos_id_);

  // generation_config.json's eos_token_id: one id or a list (Llama-3
  // instruct stops at <|eot_id|> as well as <|end_of_text|>).
  const std::string generation_path = absl::StrCat(prefix, "generation_config.json");
  if (std::filesystem::exists(generation_path, ec)) {
    R1_ASSIGN_OR_RETURN(nlohmann::ordered_json generation, ReadJsonObject(generation_path));
    const auto it = generation.find("eos_token_id");
    if (it != generation.end() && !it->is_null()) {
      const nlohmann::ordered_json list = it->is_array() ? *it : nlohmann::ordered_json::array({*it});
      for (const nlohmann::ordered_json& id : list) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= tokenizer.vocab_size()) {
          return absl::InvalidArgumentError(absl::StrCat(generation_path, ": eos_token_id ", id.dump(),
                                                         " is not a token id of ", json_path));
        }
        const int stop = id.get<int>();
        if (tokenizer.eos_id_ < 0) tokenizer.eos_id_ = stop;
        if (!tokenizer.IsStop(stop)) tokenizer.stop_ids_.push_back(stop);
      }
    }
  }
  if (tokenizer.eos_id_ < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        json_path, ": no EOS token (tokenizer_config.json eos_token or generation_config.json eos_token_id); "
                   "generation would not know where to stop"));
  }
  if (tokenizer.pad_id_ < 0) tokenizer.pad_id_ = tokenizer.eos_id_;

  // The chat template, found as transformers finds it.
  R1_ASSIGN_OR_RETURN(std::optional<HfChatTemplate> chat, LoadChatTemplate(dir.empty() ? "." : dir));
  if (chat.has_value()) tokenizer.chat_template_ = std::make_shared<const HfChatTemplate>(*std::move(chat));
  for (const char* name : {"generation_config.json", "special_tokens_map.json", "chat_template.jinja"}) {
    const std::string extra = absl::StrCat(prefix, name);
    if (std::filesystem::exists(extra, ec)) tokenizer.files_.emplace_back(extra, name);
  }
  return tokenizer;
}

absl::Status Tokenizer::Train(const config::TokenizerConfig& config,
                              const std::vector<std::string>& input_files,
                              const std::string& model_path, bool verbose) {
  R1_ASSIGN_OR_RETURN(const ShimApi* api, Shim());
  if (input_files.empty()) return absl::InvalidArgumentError("tokenizer training needs an input file");
  for (const std::string& file : input_files) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
      return absl::NotFoundError(absl::StrCat("tokenizer training input ", file, " does not exist"));
    }
    if (std::filesystem::file_size(file, ec) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("tokenizer training input ", file, " is empty"));
    }
  }
  if (config.vocab_size() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokenizer.vocab_size must be > 0, got ", config.vocab_size()));
  }
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  const std::vector<std::pair<std::string, std::string>> args = {
      {"input", absl::StrJoin(input_files, ",")},
      {"vocab_size", absl::StrCat(config.vocab_size())},
      {"model_type", config.model_type()},
      {"character_coverage", absl::StrCat(config.character_coverage())},
      {"byte_fallback", config.byte_fallback() ? "true" : "false"},
      {"split_digits", config.split_digits() ? "true" : "false"},
      {"user_defined_symbols", absl::StrJoin(ChatSpecialTokens(), ",")},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "3"},
      // Identity normalization and no whitespace rewriting: decoding gives
      // back exactly the text that was encoded.
      {"normalization_rule_name", "identity"},
      {"add_dummy_prefix", "false"},
      {"remove_extra_whitespaces", "false"},
      // Chain-of-thought lines are long; the default (4192 bytes) drops them.
      {"max_sentence_length", "65536"},
      {"input_sentence_size", "2000000"},
      {"shuffle_input_sentence", "true"},
      {"num_threads", absl::StrCat(cores > 0 ? cores : 1)},
      {"minloglevel", verbose ? "0" : "2"},
  };
  std::vector<const char*> keys, values;
  for (const auto& [key, value] : args) {
    keys.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  char error[kErrorSize] = "";
  char* model = nullptr;
  size_t model_size = 0;
  if (api->train(keys.data(), values.data(), keys.size(), &model, &model_size, error,
                 sizeof(error)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer training failed: ", error));
  }
  std::string bytes(model, model_size);
  api->free_buffer(model);
  return WriteFileAtomically(model_path, bytes);
}

std::vector<int> Tokenizer::Encode(absl::string_view text, bool add_special_tokens) const {
  return backend_->Encode(text, add_special_tokens);
}

absl::StatusOr<std::string> Tokenizer::Decode(const std::vector<int>& ids) const { return backend_->Decode(ids); }

int Tokenizer::vocab_size() const { return backend_->vocab_size(); }

int Tokenizer::PieceToId(absl::string_view piece) const { return backend_->PieceToId(piece).value_or(unk_id_); }

std::string Tokenizer::IdToPiece(int id) const { return backend_->IdToPiece(id); }

float Tokenizer::PieceScore(int id) const { return backend_->PieceScore(id); }

PieceType Tokenizer::GetPieceType(int id) const { return backend_->GetPieceType(id); }

bool Tokenizer::IsStop(int id) const { return std::find(stop_ids_.begin(), stop_ids_.end(), id) != stop_ids_.end(); }

absl::string_view Tokenizer::kind() const { return backend_->kind(); }

}  // namespace r1
