// A client of the reward service, as the learner, rejection sampling and
// eval use it: one call scores a batch, with a deadline, and is retried on
// UNAVAILABLE (scoring is idempotent, so a retry is always safe).
#ifndef R1_REWARD_CLIENT_H_
#define R1_REWARD_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/records.pb.h"
#include "proto/reward.pb.h"

namespace r1::reward {

struct ClientOptions {
  std::string token;                // sent as "authorization: Bearer <token>" when set
  std::string tls_root_cert_file;   // PEM of the server's CA; set = connect with TLS
  std::string tls_server_name;      // overrides the name checked against the certificate
  absl::Duration timeout = absl::Minutes(5);  // per attempt
  int max_attempts = 4;             // attempts on UNAVAILABLE, with exponential backoff
  absl::Duration initial_backoff = absl::Milliseconds(100);
};

class RewardClient {
 public:
  static absl::StatusOr<std::unique_ptr<RewardClient>> Connect(const std::string& address,
                                                               const ClientOptions& options = {});
  ~RewardClient();

  // Results in the order of `items`. A gRPC failure comes back as the status
  // with the same code (INVALID_ARGUMENT, UNAUTHENTICATED, ...).
  absl::StatusOr<std::vector<ScoreResult>> Score(const std::vector<ScoreItem>& items);

  // Waits until the server answers its health check with SERVING.
  absl::Status WaitUntilServing(absl::Duration timeout);

 private:
  struct Channel;
  explicit RewardClient(std::unique_ptr<Channel> channel, ClientOptions options);

  std::unique_ptr<Channel> channel_;
  ClientOptions options_;
};

// The item for one completion of `prompt`: the completion with what the rules
// need to check it (reference answer, task, countdown numbers, test cases).
ScoreItem ScoreItemFor(const data::PromptRecord& prompt, const std::string& completion, int completion_tokens,
                       bool truncated);

}  // namespace r1::reward

#endif  // R1_REWARD_CLIENT_H_
