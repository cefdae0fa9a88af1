#include "sandbox/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "sandbox/cgroup.h"
#include "sandbox/seccomp_filter.h"

namespace r1::sandbox {
namespace {

// File descriptors as the bwrap process sees them.
constexpr int kSeccompFd = 3;  // --seccomp
constexpr int kStatusFd = 4;   // --json-status-fd
constexpr int kStartedFd = 5;  // the wrapper shell writes one byte here just before the program
constexpr int kTimesFd = 6;    // the wrapper shell's `times` once the program ended (no cgroup)
constexpr int kChildFds = 7;   // 0..6 above
// Our own processes inside the RLIMIT_NPROC count: the launcher (below),
// bwrap outside the pid namespace and its pid 1; plus the wrapper shell where
// it stays to measure the program's CPU time (Sandbox::Run).
constexpr int kHelperProcesses = 3;
// After SIGTERM the launcher has this long to end the sandbox before it gets
// SIGKILL itself.
constexpr absl::Duration kTermGrace = absl::Seconds(2);
// How long to keep reading the pipes after the sandbox ended; they close as
// soon as its pid namespace is gone, so this only bounds a broken kernel.
constexpr absl::Duration kDrainTime = absl::Seconds(2);
constexpr absl::Duration kPollInterval = absl::Milliseconds(20);
// How often the run's cgroup is asked for its CPU time and OOM kills.
constexpr absl::Duration kCgroupCheckInterval = absl::Milliseconds(10);
// The files of the sandbox's /proc: global, pid-free and mount-free (the
// host's procfs shows the same text as a fresh one would).
constexpr const char* kProcFiles[] = {"cpuinfo", "meminfo", "stat", "uptime", "loadavg"};
// Size of the tmpfs holding them (mount points only).
constexpr int kProcTmpfsBytes = 64 << 10;
// The /etc of a run with loopback networking: "localhost" (and the hostname)
// resolve to the run's own loopback addresses, from this file alone.
constexpr char kHostname[] = "sandbox";
constexpr char kEtcHosts[] =
    "127.0.0.1\tlocalhost sandbox\n"
    "::1\tlocalhost ip6-localhost ip6-loopback sandbox\n";
constexpr char kEtcNsswitch[] = "hosts: files\n";

absl::Status ErrnoStatus(absl::string_view what) {
  const int err = errno;
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
}

// Owns a file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~UniqueFd() { Reset(); }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

// All of `contents` to `fd` (retrying short writes and EINTR); errors name `path`.
absl::Status WriteAll(int fd, absl::string_view contents, const std::string& path) {
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoStatus(absl::StrCat("writing ", path));
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Writes `contents` to `path` (replacing it, never through a symlink),
// readable by everyone whatever the umask.
absl::Status WriteHostFile(const std::string& path, absl::string_view contents) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (fd.get() < 0 || fchmod(fd.get(), 0644) != 0) {
    return ErrnoStatus(absl::StrCat("writing ", path));
  }
  return WriteAll(fd.get(), contents, path);
}

absl::Status MakePipe(UniqueFd* read_end, UniqueFd* write_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe2");
  read_end->Reset(fds[0]);
  write_end->Reset(fds[1]);
  return absl::OkStatus();
}

// A sealed, read-only memory file holding `data` (the program's stdin, or the
// seccomp program for bwrap): no disk, no pipe to feed while watching the run.
absl::StatusOr<UniqueFd> SealedMemoryFile(absl::string_view name, absl::string_view data) {
  UniqueFd fd(memfd_create(std::string(name).c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (fd.get() < 0) return ErrnoStatus("memfd_create");
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ErrnoStatus("writing a memfd");
    done += n;
  }
  if (fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    return ErrnoStatus("sealing a memfd");
  }
  if (lseek(fd.get(), 0, SEEK_SET) != 0) return ErrnoStatus("lseek");
  return fd;
}

// Kills every process of `uid` (root only) and waits until they are gone. A
// child takes the uid and sends kill(-1, SIGKILL), which reaches exactly the
// processes that uid may signal: its own, in any pid namespace. Whether any
// are left (dying processes and zombies still count against the next run's
// RLIMIT_NPROC) is asked of that very counter: with RLIMIT_NPROC 2, the child
// can fork only while it is the uid's sole process. kill(-1) itself cannot
// tell: it succeeds whenever any process exists, permitted or not. Gives up
// after about 5 s.
void KillAllOfUid(int uid) {
  const pid_t pid = fork();
  if (pid < 0) return;
  if (pid == 0) {
    // Other threads' pipes must not stay open in here.
    if (syscall(SYS_close_range, 0, ~0U, 0) != 0) {
      for (int fd = 0; fd < 65536; ++fd) close(fd);
    }
    if (syscall(SYS_setgroups, 0, nullptr) != 0 ||
        syscall(SYS_setresgid, uid, uid, uid) != 0 ||
        syscall(SYS_setresuid, uid, uid, uid) != 0) {
      _exit(2);
    }
    const rlimit two = {2, 2};
    if (setrlimit(RLIMIT_NPROC, &two) != 0) _exit(2);
    for (int round = 0; round < 5000; ++round) {
      kill(-1, SIGKILL);
      // A raw fork: glibc's fork() would run atfork handlers, unsafe in this
      // child of a threaded process.
      const long probe = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
      if (probe == 0) _exit(0);
      if (probe > 0) {
        while (waitpid(static_cast<pid_t>(probe), nullptr, 0) < 0 && errno == EINTR) {
        }
        _exit(0);
      }
      if (errno != EAGAIN) _exit(3);
      const timespec pause = {0, 1000000};  // 1 ms
      nanosleep(&pause, nullptr);
    }
    _exit(1);
  }
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

bool IsKnownId(int id) {
  char buffer[4096];
  passwd pw;
  passwd* pw_result = nullptr;
  getpwuid_r(id, &pw, buffer, sizeof(buffer), &pw_result);
  if (pw_result != nullptr) return true;
  group gr;
  group* gr_result = nullptr;
  getgrgid_r(id, &gr, buffer, sizeof(buffer), &gr_result);
  return gr_result != nullptr;
}

// Leases a uid of the range: an exclusive flock on `<lock_dir>/r1-sandbox-uid-<uid>.lock`
// held as long as the returned descriptor is open. flock locks belong to open
// file descriptions, so this separates threads of one process as well as
// processes.
absl::StatusOr<std::pair<int, UniqueFd>> LeaseUid(const SandboxOptions& options) {
  for (int i = 0; i < options.uid_count; ++i) {
    const int uid = options.uid_base + i;
    const std::string path = UidLockPath(options, uid);
    UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (fd.get() < 0) continue;
    if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;
    if (IsKnownId(uid)) continue;
    // Leftovers of a holder that crashed would count against RLIMIT_NPROC.
    KillAllOfUid(uid);
    return std::make_pair(uid, std::move(fd));
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "all sandbox uids ", options.uid_base, "..", options.uid_base + options.uid_count - 1,
      " are in use (locks like ", UidLockPath(options, options.uid_base), ")"));
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? absl::StrCat("SIG", abbrev) : absl::StrCat("signal ", sig);
}

// Everything the forked child needs, prepared before fork(): after fork() in a
// threaded process only async-signal-safe calls are allowed.
struct ChildPlan {
  std::vector<char*> argv;
  std::vector<char*> envp;
  int fds[kChildFds] = {-1, -1, -1, -1, -1, -1, -1};  // sources for fds 0..6
  std::vector<int> cgroup_fds;             // join files of the run's groups (cgroup.h)
  int uid = -1;                            // >= 0: switch to this uid/gid
  pid_t parent = 0;
  struct Limit {
    int resource;
    rlim_t soft, hard;
  };
  std::vector<Limit> limits;
};

[[noreturn]] void ChildFail(const char* what, int fd = STDERR_FILENO) {
  const int err = errno;
  const char* reason = strerrordesc_np(err);
  // Only write(2) here: async-signal-safe.
  (void)!write(fd, "r1 sandbox launcher: ", 21);
  (void)!write(fd, what, strlen(what));
  (void)!write(fd, ": ", 2);
  if (reason != nullptr) (void)!write(fd, reason, strlen(reason));
  (void)!write(fd, "\n", 1);
  _exit(127);
}

// The launcher's record of bwrap's pid and of a SIGTERM, for its handler.
volatile sig_atomic_t launched_bwrap_pid = 0;
volatile sig_atomic_t launcher_terminating = 0;

void KillLaunchedBwrap(int) {
  launcher_terminating = 1;
  const pid_t pid = launched_bwrap_pid;
  if (pid > 0) kill(pid, SIGKILL);
}

// SIGKILLs every child of the launcher (whose pids cannot be reused while it
// has not reaped them). When bwrap dies before its pid 1 has finished setting
// up, that pid 1 has no --die-with-parent yet and would live on; as an orphan
// it is the launcher's child, and killing it ends its pid namespace. With a
// per-run uid, kill(-1) as that uid also reaches anything else of the run.
void KillLauncherChildren(pid_t self, bool own_uid) {
  if (own_uid) kill(-1, SIGKILL);
  // "/proc/<self>/task/<self>/children", built without allocating.
  char digits[16];
  int n = 0;
  for (pid_t v = self; v > 0 && n < 15; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
  char path[64] = "/proc/";
  size_t len = strlen(path);
  for (int round = 0; round < 2; ++round) {
    for (int i = n - 1; i >= 0; --i) path[len++] = digits[i];
    memcpy(path + len, round == 0 ? "/task/" : "/children", round == 0 ? 7 : 10);
    len += round == 0 ? 6 : 9;
  }
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buffer[4096];
  const ssize_t got = read(fd, buffer, sizeof(buffer) - 1);
  close(fd);
  if (got <= 0) return;
  pid_t pid = 0;
  for (ssize_t i = 0; i <= got; ++i) {
    if (i < got && buffer[i] >= '0' && buffer[i] <= '9') {
      pid = pid * 10 + (buffer[i] - '0');
    } else {
      if (pid > 0) kill(pid, SIGKILL);
      pid = 0;
    }
  }
}

// The forked child: the "launcher". It takes the sandbox uid and limits, forks
// bwrap and then reaps every process that ends up its child until none is
// left, exiting with bwrap's status. As a child subreaper it inherits bwrap's
// pid 1 when bwrap exits first (it does not wait for it): without this the
// orphan would be reaped by the host's init, which inside a container may be
// slow or never (a zombie still counts against RLIMIT_NPROC). SIGTERM makes it
// SIGKILL bwrap, which ends the whole sandbox through --die-with-parent.
[[noreturn]] void RunLauncher(const ChildPlan& plan) {
  // Into the run's cgroup first, while still root: bwrap and everything
  // under it start there. Failing is the service's problem: the message goes
  // to the run's stderr pipe, and without the wrapper's "setup done" byte the
  // parent reports an infrastructure fault.
  for (int fd : plan.cgroup_fds) {
    if (write(fd, "0", 1) != 1) ChildFail("joining the run's cgroup", plan.fds[2]);
  }
  setsid();
  // Move every source above the targets first so no dup2 clobbers another.
  int moved[kChildFds];
  for (int i = 0; i < kChildFds; ++i) {
    moved[i] = plan.fds[i] < 0 ? -1 : fcntl(plan.fds[i], F_DUPFD, 16);
    if (plan.fds[i] >= 0 && moved[i] < 0) ChildFail("fcntl(F_DUPFD)");
  }
  for (int i = 0; i < kChildFds; ++i) {
    if (moved[i] >= 0 && dup2(moved[i], i) < 0) ChildFail("dup2");
  }
  // Nothing else of this process reaches bwrap (which would pass it into the
  // sandbox): other threads' descriptors included.
  if (syscall(SYS_close_range, kChildFds, ~0U, 0) != 0) {
    for (int fd = kChildFds; fd < 65536; ++fd) close(fd);
  }
  for (int i = 0; i < kChildFds; ++i) {
    if (moved[i] < 0 && i >= 3) close(i);
  }
  // Ignored signals (gRPC ignores SIGPIPE) and the blocked mask survive exec.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  sigset_t none, term;
  sigemptyset(&none);
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  // SIGTERM waits until bwrap's pid is known.
  sigprocmask(SIG_SETMASK, &term, nullptr);

  if (plan.uid >= 0) {
    // Raw syscalls: glibc's wrappers coordinate all threads of the process,
    // which this child of a threaded process must not rely on.
    if (syscall(SYS_setgroups, 0, nullptr) != 0) ChildFail("setgroups");
    if (syscall(SYS_setresgid, plan.uid, plan.uid, plan.uid) != 0) ChildFail("setresgid");
    if (syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0) ChildFail("setresuid");
  }
  // After the uid change, which clears it. Dies with the thread that forked,
  // i.e. with the Run() call, even if the service crashes.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail("prctl(PR_SET_PDEATHSIG)");
  if (getppid() != plan.parent) _exit(127);
  for (const ChildPlan::Limit& limit : plan.limits) {
    rlimit value{limit.soft, limit.hard};
    if (setrlimit(limit.resource, &value) != 0) ChildFail("setrlimit");
  }
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) ChildFail("prctl(PR_SET_CHILD_SUBREAPER)");
  const pid_t launcher = static_cast<pid_t>(syscall(SYS_getpid));
  // vfork: no copy of the service's address space (which this process still
  // holds) for a child that only executes bwrap, and no atfork handlers. The
  // child runs on this stack until execve, so it only makes raw system calls
  // and exits with _exit.
  const pid_t bwrap = vfork();
  if (bwrap < 0) ChildFail("vfork for bwrap");
  if (bwrap == 0) {
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail("prctl(PR_SET_PDEATHSIG)");
    if (getppid() != launcher) _exit(127);
    execve(plan.argv[0], plan.argv.data(), plan.envp.data());
    ChildFail("execve bwrap");
  }
  launched_bwrap_pid = static_cast<pid_t>(bwrap);
  struct sigaction on_term;
  memset(&on_term, 0, sizeof(on_term));
  on_term.sa_handler = KillLaunchedBwrap;
  sigaction(SIGTERM, &on_term, nullptr);
  // The pipes must close when the sandbox ends, not when the launcher does.
  if (syscall(SYS_close_range, 0, ~0U, 0) != 0) {
    for (int fd = 0; fd < 65536; ++fd) close(fd);
  }
  sigprocmask(SIG_SETMASK, &none, nullptr);
  int code = 127;
  while (true) {
    const bool terminating = launcher_terminating != 0;
    if (terminating) KillLauncherChildren(launcher, plan.uid >= 0);
    int status = 0;
    const pid_t reaped = waitpid(-1, &status, terminating ? WNOHANG : 0);
    if (reaped == bwrap) {
      code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    } else if (reaped == 0) {
      const timespec pause = {0, 1000000};  // 1 ms
      nanosleep(&pause, nullptr);
    } else if (reaped < 0 && errno != EINTR) {
      break;  // ECHILD: nothing left
    }
  }
  _exit(code);
}

// Tells apart the cgroups of one process's sandboxes when there is no leased
// uid to name them by.
int64_t NextSandboxSerial() {
  static std::atomic<int64_t> serial{0};
  return serial.fetch_add(1);
}

}  // namespace

std::string UidLockPath(const SandboxOptions& options, int uid) {
  std::error_code ec;
  const std::string& dir =
      std::filesystem::is_directory(options.lock_dir, ec) ? options.lock_dir : options.work_root;
  return absl::StrCat(dir, "/r1-sandbox-uid-", uid, ".lock");
}

absl::StatusOr<std::unique_ptr<Sandbox>> Sandbox::Create(const SandboxOptions& options) {
  if (access(options.bwrap_path.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("bubblewrap is not executable at ", options.bwrap_path, " (",
                     std::strerror(errno), "); install Debian's bubblewrap package"));
  }
  auto box = std::unique_ptr<Sandbox>(new Sandbox());
  box->options_ = options;
  box->per_run_uid_ = geteuid() == 0;
  if (box->per_run_uid_) {
    if (options.uid_base <= 0 || options.uid_count <= 0) {
      return absl::InvalidArgumentError("SandboxOptions.uid_base and uid_count must be positive");
    }
    R1_ASSIGN_OR_RETURN(auto lease, LeaseUid(options));
    box->uid_ = lease.first;
    box->lease_fd_ = lease.second.Release();
  } else {
    box->uid_ = static_cast<int>(getuid());
  }
  // Only looked at when wanted: on v2 detecting may move this process.
  box->has_cgroup_ =
      options.use_cgroups && HostCgroupLayout().version != CgroupVersion::kNone;
  if (!box->has_cgroup_ && !options.allow_no_cgroup) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the code sandbox needs a cgroup per run to bound a program's memory (",
        options.use_cgroups ? HostCgroupLayout().why_unavailable
                            : "SandboxOptions.use_cgroups is false",
        "); run as root on a cgroup v1 host or in a delegated cgroup v2 group, or allow runs "
        "without one (SandboxOptions.allow_no_cgroup)"));
  }
  box->cgroup_name_ = box->per_run_uid_
                          ? absl::StrCat("r1-sandbox-uid", box->uid_)
                          : absl::StrCat("r1-sandbox-", getpid(), "-", NextSandboxSerial());
  if (options.seccomp) {
    R1_ASSIGN_OR_RETURN(box->seccomp_program_,
                        SeccompProgram(!box->has_cgroup_, options.loopback_network));
  }
  R1_RETURN_IF_ERROR(box->MakeRoot());
  R1_RETURN_IF_ERROR(box->MakeWorkspace());
  return box;
}

absl::Status Sandbox::MakeRoot() {
  std::string dir_template = absl::StrCat(options_.work_root, "/r1-sandbox-root-XXXXXX");
  if (mkdtemp(dir_template.data()) == nullptr) {
    return ErrnoStatus(absl::StrCat("creating a sandbox root under ", options_.work_root));
  }
  root_dir_ = dir_template;
  // The service's (root's) alone; the sandbox uid may only look (bwrap,
  // which runs as that uid, opens it to bind it).
  if (chmod(root_dir_.c_str(), 0755) != 0) return ErrnoStatus(absl::StrCat("chmod ", root_dir_));
  std::vector<const char*> dirs = {"usr", "dev", "tmp", "proc", "box"};
  if (options_.loopback_network) dirs.push_back("etc");
  for (const char* name : dirs) {
    const std::string path = absl::StrCat(root_dir_, "/", name);
    if (mkdir(path.c_str(), 0755) != 0 || chmod(path.c_str(), 0755) != 0) {
      return ErrnoStatus(absl::StrCat("creating ", path));
    }
  }
  // The merged-usr links.
  for (const char* name : {"bin", "lib", "lib64", "sbin"}) {
    const std::string path = absl::StrCat(root_dir_, "/", name);
    if (symlink(absl::StrCat("usr/", name).c_str(), path.c_str()) != 0) {
      return ErrnoStatus(absl::StrCat("creating ", path));
    }
  }
  if (options_.loopback_network) {
    R1_RETURN_IF_ERROR(WriteHostFile(absl::StrCat(root_dir_, "/etc/hosts"), kEtcHosts));
    R1_RETURN_IF_ERROR(
        WriteHostFile(absl::StrCat(root_dir_, "/etc/nsswitch.conf"), kEtcNsswitch));
  }
  return absl::OkStatus();
}

absl::Status Sandbox::MakeWorkspace() {
  std::string dir_template = absl::StrCat(options_.work_root, "/r1-sandbox-XXXXXX");
  if (mkdtemp(dir_template.data()) == nullptr) {
    return ErrnoStatus(absl::StrCat("creating a workspace under ", options_.work_root));
  }
  workspace_dir_ = dir_template;
  if (per_run_uid_ && chown(dir_template.c_str(), uid_, uid_) != 0) {
    return ErrnoStatus(absl::StrCat("chown ", dir_template));
  }
  return absl::OkStatus();
}

absl::Status Sandbox::ResetWorkspace() {
  if (!workspace_dir_.empty()) {
    // remove_all does not follow symlinks the sandbox may have left.
    std::error_code ec;
    std::filesystem::remove_all(workspace_dir_, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("removing the workspace ", workspace_dir_, ": ", ec.message()));
    }
    workspace_dir_.clear();
  }
  return MakeWorkspace();
}

Sandbox::~Sandbox() {
  if (per_run_uid_ && uid_ >= 0) KillAllOfUid(uid_);
  // remove_all does not follow symlinks the sandbox may have left.
  std::error_code ec;
  if (!workspace_dir_.empty()) std::filesystem::remove_all(workspace_dir_, ec);
  if (!root_dir_.empty()) std::filesystem::remove_all(root_dir_, ec);
  if (lease_fd_ >= 0) close(lease_fd_);
}

absl::Status Sandbox::WriteFile(absl::string_view name, absl::string_view contents) {
  if (name.empty() || absl::StrContains(name, '/') || name == "." || name == "..") {
    return absl::InvalidArgumentError(absl::StrCat("bad workspace file name '", name, "'"));
  }
  const std::string path = absl::StrCat(workspace_dir_, "/", name);
  // O_NOFOLLOW and unlink first: a compile step may have left a symlink here.
  unlink(path.c_str());
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (fd.get() < 0) return ErrnoStatus(absl::StrCat("creating ", path));
  return WriteAll(fd.get(), contents, path);
}

absl::StatusOr<RunResult> Sandbox::Run(const RunRequest& request, absl::Time deadline,
                                       const std::atomic<bool>* cancelled) {
  R1_RETURN_IF_ERROR(ValidateLimits(request.limits));
  if (request.argv.empty() || request.argv[0].empty() || request.argv[0][0] != '/') {
    return absl::InvalidArgumentError("RunRequest.argv[0] must be an absolute path");
  }
  const Limits& limits = request.limits;

  // The wrapper shell inside the sandbox: sets RLIMIT_NPROC when it cannot be
  // set from outside (not root), reports "setup done" on fd 5, then runs the
  // program (which inherits neither fd 5 nor 6). Without the fd 5 byte any
  // failure is bwrap's (an infrastructure fault); after it everything is the
  // program's. Where the run's cgroup counts CPU time the shell becomes the
  // program (exec: one process less to start, wait for and count). Otherwise
  // it stays, runs the program as its child, writes `times` (CPU of the
  // program and the children it waited for) on fd 6 and exits with the
  // program's status. Either way bwrap exits with the program's exit code, or
  // 128 + the signal that killed it.
  const bool shell_measures_cpu = !has_cgroup_ || HostCgroupLayout().cpu_dir.empty();
  const int helpers = kHelperProcesses + (shell_measures_cpu ? 1 : 0);
  std::string wrapper;
  if (!per_run_uid_) {
    absl::StrAppend(&wrapper, "ulimit -p ", limits.max_processes + helpers, " && ");
  }
  absl::StrAppend(&wrapper, "printf x >&5 && exec 5>&- ",
                  shell_measures_cpu ? "&& { \"$@\" 6>&-; s=$?; times >&6; exit $s; }"
                                     : "6>&- \"$@\"");

  std::vector<std::string> args = {
      options_.bwrap_path,
      "--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
      "--unshare-cgroup-try", "--disable-userns", "--die-with-parent", "--new-session",
      "--cap-drop", "ALL", "--hostname", kHostname,
      // The prepared root (sandbox.h), read-only: mount points, the merged-usr
      // links, /etc with loopback networking. One bind instead of a tmpfs,
      // symlinks, files and a remount on every run.
      "--ro-bind", root_dir_, "/",
      "--ro-bind", "/usr", "/usr",
      "--dev", "/dev",
      "--size", absl::StrCat(limits.max_file_bytes), "--tmpfs", "/tmp",
      "--size", absl::StrCat(limits.max_file_bytes), "--tmpfs", "/dev/shm",
      request.writable_workspace ? "--bind" : "--ro-bind", workspace_dir_, kWorkspace,
      "--chdir", kWorkspace,
      "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp",
      "--setenv", "TMPDIR", "/tmp", "--setenv", "LANG", "C.UTF-8",
      "--json-status-fd", absl::StrCat(kStatusFd),
      // No procfs (sandbox.h): a few of the host's pid-free files.
      "--size", absl::StrCat(kProcTmpfsBytes), "--tmpfs", "/proc"};
  for (const char* file : kProcFiles) {
    const std::string path = absl::StrCat("/proc/", file);
    args.insert(args.end(), {"--ro-bind-try", path, path});
  }
  // Last: /proc and /dev themselves (not the mounts on them) become
  // read-only; otherwise they are tmpfs the program could fill.
  args.insert(args.end(), {"--remount-ro", "/proc", "--remount-ro", "/dev"});
  if (!seccomp_program_.empty()) {
    args.insert(args.end(), {"--seccomp", absl::StrCat(kSeccompFd)});
  }
  args.insert(args.end(), {"--", "/bin/sh", "-c", wrapper, "sh"});
  args.insert(args.end(), request.argv.begin(), request.argv.end());

  R1_ASSIGN_OR_RETURN(UniqueFd stdin_fd, SealedMemoryFile("r1-stdin", request.stdin_data));
  UniqueFd seccomp_fd;
  if (!seccomp_program_.empty()) {
    R1_ASSIGN_OR_RETURN(seccomp_fd, SealedMemoryFile("r1-seccomp", seccomp_program_));
  }
  UniqueFd out_read, out_write, err_read, err_write, status_read, status_write, started_read,
      started_write, times_read, times_write;
  R1_RETURN_IF_ERROR(MakePipe(&out_read, &out_write));
  R1_RETURN_IF_ERROR(MakePipe(&err_read, &err_write));
  R1_RETURN_IF_ERROR(MakePipe(&status_read, &status_write));
  R1_RETURN_IF_ERROR(MakePipe(&started_read, &started_write));
  R1_RETURN_IF_ERROR(MakePipe(&times_read, &times_write));

  ChildPlan plan;
  for (std::string& arg : args) plan.argv.push_back(arg.data());
  plan.argv.push_back(nullptr);
  // bwrap itself gets no host environment either: /proc/1/environ inside the
  // sandbox is its environment.
  std::string env_path = "PATH=/usr/bin:/bin";
  plan.envp = {env_path.data(), nullptr};
  plan.fds[0] = stdin_fd.get();
  plan.fds[1] = out_write.get();
  plan.fds[2] = err_write.get();
  plan.fds[kSeccompFd] = seccomp_fd.get();
  plan.fds[kStatusFd] = status_write.get();
  plan.fds[kStartedFd] = started_write.get();
  plan.fds[kTimesFd] = times_write.get();
  plan.uid = per_run_uid_ ? uid_ : -1;
  plan.parent = getpid();
  // The run's cgroup; the launcher joins it before anything else.
  std::unique_ptr<RunCgroup> cgroup;
  if (has_cgroup_) {
    R1_ASSIGN_OR_RETURN(cgroup, RunCgroup::Create(HostCgroupLayout(), cgroup_name_,
                                                  limits.memory_bytes,
                                                  limits.max_processes + helpers));
    plan.cgroup_fds = cgroup->join_fds();
  }
  const rlim_t cpu = static_cast<rlim_t>(std::ceil(limits.cpu_seconds));
  plan.limits = {
      {RLIMIT_CPU, cpu, cpu + 1},
      {RLIMIT_AS, static_cast<rlim_t>(limits.memory_bytes),
       static_cast<rlim_t>(limits.memory_bytes)},
      {RLIMIT_NOFILE, static_cast<rlim_t>(limits.max_open_files),
       static_cast<rlim_t>(limits.max_open_files)},
      {RLIMIT_FSIZE, static_cast<rlim_t>(limits.max_file_bytes),
       static_cast<rlim_t>(limits.max_file_bytes)},
      {RLIMIT_CORE, 0, 0},
  };
  if (per_run_uid_) {
    // Counted per uid, and the uid is this sandbox's alone.
    const rlim_t nproc = limits.max_processes + helpers;
    plan.limits.push_back({RLIMIT_NPROC, nproc, nproc});
  }

  const absl::Time start = absl::Now();
  const pid_t pid = fork();
  if (pid < 0) return ErrnoStatus("fork");
  if (pid == 0) RunLauncher(plan);

  out_write.Reset();
  err_write.Reset();
  status_write.Reset();
  started_write.Reset();
  times_write.Reset();
  stdin_fd.Reset();
  seccomp_fd.Reset();
  fcntl(out_read.get(), F_SETFL, O_NONBLOCK);
  fcntl(err_read.get(), F_SETFL, O_NONBLOCK);
  fcntl(status_read.get(), F_SETFL, O_NONBLOCK);
  fcntl(started_read.get(), F_SETFL, O_NONBLOCK);
  fcntl(times_read.get(), F_SETFL, O_NONBLOCK);
  // Wakes poll() when the child exits; without it (old kernels) poll times out.
  UniqueFd pid_fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));

  RunResult result;
  const absl::Time wall_end =
      std::min(deadline, start + absl::Seconds(limits.wall_seconds));
  std::optional<Termination> killed_for;
  absl::Time term_time;
  bool sent_kill = false;
  auto kill_tree = [&](Termination why) {
    if (killed_for.has_value()) return;
    killed_for = why;
    term_time = absl::Now();
    // The launcher SIGKILLs bwrap; bwrap's pid 1 follows (--die-with-parent),
    // and the pid namespace dies with its pid 1.
    kill(pid, SIGTERM);
  };
  bool exited = false;
  int wait_status = 0;
  absl::Time exit_time;
  absl::Time next_cgroup_check = start;
  bool out_open = true, err_open = true;
  std::string* sinks[2] = {&result.stdout_data, &result.stderr_data};
  char buffer[65536];

  while (true) {
    const absl::Time now = absl::Now();
    if (!exited) {
      if (cancelled != nullptr && cancelled->load(std::memory_order_relaxed)) {
        kill_tree(Termination::kCancelled);
      } else if (now >= wall_end) {
        kill_tree(Termination::kWallLimit);
      } else if (cgroup != nullptr && !killed_for.has_value() && now >= next_cgroup_check) {
        // One OOM kill ends the run (v2 does so itself: memory.oom.group);
        // CPU time counts every process of the run, waited for or not.
        next_cgroup_check = now + kCgroupCheckInterval;
        if (cgroup->OomKills() > 0) {
          kill_tree(Termination::kMemoryLimit);
        } else if (cgroup->CpuSeconds() > limits.cpu_seconds) {
          kill_tree(Termination::kCpuLimit);
        }
      }
      if (killed_for.has_value() && !sent_kill && now >= term_time + kTermGrace) {
        sent_kill = true;
        kill(pid, SIGKILL);
      }
    } else if ((!out_open && !err_open) || now >= exit_time + kDrainTime) {
      break;
    }
    pollfd fds[3];
    int n = 0;
    int out_index = -1, err_index = -1, pid_index = -1;
    if (out_open) {
      out_index = n;
      fds[n++] = {out_read.get(), POLLIN, 0};
    }
    if (err_open) {
      err_index = n;
      fds[n++] = {err_read.get(), POLLIN, 0};
    }
    if (!exited && pid_fd.get() >= 0) {
      pid_index = n;
      fds[n++] = {pid_fd.get(), POLLIN, 0};
    }
    absl::Duration wait = kPollInterval;
    if (!exited && !killed_for.has_value()) {
      wait = std::min(wait, std::max(wall_end - now, absl::ZeroDuration()));
      if (cgroup != nullptr) wait = std::min(wait, kCgroupCheckInterval);
    }
    const int ready = poll(fds, n, static_cast<int>(absl::ToInt64Milliseconds(wait)) + 1);
    if (ready < 0 && errno != EINTR) {
      const absl::Status error = ErrnoStatus("poll");
      kill(pid, SIGKILL);
      while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      return error;
    }
    for (int stream = 0; stream < 2; ++stream) {
      const int index = stream == 0 ? out_index : err_index;
      if (index < 0 || fds[index].revents == 0) continue;
      const int fd = stream == 0 ? out_read.get() : err_read.get();
      while (true) {
        const ssize_t got = read(fd, buffer, sizeof(buffer));
        if (got > 0) {
          std::string& sink = *sinks[stream];
          const size_t room = static_cast<size_t>(limits.max_output_bytes) - sink.size();
          sink.append(buffer, std::min(room, static_cast<size_t>(got)));
          if (static_cast<size_t>(got) > room) kill_tree(Termination::kOutputLimit);
          continue;
        }
        if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          (stream == 0 ? out_open : err_open) = false;
        }
        if (got < 0 && errno == EINTR) continue;
        break;
      }
    }
    if (!exited && (pid_fd.get() < 0 || (pid_index >= 0 && fds[pid_index].revents != 0))) {
      const pid_t waited = waitpid(pid, &wait_status, WNOHANG);
      if (waited == pid) {
        exited = true;
        exit_time = absl::Now();
      }
    }
  }
  result.wall_seconds = absl::ToDoubleSeconds(exit_time - start);
  // The launcher exits on its own only once waitpid() told it that no child
  // is left, and every process of the run ends up its child (it is their
  // subreaper; inside, the pid namespace's init reaps, and that init dies
  // with the namespace's last process). So when it exited, every process of
  // the run has been reaped: none is left to kill and none still counts
  // against the uid's RLIMIT_NPROC. The run's cgroup checks that a second
  // way; where either check fails, or without a cgroup to check, every
  // process of the uid is killed as well (and waited for).
  bool leftovers = !WIFEXITED(wait_status);
  CgroupUsage usage;
  absl::Status removed;
  if (cgroup != nullptr) {
    if (!cgroup->Empty()) leftovers = true;
    cgroup->KillAll();
    usage = cgroup->Usage();
    removed = cgroup->Remove();
    result.peak_memory_bytes = usage.peak_memory_bytes;
  }
  if (per_run_uid_ && (leftovers || cgroup == nullptr || !removed.ok())) KillAllOfUid(uid_);
  R1_RETURN_IF_ERROR(removed);
  {
    // `times` of dash: "0m0.001s 0m0.000s\n0m1.230s 0m0.010s\n", the shell's
    // user and system time, then its children's.
    const ssize_t got = read(times_read.get(), buffer, sizeof(buffer) - 1);
    int minutes[4];
    double seconds[4];
    if (got > 0) {
      buffer[got] = '\0';
      if (sscanf(buffer, "%dm%lfs %dm%lfs %dm%lfs %dm%lfs", &minutes[0], &seconds[0], &minutes[1],
                 &seconds[1], &minutes[2], &seconds[2], &minutes[3], &seconds[3]) == 8) {
        result.cpu_seconds = 60.0 * (minutes[2] + minutes[3]) + seconds[2] + seconds[3];
      }
    }
  }
  if (usage.cpu_seconds >= 0) result.cpu_seconds = usage.cpu_seconds;

  char started = 0;
  const bool setup_done = read(started_read.get(), &started, 1) == 1;
  if (!setup_done && !killed_for.has_value() && usage.oom_kills == 0) {
    std::string status_json;
    const ssize_t got = read(status_read.get(), buffer, sizeof(buffer));
    if (got > 0) status_json.assign(buffer, got);
    return absl::InternalError(absl::StrCat(
        "the sandbox did not start (", options_.bwrap_path, "): ",
        result.stderr_data.substr(0, 2000), status_json.empty() ? "" : " status: ", status_json));
  }

  // The launcher exits with bwrap's status, which is the program's exit code
  // or 128 + the signal that killed it (the wrapper shell's, or bwrap's when
  // the shell became the program).
  if (WIFSIGNALED(wait_status)) {
    result.signal = WTERMSIG(wait_status);
  } else {
    const int code = WEXITSTATUS(wait_status);
    if (code > 128 && code < 128 + NSIG) {
      result.signal = code - 128;
    } else {
      result.exit_code = code;
    }
  }
  if (killed_for == Termination::kCancelled) {
    result.termination = Termination::kCancelled;
  } else if (usage.oom_kills > 0) {
    // Before the other reasons: a parent waiting for a child the OOM killer
    // took runs into the wall limit, but memory is why.
    result.termination = Termination::kMemoryLimit;
  } else if (killed_for.has_value()) {
    result.termination = *killed_for;
  } else if (result.signal == SIGXCPU || result.cpu_seconds >= limits.cpu_seconds) {
    result.termination = Termination::kCpuLimit;
  } else if (result.signal != 0) {
    result.termination = Termination::kSignaled;
  } else {
    result.termination = Termination::kExited;
  }
  return result;
}

absl::Status CheckSandbox(const SandboxOptions& options, const std::string& python) {
  if (access(python.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("python is not executable at ", python, ": ", std::strerror(errno)));
  }
  auto box = Sandbox::Create(options);
  if (!box.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("code sandbox unusable: ", box.status().message()));
  }
  RunRequest request;
  request.argv = {python, "-c", "print('ok')"};
  request.limits.cpu_seconds = 10;
  request.limits.wall_seconds = 20;
  auto run = (*box)->Run(request, absl::InfiniteFuture());
  if (!run.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "code sandbox unusable: ", run.status().message(),
        " (bubblewrap needs unprivileged user namespaces: sysctl user.max_user_namespaces > 0, "
        "and kernel.unprivileged_userns_clone=1 where it exists)"));
  }
  if (run->termination != Termination::kExited || run->exit_code != 0 ||
      run->stdout_data != "ok\n") {
    return absl::FailedPreconditionError(absl::StrCat(
        "code sandbox unusable: ", python, " -c \"print('ok')\" under ", options.bwrap_path,
        " gave exit code ", run->exit_code, " signal ", run->signal, ", stdout '",
        run->stdout_data.substr(0, 200), "', stderr '", run->stderr_data.substr(0, 1000), "'"));
  }
  return absl::OkStatus();
}

}  // namespace r1::sandbox
