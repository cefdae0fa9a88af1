#include "common/file_util.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace r1 {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  const int err = errno;
  std::string message = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  if (err == ENOSPC || err == EDQUOT) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is a directory, not a file"));
  }
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return ErrnoError("cannot open", path);
  std::string contents;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), f)) > 0) contents.append(buffer, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return ErrnoError("cannot read", path);
  return contents;
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  AtomicFileWriter writer;
  if (absl::Status s = writer.Open(path); !s.ok()) return s;
  if (absl::Status s = writer.Write(contents); !s.ok()) return s;
  return writer.Commit();
}

AtomicFileWriter::~AtomicFileWriter() { Abandon(); }

absl::Status AtomicFileWriter::Open(const std::string& path) {
  Abandon();
  path_ = path;
  temp_path_ = absl::StrCat(path, ".tmp.", getpid());
  file_ = std::fopen(temp_path_.c_str(), "wb");
  if (file_ == nullptr) return ErrnoError("cannot create", temp_path_);
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::Write(absl::string_view bytes) {
  if (file_ == nullptr) return absl::FailedPreconditionError("AtomicFileWriter is not open");
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    return ErrnoError("cannot write", temp_path_);
  }
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::Commit() {
  if (file_ == nullptr) return absl::FailedPreconditionError("AtomicFileWriter is not open");
  // A full disk often shows only at flush or close: check both before the
  // rename makes the file visible under its real name.
  if (std::fflush(file_) != 0 || fsync(fileno(file_)) != 0) {
    absl::Status s = ErrnoError("cannot write", temp_path_);
    Abandon();
    return s;
  }
  const int close_result = std::fclose(file_);
  file_ = nullptr;
  if (close_result != 0) {
    absl::Status s = ErrnoError("cannot write", temp_path_);
    Abandon();
    return s;
  }
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    absl::Status s = ErrnoError("cannot rename into", path_);
    Abandon();
    return s;
  }
  temp_path_.clear();
  return absl::OkStatus();
}

void AtomicFileWriter::Abandon() {
  if (file_ != nullptr) {
    std::fclose(file_);
    file_ = nullptr;
  }
  if (!temp_path_.empty()) {
    std::remove(temp_path_.c_str());
    temp_path_.clear();
  }
}

std::string ExecutableDir() {
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return ".";
  return exe.parent_path().string();
}

absl::Status MakeDirs(const std::string& dir) {
  if (dir.empty()) return absl::OkStatus();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create directory ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

std::string ResolvePath(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return base_dir + "/" + path;
}

}  // namespace r1
