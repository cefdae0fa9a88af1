// `r1 eval`: accuracy of a checkpoint (or an exported model folder) on
// embedded-task prompts, in-process.
#include <cstdio>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "common/config.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "common/jsonl.h"
#include "common/status.h"
#include "common/tokenizer.h"
#include "eval/task_eval.h"
#include "model/checkpoint.h"
#include "rl/prompts.h"
#include "tasks/task.h"

namespace r1::cli {
namespace {

// The verifier for `prompts`: the config's task mix, else one task per task
// name the records use. A record of a task no embedded verifier knows (e.g.
// "math") is refused rather than counted wrong.
absl::StatusOr<tasks::TaskMix> VerifierFor(const std::vector<data::PromptRecord>& prompts,
                                           const config::DataConfig* data, const std::string& source) {
  std::vector<config::TaskConfig> configs;
  if (data != nullptr && data->tasks_size() > 0) {
    configs.assign(data->tasks().begin(), data->tasks().end());
  } else {
    std::set<std::string> names;
    for (const data::PromptRecord& record : prompts) names.insert(record.task());
    for (const std::string& name : names) {
      absl::StatusOr<config::TaskKind> kind = tasks::ParseTaskKind(name);
      if (!kind.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ": task \"", name, "\" has no in-process verifier (r1 eval checks arithmetic, countdown and ",
            "linear_equation)"));
      }
      config::TaskConfig& config = configs.emplace_back();
      config.set_kind(*kind);
    }
  }
  R1_ASSIGN_OR_RETURN(tasks::TaskMix mix, tasks::TaskMix::Create(configs));
  for (const data::PromptRecord& record : prompts) {
    if (mix.Find(record.task()) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": prompt ", record.id(), " is of task \"", record.task(),
                                                     "\", which the config's data.tasks do not include"));
    }
  }
  return mix;
}

}  // namespace

int Eval(const Args& args) {
  std::vector<std::string> files, overrides;
  std::string config_flag, ckpt, prompts_path, out;
  int64_t samples = 0, seed = 0;
  bool greedy = true;
  FlagSet flags("r1 eval",
                "Accuracy of a checkpoint (or exported model folder) on embedded-task prompts: k samples\n"
                "per prompt, each <answer> checked by the task's verifier. Prints avg@k (pass@1 averaged\n"
                "over k samples), pass@k, maj@k, greedy accuracy, format rate and mean length as a table,\n"
                "and writes them as JSON with --out. Prompts: --prompts JSONL, else the config's held-out\n"
                "set (data.eval_prompts, or data.n_eval items drawn with data.eval_seed). Sampling and k:\n"
                "the config's `eval` section.");
  flags.Positional("CONFIG", 0, 1, &files, "run config (or --config)");
  flags.AddString("config", &config_flag, "run config, e.g. configs/tiny.textproto");
  flags.AddList("set", &overrides, "override a config field: --set eval.samples=4 (repeatable)");
  flags.AddString("ckpt", &ckpt, "checkpoint or model folder to evaluate");
  flags.AddString("prompts", &prompts_path, "JSONL of prompt records (default: the config's held-out set)");
  flags.AddInt("samples", &samples, "k, samples per prompt (default: eval.samples)");
  flags.AddBool("greedy", &greedy, "also measure greedy accuracy");
  flags.AddInt("seed", &seed, "sampling seed");
  flags.AddString("out", &out, "write the results here as JSON");
  flags.Require("ckpt");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  const std::string config_path = !config_flag.empty() ? config_flag : files.empty() ? "" : files[0];
  if (config_path.empty() && prompts_path.empty()) {
    std::fprintf(stderr, "r1 eval: give a config or --prompts (see r1 eval --help)\n");
    return kExitUsage;
  }
  config::RunConfig run;
  if (!config_path.empty()) {
    absl::StatusOr<config::RunConfig> loaded = LoadRunConfig(config_path, overrides);
    if (!loaded.ok()) return Fail(loaded.status());
    run = *loaded;
  }
  model::ConfigureRuntime(run.threads());

  std::vector<data::PromptRecord> prompts;
  std::string source = prompts_path;
  if (!prompts_path.empty()) {
    absl::StatusOr<std::vector<data::PromptRecord>> read = ReadJsonl<data::PromptRecord>(prompts_path);
    if (!read.ok()) return Fail(read.status());
    prompts = std::move(*read);
  } else {
    absl::StatusOr<std::vector<data::PromptRecord>> held_out = rl::LoadEvalPrompts(run.data(), "");
    if (!held_out.ok()) return Fail(held_out.status());
    prompts = std::move(*held_out);
    source = absl::StrCat(config_path, " (held-out prompts)");
  }
  if (prompts.empty()) return Fail(absl::InvalidArgumentError(absl::StrCat(source, ": no prompts")));
  absl::StatusOr<tasks::TaskMix> verifier =
      VerifierFor(prompts, config_path.empty() ? nullptr : &run.data(), source);
  if (!verifier.ok()) return Fail(verifier.status());

  absl::StatusOr<model::CausalLm> model = model::LoadModel(ckpt);
  if (!model.ok()) return Fail(model.status());
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(absl::StrCat(ckpt, "/tokenizer.model"));
  if (!tokenizer.ok()) return Fail(tokenizer.status());

  eval::TaskEvalOptions options = eval::TaskEvalOptionsFromConfig(run.eval(), 160);
  if (samples > 0) options.samples = static_cast<int>(samples);
  options.seed = static_cast<uint64_t>(seed);
  options.greedy = greedy;
  std::fprintf(stderr, "eval: %s on %zu prompts x %d samples (temperature %.2f, up to %lld tokens)\n", ckpt.c_str(),
               prompts.size(), options.samples, options.sampling.temperature,
               static_cast<long long>(options.max_new_tokens));
  const eval::TaskEvalResult r = eval::EvaluateOnTasks(**model, *tokenizer, prompts, *verifier, options);

  const int k = r.samples;
  std::printf("%-10s %s\n", "checkpoint", ckpt.c_str());
  std::printf("%-10s %s\n", "prompts", absl::StrCat(r.prompts, " (", source, ")").c_str());
  std::printf("%-10s %.4f\n", absl::StrCat("avg@", k).c_str(), r.avg_at_k);
  std::printf("%-10s %.4f\n", absl::StrCat("pass@", k).c_str(), r.pass_at_k);
  std::printf("%-10s %.4f\n", absl::StrCat("maj@", k).c_str(), r.maj_at_k);
  if (greedy) std::printf("%-10s %.4f\n", "greedy", r.greedy);
  std::printf("%-10s %.4f\n", "format", r.format_rate);
  std::printf("%-10s %.1f tokens\n", "length", r.mean_completion_tokens);
  if (!out.empty()) {
    if (absl::Status s = WriteFileAtomically(out, eval::TaskEvalJson(r, ckpt, greedy)); !s.ok()) return Fail(s);
  }
  return kExitOk;
}

}  // namespace r1::cli
