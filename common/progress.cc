#include "common/progress.h"

#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace r1 {

ProgressLine::ProgressLine(std::string label, double log_interval_seconds)
    : label_(std::move(label)),
      log_interval_seconds_(log_interval_seconds),
      terminal_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()) {}

void ProgressLine::Update(int64_t done, int64_t total, const std::string& detail) {
  const auto now = std::chrono::steady_clock::now();
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  const bool final = total > 0 && done >= total;
  if (!final && since_draw < (terminal_ ? 0.2 : log_interval_seconds_)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  std::string line = total > 0 ? absl::StrFormat("%s %d/%d (%.0f%%)", label_, done, total, 100.0 * done / total)
                               : absl::StrFormat("%s %d", label_, done);
  if (!detail.empty()) absl::StrAppend(&line, " ", detail);
  absl::StrAppend(&line, absl::StrFormat(" %.0fs", elapsed));
  if (total > 0 && done > 0 && !final) {
    absl::StrAppend(&line, absl::StrFormat(" eta %.0fs", elapsed * (total - done) / done));
  }
  if (terminal_) {
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    drawn_ = true;
    if (final) Finish();
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
}

void ProgressLine::Finish() {
  if (terminal_ && drawn_) std::fprintf(stderr, "\n");
  drawn_ = false;
}

}  // namespace r1
