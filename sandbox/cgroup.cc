#include "sandbox/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace r1::sandbox {
namespace {

// How long KillAll and Remove keep trying: processes in uninterruptible
// sleep leave their group only when they wake.
constexpr absl::Duration kEmptyingTime = absl::Seconds(10);
// v2: the leaf the service moves itself into so that its own group may
// enable controllers for children.
constexpr char kServiceLeaf[] = "r1-service";

std::optional<std::string> ReadSmall(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buffer[4096];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, n);
  }
  close(fd);
  return text;
}

absl::Status WriteSmall(const std::string& path, absl::string_view value) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("opening ", path, ": ", std::strerror(errno)));
  }
  ssize_t n;
  do {
    n = write(fd, value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return absl::InternalError(
        absl::StrCat("writing '", value, "' to ", path, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// A "key value" line of a flat-keyed cgroup file (memory.events, cpu.stat,
// memory.oom_control); -1 when absent.
int64_t KeyedValue(const std::optional<std::string>& text, absl::string_view key) {
  if (!text.has_value()) return -1;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (!absl::ConsumePrefix(&line, key) || !absl::ConsumePrefix(&line, " ")) continue;
    int64_t value;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &value)) return value;
  }
  return -1;
}

int64_t SingleValue(const std::optional<std::string>& text) {
  int64_t value;
  if (text.has_value() && absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &value)) return value;
  return -1;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string UnescapeMountPath(absl::string_view text) {
  auto octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size() && octal(text[i + 1]) && octal(text[i + 2]) &&
        octal(text[i + 3])) {
      out.push_back(static_cast<char>((text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 +
                                      (text[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

struct CgroupMount {
  std::string root;        // the hierarchy's folder mounted there
  std::string mountpoint;  // where
  bool v2 = false;
  std::vector<std::string> options;  // super options: v1 controllers among them
};

std::vector<CgroupMount> CgroupMounts(absl::string_view mountinfo) {
  std::vector<CgroupMount> mounts;
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n', absl::SkipEmpty())) {
    const size_t dash = line.find(" - ");
    if (dash == absl::string_view::npos) continue;
    std::vector<absl::string_view> left = absl::StrSplit(line.substr(0, dash), ' ');
    std::vector<absl::string_view> right = absl::StrSplit(line.substr(dash + 3), ' ');
    if (left.size() < 5 || right.size() < 3) continue;
    CgroupMount mount;
    if (right[0] == "cgroup2") {
      mount.v2 = true;
    } else if (right[0] != "cgroup") {
      continue;
    }
    mount.root = UnescapeMountPath(left[3]);
    mount.mountpoint = UnescapeMountPath(left[4]);
    for (absl::string_view option : absl::StrSplit(right[2], ',')) {
      mount.options.emplace_back(option);
    }
    mounts.push_back(std::move(mount));
  }
  return mounts;
}

// The folder of hierarchy path `path` under `mount`, or empty when the mount
// does not show it.
std::string FolderIn(const CgroupMount& mount, const std::string& path) {
  if (mount.root == "/") return path == "/" ? mount.mountpoint : mount.mountpoint + path;
  if (path == mount.root) return mount.mountpoint;
  if (absl::StartsWith(path, mount.root + "/")) {
    return mount.mountpoint + path.substr(mount.root.size());
  }
  return "";
}

bool HasOption(const CgroupMount& mount, absl::string_view option) {
  for (const std::string& o : mount.options) {
    if (o == option) return true;
  }
  return false;
}

// pids listed in a cgroup.procs file.
std::vector<pid_t> Procs(const std::string& dir) {
  std::vector<pid_t> pids;
  std::optional<std::string> text = ReadSmall(dir + "/cgroup.procs");
  if (!text.has_value()) return pids;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    int pid;
    if (absl::SimpleAtoi(line, &pid) && pid > 0) pids.push_back(pid);
  }
  return pids;
}

// SIGKILLs the processes of `dirs` until none is left or time runs out.
bool KillProcsIn(const std::vector<std::string>& dirs, bool v2) {
  if (v2) {
    for (const std::string& dir : dirs) {
      if (Exists(dir + "/cgroup.kill")) (void)WriteSmall(dir + "/cgroup.kill", "1");
    }
  }
  const absl::Time end = absl::Now() + kEmptyingTime;
  absl::Duration pause = absl::Microseconds(200);
  while (true) {
    bool any = false;
    for (const std::string& dir : dirs) {
      for (pid_t pid : Procs(dir)) {
        any = true;
        kill(pid, SIGKILL);
      }
    }
    if (!any) return true;
    if (absl::Now() >= end) return false;
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Milliseconds(20));
  }
}

absl::Status RemoveDirs(const std::vector<std::string>& dirs, bool v2) {
  KillProcsIn(dirs, v2);
  const absl::Time end = absl::Now() + kEmptyingTime;
  absl::Duration pause = absl::Microseconds(200);
  for (const std::string& dir : dirs) {
    while (rmdir(dir.c_str()) != 0 && errno != ENOENT) {
      // EBUSY: a process is still leaving (or a child folder exists).
      if (errno != EBUSY || absl::Now() >= end) {
        return absl::InternalError(
            absl::StrCat("removing the run cgroup ", dir, ": ", std::strerror(errno)));
      }
      KillProcsIn({dir}, v2);
      absl::SleepFor(pause);
      pause = std::min(pause * 2, absl::Milliseconds(20));
    }
  }
  return absl::OkStatus();
}

bool ControllersEnabled(const std::string& dir) {
  std::optional<std::string> text = ReadSmall(dir + "/cgroup.subtree_control");
  if (!text.has_value()) return false;
  std::vector<absl::string_view> enabled = absl::StrSplit(
      absl::StripAsciiWhitespace(*text), ' ', absl::SkipEmpty());
  auto has = [&](absl::string_view c) {
    return std::find(enabled.begin(), enabled.end(), c) != enabled.end();
  };
  return has("memory") && has("pids");
}

// v2: makes sure children of `dir` get the memory and pids controllers.
absl::Status EnableV2Controllers(const std::string& dir) {
  std::optional<std::string> available = ReadSmall(dir + "/cgroup.controllers");
  if (!available.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read ", dir, "/cgroup.controllers"));
  }
  std::vector<absl::string_view> controllers =
      absl::StrSplit(absl::StripAsciiWhitespace(*available), ' ', absl::SkipEmpty());
  for (absl::string_view wanted : {"memory", "pids"}) {
    if (std::find(controllers.begin(), controllers.end(), wanted) == controllers.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cgroup v2: the ", wanted, " controller is not available in ", dir,
          " (cgroup.controllers: '", absl::StripAsciiWhitespace(*available),
          "'); delegate memory and pids to the service's group"));
    }
  }
  if (ControllersEnabled(dir)) return absl::OkStatus();
  if (WriteSmall(dir + "/cgroup.subtree_control", "+memory +pids").ok()) return absl::OkStatus();
  // EBUSY: the group holds processes (ours) and is not the root. Move this
  // process into a leaf of its own; other processes are not ours to move.
  const std::string leaf = absl::StrCat(dir, "/", kServiceLeaf);
  if (mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cgroup v2: cannot create ", leaf, ": ", std::strerror(errno)));
  }
  if (absl::Status s = WriteSmall(leaf + "/cgroup.procs", "0"); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("cgroup v2: ", s.message()));
  }
  if (absl::Status s = WriteSmall(dir + "/cgroup.subtree_control", "+memory +pids"); !s.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cgroup v2: cannot enable memory and pids for the children of ", dir, " (", s.message(),
        "); other processes share the service's group: start the service in a group of its "
        "own with memory and pids delegated (systemd: Delegate=yes)"));
  }
  return absl::OkStatus();
}

CgroupLayout DetectHostLayout() {
  CgroupLayout layout = ParseCgroupLayout(ReadSmall("/proc/self/cgroup").value_or(""),
                                          ReadSmall("/proc/self/mountinfo").value_or(""));
  if (layout.version == CgroupVersion::kV1) {
    if (access(layout.memory_dir.c_str(), W_OK) != 0 ||
        !Exists(layout.memory_dir + "/memory.limit_in_bytes")) {
      const std::string why = absl::StrCat("cgroup v1: cannot create groups in ", layout.memory_dir,
                                           " (", std::strerror(errno), ")");
      layout = CgroupLayout();
      layout.why_unavailable = why;
      return layout;
    }
    layout.memsw = Exists(layout.memory_dir + "/memory.memsw.limit_in_bytes");
    if (!layout.pids_dir.empty() && access(layout.pids_dir.c_str(), W_OK) != 0) {
      layout.pids_dir.clear();
    }
    if (!layout.cpu_dir.empty() &&
        (access(layout.cpu_dir.c_str(), W_OK) != 0 || !Exists(layout.cpu_dir + "/cpuacct.usage"))) {
      layout.cpu_dir.clear();
    }
  } else if (layout.version == CgroupVersion::kV2) {
    if (absl::Status s = EnableV2Controllers(layout.memory_dir); !s.ok()) {
      layout = CgroupLayout();
      layout.why_unavailable = std::string(s.message());
    }
  }
  return layout;
}

}  // namespace

CgroupLayout ParseCgroupLayout(absl::string_view proc_self_cgroup, absl::string_view mountinfo) {
  std::map<std::string, std::string> v1_paths;  // controller -> path
  std::optional<std::string> v2_path;
  for (absl::string_view line : absl::StrSplit(proc_self_cgroup, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (parts.size() != 3) continue;
    if (parts[0] == "0" && parts[1].empty()) {
      v2_path = std::string(parts[2]);
      continue;
    }
    for (absl::string_view controller : absl::StrSplit(parts[1], ',', absl::SkipEmpty())) {
      v1_paths[std::string(controller)] = std::string(parts[2]);
    }
  }
  const std::vector<CgroupMount> mounts = CgroupMounts(mountinfo);
  auto v1_folder = [&](const std::string& controller) -> std::string {
    auto it = v1_paths.find(controller);
    if (it == v1_paths.end()) return "";
    for (const CgroupMount& mount : mounts) {
      if (mount.v2 || !HasOption(mount, controller)) continue;
      std::string folder = FolderIn(mount, it->second);
      if (!folder.empty()) return folder;
    }
    return "";
  };
  CgroupLayout layout;
  if (std::string memory = v1_folder("memory"); !memory.empty()) {
    layout.version = CgroupVersion::kV1;
    layout.memory_dir = memory;
    layout.pids_dir = v1_folder("pids");
    layout.cpu_dir = v1_folder("cpuacct");
    return layout;
  }
  if (v2_path.has_value()) {
    for (const CgroupMount& mount : mounts) {
      if (!mount.v2) continue;
      std::string folder = FolderIn(mount, *v2_path);
      if (folder.empty()) continue;
      layout.version = CgroupVersion::kV2;
      layout.memory_dir = layout.pids_dir = layout.cpu_dir = folder;
      return layout;
    }
  }
  if (v1_paths.count("memory") != 0) {
    layout.why_unavailable = "cgroup v1: the memory hierarchy of this process is not mounted";
  } else if (v2_path.has_value()) {
    layout.why_unavailable = "cgroup v2: the unified hierarchy of this process is not mounted";
  } else {
    layout.why_unavailable = "this process is in no memory cgroup (/proc/self/cgroup)";
  }
  return layout;
}

const CgroupLayout& HostCgroupLayout() {
  static const CgroupLayout* const layout = new CgroupLayout(DetectHostLayout());
  return *layout;
}

absl::StatusOr<std::unique_ptr<RunCgroup>> RunCgroup::Create(const CgroupLayout& layout,
                                                             const std::string& name,
                                                             int64_t memory_bytes, int max_pids) {
  if (layout.version == CgroupVersion::kNone) {
    return absl::FailedPreconditionError(absl::StrCat("no cgroups: ", layout.why_unavailable));
  }
  if (name.empty() || absl::StrContains(name, '/') || name == "." || name == "..") {
    return absl::InvalidArgumentError(absl::StrCat("bad cgroup name '", name, "'"));
  }
  auto group = std::unique_ptr<RunCgroup>(new RunCgroup());
  group->layout_ = layout;
  const bool v2 = layout.version == CgroupVersion::kV2;
  group->memory_dir_ = absl::StrCat(layout.memory_dir, "/", name);
  if (!layout.pids_dir.empty()) group->pids_dir_ = absl::StrCat(layout.pids_dir, "/", name);
  if (!layout.cpu_dir.empty()) group->cpu_dir_ = absl::StrCat(layout.cpu_dir, "/", name);
  for (const std::string& dir : {group->memory_dir_, group->pids_dir_, group->cpu_dir_}) {
    if (dir.empty() ||
        std::find(group->dirs_.begin(), group->dirs_.end(), dir) != group->dirs_.end()) {
      continue;
    }
    group->dirs_.push_back(dir);
  }
  // A leftover of a crashed service (names carry the leased uid).
  if (absl::Status s = RemoveDirs(group->dirs_, v2); !s.ok()) {
    group->removed_ = true;
    return s;
  }
  for (const std::string& dir : group->dirs_) {
    if (mkdir(dir.c_str(), 0755) != 0) {
      // The destructor removes what was made.
      return absl::InternalError(
          absl::StrCat("creating the run cgroup ", dir, ": ", std::strerror(errno)));
    }
  }
  const std::string bytes = absl::StrCat(memory_bytes);
  const std::string pids = absl::StrCat(max_pids);
  if (v2) {
    if (absl::Status s = WriteSmall(group->memory_dir_ + "/memory.max", bytes); !s.ok()) return s;
    // Swap would let the run hold more than memory.max.
    if (Exists(group->memory_dir_ + "/memory.swap.max")) {
      if (absl::Status s = WriteSmall(group->memory_dir_ + "/memory.swap.max", "0"); !s.ok()) {
        return s;
      }
    }
    // One OOM kill ends the whole run, as the v1 watcher does (sandbox.cc).
    if (Exists(group->memory_dir_ + "/memory.oom.group")) {
      (void)WriteSmall(group->memory_dir_ + "/memory.oom.group", "1");
    }
    if (absl::Status s = WriteSmall(group->pids_dir_ + "/pids.max", pids); !s.ok()) return s;
  } else {
    // memsw (memory + swap) must stay >= the memory limit: memory first.
    if (absl::Status s = WriteSmall(group->memory_dir_ + "/memory.limit_in_bytes", bytes); !s.ok()) {
      return s;
    }
    if (layout.memsw) {
      if (absl::Status s = WriteSmall(group->memory_dir_ + "/memory.memsw.limit_in_bytes", bytes);
          !s.ok()) {
        return s;
      }
    }
    if (!group->pids_dir_.empty()) {
      if (absl::Status s = WriteSmall(group->pids_dir_ + "/pids.max", pids); !s.ok()) return s;
    }
  }
  for (const std::string& dir : group->dirs_) {
    // v1: `tasks`, the cheap way in for a single-threaded process (cgroup.h).
    const std::string join = dir + (v2 ? "/cgroup.procs" : "/tasks");
    const int fd = open(join.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::InternalError(absl::StrCat("opening ", join, ": ", std::strerror(errno)));
    }
    group->join_fds_.push_back(fd);
  }
  return group;
}

RunCgroup::~RunCgroup() {
  for (int fd : join_fds_) close(fd);
  if (!removed_) (void)RemoveDirs(dirs_, layout_.version == CgroupVersion::kV2);
}

double RunCgroup::CpuSeconds() const {
  if (cpu_dir_.empty()) return -1;
  if (layout_.version == CgroupVersion::kV2) {
    const int64_t usec = KeyedValue(ReadSmall(cpu_dir_ + "/cpu.stat"), "usage_usec");
    return usec < 0 ? -1 : static_cast<double>(usec) * 1e-6;
  }
  const int64_t nsec = SingleValue(ReadSmall(cpu_dir_ + "/cpuacct.usage"));
  return nsec < 0 ? -1 : static_cast<double>(nsec) * 1e-9;
}

int64_t RunCgroup::OomKills() const {
  const int64_t kills =
      KeyedValue(ReadSmall(memory_dir_ + (layout_.version == CgroupVersion::kV2
                                              ? "/memory.events"
                                              : "/memory.oom_control")),
                 "oom_kill");
  return std::max<int64_t>(kills, 0);
}

CgroupUsage RunCgroup::Usage() const {
  CgroupUsage usage;
  usage.cpu_seconds = CpuSeconds();
  usage.oom_kills = OomKills();
  usage.peak_memory_bytes =
      SingleValue(ReadSmall(memory_dir_ + (layout_.version == CgroupVersion::kV2
                                               ? "/memory.peak"
                                               : "/memory.max_usage_in_bytes")));
  return usage;
}

bool RunCgroup::Empty() const {
  for (const std::string& dir : dirs_) {
    if (!Procs(dir).empty()) return false;
  }
  return true;
}

bool RunCgroup::KillAll() { return KillProcsIn(dirs_, layout_.version == CgroupVersion::kV2); }

absl::Status RunCgroup::Remove() {
  for (int fd : join_fds_) close(fd);
  join_fds_.clear();
  removed_ = true;
  return RemoveDirs(dirs_, layout_.version == CgroupVersion::kV2);
}

}  // namespace r1::sandbox
