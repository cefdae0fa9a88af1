// The post-training stage commands: `r1 sft`, `r1 reject-sample` and
// `r1 distill`. Each reads the run config's section of its name, works in
// run_dir/<stage>, and prints what it produced (a checkpoint or a file) on
// stdout, so a pipeline or a script can chain them.
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/run_flags.h"
#include "cli/stage_services.h"
#include "common/config.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "common/jsonl.h"
#include "common/random.h"
#include "common/status.h"
#include "common/tokenizer.h"
#include "distill/distill.h"
#include "eval/task_eval.h"
#include "model/causal_lm.h"
#include "model/checkpoint.h"
#include "rl/prompts.h"
#include "tasks/held_out.h"
#include "rl/reject_sample.h"
#include "sft/sft_stage.h"
#include "tasks/task.h"

namespace r1::cli {
namespace {

// The newest checkpoint of the first stage in `stages` that has one.
absl::StatusOr<std::string> NewestCheckpointOf(const std::string& run_dir, const std::vector<std::string>& stages,
                                               const std::string& what) {
  for (const std::string& stage : stages) {
    absl::StatusOr<std::string> latest = model::LatestCheckpoint(absl::StrCat(run_dir, "/", stage, "/checkpoints"));
    if (latest.ok()) return latest;
  }
  return absl::NotFoundError(absl::StrCat("no ", what, " checkpoint in ", run_dir, " (looked in ",
                                          absl::StrJoin(stages, ", "), "): give it on the command line"));
}

// Clean worked solutions of the config's tasks, as cold-start data; none of
// them is a held-out eval prompt.
absl::Status GenerateCleanExamples(const config::RunConfig& run, const std::string& run_dir, int count,
                                   const std::string& path) {
  std::vector<config::TaskConfig> task_configs(run.data().tasks().begin(), run.data().tasks().end());
  if (task_configs.empty()) return absl::InvalidArgumentError("generated_examples needs data.tasks");
  for (config::TaskConfig& t : task_configs) t.set_solution_error_rate(0);
  R1_ASSIGN_OR_RETURN(tasks::TaskMix mix, tasks::TaskMix::Create(task_configs));
  R1_ASSIGN_OR_RETURN(std::vector<data::PromptRecord> eval_prompts, tasks::LoadEvalPrompts(run.data(), run_dir));
  // A seed apart from pretraining's corpus (data.seed).
  R1_ASSIGN_OR_RETURN(std::vector<data::SftRecord> examples,
                      tasks::WorkedExamplesApartFrom(mix, StreamSeed(run.data().seed(), 0xC01D), count,
                                                     tasks::HeldOutPrompts(eval_prompts)));
  JsonlWriter writer;
  R1_RETURN_IF_ERROR(writer.Open(path));
  for (const data::SftRecord& example : examples) R1_RETURN_IF_ERROR(writer.Write(example));
  return writer.Commit();
}

// The held-out eval prompts (tasks/held_out.h) when the config defines them:
// the SFT and distillation data must not contain them.
absl::StatusOr<tasks::HeldOutPrompts> HeldOutOf(const config::RunConfig& run, const std::string& run_dir) {
  if (run.data().tasks_size() == 0 && run.data().eval_prompts().empty()) return tasks::HeldOutPrompts();
  R1_ASSIGN_OR_RETURN(std::vector<data::PromptRecord> eval_prompts, tasks::LoadEvalPrompts(run.data(), run_dir));
  return tasks::HeldOutPrompts(eval_prompts);
}

// The config's relative file names are relative to the run directory (as
// every stage reads them); names given as flags, to the working directory.
void ResolveDataFiles(const std::string& run_dir, config::SftConfig* sft) {
  if (!sft->train_file().empty()) sft->set_train_file(ResolvePath(run_dir, sft->train_file()));
  if (!sft->eval_file().empty()) sft->set_eval_file(ResolvePath(run_dir, sft->eval_file()));
}

}  // namespace

int Sft(const Args& args) {
  RunFlags run_flags;
  std::string stage = "sft", init, train, eval_file;
  bool resume = false;
  FlagSet flags("r1 sft",
                "Supervised fine-tuning on JSONL (prompt/response or messages): the chat template,\n"
                "loss on response tokens only, packed rows with attention kept within each example,\n"
                "eval loss on a held-out split, checkpoints, resume and metrics under run_dir/<stage>.\n"
                "--stage cold_start_sft reads the config's cold_start_sft section (default start: the\n"
                "pretrained base), --stage sft its sft section (default data: the rejection-sampled\n"
                "set in run_dir/reject_sample; default start: the newest RL checkpoint). Prints the\n"
                "final checkpoint.");
  run_flags.Add(flags, "sft.max_steps=100");
  flags.AddString("stage", &stage, "cold_start_sft or sft");
  flags.AddString("init", &init, "starting checkpoint");
  flags.AddString("train", &train, "training JSONL (default: the section's train_file)");
  flags.AddString("eval", &eval_file, "eval JSONL (default: the section's eval_file, else a held-out split)");
  flags.AddBool("resume", &resume, "continue from the newest checkpoint in run_dir/<stage>");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  if (stage != "cold_start_sft" && stage != "sft") {
    std::fprintf(stderr, "r1 sft: --stage must be cold_start_sft or sft, got \"%s\"\n", stage.c_str());
    return kExitUsage;
  }
  config::RunConfig run;
  if (auto code = run_flags.Load("r1 sft", &run)) return *code;
  const bool cold = stage == "cold_start_sft";
  if (cold ? !run.has_cold_start_sft() : !run.has_sft()) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(run_flags.config_path(), " has no ", stage, " section")));
  }
  model::ConfigureRuntime(run.threads());
  const std::string& dir = run_flags.run_dir();
  const std::string stage_dir = absl::StrCat(dir, "/", stage);

  sft::SftStageOptions options;
  options.stage = stage;
  options.stage_dir = stage_dir;
  options.sft = cold ? run.cold_start_sft() : run.sft();
  ResolveDataFiles(dir, &options.sft);
  absl::StatusOr<tasks::HeldOutPrompts> held_out = HeldOutOf(run, dir);
  if (!held_out.ok()) return Fail(held_out.status());
  options.held_out = *held_out;
  options.seed = run.seed();
  options.resume = resume;
  if (!train.empty()) options.sft.set_train_file(train);
  if (!eval_file.empty()) options.sft.set_eval_file(eval_file);
  if (options.sft.train_file().empty()) {
    if (options.sft.generated_examples() > 0) {
      const std::string path = absl::StrCat(stage_dir, "/data.jsonl");
      if (absl::Status s = MakeDirs(stage_dir); !s.ok()) return Fail(s);
      std::fprintf(stderr, "%s: generating %d clean worked solutions into %s\n", stage.c_str(),
                   options.sft.generated_examples(), path.c_str());
      if (absl::Status s = GenerateCleanExamples(run, dir, options.sft.generated_examples(), path); !s.ok()) return Fail(s);
      options.sft.set_train_file(path);
    } else if (!cold) {
      options.sft.set_train_file(absl::StrCat(dir, "/reject_sample/data.jsonl"));
    } else {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          "cold_start_sft: no data: give --train, or set cold_start_sft.train_file or generated_examples")));
    }
  }
  if (init.empty()) {
    absl::StatusOr<std::string> latest =
        cold ? NewestCheckpointOf(dir, {"pretrain"}, "pretrained")
             : NewestCheckpointOf(dir, {"rl", "cold_start_sft", "pretrain"}, "starting");
    if (!latest.ok()) return Fail(latest.status());
    init = *latest;
  }
  options.init_checkpoint = init;
  options.chat_template = ChatTemplatePath(run.data(), dir);
  std::fprintf(stderr, "%s: from %s on %s\n", stage.c_str(), init.c_str(), options.sft.train_file().c_str());
  absl::StatusOr<sft::SftStageResult> result = sft::RunSft(options);
  if (!result.ok()) return Fail(result.status());
  std::printf("%s\n", result->training.checkpoint.c_str());
  return kExitOk;
}

int RejectSample(const Args& args) {
  RunFlags run_flags;
  ServiceFlags service_flags;
  std::string ckpt, out;
  int64_t prompts = 0;
  FlagSet flags("r1 reject-sample",
                "Rejection sampling: K samples per prompt (reject_sample.samples_per_prompt) from a\n"
                "checkpoint through rollout workers, scored by the reward service; keeps correct,\n"
                "well-formed, complete samples, drops duplicates (and by config overlong or\n"
                "mixed-language ones), keeps up to M per prompt, and writes an SFT JSONL with each\n"
                "example's provenance (checkpoint, weight version, rewards) plus stats.json beside it.\n"
                "Prompts: data.train_prompts or the task generators (held-out prompts excluded).\n"
                "Prints the dataset path.");
  run_flags.Add(flags, "reject_sample.samples_per_prompt=4");
  service_flags.Add(flags);
  flags.AddString("ckpt", &ckpt, "checkpoint to sample (default: the newest of run_dir/rl2, rl, cold_start_sft)");
  flags.AddString("out", &out, "output JSONL (default: run_dir/reject_sample/data.jsonl)");
  flags.AddInt("prompts", &prompts, "how many prompts (default: reject_sample.prompts)");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  config::RunConfig run;
  if (auto code = run_flags.Load("r1 reject-sample", &run)) return *code;
  if (!run.has_reject_sample()) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(run_flags.config_path(), " has no reject_sample section")));
  }
  const std::string& dir = run_flags.run_dir();
  if (ckpt.empty()) {
    absl::StatusOr<std::string> latest = NewestCheckpointOf(dir, {"rl2", "rl", "cold_start_sft"}, "RL");
    if (!latest.ok()) return Fail(latest.status());
    ckpt = *latest;
  }
  if (out.empty()) out = absl::StrCat(dir, "/reject_sample/data.jsonl");
  const std::string out_dir = std::filesystem::path(out).parent_path().string();
  if (absl::Status s = MakeDirs(out_dir.empty() ? "." : out_dir); !s.ok()) return Fail(s);
  // The checkpoint must load before services start on it: a clear error here
  // beats a worker's start-up failure.
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(ckpt, ChatTemplatePath(run.data(), dir));
  if (!tokenizer.ok()) return Fail(tokenizer.status());

  ServiceFlags::Needs needs;
  needs.reward = needs.workers = true;
  needs.checkpoint = ckpt;
  needs.log_dir = absl::StrCat(dir, "/reject_sample/services");
  needs.stage = "reject_sample";
  absl::StatusOr<StageServices> services = service_flags.Start(run, run_flags, needs);
  if (!services.ok()) return Fail(services.status());
  if (services->local->worker_addresses().empty()) {
    // Workers we did not start serve whatever they hold: give them this
    // checkpoint, numbered above every version they have seen.
    absl::StatusOr<model::CausalLm> weights = model::LoadModel(ckpt);
    if (!weights.ok()) return Fail(weights.status());
    absl::StatusOr<int64_t> newest = services->pool->MaxWorkerVersion();
    if (!newest.ok()) {
      return Fail(absl::Status(newest.status().code(),
                               absl::StrCat("rollout workers ", absl::StrJoin(services->pool->addresses(), ","), ": ",
                                            newest.status().message())));
    }
    for (const rollout::PushResult& pushed : services->pool->PushWeights(model::NamedTensors(**weights), *newest + 1)) {
      if (!pushed.status.ok()) {
        return Fail(absl::UnavailableError(absl::StrCat("pushing ", ckpt, " to the rollout worker at ",
                                                        pushed.address, ": ", pushed.status.message())));
      }
    }
  }
  absl::StatusOr<std::vector<data::PromptRecord>> held_out = tasks::LoadEvalPrompts(run.data(), run_flags.run_dir());
  if (!held_out.ok()) return Fail(held_out.status());
  absl::StatusOr<rl::PromptSource> source = rl::PromptSource::Create(run.data(), run_flags.run_dir(), *held_out);
  if (!source.ok()) return Fail(source.status());

  rl::RejectSampleOptions options;
  options.config = run.reject_sample();
  options.prompts = &*source;
  options.num_prompts = prompts > 0 ? prompts : run.reject_sample().prompts();
  if (source->size() > 0) options.num_prompts = std::min(options.num_prompts, source->size());
  options.pool = services->pool.get();
  options.reward = services->reward.get();
  options.tokenizer = &*tokenizer;
  options.checkpoint = ckpt;
  options.output_path = out;
  options.seed = run.seed();
  std::fprintf(stderr, "reject_sample: %s, %lld prompts x %d samples, keep up to %d (%s)\n", ckpt.c_str(),
               static_cast<long long>(options.num_prompts), options.config.samples_per_prompt(),
               options.config.keep_per_prompt(), options.config.keep_policy().c_str());
  absl::StatusOr<rl::RejectSampleStats> stats = rl::RunRejectSampling(options);
  if (!stats.ok()) return Fail(stats.status());
  const std::string stats_path = absl::StrCat(out_dir.empty() ? "." : out_dir, "/stats.json");
  if (absl::Status s = WriteFileAtomically(stats_path, stats->ToJson()); !s.ok()) return Fail(s);
  std::fprintf(stderr,
               "reject_sample: %lld of %lld prompts yielded a kept sample; %lld kept of %lld samples (%lld correct; "
               "dropped: %lld format, %lld truncated, %lld too long, %lld language, %lld duplicates) in %.0f s\n",
               static_cast<long long>(stats->prompts_with_kept), static_cast<long long>(stats->prompts),
               static_cast<long long>(stats->kept), static_cast<long long>(stats->samples),
               static_cast<long long>(stats->correct), static_cast<long long>(stats->dropped_format),
               static_cast<long long>(stats->dropped_truncated), static_cast<long long>(stats->dropped_too_long),
               static_cast<long long>(stats->dropped_language), static_cast<long long>(stats->duplicates),
               stats->seconds);
  std::printf("%s\n", out.c_str());
  return kExitOk;
}

int Distill(const Args& args) {
  RunFlags run_flags;
  ServiceFlags service_flags;
  std::string teacher, train, student_init;
  bool resume = false, compare = true;
  FlagSet flags("r1 distill",
                "Distills the teacher into a dense student (the config's `student`, from its pretrained\n"
                "base in run_dir/pretrain_student when there is one): SFT on\n"
                "teacher traces (default: run_dir/reject_sample/data.jsonl), as DeepSeek-R1 did, plus\n"
                "with distill.kl_weight > 0 a token-level KL to the teacher's top-k logprobs served by\n"
                "a rollout worker. Then measures teacher and student on the same held-out prompts\n"
                "(run_dir/distill/teacher_vs_student.json). Prints the student checkpoint.");
  run_flags.Add(flags, "distill.sft.epochs=2");
  service_flags.Add(flags);
  flags.AddString("teacher", &teacher, "teacher checkpoint (default: the newest of run_dir/rl2, sft, rl)");
  flags.AddString("train", &train, "teacher traces JSONL (default: distill.sft.train_file, else rejection samples)");
  flags.AddString("student_init", &student_init,
                  "the student's starting weights (default: the newest run_dir/pretrain_student checkpoint, else "
                  "random)");
  flags.AddBool("resume", &resume, "continue from the newest checkpoint in run_dir/distill");
  flags.AddBool("compare", &compare, "measure teacher and student on held-out prompts at the end");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  config::RunConfig run;
  if (auto code = run_flags.Load("r1 distill", &run)) return *code;
  if (!run.has_distill() || !run.has_student()) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(run_flags.config_path(), " has no distill or student section")));
  }
  model::ConfigureRuntime(run.threads());
  const std::string& dir = run_flags.run_dir();
  if (teacher.empty()) {
    absl::StatusOr<std::string> latest = NewestCheckpointOf(dir, {"rl2", "sft", "rl"}, "teacher");
    if (!latest.ok()) return Fail(latest.status());
    teacher = *latest;
  }
  distill::DistillOptions options;
  options.config = run.distill();
  ResolveDataFiles(dir, options.config.mutable_sft());
  absl::StatusOr<tasks::HeldOutPrompts> held_out = HeldOutOf(run, dir);
  if (!held_out.ok()) return Fail(held_out.status());
  options.held_out = *held_out;
  options.student = run.student();
  options.stage_dir = absl::StrCat(dir, "/distill");
  options.teacher_checkpoint = teacher;
  options.chat_template = ChatTemplatePath(run.data(), dir);
  if (student_init.empty()) {
    absl::StatusOr<std::string> base = model::LatestCheckpoint(absl::StrCat(dir, "/pretrain_student/checkpoints"));
    if (base.ok()) student_init = *base;
  }
  options.student_init = student_init;
  options.seed = run.seed();
  options.resume = resume;
  if (!train.empty()) options.config.mutable_sft()->set_train_file(train);
  if (options.config.sft().train_file().empty()) {
    options.config.mutable_sft()->set_train_file(absl::StrCat(dir, "/reject_sample/data.jsonl"));
  }
  absl::StatusOr<StageServices> services;
  if (options.config.kl_weight() > 0) {
    ServiceFlags::Needs needs;
    needs.workers = true;
    needs.checkpoint = teacher;
    needs.log_dir = absl::StrCat(dir, "/distill/services");
    needs.stage = "distill";
    services = service_flags.Start(run, run_flags, needs);
    if (!services.ok()) return Fail(services.status());
    options.teacher_pool = services->pool.get();
  }
  std::fprintf(stderr, "distill: teacher %s, student from %s, traces %s, kl_weight %g\n", teacher.c_str(),
               student_init.empty() ? "random weights" : student_init.c_str(),
               options.config.sft().train_file().c_str(), options.config.kl_weight());
  absl::StatusOr<sft::SftStageResult> result = distill::RunDistill(options);
  if (!result.ok()) return Fail(result.status());

  if (compare && run.data().tasks_size() > 0) {
    absl::StatusOr<std::vector<data::PromptRecord>> prompts = tasks::LoadEvalPrompts(run.data(), run_flags.run_dir());
    if (!prompts.ok()) return Fail(prompts.status());
    absl::StatusOr<tasks::TaskMix> verifier = eval::VerifierForPrompts(*prompts, &run.data(), "held-out prompts");
    if (!verifier.ok()) return Fail(verifier.status());
    eval::TaskEvalOptions eo = eval::TaskEvalOptionsFromConfig(run.eval(), 160);
    eo.seed = run.seed();
    std::string json = "{";
    for (const auto& [name, path] : {std::pair<std::string, std::string>{"teacher", teacher},
                                     {"student", result->training.checkpoint}}) {
      absl::StatusOr<model::CausalLm> m = model::LoadModel(path);
      if (!m.ok()) return Fail(m.status());
      absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(path, ChatTemplatePath(run.data(), dir));
      if (!tokenizer.ok()) return Fail(tokenizer.status());
      const eval::TaskEvalResult r = eval::EvaluateOnTasks(**m, *tokenizer, *prompts, *verifier, eo);
      std::fprintf(stderr, "distill: %-7s avg@%d %.3f  pass@%d %.3f  maj@%d %.3f  greedy %.3f  format %.3f\n",
                   name.c_str(), r.samples, r.avg_at_k, r.samples, r.pass_at_k, r.samples, r.maj_at_k, r.greedy,
                   r.format_rate);
      std::string one = eval::TaskEvalJson(r, path, true);
      while (!one.empty() && one.back() == '\n') one.pop_back();
      absl::StrAppend(&json, json.size() > 1 ? ", " : "", "\"", name, "\": ", one);
    }
    absl::StrAppend(&json, "}\n");
    if (absl::Status s = WriteFileAtomically(absl::StrCat(dir, "/distill/teacher_vs_student.json"), json); !s.ok()) {
      return Fail(s);
    }
  }
  std::printf("%s\n", result->training.checkpoint.c_str());
  return kExitOk;
}

}  // namespace r1::cli
