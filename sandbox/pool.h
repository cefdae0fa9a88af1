// SandboxPool: judges submissions from many threads (e.g. gRPC handlers), at
// most `max_concurrent` sandboxes at once, with a bounded queue beyond that.
// Sandboxes are kept between calls (at most `max_concurrent`, each with its
// uid lease, see Sandbox::ResetWorkspace): every call gets a fresh, empty
// workspace, and no process of an earlier call is left, but leasing and
// releasing a uid each time would cost two sweeps for its processes.
#ifndef R1_SANDBOX_POOL_H_
#define R1_SANDBOX_POOL_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sandbox/judge.h"
#include "sandbox/sandbox.h"

namespace r1::sandbox {

struct PoolOptions {
  int max_concurrent = 2;  // sandboxes running at once (one Judge call each)
  int max_queued = 64;     // Judge calls waiting for a slot; beyond: RESOURCE_EXHAUSTED
  SandboxOptions sandbox;
  JudgeOptions judge;
};

// Must outlive every Judge call made on it.
class SandboxPool {
 public:
  // Checks the options and that the sandbox works (bwrap runs python in it);
  // FAILED_PRECONDITION naming bwrap or python when not. Never crashes.
  static absl::StatusOr<std::unique_ptr<SandboxPool>> Create(const PoolOptions& options);

  // Judges `submission` in a sandbox of its own with a fresh workspace (one an
  // earlier call left, or a new one; a sandbox whose call failed is not
  // used again). Thread-safe. Waits in FIFO order
  // while all slots are busy. Nothing ran when the status is not OK:
  // INVALID_ARGUMENT (ValidateSubmission), RESOURCE_EXHAUSTED (queue full),
  // DEADLINE_EXCEEDED or CANCELLED (while queued), FAILED_PRECONDITION (C++
  // without a compiler), or an infrastructure fault. Once it runs, the deadline
  // and cancellation act per case as in JudgeInSandbox.
  absl::StatusOr<JudgeResult> Judge(const Submission& submission, absl::Time deadline,
                                    const std::atomic<bool>* cancelled = nullptr);

  int running() const;
  int queued() const;
  // The uids of the sandboxes kept for later calls (none running).
  std::vector<int> idle_uids() const;

 private:
  explicit SandboxPool(const PoolOptions& options) : options_(options) {}
  absl::Status Acquire(absl::Time deadline, const std::atomic<bool>* cancelled);
  // Gives the slot back, keeping `box` (when not null) for the next call.
  void Release(std::unique_ptr<Sandbox> box);

  const PoolOptions options_;
  bool have_cxx_ = false;
  mutable absl::Mutex mu_;
  absl::CondVar changed_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<uint64_t> waiting_ ABSL_GUARDED_BY(mu_);  // tickets, oldest first
  // Sandboxes no call is using, ready for the next (at most max_concurrent).
  std::vector<std::unique_ptr<Sandbox>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace r1::sandbox

#endif  // R1_SANDBOX_POOL_H_
