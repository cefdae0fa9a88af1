// `r1 eval`: accuracy of a checkpoint (or an exported model folder) on task
// prompts, generated in-process and judged by the reward rules: the run
// config's `reward` section scored in this process (reward::Scorer, the code
// the reward service runs), or a running reward service (--reward_address).
// Either way "correct" is the reward service's verdict (eval/verdict.h), the
// one the RL learner's evals count.
#include <cstdio>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/commands.h"
#include "cli/run_flags.h"
#include "cli/service_auth_flags.h"
#include "common/config.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "common/jsonl.h"
#include "common/status.h"
#include "common/tokenizer.h"
#include "eval/task_eval.h"
#include "eval/verdict.h"
#include "model/checkpoint.h"
#include "proto/reward.pb.h"
#include "reward/client.h"
#include "reward/scorer.h"
#include "tasks/held_out.h"

namespace r1::cli {
namespace {

// Where the reward rules come from when they are not the config's.
struct JudgeFlags {
  std::string reward_address;
  ServiceAuthFlags auth;  // how to reach that service
  bool sandbox_allow_no_cgroup = false;

  void Add(FlagSet& flags) {
    flags.AddString("reward_address", &reward_address,
                    "host:port of a running reward service to judge with (default: the config's reward "
                    "rules, in this process)");
    auth.Add(flags, "that reward service");
    flags.AddBool("sandbox_allow_no_cgroup", &sandbox_allow_no_cgroup,
                  "in-process code rule: run programs without a cgroup per run where none can be made "
                  "(as r1-reward serve --sandbox_allow_no_cgroup)");
  }
};

// The judge and what keeps it alive.
struct RewardJudge {
  std::unique_ptr<reward::Scorer> scorer;        // the rules in this process, or
  std::unique_ptr<reward::RewardClient> client;  // the reward service
  std::string name;                              // whose rules, for messages
  eval::Judge judge;
};

std::vector<reward::ScoreItem> ScoreItemsFor(const std::vector<eval::CompletionToJudge>& items) {
  std::vector<reward::ScoreItem> scored;
  scored.reserve(items.size());
  for (const eval::CompletionToJudge& item : items) {
    scored.push_back(reward::ScoreItemFor(*item.prompt, item.completion, item.completion_tokens, item.truncated));
    scored.back().set_id(item.prompt->id());
  }
  return scored;
}

std::vector<eval::Judgement> JudgementsOf(const std::vector<reward::ScoreResult>& results) {
  std::vector<eval::Judgement> judged;
  judged.reserve(results.size());
  for (const reward::ScoreResult& result : results) judged.push_back(eval::JudgementOf(result));
  return judged;
}

// The config's rule mix, scored here. Its code rule starts a sandbox pool;
// when no prompt is a code task that rule can judge nothing, so it is left
// out and a host without cgroups can still evaluate the other tasks.
absl::StatusOr<std::unique_ptr<RewardJudge>> InProcessJudge(const config::RunConfig& run, const std::string& config_path,
                                                            const std::vector<data::PromptRecord>& prompts,
                                                            const std::string& source, const JudgeFlags& flags) {
  bool any_code = false;
  for (const data::PromptRecord& record : prompts) any_code = any_code || record.task() == "code";
  config::RewardServiceConfig rules = run.reward();
  if (!any_code) {
    rules.clear_rules();
    for (const config::RewardRuleConfig& rule : run.reward().rules()) {
      if (rule.rule() != "code") *rules.add_rules() = rule;
    }
  }
  if (config_path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": task \"", prompts.front().task(), "\" has no in-process verifier: r1 eval judges with the reward ",
        "rules of a run config (reward.rules) or of a reward service (--reward_address), and was given neither"));
  }
  if (rules.rules().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": task \"", prompts.front().task(),
                                                   "\" has no correctness rule in ", config_path,
                                                   "'s reward.rules (they judge no task of these prompts)"));
  }
  auto judge = std::make_unique<RewardJudge>();
  reward::ScorerOptions options;
  options.sandbox.allow_no_cgroup = flags.sandbox_allow_no_cgroup;
  R1_ASSIGN_OR_RETURN(judge->scorer, reward::Scorer::Create(rules, options));
  judge->name = absl::StrCat(config_path, "'s reward.rules");
  const reward::Scorer* scorer = judge->scorer.get();
  judge->judge = [scorer](const std::vector<eval::CompletionToJudge>& items)
      -> absl::StatusOr<std::vector<eval::Judgement>> {
    const std::vector<reward::ScoreItem> scored = ScoreItemsFor(items);
    std::vector<const reward::ScoreItem*> pointers;
    for (const reward::ScoreItem& item : scored) pointers.push_back(&item);
    // Code runs under each test's own wall limit, so no deadline here.
    return JudgementsOf(scorer->ScoreBatch(pointers, absl::InfiniteFuture(), nullptr));
  };
  return judge;
}

absl::StatusOr<std::unique_ptr<RewardJudge>> ServiceJudge(const JudgeFlags& flags) {
  reward::ClientOptions options;
  R1_ASSIGN_OR_RETURN(const std::string token, flags.auth.ReadToken());
  flags.auth.ApplyTo(token, &options);
  auto judge = std::make_unique<RewardJudge>();
  R1_ASSIGN_OR_RETURN(judge->client, reward::RewardClient::Connect(flags.reward_address, options));
  if (absl::Status s = judge->client->WaitUntilServing(absl::Seconds(30)); !s.ok()) {
    return absl::UnavailableError(absl::StrCat("reward service at ", flags.reward_address, ": ", s.message()));
  }
  judge->name = absl::StrCat("the reward service at ", flags.reward_address);
  reward::RewardClient* client = judge->client.get();
  judge->judge = [client](const std::vector<eval::CompletionToJudge>& items)
      -> absl::StatusOr<std::vector<eval::Judgement>> {
    R1_ASSIGN_OR_RETURN(std::vector<reward::ScoreResult> results, client->Score(ScoreItemsFor(items)));
    return JudgementsOf(results);
  };
  return judge;
}

void PrintTable(const eval::TaskEvalResult& r, const std::string& ckpt, const std::string& source,
                const std::string& judge_name, bool greedy) {
  const int k = r.samples;
  std::printf("%-10s %s\n", "checkpoint", ckpt.c_str());
  std::printf("%-10s %s\n", "prompts", absl::StrCat(r.prompts, " (", source, ")").c_str());
  std::printf("%-10s %s\n", "judged by", judge_name.c_str());
  std::printf("%-10s %.4f\n", absl::StrCat("avg@", k).c_str(), r.avg_at_k);
  std::printf("%-10s %.4f\n", absl::StrCat("pass@", k).c_str(), r.pass_at_k);
  std::printf("%-10s %.4f\n", absl::StrCat("maj@", k).c_str(), r.maj_at_k);
  if (greedy) std::printf("%-10s %.4f\n", "greedy", r.greedy);
  std::printf("%-10s %.4f\n", "format", r.format_rate);
  std::printf("%-10s %.1f tokens\n", "length", r.mean_completion_tokens);
  std::printf("%-10s %lld samples (left out of the accuracies)\n", "unscored", static_cast<long long>(r.unscored));
}

absl::Status WriteSamples(const std::string& path, const std::vector<data::SampleRecord>& examples) {
  JsonlWriter writer;
  R1_RETURN_IF_ERROR(writer.Open(path));
  for (const data::SampleRecord& example : examples) R1_RETURN_IF_ERROR(writer.Write(example));
  return writer.Commit();
}

}  // namespace

int Eval(const Args& args) {
  RunFlags run_flags;
  JudgeFlags judge_flags;
  std::string ckpt, prompts_path, out, samples_out;
  int64_t keep_examples = 8;
  int64_t samples = 0, seed = 0;
  bool greedy = true, all_samples = false;
  FlagSet flags("r1 eval",
                "Accuracy of a checkpoint (or exported model folder) on task prompts: k samples per\n"
                "prompt, each judged by the reward rules, the verdict the RL learner's evals count: the\n"
                "config's reward.rules in this process, or a reward service (--reward_address). A task\n"
                "without a correctness rule is refused, not counted wrong; a sample the rules could not\n"
                "judge is left out and counted as unscored. Prints avg@k (pass@1 averaged over k\n"
                "samples), pass@k, maj@k, greedy accuracy, format rate and mean length as a table, and\n"
                "writes them as JSON with --out. Prompts: --prompts JSONL, else the config's held-out\n"
                "set (data.eval_prompts, or data.n_eval items drawn with data.eval_seed). Sampling and k:\n"
                "the config's `eval` section.");
  // --run_dir: the config's relative data paths resolve against it, as in
  // every other stage command.
  run_flags.Add(flags, "eval.samples=4");
  judge_flags.Add(flags);
  flags.AddString("ckpt", &ckpt, "checkpoint or model folder to evaluate");
  flags.AddString("prompts", &prompts_path, "JSONL of prompt records (default: the config's held-out set)");
  flags.AddInt("samples", &samples, "k, samples per prompt (default: eval.samples)");
  flags.AddBool("greedy", &greedy, "also measure greedy accuracy");
  flags.AddInt("seed", &seed, "sampling seed");
  flags.AddString("out", &out, "write the results here as JSON");
  flags.AddString("samples_out", &samples_out, "write some completions here as JSONL (SampleRecord), for reports");
  flags.AddInt("keep_examples", &keep_examples, "how many completions --samples_out gets (the first of each prompt)");
  flags.AddBool("all_samples", &all_samples, "--samples_out gets every sampled completion, with its verdict");
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
  absl::StatusOr<std::unique_ptr<RewardJudge>> judge =
      judge_flags.reward_address.empty() ? InProcessJudge(run, config_path, prompts, source, judge_flags)
                                         : ServiceJudge(judge_flags);
  if (!judge.ok()) return Fail(judge.status());
  if (absl::Status s = eval::CheckJudgeKnowsTasks(prompts, (*judge)->judge, source, (*judge)->name); !s.ok()) {
    return Fail(s);
  }

  absl::StatusOr<model::CausalLm> model = model::LoadModel(ckpt);
  if (!model.ok()) return Fail(model.status());
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(ckpt, ChatTemplatePath(run.data(), run_flags.run_dir()));
  if (!tokenizer.ok()) return Fail(tokenizer.status());

  eval::TaskEvalOptions options = eval::TaskEvalOptionsFromConfig(run.eval(), 160);
  if (samples > 0) options.samples = static_cast<int>(samples);
  options.seed = static_cast<uint64_t>(seed);
  options.greedy = greedy;
  options.keep_examples = samples_out.empty() ? 0 : static_cast<int>(keep_examples);
  options.keep_all_samples = !samples_out.empty() && all_samples;
  std::fprintf(stderr, "eval: %s on %zu prompts x %d samples (temperature %.2f, up to %lld tokens), judged by %s\n",
               ckpt.c_str(), prompts.size(), options.samples, options.sampling.temperature,
               static_cast<long long>(options.max_new_tokens), (*judge)->name.c_str());
  absl::StatusOr<eval::TaskEvalResult> r = eval::EvaluateOnTasks(**model, *tokenizer, prompts, (*judge)->judge, options);
  if (!r.ok()) return Fail(r.status());

  PrintTable(*r, ckpt, source, (*judge)->name, greedy);
  if (!out.empty()) {
    if (absl::Status s = WriteFileAtomically(out, eval::TaskEvalJson(*r, ckpt, greedy)); !s.ok()) return Fail(s);
  }
  if (!samples_out.empty()) {
    if (absl::Status s = WriteSamples(samples_out, r->examples); !s.ok()) return Fail(s);
  }
  return kExitOk;
}

}  // namespace r1::cli
