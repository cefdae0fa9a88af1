#include "model/safetensors.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/status.h"

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

namespace {

absl::Status Bad(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, " is not a valid safetensors file: ", what));
}

// The header length from the file's first 8 bytes, checked against the
// 100 MiB bound and the file's size before anything is read for it.
absl::StatusOr<uint64_t> HeaderLength(const std::string& path, absl::string_view prefix, uint64_t file_bytes) {
  if (file_bytes < 8 || prefix.size() < 8) return Bad(path, "shorter than its 8-byte header length");
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | static_cast<unsigned char>(prefix[i]);
  if (header_size > kMaxHeaderBytes || header_size > file_bytes - 8) {
    return Bad(path, absl::StrCat("header length ", header_size, " exceeds the file (", file_bytes, " bytes)",
                                  header_size > kMaxHeaderBytes ? " or the 100 MiB limit" : ""));
  }
  return header_size;
}

// Parses and checks the header JSON of a file of `file_bytes` bytes.
absl::StatusOr<SafetensorsHeader> ParseHeader(const std::string& path, const std::string& header,
                                              uint64_t file_bytes) {
  google::protobuf::Struct root;
  if (auto s = google::protobuf::util::JsonStringToMessage(header, &root); !s.ok()) {
    return Bad(path, absl::StrCat("header is not JSON: ", std::string(s.message())));
  }
  SafetensorsHeader result;
  result.data_start = 8 + header.size();
  result.file_bytes = file_bytes;
  const uint64_t data_size = file_bytes - result.data_start;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, entry] : root.fields()) {
    if (name == "__metadata__") {
      if (entry.kind_case() != Value::kStructValue) return Bad(path, "__metadata__ is not an object");
      for (const auto& [key, value] : entry.struct_value().fields()) {
        if (value.kind_case() != Value::kStringValue) {
          return Bad(path, absl::StrCat("__metadata__.", key, " is not a string"));
        }
        result.metadata[key] = value.string_value();
      }
      continue;
    }
    const auto tensor_bad = [&](const std::string& what) { return Bad(path, absl::StrCat("tensor ", name, ": ", what)); };
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
    SafetensorsEntry tensor;
    tensor.dtype = *dtype;
    uint64_t numel = 1;
    for (const Value& v : shape_it->second.list_value().values()) {
      uint64_t dim;
      if (!ToUint(v, dim) || dim > (uint64_t{1} << 40)) return tensor_bad("shape has a bad dimension");
      tensor.shape.push_back(static_cast<int64_t>(dim));
      if (dim != 0 && numel > (uint64_t{1} << 40) / dim) return tensor_bad("too many elements");
      numel *= dim;
    }
    if (offsets_it->second.kind_case() != Value::kListValue || offsets_it->second.list_value().values_size() != 2 ||
        !ToUint(offsets_it->second.list_value().values(0), tensor.begin) ||
        !ToUint(offsets_it->second.list_value().values(1), tensor.end)) {
      return tensor_bad("data_offsets must be [begin, end]");
    }
    const uint64_t expected = numel * torch::elementSize(*dtype);
    if (tensor.end < tensor.begin || tensor.end > data_size || tensor.end - tensor.begin != expected) {
      return tensor_bad(absl::StrCat("data_offsets [", tensor.begin, ", ", tensor.end, "] do not hold ", expected,
                                     " bytes inside the ", data_size, "-byte data section"));
    }
    ranges.emplace_back(tensor.begin, tensor.end);
    result.tensors[name] = std::move(tensor);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) return Bad(path, "two tensors overlap in the data section");
  }
  return result;
}

}  // namespace

absl::StatusOr<SafetensorsHeader> ReadSafetensorsHeader(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is a directory, not a file"));
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    const int error = errno;
    const std::string what = absl::StrCat("cannot open ", path, ": ", std::strerror(error));
    return error == ENOENT ? absl::NotFoundError(what) : absl::UnavailableError(what);
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, &std::fclose);
  const auto read_at = [&](uint64_t offset, uint64_t size, std::string& out) -> absl::Status {
    out.resize(size);
    if (fseeko(f, static_cast<off_t>(offset), SEEK_SET) != 0 || std::fread(out.data(), 1, size, f) != size) {
      return absl::UnavailableError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
    }
    return absl::OkStatus();
  };
  if (fseeko(f, 0, SEEK_END) != 0) return absl::UnavailableError(absl::StrCat("cannot seek in ", path));
  const off_t size = ftello(f);
  if (size < 0) return absl::UnavailableError(absl::StrCat("cannot size ", path));
  const uint64_t file_bytes = static_cast<uint64_t>(size);
  std::string prefix;
  if (file_bytes >= 8) R1_RETURN_IF_ERROR(read_at(0, 8, prefix));
  R1_ASSIGN_OR_RETURN(uint64_t header_size, HeaderLength(path, prefix, file_bytes));
  std::string header;
  R1_RETURN_IF_ERROR(read_at(8, header_size, header));
  return ParseHeader(path, header, file_bytes);
}

absl::StatusOr<SafetensorsFile> ReadSafetensors(const std::string& path) {
  R1_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  R1_ASSIGN_OR_RETURN(uint64_t header_size, HeaderLength(path, bytes, bytes.size()));
  R1_ASSIGN_OR_RETURN(SafetensorsHeader header, ParseHeader(path, bytes.substr(8, header_size), bytes.size()));
  SafetensorsFile file;
  file.metadata = std::move(header.metadata);
  for (const auto& [name, entry] : header.tensors) {
    torch::Tensor tensor = torch::empty(entry.shape, torch::TensorOptions().dtype(entry.dtype));
    if (entry.end > entry.begin) {
      std::memcpy(tensor.data_ptr(), bytes.data() + header.data_start + entry.begin, entry.end - entry.begin);
    }
    file.tensors[name] = std::move(tensor);
  }
  return file;
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; MappedSafetensors views it in place");

absl::StatusOr<std::unique_ptr<MappedSafetensors>> MappedSafetensors::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    const std::string what = absl::StrCat("cannot open ", path, ": ", std::strerror(error));
    return error == ENOENT ? absl::NotFoundError(what) : absl::UnavailableError(what);
  }
  struct stat info;
  const bool stat_ok = ::fstat(fd, &info) == 0;
  if (!stat_ok || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return stat_ok ? absl::InvalidArgumentError(absl::StrCat(path, " is not a regular file"))
                   : absl::UnavailableError(absl::StrCat("cannot stat ", path, ": ", std::strerror(errno)));
  }
  const uint64_t file_bytes = static_cast<uint64_t>(info.st_size);
  const char* data = nullptr;
  if (file_bytes > 0) {
    void* mapped = ::mmap(nullptr, file_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapped == MAP_FAILED) {
      const std::string what = absl::StrCat("cannot map ", path, ": ", std::strerror(errno));
      ::close(fd);
      return absl::UnavailableError(what);
    }
    data = static_cast<const char*>(mapped);
    // Tensors are read front to back: let the kernel read ahead.
    (void)::madvise(mapped, file_bytes, MADV_SEQUENTIAL);
  }
  ::close(fd);  // the mapping keeps the file open
  // Owns the mapping until the object does.
  std::unique_ptr<MappedSafetensors> file(new MappedSafetensors(path, {}, data, file_bytes));
  const absl::string_view bytes(data, file_bytes);
  R1_ASSIGN_OR_RETURN(uint64_t header_size, HeaderLength(path, bytes.substr(0, 8), file_bytes));
  R1_ASSIGN_OR_RETURN(file->header_, ParseHeader(path, std::string(bytes.substr(8, header_size)), file_bytes));
  return file;
}

MappedSafetensors::MappedSafetensors(std::string path, SafetensorsHeader header, const char* data, size_t length)
    : path_(std::move(path)), header_(std::move(header)), data_(data), length_(length) {}

MappedSafetensors::~MappedSafetensors() {
  if (data_ != nullptr) ::munmap(const_cast<char*>(data_), length_);
}

absl::StatusOr<const SafetensorsEntry*> MappedSafetensors::Find(const std::string& name) const {
  const auto it = header_.tensors.find(name);
  if (it == header_.tensors.end()) return absl::InvalidArgumentError(absl::StrCat(path_, " has no tensor ", name));
  return &it->second;
}

torch::Tensor MappedSafetensors::Values(const SafetensorsEntry& entry, int64_t start, int64_t count, int64_t chunk,
                                        torch::Tensor& buffer) const {
  const size_t element = torch::elementSize(entry.dtype);
  const char* source = data_ + header_.data_start + entry.begin + static_cast<size_t>(start) * element;
  const auto cpu = torch::TensorOptions().dtype(entry.dtype);
  if (reinterpret_cast<uintptr_t>(source) % element == 0) {
    return torch::from_blob(const_cast<char*>(source), {count}, cpu);
  }
  if (!buffer.defined()) buffer = torch::empty({chunk}, cpu);
  std::memcpy(buffer.data_ptr(), source, static_cast<size_t>(count) * element);
  return buffer.narrow(0, 0, count);
}

void MappedSafetensors::Release(const char* begin, size_t bytes) const {
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  // Page-aligned outward, within the mapping's last page.
  const uintptr_t first = reinterpret_cast<uintptr_t>(begin) / page * page;
  const uintptr_t last = std::min(reinterpret_cast<uintptr_t>(begin) + bytes + page - 1,
                                  reinterpret_cast<uintptr_t>(data_) + length_ + page - 1) / page * page;
  (void)::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

absl::Status MappedSafetensors::CopyTo(const std::string& name, torch::Tensor& target,
                                     uint64_t chunk_bytes) const {
  R1_ASSIGN_OR_RETURN(const SafetensorsEntry* found, Find(name));
  const SafetensorsEntry& entry = *found;
  if (target.sizes() != torch::IntArrayRef(entry.shape)) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": tensor ", name, " has shape [",
                                                   absl::StrJoin(entry.shape, ", "), "], the target has [",
                                                   absl::StrJoin(target.sizes(), ", "), "]"));
  }
  const int64_t numel = target.numel();
  if (numel == 0) return absl::OkStatus();
  torch::NoGradGuard no_grad;
  // Chunks are slices of the flattened tensor; a non-contiguous target is
  // filled through a contiguous one.
  torch::Tensor flat = target.is_contiguous() ? target.view({-1}) : torch::empty({numel}, target.options());
  const size_t element = torch::elementSize(entry.dtype);
  const int64_t chunk = std::min(static_cast<int64_t>(std::max<uint64_t>(chunk_bytes / element, 1)), numel);
  torch::Tensor buffer;  // aligned staging for unaligned data
  for (int64_t start = 0; start < numel; start += chunk) {
    const int64_t count = std::min(chunk, numel - start);
    flat.narrow(0, start, count).copy_(Values(entry, start, count, chunk, buffer));
    Release(data_ + header_.data_start + entry.begin + static_cast<size_t>(start) * element,
            static_cast<size_t>(count) * element);
  }
  if (!target.is_contiguous()) target.copy_(flat.view(target.sizes()));
  return absl::OkStatus();
}

absl::StatusOr<bool> MappedSafetensors::SameValues(const std::string& name, const MappedSafetensors& other,
                                                   const std::string& other_name, uint64_t chunk_bytes) const {
  R1_ASSIGN_OR_RETURN(const SafetensorsEntry* a, Find(name));
  R1_ASSIGN_OR_RETURN(const SafetensorsEntry* b, other.Find(other_name));
  if (a->shape != b->shape) return false;
  const size_t a_element = torch::elementSize(a->dtype), b_element = torch::elementSize(b->dtype);
  int64_t numel = 1;
  for (int64_t d : a->shape) numel *= d;
  const int64_t chunk =
      std::max<int64_t>(std::min(static_cast<int64_t>(chunk_bytes / std::max(a_element, b_element)), numel), 1);
  torch::NoGradGuard no_grad;
  torch::Tensor a_buffer, b_buffer;
  for (int64_t start = 0; start < numel; start += chunk) {
    const int64_t count = std::min(chunk, numel - start);
    const char* a_bytes = data_ + header_.data_start + a->begin + static_cast<size_t>(start) * a_element;
    const char* b_bytes = other.data_ + other.header_.data_start + b->begin + static_cast<size_t>(start) * b_element;
    const bool same = a->dtype == b->dtype
                          ? std::memcmp(a_bytes, b_bytes, static_cast<size_t>(count) * a_element) == 0
                          : torch::equal(Values(*a, start, count, chunk, a_buffer).to(torch::kFloat64),
                                         other.Values(*b, start, count, chunk, b_buffer).to(torch::kFloat64));
    Release(a_bytes, static_cast<size_t>(count) * a_element);
    other.Release(b_bytes, static_cast<size_t>(count) * b_element);
    if (!same) return false;
  }
  return true;
}

absl::Status WriteSafetensors(const std::string& path,
                              const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  std::vector<torch::Tensor> cpu;
  std::vector<std::string> entries;
  // A tensor listed under several names (a release's shared copies) is
  // moved to the CPU once: by its data, dtype, shape and strides.
  std::unordered_map<const void*, std::vector<size_t>> seen;  // data_ptr -> indices into `tensors`
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, tensor] = tensors[i];
    const std::optional<std::string> dtype_name = SafetensorsDtypeName(tensor.scalar_type());
    if (!dtype_name.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor ", name, " has a dtype safetensors cannot hold"));
    }
    torch::Tensor on_cpu;
    if (tensor.numel() > 0) {
      std::vector<size_t>& same_data = seen[tensor.data_ptr()];
      for (size_t j : same_data) {
        const torch::Tensor& t = tensors[j].second;
        if (t.scalar_type() == tensor.scalar_type() && t.device() == tensor.device() && t.sizes() == tensor.sizes() &&
            t.strides() == tensor.strides()) {
          on_cpu = cpu[j];
          break;
        }
      }
      same_data.push_back(i);
    }
    cpu.push_back(on_cpu.defined() ? on_cpu : tensor.detach().to(torch::kCPU).contiguous());
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
