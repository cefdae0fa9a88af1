#include "sandbox/pool.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status.h"

namespace r1::sandbox {
namespace {

// How often a queued call looks at its cancellation flag.
constexpr absl::Duration kQueuePoll = absl::Milliseconds(20);

}  // namespace

absl::StatusOr<std::unique_ptr<SandboxPool>> SandboxPool::Create(const PoolOptions& options) {
  if (options.max_concurrent <= 0) {
    return absl::InvalidArgumentError("PoolOptions.max_concurrent must be positive");
  }
  if (options.max_queued < 0) {
    return absl::InvalidArgumentError("PoolOptions.max_queued must not be negative");
  }
  if (absl::Status s = ValidateLimits(options.judge.run_limits); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("run_limits: ", s.message()));
  }
  if (absl::Status s = ValidateLimits(options.judge.compile_limits); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("compile_limits: ", s.message()));
  }
  if (geteuid() == 0 && options.max_concurrent > options.sandbox.uid_count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PoolOptions.max_concurrent (", options.max_concurrent,
        ") exceeds the sandbox uids available (SandboxOptions.uid_count ",
        options.sandbox.uid_count, ")"));
  }
  if (absl::Status s = CheckSandbox(options.sandbox, options.judge.python_path); !s.ok()) {
    return s;
  }
  // Python's site-packages, asked once in the pool's first sandbox (kept for
  // the first call) rather than on every call.
  PoolOptions resolved = options;
  std::unique_ptr<Sandbox> first;
  if (!resolved.judge.python_site_packages.has_value()) {
    R1_ASSIGN_OR_RETURN(first, Sandbox::Create(options.sandbox));
    R1_ASSIGN_OR_RETURN(resolved.judge.python_site_packages,
                        ProbePythonSitePackages(*first, options.judge.python_path,
                                                absl::Now() + absl::Seconds(60)));
    if (absl::Status s = first->ResetWorkspace(); !s.ok()) return s;
  }
  auto pool = std::unique_ptr<SandboxPool>(new SandboxPool(resolved));
  pool->have_cxx_ = access(options.judge.cxx_path.c_str(), X_OK) == 0;
  if (first != nullptr) {
    absl::MutexLock lock(&pool->mu_);
    pool->idle_.push_back(std::move(first));
  }
  return pool;
}

absl::Status SandboxPool::Acquire(absl::Time deadline, const std::atomic<bool>* cancelled) {
  absl::MutexLock lock(&mu_);
  if (waiting_.empty() && running_ < options_.max_concurrent) {
    ++running_;
    return absl::OkStatus();
  }
  if (static_cast<int>(waiting_.size()) >= options_.max_queued) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "sandbox pool busy: ", running_, " running, ", waiting_.size(), " queued"));
  }
  const uint64_t ticket = next_ticket_++;
  waiting_.push_back(ticket);
  auto leave = [&] {
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), ticket));
    changed_.SignalAll();
  };
  // Cancellation is checked before the slot test: a call cancelled while it waited must not
  // start just because the slot it waited for was freed by the same cancellation.
  while (true) {
    if (cancelled != nullptr && cancelled->load()) {
      leave();
      return absl::CancelledError("cancelled while waiting for a sandbox");
    }
    if (waiting_.front() == ticket && running_ < options_.max_concurrent) break;
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      leave();
      return absl::DeadlineExceededError("deadline passed while waiting for a sandbox");
    }
    changed_.WaitWithTimeout(&mu_, std::min(kQueuePoll, deadline - now));
  }
  waiting_.pop_front();
  ++running_;
  // The next in line may also fit.
  changed_.SignalAll();
  return absl::OkStatus();
}

void SandboxPool::Release(std::unique_ptr<Sandbox> box) {
  absl::MutexLock lock(&mu_);
  if (box != nullptr) idle_.push_back(std::move(box));
  --running_;
  changed_.SignalAll();
}

absl::StatusOr<JudgeResult> SandboxPool::Judge(const Submission& submission, absl::Time deadline,
                                               const std::atomic<bool>* cancelled) {
  if (absl::Status s = ValidateSubmission(submission); !s.ok()) return s;
  if (submission.language == Language::kCpp && !have_cxx_) {
    return absl::FailedPreconditionError(
        absl::StrCat("C++ submissions need a compiler at ", options_.judge.cxx_path));
  }
  if (absl::Status s = Acquire(deadline, cancelled); !s.ok()) return s;
  absl::StatusOr<JudgeResult> result;
  std::unique_ptr<Sandbox> box;
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      box = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (box == nullptr) {
    absl::StatusOr<std::unique_ptr<Sandbox>> created = Sandbox::Create(options_.sandbox);
    if (created.ok()) {
      box = std::move(*created);
    } else {
      result = created.status();
    }
  }
  if (box != nullptr) {
    result = JudgeInSandbox(*box, submission, options_.judge, deadline, cancelled);
    // Only a sandbox whose runs all ended normally serves again; any other is
    // torn down (every process of its uid killed, the workspace removed, the
    // lease given back).
    if (!result.ok() || !box->ResetWorkspace().ok()) box.reset();
  }
  // Kept or torn down before the slot is given back.
  Release(std::move(box));
  return result;
}

int SandboxPool::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

int SandboxPool::queued() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(waiting_.size());
}

std::vector<int> SandboxPool::idle_uids() const {
  absl::MutexLock lock(&mu_);
  std::vector<int> uids;
  for (const std::unique_ptr<Sandbox>& box : idle_) uids.push_back(box->uid());
  return uids;
}

}  // namespace r1::sandbox
