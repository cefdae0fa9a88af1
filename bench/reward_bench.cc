// Reward-service benchmarks (results go to BENCHMARKS.md with this command):
//   build/bin/reward_bench [--seconds 5] [--calls 40] [--sandbox_runs 40]
//                          [--only math|sandbox|server]
// 1. math verifications per second on one core: extraction + equivalence on a
//    realistic mix of completions (right and wrong, integers, fractions,
//    LaTeX, expressions, sets), single thread;
// 2. sandbox runs per second of a trivial Python program through the pool
//    (one at a time, then as many at once as there are cores);
// 3. p50/p99 latency of a Score call with 256 math completions against a
//    real `r1-reward serve` process on loopback.
// Medians and percentiles of repeated runs; the machines are shared.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "common/subprocess.h"
#include "reward/client.h"
#include "reward/scorer.h"
#include "sandbox/pool.h"

namespace r1::reward {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t index = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[index];
}

// Completions as a policy writes them, with their gold answers: about 60%
// right, the rest wrong or malformed, over the answer kinds the verifier knows.
std::vector<ScoreItem> RealisticMix() {
  const std::pair<const char*, const char*> answers[] = {
      {"42", "42"},
      {"-17", "-17"},
      {"1,234", "1234"},
      {"\\frac{3}{4}", "0.75"},
      {"\\dfrac{1}{3}", "\\frac{1}{3}"},
      {"2\\sqrt{2}", "\\sqrt{8}"},
      {"3\\pi", "3\\pi"},
      {"x = 5", "5"},
      {"50\\%", "0.5"},
      {"(1, 2)", "(1,2)"},
      {"\\{1, 2, 3\\}", "\\{3, 2, 1\\}"},
      {"2x + 1", "1 + 2x"},
      {"(x-1)(x+1)", "x^2 - 1"},
      {"[0, \\infty)", "[0,\\infty)"},
      {"41", "42"},
      {"\\frac{2}{3}", "0.75"},
      {"x^2 + 1", "x^2 - 1"},
      {"(2, 1)", "(1,2)"},
      {"12 \\text{ cm}", "12"},
      {"1.5 \\times 10^{3}", "1500"},
  };
  std::vector<ScoreItem> items;
  for (const auto& [answer, gold] : answers) {
    ScoreItem item;
    item.set_task("math");
    item.set_completion(absl::StrCat("<think>Let me work through this step by step. First we simplify the ",
                                     "expression, then we check the result against the conditions.</think>",
                                     "<answer>The answer is $\\boxed{", answer, "}$.</answer>"));
    item.set_reference(gold);
    items.push_back(item);
  }
  return items;
}

config::RewardServiceConfig MathMix() {
  config::RewardServiceConfig config;
  config.add_rules()->set_rule("math");
  config::RewardRuleConfig* format = config.add_rules();
  format->set_rule("format");
  format->set_weight(0.2);
  return config;
}

void BenchMath(double seconds) {
  auto scorer = Scorer::Create(MathMix());
  if (!scorer.ok()) {
    std::fprintf(stderr, "%s\n", std::string(scorer.status().message()).c_str());
    return;
  }
  const std::vector<ScoreItem> items = RealisticMix();
  std::vector<double> rates;
  int correct = 0;
  for (const ScoreItem& item : items) correct += (*scorer)->Score(item, absl::InfiniteFuture(), nullptr).correct();
  for (int round = 0; round < 5; ++round) {
    int64_t done = 0;
    const auto start = std::chrono::steady_clock::now();
    while (Seconds(start) < seconds / 5) {
      for (const ScoreItem& item : items) (*scorer)->Score(item, absl::InfiniteFuture(), nullptr);
      done += static_cast<int64_t>(items.size());
    }
    rates.push_back(static_cast<double>(done) / Seconds(start));
  }
  std::printf("{\"bench\": \"math_verify\", \"mix_items\": %zu, \"mix_correct\": %d, "
              "\"verifications_per_second_one_core_median\": %.0f}\n",
              items.size(), correct, Percentile(rates, 0.5));
}

void BenchSandbox(int runs) {
  sandbox::PoolOptions options;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.max_concurrent = cores;
  auto pool = sandbox::SandboxPool::Create(options);
  if (!pool.ok()) {
    std::fprintf(stderr, "sandbox: %s\n", std::string(pool.status().message()).c_str());
    return;
  }
  sandbox::Submission trivial;
  trivial.source = "print(int(input()) + 1)\n";
  trivial.tests.push_back({"41\n", "42\n"});
  std::vector<double> latencies;
  for (int i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<sandbox::JudgeResult> result = (*pool)->Judge(trivial, absl::Now() + absl::Seconds(30));
    if (!result.ok() || result->passed != 1) {
      std::fprintf(stderr, "sandbox run failed\n");
      return;
    }
    latencies.push_back(Seconds(start));
  }
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < cores; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < runs / cores; ++i) {
        absl::StatusOr<sandbox::JudgeResult> r = (*pool)->Judge(trivial, absl::Now() + absl::Seconds(60));
        if (!r.ok() || r->passed != 1) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double parallel = static_cast<double>(runs / cores * cores) / Seconds(start);
  std::printf("{\"bench\": \"sandbox_trivial_python\", \"runs\": %d, \"latency_seconds_median\": %.4f, "
              "\"runs_per_second_serial\": %.2f, \"runs_per_second_%d_concurrent\": %.2f, \"failures\": %d}\n",
              runs, Percentile(latencies, 0.5), 1.0 / Percentile(latencies, 0.5), cores, parallel, failures.load());
}

void BenchServer(const std::string& bin_dir, int calls) {
  const std::string dir = std::filesystem::temp_directory_path() / absl::StrCat("r1_reward_bench_", getpid());
  std::filesystem::create_directories(dir);
  const std::string config = dir + "/run.textproto";
  if (!WriteFileAtomically(config, "reward { rules { rule: \"math\" } rules { rule: \"format\" weight: 0.2 } }\n")
           .ok()) {
    return;
  }
  auto server = Subprocess::Start({bin_dir + "/r1-reward", "serve", config, "--port_file", dir + "/port", "--quiet"});
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", std::string(server.status().message()).c_str());
    return;
  }
  for (int i = 0; i < 500 && !std::filesystem::exists(dir + "/port"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int port = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFile(dir + "/port").value_or("")), &port)) {
    std::fprintf(stderr, "server did not start\n");
    return;
  }
  auto client = RewardClient::Connect(absl::StrCat("127.0.0.1:", port));
  if (!client.ok() || !(*client)->WaitUntilServing(absl::Seconds(10)).ok()) return;
  std::vector<ScoreItem> batch;
  const std::vector<ScoreItem> mix = RealisticMix();
  while (batch.size() < 256) batch.push_back(mix[batch.size() % mix.size()]);
  std::vector<double> latencies;
  for (int i = 0; i < calls + 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::vector<ScoreResult>> results = (*client)->Score(batch);
    if (!results.ok()) {
      std::fprintf(stderr, "%s\n", std::string(results.status().message()).c_str());
      return;
    }
    if (i >= 3) latencies.push_back(Seconds(start) * 1000);  // 3 warm-up calls
  }
  std::printf("{\"bench\": \"score_call_256\", \"calls\": %d, \"latency_ms_p50\": %.2f, \"latency_ms_p99\": %.2f}\n",
              calls, Percentile(latencies, 0.5), Percentile(latencies, 0.99));
  (*server)->Stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace r1::reward

int main(int argc, char** argv) {
  double seconds = 5;
  int64_t calls = 40, sandbox_runs = 40;
  std::string only;
  r1::FlagSet flags("reward_bench", "Reward-service benchmarks: math verification, sandbox runs, Score latency.");
  flags.AddDouble("seconds", &seconds, "time for the math benchmark");
  flags.AddInt("calls", &calls, "timed Score calls of 256 completions");
  flags.AddInt("sandbox_runs", &sandbox_runs, "sandbox runs per measurement");
  flags.AddString("only", &only, "run one benchmark: math, sandbox or server (default: all three)");
  if (auto code = r1::ParseCommandLine(flags, std::vector<std::string>(argv + 1, argv + argc))) return *code;
  if (only != "" && only != "math" && only != "sandbox" && only != "server") {
    std::fprintf(stderr, "--only: math, sandbox or server, not '%s'\n", only.c_str());
    return 2;
  }
  if (only.empty() || only == "math") r1::reward::BenchMath(seconds);
  if (only.empty() || only == "sandbox") r1::reward::BenchSandbox(static_cast<int>(sandbox_runs));
  if (only.empty() || only == "server") r1::reward::BenchServer(r1::ExecutableDir(), static_cast<int>(calls));
  return 0;
}
