// One sandboxed run at a time: what the program can see and do, and that the
// limits stop it. Every hostile program here would break containment if the
// matching isolation were missing, and the test would fail.
#include "sandbox/sandbox.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/test_util.h"

namespace r1::sandbox {
namespace {

using ::r1::sandbox::testing::LeftoverProcesses;
using ::r1::sandbox::testing::TestLimits;
using ::r1::sandbox::testing::TestSandboxOptions;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPython[] = "/usr/bin/python3";

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto box = Sandbox::Create(TestSandboxOptions());
    ASSERT_TRUE(box.ok()) << box.status();
    box_ = std::move(*box);
  }

  RunResult RunPython(const std::string& code, const Limits& limits = TestLimits(),
                      const std::string& stdin_data = "",
                      absl::Time deadline = absl::InfiniteFuture(),
                      const std::atomic<bool>* cancelled = nullptr) {
    EXPECT_TRUE(box_->WriteFile("main.py", code).ok());
    RunRequest request;
    request.argv = {kPython, "-B", "/box/main.py"};
    request.stdin_data = stdin_data;
    request.limits = limits;
    auto result = box_->Run(request, deadline, cancelled);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : RunResult{};
  }

  // A token unique to this test, for finding processes by their arguments.
  static std::string Token() { return absl::StrCat("r1token", getpid(), "x", rand()); }

  std::unique_ptr<Sandbox> box_;
};

TEST_F(SandboxTest, RunsPythonWithStdinAndExitCode) {
  RunResult r = RunPython("import sys\nprint(sys.stdin.read().upper())\nsys.exit(3)\n",
                          TestLimits(), "hello");
  EXPECT_EQ(r.termination, Termination::kExited);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.stdout_data, "HELLO\n");
}

TEST_F(SandboxTest, SeesOnlyUsrAndItsOwnDirectories) {
  // A host file the program must neither read nor change.
  char dir[] = "/tmp/r1-sandbox-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string canary = absl::StrCat(dir, "/canary");
  { std::ofstream(canary) << "canary"; }
  const std::string code = absl::StrCat(R"py(import os
print("ROOT", sorted(os.listdir("/")))
print("ETC", sorted(os.listdir("/etc")))
for p in ["/etc/shadow", "/etc/passwd", "/etc/group", "/root", "/home", "/work", "/run", ")py",
                                        canary, R"py(", "/proc/1/root)py", canary, R"py("]:
    print("EXISTS" if os.path.exists(p) else "missing", p)
for p in ["/usr/evil", "/box/evil", "/evil", "/etc/hosts", "/etc/evil", ")py", canary, R"py("]:
    try:
        open(p, "w").write("x")
        print("WROTE", p)
    except OSError as e:
        print("denied", p, e.errno)
open("/tmp/scratch", "w").write("fine")
print("tmp ok", open("/tmp/scratch").read())
)py");
  RunResult r = RunPython(code);
  EXPECT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_THAT(r.stdout_data, HasSubstr("ROOT ['bin', 'box', 'dev', 'etc', 'lib', 'lib64', 'proc', "
                                       "'sbin', 'tmp', 'usr']"));
  // /etc is the sandbox's own, for resolving localhost (loopback_network).
  EXPECT_THAT(r.stdout_data, HasSubstr("ETC ['hosts', 'nsswitch.conf']"));
  EXPECT_THAT(r.stdout_data, Not(HasSubstr("EXISTS")));
  EXPECT_THAT(r.stdout_data, Not(HasSubstr("WROTE")));
  EXPECT_THAT(r.stdout_data, HasSubstr("tmp ok fine"));
  EXPECT_EQ(testing::ReadWhole(canary), "canary");
  std::filesystem::remove_all(dir);
}

TEST_F(SandboxTest, HostEnvironmentIsInvisible) {
  const std::string secret = absl::StrCat("hunter2-", getpid());
  setenv("R1_SANDBOX_TEST_SECRET", secret.c_str(), 1);
  RunResult r = RunPython(R"py(import os, glob
print(dict(os.environ))
for p in glob.glob("/proc/*/environ"):
    try:
        print(p, open(p, "rb").read())
    except OSError as e:
        print(p, "denied", e.errno)
)py");
  unsetenv("R1_SANDBOX_TEST_SECRET");
  EXPECT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_THAT(r.stdout_data, HasSubstr("'PATH': '/usr/bin:/bin'"));
  EXPECT_THAT(r.stdout_data, Not(HasSubstr(secret)));
  EXPECT_THAT(r.stdout_data, Not(HasSubstr("R1_SANDBOX_TEST_SECRET")));
}

// A listener on every host interface (the host's loopback included) and the
// host's first non-loopback IPv4 address ("" when it has none): what a
// sandboxed program must not reach.
struct HostListener {
  int fd = -1;
  int port = 0;
  std::string outside_ip;
};

HostListener ListenOnTheHost() {
  HostListener host;
  host.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  EXPECT_GE(host.fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  EXPECT_EQ(bind(host.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(listen(host.fd, 8), 0);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(getsockname(host.fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  host.port = ntohs(addr.sin_port);
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (ifaddrs* i = list; i != nullptr && host.outside_ip.empty(); i = i->ifa_next) {
      if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
      if ((i->ifa_flags & IFF_LOOPBACK) != 0) continue;
      char text[INET_ADDRSTRLEN];
      const auto* in = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text)) != nullptr) host.outside_ip = text;
    }
    freeifaddrs(list);
  }
  return host;
}

// Tries what the network must and must not allow; one line per attempt,
// "<what> ok" or "<what> <errno>".
std::string NetworkProbe(const HostListener& host) {
  return absl::StrCat(R"py(import errno, socket, threading

def attempt(what, f):
    try:
        f()
        print(what, "ok", flush=True)
    except OSError as e:
        print(what, e.errno, flush=True)

def talk_to_itself(family, address):
    server = socket.socket(family, socket.SOCK_STREAM)
    server.bind((address, 0))
    server.listen(1)
    port = server.getsockname()[1]
    def serve():
        conn, _ = server.accept()
        conn.sendall(conn.recv(16).upper())
        conn.close()
    t = threading.Thread(target=serve)
    t.start()
    client = socket.create_connection((address, port), timeout=5)
    client.sendall(b"ping")
    assert client.recv(16) == b"PING"
    client.close()
    t.join()

def udp_to_itself():
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b.sendto(b"dgram", a.getsockname())
    assert a.recv(16) == b"dgram"

def connect(address):
    s = socket.create_connection(address, timeout=2)
    s.close()

def udp_out(address):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"x", address)

def unix_pair():
    a, b = socket.socketpair()
    a.send(b"x")
    assert b.recv(1) == b"x"

attempt("self_ipv4", lambda: talk_to_itself(socket.AF_INET, "127.0.0.1"))
attempt("self_ipv6", lambda: talk_to_itself(socket.AF_INET6, "::1"))
attempt("self_localhost", lambda: talk_to_itself(socket.AF_INET, "localhost"))
attempt("self_udp", udp_to_itself)
attempt("host_loopback_ipv4", lambda: connect(("127.0.0.1", )py",
                      host.port, R"py()))
attempt("host_loopback_ipv6", lambda: connect(("::1", )py", host.port, R"py()))
outside = ")py", host.outside_ip, R"py("
if outside:
    attempt("host_outside_ip", lambda: connect((outside, )py", host.port, R"py()))
attempt("private_net", lambda: connect(("10.1.2.3", 80)))
attempt("public_udp", lambda: udp_out(("8.8.8.8", 53)))
attempt("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
attempt("packet", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0))
attempt("unix_pair", unix_pair)
)py");
}

TEST_F(SandboxTest, LoopbackLetsAProgramTalkToItselfAndReachesNothingElse) {
  HostListener host = ListenOnTheHost();
  RunResult r = RunPython(NetworkProbe(host));
  EXPECT_EQ(r.exit_code, 0) << r.stderr_data;
  // Its own loopback, by address and by name, TCP and UDP.
  EXPECT_THAT(r.stdout_data, HasSubstr("self_ipv4 ok"));
  EXPECT_THAT(r.stdout_data, HasSubstr("self_ipv6 ok"));
  EXPECT_THAT(r.stdout_data, HasSubstr("self_localhost ok"));
  EXPECT_THAT(r.stdout_data, HasSubstr("self_udp ok"));
  // The host's loopback is another namespace's: nobody listens on that port
  // in here.
  EXPECT_THAT(r.stdout_data, HasSubstr("host_loopback_ipv4 111"));  // ECONNREFUSED
  EXPECT_THAT(r.stdout_data, HasSubstr("host_loopback_ipv6 111"));
  // No route anywhere else.
  if (!host.outside_ip.empty()) {
    EXPECT_THAT(r.stdout_data, HasSubstr("host_outside_ip 101"));  // ENETUNREACH
  }
  EXPECT_THAT(r.stdout_data, HasSubstr("private_net 101"));
  EXPECT_THAT(r.stdout_data, HasSubstr("public_udp 101"));
  // Other families stay denied (seccomp's EAFNOSUPPORT).
  EXPECT_THAT(r.stdout_data, HasSubstr("netlink 97"));
  EXPECT_THAT(r.stdout_data, HasSubstr("packet 97"));
  EXPECT_THAT(r.stdout_data, HasSubstr("unix_pair ok"));
  EXPECT_LT(accept(host.fd, nullptr, nullptr), 0);
  close(host.fd);
}

TEST(SandboxNetwork, WithoutLoopbackSocketsAreUnixOnly) {
  SandboxOptions options = TestSandboxOptions();
  options.loopback_network = false;
  auto box = Sandbox::Create(options);
  ASSERT_TRUE(box.ok()) << box.status();
  HostListener host = ListenOnTheHost();
  ASSERT_TRUE((*box)->WriteFile("main.py", NetworkProbe(host)).ok());
  RunRequest request;
  request.argv = {kPython, "-B", "/box/main.py"};
  request.limits = TestLimits();
  auto r = (*box)->Run(request, absl::InfiniteFuture());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->stderr_data;
  for (const char* denied : {"self_ipv4", "self_ipv6", "self_localhost", "self_udp",
                             "host_loopback_ipv4", "host_loopback_ipv6", "private_net",
                             "public_udp", "netlink", "packet"}) {
    EXPECT_THAT(r->stdout_data, HasSubstr(absl::StrCat(denied, " 97"))) << denied;
  }
  if (!host.outside_ip.empty()) {
    EXPECT_THAT(r->stdout_data, HasSubstr("host_outside_ip 97"));
  }
  EXPECT_THAT(r->stdout_data, HasSubstr("unix_pair ok"));
  EXPECT_LT(accept(host.fd, nullptr, nullptr), 0);
  close(host.fd);

  // And no /etc at all.
  ASSERT_TRUE((*box)->WriteFile("main.py", "import os\nprint(sorted(os.listdir('/')))\n").ok());
  r = (*box)->Run(request, absl::InfiniteFuture());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout_data,
            "['bin', 'box', 'dev', 'lib', 'lib64', 'proc', 'sbin', 'tmp', 'usr']\n");
}

TEST(SandboxNetwork, SeparateRunsDoNotShareALoopback) {
  // One run listens on a fixed port for 3 s; another, in another sandbox at
  // the same time, keeps trying to connect to it and finds nobody there. The
  // clock is the host's, so the times show that the tries overlapped the
  // listening.
  auto server_box = Sandbox::Create(TestSandboxOptions());
  auto client_box = Sandbox::Create(TestSandboxOptions());
  ASSERT_TRUE(server_box.ok()) << server_box.status();
  ASSERT_TRUE(client_box.ok()) << client_box.status();
  ASSERT_TRUE((*server_box)
                  ->WriteFile("main.py", R"py(import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 24680))
s.listen(8)
print("listening %.6f" % time.time(), flush=True)
s.settimeout(3)
try:
    s.accept()
    print("ACCEPTED")
except OSError:
    print("nobody came %.6f" % time.time())
)py")
                  .ok());
  ASSERT_TRUE((*client_box)
                  ->WriteFile("main.py", R"py(import socket, time
end = time.time() + 2
while True:
    try:
        socket.create_connection(("127.0.0.1", 24680), timeout=1)
        print("CONNECTED")
        break
    except OSError as e:
        if time.time() > end:
            print("refused %d %.6f" % (e.errno, time.time()))
            break
        time.sleep(0.02)
)py")
                  .ok());
  RunRequest request;
  request.argv = {kPython, "-B", "/box/main.py"};
  request.limits = TestLimits();
  request.limits.wall_seconds = 10;
  absl::StatusOr<RunResult> server;
  std::thread serving([&] { server = (*server_box)->Run(request, absl::InfiniteFuture()); });
  absl::SleepFor(absl::Milliseconds(300));
  auto client = (*client_box)->Run(request, absl::InfiniteFuture());
  serving.join();
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE(client.ok()) << client.status();
  double listening = 0, gave_up = 0, nobody = 0;
  int err = 0;
  ASSERT_EQ(sscanf(server->stdout_data.c_str(), "listening %lf\nnobody came %lf", &listening,
                   &nobody),
            2)
      << server->stdout_data << server->stderr_data;
  ASSERT_EQ(sscanf(client->stdout_data.c_str(), "refused %d %lf", &err, &gave_up), 2)
      << client->stdout_data << client->stderr_data;
  EXPECT_EQ(err, 111);  // ECONNREFUSED
  // The last refused try came while the other run was listening.
  EXPECT_LT(listening, gave_up);
  EXPECT_LT(gave_up, nobody);
}

TEST_F(SandboxTest, RunsUnprivilegedWithoutCapabilities) {
  // Asked of the kernel directly: there is no /proc/self/status in here.
  RunResult r = RunPython(R"py(import ctypes, os
print("uid", os.getuid(), os.getgid(), os.getgroups())
libc = ctypes.CDLL(None, use_errno=True)
header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
data = (ctypes.c_uint32 * 6)()  # {effective, permitted, inheritable} x 2
print("capget", libc.capget(header, data), "effective", data[0], data[3], "permitted", data[1], data[4])
print("NoNewPrivs", libc.prctl(39, 0, 0, 0, 0))  # PR_GET_NO_NEW_PRIVS
print("Seccomp", libc.prctl(21, 0, 0, 0, 0))  # PR_GET_SECCOMP: 2 = filter
)py");
  EXPECT_EQ(r.exit_code, 0) << r.stderr_data;
  if (geteuid() == 0) {
    EXPECT_THAT(r.stdout_data, HasSubstr(absl::StrCat("uid ", box_->uid(), " ", box_->uid(), " []")));
    EXPECT_GE(box_->uid(), testing::kTestUidBase);
  }
  EXPECT_THAT(r.stdout_data, Not(HasSubstr("uid 0 ")));
  EXPECT_THAT(r.stdout_data, HasSubstr("capget 0 effective 0 0 permitted 0 0"));
  EXPECT_THAT(r.stdout_data, HasSubstr("NoNewPrivs 1"));
  EXPECT_THAT(r.stdout_data, HasSubstr("Seccomp 2"));
}

TEST_F(SandboxTest, SeccompDeniesNamespacesAndPtrace) {
  RunResult r = RunPython(R"py(import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
print("unshare", libc.unshare(0x10000000), ctypes.get_errno())
print("ptrace", libc.ptrace(16, 1, 0, 0), ctypes.get_errno())
print("mount", libc.mount(b"none", b"/tmp", b"tmpfs", 0, None), ctypes.get_errno())
pid = os.fork()
if pid == 0:
    os._exit(7)
print("fork ok", os.waitpid(pid, 0)[1] >> 8)
)py");
  EXPECT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_THAT(r.stdout_data, HasSubstr("unshare -1 1"));
  EXPECT_THAT(r.stdout_data, HasSubstr("ptrace -1 1"));
  EXPECT_THAT(r.stdout_data, HasSubstr("mount -1 1"));
  EXPECT_THAT(r.stdout_data, HasSubstr("fork ok 7"));
}

TEST_F(SandboxTest, InheritsNoDescriptorsOfTheService) {
  // Not close-on-exec, as a careless library in the service might leave it.
  const int leaked = open("/proc/self/status", O_RDONLY);
  ASSERT_GE(leaked, 0);
  // Every descriptor number below the limit, probed (there is no /proc/self/fd).
  RunResult r = RunPython(R"py(import os, resource
open_fds = []
for fd in range(resource.getrlimit(resource.RLIMIT_NOFILE)[0]):
    try:
        os.fstat(fd)
        open_fds.append(fd)
    except OSError:
        pass
print(open_fds)
)py");
  close(leaked);
  EXPECT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_EQ(r.stdout_data, "[0, 1, 2]\n");
}

TEST_F(SandboxTest, WorkspaceIsReadOnlyForRunsAndWritableForCompiles) {
  ASSERT_TRUE(box_->WriteFile("data.txt", "given").ok());
  RunRequest request;
  request.argv = {kPython, "-c",
                  "print(open('/box/data.txt').read())\nopen('/box/out.txt', 'w').write('x')"};
  request.limits = TestLimits();
  auto run = box_->Run(request, absl::InfiniteFuture());
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->stdout_data, "given\n");
  EXPECT_THAT(run->stderr_data, HasSubstr("Read-only file system"));
  request.writable_workspace = true;
  run = box_->Run(request, absl::InfiniteFuture());
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 0) << run->stderr_data;
  EXPECT_EQ(testing::ReadWhole(box_->workspace_dir() + "/out.txt"), "x");
}

TEST_F(SandboxTest, InfiniteLoopHitsCpuLimit) {
  RunResult r = RunPython("while True:\n    pass\n");
  EXPECT_EQ(r.termination, Termination::kCpuLimit);
  // Measured by the run's cgroup (or `times` in clock ticks without one):
  // close to the 1 s limit, not exact.
  EXPECT_GT(r.cpu_seconds, 0.5);
}

TEST_F(SandboxTest, SleepHitsWallLimit) {
  Limits limits = TestLimits();
  limits.wall_seconds = 1.0;
  RunResult r = RunPython("import time\ntime.sleep(1000)\n", limits);
  EXPECT_EQ(r.termination, Termination::kWallLimit);
  EXPECT_LT(r.wall_seconds, 500);  // the limit, not the sleep, ended it
}

TEST_F(SandboxTest, DeadlineBeforeWallLimitStopsTheRun) {
  Limits limits = TestLimits();
  limits.wall_seconds = 1000;  // only the deadline or cancel can end it within 500 s
  const absl::Time start = absl::Now();
  RunResult r =
      RunPython("import time\ntime.sleep(10000)\n", limits, "", absl::Now() + absl::Seconds(1));
  EXPECT_EQ(r.termination, Termination::kWallLimit);
  EXPECT_LT(absl::Now() - start, absl::Seconds(500));
}

TEST_F(SandboxTest, CancellationKillsPromptly) {
  Limits limits = TestLimits();
  limits.wall_seconds = 1000;  // only the deadline or cancel can end it within 500 s
  limits.cpu_seconds = 1000;
  std::atomic<bool> cancelled{false};
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(500));
    cancelled = true;
  });
  const absl::Time start = absl::Now();
  RunResult r = RunPython("import time\ntime.sleep(10000)\n", limits, "", absl::InfiniteFuture(),
                          &cancelled);
  canceller.join();
  EXPECT_EQ(r.termination, Termination::kCancelled);
  EXPECT_LT(absl::Now() - start, absl::Seconds(500));
}

TEST_F(SandboxTest, CancellationDuringSetupLeavesNothingBehind) {
  // Cancelled at different moments of bwrap's setup: a pid 1 whose bwrap
  // died before it was done setting up must not live on.
  Limits limits = TestLimits();
  limits.wall_seconds = 1000;  // only the deadline or cancel can end it within 500 s
  const std::string token = Token();
  for (int delay_ms = 0; delay_ms <= 60; delay_ms += 6) {
    std::atomic<bool> cancelled{false};
    std::thread canceller([&] {
      absl::SleepFor(absl::Milliseconds(delay_ms));
      cancelled = true;
    });
    RunRequest request;
    request.argv = {kPython, "-c", "import time; time.sleep(10000)", token};
    request.limits = limits;
    const absl::Time start = absl::Now();
    auto run = box_->Run(request, absl::InfiniteFuture(), &cancelled);
    canceller.join();
    ASSERT_TRUE(run.ok()) << run.status();
    EXPECT_EQ(run->termination, Termination::kCancelled) << delay_ms;
    EXPECT_LT(absl::Now() - start, absl::Seconds(500));
    EXPECT_THAT(LeftoverProcesses(token), ::testing::IsEmpty()) << delay_ms;
  }
}

TEST_F(SandboxTest, OutputFloodIsCutAtTheCap) {
  RunResult r = RunPython("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n");
  EXPECT_EQ(r.termination, Termination::kOutputLimit);
  EXPECT_EQ(r.stdout_data.size(), static_cast<size_t>(TestLimits().max_output_bytes));
  RunResult e = RunPython("import sys\nwhile True:\n    sys.stderr.write('y' * 65536)\n");
  EXPECT_EQ(e.termination, Termination::kOutputLimit);
}

TEST_F(SandboxTest, HugeFilesStopAtFileSizeAndScratchSpaceLimits) {
  // One huge file, then many files, in each writable place.
  RunResult r = RunPython(R"py(for d in ["/tmp", "/dev/shm"]:
    written = 0
    for i in range(8):
        try:
            with open("%s/f%d" % (d, i), "wb") as f:
                while True:
                    f.write(b"z" * 65536)
                    f.flush()
                    written += 65536
        except OSError:
            pass
    print(written)
for p in ["/dev/evil", "/evil", "/proc/evil"]:
    try:
        open(p, "w").write("x")
        print("WROTE", p)
    except OSError:
        pass
)py");
  EXPECT_EQ(r.exit_code, 0) << r.stderr_data;
  std::vector<std::string> lines = absl::StrSplit(r.stdout_data, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << r.stdout_data;
  for (const std::string& line : lines) {
    int64_t written = 0;
    ASSERT_TRUE(absl::SimpleAtoi(line, &written)) << line;
    EXPECT_GT(written, 0);
    EXPECT_LE(written, TestLimits().max_file_bytes);
  }
}

TEST_F(SandboxTest, MemoryBombGetsMemoryError) {
  RunResult r = RunPython(R"py(blocks = []
while True:
    blocks.append(bytearray(16 << 20))
)py");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.stderr_data, HasSubstr("MemoryError"));
}

TEST_F(SandboxTest, ForkBombIsCappedByProcessLimit) {
  const std::string token = Token();
  RunResult r = RunPython(absl::StrCat(R"py(import os
children = 0
for i in range(200):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        os.execv("/usr/bin/python3", ["python3", "-c", "import time; time.sleep(30)", ")py",
                                       token, R"py("])
    children += 1
print("children", children)
)py"));
  EXPECT_EQ(r.exit_code, 0) << r.stderr_data;
  int children = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripPrefix(absl::StripSuffix(r.stdout_data, "\n"),
                                                 "children "),
                               &children))
      << r.stdout_data;
  EXPECT_GT(children, 0);
  EXPECT_LT(children, TestLimits().max_processes + 2);
  // The sleeping children went with the sandbox.
  EXPECT_THAT(LeftoverProcesses(token), ::testing::IsEmpty());
}

TEST_F(SandboxTest, KillingItsParentsHarmsNothing) {
  // Its parent is bwrap's init, pid 1 (the wrapper shell executed it; without
  // the cgroup's CPU accounting the shell is its parent); killing either (or
  // everything, -1) may end the run but nothing outside the sandbox.
  RunResult r = RunPython(R"py(import os, signal, sys
print("ppid", os.getppid(), flush=True)
for target in (1, -1, os.getppid()):
    try:
        os.kill(target, signal.SIGKILL)
        print("sent", target, flush=True)
    except OSError as e:
        print("refused", target, e.errno, flush=True)
)py");
  EXPECT_THAT(r.stdout_data, HasSubstr("ppid"));
  EXPECT_NE(r.termination, Termination::kWallLimit);
  // The sandbox still works afterwards.
  RunResult again = RunPython("print('fine')\n");
  EXPECT_EQ(again.stdout_data, "fine\n");
}

TEST_F(SandboxTest, DaemonizedGrandchildDoesNotSurvive) {
  const std::string token = Token();
  RunResult r = RunPython(absl::StrCat(R"py(import os
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/usr/bin/python3", ["python3", "-c", "import time; time.sleep(60)", ")py",
                                       token, R"py("])
    os._exit(0)
os.wait()
print("parent done")
)py"));
  EXPECT_THAT(r.stdout_data, HasSubstr("parent done"));
  EXPECT_THAT(LeftoverProcesses(token), ::testing::IsEmpty());
  // The sandbox keeps its uid between runs; once Run returned, no process of
  // that uid is left either.
  if (geteuid() == 0) {
    EXPECT_THAT(testing::ProcessesWithUidIn(box_->uid(), box_->uid() + 1), ::testing::IsEmpty());
  }
}

TEST(SandboxSetup, MissingBwrapIsAnErrorNamingIt) {
  SandboxOptions options = TestSandboxOptions();
  options.bwrap_path = "/usr/bin/no-such-bwrap";
  auto box = Sandbox::Create(options);
  EXPECT_EQ(box.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(box.status().message(), HasSubstr("/usr/bin/no-such-bwrap"));
  absl::Status check = CheckSandbox(options, kPython);
  EXPECT_EQ(check.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(check.message(), HasSubstr("/usr/bin/no-such-bwrap"));
}

TEST(SandboxSetup, BrokenBwrapIsAnErrorNotACrash) {
  SandboxOptions options = TestSandboxOptions();
  options.bwrap_path = "/usr/bin/false";
  absl::Status check = CheckSandbox(options, kPython);
  EXPECT_EQ(check.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(check.message(), HasSubstr("/usr/bin/false"));
}

TEST(SandboxSetup, WorkingSandboxPassesTheCheck) {
  EXPECT_TRUE(CheckSandbox(TestSandboxOptions(), kPython).ok());
  EXPECT_EQ(CheckSandbox(TestSandboxOptions(), "/usr/bin/no-python").code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SandboxSetup, ResetWorkspaceLeavesAFreshEmptyOneAndKeepsTheUid) {
  auto box = Sandbox::Create(TestSandboxOptions());
  ASSERT_TRUE(box.ok()) << box.status();
  const int uid = (*box)->uid();
  const std::string old_dir = (*box)->workspace_dir();
  // A writable run leaves files, a folder, a symlink out and open permissions.
  RunRequest request;
  request.argv = {kPython, "-c", R"py(import os
open("/box/left.txt", "w").write("x")
os.mkdir("/box/sub")
open("/box/sub/deep", "w").write("y")
os.symlink("/usr", "/box/link")
os.chmod("/box", 0o777)
)py"};
  request.limits = TestLimits();
  request.writable_workspace = true;
  auto run = (*box)->Run(request, absl::InfiniteFuture());
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->exit_code, 0) << run->stderr_data;
  ASSERT_TRUE((*box)->ResetWorkspace().ok());
  EXPECT_FALSE(std::filesystem::exists(old_dir));
  EXPECT_NE((*box)->workspace_dir(), old_dir);
  EXPECT_EQ((*box)->uid(), uid);
  EXPECT_TRUE(std::filesystem::is_empty((*box)->workspace_dir()));
  EXPECT_EQ(std::filesystem::status((*box)->workspace_dir()).permissions(),
            std::filesystem::perms::owner_all);
  request.argv = {kPython, "-c", "import os; print(sorted(os.listdir('/box')))"};
  request.writable_workspace = false;
  run = (*box)->Run(request, absl::InfiniteFuture());
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->stdout_data, "[]\n");
}

TEST(SandboxSetup, DestructionRemovesTheWorkspace) {
  std::string dir, root;
  {
    auto box = Sandbox::Create(TestSandboxOptions());
    ASSERT_TRUE(box.ok()) << box.status();
    dir = (*box)->workspace_dir();
    root = (*box)->root_dir();
    ASSERT_TRUE((*box)->WriteFile("x", "y").ok());
    EXPECT_TRUE(std::filesystem::exists(dir));
    EXPECT_TRUE(std::filesystem::exists(root + "/usr"));
    EXPECT_FALSE((*box)->WriteFile("../escape", "y").ok());
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_FALSE(std::filesystem::exists(root));
}

}  // namespace
}  // namespace r1::sandbox
