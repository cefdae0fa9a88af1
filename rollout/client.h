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
