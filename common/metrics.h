// The one metrics sink interface. Training stages write named scalars per
// step; sinks decide where they go (JSONL here; TensorBoard event files in
// common/tensorboard.h).
#ifndef R1_COMMON_METRICS_H_
#define R1_COMMON_METRICS_H_

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace r1 {

using Scalars = std::map<std::string, double>;

class MetricsSink {
 public:
  virtual ~MetricsSink() = default;
  virtual absl::Status Write(int64_t step, const Scalars& scalars) = 0;
  virtual absl::Status Flush() = 0;
};

// One JSON object per line: {"step": 12, "loss": 1.5, ...}. Appends, so a
// resumed stage continues the same file.
class JsonlMetricsSink : public MetricsSink {
 public:
  ~JsonlMetricsSink() override;
  absl::Status Open(const std::string& path);
  absl::Status Write(int64_t step, const Scalars& scalars) override;
  absl::Status Flush() override;

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

// Writes to every sink it holds.
class MetricsFanout : public MetricsSink {
 public:
  void Add(std::unique_ptr<MetricsSink> sink) { sinks_.push_back(std::move(sink)); }
  absl::Status Write(int64_t step, const Scalars& scalars) override;
  absl::Status Flush() override;

 private:
  std::vector<std::unique_ptr<MetricsSink>> sinks_;
};

// The sinks every training stage writes (pretraining, SFT, distillation and
// RL alike): stage_dir/metrics.jsonl, appended to, and a TensorBoard event
// file in stage_dir/tensorboard.
absl::Status OpenStageSinks(const std::string& stage_dir, MetricsFanout* metrics);

}  // namespace r1

#endif  // R1_COMMON_METRICS_H_
