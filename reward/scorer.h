// The rule mix of a reward service: turns one completion (a ScoreItem) into a
// total reward with every rule's score and reason.
//
// Correctness rules apply by task ("countdown" to countdown, "code" to code,
// "math" to every other task); format, language, length and repetition apply
// to every item. Total = sum over the applicable rules of weight * score.
//
// The contract with the learner: a score, or an error, never both.
// - Model output never makes scoring fail: a completion that is malformed,
//   has no answer or no code, is not UTF-8, or whose program is wrong,
//   crashes, times out, runs out of memory or floods its output scores
//   (usually 0) with a reason code in its RuleScore.reason. That is a
//   verdict on the model; train on it.
// - Anything else sets ScoreResult.error (a message) and error_code, and
//   then the item has no score: total 0, correct false, no rules. The
//   learner must not read that 0 as a wrong answer: it retries or drops the
//   item and counts it. error_code says which:
//     "invalid_item"      the item itself (not the completion) is bad: no
//                         task, a code item without tests, an entry_point
//                         that is not a Python identifier, function-call
//                         tests that are not JSON or nest deeper than 512,
//                         test data that is not UTF-8, an unknown compare
//                         mode, a C++ entry function whose parameter types
//                         the driver cannot fill, ...; retrying cannot
//                         help, fix the data.
//     "sandbox_busy"      every sandbox was running and the queue was full;
//                         retry later or elsewhere.
//     "deadline_exceeded" the call's deadline passed while the item waited
//                         for a sandbox.
//     "cancelled"         the call was cancelled before or while it ran.
//     "sandbox_error"     the sandbox itself failed (could not start, its
//                         cgroup could not be made, ...); retry elsewhere.
//   Other items of the batch are scored as usual.
#ifndef R1_REWARD_SCORER_H_
#define R1_REWARD_SCORER_H_

#include <atomic>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/config.pb.h"
#include "proto/reward.pb.h"
#include "sandbox/sandbox.h"

namespace r1::sandbox {
class SandboxPool;
}

namespace r1::reward {

// Settings of the process rather than of the rule mix (flags of r1-reward).
struct ScorerOptions {
  // The code sandbox: bwrap, workspace root, uid range, and
  // allow_no_cgroup (run code without a cgroup per run where cgroups are
  // unavailable; memory is then bound per process only; by default the
  // scorer refuses to start there). r1-reward's --sandbox_allow_no_cgroup
  // belongs in sandbox.allow_no_cgroup.
  sandbox::SandboxOptions sandbox;
};

class Scorer {
 public:
  // Checks the rule mix; starts a sandbox pool when it has a "code" rule
  // (FAILED_PRECONDITION when the sandbox cannot run on this host, e.g.
  // without cgroups unless options.sandbox.allow_no_cgroup).
  static absl::StatusOr<std::unique_ptr<Scorer>> Create(const config::RewardServiceConfig& config,
                                                        const ScorerOptions& options = {});
  ~Scorer();

  // One item (see the contract above). `cancelled` (may be null) stops a
  // running sandbox early.
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
