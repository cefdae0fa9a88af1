#include "common/metrics.h"

#include <cerrno>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/tensorboard.h"

namespace r1 {

JsonlMetricsSink::~JsonlMetricsSink() {
  if (file_ != nullptr) std::fclose(file_);
}

absl::Status JsonlMetricsSink::Open(const std::string& path) {
  path_ = path;
  file_ = std::fopen(path.c_str(), "a");
  if (file_ == nullptr) return absl::InternalError(absl::StrCat("cannot open metrics file ", path, ": ", std::strerror(errno)));
  return absl::OkStatus();
}

absl::Status JsonlMetricsSink::Write(int64_t step, const Scalars& scalars) {
  std::string line = absl::StrCat("{\"step\":", step);
  for (const auto& [name, value] : scalars) {
    // JSON has no NaN or infinity; write null so the line stays parseable.
    absl::StrAppend(&line, ",\"", name, "\":", std::isfinite(value) ? absl::StrFormat("%.10g", value) : "null");
  }
  line += "}\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size()) {
    return absl::InternalError(absl::StrCat("cannot write metrics file ", path_));
  }
  return absl::OkStatus();
}

absl::Status JsonlMetricsSink::Flush() {
  return std::fflush(file_) == 0 ? absl::OkStatus() : absl::InternalError(absl::StrCat("cannot write metrics file ", path_));
}

absl::Status MetricsFanout::Write(int64_t step, const Scalars& scalars) {
  for (auto& sink : sinks_) {
    if (absl::Status s = sink->Write(step, scalars); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status MetricsFanout::Flush() {
  for (auto& sink : sinks_) {
    if (absl::Status s = sink->Flush(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status OpenStageSinks(const std::string& stage_dir, MetricsFanout* metrics) {
  auto jsonl = std::make_unique<JsonlMetricsSink>();
  absl::Status status = jsonl->Open(absl::StrCat(stage_dir, "/metrics.jsonl"));
  if (!status.ok()) return status;
  metrics->Add(std::move(jsonl));
  auto tensorboard = std::make_unique<TensorBoardSink>();
  status = tensorboard->Open(absl::StrCat(stage_dir, "/tensorboard"));
  if (!status.ok()) return status;
  metrics->Add(std::move(tensorboard));
  return absl::OkStatus();
}

}  // namespace r1
