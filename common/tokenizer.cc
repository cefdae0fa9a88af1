#include "common/tokenizer.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/chat_template.h"
#include "common/file_util.h"
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

struct Tokenizer::Handle {
  const ShimApi* api = nullptr;
  R1SpmProcessor* processor = nullptr;
  ~Handle() {
    if (processor != nullptr) api->free_processor(processor);
  }
};

Tokenizer::Tokenizer(std::shared_ptr<const Handle> handle) : handle_(std::move(handle)) {
  const ShimApi& api = *handle_->api;
  unk_id_ = api.special_id(handle_->processor, 0);
  bos_id_ = api.special_id(handle_->processor, 1);
  eos_id_ = api.special_id(handle_->processor, 2);
  pad_id_ = api.special_id(handle_->processor, 3);
}

absl::StatusOr<std::string> SentencePieceShimPath() {
  R1_ASSIGN_OR_RETURN(const ShimApi* api, Shim());
  return api->path;
}

absl::StatusOr<Tokenizer> Tokenizer::Load(const std::string& model_path) {
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
  auto handle = std::make_shared<Handle>();
  handle->api = api;
  handle->processor = processor;
  Tokenizer tokenizer(std::move(handle));
  if (tokenizer.bos_id() < 0 || tokenizer.eos_id() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tokenizer model ", model_path, " has no BOS/EOS tokens; train it with `r1 tokenizer train`"));
  }
  for (const std::string& token : ChatSpecialTokens()) {
    if (tokenizer.PieceToId(token) == tokenizer.unk_id()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer model ", model_path, " lacks the special token ", token,
                       "; train it with `r1 tokenizer train`"));
    }
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

std::vector<int> Tokenizer::Encode(absl::string_view text) const {
  const ShimApi& api = *handle_->api;
  int* ids = nullptr;
  size_t num_ids = 0;
  char error[kErrorSize] = "";
  // SentencePiece fails only when no model is loaded, which Load() rules out.
  if (api.encode(handle_->processor, text.data(), text.size(), &ids, &num_ids, error,
                 sizeof(error)) != 0) {
    std::fprintf(stderr, "r1: internal error in tokenizer encode: %s\n", error);
    std::abort();
  }
  std::vector<int> out(ids, ids + num_ids);
  api.free_buffer(ids);
  return out;
}

absl::StatusOr<std::string> Tokenizer::Decode(const std::vector<int>& ids) const {
  const ShimApi& api = *handle_->api;
  char* text = nullptr;
  size_t text_size = 0;
  char error[kErrorSize] = "";
  if (api.decode(handle_->processor, ids.data(), ids.size(), &text, &text_size, error,
                 sizeof(error)) != 0) {
    return absl::InvalidArgumentError(error);
  }
  std::string out(text, text_size);
  api.free_buffer(text);
  return out;
}

int Tokenizer::vocab_size() const { return handle_->api->vocab_size(handle_->processor); }

int Tokenizer::PieceToId(absl::string_view piece) const {
  return handle_->api->piece_to_id(handle_->processor, piece.data(), piece.size());
}

std::string Tokenizer::IdToPiece(int id) const {
  const char* piece = handle_->api->id_to_piece(handle_->processor, id);
  return piece == nullptr ? std::string() : std::string(piece);
}

float Tokenizer::PieceScore(int id) const { return handle_->api->piece_score(handle_->processor, id); }

PieceType Tokenizer::GetPieceType(int id) const {
  return static_cast<PieceType>(handle_->api->piece_type(handle_->processor, id));
}

}  // namespace r1
