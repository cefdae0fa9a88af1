// `r1 pipeline`: the staged R1 run from one config. Each stage runs as its
// own `r1 <stage>` process (the same commands a user runs one at a time);
// the pipeline chains their outputs, keeps a manifest, shares one reward
// service among the stages that score, and writes the run report at the end.
//
// run_dir/manifest.json  stage, status, seconds and output of every stage: a
//                        rerun skips the finished ones and resumes the one
//                        that was interrupted or failed
// run_dir/<stage>/       each stage's artifacts
// run_dir/logs/          each stage's stdout (its output path on the last line)
// run_dir/eval/          accuracy of every stage's model (the eval stage)
// run_dir/report.html    plots, accuracy per stage, teacher against student,
//                        sample browser
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/commands.h"
#include "cli/local_services.h"
#include "cli/run_flags.h"
#include "cli/service_auth_flags.h"
#include "common/config.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "common/jsonl.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "model/checkpoint.h"
#include "proto/records.pb.h"
#include "report/run_report.h"

namespace r1::cli {
namespace {

namespace fs = std::filesystem;

std::atomic<int> g_interrupt_signal{0};

void OnInterrupt(int signal_number) { g_interrupt_signal = signal_number; }

std::string StageName(config::Stage stage) {
  switch (stage) {
    case config::PRETRAIN: return "pretrain";
    case config::COLD_START_SFT: return "cold_start_sft";
    case config::RL: return "rl";
    case config::REJECT_SAMPLE: return "reject_sample";
    case config::SFT: return "sft";
    case config::RL2: return "rl2";
    case config::DISTILL: return "distill";
    case config::EXPORT: return "export";
    case config::EVAL: return "eval";
    default: return "unknown";
  }
}

// Stages that continue from their newest checkpoint when rerun; the others
// start over (their output appears atomically, so a partial one is never
// mistaken for a finished one).
bool Resumable(config::Stage stage) {
  return stage == config::PRETRAIN || stage == config::COLD_START_SFT || stage == config::RL ||
         stage == config::SFT || stage == config::RL2 || stage == config::DISTILL;
}

bool ScoresWithReward(config::Stage stage) {
  return stage == config::RL || stage == config::RL2 || stage == config::REJECT_SAMPLE;
}

std::string Now() {
  char text[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

class Manifest {
 public:
  explicit Manifest(std::string path) : path_(std::move(path)) {}

  // Loads an existing manifest; NOT_FOUND when there is none.
  absl::Status Load() {
    if (!fs::exists(path_)) return absl::NotFoundError(path_);
    R1_ASSIGN_OR_RETURN(std::string text, ReadFile(path_));
    absl::Status parsed = ParseJsonRecord(text, &manifest_);
    if (!parsed.ok()) {
      return absl::DataLossError(absl::StrCat(path_, " is not a run manifest (", parsed.message(),
                                              "): use a new --run_dir, or delete it to start over"));
    }
    return absl::OkStatus();
  }
  absl::Status Save() const { return WriteFileAtomically(path_, ToJsonLine(manifest_) + "\n"); }

  data::RunManifest& get() { return manifest_; }
  data::StageRecord& Stage(const std::string& name) {
    for (data::StageRecord& s : *manifest_.mutable_stages()) {
      if (s.name() == name) return s;
    }
    data::StageRecord& added = *manifest_.add_stages();
    added.set_name(name);
    added.set_status("pending");
    return added;
  }

 private:
  std::string path_;
  data::RunManifest manifest_;
};

// The last non-empty line of a stage's stdout: the path it produced.
std::string LastLine(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return "";
  std::string last;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty()) last = std::string(line);
  }
  return last;
}

// A stage whose output is recorded and still there.
bool Finished(const data::StageRecord& record) {
  return record.status() == "done" && !record.output().empty() && fs::exists(record.output());
}

struct StageRun {
  int exit_code = 0;
  bool interrupted = false;
};

// Runs one `r1 ...` command, passing an interrupt on to it (SIGINT, then
// SIGKILL after a grace period) so no stage outlives the pipeline.
absl::StatusOr<StageRun> RunChild(const std::vector<std::string>& argv, const std::string& stdout_path) {
  SubprocessOptions options;
  options.stdout_path = stdout_path;
  R1_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> child, Subprocess::Start(argv, options));
  StageRun run;
  bool forwarded = false;
  auto forwarded_at = std::chrono::steady_clock::now();
  while (true) {
    absl::StatusOr<int> code = child->Wait(absl::Milliseconds(200));
    if (code.ok()) {
      run.exit_code = *code;
      break;
    }
    if (g_interrupt_signal != 0 && !forwarded) {
      child->Signal(SIGINT);
      forwarded = true;
      forwarded_at = std::chrono::steady_clock::now();
    }
    if (forwarded && std::chrono::steady_clock::now() - forwarded_at > std::chrono::seconds(20)) {
      run.exit_code = child->Stop(absl::Seconds(5));
      break;
    }
  }
  run.interrupted = g_interrupt_signal != 0;
  return run;
}

// The student's base (pretrained beside the policy), when the run has one:
// evaluated so the report shows what distillation added.
void AddStudentBase(Manifest& manifest, std::vector<std::pair<std::string, std::string>>* models) {
  for (const data::StageRecord& s : manifest.get().stages()) {
    if (s.name() == "pretrain_student" && s.status() == "done" && fs::exists(s.output())) {
      models->emplace_back("pretrain_student", s.output());
    }
  }
}

void PrintReport(const std::string& run_dir) {
  if (absl::Status s = report::WriteRunReport(run_dir); !s.ok()) {
    std::fprintf(stderr, "pipeline: could not write the report: %s\n", std::string(s.message()).c_str());
    return;
  }
  absl::StatusOr<report::RunSummary> summary = report::LoadRunSummary(run_dir);
  if (summary.ok()) std::fprintf(stderr, "\n%s", report::SummaryTable(*summary).c_str());
  std::fprintf(stderr, "pipeline: report in %s/report.html\n", run_dir.c_str());
}

// The pipeline's own flags, beside the run flags (config, --run_dir, --set).
struct PipelineFlags {
  RunFlags run;
  std::string init, reward_address, rollout_workers, only;
  ServiceAuthFlags auth;  // passed on to the stages that attach to services
  int64_t worker_threads = 0;

  void Add(FlagSet& flags) {
    run.Add(flags, "rl.max_steps=20");
    flags.AddString("init", &init, "starting policy checkpoint when the stages do not include PRETRAIN");
    flags.AddString("reward_address", &reward_address, "host:port of a running reward service (default: start one)");
    flags.AddString("rollout_workers", &rollout_workers, "host:port,... of running rollout workers");
    flags.AddInt("worker_threads", &worker_threads, "intra-op threads of each local rollout worker; 0 = all cores");
    auth.Add(flags, "the attached services (passed on to the stages)");
    flags.AddString("only", &only,
                    "run just these stages (comma-separated names of the config's stages), e.g. --only eval,export;\n"
                    "a selected stage runs again from the start even when it finished earlier (an interrupted\n"
                    "one resumes), and the stages after it that finished earlier are rerun too");
  }
};

// Opens the run folder's manifest: a rerun must be of the same config, or
// finished stages would be mixed with stages of another run. Records the
// config (and a copy of it) and every stage it lists.
absl::Status OpenManifest(const config::RunConfig& run, const std::string& config_path, const std::string& run_dir,
                          Manifest& manifest) {
  const std::string fingerprint = absl::StrFormat("%08x", Crc32c(ToTextProto(run)));
  if (absl::Status s = manifest.Load(); s.ok()) {
    if (manifest.get().config_fingerprint() != fingerprint) {
      return absl::FailedPreconditionError(absl::StrCat(
          run_dir, " holds a run of a different config (", manifest.get().config(),
          " with other settings): use a new --run_dir, or delete ", run_dir, "/manifest.json to start over"));
    }
    std::fprintf(stderr, "pipeline: continuing the run in %s\n", run_dir.c_str());
  } else if (s.code() != absl::StatusCode::kNotFound) {
    return s;
  }
  manifest.get().set_config(config_path);
  manifest.get().set_config_fingerprint(fingerprint);
  for (int s : run.stages()) manifest.Stage(StageName(static_cast<config::Stage>(s)));
  R1_RETURN_IF_ERROR(manifest.Save());
  return WriteFileAtomically(absl::StrCat(run_dir, "/config.textproto"), ToTextProto(run));
}

// The stages --only names, each checked against the config's.
absl::StatusOr<std::set<std::string>> OnlyStages(const config::RunConfig& run, const std::string& only,
                                                 const std::string& config_path) {
  const std::set<std::string> only_stages =
      only.empty() ? std::set<std::string>{} : absl::StrSplit(only, ',', absl::SkipEmpty());
  std::set<std::string> listed;
  for (int s : run.stages()) listed.insert(StageName(static_cast<config::Stage>(s)));
  for (const std::string& name : only_stages) {
    if (listed.count(name) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("--only ", name, ": not a stage of ", config_path,
                                                     " (its stages: ", absl::StrJoin(listed, ", "), ")"));
    }
  }
  return only_stages;
}

// The plan: which stages run in this invocation. A selected stage runs
// unless it finished earlier; a finished one runs again when --only names
// it, or when an earlier stage runs (its output was made from the old one).
std::vector<bool> PlanStages(const config::RunConfig& run, const std::set<std::string>& only_stages,
                             Manifest& manifest) {
  std::vector<bool> runs(static_cast<size_t>(run.stages_size()), false);
  bool earlier_stage_runs = false;
  for (int index = 0; index < run.stages_size(); ++index) {
    const std::string name = StageName(static_cast<config::Stage>(run.stages(index)));
    const data::StageRecord& record = manifest.Stage(name);
    const bool selected = only_stages.empty() || only_stages.count(name) > 0;
    runs[index] = selected && (!Finished(record) || earlier_stage_runs || !only_stages.empty());
    earlier_stage_runs |= runs[index];
  }
  return runs;
}

// What the stages hand on: the policy, the rejection-sampled set, the
// student, and every policy stage's model for eval.
struct Handed {
  std::string policy, dataset, student;
  std::vector<std::pair<std::string, std::string>> models;  // (stage, checkpoint or folder)

  void Take(config::Stage stage, const std::string& name, const std::string& output, Manifest& manifest) {
    if (stage == config::REJECT_SAMPLE) {
      dataset = output;
    } else if (stage == config::DISTILL) {
      student = output;
    } else if (stage == config::EXPORT) {
      models.emplace_back("distill", output);  // the student, evaluated as exported
    } else if (stage != config::EVAL) {
      policy = output;
      models.emplace_back(name, output);
      if (stage == config::PRETRAIN) AddStudentBase(manifest, &models);
    }
  }
};

// The `r1 ...` command line of a stage other than EVAL. `resume`: an
// interrupted or failed stage continues from its newest checkpoint.
absl::StatusOr<std::vector<std::string>> StageCommand(config::Stage stage, const std::string& name,
                                                      const Handed& handed, const PipelineFlags& f,
                                                      const std::string& reward_address, bool resume) {
  const std::string& run_dir = f.run.run_dir();
  std::vector<std::string> argv = {absl::StrCat(ExecutableDir(), "/r1")};
  const auto add = [&](std::initializer_list<std::string> more) { argv.insert(argv.end(), more); };
  const auto need = [&](const std::string& what, const std::string& value) -> absl::Status {
    if (!value.empty()) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat("stage ", name, " needs ", what,
                                                      ": list the stage that makes it before this one"));
  };
  const std::string& policy = handed.policy;
  switch (stage) {
    case config::PRETRAIN: add({"pretrain"}); break;
    case config::COLD_START_SFT:
      R1_RETURN_IF_ERROR(need("a policy (PRETRAIN or --init)", policy));
      add({"sft", "--stage", "cold_start_sft", "--init", policy});
      break;
    case config::RL:
    case config::RL2:
      R1_RETURN_IF_ERROR(need("a policy (PRETRAIN or --init)", policy));
      add({"rl", "--stage", name, "--init", policy});
      break;
    case config::REJECT_SAMPLE:
      R1_RETURN_IF_ERROR(need("a policy", policy));
      add({"reject-sample", "--ckpt", policy});
      break;
    case config::SFT:
      R1_RETURN_IF_ERROR(need("a policy and REJECT_SAMPLE's data", handed.dataset.empty() ? "" : policy));
      add({"sft", "--stage", "sft", "--init", policy, "--train", handed.dataset});
      break;
    case config::DISTILL:
      R1_RETURN_IF_ERROR(need("a teacher and REJECT_SAMPLE's data", handed.dataset.empty() ? "" : policy));
      // The eval stage compares teacher and student; no need to do it twice.
      add({"distill", "--teacher", policy, "--train", handed.dataset, "--nocompare"});
      break;
    case config::EXPORT:
      R1_RETURN_IF_ERROR(need("a student (DISTILL)", handed.student));
      add({"export", "--ckpt", handed.student, "--out", absl::StrCat(run_dir, "/export")});
      break;
    default: return absl::InvalidArgumentError(absl::StrCat("unknown stage ", static_cast<int>(stage)));
  }
  add({f.run.config_path(), "--run_dir", run_dir});
  for (const std::string& o : f.run.overrides()) add({"--set", o});
  if (ScoresWithReward(stage)) {
    add({"--reward_address", reward_address});
    if (!f.rollout_workers.empty()) add({"--rollout_workers", f.rollout_workers});
    if (f.worker_threads > 0) add({"--worker_threads", absl::StrCat(f.worker_threads)});
    const std::vector<std::string> auth_args = f.auth.Args();
    argv.insert(argv.end(), auth_args.begin(), auth_args.end());
  }
  if (resume) add({"--resume"});
  return argv;
}

// The EVAL stage: `r1 eval` of every model the run produced, in stage order,
// into run_dir/eval. Stops at the first that fails or is interrupted.
absl::StatusOr<StageRun> RunEvalStage(const Handed& handed, const RunFlags& run_flags, const std::string& log_dir) {
  const std::string& run_dir = run_flags.run_dir();
  const std::string eval_dir = absl::StrCat(run_dir, "/eval");
  R1_RETURN_IF_ERROR(MakeDirs(eval_dir));
  StageRun result;
  for (const auto& [model_name, path] : handed.models) {
    std::vector<std::string> eval_argv = {absl::StrCat(ExecutableDir(), "/r1"), "eval", run_flags.config_path(),
                                          "--run_dir", run_dir, "--ckpt", path,
                                          "--out", absl::StrCat(eval_dir, "/", model_name, ".json"),
                                          "--samples_out", absl::StrCat(eval_dir, "/", model_name, ".samples.jsonl")};
    for (const std::string& o : run_flags.overrides()) eval_argv.insert(eval_argv.end(), {"--set", o});
    std::fprintf(stderr, "pipeline: eval of %s (%s)\n", model_name.c_str(), path.c_str());
    R1_ASSIGN_OR_RETURN(result, RunChild(eval_argv, absl::StrCat(log_dir, "/eval_", model_name, ".out")));
    if (result.exit_code != 0 || result.interrupted) break;
  }
  return result;
}

// The student's base, trained beside the policy during PRETRAIN: recorded
// for eval and export provenance.
void RecordStudentBase(const std::string& run_dir, const data::StageRecord& pretrain, Manifest& manifest) {
  absl::StatusOr<std::string> base = model::LatestCheckpoint(absl::StrCat(run_dir, "/pretrain_student/checkpoints"));
  if (!base.ok()) return;
  data::StageRecord& student_base = manifest.Stage("pretrain_student");
  student_base.set_status("done");
  student_base.set_output(*base);
  student_base.set_attempts(pretrain.attempts());
  // It trained beside the policy, within the pretrain stage's wall time.
  absl::StatusOr<model::TrainingState> state = model::LoadTrainingState(*base);
  student_base.set_seconds(state.ok() ? state->ExtraNumber("elapsed_seconds", 0) : pretrain.seconds());
}

// Starts one reward service on loopback for the stages that score, unless
// one is attached (--reward_address) or no stage of the plan scores.
absl::StatusOr<std::unique_ptr<LocalServices>> StartRewardIfNeeded(const config::RunConfig& run,
                                                                   const std::vector<bool>& runs,
                                                                   const PipelineFlags& f) {
  bool any_scoring = false;
  for (int index = 0; index < run.stages_size(); ++index) {
    any_scoring |= runs[index] && ScoresWithReward(static_cast<config::Stage>(run.stages(index)));
  }
  if (!any_scoring || !f.reward_address.empty()) return nullptr;
  LocalServicesOptions local;
  local.bin_dir = ExecutableDir();
  local.log_dir = absl::StrCat(f.run.run_dir(), "/services");
  local.start_reward = true;
  local.config_path = f.run.config_path();
  local.config_overrides = f.run.overrides();
  std::fprintf(stderr, "pipeline: starting the reward service on loopback (log in %s)\n", local.log_dir.c_str());
  return LocalServices::Start(local);
}

}  // namespace

int Pipeline(const Args& args) {
  PipelineFlags f;
  FlagSet flags("r1 pipeline",
                "Runs the stages the config lists (stages: PRETRAIN, COLD_START_SFT, RL, REJECT_SAMPLE,\n"
                "SFT, RL2, DISTILL, EXPORT, EVAL) in order, each as its own `r1` process, chaining\n"
                "their outputs: the policy through pretrain/SFT/RL, the rejection-sampled set into SFT\n"
                "and distillation, the student into export, every stage's model into eval. Starts one\n"
                "reward service on loopback for the stages that score (or attaches to\n"
                "--reward_address); RL and rejection sampling start their own rollout workers (or\n"
                "attach to --rollout_workers). run_dir/manifest.json records each stage: a rerun\n"
                "skips finished stages and resumes an interrupted one. Ctrl-C stops the running\n"
                "stage and every service. Ends with run_dir/report.html and a summary table.");
  f.Add(flags);
  if (auto code = ParseCommandLine(flags, args)) return *code;
  config::RunConfig run;
  if (auto code = f.run.Load("r1 pipeline", &run)) return *code;
  if (run.stages_size() == 0) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(f.run.config_path(), ": `stages` lists no stage")));
  }
  const std::string run_dir = f.run.run_dir();
  if (absl::Status s = MakeDirs(run_dir); !s.ok()) return Fail(s);
  Manifest manifest(absl::StrCat(run_dir, "/manifest.json"));
  if (absl::Status s = OpenManifest(run, f.run.config_path(), run_dir, manifest); !s.ok()) return Fail(s);

  struct sigaction action = {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  absl::StatusOr<std::set<std::string>> only_stages = OnlyStages(run, f.only, f.run.config_path());
  if (!only_stages.ok()) return Fail(only_stages.status());
  const std::vector<bool> runs = PlanStages(run, *only_stages, manifest);
  absl::StatusOr<std::unique_ptr<LocalServices>> services = StartRewardIfNeeded(run, runs, f);
  if (!services.ok()) return Fail(services.status());
  const std::string reward_address = *services ? (*services)->reward_address() : f.reward_address;
  // Stops the services and writes the report: every way out after here.
  const auto finish = [&](int code) {
    services->reset();
    PrintReport(run_dir);
    return code;
  };

  Handed handed;
  handed.policy = f.init;
  const auto started_at = std::chrono::steady_clock::now();
  for (int index = 0; index < run.stages_size(); ++index) {
    const config::Stage stage = static_cast<config::Stage>(run.stages(index));
    const std::string name = StageName(stage);
    data::StageRecord& record = manifest.Stage(name);
    const bool rerun = Finished(record) && runs[index];  // starts over, see the plan above
    if (!runs[index]) {
      if (Finished(record)) {
        std::fprintf(stderr, "pipeline: %s done earlier (%.0f s) -> %s\n", name.c_str(), record.seconds(),
                     record.output().c_str());
      } else if (record.output().empty() || !fs::exists(record.output())) {
        // Unfinished and not selected: fine when no selected stage follows.
        bool selected_later = false;
        for (int i = index + 1; i < run.stages_size(); ++i) {
          selected_later |= only_stages->count(StageName(static_cast<config::Stage>(run.stages(i)))) > 0;
        }
        if (!selected_later) break;
        return Fail(absl::FailedPreconditionError(absl::StrCat(
            "stage ", name, " has not finished, and --only skips it: later stages need its output")));
      }
      handed.Take(stage, name, record.output(), manifest);
      continue;
    }

    // Ctrl-C between two stages: stop before starting the next one.
    if (g_interrupt_signal != 0) {
      std::fprintf(stderr, "\npipeline: interrupted before %s; rerun the same command to continue\n", name.c_str());
      return finish(128 + g_interrupt_signal.load());
    }
    std::vector<std::string> argv;
    if (stage != config::EVAL) {
      const bool resume = Resumable(stage) && record.attempts() > 0 && !rerun;
      absl::StatusOr<std::vector<std::string>> command = StageCommand(stage, name, handed, f, reward_address, resume);
      if (!command.ok()) return Fail(command.status());
      argv = std::move(*command);
    }

    // Not in the stage's folder: export replaces its folder whole.
    const std::string log_dir = absl::StrCat(run_dir, "/logs");
    if (absl::Status st = MakeDirs(log_dir); !st.ok()) return Fail(st);
    record.set_status("running");
    record.set_attempts(record.attempts() + 1);
    record.set_started(Now());
    record.clear_error();
    if (absl::Status st = manifest.Save(); !st.ok()) return Fail(st);
    std::fprintf(stderr, "\npipeline: === %s%s ===\n", name.c_str(),
                 record.attempts() > 1 ? absl::StrCat(" (attempt ", record.attempts(), ")").c_str() : "");
    const auto stage_start = std::chrono::steady_clock::now();

    const std::string stdout_path = absl::StrCat(log_dir, "/", name, ".out");
    absl::StatusOr<StageRun> result =
        stage == config::EVAL ? RunEvalStage(handed, f.run, log_dir) : RunChild(argv, stdout_path);
    if (!result.ok()) return Fail(result.status());
    const std::string output = stage == config::EVAL ? absl::StrCat(run_dir, "/eval") : LastLine(stdout_path);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stage_start).count();
    record.set_seconds(record.seconds() + seconds);
    record.set_finished(Now());
    if (result->interrupted) {
      record.set_status("interrupted");
      (void)manifest.Save();
      std::fprintf(stderr, "\npipeline: interrupted during %s; rerun the same command to resume it\n", name.c_str());
      return finish(128 + g_interrupt_signal.load());
    }
    if (result->exit_code != 0 || output.empty()) {
      record.set_status("failed");
      record.set_error(result->exit_code != 0 ? absl::StrCat("exit code ", result->exit_code)
                                              : "the stage printed no output path");
      (void)manifest.Save();
      std::fprintf(stderr, "\npipeline: stage %s failed (%s); its messages are above. Rerun to retry it.\n",
                   name.c_str(), record.error().c_str());
      return finish(kExitFailure);
    }
    record.set_status("done");
    record.set_output(output);
    if (stage == config::PRETRAIN) RecordStudentBase(run_dir, record, manifest);
    if (absl::Status st = manifest.Save(); !st.ok()) return Fail(st);
    std::fprintf(stderr, "pipeline: %s done in %.0f s -> %s\n", name.c_str(), seconds, output.c_str());
    handed.Take(stage, name, output, manifest);
    // Fault injection for tests: a Ctrl-C that lands between two stages,
    // which no test could time from outside.
    if (const char* after = std::getenv("R1_TEST_INTERRUPT_AFTER_STAGE"); after != nullptr && name == after) {
      raise(SIGINT);
    }
  }
  std::fprintf(stderr, "\npipeline: all stages done in %.0f s (this invocation)\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count());
  return finish(kExitOk);
}

}  // namespace r1::cli
