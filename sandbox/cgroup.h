// Control groups of sandboxed runs: each run gets a group of its own that
// bounds and measures everything the run does, whichever process does it.
//
// rlimits are per process: 16 processes of 512 MiB each may hold 8 GiB, and
// SysV shared memory or memfds belong to no process's address space at all.
// A memory cgroup charges every page a run touches (anonymous memory, SysV
// shm, memfds, tmpfs files, page tables and other kernel memory) to the
// group, whichever process touched it, and the kernel's OOM killer acts when
// the group reaches its limit. The pids controller caps processes and
// threads of the group; the CPU accounting counts the CPU time of every
// process in it, including children nobody waited for.
//
// Layout. Run groups are folders of the service's own group in each
// hierarchy (/proc/self/cgroup, located through /proc/self/mountinfo):
// - v1 (memory, pids and cpuacct hierarchies mounted apart; e.g. memory at
//   /sys/fs/cgroup/memory/process_api/<id>/<run>): memory.limit_in_bytes and
//   memory.memsw.limit_in_bytes (when swap is accounted) both set to the
//   limit, pids.max, cpuacct.usage, memory.max_usage_in_bytes for the peak
//   and the oom_kill count of memory.oom_control. The memory hierarchy is
//   required; pids and cpuacct are used when mounted.
// - v2 (one tree): memory.max, memory.swap.max 0, memory.oom.group 1,
//   pids.max, cpu.stat usage_usec, memory.peak, memory.events oom_kill,
//   cgroup.kill. The service's group must have the memory and pids
//   controllers (cgroup.controllers). When they are not yet enabled for
//   children and the group holds the service itself (the "no internal
//   processes" rule of v2), the service moves itself into a leaf child
//   "r1-service" first, then enables them; a group that also holds other
//   processes is refused with a message saying what to delegate.
// Where the v1 memory hierarchy is mounted it is used (hybrid hosts have an
// empty v2 tree beside it).
//
// Joining. The launcher (sandbox.cc), forked before bwrap and before any
// untrusted code, writes "0" to each run group's join file through
// descriptors the service opened, so bwrap and everything under it start in
// the group. v1: the `tasks` file, which moves the writing thread; the
// launcher is a fork()ed child, so that thread is the whole process. Moving
// one's own thread is the one migration the kernel does without write-locking
// cgroup_threadgroup_rwsem, whose every write lock waits out an RCU grace
// period (measured here: 6-11 ms a run through cgroup.procs, 0.1 ms through
// tasks). v2: cgroup.procs (tasks is v1's; v2's cgroup.threads is for
// threaded groups only).
//
// Removal. After a run every process of the group is SIGKILLed (v2:
// cgroup.kill) until none is left, then the folders are removed. A group
// left by a crashed service is emptied and removed when a run of the same
// name starts (names carry the leased uid, see sandbox.h).
#ifndef R1_SANDBOX_CGROUP_H_
#define R1_SANDBOX_CGROUP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace r1::sandbox {

enum class CgroupVersion { kNone, kV1, kV2 };

// Where run groups go: the folders of this process's own group in each
// hierarchy.
struct CgroupLayout {
  CgroupVersion version = CgroupVersion::kNone;
  // v1: the memory, pids and cpuacct hierarchies' folders (pids_dir or
  // cpu_dir empty when that controller is not mounted). v2: all three are
  // the same folder.
  std::string memory_dir;
  std::string pids_dir;
  std::string cpu_dir;
  // v1: memory.memsw.* exists (swap is accounted).
  bool memsw = false;
  // kNone: what is missing, for messages.
  std::string why_unavailable;
};

// The layout that the text of /proc/self/cgroup and /proc/self/mountinfo
// describe. Pure (no file is read); it neither checks that the folders exist
// nor looks at v2's enabled controllers.
CgroupLayout ParseCgroupLayout(absl::string_view proc_self_cgroup, absl::string_view mountinfo);

// This process's layout, checked: v1 needs a writable memory folder; v2 needs
// the memory and pids controllers, enabled for children here (see above).
// kNone with why_unavailable when run groups cannot be made. Computed once
// per process (a v2 service may have moved itself); later calls return the
// first answer.
const CgroupLayout& HostCgroupLayout();

// What a run group measured. -1: not measured on this host.
struct CgroupUsage {
  double cpu_seconds = -1;         // user + system of every process of the group
  int64_t peak_memory_bytes = -1;  // high-water mark of the group's memory
  int64_t oom_kills = 0;           // processes the OOM killer killed for the limit
};

// One run's group (a folder per hierarchy). Not thread-safe; one run uses it.
class RunCgroup {
 public:
  // Makes the group `name` (a plain folder name) in every hierarchy of
  // `layout` (emptying and removing a leftover of that name first) and sets
  // its limits: all memory of the run at most `memory_bytes`, at most
  // `max_pids` processes and threads together.
  static absl::StatusOr<std::unique_ptr<RunCgroup>> Create(const CgroupLayout& layout,
                                                           const std::string& name,
                                                           int64_t memory_bytes, int max_pids);
  // Kills what is left and removes the folders (best effort; see Remove).
  ~RunCgroup();
  RunCgroup(const RunCgroup&) = delete;
  RunCgroup& operator=(const RunCgroup&) = delete;

  // Write-only descriptors of each folder's join file (close-on-exec): a
  // single-threaded process that writes "0" to each joins the group, its
  // later children too (v1: `tasks`, v2: cgroup.procs; see above).
  const std::vector<int>& join_fds() const { return join_fds_; }

  // The group's CPU time so far, or -1 without CPU accounting.
  double CpuSeconds() const;
  // Processes killed by the OOM killer for the group's limit so far.
  int64_t OomKills() const;
  CgroupUsage Usage() const;
  // Whether no process is in the group (cgroup.procs of every folder empty).
  bool Empty() const;

  // SIGKILLs every process of the group until none is left (about 10 s at
  // most); false if some survived.
  bool KillAll();
  // KillAll, then removes the folders. An error names a folder that stayed.
  absl::Status Remove();

  // The group's folders, one per hierarchy.
  const std::vector<std::string>& dirs() const { return dirs_; }

 private:
  RunCgroup() = default;

  CgroupLayout layout_;
  std::vector<std::string> dirs_;
  std::string memory_dir_, pids_dir_, cpu_dir_;
  std::vector<int> join_fds_;
  bool removed_ = false;
};

}  // namespace r1::sandbox

#endif  // R1_SANDBOX_CGROUP_H_
