// A child process that r1 starts and owns: services for tests and for the
// pipeline (reward server, rollout workers). The child dies with its parent
// (PR_SET_PDEATHSIG), so a crashed or killed parent leaves no orphans, and
// the destructor stops a child that is still running.
#ifndef R1_COMMON_SUBPROCESS_H_
#define R1_COMMON_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace r1 {

struct SubprocessOptions {
  std::string stdout_path;  // empty = inherit
  std::string stderr_path;  // empty = inherit
  int parent_death_signal = 15;  // SIGTERM to the child when this process dies; 0 = none
};

class Subprocess {
 public:
  // argv[0] is the program path (no PATH search). FAILED_PRECONDITION when it
  // cannot be started (the exec error is reported, not a silent exit 127).
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(const std::vector<std::string>& argv,
                                                           const SubprocessOptions& options = {});
  // Stops the child if it still runs: SIGTERM, then SIGKILL after 5 s.
  ~Subprocess();

  pid_t pid() const { return pid_; }
  bool Running();
  void Signal(int signal_number);
  // Exit code (128 + signal when killed by a signal) once the child ended, or
  // DEADLINE_EXCEEDED when it still runs after `timeout`.
  absl::StatusOr<int> Wait(absl::Duration timeout = absl::InfiniteDuration());
  // SIGTERM, wait up to `grace`, then SIGKILL; returns the exit code.
  int Stop(absl::Duration grace = absl::Seconds(5));

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  std::optional<int> exit_code_;
};

}  // namespace r1

#endif  // R1_COMMON_SUBPROCESS_H_
