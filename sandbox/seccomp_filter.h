// The seccomp filter bwrap installs (--seccomp FD) just before it executes the
// untrusted program. Private to the sandbox library.
#ifndef R1_SANDBOX_SECCOMP_FILTER_H_
#define R1_SANDBOX_SECCOMP_FILTER_H_

#include <string>

#include "absl/status/statusor.h"

namespace r1::sandbox {

// A compiled BPF program (struct sock_filter array as bytes) for the native
// architecture; syscalls of any other architecture (x32, i386) kill the
// process. Allows everything except:
// - socket() of any family but AF_UNIX, and with `allow_inet` AF_INET and
//   AF_INET6 (EAFNOSUPPORT): no netlink, packet, or other protocol families
//   (nor the kernel modules a first socket of a family would load), and no
//   IP at all without `allow_inet`, even if a namespace were shared;
//   socketpair() of any family but AF_UNIX alike;
// - clone() with namespace flags, unshare, setns (EPERM); clone3 (ENOSYS, so
//   libc falls back to clone, whose flags the filter can see);
// - ptrace, process_vm_*, mount family, pivot_root, chroot, kexec, modules,
//   reboot, swap, bpf, perf_event_open, userfaultfd, keyrings, io_uring,
//   name_to_handle_at/open_by_handle_at, clock/time setting, syslog, acct,
//   quotactl, iopl/ioperm, personality (EPERM);
// - with `deny_unaccounted_memory` (runs without a memory cgroup): shmget,
//   memfd_create and memfd_secret (EPERM), memory that no rlimit counts.
// `allow_inet`: the run's network namespace has its loopback device for the
// program to use (SandboxOptions::loopback_network).
// Built once per process and variant, and cached.
absl::StatusOr<std::string> SeccompProgram(bool deny_unaccounted_memory = false,
                                           bool allow_inet = false);

}  // namespace r1::sandbox

#endif  // R1_SANDBOX_SECCOMP_FILTER_H_
