// `r1 pipeline` end to end, as a user runs it: every stage of the config as
// its own process, a real reward service and rollout workers on loopback, a
// manifest, the report, then a rerun that skips what is done, an interrupted
// run that leaves no process behind and resumes, and the stage commands'
// answers to bad input.
//
// The models are tiny and the corpus is 64 examples the policy memorises in
// pretraining; rejection sampling draws its prompts from the same stream, so
// it finds correct samples without a long training run. The eval prompts are
// drawn with the training seed (eval_seed = seed): every stream of training
// data starts with them, and every stage must leave them out.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/chat_template.h"
#include "common/config.h"
#include "common/file_util.h"
#include "common/jsonl.h"
#include "common/subprocess.h"
#include "proto/records.pb.h"
#include "tasks/held_out.h"

namespace r1 {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

std::string BinDir() {
  const char* bin = std::getenv("R1_BIN_DIR");
  return bin != nullptr ? bin : "build/bin";
}

constexpr char kConfig[] = R"pb(
name: "pipeline_test"
seed: 1
threads: 1
stages: [PRETRAIN, COLD_START_SFT, RL, REJECT_SAMPLE, SFT, RL2, DISTILL, EXPORT, EVAL]
tokenizer { model_path: "tokenizer.model" vocab_size: 48 model_type: "bpe" split_digits: true }
policy {
  arch: DEEPSEEK_V3 vocab_size: 48 dim: 32 n_layers: 2 n_heads: 2 max_seq_len: 128
  q_lora_rank: 0 kv_lora_rank: 16 qk_nope_head_dim: 8 qk_rope_head_dim: 8 v_head_dim: 8
  n_dense_layers: 1 inter_dim: 64 moe_inter_dim: 16 n_shared_experts: 1 n_routed_experts: 4
  n_activated_experts: 2 routed_scaling_factor: 1.0 bias_update_speed: 0.001
}
student {
  arch: LLAMA vocab_size: 48 dim: 32 n_layers: 2 n_heads: 2 n_kv_heads: 1 ffn_hidden_dim: 64
  max_seq_len: 128 tie_embeddings: true
}
data { tasks { kind: ARITHMETIC difficulty: 1 solution_error_rate: 0 weight: 1 } n_eval: 4 seed: 1 eval_seed: 1 }
pretrain {
  corpus_examples: 64 batch_size: 8 seq_len: 128 max_steps: 600 loss_on_prompts: false
  optimizer { lr: 1e-2 warmup_steps: 10 min_lr_ratio: 0.1 }
  checkpoint { every_steps: 100 keep: 1 }
  student_max_steps: 60
}
cold_start_sft {
  generated_examples: 16 batch_size: 4 seq_len: 128 max_steps: 2
  optimizer { lr: 1e-4 warmup_steps: 1 }
}
rl {
  group_size: 4 prompts_per_step: 4 max_steps: 2
  sampling { temperature: 1.0 max_new_tokens: 96 }
  kl_coef: 0.04 eval_samples: 2 dynamic_sampling: false
  optimizer { lr: 1e-4 warmup_steps: 1 min_lr_ratio: 1.0 weight_decay: 0.0 }
  checkpoint { every_steps: 1 keep: 2 }
}
reject_sample { prompts: 16 samples_per_prompt: 4 keep_per_prompt: 1 sampling { temperature: 1.0 max_new_tokens: 96 } }
sft { batch_size: 4 seq_len: 128 max_steps: 3 optimizer { lr: 1e-4 warmup_steps: 1 } }
distill {
  sft { batch_size: 4 seq_len: 128 max_steps: 4 optimizer { lr: 1e-3 warmup_steps: 1 } }
  kl_weight: 0.5 teacher_top_k: 4 kl_direction: "mix"
}
export { gguf: true gguf_types: "f32,f16" }
eval { samples: 2 sampling { temperature: 1.0 max_new_tokens: 96 } }
reward {
  rules { rule: "math" weight: 1.0 }
  rules { rule: "format" weight: 0.2 }
}
rollout { local_workers: 1 kv_slots: 32 }
)pb";

struct Result {
  int exit_code = 0;
  std::string out;
  std::string err;
};

// Runs `r1 <args>` (shell words); `prefix` runs before it in the same shell
// (ulimit, trap).
Result RunR1(const std::string& dir, const std::string& args, const std::string& prefix = "") {
  const std::string out = absl::StrCat(dir, "/cmd.out"), err = absl::StrCat(dir, "/cmd.err");
  const std::string command =
      absl::StrCat(prefix, prefix.empty() ? "" : "; ", BinDir(), "/r1 ", args, " >", out, " 2>", err);
  const int status = std::system(absl::StrCat("bash -c '", command, "'").c_str());
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFile(out).value_or("");
  r.err = ReadFile(err).value_or("");
  return r;
}

data::RunManifest ReadManifest(const std::string& run_dir) {
  data::RunManifest manifest;
  absl::StatusOr<std::string> text = ReadFile(absl::StrCat(run_dir, "/manifest.json"));
  EXPECT_TRUE(text.ok()) << text.status();
  if (text.ok()) EXPECT_TRUE(ParseJsonRecord(*text, &manifest).ok());
  return manifest;
}

const data::StageRecord* FindStage(const data::RunManifest& manifest, const std::string& name) {
  for (const data::StageRecord& s : manifest.stages()) {
    if (s.name() == name) return &s;
  }
  return nullptr;
}

// Processes whose command line mentions `needle` (other than this test).
std::vector<std::string> ProcessesMentioning(const std::string& needle) {
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos || pid == std::to_string(getpid())) continue;
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(needle) != std::string::npos) found.push_back(absl::StrCat(pid, ": ", cmdline));
  }
  return found;
}

// The shared run: the tests below read its results. (One gtest case per
// process under ctest, so the full run and its checks form one case.)
struct Shared {
  std::string dir;
  std::string config;
  std::string run_dir;
  Result first;
};

Shared* g = nullptr;

Shared MakeShared(const std::string& tag) {
  Shared s;
  s.dir = fs::temp_directory_path() / absl::StrCat("r1_pipeline_test_", tag, "_", getpid());
  fs::remove_all(s.dir);
  fs::create_directories(s.dir);
  s.config = absl::StrCat(s.dir, "/config.textproto");
  EXPECT_TRUE(WriteFileAtomically(s.config, kConfig).ok());
  s.run_dir = absl::StrCat(s.dir, "/run");
  return s;
}

void EveryStageRunsAndTheManifestRecordsIt() {
  const data::RunManifest manifest = ReadManifest(g->run_dir);
  // The nine stages of the config, and the student's base that pretraining
  // trained beside the policy.
  ASSERT_EQ(manifest.stages_size(), 10);
  EXPECT_THAT(FindStage(manifest, "pretrain_student")->output(), HasSubstr("/pretrain_student/checkpoints/step_"));
  for (const data::StageRecord& s : manifest.stages()) {
    EXPECT_EQ(s.status(), "done") << s.name();
    EXPECT_EQ(s.attempts(), 1) << s.name();
    EXPECT_TRUE(fs::exists(s.output())) << s.name() << ": " << s.output();
    EXPECT_GT(s.seconds(), 0) << s.name();
  }
  // Each stage starts from the one before it.
  EXPECT_THAT(FindStage(manifest, "rl")->output(), HasSubstr("/rl/checkpoints/step_"));
  EXPECT_EQ(FindStage(manifest, "reject_sample")->output(), g->run_dir + "/reject_sample/data.jsonl");
  EXPECT_THAT(FindStage(manifest, "distill")->output(), HasSubstr("/distill/checkpoints/step_"));
  // The optional second RL starts from the SFT policy and teaches the student.
  EXPECT_THAT(*ReadFile(g->run_dir + "/logs/rl2.out"), HasSubstr("/rl2/checkpoints/step_"));
  // The stages that score shared one reward service the pipeline started.
  EXPECT_TRUE(fs::exists(g->run_dir + "/services/reward.log"));
  EXPECT_FALSE(fs::exists(g->run_dir + "/rl/services/reward.log"));
  // Distillation took the KL path: the teacher was served by a worker.
  EXPECT_TRUE(fs::exists(g->run_dir + "/distill/services"));
  EXPECT_THAT(*ReadFile(g->run_dir + "/distill/metrics.jsonl"), HasSubstr("\"kl_loss\""));
  // Every training stage writes the same sinks as RL: JSONL and TensorBoard.
  for (const char* stage : {"pretrain", "cold_start_sft", "rl", "sft", "rl2", "distill"}) {
    EXPECT_FALSE(fs::is_empty(g->run_dir + "/" + stage + "/tensorboard")) << stage;
  }
}

void RejectionSamplesCarryProvenanceAndStats() {
  absl::StatusOr<std::vector<data::SftRecord>> records =
      ReadJsonl<data::SftRecord>(g->run_dir + "/reject_sample/data.jsonl");
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_FALSE(records->empty());
  EXPECT_LE(records->size(), 16u);  // keep_per_prompt 1 of 16 prompts
  const std::string rl_checkpoint = FindStage(ReadManifest(g->run_dir), "rl")->output();
  for (const data::SftRecord& r : *records) {
    EXPECT_EQ(r.provenance().checkpoint(), rl_checkpoint);
    EXPECT_EQ(r.provenance().reward_breakdown().at("math"), 1.0) << r.response();
    EXPECT_EQ(r.provenance().reward_breakdown().at("format"), 1.0) << r.response();
    EXPECT_THAT(r.response(), HasSubstr("<answer>" + r.provenance().answer() + "</answer>"));
  }
  const std::string stats = *ReadFile(g->run_dir + "/reject_sample/stats.json");
  EXPECT_THAT(stats, HasSubstr("\"prompts\": 16, \"samples\": 64"));
  EXPECT_THAT(stats, HasSubstr(absl::StrCat("\"kept\": ", records->size())));
}

void NoStageTrainsOnAnEvalPrompt() {
  absl::StatusOr<config::RunConfig> run = LoadRunConfig(g->config);
  ASSERT_TRUE(run.ok()) << run.status();
  absl::StatusOr<std::vector<data::PromptRecord>> eval = tasks::LoadEvalPrompts(run->data(), g->run_dir);
  ASSERT_TRUE(eval.ok()) << eval.status();
  ASSERT_EQ(eval->size(), 4u);
  const tasks::HeldOutPrompts held_out(*eval);
  // The pretraining corpus, as rendered text: each example opens with its
  // rendered prompt.
  const std::string corpus = *ReadFile(g->run_dir + "/pretrain/corpus.txt");
  for (const data::PromptRecord& p : *eval) {
    EXPECT_EQ(corpus.find(RenderPrompt(p.prompt())), std::string::npos) << p.prompt();
  }
  // The cold-start set and the rejection-sampled set (which SFT, RL2 and
  // distillation train on).
  for (const char* file : {"/cold_start_sft/data.jsonl", "/reject_sample/data.jsonl"}) {
    absl::StatusOr<std::vector<data::SftRecord>> records = ReadJsonl<data::SftRecord>(g->run_dir + file);
    ASSERT_TRUE(records.ok()) << records.status();
    ASSERT_FALSE(records->empty()) << file;
    for (const data::SftRecord& r : *records) EXPECT_FALSE(held_out.Contains(r.prompt())) << file << ": " << r.prompt();
  }
}

void ExportHoldsHuggingFaceFilesCardAndGguf() {
  const std::string out = g->run_dir + "/export";
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.model", "README.md", "model-f32.gguf",
                        "model-f16.gguf", "manifest.json"}) {
    EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  }
  EXPECT_EQ(ReadFile(out + "/model-f32.gguf")->substr(0, 4), "GGUF");
  // f16 matrices: the file is smaller than the f32 one.
  EXPECT_LT(fs::file_size(out + "/model-f16.gguf"), fs::file_size(out + "/model-f32.gguf"));
  const std::string card = *ReadFile(out + "/README.md");
  EXPECT_THAT(card, HasSubstr("Llama layout"));
  EXPECT_THAT(card, HasSubstr(FindStage(ReadManifest(g->run_dir), "distill")->output()));
  EXPECT_THAT(card, HasSubstr("| rl | done |"));
}

void EvalCoversEveryModelAndTheReportShowsThem() {
  for (const char* model : {"pretrain", "pretrain_student", "cold_start_sft", "rl", "sft", "rl2", "distill"}) {
    const std::string json = g->run_dir + "/eval/" + model + ".json";
    ASSERT_TRUE(fs::exists(json)) << model;
    EXPECT_THAT(*ReadFile(json), HasSubstr("\"prompts\": 4, \"samples\": 2")) << model;
    EXPECT_TRUE(fs::exists(g->run_dir + "/eval/" + model + ".samples.jsonl")) << model;
  }
  // The student was evaluated from the exported folder, not the checkpoint.
  EXPECT_THAT(*ReadFile(g->run_dir + "/eval/distill.json"), HasSubstr(g->run_dir + "/export"));
  const std::string html = *ReadFile(g->run_dir + "/report.html");
  EXPECT_THAT(html, HasSubstr("data-plot=\"accuracy_per_stage\""));
  EXPECT_THAT(html, HasSubstr("data-plot=\"teacher_vs_student\""));
  EXPECT_THAT(html, HasSubstr("data-plot=\"rl.reward\""));
  // The terminal gets the same summary.
  EXPECT_THAT(g->first.err, HasSubstr("teacher rl2"));
  EXPECT_THAT(g->first.err, HasSubstr("student distill"));
}

void ARerunSkipsEveryFinishedStage() {
  const std::string before = *ReadFile(g->run_dir + "/manifest.json");
  Result again = RunR1(g->dir, absl::StrCat("pipeline ", g->config, " --run_dir ", g->run_dir));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.err, HasSubstr("rl done earlier"));
  EXPECT_THAT(again.err, Not(HasSubstr("=== ")));  // no stage ran
  EXPECT_THAT(again.err, Not(HasSubstr("starting the reward service")));
  const data::RunManifest manifest = ReadManifest(g->run_dir);
  for (const data::StageRecord& s : manifest.stages()) EXPECT_EQ(s.attempts(), 1) << s.name();

  // Another config in the same run directory is refused, not mixed in.
  Result other = RunR1(g->dir, absl::StrCat("pipeline ", g->config, " --run_dir ", g->run_dir, " --set rl.max_steps=3"));
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_THAT(other.err, HasSubstr("holds a run of a different config"));
  EXPECT_EQ(*ReadFile(g->run_dir + "/manifest.json"), before);

  // A stage name --only does not know is refused before anything runs.
  Result typo = RunR1(g->dir, absl::StrCat("pipeline ", g->config, " --run_dir ", g->run_dir, " --only evl"));
  EXPECT_EQ(typo.exit_code, 1);
  EXPECT_THAT(typo.err, HasSubstr("--only evl: not a stage of"));
  EXPECT_THAT(typo.err, Not(HasSubstr("=== ")));
  EXPECT_EQ(*ReadFile(g->run_dir + "/manifest.json"), before);
}

// When a stage runs again, every later stage was made from its old output:
// they run again too; the earlier ones stay done.
void AStageThatRunsAgainRerunsEveryLaterStage() {
  data::RunManifest manifest = ReadManifest(g->run_dir);
  for (data::StageRecord& s : *manifest.mutable_stages()) {
    if (s.name() == "distill") s.set_status("failed");
  }
  ASSERT_TRUE(WriteFileAtomically(g->run_dir + "/manifest.json", ToJsonLine(manifest) + "\n").ok());
  Result again = RunR1(g->dir, absl::StrCat("pipeline ", g->config, " --run_dir ", g->run_dir));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.err, HasSubstr("rl2 done earlier"));
  const data::RunManifest after = ReadManifest(g->run_dir);
  for (const char* stage : {"pretrain", "cold_start_sft", "rl", "reject_sample", "sft", "rl2"}) {
    EXPECT_EQ(FindStage(after, stage)->attempts(), 1) << stage;
  }
  for (const char* stage : {"distill", "export", "eval"}) {
    EXPECT_EQ(FindStage(after, stage)->attempts(), 2) << stage;
    EXPECT_EQ(FindStage(after, stage)->status(), "done") << stage;
    EXPECT_THAT(again.err, HasSubstr(absl::StrCat("=== ", stage, " (attempt 2) ===")));
  }
}

// Until the kernel has reaped the children that died with their parent.
// Returns at once when it has; the bound only stops a hung test.
void WaitUntilNoProcessMentions(const std::string& needle) {
  for (int i = 0; i < 3000 && !ProcessesMentioning(needle).empty(); ++i) absl::SleepFor(absl::Milliseconds(100));
}

TEST(Pipeline, InterruptedRunLeavesNoProcessAndResumes) {
  Shared own = MakeShared("interrupt");
  g = &own;
  const std::string run_dir = g->dir + "/interrupted";
  // RL long enough to be caught running (40 steps); checkpoints every step.
  const std::string budget = " --set rl.max_steps=40";
  const std::string args = absl::StrCat(BinDir(), "/r1 pipeline ", g->config, " --run_dir ", run_dir, budget);
  std::vector<std::string> argv = absl::StrSplit(args, ' ');
  SubprocessOptions options;
  options.stdout_path = g->dir + "/interrupted.out";
  options.stderr_path = g->dir + "/interrupted.err";
  absl::StatusOr<std::unique_ptr<Subprocess>> pipeline = Subprocess::Start(argv, options);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  // Wait until RL has written its second checkpoint (so its workers are up
  // and it is mid-stage), then interrupt as Ctrl-C would. Checkpoints are
  // pruned to the newest 2, so look for any step >= 2. The limit only stops
  // a hung run; the 38 steps left are the margin that makes this no race.
  const auto rl_mid_stage = [&] {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(run_dir + "/rl/checkpoints", ec)) {
      const std::string name = entry.path().filename().string();
      int64_t step = 0;
      // A checkpoint being written is `step_N.tmp...`, which is no number.
      if (name.rfind("step_", 0) == 0 && absl::SimpleAtoi(name.substr(5), &step) && step >= 2) {
        return true;
      }
    }
    return false;
  };
  const absl::Time give_up = absl::Now() + absl::Seconds(480);
  while (absl::Now() < give_up && !rl_mid_stage() && (*pipeline)->Running()) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(rl_mid_stage()) << *ReadFile(g->dir + "/interrupted.err");
  EXPECT_FALSE(ProcessesMentioning(run_dir).size() < 3) << "expected the pipeline, rl and its services";
  (*pipeline)->Signal(SIGINT);
  absl::StatusOr<int> code = (*pipeline)->Wait(absl::Seconds(60));
  ASSERT_TRUE(code.ok()) << "the pipeline did not stop within 60 s of SIGINT";
  EXPECT_EQ(*code, 130);
  WaitUntilNoProcessMentions(run_dir);
  EXPECT_THAT(ProcessesMentioning(run_dir), ::testing::IsEmpty());
  const data::RunManifest stopped = ReadManifest(run_dir);
  EXPECT_EQ(FindStage(stopped, "pretrain")->status(), "done");
  EXPECT_EQ(FindStage(stopped, "rl")->status(), "interrupted");
  EXPECT_THAT(*ReadFile(g->dir + "/interrupted.err"), HasSubstr("interrupted during rl"));

  // The same command again: finished stages are skipped and RL resumes from
  // its newest checkpoint. A Ctrl-C that lands once RL is done (injected: no
  // test can time it from outside) stops the run before the next stage.
  Result resumed = RunR1(g->dir, absl::StrCat("pipeline ", g->config, " --run_dir ", run_dir, budget),
                         "export R1_TEST_INTERRUPT_AFTER_STAGE=rl");
  EXPECT_EQ(resumed.exit_code, 130) << resumed.err;
  EXPECT_THAT(resumed.err, HasSubstr("pretrain done earlier"));
  EXPECT_THAT(resumed.err, HasSubstr("=== rl (attempt 2) ==="));
  EXPECT_THAT(resumed.err, HasSubstr("resuming from"));
  EXPECT_THAT(resumed.err, HasSubstr("interrupted before reject_sample"));
  EXPECT_THAT(resumed.err, Not(HasSubstr("=== reject_sample")));
  const data::RunManifest between = ReadManifest(run_dir);
  EXPECT_EQ(FindStage(between, "rl")->status(), "done");
  ASSERT_NE(FindStage(between, "reject_sample"), nullptr);
  EXPECT_EQ(FindStage(between, "reject_sample")->status(), "pending");
  WaitUntilNoProcessMentions(run_dir);
  EXPECT_THAT(ProcessesMentioning(run_dir), ::testing::IsEmpty());
}

// Budgets are steps and every random draw comes from the seed, so two runs of
// the same config give the same weights, whatever the machine's speed or
// load: RL here runs asynchronously (rollouts of step t + 1 generated while
// step t trains) with dynamic sampling, the timing-sensitive mode.
TEST(Pipeline, TheSameSeedGivesTheSameWeights) {
  Shared own = MakeShared("repro");
  g = &own;
  const std::string flags =
      " --only pretrain,cold_start_sft,rl --set rl.max_staleness=1 --set rl.dynamic_sampling=true --set rl.max_steps=3";
  std::vector<std::string> rl_weights, student_weights;
  for (const char* run : {"a", "b"}) {
    const std::string run_dir = absl::StrCat(g->dir, "/", run);
    Result result = RunR1(g->dir, absl::StrCat("pipeline ", g->config, " --run_dir ", run_dir, flags));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const data::RunManifest manifest = ReadManifest(run_dir);
    rl_weights.push_back(*ReadFile(FindStage(manifest, "rl")->output() + "/model.safetensors"));
    student_weights.push_back(*ReadFile(FindStage(manifest, "pretrain_student")->output() + "/model.safetensors"));
  }
  EXPECT_TRUE(rl_weights[0] == rl_weights[1]) << "the RL policies of two runs differ";
  EXPECT_TRUE(student_weights[0] == student_weights[1]) << "the student bases of two runs differ";
  if (!HasFailure()) fs::remove_all(g->dir);
}

void StageCommandsRefuseBadInputWithOneLine() {
  const std::string policy = FindStage(ReadManifest(g->run_dir), "rl")->output();
  const std::string student = FindStage(ReadManifest(g->run_dir), "distill")->output();
  const std::string scratch = g->dir + "/bad";
  fs::create_directories(scratch);

  // A missing dataset, and a malformed line named by file and line.
  Result missing = RunR1(scratch, absl::StrCat("sft ", g->config, " --run_dir ", scratch, " --init ", policy,
                                               " --train ", scratch, "/nowhere.jsonl"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("nowhere.jsonl"));
  ASSERT_TRUE(WriteFileAtomically(scratch + "/bad.jsonl",
                                  "{\"prompt\": \"1 + 1?\", \"response\": \"2\"}\n"
                                  "{\"prompt\": \"2 + 2?\", \"response\": \"4\"}\n"
                                  "{\"prompt\": \"3 + 3?\", \"respnse\": \"6\"}\n")
                  .ok());
  Result malformed = RunR1(scratch, absl::StrCat("sft ", g->config, " --run_dir ", scratch, " --init ", policy,
                                                 " --train ", scratch, "/bad.jsonl"));
  EXPECT_EQ(malformed.exit_code, 1);
  EXPECT_THAT(malformed.err, HasSubstr("bad.jsonl:3"));
  EXPECT_FALSE(fs::exists(scratch + "/sft/checkpoints"));

  // A checkpoint of the wrong shape to resume from: the student's weights
  // where the policy's are expected.
  fs::create_directories(scratch + "/sft/checkpoints");
  fs::copy(student, scratch + "/sft/checkpoints/step_00000001", fs::copy_options::recursive);
  Result wrong = RunR1(scratch, absl::StrCat("sft ", g->config, " --run_dir ", scratch, " --init ", policy,
                                             " --train ", g->run_dir, "/reject_sample/data.jsonl --resume"));
  EXPECT_EQ(wrong.exit_code, 1);
  // The error is the last line, one line, naming the checkpoint.
  const std::vector<std::string> wrong_lines = absl::StrSplit(absl::StripTrailingAsciiWhitespace(wrong.err), '\n');
  EXPECT_THAT(wrong_lines.back(), ::testing::StartsWith("r1: "));
  EXPECT_THAT(wrong_lines.back(), HasSubstr("step_00000001"));
  fs::remove_all(scratch + "/sft");

  // An unreachable rollout worker.
  Result unreachable = RunR1(scratch, absl::StrCat("reject-sample ", g->config, " --run_dir ", scratch, " --ckpt ",
                                                   policy, " --rollout_workers 127.0.0.1:1"));
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_THAT(unreachable.err, HasSubstr("no rollout worker answers"));
  EXPECT_FALSE(fs::exists(scratch + "/reject_sample/data.jsonl"));

  // Services that require a token: a stage attached to them without it is
  // refused by both (UNAUTHENTICATED), and with --service_token_file it runs.
  {
    ASSERT_TRUE(WriteFileAtomically(scratch + "/token", "s3cret-token\n").ok());
    SubprocessOptions quiet;
    quiet.stdout_path = scratch + "/reward.log";
    quiet.stderr_path = scratch + "/reward.err";
    absl::StatusOr<std::unique_ptr<Subprocess>> reward = Subprocess::Start(
        {BinDir() + "/r1-reward", "serve", g->config, "--token_file", scratch + "/token", "--port_file",
         scratch + "/reward.port", "--quiet"},
        quiet);
    ASSERT_TRUE(reward.ok()) << reward.status();
    quiet.stdout_path = scratch + "/worker.log";
    quiet.stderr_path = scratch + "/worker.err";
    absl::StatusOr<std::unique_ptr<Subprocess>> worker = Subprocess::Start(
        {BinDir() + "/r1", "rollout", "serve", "--ckpt", policy, "--threads", "1", "--token_file",
         scratch + "/token", "--port_file", scratch + "/worker.port"},
        quiet);
    ASSERT_TRUE(worker.ok()) << worker.status();
    // Both write their port once serving; the limit only stops a hung start.
    const absl::Time give_up = absl::Now() + absl::Seconds(120);
    while (absl::Now() < give_up && !(fs::exists(scratch + "/reward.port") && fs::exists(scratch + "/worker.port"))) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    const std::string reward_port(absl::StripAsciiWhitespace(ReadFile(scratch + "/reward.port").value_or("")));
    const std::string worker_port(absl::StripAsciiWhitespace(ReadFile(scratch + "/worker.port").value_or("")));
    ASSERT_FALSE(reward_port.empty() || worker_port.empty()) << ReadFile(scratch + "/worker.err").value_or("");
    const std::string attach = absl::StrCat("reject-sample ", g->config, " --run_dir ", scratch, " --ckpt ", policy,
                                            " --reward_address 127.0.0.1:", reward_port,
                                            " --rollout_workers 127.0.0.1:", worker_port);
    Result without = RunR1(scratch, attach);
    EXPECT_EQ(without.exit_code, 1);
    EXPECT_THAT(without.err, HasSubstr("UNAUTHENTICATED"));
    Result with = RunR1(scratch, absl::StrCat(attach, " --service_token_file ", scratch, "/token"));
    EXPECT_EQ(with.exit_code, 0) << with.err;
    EXPECT_TRUE(fs::exists(scratch + "/reject_sample/data.jsonl")) << with.err;
    (*reward)->Signal(SIGTERM);
    (*worker)->Signal(SIGTERM);
    EXPECT_TRUE((*reward)->Wait(absl::Seconds(30)).ok());
    EXPECT_TRUE((*worker)->Wait(absl::Seconds(30)).ok());
    fs::remove_all(scratch + "/reject_sample");
  }

  // A full disk while a checkpoint is written (a file size limit fails the
  // writes the same way): an error, and no checkpoint that looks complete.
  Result full = RunR1(scratch,
                      absl::StrCat("sft ", g->config, " --run_dir ", scratch, " --init ", policy, " --train ",
                                   g->run_dir, "/reject_sample/data.jsonl"),
                      "trap \"\" XFSZ; ulimit -f 64");
  EXPECT_EQ(full.exit_code, 1);
  EXPECT_THAT(full.err, HasSubstr("r1: "));
  bool complete_checkpoint = false;
  if (fs::exists(scratch + "/sft/checkpoints")) {
    for (const auto& entry : fs::directory_iterator(scratch + "/sft/checkpoints")) {
      complete_checkpoint |= entry.path().filename().string().rfind("step_", 0) == 0 &&
                             entry.path().filename().string().find(".tmp") == std::string::npos;
    }
  }
  EXPECT_FALSE(complete_checkpoint) << full.err;
}

TEST(Pipeline, FullRunThenRerunAndBadInput) {
  Shared shared = MakeShared("full");
  g = &shared;
  g->first = RunR1(g->dir, absl::StrCat("pipeline ", g->config, " --run_dir ", g->run_dir));
  ASSERT_EQ(g->first.exit_code, 0) << g->first.err;
  {
    SCOPED_TRACE("manifest");
    EveryStageRunsAndTheManifestRecordsIt();
  }
  {
    SCOPED_TRACE("rejection samples");
    RejectionSamplesCarryProvenanceAndStats();
  }
  {
    SCOPED_TRACE("held-out prompts");
    NoStageTrainsOnAnEvalPrompt();
  }
  {
    SCOPED_TRACE("export");
    ExportHoldsHuggingFaceFilesCardAndGguf();
  }
  {
    SCOPED_TRACE("eval and report");
    EvalCoversEveryModelAndTheReportShowsThem();
  }
  {
    SCOPED_TRACE("rerun");
    ARerunSkipsEveryFinishedStage();
  }
  {
    SCOPED_TRACE("a stage that runs again");
    AStageThatRunsAgainRerunsEveryLaterStage();
  }
  {
    SCOPED_TRACE("bad input");
    StageCommandsRefuseBadInputWithOneLine();
  }
  if (!HasFailure()) fs::remove_all(g->dir);
}

}  // namespace
}  // namespace r1
