// Judging through SandboxPool: verdicts and rewards for normal programs, the
// pool's concurrency, queue and cancellation, and hostile programs that the
// pool must contain while it keeps serving.
#include "sandbox/pool.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/test_util.h"

namespace r1::sandbox {
namespace {

using ::r1::sandbox::testing::LeftoverProcesses;
using ::r1::sandbox::testing::TestLimits;
using ::r1::sandbox::testing::TestSandboxOptions;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

PoolOptions TestPoolOptions(int max_concurrent = 2, int max_queued = 16) {
  PoolOptions options;
  options.max_concurrent = max_concurrent;
  options.max_queued = max_queued;
  options.sandbox = TestSandboxOptions();
  options.judge.run_limits = TestLimits();
  return options;
}

std::vector<Outcome> Outcomes(const JudgeResult& result) {
  std::vector<Outcome> outcomes;
  for (const CaseResult& c : result.cases) outcomes.push_back(c.outcome);
  return outcomes;
}

Submission Python(const std::string& source, std::vector<TestCase> tests,
                  const std::string& entry_point = "") {
  Submission s;
  s.language = Language::kPython;
  s.source = source;
  s.entry_point = entry_point;
  s.tests = std::move(tests);
  return s;
}

absl::Time Soon() { return absl::Now() + absl::Seconds(60); }

class PoolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto pool = SandboxPool::Create(TestPoolOptions());
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = pool->release();
  }
  static void TearDownTestSuite() {
    delete pool_;
    pool_ = nullptr;
  }

  JudgeResult MustJudge(const Submission& submission, absl::Time deadline = Soon(),
                        const std::atomic<bool>* cancelled = nullptr) {
    absl::StatusOr<JudgeResult> result = pool_->Judge(submission, deadline, cancelled);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : JudgeResult{};
  }

  // The pool still judges a normal program correctly.
  void ExpectStillServing() {
    JudgeResult r = MustJudge(Python("print(int(input()) * 2)\n", {{"21\n", "42\n"}}));
    EXPECT_THAT(Outcomes(r), ElementsAre(Outcome::kPassed));
  }

  static std::string Token() { return absl::StrCat("r1token", getpid(), "y", rand()); }

  static SandboxPool* pool_;
};

SandboxPool* PoolTest::pool_ = nullptr;

constexpr char kAddTwoNumbers[] = "a, b = map(int, input().split())\nprint(a + b)\n";

TEST_F(PoolTest, CorrectPythonPasses) {
  JudgeResult r = MustJudge(Python(kAddTwoNumbers, {{"1 2\n", "3\n"}, {"10 -4", "6"}}));
  EXPECT_THAT(Outcomes(r), ElementsAre(Outcome::kPassed, Outcome::kPassed));
  EXPECT_EQ(r.passed, 2);
  EXPECT_DOUBLE_EQ(r.reward, 1.0);
  EXPECT_EQ(r.reason, "passed");
}

TEST_F(PoolTest, WrongAnswerFailsWithADiff) {
  JudgeResult r = MustJudge(Python("print(7)\n", {{"", "8\n"}}));
  EXPECT_THAT(Outcomes(r), ElementsAre(Outcome::kFailed));
  EXPECT_EQ(r.cases[0].detail, "line 1: expected \"8\", got \"7\"");
  EXPECT_EQ(r.reason, "failed");
  EXPECT_DOUBLE_EQ(r.reward, 0.0);
}

TEST_F(PoolTest, RuntimeErrorIsReportedWithTheTraceback) {
  JudgeResult r = MustJudge(Python("print(1 // 0)\n", {{"", "0"}}));
  EXPECT_THAT(Outcomes(r), ElementsAre(Outcome::kRuntimeError));
  EXPECT_THAT(r.cases[0].detail, HasSubstr("ZeroDivisionError"));
  EXPECT_EQ(r.reason, "runtime_error");
}

TEST_F(PoolTest, RewardIsFractionOrAllOrNothing) {
  Submission s = Python(kAddTwoNumbers, {{"1 1", "2"}, {"2 2", "4"}, {"3 3", "7"}});
  JudgeResult fraction = MustJudge(s);
  EXPECT_EQ(fraction.passed, 2);
  EXPECT_NEAR(fraction.reward, 2.0 / 3.0, 1e-12);
  EXPECT_EQ(fraction.reason, "failed");
  s.all_or_nothing = true;
  JudgeResult strict = MustJudge(s);
  EXPECT_EQ(strict.passed, 2);
  EXPECT_DOUBLE_EQ(strict.reward, 0.0);
  s.tests.pop_back();
  EXPECT_DOUBLE_EQ(MustJudge(s).reward, 1.0);
}

TEST_F(PoolTest, FunctionHarnessComparesJsonValues) {
  const std::string source = R"py(
def solve(xs, scale):
    print("debug output must not matter")
    return {"sum": sum(xs) * scale, "items": tuple(xs), "ratio": 1 / 3}
)py";
  Submission s = Python(source,
                        {{"[[1, 2, 3], 2]", R"({"items": [1, 2, 3], "sum": 12, "ratio": 0.3333333})"},
                         {"[[1], 1]", R"({"items": [1], "sum": 2, "ratio": 0.3333333})"}},
                        "solve");
  JudgeResult r = MustJudge(s);
  EXPECT_THAT(Outcomes(r), ElementsAre(Outcome::kPassed, Outcome::kFailed));
  EXPECT_THAT(r.cases[1].detail, HasSubstr("expected"));
  EXPECT_NEAR(r.reward, 0.5, 1e-12);
}

TEST_F(PoolTest, FunctionHarnessRuntimeErrorsAndBadReturnValues) {
  JudgeResult missing = MustJudge(Python("def other():\n    pass\n", {{"[]", "null"}}, "solve"));
  EXPECT_THAT(Outcomes(missing), ElementsAre(Outcome::kRuntimeError));
  EXPECT_THAT(missing.cases[0].detail, HasSubstr("no function 'solve'"));
  JudgeResult raises = MustJudge(Python("def solve(x):\n    return [][x]\n", {{"[3]", "0"}}, "solve"));
  EXPECT_THAT(Outcomes(raises), ElementsAre(Outcome::kRuntimeError));
  EXPECT_THAT(raises.cases[0].detail, HasSubstr("IndexError"));
  JudgeResult not_json = MustJudge(Python("def solve():\n    return {1, 2}\n", {{"[]", "[1, 2]"}}, "solve"));
  EXPECT_THAT(Outcomes(not_json), ElementsAre(Outcome::kFailed));
  EXPECT_THAT(not_json.cases[0].detail, HasSubstr("not JSON"));
  JudgeResult exits = MustJudge(Python("import sys\ndef solve():\n    sys.exit(0)\n", {{"[]", "1"}}, "solve"));
  EXPECT_THAT(Outcomes(exits), ElementsAre(Outcome::kRuntimeError));
}

TEST_F(PoolTest, InvalidDataIsAnErrorNotAVerdict) {
  EXPECT_EQ(pool_->Judge(Python("print(1)", {}), Soon()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pool_->Judge(Python("def f(): pass", {{"not json", "1"}}, "f"), Soon()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PoolTest, LimitsBecomeOutcomes) {
  JudgeResult loop = MustJudge(Python("while True:\n    pass\n", {{"", ""}}));
  EXPECT_THAT(Outcomes(loop), ElementsAre(Outcome::kTimeout));
  JudgeResult sleep = MustJudge(Python("import time\ntime.sleep(100)\n", {{"", ""}}));
  EXPECT_THAT(Outcomes(sleep), ElementsAre(Outcome::kTimeout));
  JudgeResult memory = MustJudge(Python("x = bytearray(8 << 30)\n", {{"", ""}}));
  EXPECT_THAT(Outcomes(memory), ElementsAre(Outcome::kMemoryLimit));
  EXPECT_EQ(memory.reason, "memory");
  JudgeResult flood = MustJudge(Python("while True:\n    print('spam' * 1000)\n", {{"", ""}}));
  EXPECT_THAT(Outcomes(flood), ElementsAre(Outcome::kOutputLimit));
  ExpectStillServing();
}

TEST_F(PoolTest, JudgeDeadlineTimesOutTheRestOfTheCases) {
  // Per-case limits of 1000 s: only the 1.5 s deadline can end the three
  // cases within the 500 s allowed (a margin no machine's speed decides).
  PoolOptions options = TestPoolOptions();
  options.judge.run_limits.wall_seconds = 1000;
  options.judge.run_limits.cpu_seconds = 1000;
  auto pool = SandboxPool::Create(options);
  ASSERT_TRUE(pool.ok()) << pool.status();
  Submission s = Python("import time\ntime.sleep(10000)\n", {{"", ""}, {"", ""}, {"", ""}});
  const absl::Time start = absl::Now();
  absl::StatusOr<JudgeResult> r = (*pool)->Judge(s, absl::Now() + absl::Milliseconds(1500), nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Outcomes(*r), ElementsAre(Outcome::kTimeout, Outcome::kTimeout, Outcome::kTimeout));
  EXPECT_LT(absl::Now() - start, absl::Seconds(500));
}

TEST_F(PoolTest, CppProgramCompilesAndHostileCasesAreContained) {
  // One compile, several behaviours chosen by the input.
  const std::string source = R"cc(
#include <signal.h>
#include <unistd.h>
#include <iostream>
#include <string>
#include <vector>
int main() {
  std::string mode;
  std::cin >> mode;
  if (mode == "sum") {
    long a, b;
    std::cin >> a >> b;
    std::cout << a + b << "\n";
  } else if (mode == "alloc") {
    std::vector<std::vector<char>> blocks;
    while (true) blocks.emplace_back(64 << 20, 'x');
  } else if (mode == "killall") {
    // Kills everything it can see: its parent and pid 1 are the namespace's
    // init, which ignores it, and nothing else is there, so it lives on.
    kill(getppid(), SIGKILL);
    kill(-1, SIGKILL);
    kill(1, SIGKILL);
    std::cout << "alive\n";
  } else if (mode == "forkbomb") {
    while (true) fork();
  } else if (mode == "segv") {
    volatile int* p = nullptr;
    *p = 1;
  }
  return 0;
}
)cc";
  Submission s;
  s.language = Language::kCpp;
  s.source = source;
  s.tests = {{"sum 20 22", "42"}, {"sum 1 1", "3"}, {"alloc", ""}, {"killall", "alive"},
             {"forkbomb", ""}, {"segv", ""}};
  JudgeResult r = MustJudge(s);
  EXPECT_THAT(Outcomes(r),
              ElementsAre(Outcome::kPassed, Outcome::kFailed, Outcome::kMemoryLimit,
                          Outcome::kPassed, Outcome::kTimeout, Outcome::kRuntimeError));
  EXPECT_THAT(r.cases[5].detail, HasSubstr("SEGV"));
  EXPECT_THAT(LeftoverProcesses(Token()), IsEmpty());
  ExpectStillServing();
}

TEST_F(PoolTest, CppCompileErrorFailsEveryCase) {
  Submission s;
  s.language = Language::kCpp;
  s.source = "int main() { return undeclared_thing; }\n";
  s.tests = {{"", ""}, {"", ""}};
  JudgeResult r = MustJudge(s);
  EXPECT_THAT(Outcomes(r), ElementsAre(Outcome::kCompileError, Outcome::kCompileError));
  EXPECT_THAT(r.cases[0].detail, HasSubstr("undeclared_thing"));
  EXPECT_EQ(r.reason, "compile_error");
  EXPECT_DOUBLE_EQ(r.reward, 0.0);
}

TEST_F(PoolTest, HostilePythonProgramsAreContained) {
  char dir[] = "/tmp/r1-pool-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string canary = absl::StrCat(dir, "/canary");
  { std::ofstream(canary) << "canary"; }
  const std::string token = Token();
  const std::vector<std::string> hostile = {
      // fork bomb
      "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
      // kill the parent and everything else it can see
      "import os\nos.kill(os.getppid(), 9)\nos.kill(-1, 9)\nprint('alive')\n",
      // a daemon meant to outlive the judge
      absl::StrCat("import os\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                   "        os.execv('/usr/bin/python3', ['python3', '-c', 'import time; "
                   "time.sleep(60)', '", token, "'])\n    os._exit(0)\nprint('bye')\n"),
      // the host file, by path and through /proc
      absl::StrCat("for p in ['", canary, "', '/proc/1/root", canary,
                   "']:\n    try:\n        open(p, 'w').write('pwned')\n    except OSError:\n"
                   "        pass\n"),
      // a huge file
      "f = open('/tmp/big', 'wb')\nwhile True:\n    f.write(b'0' * (1 << 20))\n",
  };
  for (const std::string& source : hostile) {
    JudgeResult r = MustJudge(Python(source, {{"", "whatever"}}));
    ASSERT_EQ(r.cases.size(), 1u);
    EXPECT_NE(r.cases[0].outcome, Outcome::kPassed) << source;
    ExpectStillServing();
  }
  EXPECT_EQ(testing::ReadWhole(canary), "canary");
  EXPECT_THAT(LeftoverProcesses(token), IsEmpty());
  std::filesystem::remove_all(dir);
}

TEST_F(PoolTest, ManySubmissionsThroughTwoSlotsAllComplete) {
  constexpr int kSubmissions = 6;
  std::vector<absl::StatusOr<JudgeResult>> results(kSubmissions);
  std::atomic<int> max_running{0};
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done) {
      max_running = std::max(max_running.load(), pool_->running());
      absl::SleepFor(absl::Milliseconds(2));
    }
  });
  std::vector<std::thread> threads;
  for (int i = 0; i < kSubmissions; ++i) {
    threads.emplace_back([&, i] {
      results[i] = pool_->Judge(
          Python("import time\ntime.sleep(0.2)\nprint(int(input()) + 1)\n",
                 {{absl::StrCat(i), absl::StrCat(i + 1)}}),
          Soon());
    });
  }
  for (std::thread& t : threads) t.join();
  done = true;
  watcher.join();
  for (int i = 0; i < kSubmissions; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    EXPECT_THAT(Outcomes(*results[i]), ElementsAre(Outcome::kPassed)) << i;
  }
  EXPECT_LE(max_running.load(), 2);
  EXPECT_EQ(pool_->running(), 0);
  EXPECT_EQ(pool_->queued(), 0);
}

TEST(SandboxPoolReuse, EachSubmissionGetsAFreshWorkspaceAndLeavesNoProcess) {
  // One slot, so every call gets the sandbox the one before it left.
  auto pool = SandboxPool::Create(TestPoolOptions(/*max_concurrent=*/1));
  ASSERT_TRUE(pool.ok()) << pool.status();
  const std::string token = absl::StrCat("r1token", getpid(), "z", rand());
  // A compile writes into the workspace; a daemon tries to outlive its run.
  Submission cpp;
  cpp.language = Language::kCpp;
  cpp.source = absl::StrCat(R"cc(#include <unistd.h>
#include <iostream>
int main() {
  if (fork() == 0) {
    setsid();
    if (fork() == 0) {
      execl("/usr/bin/python3", "python3", "-c", "import time; time.sleep(60)", ")cc",
                            token, R"cc(", (char*)nullptr);
    }
    _exit(0);
  }
  std::cout << getuid() << "\n";
}
)cc");
  cpp.tests = {{"", "whatever"}};
  // Passes only when the workspace holds nothing but its own source (and the
  // judge's runner).
  const std::string list_box = "import os\nprint(sorted(os.listdir('/box')))\n";
  for (int round = 0; round < 3; ++round) {
    absl::StatusOr<JudgeResult> compiled = (*pool)->Judge(cpp, Soon());
    ASSERT_TRUE(compiled.ok()) << compiled.status();
    ASSERT_EQ(compiled->cases.size(), 1u);
    EXPECT_EQ(compiled->cases[0].outcome, Outcome::kFailed) << compiled->cases[0].detail;
    absl::StatusOr<JudgeResult> listed =
        (*pool)->Judge(Python(list_box, {{"", "['_r1_main.py', 'solution.py']"}}), Soon());
    ASSERT_TRUE(listed.ok()) << listed.status();
    EXPECT_THAT(Outcomes(*listed), ElementsAre(Outcome::kPassed))
        << round << ": " << listed->cases[0].detail;
  }
  // Nothing of any run is left while the pool holds its sandbox's uid.
  EXPECT_THAT(LeftoverProcesses(token), IsEmpty());
  const std::vector<int> uids = (*pool)->idle_uids();
  ASSERT_EQ(uids.size(), 1u);
  if (geteuid() == 0) {
    EXPECT_THAT(testing::ProcessesWithUidIn(uids[0], uids[0] + 1), IsEmpty());
  }
}

TEST_F(PoolTest, CancellationStopsALongRunQuickly) {
  std::atomic<bool> cancelled{false};
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(500));
    cancelled = true;
  });
  // Limits twice the bound checked below, so only cancellation can end it.
  PoolOptions options = TestPoolOptions();
  options.judge.run_limits.wall_seconds = 1000;
  options.judge.run_limits.cpu_seconds = 1000;
  auto pool = SandboxPool::Create(options);
  ASSERT_TRUE(pool.ok()) << pool.status();
  const absl::Time start = absl::Now();
  Submission s = Python("import time\ntime.sleep(10000)\n", {{"", ""}, {"", ""}});
  absl::StatusOr<JudgeResult> r = (*pool)->Judge(s, absl::InfiniteFuture(), &cancelled);
  canceller.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Outcomes(*r), ElementsAre(Outcome::kCancelled, Outcome::kCancelled));
  EXPECT_EQ(r->reason, "cancelled");
  EXPECT_DOUBLE_EQ(r->reward, 0.0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(500));
}

TEST(SandboxPoolQueue, FullQueueIsResourceExhaustedAndQueuedCallsCancel) {
  PoolOptions options = TestPoolOptions(/*max_concurrent=*/1, /*max_queued=*/1);
  options.judge.run_limits.wall_seconds = 60;
  options.judge.run_limits.cpu_seconds = 60;
  auto pool = SandboxPool::Create(options);
  ASSERT_TRUE(pool.ok()) << pool.status();
  std::atomic<bool> cancelled{false};
  const Submission slow = Python("import time\ntime.sleep(100)\n", {{"", ""}});
  absl::StatusOr<JudgeResult> running_result, queued_result;
  std::thread running([&] { running_result = (*pool)->Judge(slow, Soon(), &cancelled); });
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  while ((*pool)->running() < 1 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
  std::thread queued([&] { queued_result = (*pool)->Judge(slow, Soon(), &cancelled); });
  while ((*pool)->queued() < 1 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ((*pool)->running(), 1);
  ASSERT_EQ((*pool)->queued(), 1);

  absl::StatusOr<JudgeResult> refused = (*pool)->Judge(slow, Soon());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);

  cancelled = true;
  running.join();
  queued.join();
  ASSERT_TRUE(running_result.ok()) << running_result.status();
  EXPECT_THAT(Outcomes(*running_result), ElementsAre(Outcome::kCancelled));
  EXPECT_EQ(queued_result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ((*pool)->running(), 0);
  EXPECT_EQ((*pool)->queued(), 0);
}

TEST(SandboxPoolQueue, DeadlineWhileQueuedIsDeadlineExceeded) {
  PoolOptions options = TestPoolOptions(/*max_concurrent=*/1, /*max_queued=*/4);
  options.judge.run_limits.wall_seconds = 60;
  options.judge.run_limits.cpu_seconds = 60;
  auto pool = SandboxPool::Create(options);
  ASSERT_TRUE(pool.ok()) << pool.status();
  std::atomic<bool> cancelled{false};
  const Submission slow = Python("import time\ntime.sleep(100)\n", {{"", ""}});
  std::thread running([&] { (void)(*pool)->Judge(slow, Soon(), &cancelled); });
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  while ((*pool)->running() < 1 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
  absl::StatusOr<JudgeResult> late = (*pool)->Judge(slow, absl::Now() + absl::Milliseconds(300));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded);
  cancelled = true;
  running.join();
}

TEST(SandboxPoolSetup, MissingBwrapFailsCreateWithItsPath) {
  PoolOptions options = TestPoolOptions();
  options.sandbox.bwrap_path = "/nonexistent/bwrap";
  auto pool = SandboxPool::Create(options);
  EXPECT_EQ(pool.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(pool.status().message(), HasSubstr("/nonexistent/bwrap"));
}

}  // namespace
}  // namespace r1::sandbox
