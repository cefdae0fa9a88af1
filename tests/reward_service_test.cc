// The reward service as deployed: a real `r1-reward serve` process on
// loopback, driven through the client library the learner uses.
#include <signal.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "common/jsonl.h"
#include "common/subprocess.h"
#include "reward/client.h"

namespace r1::reward {
namespace {

using ::testing::HasSubstr;

// A field of /proc/<pid>/status ("VmRSS", "VmHWM"), in bytes; -1 if absent.
int64_t ProcessMemory(pid_t pid, const std::string& field) {
  const std::string status = ReadFile(absl::StrCat("/proc/", pid, "/status")).value_or("");
  const size_t at = status.find(field + ":");
  if (at == std::string::npos) return -1;
  return std::strtoll(status.c_str() + at + field.size() + 1, nullptr, 10) * 1024;  // the file says kB
}

constexpr char kConfig[] = R"pb(
name: "reward_test"
reward {
  rules { rule: "math" weight: 1 }
  rules { rule: "countdown" weight: 1 }
  rules { rule: "code" weight: 1 code { wall_seconds: 20 cpu_seconds: 20 } }
  rules { rule: "format" weight: 0.5 }
  rules { rule: "repetition" weight: 0.1 }
  max_concurrent_sandboxes: 2
}
)pb";

class RewardServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("R1_BIN_DIR");
    bin_dir_ = bin != nullptr ? bin : "build/bin";
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("r1_reward_test_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    ASSERT_TRUE(WriteFileAtomically(Path("run.textproto"), kConfig).ok());
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // Starts the server with extra flags and returns its address once it serves.
  std::string StartServer(const std::vector<std::string>& flags = {}) {
    std::vector<std::string> argv = {bin_dir_ + "/r1-reward", "serve", Path("run.textproto"), "--port_file",
                                     Path("port")};
    argv.insert(argv.end(), flags.begin(), flags.end());
    SubprocessOptions options;
    options.stdout_path = Path("server.out");
    options.stderr_path = Path("server.err");
    auto started = Subprocess::Start(argv, options);
    EXPECT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
    for (int i = 0; i < 500 && !std::filesystem::exists(Path("port")); ++i) {
      if (!server_->Running()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    int port = 0;
    const std::string text = ReadFile(Path("port")).value_or("");
    EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &port))
        << "no port file; server stderr:\n" << ReadFile(Path("server.err")).value_or("");
    return absl::StrCat("127.0.0.1:", port);
  }

  std::unique_ptr<RewardClient> Connect(const std::string& address, const ClientOptions& options = {}) {
    auto client = RewardClient::Connect(address, options);
    EXPECT_TRUE(client.ok()) << client.status();
    return std::move(*client);
  }

  static ScoreItem Item(const std::string& task, const std::string& completion, const std::string& reference) {
    ScoreItem item;
    item.set_task(task);
    item.set_completion(completion);
    item.set_reference(reference);
    return item;
  }

  std::string bin_dir_;
  std::filesystem::path dir_;
  std::unique_ptr<Subprocess> server_;
};

TEST_F(RewardServiceTest, ScoresABatchInOrderAndABadItemDoesNotSpoilIt) {
  const std::string address = StartServer();
  auto client = Connect(address);
  ASSERT_TRUE(client->WaitUntilServing(absl::Seconds(10)).ok());
  std::vector<ScoreItem> items = {
      Item("math", "<think>6 * 7</think><answer>\\frac{84}{2}</answer>", "42"),
      Item("math", "<think>6 * 7</think><answer>41</answer>", "42"),
      Item("", "<think>?</think><answer>1</answer>", "1"),
      Item("countdown", "<think>25 - 3</think><answer>25 - 3 * 1</answer>", "22"),
  };
  for (int n : {3, 1, 25}) items[3].add_numbers(n);
  // Test data that is not UTF-8 spoils its own item only: the request still
  // parses (reward.proto's CodeTest is proto2) and the scorer refuses the item.
  ScoreItem broken_test = Item("code", "<think>t</think><answer>```python\nprint(1)\n```</answer>", "");
  CodeTest* test = broken_test.add_tests();
  test->set_input("\xff\xfe\n");
  test->set_output("1\n");
  items.push_back(broken_test);
  for (size_t i = 0; i < items.size(); ++i) items[i].set_id(absl::StrCat("item-", i));
  absl::StatusOr<std::vector<ScoreResult>> results = client->Score(items);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 5u);
  for (size_t i = 0; i < items.size(); ++i) EXPECT_EQ((*results)[i].id(), items[i].id());
  EXPECT_TRUE((*results)[0].correct());
  EXPECT_DOUBLE_EQ((*results)[0].total(), 1.5);
  EXPECT_FALSE((*results)[1].correct());
  EXPECT_DOUBLE_EQ((*results)[1].total(), 0.5);
  EXPECT_EQ((*results)[2].error(), "item has no task");
  EXPECT_TRUE((*results)[3].correct());
  EXPECT_EQ((*results)[4].error(), "test 0 input is not valid UTF-8");
  EXPECT_EQ((*results)[4].error_code(), "invalid_item");

  // One log line per request, with its size and latency.
  server_->Stop();
  const std::string log = ReadFile(Path("server.err")).value_or("");
  EXPECT_THAT(log, HasSubstr("reward: Score"));
  EXPECT_THAT(log, HasSubstr("items=5"));
  EXPECT_THAT(log, HasSubstr("latency_ms="));
  EXPECT_THAT(log, HasSubstr("status=OK"));
}

TEST_F(RewardServiceTest, BadRequestsGetInvalidArgument) {
  const std::string address = StartServer({"--set", "reward.max_batch_items=3"});
  auto client = Connect(address);
  absl::StatusOr<std::vector<ScoreResult>> empty = client->Score({});
  EXPECT_TRUE(absl::IsInvalidArgument(empty.status())) << empty.status();
  EXPECT_THAT(empty.status().message(), HasSubstr("empty"));
  absl::StatusOr<std::vector<ScoreResult>> too_many = client->Score(std::vector<ScoreItem>(4, Item("math", "", "1")));
  EXPECT_TRUE(absl::IsInvalidArgument(too_many.status())) << too_many.status();
  EXPECT_THAT(too_many.status().message(), HasSubstr("at most 3"));
}

TEST_F(RewardServiceTest, HostileCompletionsGetAVerdict) {
  const std::string address = StartServer();
  auto client = Connect(address);
  std::string binary(4096, '\0');
  for (size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i * 7919);
  const std::vector<ScoreItem> items = {
      Item("math", std::string(1'000'000, '{'), "1"),
      Item("math", absl::StrCat("\\boxed{", std::string(500'000, '{'), "1", std::string(500'000, '}'), "}"), "1"),
      Item("math", std::string(5 << 20, 'a'), "1"),  // over max_completion_bytes (1 MiB)
      Item("math", binary, "1"),
      Item("countdown", absl::StrCat("<answer>", std::string(200'000, '('), "</answer>"), "1"),
  };
  ClientOptions options;
  options.timeout = absl::Seconds(60);
  auto slow_client = Connect(address, options);
  std::vector<ScoreItem> batch = items;
  batch[4].add_numbers(1);
  absl::StatusOr<std::vector<ScoreResult>> results = slow_client->Score(batch);
  ASSERT_TRUE(results.ok()) << results.status() << "\nserver log:\n" << ReadFile(Path("server.err")).value_or("");
  for (const ScoreResult& r : *results) {
    EXPECT_FALSE(r.correct());
    EXPECT_TRUE(r.error().empty()) << r.error();
    ASSERT_GT(r.rules_size(), 0);
  }
  // And the server still serves.
  absl::StatusOr<std::vector<ScoreResult>> after = client->Score({Item("math", "<answer>1</answer>", "1")});
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE((*after)[0].correct());
}

TEST_F(RewardServiceTest, TokenIsRequiredWhenConfigured) {
  ASSERT_TRUE(WriteFileAtomically(Path("token"), "s3cret\n").ok());
  const std::string address = StartServer({"--token_file", Path("token")});
  auto anonymous = Connect(address);
  absl::StatusOr<std::vector<ScoreResult>> refused = anonymous->Score({Item("math", "<answer>1</answer>", "1")});
  EXPECT_TRUE(absl::IsUnauthenticated(refused.status())) << refused.status();
  ClientOptions wrong;
  wrong.token = "guess";
  EXPECT_TRUE(absl::IsUnauthenticated(Connect(address, wrong)->Score({Item("math", "1", "1")}).status()));
  ClientOptions right;
  right.token = "s3cret";
  absl::StatusOr<std::vector<ScoreResult>> accepted = Connect(address, right)->Score({Item("math", "\\boxed{1}", "1")});
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_TRUE((*accepted)[0].correct());
}

TEST_F(RewardServiceTest, ATokenIsCheckedBeforeTheRequestIsRead) {
  ASSERT_TRUE(WriteFileAtomically(Path("token"), "s3cret\n").ok());
  const std::string address = StartServer({"--token_file", Path("token")});
  // Health checks need no token (probes carry no secrets).
  ASSERT_TRUE(Connect(address)->WaitUntilServing(absl::Seconds(10)).ok());
  // Large calls without the token or with a wrong one are refused from their
  // headers: the server never buffers or parses their 200 MiB (it once did,
  // and six such calls took it from 18 MB to 1.7 GB).
  constexpr int64_t kBytes = 200 << 20;
  const std::vector<ScoreItem> huge = {Item("math", std::string(static_cast<size_t>(kBytes), 'x'), "1")};
  ClientOptions wrong;
  wrong.token = "guess";
  const int64_t rss_before = ProcessMemory(server_->pid(), "VmRSS");
  const int64_t peak_before = ProcessMemory(server_->pid(), "VmHWM");
  for (const ClientOptions& options : {ClientOptions(), wrong, ClientOptions(), wrong, ClientOptions(), wrong}) {
    absl::StatusOr<std::vector<ScoreResult>> refused = Connect(address, options)->Score(huge);
    EXPECT_TRUE(absl::IsUnauthenticated(refused.status())) << refused.status();
  }
  const int64_t rss_after = ProcessMemory(server_->pid(), "VmRSS");
  const int64_t peak_after = ProcessMemory(server_->pid(), "VmHWM");
  std::printf("6 tokenless/wrong-token Score calls of %lld MiB: server RSS %lld -> %lld MiB, peak %lld -> %lld MiB\n",
              static_cast<long long>(kBytes >> 20), static_cast<long long>(rss_before >> 20),
              static_cast<long long>(rss_after >> 20), static_cast<long long>(peak_before >> 20),
              static_cast<long long>(peak_after >> 20));
  EXPECT_LT(peak_after - peak_before, kBytes / 4);
  ClientOptions right;
  right.token = "s3cret";
  absl::StatusOr<std::vector<ScoreResult>> accepted = Connect(address, right)->Score({Item("math", "\\boxed{1}", "1")});
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_TRUE((*accepted)[0].correct());
}

TEST_F(RewardServiceTest, ServesTls) {
  // A self-signed certificate for "localhost", made by openssl for this test.
  const std::string command =
      absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost ",
                   "-addext subjectAltName=DNS:localhost -keyout ", Path("key.pem"), " -out ", Path("cert.pem"),
                   " >/dev/null 2>&1");
  ASSERT_EQ(std::system(command.c_str()), 0) << "openssl failed";
  const std::string address = StartServer({"--tls_cert", Path("cert.pem"), "--tls_key", Path("key.pem")});
  ClientOptions tls;
  tls.tls_root_cert_file = Path("cert.pem");
  tls.tls_server_name = "localhost";
  absl::StatusOr<std::vector<ScoreResult>> secure = Connect(address, tls)->Score({Item("math", "\\boxed{2}", "2")});
  ASSERT_TRUE(secure.ok()) << secure.status();
  EXPECT_TRUE((*secure)[0].correct());
  // A plaintext client cannot talk to a TLS-only server.
  ClientOptions plain;
  plain.timeout = absl::Seconds(3);
  plain.max_attempts = 1;
  EXPECT_FALSE(Connect(address, plain)->Score({Item("math", "\\boxed{2}", "2")}).ok());
}

// A caller's deadline ends the sandboxes it was waiting for. The sandbox
// limits here are 600 s and both of the pool's sandboxes run a loop whose
// caller gave up after 1 s: the next item can only be scored (within the 300 s
// the test allows it) if the server stopped them.
TEST_F(RewardServiceTest, DeadlineStopsASandboxAndTheServerKeepsServing) {
  std::string config = kConfig;
  const std::string limits = "wall_seconds: 20 cpu_seconds: 20";
  config.replace(config.find(limits), limits.size(), "wall_seconds: 600 cpu_seconds: 600");
  ASSERT_TRUE(WriteFileAtomically(Path("run.textproto"), config).ok());
  const std::string address = StartServer();
  ScoreItem loop = Item("code", "```python\nwhile True:\n    pass\n```", "");
  CodeTest* test = loop.add_tests();
  test->set_input("");
  test->set_output("1\n");
  ClientOptions impatient;
  impatient.timeout = absl::Seconds(1);
  impatient.max_attempts = 1;
  absl::StatusOr<std::vector<ScoreResult>> late = Connect(address, impatient)->Score({loop, loop});
  EXPECT_TRUE(absl::IsDeadlineExceeded(late.status())) << late.status();
  ScoreItem hello = Item("code", "```python\nprint(input())\n```", "");
  test = hello.add_tests();
  test->set_input("7\n");
  test->set_output("7\n");
  ClientOptions patient;
  patient.timeout = absl::Seconds(300);
  patient.max_attempts = 1;
  absl::StatusOr<std::vector<ScoreResult>> next = Connect(address, patient)->Score({hello});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_TRUE((*next)[0].correct()) << (*next)[0].DebugString();
}

TEST_F(RewardServiceTest, SigtermShutsDownCleanly) {
  const std::string address = StartServer();
  ASSERT_TRUE(Connect(address)->WaitUntilServing(absl::Seconds(10)).ok());
  server_->Signal(SIGTERM);
  absl::StatusOr<int> code = server_->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << "server did not exit on SIGTERM";
  EXPECT_EQ(*code, 0);
}

TEST_F(RewardServiceTest, BadConfigAndBusyPortFailWithOneLine) {
  ASSERT_TRUE(WriteFileAtomically(Path("bad.textproto"), "reward { rules { rule: \"telepathy\" } }").ok());
  auto bad = Subprocess::Start({bin_dir_ + "/r1-reward", "serve", Path("bad.textproto")},
                               {.stdout_path = Path("o"), .stderr_path = Path("e")});
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ((*bad)->Wait(absl::Seconds(20)).value_or(-1), 1);
  EXPECT_THAT(ReadFile(Path("e")).value_or(""), HasSubstr("rules[0].rule"));

  const std::string address = StartServer();
  auto busy = Subprocess::Start({bin_dir_ + "/r1-reward", "serve", Path("run.textproto"), "--address", address},
                                {.stdout_path = Path("o2"), .stderr_path = Path("e2")});
  ASSERT_TRUE(busy.ok());
  EXPECT_EQ((*busy)->Wait(absl::Seconds(20)).value_or(-1), 1);
  EXPECT_THAT(ReadFile(Path("e2")).value_or(""), HasSubstr("cannot listen"));
}

TEST_F(RewardServiceTest, OfflineScoringOfAFile) {
  JsonlWriter writer;
  ASSERT_TRUE(writer.Open(Path("items.jsonl")).ok());
  ScoreItem right = Item("math", "<think>a</think><answer>10</answer>", "10");
  right.set_id("a");
  ScoreItem wrong = Item("math", "<think>a</think><answer>11</answer>", "10");
  wrong.set_id("b");
  ASSERT_TRUE(writer.Write(right).ok());
  ASSERT_TRUE(writer.Write(wrong).ok());
  ASSERT_TRUE(writer.Commit().ok());
  auto run = Subprocess::Start({bin_dir_ + "/r1-reward", "score", Path("run.textproto"), "--file",
                                Path("items.jsonl"), "--out", Path("scores.jsonl")},
                               {.stdout_path = Path("o"), .stderr_path = Path("e")});
  ASSERT_TRUE(run.ok());
  ASSERT_EQ((*run)->Wait(absl::Seconds(30)).value_or(-1), 0) << ReadFile(Path("e")).value_or("");
  EXPECT_THAT(ReadFile(Path("o")).value_or(""), HasSubstr("2 items (0 invalid): mean reward 1.0000, accuracy 0.5000"));
  absl::StatusOr<std::vector<ScoreResult>> scores = ReadJsonl<ScoreResult>(Path("scores.jsonl"));
  ASSERT_TRUE(scores.ok()) << scores.status();
  ASSERT_EQ(scores->size(), 2u);
  EXPECT_EQ((*scores)[0].id(), "a");
  EXPECT_TRUE((*scores)[0].correct());
  EXPECT_FALSE((*scores)[1].correct());
}

}  // namespace
}  // namespace r1::reward
