// The only file that includes SentencePiece headers. It must include no Abseil
// or gRPC header: sentencepiece_processor.h declares
// `namespace absl { using std::string_view; }`, which collides with real Abseil.
#include "common/sentencepiece_shim.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <unordered_map>
#include <vector>

struct R1SpmProcessor {
  sentencepiece::SentencePieceProcessor sp;
  // ModelProto type of each piece, by id; empty if the model could not be
  // read (r1spm_piece_type then falls back to the processor's Is* tests).
  std::vector<int> piece_types;
};

namespace {

void SetError(char* error, size_t error_size, const std::string& message) {
  if (error == nullptr || error_size == 0) return;
  const size_t n = message.size() < error_size - 1 ? message.size() : error_size - 1;
  std::memcpy(error, message.data(), n);
  error[n] = '\0';
}

template <typename T>
T* CopyToMalloc(const T* data, size_t count) {
  T* out = static_cast<T*>(std::malloc(count == 0 ? 1 : count * sizeof(T)));
  if (out != nullptr && count > 0) std::memcpy(out, data, count * sizeof(T));
  return out;
}

// Protobuf wire format, just enough to walk a serialized ModelProto. The
// processor has no IsUserDefined(), and the generated ModelProto header is not
// installed (it would also bind this file to SentencePiece's private protobuf).
bool ReadVarint(const std::string& data, size_t& pos, uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64 && pos < data.size(); shift += 7) {
    const uint8_t byte = static_cast<uint8_t>(data[pos++]);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

bool SkipField(const std::string& data, size_t& pos, uint64_t wire_type) {
  uint64_t n = 0;
  switch (wire_type) {
    case 0: return ReadVarint(data, pos, n);
    case 1: n = 8; break;
    case 2:
      if (!ReadVarint(data, pos, n)) return false;
      break;
    case 5: n = 4; break;
    default: return false;  // groups: not used by ModelProto
  }
  if (n > data.size() - pos) return false;
  pos += n;
  return true;
}

// ModelProto { repeated SentencePiece pieces = 1; ... } with
// SentencePiece { string piece = 1; float score = 2; Type type = 3 [default NORMAL = 1]; }.
// Returns each piece's type in id order, or empty when the bytes do not parse.
std::vector<int> PieceTypes(const std::string& proto) {
  std::vector<int> types;
  size_t pos = 0;
  while (pos < proto.size()) {
    uint64_t tag = 0;
    if (!ReadVarint(proto, pos, tag)) return {};
    if (tag != ((1 << 3) | 2)) {
      if (!SkipField(proto, pos, tag & 7)) return {};
      continue;
    }
    uint64_t size = 0;
    if (!ReadVarint(proto, pos, size) || size > proto.size() - pos) return {};
    const size_t end = pos + size;
    uint64_t type = 1;
    while (pos < end) {
      if (!ReadVarint(proto, pos, tag)) return {};
      if (tag == ((3 << 3) | 0)) {
        if (!ReadVarint(proto, pos, type)) return {};
      } else if (!SkipField(proto, pos, tag & 7)) {
        return {};
      }
    }
    if (pos != end) return {};
    types.push_back(static_cast<int>(type));
  }
  return types;
}

void IndexPieceTypes(R1SpmProcessor* processor) {
  processor->piece_types = PieceTypes(processor->sp.serialized_model_proto());
  if (static_cast<int>(processor->piece_types.size()) != processor->sp.GetPieceSize()) {
    processor->piece_types.clear();
  }
}

}  // namespace

extern "C" {

int r1spm_abi_version(void) { return R1SPM_ABI_VERSION; }

R1SpmProcessor* r1spm_load(const char* model_path, char* error, size_t error_size) {
  auto* processor = new R1SpmProcessor;
  const auto status = processor->sp.Load(model_path);
  if (!status.ok()) {
    SetError(error, error_size, status.ToString());
    delete processor;
    return nullptr;
  }
  IndexPieceTypes(processor);
  return processor;
}

R1SpmProcessor* r1spm_load_bytes(const char* bytes, size_t size, char* error, size_t error_size) {
  auto* processor = new R1SpmProcessor;
  const auto status = processor->sp.LoadFromSerializedProto(std::string(bytes, size));
  if (!status.ok()) {
    SetError(error, error_size, status.ToString());
    delete processor;
    return nullptr;
  }
  IndexPieceTypes(processor);
  return processor;
}

void r1spm_free(R1SpmProcessor* processor) { delete processor; }

void r1spm_free_buffer(void* buffer) { std::free(buffer); }

int r1spm_encode(const R1SpmProcessor* processor, const char* text, size_t text_size, int** ids,
                 size_t* num_ids, char* error, size_t error_size) {
  std::vector<int> out;
  const auto status = processor->sp.Encode(std::string(text, text_size), &out);
  if (!status.ok()) {
    SetError(error, error_size, status.ToString());
    return 1;
  }
  *ids = CopyToMalloc(out.data(), out.size());
  *num_ids = out.size();
  return 0;
}

int r1spm_decode(const R1SpmProcessor* processor, const int* ids, size_t num_ids, char** text,
                 size_t* text_size, char* error, size_t error_size) {
  const int vocab = processor->sp.GetPieceSize();
  for (size_t i = 0; i < num_ids; ++i) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      SetError(error, error_size,
               "token id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                   " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
      return 1;
    }
  }
  std::string out;
  const auto status = processor->sp.Decode(std::vector<int>(ids, ids + num_ids), &out);
  if (!status.ok()) {
    SetError(error, error_size, status.ToString());
    return 1;
  }
  *text = CopyToMalloc(out.data(), out.size());
  *text_size = out.size();
  return 0;
}

int r1spm_vocab_size(const R1SpmProcessor* processor) { return processor->sp.GetPieceSize(); }

int r1spm_piece_to_id(const R1SpmProcessor* processor, const char* piece, size_t piece_size) {
  return processor->sp.PieceToId(std::string(piece, piece_size));
}

const char* r1spm_id_to_piece(const R1SpmProcessor* processor, int id) {
  if (id < 0 || id >= processor->sp.GetPieceSize()) return nullptr;
  return processor->sp.IdToPiece(id).c_str();
}

float r1spm_piece_score(const R1SpmProcessor* processor, int id) {
  if (id < 0 || id >= processor->sp.GetPieceSize()) return 0;
  return processor->sp.GetScore(id);
}

int r1spm_piece_type(const R1SpmProcessor* processor, int id) {
  const sentencepiece::SentencePieceProcessor& sp = processor->sp;
  if (id < 0 || id >= sp.GetPieceSize()) return 0;
  if (!processor->piece_types.empty()) return processor->piece_types[id];
  if (sp.IsUnknown(id)) return 2;
  if (sp.IsControl(id)) return 3;
  if (sp.IsUnused(id)) return 5;
  if (sp.IsByte(id)) return 6;
  return 1;
}

int r1spm_special_id(const R1SpmProcessor* processor, int which) {
  switch (which) {
    case 0: return processor->sp.unk_id();
    case 1: return processor->sp.bos_id();
    case 2: return processor->sp.eos_id();
    case 3: return processor->sp.pad_id();
    default: return -1;
  }
}

int r1spm_train(const char* const* keys, const char* const* values, size_t num_args, char** model,
                size_t* model_size, char* error, size_t error_size) {
  std::unordered_map<std::string, std::string> kwargs;
  for (size_t i = 0; i < num_args; ++i) kwargs[keys[i]] = values[i];
  std::string serialized;
  try {
    const auto status = sentencepiece::SentencePieceTrainer::Train(kwargs, nullptr, &serialized);
    if (!status.ok()) {
      SetError(error, error_size, status.ToString());
      return 1;
    }
  } catch (const std::exception& e) {
    SetError(error, error_size, e.what());
    return 1;
  }
  *model = CopyToMalloc(serialized.data(), serialized.size());
  *model_size = serialized.size();
  return 0;
}

}  // extern "C"
