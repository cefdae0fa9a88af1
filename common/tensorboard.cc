#include "common/tensorboard.h"

#include <unistd.h>

#include <cstring>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/crc32c.h"
#include "common/file_util.h"

namespace r1 {
namespace {

void Varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

template <typename T>
void Fixed(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));  // little-endian hosts only (x86_64, aarch64)
  out.append(bytes, sizeof(T));
}

// Field key: (number << 3) | wire type.
void Key(std::string& out, int number, int wire) { Varint(out, static_cast<uint64_t>(number << 3 | wire)); }

void LengthDelimited(std::string& out, int number, const std::string& bytes) {
  Key(out, number, 2);
  Varint(out, bytes.size());
  out += bytes;
}

// Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
std::string EventBytes(double wall_time, int64_t step, const std::string* file_version, const std::string* summary) {
  std::string event;
  Key(event, 1, 1);
  Fixed(event, wall_time);
  Key(event, 2, 0);
  Varint(event, static_cast<uint64_t>(step));
  if (file_version != nullptr) LengthDelimited(event, 3, *file_version);
  if (summary != nullptr) LengthDelimited(event, 5, *summary);
  return event;
}

double WallTime() { return absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch()); }

}  // namespace

uint32_t MaskedCrc32c(absl::string_view data) {
  const uint32_t crc = Crc32c(data);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

TensorBoardSink::~TensorBoardSink() {
  if (file_ != nullptr) std::fclose(file_);
}

absl::Status TensorBoardSink::Open(const std::string& dir) {
  if (absl::Status s = MakeDirs(dir); !s.ok()) return s;
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  path_ = absl::StrCat(dir, "/events.out.tfevents.", static_cast<int64_t>(std::time(nullptr)), ".", host, ".",
                       getpid());
  file_ = std::fopen(path_.c_str(), "wb");
  if (file_ == nullptr) return absl::PermissionDeniedError(absl::StrCat("cannot create ", path_));
  const std::string version = "brain.Event:2";
  if (absl::Status s = WriteRecord(EventBytes(WallTime(), 0, &version, nullptr)); !s.ok()) return s;
  return Flush();
}

absl::Status TensorBoardSink::Write(int64_t step, const Scalars& scalars) {
  // Summary { repeated Value value = 1; }  Value { string tag = 1; float simple_value = 2; }
  std::string summary;
  for (const auto& [tag, value] : scalars) {
    std::string entry;
    LengthDelimited(entry, 1, tag);
    Key(entry, 2, 5);
    Fixed(entry, static_cast<float>(value));
    LengthDelimited(summary, 1, entry);
  }
  return WriteRecord(EventBytes(WallTime(), step, nullptr, &summary));
}

absl::Status TensorBoardSink::WriteRecord(const std::string& data) {
  if (file_ == nullptr) return absl::FailedPreconditionError("TensorBoardSink: Open() first");
  std::string record;
  const uint64_t length = data.size();
  Fixed(record, length);
  Fixed(record, MaskedCrc32c(record));
  record += data;
  Fixed(record, MaskedCrc32c(data));
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size()) {
    return absl::DataLossError(absl::StrCat("short write to ", path_));
  }
  return absl::OkStatus();
}

absl::Status TensorBoardSink::Flush() {
  if (file_ != nullptr && std::fflush(file_) != 0) return absl::DataLossError(absl::StrCat("cannot flush ", path_));
  return absl::OkStatus();
}

}  // namespace r1
