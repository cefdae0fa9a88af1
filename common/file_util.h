// File I/O that never leaves a half-written file looking complete: writers
// fill a temporary file beside the target and rename it into place on Commit().
#ifndef R1_COMMON_FILE_UTIL_H_
#define R1_COMMON_FILE_UTIL_H_

#include <cstdio>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace r1 {

// The whole file as bytes. NOT_FOUND names the path when it does not exist.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Writes `contents` to `path` through a temporary file and a rename.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

// Streams into `<path>.tmp.<pid>`; Commit() flushes, fsyncs and renames it to
// `path`. Destroying an uncommitted writer deletes the temporary file, so an
// interrupted writer leaves the old file (or nothing) behind.
class AtomicFileWriter {
 public:
  AtomicFileWriter() = default;
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  absl::Status Open(const std::string& path);
  absl::Status Write(absl::string_view bytes);
  absl::Status Commit();
  // Deletes the temporary file; the target is untouched.
  void Abandon();

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string temp_path_;
  std::FILE* file_ = nullptr;
};

// Directory holding the running executable (from /proc/self/exe).
std::string ExecutableDir();

// `path` when absolute or when `base_dir` is empty, else base_dir/path (how a
// run config's relative paths resolve against the run directory).
std::string ResolvePath(const std::string& base_dir, const std::string& path);

// Creates `dir` and its parents; OK if it already exists.
absl::Status MakeDirs(const std::string& dir);

}  // namespace r1

#endif  // R1_COMMON_FILE_UTIL_H_
