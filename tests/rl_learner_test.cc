// `r1 rl` end to end on loopback: a real reward service and a real rollout
// worker (separate processes), a small DeepSeek-V3-layout policy, and the
// learner as its own process. Checks what must hold whatever the numbers:
// a resumed run computes the same losses and weights as one never stopped;
// two data-parallel ranks hold identical weights after every step and match
// one rank with the doubled batch; the asynchronous mode keeps its staleness
// bound; the quality gate refuses a base without correct samples.
//
// The rewards are the length and repetition rules (an untrained model's
// completions vary in both), so groups carry a learning signal.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/local_services.h"
#include "common/file_util.h"
#include "common/subprocess.h"
#include "common/test_support.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"

namespace r1 {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Metrics = std::vector<std::map<std::string, double>>;

std::string BinDir() {
  const char* bin = std::getenv("R1_BIN_DIR");
  return bin != nullptr ? bin : "build/bin";
}

// The run config the learner runs with (each test changes it with --set).
std::string RunConfig() {
  return std::string(R"pb(
name: "rl_test"
seed: 3
threads: 1
data { tasks { kind: ARITHMETIC difficulty: 1 } n_eval: 4 seed: 1 eval_seed: 2 }
rl {
  group_size: 4
  prompts_per_step: 2
  max_steps: 4
  sampling { temperature: 1.0 max_new_tokens: 16 }
  kl_coef: 0.04
  eval_samples: 2
  optimizer { lr: 3e-3 warmup_steps: 1 min_lr_ratio: 1.0 weight_decay: 0.0 }
  checkpoint { every_steps: 2 keep: 5 }
}
reward {
  rules { rule: "length" length { max_length: 16 overlong_buffer: 14 } }
  rules { rule: "repetition" repetition { ngram_size: 1 } }
}
rollout { kv_slots: 16 }
)pb");
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// metrics.jsonl as one map per line (flat objects of numbers).
Metrics ReadMetrics(const std::string& path) {
  Metrics lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::map<std::string, double>& fields = lines.emplace_back();
    absl::string_view body = absl::StripSuffix(absl::StripPrefix(absl::StripAsciiWhitespace(line), "{"), "}");
    for (absl::string_view pair : absl::StrSplit(body, ',')) {
      const std::vector<absl::string_view> kv = absl::StrSplit(pair, absl::MaxSplits(':', 1));
      double value = 0;
      if (kv.size() == 2 && absl::SimpleAtod(kv[1], &value)) {
        fields[std::string(absl::StripSuffix(absl::StripPrefix(kv[0], "\""), "\""))] = value;
      }
    }
  }
  return lines;
}

// The training steps' lines (those with a loss), by step.
std::map<int, std::map<std::string, double>> StepLines(const Metrics& metrics) {
  std::map<int, std::map<std::string, double>> steps;
  for (const auto& line : metrics) {
    if (line.count("loss")) steps[static_cast<int>(line.at("step"))] = line;
  }
  return steps;
}

double MaxWeightDifference(const std::string& a, const std::string& b) {
  auto fa = model::ReadSafetensors(a + "/model.safetensors");
  auto fb = model::ReadSafetensors(b + "/model.safetensors");
  EXPECT_TRUE(fa.ok() && fb.ok());
  double worst = 0;
  for (const auto& [name, tensor] : fa->tensors) {
    EXPECT_TRUE(fb->tensors.count(name)) << name;
    if (!fb->tensors.count(name)) continue;
    worst = std::max(worst, (tensor - fb->tensors.at(name)).abs().max().item<double>());
  }
  return worst;
}

// ||a - b|| / ||a - init|| over all weights: how far two trained models
// disagree, relative to how far training moved them. (AdamW divides by the
// root of the second moment, so a gradient element that is float noise in
// both runs can still move its weight by up to the learning rate: a max-abs
// comparison would be testing rounding, not the algorithm.)
double RelativeUpdateDifference(const std::string& a, const std::string& b, const std::string& init) {
  auto fa = model::ReadSafetensors(a + "/model.safetensors");
  auto fb = model::ReadSafetensors(b + "/model.safetensors");
  auto fi = model::ReadSafetensors(init + "/model.safetensors");
  EXPECT_TRUE(fa.ok() && fb.ok() && fi.ok());
  double disagreement = 0, update = 0;
  for (const auto& [name, tensor] : fa->tensors) {
    disagreement += (tensor - fb->tensors.at(name)).pow(2).sum().item<double>();
    update += (tensor - fi->tensors.at(name)).pow(2).sum().item<double>();
  }
  return std::sqrt(disagreement) / std::max(std::sqrt(update), 1e-30);
}

class RlLearnerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / absl::StrCat("r1_rl_test_", getpid()));
    fs::create_directories(*dir_);
    absl::StatusOr<Tokenizer> tokenizer = testing::TinyTokenizer(dir_->string());
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    torch::manual_seed(5);
    absl::StatusOr<model::CausalLm> policy = model::MakeModel(testing::SmallModelConfig(config::DEEPSEEK_V3, 40));
    ASSERT_TRUE(policy.ok()) << policy.status();
    ASSERT_TRUE(model::SaveCheckpoint(Path("init"), **policy, &*tokenizer, nullptr).ok());
    ASSERT_TRUE(WriteFileAtomically(Path("run.textproto"), RunConfig()).ok());

    cli::LocalServicesOptions options;
    options.bin_dir = BinDir();
    options.log_dir = Path("services");
    options.start_reward = true;
    options.config_path = Path("run.textproto");
    options.workers = 1;
    options.checkpoint = Path("init");
    options.kv_slots = 16;
    options.worker_threads = 1;
    absl::StatusOr<std::unique_ptr<cli::LocalServices>> services = cli::LocalServices::Start(options);
    ASSERT_TRUE(services.ok()) << services.status();
    services_ = services->release();
  }
  static void TearDownTestSuite() {
    delete services_;
    fs::remove_all(*dir_);
    delete dir_;
  }

  static std::string Path(const std::string& name) { return (*dir_ / name).string(); }

  struct Run {
    int exit_code = -1;
    std::string stdout_text, stderr_text;
  };
  // Starts `r1 rl` on the shared services with a config of its own.
  // `rl_sets` are overrides of the rl section: "max_steps=2".
  static std::unique_ptr<Subprocess> StartRl(const std::string& tag, const std::vector<std::string>& rl_sets,
                                             std::vector<std::string> flags) {
    std::vector<std::string> argv = {BinDir() + "/r1", "rl", Path("run.textproto"), "--rollout_workers",
                                     services_->worker_addresses()[0], "--reward_address",
                                     services_->reward_address()};
    const auto has = [&](const char* flag) { return std::find(flags.begin(), flags.end(), flag) != flags.end(); };
    if (!has("--init")) argv.insert(argv.end(), {"--init", Path("init")});
    if (!has("--run_dir")) argv.insert(argv.end(), {"--run_dir", Path("run_" + tag)});
    for (const std::string& set : rl_sets) argv.insert(argv.end(), {"--set", "rl." + set});
    argv.insert(argv.end(), flags.begin(), flags.end());
    SubprocessOptions options;
    options.stdout_path = Path(tag + ".out");
    options.stderr_path = Path(tag + ".err");
    auto process = Subprocess::Start(argv, options);
    EXPECT_TRUE(process.ok()) << process.status();
    return process.ok() ? std::move(*process) : nullptr;
  }
  static Run Finish(const std::string& tag, Subprocess& process) {
    Run run;
    absl::StatusOr<int> code = process.Wait(absl::Seconds(300));
    run.exit_code = code.ok() ? *code : -1;
    run.stdout_text = ReadFile(Path(tag + ".out")).value_or("");
    run.stderr_text = ReadFile(Path(tag + ".err")).value_or("");
    return run;
  }
  static Run RunRl(const std::string& tag, const std::vector<std::string>& rl_sets,
                   std::vector<std::string> flags = {}) {
    std::unique_ptr<Subprocess> process = StartRl(tag, rl_sets, std::move(flags));
    if (process == nullptr) return {};
    return Finish(tag, *process);
  }
  static Metrics MetricsOf(const std::string& tag) { return ReadMetrics(Path("run_" + tag + "/rl/metrics.jsonl")); }
  static std::string Checkpoint(const std::string& tag, int step) {
    return model::CheckpointDir(Path("run_" + tag + "/rl/checkpoints"), step);
  }

  static fs::path* dir_;
  static cli::LocalServices* services_;
};

fs::path* RlLearnerTest::dir_ = nullptr;
cli::LocalServices* RlLearnerTest::services_ = nullptr;

// Old logprobs recomputed by the learner: a worker's logprobs vary in the
// last bits with where its KV cache places a sequence (RoPE at another
// absolute position), which its earlier requests decide; the learner's own
// forward depends on the batch alone.
TEST_F(RlLearnerTest, ResumedRunMatchesUninterruptedRun) {
  const Run whole = RunRl("whole", {"old_logprobs=RECOMPUTE"});
  ASSERT_EQ(whole.exit_code, 0) << whole.stderr_text;
  EXPECT_THAT(whole.stdout_text, HasSubstr("step_00000004"));
  EXPECT_THAT(whole.stderr_text, ::testing::Not(HasSubstr("truncates")));  // untruncated sampling: no warning
  const Run first = RunRl("resumed", {"old_logprobs=RECOMPUTE", "max_steps=2"});
  ASSERT_EQ(first.exit_code, 0) << first.stderr_text;
  const Run rest = RunRl("resumed", {"old_logprobs=RECOMPUTE"}, {"--resume"});
  ASSERT_EQ(rest.exit_code, 0) << rest.stderr_text;
  EXPECT_THAT(rest.stderr_text, HasSubstr("resuming from"));

  const auto a = StepLines(MetricsOf("whole"));
  const auto b = StepLines(MetricsOf("resumed"));
  ASSERT_EQ(a.size(), 4u);
  double signal = 0;
  for (int step = 1; step <= 4; ++step) {
    ASSERT_TRUE(b.count(step)) << step;
    EXPECT_DOUBLE_EQ(a.at(step).at("loss"), b.at(step).at("loss")) << "step " << step;
    EXPECT_DOUBLE_EQ(a.at(step).at("reward_mean"), b.at(step).at("reward_mean")) << "step " << step;
    signal += a.at(step).at("grad_norm_mean");
    EXPECT_GE(a.at(step).at("grad_norm_max"), a.at(step).at("grad_norm_mean")) << "step " << step;
    EXPECT_EQ(a.at(step).at("skipped_nonfinite_steps"), 0) << "step " << step;
  }
  EXPECT_GT(signal, 0) << "no learning signal: the test would pass vacuously";
  EXPECT_EQ(MaxWeightDifference(Checkpoint("whole", 4), Checkpoint("resumed", 4)), 0.0);
  // The policy moved, and the KL to the reference was measured.
  EXPECT_GT(MaxWeightDifference(Checkpoint("whole", 4), Path("init")), 0.0);
  EXPECT_GT(a.at(4).at("kl"), 0.0);
  // Learner and worker compute the same logprobs (same weights, same convention).
  EXPECT_LT(a.at(1).at("logprob_mismatch"), 1e-4);
  EXPECT_EQ(a.at(1).at("staleness_max"), 0);
  // A TensorBoard event file beside the JSONL.
  EXPECT_FALSE(fs::is_empty(Path("run_whole/rl/tensorboard")));
}

TEST_F(RlLearnerTest, TwoDataParallelRanksMatchOneRankWithTheDoubledBatch) {
  const Run single = RunRl("single", {"prompts_per_step=4", "max_steps=3", "kl_coef=0"});
  ASSERT_EQ(single.exit_code, 0) << single.stderr_text;

  const int port = FreePort();
  std::vector<std::unique_ptr<Subprocess>> ranks;
  for (int rank = 0; rank < 2; ++rank) {
    setenv("RANK", absl::StrCat(rank).c_str(), 1);
    setenv("WORLD_SIZE", "2", 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    setenv("MASTER_PORT", absl::StrCat(port).c_str(), 1);
    // Both ranks write one run directory, as ranks on a shared file system do.
    ranks.push_back(StartRl(absl::StrCat("dp", rank), {"prompts_per_step=2", "max_steps=3", "kl_coef=0"},
                            {"--run_dir", Path("run_dp"), "--check_weight_sync"}));
  }
  for (const char* name : {"RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"}) unsetenv(name);
  for (int rank = 0; rank < 2; ++rank) {
    ASSERT_NE(ranks[rank], nullptr);
    const Run run = Finish(absl::StrCat("dp", rank), *ranks[rank]);
    ASSERT_EQ(run.exit_code, 0) << "rank " << rank << ": " << run.stderr_text;
  }

  const auto one = StepLines(MetricsOf("single"));
  const auto two = StepLines(ReadMetrics(Path("run_dp/rl/metrics.jsonl")));
  ASSERT_EQ(two.size(), 3u);
  for (int step = 1; step <= 3; ++step) {
    EXPECT_EQ(two.at(step).at("weight_divergence"), 0.0) << "ranks differ after step " << step;
    EXPECT_EQ(two.at(step).at("groups"), one.at(step).at("groups"));
    EXPECT_NEAR(two.at(step).at("reward_mean"), one.at(step).at("reward_mean"), 1e-9) << "step " << step;
    EXPECT_NEAR(two.at(step).at("loss"), one.at(step).at("loss"), 1e-5) << "step " << step;
    // Rank-local quantities are reduced over the ranks (max or sum), so they
    // match one rank with every prompt.
    EXPECT_EQ(two.at(step).at("response_length_max"), one.at(step).at("response_length_max")) << "step " << step;
    EXPECT_NEAR(two.at(step).at("response_length_mean"), one.at(step).at("response_length_mean"), 1e-9);
    for (const char* rule : {"reward/length", "reward/repetition"}) {
      ASSERT_TRUE(two.at(step).count(rule)) << rule;
      EXPECT_NEAR(two.at(step).at(rule), one.at(step).at(rule), 1e-9) << rule << " step " << step;
    }
    EXPECT_EQ(two.at(step).at("sampling_draws"), one.at(step).at("sampling_draws"));
  }
  const double relative = RelativeUpdateDifference(model::CheckpointDir(Path("run_dp/rl/checkpoints"), 3),
                                                   Checkpoint("single", 3), Path("init"));
  std::printf("2 ranks vs 1 rank after 3 steps: ||w2 - w1|| / ||w1 - w0|| = %.3g\n", relative);
  EXPECT_LT(relative, 1e-4);  // measured 5e-6; 9e-3 when padding still counted toward the MoE load
  EXPECT_GT(MaxWeightDifference(Checkpoint("single", 3), Path("init")), 1e-4);
}

TEST_F(RlLearnerTest, AsynchronousModeKeepsItsStalenessBound) {
  const Run run = RunRl("async", {"max_staleness=1", "max_steps=5", "updates_per_batch=2", "micro_batch_size=3"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  const auto steps = StepLines(MetricsOf("async"));
  ASSERT_EQ(steps.size(), 5u);
  double stale_seen = 0;
  for (const auto& [step, line] : steps) {
    EXPECT_LE(line.at("staleness_max"), 1) << "step " << step;
    // Every generated completion is either trained on or counted as dropped.
    EXPECT_EQ(line.at("groups") * 4 + line.at("stale_completions_dropped"), 2 * 4) << "step " << step;
    stale_seen += line.at("staleness_mean");
  }
  // The next batch is generated while the learner trains: some of its
  // completions come from the previous version.
  EXPECT_GT(stale_seen, 0);
}

TEST_F(RlLearnerTest, RecomputedOldLogprobsAgreeWithTheWorkers) {
  const Run run = RunRl("recompute", {"old_logprobs=RECOMPUTE", "max_steps=2", "loss_aggregation=SEQUENCE_MEAN"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  const auto steps = StepLines(MetricsOf("recompute"));
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_LT(steps.at(1).at("logprob_mismatch"), 1e-4);
  EXPECT_NEAR(steps.at(1).at("ratio_mean"), 1.0, 1e-4);  // one update per batch: the ratio starts at 1
}

// Truncated sampling is allowed but biases the importance ratio (every
// logprob is of the full distribution): the log says so at the start.
TEST_F(RlLearnerTest, TruncatedSamplingIsWarnedAbout) {
  const Run run = RunRl("top_p", {"sampling.top_p=0.9", "max_steps=1"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_THAT(run.stderr_text, HasSubstr("warning: rl.sampling truncates the distribution (top_p 0.9"));
}

TEST_F(RlLearnerTest, QualityGateRefusesABaseWithoutCorrectSamples) {
  // The untrained policy answers no arithmetic prompt correctly.
  const Run run = RunRl("gate", {"min_base_pass_at_k=0.5"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.stderr_text, HasSubstr("rl.min_base_pass_at_k"));
  EXPECT_FALSE(fs::exists(Path("run_gate/rl/checkpoints/step_00000001")));
}

// An item the reward service cannot score gets no reward, not a 0: here the
// countdown prompts lack their numbers, which the service refuses item by
// item ("invalid_item", never retried). Their groups are dropped and counted,
// the arithmetic groups train, and the eval counts the unscored samples
// neither right nor wrong.
TEST_F(RlLearnerTest, UnscoredItemsAreDroppedAndCountedNotTrainedOnAsZero) {
  const std::string train = Path("unscored_train.jsonl");
  const std::string eval = Path("unscored_eval.jsonl");
  ASSERT_TRUE(WriteFileAtomically(train, R"({"id": "a", "prompt": "What is 1 + 2?", "answer": "3", "task": "arithmetic"}
{"id": "b", "prompt": "Reach 24.", "answer": "24", "task": "countdown"}
{"id": "c", "prompt": "What is 3 + 4?", "answer": "7", "task": "arithmetic"}
{"id": "d", "prompt": "Reach 10.", "answer": "10", "task": "countdown"}
)").ok());
  ASSERT_TRUE(WriteFileAtomically(eval, R"({"id": "e", "prompt": "What is 2 + 2?", "answer": "4", "task": "arithmetic"}
{"id": "f", "prompt": "Reach 12.", "answer": "12", "task": "countdown"}
)").ok());
  // Two steps of two prompts: one pass over the file, both countdown prompts.
  const Run run = RunRl("unscored", {"max_steps=2"},
                        {"--set", "data.train_prompts=" + train, "--set", "data.eval_prompts=" + eval});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  const Metrics metrics = MetricsOf("unscored");
  double errors = 0, error_groups = 0, groups = 0;
  std::vector<double> unscored_in_evals;
  for (const auto& line : metrics) {
    if (line.count("reward_errors")) {
      errors += line.at("reward_errors");
      error_groups += line.at("reward_error_groups_dropped");
      groups += line.at("groups");
    }
    if (line.count("eval/unscored")) unscored_in_evals.push_back(line.at("eval/unscored"));
  }
  EXPECT_EQ(errors, 2 * 4);  // 2 countdown prompts x group_size 4
  EXPECT_EQ(error_groups, 2);
  EXPECT_EQ(groups, 2);  // only the arithmetic groups were trained on
  ASSERT_FALSE(unscored_in_evals.empty());
  // The countdown eval prompt's 2 samples and its greedy completion.
  for (double unscored : unscored_in_evals) EXPECT_EQ(unscored, 3);
  EXPECT_THAT(run.stderr_text, HasSubstr("3 samples unscored"));
}

TEST_F(RlLearnerTest, MissingStartingCheckpointIsAClearError) {
  const Run run = RunRl("missing", {}, {"--init", Path("no_such_checkpoint")});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.stderr_text, HasSubstr("no_such_checkpoint"));
}

}  // namespace
}  // namespace r1
