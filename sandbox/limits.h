// Resource limits of one sandboxed run. Units are in the field names; each
// limit is enforced by the kernel (rlimits, the run's cgroup) or by the parent
// that watches the run (wall time, output size, the cgroup's CPU time), see
// sandbox.h.
#ifndef R1_SANDBOX_LIMITS_H_
#define R1_SANDBOX_LIMITS_H_

#include <cstdint>

#include "absl/status/status.h"

namespace r1::sandbox {

struct Limits {
  // CPU time. RLIMIT_CPU (rounded up to whole seconds) stops each process;
  // the run's cgroup counts all its processes together (children nobody
  // waited for included) and the run is killed once the total passes this.
  // Without a cgroup the total of the program and the children it waited for
  // is compared to it after the run.
  double cpu_seconds = 4.0;
  // Wall time from start; the parent kills the whole sandbox after it.
  double wall_seconds = 8.0;
  // RLIMIT_AS of each process, and the cap on all memory the run holds
  // together (its cgroup: every process, SysV shm, memfds, tmpfs files,
  // kernel memory), past which the OOM killer ends the run. Python needs ~30
  // MiB of address space to start; g++'s cc1plus a few hundred MiB.
  int64_t memory_bytes = int64_t{1} << 30;
  // RLIMIT_NPROC and the cgroup's pids.max: processes and threads of the
  // program. Three more are allowed for the sandbox's helpers (launcher,
  // bwrap's two processes), four where the wrapper shell stays to measure the
  // program's CPU time (runs without the cgroup's CPU accounting).
  int max_processes = 32;
  // RLIMIT_NOFILE.
  int max_open_files = 64;
  // RLIMIT_FSIZE (largest file the program may write) and also the size of
  // each of the private /tmp and /dev/shm, so scratch files together cannot
  // exceed twice this.
  int64_t max_file_bytes = int64_t{16} << 20;
  // Cap on each of stdout and stderr, read by the parent through pipes; the
  // run is killed when either exceeds it.
  int64_t max_output_bytes = int64_t{4} << 20;
};

// Defaults for compiling a C++ submission with g++ (larger than a run's).
Limits DefaultCompileLimits();

// INVALID_ARGUMENT naming the field when a limit is not positive, too large
// for its rlimit, or below what the sandbox itself needs (memory_bytes 32 MiB,
// max_open_files 16).
absl::Status ValidateLimits(const Limits& limits);

}  // namespace r1::sandbox

#endif  // R1_SANDBOX_LIMITS_H_
