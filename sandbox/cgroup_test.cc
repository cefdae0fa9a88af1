// Locating the service's own cgroup from /proc/self/cgroup and
// /proc/self/mountinfo, on the layouts hosts have: v1 (this CI machine),
// pure v2, hybrid, a container's bind-mounted subtree, none.
#include "sandbox/cgroup.h"

#include "gtest/gtest.h"

namespace r1::sandbox {
namespace {

// This machine's shape (DESIGN.md §6): v1 controllers each mounted apart,
// memory in a group of its own, an empty v2 tree beside them.
constexpr char kV1Cgroup[] = R"(9:name=systemd:/
8:pids:/
7:blkio:/
4:memory:/process_api/6125d9ac
2:cpuacct:/
1:cpu:/
0::/
)";
constexpr char kV1Mountinfo[] =
    R"(22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 22 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
33 30 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
34 30 0:30 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
35 30 0:31 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
)";

TEST(CgroupLayout, V1ControllersMountedApart) {
  CgroupLayout layout = ParseCgroupLayout(kV1Cgroup, kV1Mountinfo);
  EXPECT_EQ(layout.version, CgroupVersion::kV1);
  EXPECT_EQ(layout.memory_dir, "/sys/fs/cgroup/memory/process_api/6125d9ac");
  EXPECT_EQ(layout.pids_dir, "/sys/fs/cgroup/pids");
  EXPECT_EQ(layout.cpu_dir, "/sys/fs/cgroup/cpuacct");
}

TEST(CgroupLayout, V1CoMountedCpuAndCpuacctAndMissingPids) {
  CgroupLayout layout = ParseCgroupLayout(
      "5:cpu,cpuacct:/svc\n4:memory:/svc\n",
      "31 30 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
      "33 30 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
  EXPECT_EQ(layout.version, CgroupVersion::kV1);
  EXPECT_EQ(layout.memory_dir, "/sys/fs/cgroup/memory/svc");
  EXPECT_EQ(layout.cpu_dir, "/sys/fs/cgroup/cpu,cpuacct/svc");
  EXPECT_EQ(layout.pids_dir, "");
}

TEST(CgroupLayout, V1ContainerSeesItsSubtreeMountedAtTheTop) {
  // Docker without a cgroup namespace: the container's own folder is what is
  // mounted, /proc/self/cgroup still names the full path. Spaces escaped.
  CgroupLayout layout = ParseCgroupLayout(
      "4:memory:/docker/abc/svc\n",
      "33 30 0:29 /docker/abc /sys/fs/cgroup/mem\\040ory ro - cgroup cgroup rw,memory\n");
  EXPECT_EQ(layout.version, CgroupVersion::kV1);
  EXPECT_EQ(layout.memory_dir, "/sys/fs/cgroup/mem ory/svc");
}

TEST(CgroupLayout, V2UnifiedTree) {
  CgroupLayout layout = ParseCgroupLayout(
      "0::/system.slice/r1-reward.service\n",
      "22 1 254:0 / / rw - ext4 /dev/sda1 rw\n"
      "29 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n");
  EXPECT_EQ(layout.version, CgroupVersion::kV2);
  EXPECT_EQ(layout.memory_dir, "/sys/fs/cgroup/system.slice/r1-reward.service");
  EXPECT_EQ(layout.pids_dir, layout.memory_dir);
  EXPECT_EQ(layout.cpu_dir, layout.memory_dir);
}

TEST(CgroupLayout, V2RootInACgroupNamespace) {
  CgroupLayout layout = ParseCgroupLayout(
      "0::/\n", "29 22 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  EXPECT_EQ(layout.version, CgroupVersion::kV2);
  EXPECT_EQ(layout.memory_dir, "/sys/fs/cgroup");
}

TEST(CgroupLayout, HybridPrefersTheV1MemoryHierarchy) {
  CgroupLayout layout = ParseCgroupLayout(
      "4:memory:/a\n0::/a\n",
      "33 30 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "35 30 0:31 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
  EXPECT_EQ(layout.version, CgroupVersion::kV1);
  EXPECT_EQ(layout.memory_dir, "/sys/fs/cgroup/memory/a");
}

TEST(CgroupLayout, NoneSaysWhatIsMissing) {
  CgroupLayout nothing = ParseCgroupLayout("", "");
  EXPECT_EQ(nothing.version, CgroupVersion::kNone);
  EXPECT_NE(nothing.why_unavailable, "");
  // The process's memory group lies outside what is mounted.
  CgroupLayout hidden = ParseCgroupLayout(
      "4:memory:/a\n", "33 30 0:29 /b /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
  EXPECT_EQ(hidden.version, CgroupVersion::kNone);
  EXPECT_NE(hidden.why_unavailable.find("memory"), std::string::npos) << hidden.why_unavailable;
}

}  // namespace
}  // namespace r1::sandbox
