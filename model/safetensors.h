// The safetensors file format, read and written natively: an 8-byte
// little-endian header length N, N bytes of JSON mapping each tensor name to
// {dtype, shape, data_offsets} (plus an optional "__metadata__" map of
// strings), then the raw little-endian tensor bytes.
//
// Files are untrusted input: every offset, size and dtype is checked, and a
// bad file is refused with its name and the tensor at fault.
#ifndef R1_MODEL_SAFETENSORS_H_
#define R1_MODEL_SAFETENSORS_H_

#include <torch/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace r1::model {

struct SafetensorsFile {
  std::map<std::string, torch::Tensor> tensors;  // CPU tensors, dtype as stored
  std::map<std::string, std::string> metadata;
};

// One tensor as the header describes it.
struct SafetensorsEntry {
  torch::Dtype dtype = torch::kFloat32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte range [begin, end) within the data section
  uint64_t end = 0;
};

struct SafetensorsHeader {
  std::map<std::string, SafetensorsEntry> tensors;
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // 8 + the header length: where the data section begins
  uint64_t file_bytes = 0;
};

// F32, F16, BF16, F64, I64, I32, I16, I8, U8 and BOOL are understood.
absl::StatusOr<SafetensorsFile> ReadSafetensors(const std::string& path);

// Reads and checks only the header, so a caller can size what a file holds
// before allocating for it: the header length is at most 100 MiB and inside
// the file; every tensor's dtype is known, its shape's byte size equals its
// data range, the range lies inside the file, and no two ranges overlap.
// ReadSafetensors applies the same checks.
absl::StatusOr<SafetensorsHeader> ReadSafetensorsHeader(const std::string& path);

// A safetensors file mapped read-only (mmap), for loading weights without
// holding a file in memory. Open checks the header as ReadSafetensorsHeader
// does; CopyTo moves one tensor into a caller's tensor in bounded chunks
// (kCopyChunkBytes of the file at a time) and hands each chunk's pages back to
// the kernel (MADV_DONTNEED) once copied, so resident memory holds at most a
// chunk of the file, whatever its size.
//
// Tensor data is little-endian (as this host: x86-64, aarch64) and may start
// at any byte; a tensor whose bytes are not aligned to its element size is
// copied through an aligned buffer of one chunk. A file that shrinks while it
// is mapped faults (SIGBUS) like any mmap reader: weight files are not
// written in place (WriteSafetensors renames a finished file over the old).
class MappedSafetensors {
 public:
  static constexpr uint64_t kCopyChunkBytes = 64u << 20;

  // NOT_FOUND when the file does not exist; INVALID_ARGUMENT naming the file
  // (and tensor) when it is not a valid safetensors file.
  static absl::StatusOr<std::unique_ptr<MappedSafetensors>> Open(const std::string& path);
  ~MappedSafetensors();
  MappedSafetensors(const MappedSafetensors&) = delete;
  MappedSafetensors& operator=(const MappedSafetensors&) = delete;

  const std::string& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }

  // Copies tensor `name` into `target`, which must have its shape; its dtype
  // and device may differ (copy_ converts, e.g. BF16 or F16 to float32), in
  // chunks of `chunk_bytes` of the file. INVALID_ARGUMENT naming the file and
  // tensor when the file lacks it or the shapes differ, before anything is
  // written.
  absl::Status CopyTo(const std::string& name, torch::Tensor& target,
                      uint64_t chunk_bytes = kCopyChunkBytes) const;

  // Whether tensor `name` holds what tensor `other_name` of `other` (this
  // file or another) holds: the same shape, and the same bytes when the
  // dtypes agree, else the same values (both converted exactly to float64).
  // Compared a chunk at a time (`chunk_bytes` of the wider dtype) straight
  // from the mappings, each chunk's pages released behind, so nothing is
  // held that grows with the tensors. INVALID_ARGUMENT naming the file and
  // tensor when a file lacks its tensor.
  absl::StatusOr<bool> SameValues(const std::string& name, const MappedSafetensors& other,
                                  const std::string& other_name, uint64_t chunk_bytes = kCopyChunkBytes) const;

 private:
  MappedSafetensors(std::string path, SafetensorsHeader header, const char* data, size_t length);

  absl::StatusOr<const SafetensorsEntry*> Find(const std::string& name) const;
  // Values [start, start + count) of `entry` as a CPU tensor of its dtype: a
  // view of the mapping when aligned to the element size, else copied into
  // `buffer` (allocated on first use, one chunk).
  torch::Tensor Values(const SafetensorsEntry& entry, int64_t start, int64_t count, int64_t chunk,
                       torch::Tensor& buffer) const;
  // Hands the pages under bytes [begin, begin + bytes) back to the kernel
  // (re-read from the page cache if a neighbour needs a shared edge page).
  void Release(const char* begin, size_t bytes) const;

  std::string path_;
  SafetensorsHeader header_;
  const char* data_;  // the whole file, mapped read-only; nullptr when empty
  size_t length_;
};

// A dtype's safetensors name ("F32", "BF16", ...) and back; nullopt for
// one the format does not hold. (Weight updates over gRPC use the same names.)
std::optional<torch::Dtype> DtypeFromSafetensorsName(absl::string_view name);
std::optional<std::string> SafetensorsDtypeName(torch::Dtype dtype);

// Writes tensors (any device; copied to CPU, made contiguous) atomically.
absl::Status WriteSafetensors(const std::string& path,
                              const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

}  // namespace r1::model

#endif  // R1_MODEL_SAFETENSORS_H_
