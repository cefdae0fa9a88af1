// `r1 eval`: accuracy of a checkpoint (or an exported model folder) on
// embedded-task prompts, in-process.
#include <cstdio>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "cli/run_flags.h"
#include "common/config.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "common/jsonl.h"
#include "common/status.h"
#include "common/tokenizer.h"
#include "eval/task_eval.h"
#include "model/checkpoint.h"
#include "tasks/held_out.h"
#include "tasks/task.h"

namespace r1::cli {

int Eval(const Args& args) {
  RunFlags run_flags;
  std::string ckpt, prompts_path, out, samples_out;
  int64_t keep_examples = 8;
  int64_t samples = 0, seed = 0;
  bool greedy = true;
  FlagSet flags("r1 eval",
                "Accuracy of a checkpoint (or exported model folder) on embedded-task prompts: k samples\n"
                "per prompt, each <answer> checked by the task's verifier. Prints avg@k (pass@1 averaged\n"
                "over k samples), pass@k, maj@k, greedy accuracy, format rate and mean length as a table,\n"
                "and writes them as JSON with --out. Prompts: --prompts JSONL, else the config's held-out\n"
                "set (data.eval_prompts, or data.n_eval items drawn with data.eval_seed). Sampling and k:\n"
                "the config's `eval` section.");
  // --run_dir: the config's relative data paths resolve against it, as in
  // every other stage command.
  run_flags.Add(flags, "eval.samples=4");
  flags.AddString("ckpt", &ckpt, "checkpoint or model folder to evaluate");
  flags.AddString("prompts", &prompts_path, "JSONL of prompt records (default: the config's held-out set)");
  flags.AddInt("samples", &samples, "k, samples per prompt (default: eval.samples)");
  flags.AddBool("greedy", &greedy, "also measure greedy accuracy");
  flags.AddInt("seed", &seed, "sampling seed");
  flags.AddString("out", &out, "write the results here as JSON");
  flags.AddString("samples_out", &samples_out, "write some completions here as JSONL (SampleRecord), for reports");
  flags.AddInt("keep_examples", &keep_examples, "how many completions --samples_out gets");
  flags.Require("ckpt");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  if (!run_flags.given() && prompts_path.empty()) {
    std::fprintf(stderr, "r1 eval: give a config or --prompts (see r1 eval --help)\n");
    return kExitUsage;
  }
  config::RunConfig run;
  if (run_flags.given()) {
    if (auto code = run_flags.Load("r1 eval", &run)) return *code;
  }
  const std::string& config_path = run_flags.config_path();
  model::ConfigureRuntime(run.threads());

  std::vector<data::PromptRecord> prompts;
  std::string source = prompts_path;
  if (!prompts_path.empty()) {
    absl::StatusOr<std::vector<data::PromptRecord>> read = ReadJsonl<data::PromptRecord>(prompts_path);
    if (!read.ok()) return Fail(read.status());
    prompts = std::move(*read);
  } else {
    absl::StatusOr<std::vector<data::PromptRecord>> held_out = tasks::LoadEvalPrompts(run.data(), run_flags.run_dir());
    if (!held_out.ok()) return Fail(held_out.status());
    prompts = std::move(*held_out);
    source = absl::StrCat(config_path, " (held-out prompts)");
  }
  if (prompts.empty()) return Fail(absl::InvalidArgumentError(absl::StrCat(source, ": no prompts")));
  absl::StatusOr<tasks::TaskMix> verifier =
      eval::VerifierForPrompts(prompts, config_path.empty() ? nullptr : &run.data(), source);
  if (!verifier.ok()) return Fail(verifier.status());

  absl::StatusOr<model::CausalLm> model = model::LoadModel(ckpt);
  if (!model.ok()) return Fail(model.status());
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(absl::StrCat(ckpt, "/tokenizer.model"));
  if (!tokenizer.ok()) return Fail(tokenizer.status());

  eval::TaskEvalOptions options = eval::TaskEvalOptionsFromConfig(run.eval(), 160);
  if (samples > 0) options.samples = static_cast<int>(samples);
  options.seed = static_cast<uint64_t>(seed);
  options.greedy = greedy;
  options.keep_examples = samples_out.empty() ? 0 : static_cast<int>(keep_examples);
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
  if (!samples_out.empty()) {
    JsonlWriter writer;
    absl::Status s = writer.Open(samples_out);
    for (const data::SampleRecord& example : r.examples) {
      if (s.ok()) s = writer.Write(example);
    }
    if (s.ok()) s = writer.Commit();
    if (!s.ok()) return Fail(s);
  }
  return kExitOk;
}

}  // namespace r1::cli
