// One isolated process run: an untrusted program under bubblewrap, with
// rlimits, a cgroup of its own, a wall-clock deadline, capped output and
// cancellation.
//
// Isolation of every run (the bwrap arguments are in Sandbox::Run):
// - new user, pid, net, ipc, uts and cgroup namespaces: a network namespace
//   of its own whose only device is its loopback (lo up with 127.0.0.1 and
//   ::1, as bwrap's --unshare-net leaves it), so a program may talk to itself
//   over 127.0.0.1 / ::1 / localhost while nothing else is reachable: no other
//   interface, no route (SandboxOptions::loopback_network, on by default;
//   off, sockets are AF_UNIX only), no capabilities (--cap-drop ALL),
//   no nested user namespaces (--disable-userns), its own session
//   (--new-session: no terminal injection), killed with bwrap
//   (--die-with-parent);
// - a read-only root holding /usr read-only (plus the merged-usr links /bin
//   /lib /lib64 /sbin), a minimal read-only /dev (null, zero, full, random,
//   urandom, tty, pts), private tmpfs /tmp and /dev/shm of
//   Limits::max_file_bytes each, and the workspace at /box (read-only for
//   runs, writable for compiles). No /home, /root, /work, /run, /sys or host
//   /tmp; no host /etc: with loopback_network a read-only /etc holding only
//   hosts (localhost and the hostname at 127.0.0.1 and ::1) and
//   nsswitch.conf ("hosts: files"), so that "localhost" resolves; without it
//   no /etc at all. The root is a folder each Sandbox prepares once (under
//   SandboxOptions::work_root, owned by the service, mode 0755: the mount
//   points, the links, /etc) and every run binds read-only, instead of
//   building a tmpfs root anew;
// - /proc is a read-only tmpfs holding only cpuinfo, meminfo, stat, uptime
//   and loadavg. A real procfs, even a fresh one of the run's pid namespace,
//   lists the mount namespace in /proc/<pid>/mountinfo and mounts, and those
//   show host paths and devices (the workspace's host folder, /dev/vda, an
//   overlay root's upperdir); per-pid files cannot be masked for pids that do
//   not exist yet. So there is no /proc/self: /dev/stdin, /dev/fd/N and
//   friends dangle (a program reads stdin through fd 0);
// - an empty environment except PATH, HOME=/tmp, TMPDIR=/tmp, LANG=C.UTF-8
//   (bwrap itself is started with PATH only);
// - no inherited file descriptors but stdin (a sealed memfd), stdout, stderr;
// - a seccomp filter (seccomp_filter.h) denying sockets of any family but
//   AF_UNIX (and AF_INET, AF_INET6 with loopback_network: no netlink, packet
//   or other families either way), ptrace,
//   mount, namespaces, kernel modules, kexec, bpf, perf, keyrings, io_uring
//   (and shmget, memfd_create when the run has no memory cgroup);
// - rlimits from Limits: CPU, address space, processes, open files, file
//   size, no core dumps; the parent enforces wall time and output size.
// - a cgroup per run (cgroup.h): all memory the run holds, whichever process
//   holds it and however (SysV shm, memfd, tmpfs included), is capped at
//   Limits::memory_bytes; processes and threads together at
//   Limits::max_processes (+ the helpers); CPU time of every process,
//   children nobody waited for included, is counted and the run is killed
//   when it passes Limits::cpu_seconds. A run the OOM killer hit ends as
//   kMemoryLimit. Without usable cgroups Sandbox::Create refuses unless
//   SandboxOptions::allow_no_cgroup.
//
// Processes. The service forks a launcher (joins the run's cgroup, takes the
// uid, sets the rlimits, becomes a child subreaper, dies with the service
// thread) which vforks bwrap and reaps everything left over, so no zombie is
// left to the host's init. Inside, a /bin/sh wrapper reports that setup is
// done (so bwrap's own failures are told apart from the program's) and then
// executes the program; without the cgroup's CPU accounting it instead runs
// the program as its child and measures its CPU time with `times`.
// Killing bwrap ends its pid 1 and with it the whole pid namespace,
// double-forked daemons included; after the run everything left in its
// cgroup is SIGKILLed and the group removed.
//
// Users. When the service runs as root, every Sandbox leases its own unused
// uid/gid (SandboxOptions::uid_base.., a lock file per uid keeps threads and
// processes apart) and the launcher takes it with no supplementary groups
// before bwrap runs (unprivileged, in its own user namespace). RLIMIT_NPROC
// then counts exactly this sandbox's processes. A run is over when the
// launcher has reaped every process of it and its cgroup is empty; where
// either is not so (the launcher had to be SIGKILLed), where there is no
// cgroup, and when the Sandbox goes, a helper with that uid SIGKILLs whatever
// is left of it (kill(-1)) and waits until the uid owns no process. The
// lease is held for the Sandbox's life (SandboxPool keeps Sandboxes, each
// submission with a fresh workspace). The run's cgroup is named after the uid
// ("r1-sandbox-uid<uid>"), so a group a crashed service left is found and
// removed by the next lease of that uid. When the service runs as an
// ordinary user, runs use that user's uid: RLIMIT_NPROC is set inside the
// sandbox by the wrapper shell (`ulimit -p`), which Linux >= 5.14 counts per
// user namespace, i.e. per sandbox (older kernels would count all of the
// user's processes); there is no per-uid sweep, the pid namespace and the
// cgroup end the process tree; cgroups need a delegated v2 group.
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
  // The run's own network namespace keeps its loopback device, and programs
  // may open AF_INET and AF_INET6 sockets on it: a program may serve and
  // connect to itself over 127.0.0.1, ::1 or "localhost" (a minimal /etc
  // with hosts and nsswitch.conf). The namespace has no other device and no
  // route, so nothing outside the run is reachable either way, the host's
  // own loopback included. false: sockets are AF_UNIX only (seccomp,
  // EAFNOSUPPORT) and there is no /etc. The reward service:
  // CodeRuleConfig.loopback_network.
  bool loopback_network = true;
  // Where cgroups are unavailable (cgroup.h says what they need), Create()
  // refuses with FAILED_PRECONDITION unless this is set; then runs are bound
  // by rlimits only (a run may hold up to max_processes x memory_bytes, plus
  // its tmpfs), seccomp denies shmget and memfd_create (memory no rlimit
  // counts), and CPU time of children nobody waited for is bound only by the
  // wall time. The reward service: reward::ScorerOptions::sandbox.
  bool allow_no_cgroup = false;
  // false: behave as where cgroups are unavailable (tests; hosts whose
  // cgroups the service must not touch, with allow_no_cgroup).
  bool use_cgroups = true;
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
  kMemoryLimit,  // the run's cgroup reached Limits::memory_bytes and the OOM killer acted
  kWallLimit,    // killed at Limits::wall_seconds or the caller's deadline
  kOutputLimit,  // killed for writing more than Limits::max_output_bytes
  kCancelled,    // killed because the caller's cancellation flag was set
};

struct RunResult {
  Termination termination = Termination::kExited;
  int exit_code = 0;  // kExited only
  int signal = 0;     // kSignaled (and kCpuLimit when a signal ended it)
  double wall_seconds = 0;
  // User + system CPU. With a cgroup: of every process of the run (the
  // sandbox's own helpers add a few ms), however it ended. Without: of the
  // program and the children it waited for; 0 when the sandbox was killed
  // from outside (wall, output, cancel) or the program killed the wrapper
  // shell that measures it (only without the cgroup's CPU accounting).
  double cpu_seconds = 0;
  // High-water mark of all memory the run held (its cgroup's peak); -1 when
  // not measured (no cgroup, or a v2 kernel without memory.peak).
  int64_t peak_memory_bytes = -1;
  std::string stdout_data;  // at most Limits::max_output_bytes
  std::string stderr_data;  // at most Limits::max_output_bytes
};

// A workspace (host folder seen as /box inside) plus, when root, a leased uid.
// Runs are sequential: one Sandbox serves one submission at a time; use one
// Sandbox per thread. Everything is removed and killed on destruction.
class Sandbox {
 public:
  static constexpr char kWorkspace[] = "/box";

  // FAILED_PRECONDITION when bwrap is missing or cgroups are unavailable
  // (unless options.allow_no_cgroup); RESOURCE_EXHAUSTED when every uid of
  // the range is leased; errors of creating the workspace otherwise.
  static absl::StatusOr<std::unique_ptr<Sandbox>> Create(const SandboxOptions& options);
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // Writes `name` (a plain file name, no '/') into the workspace, readable by
  // the sandbox; replaces an existing file.
  absl::Status WriteFile(absl::string_view name, absl::string_view contents);

  // Readies the sandbox for another submission: removes the workspace with
  // all that runs left in it and makes a fresh, empty one (a new folder). The
  // uid lease is kept: once Run has returned OK no process of the run is
  // left, so the next submission finds the uid as a new lease would
  // (SandboxPool keeps its sandboxes between calls this way).
  absl::Status ResetWorkspace();

  // Runs the request until it ends, its limits stop it, `deadline` passes or
  // `*cancelled` becomes true (checked about every 20 ms). Whatever the
  // program does is a RunResult; a non-OK status is an infrastructure fault
  // (fork failed, bwrap could not set up the sandbox).
  absl::StatusOr<RunResult> Run(const RunRequest& request, absl::Time deadline,
                                const std::atomic<bool>* cancelled = nullptr);

  // The uid the sandbox runs as: a leased one when root, else the caller's.
  int uid() const { return uid_; }
  // Whether runs get a cgroup (false only with allow_no_cgroup).
  bool has_cgroup() const { return has_cgroup_; }
  // The name of this sandbox's run cgroups (a folder of the service's group
  // in each hierarchy, see cgroup.h); one run at a time uses it.
  const std::string& cgroup_name() const { return cgroup_name_; }
  const std::string& workspace_dir() const { return workspace_dir_; }
  // The host folder every run sees as its read-only root (see above).
  const std::string& root_dir() const { return root_dir_; }

 private:
  Sandbox() = default;
  // A fresh, empty workspace folder owned by the sandbox uid.
  absl::Status MakeWorkspace();
  // The folder bound read-only as every run's root (see above).
  absl::Status MakeRoot();

  SandboxOptions options_;
  bool per_run_uid_ = false;  // true when root: uid_ is leased
  int uid_ = -1;
  int lease_fd_ = -1;  // flock'ed lock file of uid_
  std::string workspace_dir_;
  std::string root_dir_;  // the prepared root, root-owned (MakeRoot)
  std::string seccomp_program_;  // BPF bytes for bwrap --seccomp, or empty
  bool has_cgroup_ = false;
  std::string cgroup_name_;
};

// The lock file whose exclusive flock leases `uid` (root only). A process of
// `uid` while nobody holds the lock is a leftover; tests look for those.
std::string UidLockPath(const SandboxOptions& options, int uid);

// Runs `python -c "print('ok')"` in a sandbox: OK, or FAILED_PRECONDITION
// saying what is missing or broken (naming options.bwrap_path and `python`).
absl::Status CheckSandbox(const SandboxOptions& options, const std::string& python);

}  // namespace r1::sandbox

#endif  // R1_SANDBOX_SANDBOX_H_
