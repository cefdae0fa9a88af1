// Infrastructure faults of a real `r1-reward serve` process, seen through the
// client the learner uses: a full sandbox pool or bad test data is a
// per-item error (error_code, total 0, no rules), never a score the learner
// would read as a wrong answer; a program that attacks the host's memory is
// a verdict on the model (reason "memory"), not an error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "common/subprocess.h"
#include "reward/client.h"

namespace r1::reward {
namespace {

using ::testing::HasSubstr;

// One sandbox and no queue, short runs: a second code item while one runs is
// refused at once.
constexpr char kConfig[] = R"pb(
name: "reward_infra_test"
reward {
  rules { rule: "math" weight: 1 }
  rules { rule: "code" weight: 1 code { wall_seconds: 2 cpu_seconds: 2 memory_mb: 256 } }
  rules { rule: "format" weight: 0.5 }
  max_concurrent_sandboxes: 1
  max_queued_sandboxes: 0
}
)pb";

class RewardInfraTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("R1_BIN_DIR");
    bin_dir_ = bin != nullptr ? bin : "build/bin";
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("r1_reward_infra_test_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    ASSERT_TRUE(WriteFileAtomically(Path("run.textproto"), kConfig).ok());
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // Starts the server and returns its address once it serves.
  std::string StartServer() {
    SubprocessOptions options;
    options.stdout_path = Path("server.out");
    options.stderr_path = Path("server.err");
    auto started = Subprocess::Start(
        {bin_dir_ + "/r1-reward", "serve", Path("run.textproto"), "--port_file", Path("port"), "--quiet"},
        options);
    EXPECT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
    for (int i = 0; i < 1500 && !std::filesystem::exists(Path("port")); ++i) {
      if (!server_->Running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    int port = 0;
    EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFile(Path("port")).value_or("")), &port))
        << "no port file; server stderr:\n" << ReadFile(Path("server.err")).value_or("");
    return absl::StrCat("127.0.0.1:", port);
  }

  absl::StatusOr<std::vector<ScoreResult>> Score(const std::string& address, const std::vector<ScoreItem>& items) {
    auto client = RewardClient::Connect(address);
    if (!client.ok()) return client.status();
    return (*client)->Score(items);
  }

  static ScoreItem Code(const std::string& program, const std::string& input, const std::string& output) {
    ScoreItem item;
    item.set_task("code");
    item.set_completion(absl::StrCat("<think>t</think><answer>```python\n", program, "\n```</answer>"));
    CodeTest* test = item.add_tests();
    test->set_input(input);
    test->set_output(output);
    return item;
  }

  static ScoreItem Math(const std::string& answer, const std::string& reference) {
    ScoreItem item;
    item.set_task("math");
    item.set_completion(absl::StrCat("<think>t</think><answer>", answer, "</answer>"));
    item.set_reference(reference);
    return item;
  }

  // scorer.h's contract for an item that got no score.
  static void ExpectNoScore(const ScoreResult& result, const std::string& code) {
    EXPECT_EQ(result.error_code(), code) << result.DebugString();
    EXPECT_FALSE(result.error().empty());
    EXPECT_EQ(result.total(), 0.0);
    EXPECT_FALSE(result.correct());
    EXPECT_EQ(result.rules_size(), 0);
  }

  std::string bin_dir_;
  std::filesystem::path dir_;
  std::unique_ptr<Subprocess> server_;
};

TEST_F(RewardInfraTest, FullSandboxPoolIsAPerItemErrorNotAZeroScore) {
  const std::string address = StartServer();
  // Three sleepers in one call: the server judges code items on two threads,
  // so while one sleeper holds the only sandbox (until its 2 s wall limit)
  // the others find no sandbox and no queue.
  const ScoreItem sleeper = Code("import time\ntime.sleep(600)", "", "done\n");
  absl::StatusOr<std::vector<ScoreResult>> results =
      Score(address, {sleeper, Math("4", "4"), sleeper, sleeper});
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 4u);
  EXPECT_TRUE((*results)[1].correct());
  EXPECT_DOUBLE_EQ((*results)[1].total(), 1.5);
  int ran = 0, busy = 0;
  for (int i : {0, 2, 3}) {
    const ScoreResult& result = (*results)[i];
    if (result.error().empty()) {
      ++ran;
      // The sleeper that ran: a verdict on the program, no error.
      EXPECT_TRUE(result.error_code().empty());
      ASSERT_EQ(result.rules_size(), 2) << result.DebugString();
      EXPECT_EQ(result.rules(0).reason(), "timeout");
    } else {
      ++busy;
      ExpectNoScore(result, "sandbox_busy");
      EXPECT_THAT(result.error(), HasSubstr("busy"));
    }
  }
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(busy, 2);
}

TEST_F(RewardInfraTest, BadTestDataIsAPerItemErrorAndTheBatchIsScored) {
  const std::string address = StartServer();
  ScoreItem bad_entry_point = Code("def f(x):\n    return x", "[1]", "1");
  bad_entry_point.set_entry_point("f(); import os");
  ScoreItem deep_json = Code("def f(x):\n    return x", std::string(600, '[') + std::string(600, ']'), "1");
  deep_json.set_entry_point("f");
  const ScoreItem good = Code("def f(x):\n    return x + 1", "[1]", "2");
  ScoreItem good_call = good;
  good_call.set_entry_point("f");
  absl::StatusOr<std::vector<ScoreResult>> results =
      Score(address, {bad_entry_point, deep_json, good_call, Math("5", "4")});
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 4u);
  ExpectNoScore((*results)[0], "invalid_item");
  EXPECT_THAT((*results)[0].error(), HasSubstr("not a Python identifier"));
  ExpectNoScore((*results)[1], "invalid_item");
  EXPECT_THAT((*results)[1].error(), HasSubstr("nesting too deep"));
  EXPECT_TRUE((*results)[2].error().empty()) << (*results)[2].error();
  EXPECT_TRUE((*results)[2].correct());
  // A wrong answer is a score, not an error.
  EXPECT_TRUE((*results)[3].error().empty());
  EXPECT_FALSE((*results)[3].correct());
  EXPECT_DOUBLE_EQ((*results)[3].total(), 0.5);
}

TEST_F(RewardInfraTest, MemoryAttackIsAVerdictOnTheProgram) {
  const std::string address = StartServer();
  // 1 GiB of SysV shared memory in 64 MiB segments, attached one at a time:
  // no address-space limit sees it; the run's cgroup (256 MiB) does.
  const ScoreItem hog = Code(R"py(import ctypes
libc = ctypes.CDLL(None)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
for i in range(16):
    address = libc.shmat(libc.shmget(0, 64 << 20, 0o1600), None, 0)
    ctypes.memset(address, 1, 64 << 20)
    libc.shmdt(address)
print("held 1 GiB"))py",
                             "", "held 1 GiB\n");
  absl::StatusOr<std::vector<ScoreResult>> results = Score(address, {hog});
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 1u);
  const ScoreResult& result = (*results)[0];
  EXPECT_TRUE(result.error().empty()) << result.error();
  EXPECT_FALSE(result.correct());
  ASSERT_GE(result.rules_size(), 1);
  EXPECT_EQ(result.rules(0).rule(), "code");
  EXPECT_EQ(result.rules(0).reason(), "memory");
  EXPECT_EQ(result.rules(0).score(), 0.0);
}

}  // namespace
}  // namespace r1::reward
