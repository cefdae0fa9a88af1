#include "sandbox/limits.h"

#include "absl/strings/str_cat.h"

namespace r1::sandbox {
namespace {

constexpr int64_t kMinMemoryBytes = int64_t{32} << 20;
constexpr int kMinOpenFiles = 16;

}  // namespace

Limits DefaultCompileLimits() {
  Limits limits;
  limits.cpu_seconds = 30.0;
  limits.wall_seconds = 60.0;
  limits.memory_bytes = int64_t{2} << 30;
  limits.max_processes = 16;
  limits.max_open_files = 256;
  limits.max_file_bytes = int64_t{128} << 20;
  limits.max_output_bytes = int64_t{1} << 20;
  return limits;
}

absl::Status ValidateLimits(const Limits& limits) {
  auto bad = [](absl::string_view field, auto value) {
    return absl::InvalidArgumentError(
        absl::StrCat("Limits.", field, " must be positive and not absurdly large, got ", value));
  };
  // A day of CPU or wall time is far beyond any judge run; it also keeps the
  // conversions to whole seconds and absl::Duration well inside range.
  constexpr double kMaxSeconds = 86400.0;
  if (!(limits.cpu_seconds > 0 && limits.cpu_seconds <= kMaxSeconds)) {
    return bad("cpu_seconds", limits.cpu_seconds);
  }
  if (!(limits.wall_seconds > 0 && limits.wall_seconds <= kMaxSeconds)) {
    return bad("wall_seconds", limits.wall_seconds);
  }
  // Below these the sandbox's own helpers (bwrap, a shell) cannot start,
  // which would look like an infrastructure fault on every run.
  if (limits.memory_bytes < kMinMemoryBytes) {
    return absl::InvalidArgumentError(absl::StrCat("Limits.memory_bytes must be at least ",
                                                   kMinMemoryBytes, ", got ", limits.memory_bytes));
  }
  if (limits.max_processes <= 0 || limits.max_processes > 100000) {
    return bad("max_processes", limits.max_processes);
  }
  if (limits.max_open_files < kMinOpenFiles || limits.max_open_files > 1 << 20) {
    return absl::InvalidArgumentError(absl::StrCat("Limits.max_open_files must be in [",
                                                   kMinOpenFiles, ", 1048576], got ",
                                                   limits.max_open_files));
  }
  if (limits.max_file_bytes <= 0) return bad("max_file_bytes", limits.max_file_bytes);
  if (limits.max_output_bytes <= 0 || limits.max_output_bytes > int64_t{1} << 32) {
    return bad("max_output_bytes", limits.max_output_bytes);
  }
  return absl::OkStatus();
}

}  // namespace r1::sandbox
