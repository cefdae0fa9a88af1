#include "model/checkpoint.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/chat_template.h"
#include "common/config.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/status.h"
#include "common/tokenizer.h"
#include "model/deepseek.h"  // MtpSharedCopies
#include "model/moe.h"       // LayerRoutes
#include "model/safetensors.h"

namespace r1::model {
namespace {

namespace fs = std::filesystem;
using google::protobuf::Struct;
using google::protobuf::Value;

constexpr char kManifest[] = "manifest.json";
constexpr char kFormat[] = "r1-checkpoint";
constexpr char kFormatVersionKey[] = "r1_format_version";

Value Number(double v) {
  Value value;
  value.set_number_value(v);
  return value;
}
Value String(const std::string& s) {
  Value value;
  value.set_string_value(s);
  return value;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

absl::StatusOr<Struct> ParseJsonObject(const std::string& json, const std::string& source) {
  Struct root;
  if (auto s = google::protobuf::util::JsonStringToMessage(json, &root); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, " is not valid JSON: ", std::string(s.message())));
  }
  return root;
}

// Reads a JSON number field as an integer.
class JsonReader {
 public:
  JsonReader(const Struct& root, std::string source) : root_(root), source_(std::move(source)) {}

  bool Has(const std::string& key) const {
    const auto it = root_.fields().find(key);
    return it != root_.fields().end() && it->second.kind_case() != Value::kNullValue;
  }
  absl::StatusOr<double> Number(const std::string& key) const {
    const auto it = root_.fields().find(key);
    if (it == root_.fields().end()) return absl::InvalidArgumentError(absl::StrCat(source_, " has no \"", key, "\""));
    if (it->second.kind_case() != Value::kNumberValue) {
      return absl::InvalidArgumentError(absl::StrCat(source_, ": \"", key, "\" is not a number"));
    }
    return it->second.number_value();
  }
  absl::StatusOr<int> Int(const std::string& key) const {
    R1_ASSIGN_OR_RETURN(double v, Number(key));
    if (!(v >= -2147483648.0 && v <= 2147483647.0) || v != static_cast<double>(static_cast<int>(v))) {
      return absl::InvalidArgumentError(absl::StrCat(source_, ": \"", key, "\" is not an integer"));
    }
    return static_cast<int>(v);
  }
  absl::StatusOr<int> IntOr(const std::string& key, int fallback) const { return Has(key) ? Int(key) : fallback; }
  double NumberOr(const std::string& key, double fallback) const {
    return Has(key) ? Number(key).value_or(fallback) : fallback;
  }
  std::string StringOr(const std::string& key, const std::string& fallback) const {
    const auto it = root_.fields().find(key);
    return it != root_.fields().end() && it->second.kind_case() == Value::kStringValue ? it->second.string_value()
                                                                                        : fallback;
  }
  bool BoolOr(const std::string& key, bool fallback) const {
    const auto it = root_.fields().find(key);
    return it != root_.fields().end() && it->second.kind_case() == Value::kBoolValue ? it->second.bool_value()
                                                                                      : fallback;
  }

 private:
  const Struct& root_;
  std::string source_;
};

absl::Status WriteManifest(const std::string& dir, const std::vector<std::string>& files) {
  Struct manifest;
  (*manifest.mutable_fields())["format"] = String(kFormat);
  (*manifest.mutable_fields())["version"] = Number(1);
  Struct entries;
  for (const std::string& name : files) {
    R1_ASSIGN_OR_RETURN(std::string bytes, ReadFile(absl::StrCat(dir, "/", name)));
    Struct entry;
    (*entry.mutable_fields())["bytes"] = Number(static_cast<double>(bytes.size()));
    (*entry.mutable_fields())["crc32c"] = String(absl::StrFormat("%08x", Crc32c(bytes)));
    *(*entries.mutable_fields())[name].mutable_struct_value() = entry;
  }
  *(*manifest.mutable_fields())["files"].mutable_struct_value() = entries;
  return WriteFileAtomically(absl::StrCat(dir, "/", kManifest), ToJson(manifest));
}

// `why` says how the folder is known to be an r1 checkpoint.
absl::Status MissingManifest(const std::string& dir, const std::string& why) {
  return absl::DataLossError(absl::StrCat("checkpoint ", dir, " has no ", kManifest, ": ", why,
                                          ", and an r1 checkpoint is loaded only with the manifest that checks the "
                                          "size and CRC-32C of every file (it is written with the checkpoint; was "
                                          "the folder copied without it?)"));
}

struct FileCheck {
  uint64_t bytes = 0;
  uint32_t crc32c = 0;
};

// The size and CRC-32C of a file, read through one bounded buffer (1 MiB):
// checking a checkpoint never holds a weight file in memory.
absl::StatusOr<FileCheck> SizeAndCrc32c(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return absl::InvalidArgumentError(absl::StrCat(path, " is a directory, not a file"));
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (f == nullptr) {
    const int error = errno;
    const std::string what = absl::StrCat("cannot open ", path, ": ", std::strerror(error));
    return error == ENOENT ? absl::NotFoundError(what) : absl::UnavailableError(what);
  }
  std::vector<char> buffer(1 << 20);
  FileCheck check;
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), f.get())) > 0) {
    check.crc32c = Crc32c(absl::string_view(buffer.data(), n), check.crc32c);
    check.bytes += n;
  }
  if (std::ferror(f.get()) != 0) return absl::UnavailableError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  return check;
}

absl::Status VerifyManifest(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kManifest);
  std::error_code ec;
  if (!fs::exists(path, ec)) return MissingManifest(dir, "it is read as an r1 checkpoint");
  R1_ASSIGN_OR_RETURN(std::string json, ReadFile(path));
  R1_ASSIGN_OR_RETURN(Struct manifest, ParseJsonObject(json, path));
  const auto files = manifest.fields().find("files");
  if (JsonReader(manifest, path).StringOr("format", "") != kFormat || files == manifest.fields().end() ||
      files->second.kind_case() != Value::kStructValue) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not an r1 checkpoint manifest"));
  }
  const auto& listed = files->second.struct_value().fields();
  for (const char* required : {"config.json", "model.safetensors"}) {
    if (!listed.contains(required)) {
      return absl::DataLossError(absl::StrCat("checkpoint ", dir, ": the manifest does not cover ", required));
    }
  }
  for (const auto& [name, entry] : listed) {
    if (name.find('/') != std::string::npos || name == "..") {
      return absl::InvalidArgumentError(absl::StrCat(path, " names a file outside the checkpoint: ", name));
    }
    const std::string file = absl::StrCat(dir, "/", name);
    absl::StatusOr<FileCheck> check = SizeAndCrc32c(file);
    if (!check.ok()) return absl::DataLossError(absl::StrCat("checkpoint ", dir, " is incomplete: ", check.status().message()));
    const JsonReader e(entry.struct_value(), path);
    const double expected_bytes = e.NumberOr("bytes", -1);
    if (static_cast<double>(check->bytes) != expected_bytes) {
      return absl::DataLossError(absl::StrCat("checkpoint ", dir, ": ", name, " has ", check->bytes,
                                              " bytes, the manifest says ", expected_bytes, " (truncated?)"));
    }
    if (absl::StrFormat("%08x", check->crc32c) != e.StringOr("crc32c", "")) {
      return absl::DataLossError(absl::StrCat("checkpoint ", dir, ": ", name, " fails its CRC-32C check (corrupted)"));
    }
  }
  return absl::OkStatus();
}

// Refuses a config.json that declares a checkpoint format other than the
// one this build reads (checkpoint.h says why an absent key passes).
absl::Status CheckFormatVersion(const std::string& dir, const std::string& config_json) {
  const std::string path = absl::StrCat(dir, "/config.json");
  R1_ASSIGN_OR_RETURN(Struct root, ParseJsonObject(config_json, path));
  const JsonReader reader(root, path);
  if (!reader.Has(kFormatVersionKey)) return absl::OkStatus();
  R1_ASSIGN_OR_RETURN(int found, reader.Int(kFormatVersionKey));
  if (found == kCheckpointFormatVersion) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "checkpoint ", dir, " has format version ", found, " (\"", kFormatVersionKey, "\" in config.json), but this r1 "
      "supports format version ", kCheckpointFormatVersion, " only: ",
      found > kCheckpointFormatVersion ? "a newer r1 wrote it; load it with that r1"
                                       : "an older r1 wrote it in a layout this r1 no longer reads"));
}

// The same for a folder whose config.json has not been read yet.
absl::Status CheckFormatVersion(const std::string& dir) {
  R1_ASSIGN_OR_RETURN(std::string json, ReadFile(absl::StrCat(dir, "/config.json")));
  return CheckFormatVersion(dir, json);
}

absl::Status CopyFile(const std::string& from, const std::string& to) {
  R1_ASSIGN_OR_RETURN(std::string bytes, ReadFile(from));
  return WriteFileAtomically(to, bytes);
}

// Writes the folder under a temporary name, then swaps it into place.
absl::Status WriteFolder(const std::string& dir, const std::function<absl::Status(const std::string&)>& fill) {
  const std::string temp = absl::StrCat(dir, ".tmp.", getpid());
  std::error_code ec;
  fs::remove_all(temp, ec);
  if (absl::Status s = MakeDirs(temp); !s.ok()) return s;
  absl::Status status = fill(temp);
  if (status.ok()) {
    std::vector<std::string> files;
    std::error_code ec_list;
    for (const auto& entry : fs::directory_iterator(temp, ec_list)) files.push_back(entry.path().filename().string());
    std::sort(files.begin(), files.end());
    status = WriteManifest(temp, files);
  }
  if (status.ok()) {
    const std::string old = absl::StrCat(dir, ".old.", getpid());
    const bool replacing = fs::exists(dir, ec);
    if (replacing) fs::rename(dir, old, ec);
    if (!ec) fs::rename(temp, dir, ec);
    if (ec) {
      status = absl::InternalError(absl::StrCat("cannot move checkpoint into ", dir, ": ", ec.message()));
      std::error_code restore;
      if (replacing && !fs::exists(dir, restore)) fs::rename(old, dir, restore);  // keep the previous one
    } else if (replacing) {
      fs::remove_all(old, ec);
    }
  }
  if (!status.ok()) fs::remove_all(temp, ec);
  return status;
}

// `weights_dtype`: the dtype floating tensors are written in (nullopt: as the
// model holds them), except e_score_correction_bias, which stays float32 as
// DeepSeek's releases store it. `release_layout`: also the MTP modules'
// copies of the embedding and head (MtpSharedCopies), as DeepSeek's releases
// store them and their loaders expect; a checkpoint leaves them out.
absl::Status WriteModelFiles(const std::string& dir, CausalLmImpl& model, const Tokenizer* tokenizer,
                             std::optional<torch::Dtype> weights_dtype = std::nullopt, bool release_layout = false) {
  int bos = -1, eos = -1, pad = -1;
  if (tokenizer != nullptr) {
    bos = tokenizer->bos_id();
    eos = tokenizer->eos_id();
    pad = tokenizer->pad_id();
    // tokenizer.model, or tokenizer.json with the files beside it (special
    // tokens, stop ids), and the chat template: the folder loads the same
    // tokenizer.
    for (const auto& [source, name] : tokenizer->files()) {
      R1_RETURN_IF_ERROR(CopyFile(source, absl::StrCat(dir, "/", name)));
    }
  }
  R1_RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(dir, "/config.json"), ModelConfigToJson(model.config(), bos, eos, pad)));
  std::vector<std::pair<std::string, torch::Tensor>> tensors = NamedTensors(model);
  if (weights_dtype.has_value()) {
    for (auto& [name, tensor] : tensors) {
      if (tensor.is_floating_point() && !absl::EndsWith(name, "e_score_correction_bias")) {
        tensor = tensor.to(*weights_dtype);
      }
    }
  }
  if (release_layout) {
    // The same tensor under a second name: WriteSafetensors holds it once.
    for (const auto& [copy, main] : MtpSharedCopies(model.config())) {
      const auto it = std::find_if(tensors.begin(), tensors.end(), [&](const auto& t) { return t.first == main; });
      TORCH_CHECK(it != tensors.end(), "the model has no ", main);
      const torch::Tensor same = it->second;
      tensors.emplace_back(copy, same);
    }
  }
  return WriteSafetensors(absl::StrCat(dir, "/model.safetensors"), tensors, {{"format", "pt"}});
}

// Whether a config.json was written by r1 (SaveCheckpoint and
// ExportHuggingFace both add "r1_model_config", and both write a manifest).
bool CarriesR1ModelConfig(const std::string& json) {
  Struct root;
  return google::protobuf::util::JsonStringToMessage(json, &root).ok() && root.fields().contains("r1_model_config");
}

// A shard name from an index's weight_map must be a plain file name inside
// the folder: "../x.safetensors" or "/etc/x" would read outside it.
absl::Status CheckShardName(const std::string& index, const std::string& tensor, const Value& value) {
  if (value.kind_case() != Value::kStringValue) {
    return absl::InvalidArgumentError(absl::StrCat(index, ": weight_map[\"", tensor, "\"] is not a file name"));
  }
  const std::string& name = value.string_value();
  const bool plain = !name.empty() && name != "." && name.find_first_of("/\\") == std::string::npos &&
                     name.find("..") == std::string::npos &&
                     std::none_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
  if (!plain) {
    return absl::InvalidArgumentError(absl::StrCat(index, ": weight_map[\"", tensor, "\"] names shard \"", name,
                                                   "\", which is not a plain file name in the folder (no /, \\, .. "
                                                   "or absolute path)"));
  }
  return absl::OkStatus();
}

// The weight files of a model folder: model.safetensors, or the shards its
// model.safetensors.index.json names.
absl::StatusOr<std::vector<std::string>> WeightFiles(const std::string& dir) {
  const std::string single = absl::StrCat(dir, "/model.safetensors");
  const std::string index = absl::StrCat(dir, "/model.safetensors.index.json");
  std::error_code ec;
  if (fs::exists(single, ec)) return std::vector<std::string>{single};
  if (!fs::exists(index, ec)) return absl::NotFoundError(absl::StrCat("checkpoint ", dir, " has no model.safetensors"));
  R1_ASSIGN_OR_RETURN(std::string index_json, ReadFile(index));
  R1_ASSIGN_OR_RETURN(Struct root, ParseJsonObject(index_json, index));
  const auto map = root.fields().find("weight_map");
  if (map == root.fields().end() || map->second.kind_case() != Value::kStructValue) {
    return absl::InvalidArgumentError(absl::StrCat(index, " has no weight_map"));
  }
  std::vector<std::string> shards;
  for (const auto& [tensor, file] : map->second.struct_value().fields()) {
    R1_RETURN_IF_ERROR(CheckShardName(index, tensor, file));
    shards.push_back(file.string_value());
  }
  std::sort(shards.begin(), shards.end());
  shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
  std::vector<std::string> files;
  for (const std::string& shard : shards) {
    files.push_back(absl::StrCat(dir, "/", shard));
    if (!fs::is_regular_file(files.back(), ec)) {
      return absl::NotFoundError(absl::StrCat(index, " names shard ", shard, ", which is not a file in ", dir));
    }
  }
  if (files.empty()) return absl::InvalidArgumentError(absl::StrCat(index, " has an empty weight_map"));
  return files;
}

// Refuses, from the files' headers alone, a config the weight files cannot
// fill, before the model is built: a config.json claiming huge sizes beside
// small files would otherwise allocate and initialize all of it first. The
// headers bound what the files hold (every range lies inside its file), so
// what passes allocates at most a few bytes per byte on disk.
absl::Status CheckWeightsFillConfig(const config::ModelConfig& config, const std::vector<std::string>& files,
                                    const std::string& config_path) {
  std::map<std::string, std::string> owner;  // tensor name -> file
  double held = 0;
  for (const std::string& file : files) {
    R1_ASSIGN_OR_RETURN(SafetensorsHeader header, ReadSafetensorsHeader(file));
    for (const auto& [name, entry] : header.tensors) {
      if (const auto [it, inserted] = owner.emplace(name, file); !inserted) {
        return absl::InvalidArgumentError(absl::StrCat("tensor ", name, " is in both ", it->second, " and ", file));
      }
      double numel = 1;
      for (int64_t d : entry.shape) numel *= static_cast<double>(d);
      held += numel;
    }
  }
  const double needed = ModelTensorElements(config);
  if (needed > held) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s describes a model of %.0f values (dim %d, %d layers, vocab_size %d) but its weight files hold %.0f: "
        "the config does not match the weights",
        config_path, needed, config.dim(), config.n_layers(), config.vocab_size(), held));
  }
  return absl::OkStatus();
}

// IEEE values among `n` of width `Bits` at `data` whose exponent bits
// (`exponent`) are all ones: the infinities and NaNs. One pass over the bits,
// no temporaries, no thread pool (whose spinning workers cost more than the
// pass on a shared machine).
template <typename Bits>
int64_t CountAllOnesExponent(const void* data, int64_t n, Bits exponent) {
  const char* bytes = static_cast<const char*>(data);
  int64_t count = 0, i = 0;
  // Groups of a fixed size, counted in the values' own width: the compiler
  // turns this into full-width vector compares (2-3x the plain loop on 16-bit
  // values), and a group's count cannot overflow Bits.
  constexpr int64_t kGroup = 64;
  for (; i + kGroup <= n; i += kGroup) {
    Bits group[kGroup];
    std::memcpy(group, bytes + i * sizeof(Bits), sizeof(group));
    Bits hits = 0;
    for (int64_t j = 0; j < kGroup; ++j) hits += (group[j] & exponent) == exponent;
    count += hits;
  }
  for (; i < n; ++i) {
    Bits bits;
    std::memcpy(&bits, bytes + i * sizeof(Bits), sizeof(Bits));
    count += (bits & exponent) == exponent;
  }
  return count;
}

}  // namespace

int64_t CountNonFinite(const void* data, int64_t count, torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32: return CountAllOnesExponent<uint32_t>(data, count, 0x7F800000u);
    case torch::kBFloat16: return CountAllOnesExponent<uint16_t>(data, count, 0x7F80u);
    case torch::kFloat16: return CountAllOnesExponent<uint16_t>(data, count, 0x7C00u);
    case torch::kFloat64: return CountAllOnesExponent<uint64_t>(data, count, 0x7FF0000000000000u);
    default: return 0;
  }
}

int64_t CountNonFinite(const torch::Tensor& tensor) {
  // LibTorch's floating types are the four the bit count knows.
  if (!tensor.is_floating_point()) return 0;
  if (tensor.device().is_cpu() && tensor.is_contiguous()) {
    return CountNonFinite(tensor.data_ptr(), tensor.numel(), tensor.scalar_type());
  }
  // Elsewhere (a CUDA model, a strided view): slices of 1M values, so no
  // temporary grows with the tensor.
  const torch::Tensor flat = tensor.reshape({-1});
  constexpr int64_t kSlice = 1 << 20;
  int64_t bad = 0;
  for (int64_t start = 0; start < flat.numel(); start += kSlice) {
    bad += torch::isfinite(flat.narrow(0, start, std::min(kSlice, flat.numel() - start))).logical_not_().sum().item<int64_t>();
  }
  return bad;
}

namespace {

// NaN or infinite weights load without complaint and generate garbage. The
// tensor is checked as the model holds it, after conversion to the run dtype.
absl::Status CheckFinite(const torch::Tensor& tensor, const std::string& name, const std::string& source) {
  if (!tensor.is_floating_point() || tensor.numel() == 0) return absl::OkStatus();
  const int64_t bad = CountNonFinite(tensor);
  if (bad == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(source, ": tensor ", name, " is not finite: ", bad, " of its ",
                                                 tensor.numel(), " values are NaN or infinite"));
}

// Fills every tensor of `model` (NamedTensors) from the weight files, one
// tensor at a time straight from the mapped files (MappedSafetensors), so
// resident memory holds the model and at most a chunk of a file. Names and
// shapes are checked from the headers before anything is copied; each tensor
// is checked finite after its conversion to the run dtype, so a NaN found in
// one leaves the tensors before it already copied. `source` names the
// weights in the message for a tensor no file has (the file, or the index of
// a sharded folder).
absl::Status LoadWeightFiles(CausalLmImpl& model, const std::vector<std::string>& files, const std::string& source) {
  std::vector<std::unique_ptr<MappedSafetensors>> mapped;
  std::map<std::string, const MappedSafetensors*> owner;  // tensor name -> its file
  for (const std::string& file : files) {
    R1_ASSIGN_OR_RETURN(std::unique_ptr<MappedSafetensors> opened, MappedSafetensors::Open(file));
    mapped.push_back(std::move(opened));
    for (const auto& [name, entry] : mapped.back()->header().tensors) {
      if (const auto [it, inserted] = owner.emplace(name, mapped.back().get()); !inserted) {
        return absl::InvalidArgumentError(absl::StrCat("tensor ", name, " is in both ", it->second->path(), " and ", file));
      }
    }
  }
  std::vector<std::pair<std::string, torch::Tensor>> named = NamedTensors(model);
  std::set<std::string> wanted;
  for (const auto& [name, target] : named) {
    wanted.insert(name);
    const auto it = owner.find(name);
    if (it == owner.end()) {
      return absl::InvalidArgumentError(absl::StrCat(source, " has no tensor ", name, " that the model needs"));
    }
    const std::vector<int64_t>& shape = it->second->header().tensors.at(name).shape;
    if (target.sizes() != torch::IntArrayRef(shape)) {
      return absl::InvalidArgumentError(absl::StrCat(it->second->path(), ": tensor ", name, " has shape [",
                                                     absl::StrJoin(shape, ", "), "], the model expects [",
                                                     absl::StrJoin(target.sizes(), ", "), "]"));
    }
  }
  // The MTP modules' copies of the embedding and head that DeepSeek's
  // releases store: accepted when equal to the main tensor, compared in the
  // files' own bytes (not loaded).
  for (const auto& [name, file] : owner) {
    if (wanted.contains(name)) continue;
    const std::string main_name = MtpCopyOf(model.config(), name);
    if (main_name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(file->path(), " has tensor ", name, " that the model does not"));
    }
    const MappedSafetensors& main_file = *owner.at(main_name);
    R1_ASSIGN_OR_RETURN(bool same, file->SameValues(name, main_file, main_name));
    if (!same) {
      return MtpCopyDiffers(file->path(), name,
                            file != &main_file ? absl::StrCat(main_name, " (", main_file.path(), ")") : main_name);
    }
  }
  for (auto& [name, target] : named) {
    const MappedSafetensors& file = *owner.at(name);
    R1_RETURN_IF_ERROR(file.CopyTo(name, target));
    R1_RETURN_IF_ERROR(CheckFinite(target, name, file.path()));
  }
  return absl::OkStatus();
}

}  // namespace

double ModelTensorElements(const config::ModelConfig& c) {
  const double d = c.dim(), v = c.vocab_size();
  const auto swiglu = [&](double hidden) { return 3 * d * hidden; };  // gate, up, down
  // A routing layer's mlp: gate [E, D], its balancing bias [E] (sigmoid
  // scoring only), E experts and the shared experts.
  const double e = c.n_routed_experts();
  const double moe = e * d + (c.router_scoring() == config::SOFTMAX ? 0 : e) + e * swiglu(c.moe_inter_dim()) +
                     (c.n_shared_experts() > 0 ? swiglu(static_cast<double>(c.n_shared_experts()) * c.moe_inter_dim())
                                               : 0);
  const int64_t layers = std::max(c.n_layers(), 0);
  double total = v * d + d;  // embed_tokens, final norm
  if (c.arch() == config::DEEPSEEK_V3) {
    const double h = c.n_heads(), nope = c.qk_nope_head_dim(), rope = c.qk_rope_head_dim(), vd = c.v_head_dim();
    const double r = c.kv_lora_rank(), rq = c.q_lora_rank();
    const double query = c.q_lora_rank() == 0 ? d * h * (nope + rope) : d * rq + rq + rq * h * (nope + rope);
    const double mla = query + d * (r + rope) + r + r * h * (nope + vd) + h * vd * d;
    // MTP module k is block n_layers + k, dense or routing by the same rule.
    const int64_t mtp = std::max(c.n_mtp_modules(), 0);
    for (int64_t i = 0; i < layers + mtp; ++i) total += 2 * d + mla + (LayerRoutes(c, i) ? moe : swiglu(c.inter_dim()));
    total += static_cast<double>(mtp) * (2 * d + 2 * d * d + d);  // enorm, hnorm, eh_proj, head norm
    return total + v * d;  // lm_head
  }
  const double h = c.n_heads(), kv = c.n_kv_heads();
  const double hd = c.head_dim() > 0 ? c.head_dim() : c.dim() / std::max(c.n_heads(), 1);
  double attention = d * h * hd + 2 * d * kv * hd + h * hd * d;  // q, k, v, o
  if (c.qkv_bias()) attention += h * hd + 2 * kv * hd;
  if (c.o_bias()) attention += d;
  if (c.qk_norm()) attention += 2 * hd;  // q_norm, k_norm
  const double f = c.ffn_hidden_dim();
  const double dense = swiglu(f) + (c.mlp_bias() ? 2 * f + d : 0);
  for (int64_t i = 0; i < layers; ++i) total += 2 * d + attention + (LayerRoutes(c, i) ? moe : dense);
  return c.tie_embeddings() ? total : total + v * d;  // lm_head
}

absl::Status SaveCheckpoint(const std::string& dir, CausalLmImpl& model, const Tokenizer* tokenizer,
                            const TrainingState* state) {
  return WriteFolder(dir, [&](const std::string& temp) -> absl::Status {
    R1_RETURN_IF_ERROR(WriteModelFiles(temp, model, tokenizer));
    if (state == nullptr) return absl::OkStatus();
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto& [name, tensor] : state->optimizer) tensors.emplace_back(absl::StrCat("optimizer.", name), tensor);
    for (const auto& [name, tensor] : state->extra_tensors) tensors.emplace_back(absl::StrCat("extra.", name), tensor);
    if (state->rng_state.defined()) tensors.emplace_back("rng.cpu", state->rng_state);
    std::map<std::string, std::string> metadata = state->extra;
    metadata["step"] = absl::StrCat(state->step);
    metadata["tokens_seen"] = absl::StrCat(state->tokens_seen);
    metadata["data_cursor"] = absl::StrCat(state->data_cursor);
    return WriteSafetensors(absl::StrCat(temp, "/training_state.safetensors"), tensors, metadata);
  });
}

absl::Status ExportHuggingFace(const std::string& dir, CausalLmImpl& model, const Tokenizer& tokenizer,
                               const std::function<absl::Status(const std::string&)>& extra_files) {
  if (absl::Status s = CheckHuggingFaceExportable(model.config()); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("cannot export ", dir, ": ", s.message()));
  }
  if (tokenizer.vocab_size() > model.config().vocab_size()) {
    return absl::InvalidArgumentError(absl::StrCat("tokenizer ", tokenizer.path(), " has ", tokenizer.vocab_size(),
                                                   " pieces, more than the model's vocab_size ",
                                                   model.config().vocab_size()));
  }
  std::vector<std::string> specials;
  for (const std::string& token : ChatSpecialTokens()) specials.push_back(absl::StrCat("\"", token, "\""));
  const std::string tokenizer_config = absl::StrCat(
      "{\n  \"tokenizer_class\": \"LlamaTokenizer\",\n  \"bos_token\": \"<s>\",\n  \"eos_token\": \"</s>\",\n"
      "  \"unk_token\": \"<unk>\",\n  \"pad_token\": \"<pad>\",\n  \"add_bos_token\": true,\n"
      "  \"add_eos_token\": false,\n  \"legacy\": false,\n  \"additional_special_tokens\": [",
      absl::StrJoin(specials, ", "), "],\n  \"chat_template\": ", nlohmann::json(ChatTemplateSource(tokenizer)).dump(), "\n}\n");
  const std::string generation_config = absl::StrFormat(
      "{\n  \"bos_token_id\": %d,\n  \"eos_token_id\": %d,\n  \"pad_token_id\": %d,\n  \"do_sample\": true,\n"
      "  \"temperature\": 1.0,\n  \"top_p\": 1.0\n}\n",
      tokenizer.bos_id(), tokenizer.eos_id(), tokenizer.pad_id());
  // An imported family goes back in the dtype it came in, whatever it ran in.
  const std::string released = ReleasedWeightDtype(model.config());
  std::optional<torch::Dtype> weights_dtype;
  if (released == "float32") weights_dtype = torch::kFloat32;
  if (released == "bfloat16") weights_dtype = torch::kBFloat16;
  if (released == "float16") weights_dtype = torch::kFloat16;
  return WriteFolder(dir, [&](const std::string& temp) -> absl::Status {
    R1_RETURN_IF_ERROR(WriteModelFiles(temp, model, &tokenizer, weights_dtype, /*release_layout=*/true));
    // A released model's tokenizer_config.json and generation_config.json
    // travel with its tokenizer.json (WriteModelFiles); r1's own get these.
    if (tokenizer.kind() == "sentencepiece") {
      R1_RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(temp, "/tokenizer_config.json"), tokenizer_config));
      R1_RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(temp, "/generation_config.json"), generation_config));
    }
    return extra_files ? extra_files(temp) : absl::OkStatus();
  });
}

absl::StatusOr<CausalLm> LoadModel(const std::string& dir, const LoadOptions& options) {
  if (!fs::is_directory(dir)) return absl::NotFoundError(absl::StrCat("checkpoint ", dir, " does not exist"));
  const bool has_manifest = fs::exists(absl::StrCat(dir, "/", kManifest));
  if (has_manifest) R1_RETURN_IF_ERROR(VerifyManifest(dir));
  const std::string config_path = absl::StrCat(dir, "/config.json");
  R1_ASSIGN_OR_RETURN(std::string json, ReadFile(config_path));
  R1_RETURN_IF_ERROR(CheckFormatVersion(dir, json));
  if (!has_manifest && CarriesR1ModelConfig(json)) {
    return MissingManifest(dir, absl::StrCat(config_path, " carries \"r1_model_config\" (r1 wrote it; to import "
                                             "the folder as plain Hugging Face weights, remove that key)"));
  }
  R1_ASSIGN_OR_RETURN(config::ModelConfig config, ModelConfigFromJson(json, config_path));
  if (!options.device.empty()) config.set_device(options.device);
  if (options.dtype.has_value()) config.set_dtype(*options.dtype);
  if (absl::Status s = ValidateModel(config, "model"); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(config_path, ": ", s.message()));
  }
  R1_ASSIGN_OR_RETURN(std::vector<std::string> files, WeightFiles(dir));
  R1_RETURN_IF_ERROR(CheckWeightsFillConfig(config, files, config_path));
  absl::StatusOr<CausalLm> model = MakeModel(config, ModelInit::kWeightsFollow);
  if (!model.ok()) {
    return absl::Status(model.status().code(), absl::StrCat(config_path, ": ", model.status().message()));
  }
  R1_RETURN_IF_ERROR(LoadWeightFiles(**model, files,
                                     files.size() == 1 ? files[0] : absl::StrCat(dir, "/model.safetensors.index.json")));
  return model;
}

absl::Status RestoreWeights(const std::string& dir, CausalLmImpl& model) {
  R1_RETURN_IF_ERROR(VerifyManifest(dir));
  R1_RETURN_IF_ERROR(CheckFormatVersion(dir));
  const std::string path = absl::StrCat(dir, "/model.safetensors");
  return LoadWeightFiles(model, {path}, path);
}

double TrainingState::ExtraNumber(const std::string& key, double fallback) const {
  const auto it = extra.find(key);
  double value;
  return it != extra.end() && absl::SimpleAtod(it->second, &value) ? value : fallback;
}

absl::StatusOr<TrainingState> LoadTrainingState(const std::string& dir) {
  R1_RETURN_IF_ERROR(VerifyManifest(dir));  // only r1 checkpoints have a training state
  R1_RETURN_IF_ERROR(CheckFormatVersion(dir));
  R1_ASSIGN_OR_RETURN(SafetensorsFile file, ReadSafetensors(absl::StrCat(dir, "/training_state.safetensors")));
  TrainingState state;
  for (auto& [name, tensor] : file.tensors) {
    if (absl::StartsWith(name, "optimizer.")) state.optimizer[name.substr(10)] = tensor;
    if (absl::StartsWith(name, "extra.")) state.extra_tensors[name.substr(6)] = tensor;
  }
  if (file.tensors.count("rng.cpu")) state.rng_state = file.tensors.at("rng.cpu");
  for (auto& [key, value] : file.metadata) {
    int64_t* target = key == "step" ? &state.step : key == "tokens_seen" ? &state.tokens_seen
                    : key == "data_cursor" ? &state.data_cursor : nullptr;
    if (target != nullptr) {
      if (!absl::SimpleAtoi(value, target) || *target < 0) {
        return absl::InvalidArgumentError(absl::StrCat(dir, "/training_state.safetensors: bad ", key, " \"", value, "\""));
      }
    } else {
      state.extra[key] = value;
    }
  }
  return state;
}

std::string CheckpointDir(const std::string& parent, int64_t step) {
  return absl::StrFormat("%s/step_%08d", parent, step);
}

absl::StatusOr<std::string> LatestCheckpoint(const std::string& parent) {
  std::error_code ec;
  std::string best;
  if (fs::is_directory(parent, ec)) {
    for (const auto& entry : fs::directory_iterator(parent, ec)) {
      const std::string name = entry.path().filename().string();
      // Temporary and displaced folders have a suffix after the digits.
      if (name.size() == 13 && absl::StartsWith(name, "step_") && fs::exists(entry.path() / kManifest) &&
          name > best) {
        best = name;
      }
    }
  }
  if (best.empty()) return absl::NotFoundError(absl::StrCat("no checkpoint under ", parent));
  return absl::StrCat(parent, "/", best);
}

absl::Status PruneCheckpoints(const std::string& parent, int keep) {
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == 13 && absl::StartsWith(name, "step_")) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  for (size_t i = 0; i + static_cast<size_t>(std::max(keep, 1)) < names.size(); ++i) {
    fs::remove_all(fs::path(parent) / names[i], ec);
    if (ec) return absl::InternalError(absl::StrCat("cannot delete ", parent, "/", names[i], ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace r1::model
