// A client of one rollout worker: Generate (streamed), weight push in chunks
// with per-tensor CRC-32C, teacher scoring and status. The pool over many
// workers builds on this.
#ifndef R1_ROLLOUT_CLIENT_H_
#define R1_ROLLOUT_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/rollout.pb.h"

namespace r1::rollout {

// How to reach a worker started with --tls_cert/--tls_key/--token_file (the
// same fields as reward::ClientOptions).
struct ClientOptions {
  std::string token;               // sent as "authorization: Bearer <token>" when set
  std::string tls_root_cert_file;  // PEM of the worker's CA; set = connect with TLS
  std::string tls_server_name;     // overrides the name checked against the certificate
};

// Weight versions in a shared-memory file, /dev/shm/r1-weights-<pid>-<n>,
// for workers on this host: created exclusively with mode 0600, each tensor
// 64-byte aligned with its CRC-32C, read by every worker it is sent to,
// removed when this object goes away. Later versions of the same tensors are
// written over the earlier one in place (Rewrite), so a steady run allocates
// no memory per version. A worker on another host cannot open it and refuses
// the update.
class SharedWeights {
 public:
  // INTERNAL when the segment cannot be created or written (no /dev/shm,
  // out of space); nothing is left behind then.
  static absl::StatusOr<std::unique_ptr<SharedWeights>> Write(
      const std::vector<std::pair<std::string, torch::Tensor>>& tensors, int64_t version);
  ~SharedWeights();
  SharedWeights(const SharedWeights&) = delete;
  SharedWeights& operator=(const SharedWeights&) = delete;

  // Writes `tensors` as `version` over the version the file holds.
  // FAILED_PRECONDITION when their names, shapes or dtypes differ from the
  // segment's (Write a new segment then). Only once no worker still reads
  // the file: every update sent with it has returned OK or been refused (a
  // worker that timed out may still be reading; write a new segment then).
  absl::Status Rewrite(const std::vector<std::pair<std::string, torch::Tensor>>& tensors, int64_t version);

  int64_t version() const { return version_; }
  const SharedSegment& segment() const { return segment_; }

 private:
  SharedWeights() = default;
  int64_t version_ = 0;
  SharedSegment segment_;
  char* base_ = nullptr;  // the file, mapped for writing; size_ bytes
  uint64_t size_ = 0;
};

class RolloutClient {
 public:
  // INVALID_ARGUMENT for an unreadable certificate file; connecting is lazy.
  static absl::StatusOr<std::unique_ptr<RolloutClient>> Connect(const std::string& address,
                                                                const ClientOptions& options = {});
  ~RolloutClient();

  // Calls `on_completion` for each completion as the worker streams it.
  absl::Status Generate(const GenerateRequest& request, const std::function<void(const Completion&)>& on_completion,
                        absl::Duration timeout = absl::Minutes(10));

  // Streams every tensor (in chunks of at most `chunk_bytes`) as `version`.
  absl::StatusOr<UpdateWeightsResponse> UpdateWeights(
      const std::vector<std::pair<std::string, torch::Tensor>>& tensors, int64_t version,
      int64_t chunk_bytes = 1 << 20, absl::Duration timeout = absl::Minutes(5));

  // Installs weights written into a shared-memory segment (SharedWeights
  // below) on a worker on this host: one small message, the worker reads
  // the bytes from the segment. The same checks and refusals as above.
  absl::StatusOr<UpdateWeightsResponse> UpdateWeights(const SharedWeights& weights,
                                                      absl::Duration timeout = absl::Minutes(5));

  absl::StatusOr<ScoreTokensResponse> ScoreTokens(const ScoreTokensRequest& request,
                                                  absl::Duration timeout = absl::Minutes(5));
  absl::StatusOr<WorkerStatus> Status(absl::Duration timeout = absl::Seconds(10));
  absl::Status WaitUntilServing(absl::Duration timeout);

 private:
  struct Channel;
  explicit RolloutClient(std::unique_ptr<Channel> channel);
  std::unique_ptr<Channel> channel_;
};

}  // namespace r1::rollout

#endif  // R1_ROLLOUT_CLIENT_H_
