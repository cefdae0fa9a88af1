// The rule mix of a reward service: turns one completion (a ScoreItem) into a
// total reward with every rule's score and reason.
//
// Correctness rules apply by task ("countdown" to countdown, "code" to code,
// "math" to every other task); format, language, length and repetition apply
// to every item. Total = sum over the applicable rules of weight * score.
// Model output never makes scoring fail: malformed text scores 0 with a
// reason. Only an invalid item (no task, a code task without tests, ...) sets
// ScoreResult.error, and then only that item's total is 0.
#ifndef R1_REWARD_SCORER_H_
#define R1_REWARD_SCORER_H_

#include <atomic>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/config.pb.h"
#include "proto/reward.pb.h"

namespace r1::sandbox {
class SandboxPool;
}

namespace r1::reward {

class Scorer {
 public:
  // Checks the rule mix; starts a sandbox pool when it has a "code" rule
  // (FAILED_PRECONDITION when the sandbox cannot run on this host).
  static absl::StatusOr<std::unique_ptr<Scorer>> Create(const config::RewardServiceConfig& config);
  ~Scorer();

  // One item. `cancelled` (may be null) stops a running sandbox early.
  ScoreResult Score(const ScoreItem& item, absl::Time deadline, const std::atomic<bool>* cancelled) const;

  // A batch, in order. Code items run concurrently (up to the sandbox pool's
  // limit); the rest are scored on the calling thread.
  std::vector<ScoreResult> ScoreBatch(const std::vector<const ScoreItem*>& items, absl::Time deadline,
                                      const std::atomic<bool>* cancelled) const;

  const config::RewardServiceConfig& config() const { return config_; }

 private:
  explicit Scorer(config::RewardServiceConfig config);

  // The correctness rule for `task`, or null when the mix has none for it.
  const config::RewardRuleConfig* CorrectnessRule(absl::string_view task) const;

  config::RewardServiceConfig config_;
  std::unique_ptr<sandbox::SandboxPool> sandboxes_;
};

}  // namespace r1::reward

#endif  // R1_REWARD_SCORER_H_
