#include "sandbox/seccomp_filter.h"

#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <initializer_list>

#include "absl/strings/str_cat.h"

namespace r1::sandbox {
namespace {

// Denied with EPERM. Names, not SCMP_SYS(), so a syscall unknown to this
// libseccomp is skipped instead of breaking the build.
constexpr const char* kDenied[] = {
    "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount", "umount2",
    "pivot_root", "chroot", "mount_setattr", "move_mount", "open_tree", "fsopen",
    "fsconfig", "fsmount", "fspick", "kexec_load", "kexec_file_load", "init_module",
    "finit_module", "delete_module", "reboot", "swapon", "swapoff", "bpf",
    "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "unshare",
    "setns", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "name_to_handle_at", "open_by_handle_at", "settimeofday", "clock_settime",
    "clock_adjtime", "adjtimex", "syslog", "acct", "quotactl", "iopl", "ioperm",
    "personality", "lookup_dcookie", "fanotify_init", "vhangup", "uselib", "nfsservctl",
};

constexpr uint64_t kNamespaceFlags[] = {CLONE_NEWUSER, CLONE_NEWNS,  CLONE_NEWPID,
                                        CLONE_NEWNET,  CLONE_NEWIPC, CLONE_NEWUTS,
                                        CLONE_NEWCGROUP};

// Without a memory cgroup: memory outside any process's address space, so
// RLIMIT_AS does not bound it.
constexpr const char* kUnaccountedMemory[] = {"shmget", "memfd_create", "memfd_secret"};

// Adds rules making `syscall` (socket or socketpair) fail with EAFNOSUPPORT
// unless its first argument, the family, is one of `allowed` (ascending). The
// comparisons see all 64 bits of the argument, so a family with high bits
// set (which the kernel would truncate) is denied too.
int DenyFamiliesBut(scmp_filter_ctx ctx, int syscall, std::initializer_list<uint64_t> allowed) {
  const uint64_t largest = std::max(allowed);
  int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), syscall, 1,
                            SCMP_A0(SCMP_CMP_GT, largest));
  for (uint64_t family = 0; rc >= 0 && family < largest; ++family) {
    if (std::find(allowed.begin(), allowed.end(), family) != allowed.end()) continue;
    rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), syscall, 1,
                          SCMP_A0(SCMP_CMP_EQ, family));
  }
  return rc;
}

absl::StatusOr<std::string> Build(bool deny_unaccounted_memory, bool allow_inet) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return absl::InternalError("seccomp_init failed");
  auto fail = [&](absl::string_view what, int rc) {
    seccomp_release(ctx);
    return absl::InternalError(absl::StrCat("seccomp: ", what, ": ", std::strerror(-rc)));
  };
  int rc = 0;
  for (const char* name : kDenied) {
    const int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0)) < 0) return fail(name, rc);
  }
  if (deny_unaccounted_memory) {
    for (const char* name : kUnaccountedMemory) {
      const int nr = seccomp_syscall_resolve_name(name);
      if (nr == __NR_SCMP_ERROR) continue;
      if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0)) < 0) return fail(name, rc);
    }
  }
  if (allow_inet) {
    if ((rc = DenyFamiliesBut(ctx, SCMP_SYS(socket), {AF_UNIX, AF_INET, AF_INET6})) < 0) {
      return fail("socket", rc);
    }
  } else if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                                    SCMP_A0(SCMP_CMP_NE, AF_UNIX))) < 0) {
    return fail("socket", rc);
  }
  if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socketpair), 1,
                             SCMP_A0(SCMP_CMP_NE, AF_UNIX))) < 0) {
    return fail("socketpair", rc);
  }
  for (uint64_t flag : kNamespaceFlags) {
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                               SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag))) < 0) {
      return fail("clone", rc);
    }
  }
  const int clone3 = seccomp_syscall_resolve_name("clone3");
  if (clone3 != __NR_SCMP_ERROR &&
      (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), clone3, 0)) < 0) {
    return fail("clone3", rc);
  }

  // libseccomp 2.5 exports only to a file descriptor.
  const int fd = memfd_create("r1-seccomp", MFD_CLOEXEC);
  if (fd < 0) return fail("memfd_create", -errno);
  if ((rc = seccomp_export_bpf(ctx, fd)) < 0) {
    close(fd);
    return fail("export", rc);
  }
  seccomp_release(ctx);
  std::string program;
  char buffer[4096];
  ssize_t n;
  lseek(fd, 0, SEEK_SET);
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) program.append(buffer, n);
  close(fd);
  if (program.empty()) return absl::InternalError("seccomp: exported an empty program");
  return program;
}

}  // namespace

absl::StatusOr<std::string> SeccompProgram(bool deny_unaccounted_memory, bool allow_inet) {
  // [deny_unaccounted_memory][allow_inet]
  static const absl::StatusOr<std::string>* const programs[2][2] = {
      {new absl::StatusOr<std::string>(Build(false, false)),
       new absl::StatusOr<std::string>(Build(false, true))},
      {new absl::StatusOr<std::string>(Build(true, false)),
       new absl::StatusOr<std::string>(Build(true, true))},
  };
  return *programs[deny_unaccounted_memory][allow_inet];
}

}  // namespace r1::sandbox
