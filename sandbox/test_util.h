// Helpers for the sandbox tests (test binaries only).
#ifndef R1_SANDBOX_TEST_UTIL_H_
#define R1_SANDBOX_TEST_UTIL_H_

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/strings/str_cat.h"
#include "sandbox/cgroup.h"
#include "sandbox/limits.h"
#include "sandbox/sandbox.h"

namespace r1::sandbox::testing {

// A uid range of the tests' own, apart from the default one a service on this
// machine may be using; the process scans below look for exactly this range.
constexpr int kTestUidBase = 61128;
constexpr int kTestUidCount = 32;

inline SandboxOptions TestSandboxOptions() {
  SandboxOptions options;
  options.uid_base = kTestUidBase;
  options.uid_count = kTestUidCount;
  return options;
}

// Small limits so hostile programs end fast; wall time generous for a loaded
// 2-core machine.
inline Limits TestLimits() {
  Limits limits;
  limits.cpu_seconds = 1.0;
  limits.wall_seconds = 3.0;
  limits.memory_bytes = int64_t{256} << 20;
  limits.max_processes = 16;
  limits.max_open_files = 32;
  limits.max_file_bytes = int64_t{1} << 20;
  limits.max_output_bytes = int64_t{64} << 10;
  return limits;
}

inline std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// pids of processes whose real uid is in [lo, hi).
inline std::vector<int> ProcessesWithUidIn(int lo, int hi) {
  std::vector<int> pids;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return pids;
  while (dirent* entry = readdir(dir)) {
    int pid;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    const std::string status = ReadWhole(absl::StrCat("/proc/", pid, "/status"));
    for (absl::string_view line : absl::StrSplit(status, '\n')) {
      if (!absl::ConsumePrefix(&line, "Uid:")) continue;
      std::vector<absl::string_view> ids = absl::StrSplit(line, '\t', absl::SkipEmpty());
      int uid;
      if (!ids.empty() && absl::SimpleAtoi(ids[0], &uid) && uid >= lo && uid < hi) {
        pids.push_back(pid);
      }
    }
  }
  closedir(dir);
  return pids;
}

// pids of processes whose command line contains `token`.
inline std::vector<int> ProcessesWithArg(const std::string& token) {
  std::vector<int> pids;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return pids;
  while (dirent* entry = readdir(dir)) {
    int pid;
    if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
    std::string cmdline = ReadWhole(absl::StrCat("/proc/", pid, "/cmdline"));
    for (char& c : cmdline) {
      if (c == '\0') c = ' ';
    }
    if (absl::StrContains(cmdline, token)) pids.push_back(pid);
  }
  closedir(dir);
  return pids;
}

// Processes of test uids that no sandbox holds (root only). Holding each
// uid's lease lock while looking keeps other test processes' live sandboxes
// (ctest -j) out of the count.
inline std::vector<int> ProcessesOfUnleasedUids() {
  std::vector<int> pids;
  if (geteuid() != 0) return pids;
  const SandboxOptions options = TestSandboxOptions();
  std::vector<int> candidates = ProcessesWithUidIn(kTestUidBase, kTestUidBase + kTestUidCount);
  if (candidates.empty()) return pids;
  for (int uid = kTestUidBase; uid < kTestUidBase + kTestUidCount; ++uid) {
    const int fd = open(UidLockPath(options, uid).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      for (int pid : ProcessesWithUidIn(uid, uid + 1)) pids.push_back(pid);
    }
    close(fd);
  }
  return pids;
}

// Run cgroup folders (cgroup.h) of test uids that no sandbox holds: a run
// must remove its group when it ends. Empty where runs get no cgroup.
inline std::vector<std::string> LeftoverCgroups() {
  std::vector<std::string> left;
  const CgroupLayout& layout = HostCgroupLayout();
  if (layout.version == CgroupVersion::kNone || geteuid() != 0) return left;
  const SandboxOptions options = TestSandboxOptions();
  for (int uid = kTestUidBase; uid < kTestUidBase + kTestUidCount; ++uid) {
    const int fd = open(UidLockPath(options, uid).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      for (const std::string& parent : {layout.memory_dir, layout.pids_dir, layout.cpu_dir}) {
        if (parent.empty()) continue;
        const std::string dir = absl::StrCat(parent, "/r1-sandbox-uid", uid);
        if (std::filesystem::exists(dir)) left.push_back(dir);
      }
    }
    close(fd);
  }
  return left;
}

// Processes a sandbox could have left: of a test uid nobody leases (root), or
// carrying `token` in their arguments. Polls briefly, since a pid namespace's
// processes die asynchronously after its pid 1.
inline std::vector<int> LeftoverProcesses(const std::string& token) {
  std::vector<int> left;
  const absl::Time end = absl::Now() + absl::Seconds(5);
  do {
    left = ProcessesWithArg(token);
    for (int pid : ProcessesOfUnleasedUids()) left.push_back(pid);
    if (left.empty()) return left;
    absl::SleepFor(absl::Milliseconds(50));
  } while (absl::Now() < end);
  return left;
}

}  // namespace r1::sandbox::testing

#endif  // R1_SANDBOX_TEST_UTIL_H_
