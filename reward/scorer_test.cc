#include "reward/scorer.h"

#include <gtest/gtest.h>

#include <gmock/gmock.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/records.pb.h"
#include "reward/client.h"

namespace r1::reward {
namespace {

config::RewardServiceConfig Mix(std::initializer_list<std::pair<const char*, double>> rules) {
  config::RewardServiceConfig config;
  for (const auto& [name, weight] : rules) {
    config::RewardRuleConfig* rule = config.add_rules();
    rule->set_rule(name);
    rule->set_weight(weight);
  }
  return config;
}

ScoreItem Item(const std::string& task, const std::string& completion, const std::string& reference) {
  ScoreItem item;
  item.set_id("item-1");
  item.set_task(task);
  item.set_completion(completion);
  item.set_reference(reference);
  return item;
}

std::map<std::string, RuleScore> ByRule(const ScoreResult& result) {
  std::map<std::string, RuleScore> rules;
  for (const RuleScore& r : result.rules()) rules[r.rule()] = r;
  return rules;
}

ScoreResult ScoreOne(const Scorer& scorer, const ScoreItem& item) {
  return scorer.Score(item, absl::InfiniteFuture(), nullptr);
}

TEST(Scorer, TotalIsTheWeightedSumOfTheRulesThatApply) {
  auto scorer = Scorer::Create(Mix({{"math", 1.0}, {"countdown", 1.0}, {"format", 0.2}}));
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  const ScoreResult right = ScoreOne(**scorer, Item("arithmetic", "<think>2 + 2 = 4.</think><answer>4</answer>", "4"));
  EXPECT_EQ(right.id(), "item-1");
  EXPECT_TRUE(right.error().empty());
  EXPECT_TRUE(right.correct());
  EXPECT_DOUBLE_EQ(right.total(), 1.2);
  // Countdown does not apply to an arithmetic item.
  const auto rules = ByRule(right);
  EXPECT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules.at("math").reason(), "equal");
  EXPECT_EQ(rules.at("format").weight(), 0.2);

  const ScoreResult wrong = ScoreOne(**scorer, Item("arithmetic", "<think>2 + 2 = 5.</think><answer>5</answer>", "4"));
  EXPECT_FALSE(wrong.correct());
  EXPECT_DOUBLE_EQ(wrong.total(), 0.2);

  const ScoreResult unformatted = ScoreOne(**scorer, Item("math", "The answer is \\boxed{4}.", "4"));
  EXPECT_TRUE(unformatted.correct());
  EXPECT_DOUBLE_EQ(unformatted.total(), 1.0);
  EXPECT_EQ(ByRule(unformatted).at("format").reason(), "missing_tag");
}

// The math rule's options reach extraction and the verifier.
TEST(Scorer, MathRuleOptionsReachTheVerifier) {
  const auto math = [](const std::function<void(config::MathRuleConfig&)>& set, const ScoreItem& item) {
    config::RewardServiceConfig config = Mix({{"math", 1.0}});
    set(*config.mutable_rules(0)->mutable_math());
    auto scorer = Scorer::Create(config);
    EXPECT_TRUE(scorer.ok()) << scorer.status();
    return ByRule(ScoreOne(**scorer, item)).at("math");
  };
  const auto defaults = [](config::MathRuleConfig&) {};
  const ScoreItem unfinished = Item("math", "<think>so \\boxed{5}", "5");
  EXPECT_EQ(math(defaults, unfinished).reason(), "unfinished_think");
  EXPECT_EQ(math([](config::MathRuleConfig& m) { m.set_answer_after_think(false); }, unfinished).score(), 1.0);

  const ScoreItem third = Item("math", "<think>t</think><answer>0.333333</answer>", "\\frac{1}{3}");
  EXPECT_EQ(math(defaults, third).score(), 1.0);
  EXPECT_EQ(math([](config::MathRuleConfig& m) { m.set_precision(0); }, third).score(), 0.0);

  const ScoreItem renamed = Item("math", "<think>t</think><answer>y^2 + 1</answer>", "x^2 + 1");
  EXPECT_EQ(math(defaults, renamed).score(), 0.0);
  EXPECT_EQ(math([](config::MathRuleConfig& m) { m.set_strict(false); }, renamed).score(), 1.0);
}

TEST(Scorer, CountdownItemsUseTheCountdownRule) {
  auto scorer = Scorer::Create(Mix({{"math", 1.0}, {"countdown", 1.0}}));
  ASSERT_TRUE(scorer.ok());
  ScoreItem item = Item("countdown", "<think>25 - 3 = 22</think><answer>25 - (3 * 1)</answer>", "22");
  for (int n : {3, 1, 25}) item.add_numbers(n);
  const ScoreResult result = ScoreOne(**scorer, item);
  EXPECT_TRUE(result.correct());
  EXPECT_EQ(ByRule(result).count("math"), 0u);
  item.set_completion("<think>x</think><answer>25 - 3</answer>");
  EXPECT_EQ(ByRule(ScoreOne(**scorer, item)).at("countdown").reason(), "wrong_numbers");
  item.set_completion("no tags at all");
  EXPECT_EQ(ByRule(ScoreOne(**scorer, item)).at("countdown").reason(), "no_answer");
}

TEST(Scorer, BadItemsGetAnErrorAndTheRestAreScored) {
  auto scorer = Scorer::Create(Mix({{"math", 1.0}, {"countdown", 1.0}, {"format", 0.5}}));
  ASSERT_TRUE(scorer.ok());
  const ScoreItem good = Item("math", "<think>a</think><answer>7</answer>", "7");
  const ScoreItem no_task = Item("", "<think>a</think><answer>7</answer>", "7");
  const ScoreItem countdown_without_numbers = Item("countdown", "<think>a</think><answer>1+2</answer>", "3");
  const ScoreItem code_without_tests = Item("code", "```python\nprint(1)\n```", "");
  const std::vector<ScoreResult> results =
      (*scorer)->ScoreBatch({&good, &no_task, &countdown_without_numbers, &code_without_tests, &good},
                            absl::InfiniteFuture(), nullptr);
  ASSERT_EQ(results.size(), 5u);
  EXPECT_TRUE(results[0].correct());
  EXPECT_DOUBLE_EQ(results[0].total(), 1.5);
  EXPECT_EQ(results[1].error(), "item has no task");
  EXPECT_EQ(results[2].error(), "countdown item has no numbers");
  EXPECT_EQ(results[3].error(), "code item has no tests");
  for (int i : {1, 2, 3}) EXPECT_EQ(results[i].total(), 0.0);
  EXPECT_DOUBLE_EQ(results[4].total(), 1.5);
}

TEST(Scorer, UnparsableGoldNeverScores) {
  auto scorer = Scorer::Create(Mix({{"math", 1.0}}));
  ASSERT_TRUE(scorer.ok());
  const ScoreResult result = ScoreOne(**scorer, Item("math", "<answer>}{</answer>", "}{"));
  EXPECT_FALSE(result.correct());
  EXPECT_EQ(result.total(), 0.0);
}

TEST(Scorer, CompletionsOverTheByteLimitScoreZeroButGetAVerdict) {
  config::RewardServiceConfig config = Mix({{"math", 1.0}, {"format", 1.0}, {"length", 1.0}});
  config.set_max_completion_bytes(1000);
  config.mutable_rules(2)->mutable_length()->set_max_length(500);
  config.mutable_rules(2)->mutable_length()->set_overlong_buffer(100);
  auto scorer = Scorer::Create(config);
  ASSERT_TRUE(scorer.ok());
  const std::string huge = absl::StrCat("<think>", std::string(5000, 'a'), "</think><answer>4</answer>");
  const ScoreResult result = ScoreOne(**scorer, Item("math", huge, "4"));
  EXPECT_FALSE(result.correct());
  const auto rules = ByRule(result);
  EXPECT_EQ(rules.at("math").reason(), "completion_too_long");
  EXPECT_EQ(rules.at("format").reason(), "completion_too_long");
  EXPECT_EQ(rules.at("length").score(), -1.0);
  EXPECT_DOUBLE_EQ(result.total(), -1.0);
}

TEST(Scorer, CosineLengthUsesCorrectness) {
  config::RewardServiceConfig config = Mix({{"math", 0.0}, {"length", 1.0}});
  config.mutable_rules(1)->mutable_length()->set_mode(config::COSINE);
  config.mutable_rules(1)->mutable_length()->set_max_length(1000);  // the completion is 34 characters
  auto scorer = Scorer::Create(config);
  ASSERT_TRUE(scorer.ok());
  ScoreItem item = Item("math", "<think>a</think><answer>4</answer>", "4");
  item.set_completion_tokens(0);
  const double right = ScoreOne(**scorer, item).total();
  item.set_reference("5");
  const double wrong = ScoreOne(**scorer, item).total();
  EXPECT_GT(right, 0.99);   // correct and short: near correct_short (1)
  EXPECT_LT(wrong, -0.49);  // wrong and short: near wrong_short (-0.5)
}

// Code items: a scorer with a real sandbox pool, on uids and a workspace
// folder of its own.
class CodeScorerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    work_root_ = std::filesystem::temp_directory_path() /
                 absl::StrCat("r1_scorer_test_", getpid(), "_",
                              ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(work_root_);
    options_.sandbox.work_root = work_root_.string();
    options_.sandbox.uid_base = 61160;  // apart from services' and the sandbox tests' ranges
    options_.sandbox.uid_count = 16;
  }
  void TearDown() override { std::filesystem::remove_all(work_root_); }

  absl::StatusOr<std::unique_ptr<Scorer>> Make(int max_concurrent = 2, int max_queued = 16,
                                               const std::string& compare = "") {
    config::RewardServiceConfig config = Mix({{"code", 1.0}, {"format", 0.5}});
    config.mutable_rules(0)->mutable_code()->set_wall_seconds(60);
    config.mutable_rules(0)->mutable_code()->set_cpu_seconds(60);
    if (!compare.empty()) config.mutable_rules(0)->mutable_code()->set_compare(compare);
    config.set_max_concurrent_sandboxes(max_concurrent);
    config.set_max_queued_sandboxes(max_queued);
    return Scorer::Create(config, options_);
  }

  static ScoreItem Code(const std::string& program, const std::string& input, const std::string& output) {
    ScoreItem item = Item("code", absl::StrCat("<think>t</think><answer>```python\n", program, "\n```</answer>"), "");
    CodeTest* test = item.add_tests();
    test->set_input(input);
    test->set_output(output);
    return item;
  }

  // The contract of scorer.h for an item that got no score.
  static void ExpectNoScore(const ScoreResult& result, const std::string& code) {
    EXPECT_EQ(result.error_code(), code) << result.DebugString();
    EXPECT_FALSE(result.error().empty());
    EXPECT_EQ(result.total(), 0.0);
    EXPECT_FALSE(result.correct());
    EXPECT_EQ(result.rules_size(), 0);
  }

  std::filesystem::path work_root_;
  ScorerOptions options_;
};

TEST_F(CodeScorerTest, BadTestDataIsAnInvalidItemNotAWrongAnswer) {
  auto scorer = Make();
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  ScoreItem bad_entry_point = Code("def f(x):\n    return x", "[1]", "1");
  bad_entry_point.set_entry_point("f; import os");
  ScoreItem deep_json = Code("def f(x):\n    return x", std::string(600, '[') + std::string(600, ']'), "1");
  deep_json.set_entry_point("f");
  ScoreItem not_json = Code("def f(x):\n    return x", "[1", "1");
  not_json.set_entry_point("f");
  ScoreItem bad_input = Code("print(input())", "caf\xe9\n", "cafe\n");  // Latin-1, not UTF-8
  ScoreItem bad_output = Code("print(input())", "x\n", "\xc0\xaf\n");     // an overlong '/'
  const ScoreItem good = Code("print(input())", "7\n", "7\n");
  const std::vector<ScoreResult> results = (*scorer)->ScoreBatch(
      {&bad_entry_point, &deep_json, &not_json, &bad_input, &bad_output, &good}, absl::InfiniteFuture(), nullptr);
  ASSERT_EQ(results.size(), 6u);
  for (int i = 0; i < 5; ++i) ExpectNoScore(results[i], "invalid_item");
  EXPECT_THAT(results[0].error(), ::testing::HasSubstr("not a Python identifier"));
  EXPECT_THAT(results[1].error(), ::testing::HasSubstr("nesting too deep"));
  EXPECT_THAT(results[3].error(), ::testing::HasSubstr("test 0 input is not valid UTF-8"));
  EXPECT_THAT(results[4].error(), ::testing::HasSubstr("test 0 output is not valid UTF-8"));
  // The rest of the batch is scored.
  EXPECT_TRUE(results[5].error().empty()) << results[5].error();
  EXPECT_TRUE(results[5].correct());
  EXPECT_DOUBLE_EQ(results[5].total(), 1.5);
  // The old item errors carry the code too.
  ExpectNoScore(ScoreOne(**scorer, Item("", "x", "")), "invalid_item");
}

TEST_F(CodeScorerTest, MalformedOrFailingProgramsAreScoredNotErrors) {
  auto scorer = Make();
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  ScoreItem no_code = Code("", "", "");
  no_code.set_completion("<think>t</think><answer>I cannot write this.</answer>");
  ScoreItem broken_utf8 = Code("", "", "");
  broken_utf8.set_completion("<think>\xff\xfe</think><answer>```python\nprint('\xff')\n```</answer>");
  const ScoreItem crash = Code("raise SystemExit(3)", "", "1\n");
  for (const ScoreItem* item : std::vector<const ScoreItem*>{&no_code, &broken_utf8, &crash}) {
    const ScoreResult result = ScoreOne(**scorer, *item);
    EXPECT_TRUE(result.error().empty()) << result.DebugString();
    EXPECT_TRUE(result.error_code().empty());
    EXPECT_FALSE(result.correct());
    EXPECT_EQ(ByRule(result).at("code").score(), 0.0);
  }
  EXPECT_EQ(ByRule(ScoreOne(**scorer, no_code)).at("code").reason(), "no_code");
  EXPECT_EQ(ByRule(ScoreOne(**scorer, crash)).at("code").reason(), "runtime_error");
}

TEST_F(CodeScorerTest, FullPoolIsAnErrorAndCancellationToo) {
  // One sandbox, no queue: while a sleeper holds it, the next item is refused.
  auto scorer = Make(/*max_concurrent=*/1, /*max_queued=*/0);
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  const ScoreItem sleeper = Code("import time\ntime.sleep(600)", "", "done\n");
  std::atomic<bool> cancelled{false};
  ScoreResult slept;
  std::thread holder([&] { slept = (*scorer)->Score(sleeper, absl::InfiniteFuture(), &cancelled); });
  // The sleeper holds the slot once its program is in a workspace (the pool
  // keeps a sandbox from its start, but with an empty workspace: each call's
  // files are removed before its slot is given back).
  auto has_workspace = [&] {
    std::error_code error;
    for (std::filesystem::recursive_directory_iterator entry(work_root_, error), end;
         !error && entry != end; entry.increment(error)) {
      if (entry->path().filename() == "solution.py") return true;
    }
    return false;
  };
  bool holding = false;
  for (int i = 0; i < 20000 && !holding; ++i) {
    holding = has_workspace();
    if (!holding) absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_TRUE(holding);
  const ScoreResult busy = ScoreOne(**scorer, Code("print(1)", "", "1\n"));
  cancelled = true;
  holder.join();
  ExpectNoScore(busy, "sandbox_busy");
  EXPECT_THAT(busy.error(), ::testing::HasSubstr("busy"));
  ExpectNoScore(slept, "cancelled");
  // Free again: scored as usual.
  EXPECT_TRUE(ScoreOne(**scorer, Code("print(1)", "", "1\n")).correct());
}

// A function-call problem as `r1 data import --format code` writes it: the
// item the learner sends (ScoreItemFor) must carry its entry point, or the
// right function would be run as a stdin program and score 0.
TEST_F(CodeScorerTest, ImportedFunctionCallRecordsKeepTheirEntryPoint) {
  auto scorer = Make();
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  data::PromptRecord record;
  record.set_prompt("Write add(a, b).");
  record.set_task("code");
  record.set_entry_point("add");
  for (const auto& [input, output] : {std::pair<const char*, const char*>{"[2, 3]", "5"}, {"[-1, 1]", "0"}}) {
    data::TestCase* test = record.add_tests();
    test->set_input(input);
    test->set_output(output);
  }
  const auto answer = [](const std::string& body) {
    return absl::StrCat("<think>t</think><answer>```python\ndef add(a, b):\n    return ", body, "\n```</answer>");
  };
  const ScoreItem right = ScoreItemFor(record, answer("a + b"), 20, false);
  EXPECT_EQ(right.entry_point(), "add");
  ASSERT_EQ(right.tests_size(), 2);
  EXPECT_EQ(right.tests(1).input(), "[-1, 1]");
  const ScoreResult scored = ScoreOne(**scorer, right);
  EXPECT_TRUE(scored.error().empty()) << scored.DebugString();
  EXPECT_TRUE(scored.correct()) << scored.DebugString();
  const ScoreResult wrong = ScoreOne(**scorer, ScoreItemFor(record, answer("a - b"), 20, false));
  EXPECT_TRUE(wrong.error().empty()) << wrong.DebugString();
  EXPECT_FALSE(wrong.correct());
}

// code.loopback_network reaches the sandbox: a program that talks to itself
// over 127.0.0.1 passes with it (the default) and fails without.
TEST_F(CodeScorerTest, LoopbackNetworkOptionReachesTheSandbox) {
  const ScoreItem item = Code(
      "import socket\n"
      "server = socket.socket()\n"
      "server.bind(('127.0.0.1', 0))\n"
      "server.listen(1)\n"
      "client = socket.create_connection(server.getsockname())\n"
      "peer, _ = server.accept()\n"
      "client.sendall(input().encode())\n"
      "print(peer.recv(16).decode())",
      "7\n", "7\n");
  auto with_loopback = Make();
  ASSERT_TRUE(with_loopback.ok()) << with_loopback.status();
  const ScoreResult served = ScoreOne(**with_loopback, item);
  EXPECT_TRUE(served.correct()) << served.DebugString();

  config::RewardServiceConfig config = Mix({{"code", 1.0}});
  config.mutable_rules(0)->mutable_code()->set_loopback_network(false);
  auto without = Scorer::Create(config, options_);
  ASSERT_TRUE(without.ok()) << without.status();
  const ScoreResult refused = ScoreOne(**without, item);
  EXPECT_TRUE(refused.error().empty()) << refused.DebugString();  // the program's failure, not the service's
  EXPECT_FALSE(refused.correct());
  EXPECT_EQ(ByRule(refused).at("code").reason(), "runtime_error");
}

// Output comparison modes (sandbox/compare.h): the item's, else the rule's,
// else tokens.
TEST_F(CodeScorerTest, CompareModeComesFromTheItemThenTheRule) {
  auto scorer = Make();
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  const auto scored = [&](const ScoreItem& item) {
    const ScoreResult result = ScoreOne(**scorer, item);
    EXPECT_TRUE(result.error().empty()) << result.DebugString();
    return result;
  };
  // Default tokens: line breaks are whitespace, token boundaries are not.
  const ScoreItem two_lines = Code("print(1)\nprint(2)", "", "1 2\n");
  EXPECT_TRUE(scored(two_lines).correct());
  EXPECT_FALSE(scored(Code("print(12)", "", "1 2\n")).correct());
  ScoreItem lines = two_lines;
  lines.set_compare("lines");
  EXPECT_FALSE(scored(lines).correct());
  EXPECT_EQ(ByRule(scored(lines)).at("code").reason(), "failed");
  ScoreItem exact = Code("print(42)", "", "42");
  exact.set_compare("exact");
  EXPECT_TRUE(scored(exact).correct());
  exact.mutable_tests(0)->set_output("42 ");
  EXPECT_FALSE(scored(exact).correct());
  ScoreItem close = Code("print(0.5000001)", "", "0.5\n");
  EXPECT_FALSE(scored(close).correct());  // tokens: text
  close.set_compare("numeric");
  EXPECT_TRUE(scored(close).correct());
  ScoreItem off = Code("print(0.51)", "", "0.5\n");
  off.set_compare("numeric");
  EXPECT_FALSE(scored(off).correct());
  off.set_compare("numeric:0.1");
  EXPECT_TRUE(scored(off).correct());

  // The rule's default applies to items that do not say; an item's own wins.
  auto numeric = Make(2, 16, "numeric");
  ASSERT_TRUE(numeric.ok()) << numeric.status();
  EXPECT_TRUE(ScoreOne(**numeric, Code("print(0.5000001)", "", "0.5\n")).correct());
  EXPECT_FALSE(ScoreOne(**numeric, Code("print(0.51)", "", "0.5\n")).correct());
  ScoreItem own = Code("print(0.5000001)", "", "0.5\n");
  own.set_compare("tokens");
  EXPECT_FALSE(ScoreOne(**numeric, own).correct());
}

TEST_F(CodeScorerTest, AnUnknownCompareModeIsAnInvalidItemOrConfig) {
  auto scorer = Make();
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  ScoreItem item = Code("print(1)", "", "1\n");
  item.set_compare("fuzzy");
  const ScoreResult result = ScoreOne(**scorer, item);
  ExpectNoScore(result, "invalid_item");
  EXPECT_THAT(result.error(), ::testing::HasSubstr("\"fuzzy\""));
  item.set_compare("numeric:-1");
  ExpectNoScore(ScoreOne(**scorer, item), "invalid_item");
  const std::vector<ScoreResult> batch = (*scorer)->ScoreBatch({&item}, absl::InfiniteFuture(), nullptr);
  ExpectNoScore(batch.at(0), "invalid_item");

  auto bad_config = Make(2, 16, "Tokens");
  ASSERT_FALSE(bad_config.ok());
  EXPECT_EQ(bad_config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_config.status().message(), ::testing::HasSubstr("code.compare"));
  EXPECT_THAT(bad_config.status().message(), ::testing::HasSubstr("\"Tokens\""));
}

TEST_F(CodeScorerTest, ImportedRecordsKeepTheirCompareMode) {
  auto scorer = Make();
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  data::PromptRecord record;
  record.set_task("code");
  record.set_compare("numeric:1e-3");
  data::TestCase* test = record.add_tests();
  test->set_input("");
  test->set_output("3.1416\n");
  const auto answer = [](const std::string& value) {
    return absl::StrCat("<think>t</think><answer>```python\nprint(", value, ")\n```</answer>");
  };
  const ScoreItem close = ScoreItemFor(record, answer("3.14159"), 20, false);
  EXPECT_EQ(close.compare(), "numeric:1e-3");
  EXPECT_TRUE(ScoreOne(**scorer, close).correct());
  EXPECT_FALSE(ScoreOne(**scorer, ScoreItemFor(record, answer("3.15"), 20, false)).correct());
  record.clear_compare();
  EXPECT_FALSE(ScoreItemFor(record, answer("3.14159"), 20, false).has_compare());
}

// C++ function-call items (LeetCode style) beside Python's.
TEST_F(CodeScorerTest, CppFunctionCallItems) {
  auto scorer = Make();
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  const auto item = [](const std::string& program) {
    ScoreItem item = Item("code", absl::StrCat("<think>t</think><answer>```cpp\n", program, "\n```</answer>"), "");
    item.set_code_language("cpp");
    item.set_entry_point("twoSum");
    for (const auto& [input, output] :
         {std::pair<const char*, const char*>{"[[2, 7, 11, 15], 9]", "[0, 1]"}, {"[[3, 2, 4], 6]", "[1, 2]"}}) {
      CodeTest* test = item.add_tests();
      test->set_input(input);
      test->set_output(output);
    }
    return item;
  };
  const ScoreResult right = ScoreOne(**scorer, item(R"cc(class Solution {
public:
    vector<int> twoSum(vector<int>& nums, int target) {
        for (int i = 0; i < (int)nums.size(); ++i)
            for (int j = i + 1; j < (int)nums.size(); ++j)
                if (nums[i] + nums[j] == target) return {i, j};
        return {};
    }
};)cc"));
  EXPECT_TRUE(right.error().empty()) << right.DebugString();
  EXPECT_TRUE(right.correct()) << right.DebugString();
  const ScoreResult wrong = ScoreOne(**scorer, item(R"cc(class Solution {
public:
    vector<int> twoSum(vector<int>& nums, int target) { return {0, 1}; }
};)cc"));
  EXPECT_TRUE(wrong.error().empty()) << wrong.DebugString();
  EXPECT_FALSE(wrong.correct());
  EXPECT_DOUBLE_EQ(ByRule(wrong).at("code").score(), 0.5);
  // A parameter type the driver cannot fill: the item cannot be judged, which
  // is no verdict on the program.
  const ScoreResult unsupported = ScoreOne(**scorer, item(R"cc(class Solution {
public:
    vector<int> twoSum(map<int, int> nums, int target) { return {}; }
};)cc"));
  ExpectNoScore(unsupported, "invalid_item");
  EXPECT_THAT(unsupported.error(), ::testing::HasSubstr("std::map<int, int>"));
}

TEST_F(CodeScorerTest, SandboxFailureIsAnError) {
  auto scorer = Make();
  ASSERT_TRUE(scorer.ok()) << scorer.status();
  // The workspace root vanishes under a running service.
  std::filesystem::remove_all(work_root_);
  ExpectNoScore(ScoreOne(**scorer, Code("print(1)", "", "1\n")), "sandbox_error");
}

TEST(Scorer, RejectsAnEmptyMix) {
  EXPECT_FALSE(Scorer::Create(config::RewardServiceConfig()).ok());
}

}  // namespace
}  // namespace r1::reward
