#include "model/safetensors.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"

namespace r1::model {
namespace {

using google::protobuf::Value;

struct DtypeInfo {
  const char* name;
  torch::Dtype dtype;
};

constexpr DtypeInfo kDtypes[] = {
    {"F32", torch::kFloat32}, {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
    {"F64", torch::kFloat64}, {"I64", torch::kInt64},   {"I32", torch::kInt32},
    {"I16", torch::kInt16},   {"I8", torch::kInt8},     {"U8", torch::kUInt8},
    {"BOOL", torch::kBool}};

// Header lengths above this are refused before any allocation.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof(buffer), "\\u%04x", c);
      out += buffer;
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

bool ToUint(const Value& v, uint64_t& out) {
  if (v.kind_case() != Value::kNumberValue) return false;
  const double d = v.number_value();
  if (d < 0 || d > 9007199254740992.0 || d != static_cast<double>(static_cast<uint64_t>(d))) return false;
  out = static_cast<uint64_t>(d);
  return true;
}

}  // namespace

std::optional<torch::Dtype> DtypeFromSafetensorsName(absl::string_view name) {
  for (const DtypeInfo& d : kDtypes) {
    if (name == d.name) return d.dtype;
  }
  return std::nullopt;
}

std::optional<std::string> SafetensorsDtypeName(torch::Dtype dtype) {
  for (const DtypeInfo& d : kDtypes) {
    if (d.dtype == dtype) return std::string(d.name);
  }
  return std::nullopt;
}

absl::StatusOr<SafetensorsFile> ReadSafetensors(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  const auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a valid safetensors file: ", what));
  };
  if (bytes->size() < 8) return bad("shorter than its 8-byte header length");
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | static_cast<unsigned char>((*bytes)[i]);
  if (header_size > kMaxHeaderBytes || header_size > bytes->size() - 8) {
    return bad(absl::StrCat("header length ", header_size, " exceeds the file (", bytes->size(), " bytes)"));
  }
  const std::string header = bytes->substr(8, header_size);
  google::protobuf::Struct root;
  if (auto s = google::protobuf::util::JsonStringToMessage(header, &root); !s.ok()) {
    return bad(absl::StrCat("header is not JSON: ", std::string(s.message())));
  }
  const uint64_t data_start = 8 + header_size;
  const uint64_t data_size = bytes->size() - data_start;

  SafetensorsFile file;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, entry] : root.fields()) {
    if (name == "__metadata__") {
      if (entry.kind_case() != Value::kStructValue) return bad("__metadata__ is not an object");
      for (const auto& [key, value] : entry.struct_value().fields()) {
        if (value.kind_case() != Value::kStringValue) return bad(absl::StrCat("__metadata__.", key, " is not a string"));
        file.metadata[key] = value.string_value();
      }
      continue;
    }
    const auto tensor_bad = [&](const std::string& what) { return bad(absl::StrCat("tensor ", name, ": ", what)); };
    if (entry.kind_case() != Value::kStructValue) return tensor_bad("entry is not an object");
    const auto& fields = entry.struct_value().fields();
    const auto dtype_it = fields.find("dtype");
    const auto shape_it = fields.find("shape");
    const auto offsets_it = fields.find("data_offsets");
    if (dtype_it == fields.end() || shape_it == fields.end() || offsets_it == fields.end()) {
      return tensor_bad("needs dtype, shape and data_offsets");
    }
    const std::optional<torch::Dtype> dtype = DtypeFromSafetensorsName(dtype_it->second.string_value());
    if (!dtype.has_value()) return tensor_bad(absl::StrCat("unsupported dtype \"", dtype_it->second.string_value(), "\""));
    if (shape_it->second.kind_case() != Value::kListValue) return tensor_bad("shape is not a list");
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    for (const Value& v : shape_it->second.list_value().values()) {
      uint64_t dim;
      if (!ToUint(v, dim) || dim > (uint64_t{1} << 40)) return tensor_bad("shape has a bad dimension");
      shape.push_back(static_cast<int64_t>(dim));
      if (dim != 0 && numel > (uint64_t{1} << 40) / dim) return tensor_bad("too many elements");
      numel *= dim;
    }
    uint64_t begin, end;
    if (offsets_it->second.kind_case() != Value::kListValue || offsets_it->second.list_value().values_size() != 2 ||
        !ToUint(offsets_it->second.list_value().values(0), begin) ||
        !ToUint(offsets_it->second.list_value().values(1), end)) {
      return tensor_bad("data_offsets must be [begin, end]");
    }
    const uint64_t expected = numel * torch::elementSize(*dtype);
    if (end < begin || end > data_size || end - begin != expected) {
      return tensor_bad(absl::StrCat("data_offsets [", begin, ", ", end, "] do not hold ", expected,
                                     " bytes inside the ", data_size, "-byte data section"));
    }
    ranges.emplace_back(begin, end);
    torch::Tensor tensor = torch::empty(shape, torch::TensorOptions().dtype(*dtype));
    if (expected > 0) std::memcpy(tensor.data_ptr(), bytes->data() + data_start + begin, expected);
    file.tensors[name] = std::move(tensor);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) return bad("two tensors overlap in the data section");
  }
  return file;
}

absl::Status WriteSafetensors(const std::string& path,
                              const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  std::vector<torch::Tensor> cpu;
  std::vector<std::string> entries;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    const std::optional<std::string> dtype_name = SafetensorsDtypeName(tensor.scalar_type());
    if (!dtype_name.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor ", name, " has a dtype safetensors cannot hold"));
    }
    cpu.push_back(tensor.detach().to(torch::kCPU).contiguous());
    const uint64_t size = static_cast<uint64_t>(cpu.back().numel()) * cpu.back().element_size();
    entries.push_back(absl::StrCat(JsonString(name), ":{\"dtype\":\"", *dtype_name, "\",\"shape\":[",
                                   absl::StrJoin(tensor.sizes(), ","), "],\"data_offsets\":[", offset, ",",
                                   offset + size, "]}"));
    offset += size;
  }
  if (!metadata.empty()) {
    std::vector<std::string> items;
    for (const auto& [key, value] : metadata) items.push_back(absl::StrCat(JsonString(key), ":", JsonString(value)));
    entries.insert(entries.begin(), absl::StrCat("\"__metadata__\":{", absl::StrJoin(items, ","), "}"));
  }
  std::string header = absl::StrCat("{", absl::StrJoin(entries, ","), "}");
  header.append((8 - header.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  std::string prefix(8, '\0');
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);

  AtomicFileWriter writer;
  if (absl::Status s = writer.Open(path); !s.ok()) return s;
  if (absl::Status s = writer.Write(prefix + header); !s.ok()) return s;
  for (const torch::Tensor& t : cpu) {
    const size_t size = static_cast<size_t>(t.numel()) * t.element_size();
    if (absl::Status s = writer.Write(absl::string_view(static_cast<const char*>(t.data_ptr()), size)); !s.ok()) {
      return s;
    }
  }
  return writer.Commit();
}

}  // namespace r1::model
