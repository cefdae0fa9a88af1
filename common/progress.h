// Progress of long work on stderr: a line redrawn in place on a terminal, or
// a plain line every few seconds when stderr is a file or pipe (CI logs).
#ifndef R1_COMMON_PROGRESS_H_
#define R1_COMMON_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace r1 {

class ProgressLine {
 public:
  // `label` starts every line, e.g. "pretrain".
  explicit ProgressLine(std::string label, double log_interval_seconds = 10.0);

  // done of total units (total 0 = unknown), with `detail` after the count.
  // Redraws at most 5 times a second; always draws the final update.
  void Update(int64_t done, int64_t total, const std::string& detail = "");
  // Ends the in-place line.
  void Finish();

 private:
  std::string label_;
  double log_interval_seconds_;
  bool terminal_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace r1

#endif  // R1_COMMON_PROGRESS_H_
