// A MetricsSink that writes TensorBoard event files, natively: a file of
// records (uint64 length, masked CRC-32C of the length, the bytes, masked
// CRC-32C of the bytes), each an `Event` protobuf holding scalar summaries.
// The messages are a handful of fields, so they are encoded here by hand
// rather than through a copy of TensorBoard's .proto files.
#ifndef R1_COMMON_TENSORBOARD_H_
#define R1_COMMON_TENSORBOARD_H_

#include <cstdio>
#include <string>

#include "common/metrics.h"

namespace r1 {

class TensorBoardSink : public MetricsSink {
 public:
  ~TensorBoardSink() override;
  // Creates `dir` and a new events.out.tfevents.<seconds>.<host>.<pid> file in
  // it (TensorBoard reads every such file of a folder, so a resumed stage
  // adds a file instead of rewriting one).
  absl::Status Open(const std::string& dir);
  absl::Status Write(int64_t step, const Scalars& scalars) override;
  absl::Status Flush() override;
  const std::string& path() const { return path_; }

 private:
  absl::Status WriteRecord(const std::string& data);
  std::string path_;
  std::FILE* file_ = nullptr;
};

// The CRC mask of the TFRecord format: rotate right by 15, add 0xa282ead8.
uint32_t MaskedCrc32c(absl::string_view data);

}  // namespace r1

#endif  // R1_COMMON_TENSORBOARD_H_
