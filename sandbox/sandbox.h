// One isolated process run: an untrusted program under bubblewrap, with
// rlimits, a wall-clock deadline, capped output and cancellation.
//
// Isolation of every run (the bwrap arguments are in Sandbox::Run):
// - new user, pid, net, ipc, uts and cgroup namespaces: no network at all
//   (a loopback device of its own only), no capabilities (--cap-drop ALL),
//   no nested user namespaces (--disable-userns), its own session
//   (--new-session: no terminal injection), killed with bwrap
//   (--die-with-parent);
// - a read-only root holding /usr read-only (plus the merged-usr links /bin
//   /lib /lib64 /sbin), a fresh /proc of its pid namespace, a minimal
//   read-only /dev (null, zero, full, random, urandom, tty, pts), private
//   tmpfs /tmp and /dev/shm of Limits::max_file_bytes each, and the workspace
//   at /box (read-only for runs, writable for compiles). No /etc, /home,
//   /root, /work, /run or host /tmp;
// - an empty environment except PATH, HOME=/tmp, TMPDIR=/tmp, LANG=C.UTF-8
//   (bwrap itself is started with PATH only, since /proc/1/environ shows it);
// - no inherited file descriptors but stdin (a sealed memfd), stdout, stderr;
// - a seccomp filter (seccomp_filter.h) denying non-AF_UNIX sockets, ptrace,
//   mount, namespaces, kernel modules, kexec, bpf, perf, keyrings, io_uring;
// - rlimits from Limits: CPU, address space, processes, open files, file
//   size, no core dumps; the parent enforces wall time and output size.
//
// Processes. The service forks a launcher (takes the uid, sets the rlimits,
// becomes a child subreaper, dies with the service thread) which forks bwrap
// and reaps everything left over, so no zombie is left to the host's init.
// Inside, a /bin/sh wrapper reports that setup is done (so bwrap's own
// failures are told apart from the program's) and measures the program's CPU
// time with `times`. Killing bwrap ends its pid 1 and with it the whole pid
// namespace, double-forked daemons included.
//
// Users. When the service runs as root, every Sandbox leases its own unused
// uid/gid (SandboxOptions::uid_base.., a lock file per uid keeps threads and
// processes apart) and the launcher takes it with no supplementary groups
// before bwrap runs (unprivileged, in its own user namespace). RLIMIT_NPROC
// then counts exactly this sandbox's processes, and after every run a helper
// with that uid SIGKILLs whatever is left of it (kill(-1)) and waits until
// the uid owns no process. When the service runs as an ordinary user, runs
// use that user's uid: RLIMIT_NPROC is set inside the sandbox by the wrapper
// shell (`ulimit -p`), which Linux >= 5.14 counts per user namespace, i.e.
// per sandbox (older kernels would count all of the user's processes); there
// is no per-uid sweep, the pid namespace alone ends the process tree.
// Unprivileged user namespaces must be enabled either way.
#ifndef R1_SANDBOX_SANDBOX_H_
#define R1_SANDBOX_SANDBOX_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sandbox/limits.h"

namespace r1::sandbox {

struct SandboxOptions {
  std::string bwrap_path = "/usr/bin/bwrap";
  // Host folder for the per-sandbox workspaces; must be traversable by the
  // sandbox uids (the default /tmp is).
  std::string work_root = "/tmp";
  // Root only: sandboxes run as uids (and gids) uid_base .. uid_base +
  // uid_count - 1, skipping any that /etc/passwd or /etc/group knows. The
  // default range sits below systemd's dynamic users (61184..65519).
  int uid_base = 61000;
  int uid_count = 128;
  // Root only: where the uid lease lock files live (falls back to work_root
  // when missing).
  std::string lock_dir = "/run/lock";
  bool seccomp = true;
};

struct RunRequest {
  // Program and arguments as seen inside the sandbox; argv[0] is an absolute
  // path (e.g. /usr/bin/python3, /box/prog).
  std::vector<std::string> argv;
  std::string stdin_data;
  Limits limits;
  // /box is writable (compiles) or read-only (runs of untrusted code).
  bool writable_workspace = false;
};

enum class Termination {
  kExited,       // exited on its own; see exit_code
  kSignaled,     // killed by a signal it got inside; see signal
  kCpuLimit,     // used Limits::cpu_seconds of CPU
  kWallLimit,    // killed at Limits::wall_seconds or the caller's deadline
  kOutputLimit,  // killed for writing more than Limits::max_output_bytes
  kCancelled,    // killed because the caller's cancellation flag was set
};

struct RunResult {
  Termination termination = Termination::kExited;
  int exit_code = 0;  // kExited only
  int signal = 0;     // kSignaled (and kCpuLimit when a signal ended it)
  double wall_seconds = 0;
  // User + system CPU of the program and the children it waited for; 0 when
  // the sandbox was killed from outside (wall, output, cancel) or the program
  // killed the wrapper shell that measures it.
  double cpu_seconds = 0;
  std::string stdout_data;  // at most Limits::max_output_bytes
  std::string stderr_data;  // at most Limits::max_output_bytes
};

// A workspace (host folder seen as /box inside) plus, when root, a leased uid.
// Runs are sequential: one Sandbox serves one submission at a time; use one
// Sandbox per thread. Everything is removed and killed on destruction.
class Sandbox {
 public:
  static constexpr char kWorkspace[] = "/box";

  // FAILED_PRECONDITION when bwrap is missing; RESOURCE_EXHAUSTED when every
  // uid of the range is leased; errors of creating the workspace otherwise.
  static absl::StatusOr<std::unique_ptr<Sandbox>> Create(const SandboxOptions& options);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // Writes `name` (a plain file name, no '/') into the workspace, readable by
  // the sandbox; replaces an existing file.
  absl::Status WriteFile(absl::string_view name, absl::string_view contents);

  // Runs the request until it ends, its limits stop it, `deadline` passes or
  // `*cancelled` becomes true (checked about every 20 ms). Whatever the
  // program does is a RunResult; a non-OK status is an infrastructure fault
  // (fork failed, bwrap could not set up the sandbox).
  absl::StatusOr<RunResult> Run(const RunRequest& request, absl::Time deadline,
                                const std::atomic<bool>* cancelled = nullptr);

  // The uid the sandbox runs as: a leased one when root, else the caller's.
  int uid() const { return uid_; }
  const std::string& workspace_dir() const { return workspace_dir_; }

 private:
  Sandbox() = default;

  SandboxOptions options_;
  bool per_run_uid_ = false;  // true when root: uid_ is leased
  int uid_ = -1;
  int lease_fd_ = -1;  // flock'ed lock file of uid_
  std::string workspace_dir_;
  std::string seccomp_program_;  // BPF bytes for bwrap --seccomp, or empty
};

// The lock file whose exclusive flock leases `uid` (root only). A process of
// `uid` while nobody holds the lock is a leftover; tests look for those.
std::string UidLockPath(const SandboxOptions& options, int uid);

// Runs `python -c "print('ok')"` in a sandbox: OK, or FAILED_PRECONDITION
// saying what is missing or broken (naming options.bwrap_path and `python`).
absl::Status CheckSandbox(const SandboxOptions& options, const std::string& python);

}  // namespace r1::sandbox

#endif  // R1_SANDBOX_SANDBOX_H_
