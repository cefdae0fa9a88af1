// What a run's cgroup and the sandbox's /proc contain: memory a program holds
// outside any address space (SysV shm, memfds) or across many processes,
// CPU of children nobody waits for, the host's mount table. Each hostile
// program here broke containment before runs had a cgroup of their own and
// /proc stopped being a procfs.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/cgroup.h"
#include "sandbox/judge.h"
#include "sandbox/sandbox.h"
#include "sandbox/test_util.h"

namespace r1::sandbox {
namespace {

using ::r1::sandbox::testing::LeftoverCgroups;
using ::r1::sandbox::testing::TestLimits;
using ::r1::sandbox::testing::TestSandboxOptions;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kPython[] = "/usr/bin/python3";
constexpr int64_t kMiB = int64_t{1} << 20;

// Room above the limit a measured peak may show: none in principle (the
// kernel charges before it maps), a little for how v1/v2 round.
constexpr int64_t kPeakSlack = 8 * kMiB;

class ContainmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (HostCgroupLayout().version == CgroupVersion::kNone) {
      GTEST_SKIP() << "runs get no cgroup on this host: " << HostCgroupLayout().why_unavailable;
    }
    auto box = Sandbox::Create(TestSandboxOptions());
    ASSERT_TRUE(box.ok()) << box.status();
    box_ = std::move(*box);
    ASSERT_TRUE(box_->has_cgroup());
  }

  void TearDown() override {
    if (box_ == nullptr) return;
    // The run removed its group; nothing of it is left in any hierarchy.
    for (const std::string& dir : RunGroupDirs()) {
      EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
    }
    box_.reset();
    EXPECT_THAT(LeftoverCgroups(), IsEmpty());
  }

  std::vector<std::string> RunGroupDirs() const {
    std::vector<std::string> dirs;
    const CgroupLayout& layout = HostCgroupLayout();
    for (const std::string& parent : {layout.memory_dir, layout.pids_dir, layout.cpu_dir}) {
      if (!parent.empty()) dirs.push_back(absl::StrCat(parent, "/", box_->cgroup_name()));
    }
    return dirs;
  }

  RunResult RunPython(const std::string& code, const Limits& limits) {
    EXPECT_TRUE(box_->WriteFile("main.py", code).ok());
    RunRequest request;
    request.argv = {kPython, "-B", "/box/main.py"};
    request.limits = limits;
    auto result = box_->Run(request, absl::InfiniteFuture());
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : RunResult{};
  }

  // Generous time, files and processes, so that only memory can be what
  // ends these runs.
  static Limits MemoryLimits(int64_t memory_bytes) {
    Limits limits = TestLimits();
    limits.memory_bytes = memory_bytes;
    limits.cpu_seconds = 60;
    limits.wall_seconds = 120;
    limits.max_processes = 24;
    limits.max_open_files = 64;
    limits.max_file_bytes = 64 * kMiB;
    return limits;
  }

  std::unique_ptr<Sandbox> box_;
};

// 1 GiB of SysV shared memory in 64 MiB segments, each attached, touched and
// detached again: the segments outlive the mapping, so no process's address
// space (RLIMIT_AS) ever holds more than one of them.
constexpr char kSysvShmHog[] = R"py(import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
size = 64 << 20
held = 0
for i in range(16):
    shmid = libc.shmget(0, size, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
    if shmid < 0:
        print("shmget failed", ctypes.get_errno(), flush=True)
        break
    address = libc.shmat(shmid, None, 0)
    ctypes.memset(address, 1, size)
    libc.shmdt(address)
    held += size
    print("held", held >> 20, "MiB", flush=True)
print("done")
)py";

// 1 GiB in 16 memfds of 64 MiB (each within the file size limit), written,
// kept open and never mapped: a file's pages, in no address space.
constexpr char kMemfdHog[] = R"py(import os
chunk = b"m" * (1 << 20)
fds = []
for i in range(1024):
    if i % 64 == 0:
        fds.append(os.memfd_create("hog%d" % len(fds)))
    os.write(fds[-1], chunk)
    if i % 64 == 63:
        print("held", i + 1, "MiB", flush=True)
print("done")
)py";

// 16 processes that each touch 300 MB and stay, started one after the other
// (each once the previous one holds its memory), waited for by their parent.
constexpr char kForkHog[] = R"py(import os
children = []
for i in range(16):
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        block = b"f" * (300 * 1000 * 1000)
        print("child", i, "holds 300 MB", flush=True)
        os.write(ready_w, b"x")
        forever_r, forever_w = os.pipe()
        os.read(forever_r, 1)
        os._exit(0)
    children.append(pid)
    os.close(ready_w)
    os.read(ready_r, 1)
    os.close(ready_r)
for pid in children:
    os.waitpid(pid, 0)
print("done")
)py";

TEST_F(ContainmentTest, SysvSharedMemoryIsCappedByTheRunsMemoryLimit) {
  const int64_t limit = 256 * kMiB;
  RunResult r = RunPython(kSysvShmHog, MemoryLimits(limit));
  EXPECT_EQ(r.termination, Termination::kMemoryLimit) << r.stdout_data << r.stderr_data;
  EXPECT_THAT(r.stdout_data, Not(HasSubstr("done")));
  EXPECT_THAT(r.stdout_data, HasSubstr("held 64 MiB"));  // it did get going
  EXPECT_GT(r.peak_memory_bytes, 128 * kMiB);
  EXPECT_LE(r.peak_memory_bytes, limit + kPeakSlack);
  RecordProperty("peak_memory_bytes", absl::StrCat(r.peak_memory_bytes));
}

TEST_F(ContainmentTest, MemfdIsCappedByTheRunsMemoryLimit) {
  const int64_t limit = 256 * kMiB;
  RunResult r = RunPython(kMemfdHog, MemoryLimits(limit));
  EXPECT_EQ(r.termination, Termination::kMemoryLimit) << r.stdout_data << r.stderr_data;
  EXPECT_THAT(r.stdout_data, Not(HasSubstr("done")));
  EXPECT_THAT(r.stdout_data, HasSubstr("held 64 MiB"));
  EXPECT_GT(r.peak_memory_bytes, 128 * kMiB);
  EXPECT_LE(r.peak_memory_bytes, limit + kPeakSlack);
  RecordProperty("peak_memory_bytes", absl::StrCat(r.peak_memory_bytes));
}

TEST_F(ContainmentTest, ManyProcessesTogetherAreCappedByTheRunsMemoryLimit) {
  // Each child alone fits its address-space limit; together they would hold
  // 4.8 GB.
  const int64_t limit = 512 * kMiB;
  RunResult r = RunPython(kForkHog, MemoryLimits(limit));
  EXPECT_EQ(r.termination, Termination::kMemoryLimit) << r.stdout_data << r.stderr_data;
  EXPECT_THAT(r.stdout_data, HasSubstr("child 0 holds 300 MB"));
  EXPECT_THAT(r.stdout_data, Not(HasSubstr("child 1 holds")));
  EXPECT_THAT(r.stdout_data, Not(HasSubstr("done")));
  EXPECT_GT(r.peak_memory_bytes, 300 * kMiB);
  EXPECT_LE(r.peak_memory_bytes, limit + kPeakSlack);
  RecordProperty("peak_memory_bytes", absl::StrCat(r.peak_memory_bytes));
}

TEST_F(ContainmentTest, MemoryVerdictReachesTheJudge) {
  Submission submission;
  submission.source = kMemfdHog;
  submission.tests = {{"", "done\n"}};
  JudgeOptions options;
  options.run_limits = MemoryLimits(256 * kMiB);
  auto judged = JudgeInSandbox(*box_, submission, options, absl::InfiniteFuture());
  ASSERT_TRUE(judged.ok()) << judged.status();
  ASSERT_EQ(judged->cases.size(), 1u);
  EXPECT_EQ(judged->cases[0].outcome, Outcome::kMemoryLimit) << judged->cases[0].detail;
  EXPECT_EQ(judged->reason, "memory");
  EXPECT_EQ(judged->reward, 0);
}

TEST_F(ContainmentTest, ChildrenNobodyWaitsForAreKilledOnCpuTime) {
  // The parent sleeps and never waits: `times` would count none of the
  // children's CPU, and no single child reaches its own RLIMIT_CPU before
  // the four together pass the run's limit.
  Limits limits = TestLimits();
  limits.cpu_seconds = 1;
  limits.wall_seconds = 300;  // far away: CPU time must be what stops it
  RunResult r = RunPython(R"py(import os, time
for i in range(4):
    if os.fork() == 0:
        while True:
            pass
print("spinning", flush=True)
time.sleep(1000)
)py",
                          limits);
  EXPECT_EQ(r.termination, Termination::kCpuLimit) << r.stderr_data;
  EXPECT_THAT(r.stdout_data, HasSubstr("spinning"));
  EXPECT_GE(r.cpu_seconds, limits.cpu_seconds);
  // Killed at the limit, not at the end of the wall time.
  EXPECT_LT(r.wall_seconds, limits.wall_seconds / 2);
}

TEST_F(ContainmentTest, GroupLeftByACrashedServiceIsRemovedByTheNextRun) {
  // A group of this sandbox's name with a process in it, as a service that
  // died mid-run would leave it.
  std::vector<std::string> dirs = RunGroupDirs();
  for (const std::string& dir : dirs) ASSERT_EQ(mkdir(dir.c_str(), 0755), 0) << dir;
  const pid_t stray = fork();
  ASSERT_GE(stray, 0);
  if (stray == 0) {
    pause();
    _exit(0);
  }
  for (const std::string& dir : dirs) {
    const int fd = open((dir + "/cgroup.procs").c_str(), O_WRONLY);
    ASSERT_GE(fd, 0) << dir;
    const std::string pid = absl::StrCat(stray);
    EXPECT_EQ(write(fd, pid.data(), pid.size()), static_cast<ssize_t>(pid.size()));
    close(fd);
  }
  RunResult r = RunPython("print('fresh')\n", TestLimits());
  EXPECT_EQ(r.stdout_data, "fresh\n");
  int status = 0;
  ASSERT_EQ(waitpid(stray, &status, 0), stray);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST_F(ContainmentTest, ProcShowsNoHostMountsPathsOrDevices) {
  // Every way to the mount table, and what the host's own table would show.
  RunResult r = RunPython(R"py(import glob, os
paths = ["/proc/self/mountinfo", "/proc/mounts", "/proc/self/mounts", "/proc/self/mountstats",
         "/proc/1/mountinfo", "/proc/thread-self/mountinfo", "/proc/self/cgroup",
         "/etc/mtab"] + glob.glob("/proc/*/mount*") + glob.glob("/proc/*/task/*/mount*")
for p in paths:
    try:
        print(p, "READ", open(p).read())
    except OSError as e:
        print(p, "unreadable", e.errno)
print("proc", sorted(os.listdir("/proc")))
print("cpus", os.cpu_count())
print("cpuinfo", "processor" in open("/proc/cpuinfo").read())
)py",
                          TestLimits());
  EXPECT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_THAT(r.stdout_data, Not(HasSubstr("READ")));
  for (const std::string& host : {std::string("/work"), std::string("/home"),
                                  std::string("/dev/vd"), std::string("/dev/sd"),
                                  std::string("/dev/nvme"), std::string("upperdir"),
                                  std::string("lowerdir"), std::string("process_api"),
                                  box_->workspace_dir(), box_->root_dir()}) {
    EXPECT_THAT(r.stdout_data, Not(HasSubstr(host)));
  }
  EXPECT_THAT(r.stdout_data,
              HasSubstr("proc ['cpuinfo', 'loadavg', 'meminfo', 'stat', 'uptime']"));
  EXPECT_THAT(r.stdout_data, Not(HasSubstr("cpus None")));
  EXPECT_THAT(r.stdout_data, HasSubstr("cpuinfo True"));
}

TEST(SandboxWithoutCgroups, IsRefusedUnlessAllowed) {
  SandboxOptions options = TestSandboxOptions();
  options.use_cgroups = false;
  auto refused = Sandbox::Create(options);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("allow_no_cgroup"));
  EXPECT_EQ(CheckSandbox(options, kPython).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SandboxWithoutCgroups, DeniesMemoryNoRlimitCounts) {
  SandboxOptions options = TestSandboxOptions();
  options.use_cgroups = false;
  options.allow_no_cgroup = true;
  auto box = Sandbox::Create(options);
  ASSERT_TRUE(box.ok()) << box.status();
  EXPECT_FALSE((*box)->has_cgroup());
  ASSERT_TRUE((*box)->WriteFile("main.py", R"py(import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
print("shmget", libc.shmget(0, 1 << 20, 0o1600), ctypes.get_errno())
try:
    os.memfd_create("x")
    print("memfd ok")
except OSError as e:
    print("memfd", e.errno)
print("mmap ok" if __import__("mmap").mmap(-1, 1 << 20) else "")
)py")
                  .ok());
  RunRequest request;
  request.argv = {kPython, "-B", "/box/main.py"};
  request.limits = TestLimits();
  auto r = (*box)->Run(request, absl::InfiniteFuture());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->stderr_data;
  EXPECT_THAT(r->stdout_data, HasSubstr("shmget -1 1"));  // EPERM
  EXPECT_THAT(r->stdout_data, HasSubstr("memfd 1"));
  EXPECT_THAT(r->stdout_data, HasSubstr("mmap ok"));  // counted by RLIMIT_AS
  EXPECT_EQ(r->peak_memory_bytes, -1);
}

}  // namespace
}  // namespace r1::sandbox
