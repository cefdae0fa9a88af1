// `r1 rl`: the GRPO stage (R1-Zero when it starts from the base model).
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "cli/local_services.h"
#include "cli/run_flags.h"
#include "cli/stage_services.h"
#include "common/config.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "model/causal_lm.h"
#include "model/checkpoint.h"
#include "reward/client.h"
#include "rl/distributed.h"
#include "rl/learner.h"
#include "rl/prompts.h"
#include "tasks/held_out.h"
#include "rollout/pool.h"
#include "sft/pretrain.h"

namespace r1::cli {

int Rl(const Args& args) {
  RunFlags run_flags;
  ServiceFlags service_flags;
  std::string init, stage = "rl";
  bool resume = false, check_weight_sync = false;
  int64_t rendezvous_seconds = 300, collective_seconds = 7200;
  FlagSet flags(
      "r1 rl",
      "GRPO on a run config's `rl` section: prompts from data.train_prompts or the task\n"
      "generators, completions from rollout workers, rewards from the reward service, and\n"
      "the policy updated and pushed back to the workers each step. Starts a reward service\n"
      "and rollout.local_workers workers on loopback unless addresses are given. Writes\n"
      "checkpoints, metrics.jsonl and a TensorBoard event file under run_dir/<stage>; prints\n"
      "the final checkpoint.\n"
      "\n"
      "Data parallel: start several ranks with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT\n"
      "set (or under srun, which sets SLURM_PROCID and SLURM_NTASKS); they rendezvous over a\n"
      "c10d TCPStore and average gradients with Gloo. Give every rank the same\n"
      "--rollout_workers and --reward_address.");
  run_flags.Add(flags, "rl.max_steps=50");
  flags.AddString("init", &init, "starting checkpoint (default: the newest in run_dir/pretrain/checkpoints)");
  flags.AddString("stage", &stage, "stage folder under run_dir (rl, rl2)");
  flags.AddBool("resume", &resume, "continue from the newest checkpoint in run_dir/<stage>");
  service_flags.Add(flags);
  flags.AddInt("rendezvous_seconds", &rendezvous_seconds, "how long ranks wait for each other to start");
  flags.AddInt("collective_seconds", &collective_seconds,
               "how long a rank waits in a collective (rank 0 evaluating or saving, the slowest rank generating)");
  flags.AddBool("check_weight_sync", &check_weight_sync,
                "log the largest weight difference between ranks after every step");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  config::RunConfig loaded_run;
  if (auto code = run_flags.Load("r1 rl", &loaded_run)) return *code;
  const config::RunConfig* run = &loaded_run;
  const std::string& config_path = run_flags.config_path();
  if (!run->has_rl()) return Fail(absl::InvalidArgumentError(absl::StrCat(config_path, " has no rl section")));
  absl::StatusOr<rl::DistributedEnv> env = rl::DistributedEnvFromEnvironment();
  if (!env.ok()) return Fail(env.status());

  const std::string& dir = run_flags.run_dir();
  if (init.empty()) {
    absl::StatusOr<std::string> latest = model::LatestCheckpoint(absl::StrCat(dir, "/pretrain/checkpoints"));
    if (!latest.ok()) {
      return Fail(absl::NotFoundError(absl::StrCat("no starting checkpoint: give --init, or run `r1 pretrain` into ",
                                                   dir, " first")));
    }
    init = *latest;
  }
  model::ConfigureRuntime(run->threads());

  ServiceFlags::Needs needs;
  needs.reward = needs.workers = true;
  needs.checkpoint = init;
  needs.log_dir = absl::StrCat(dir, "/", stage, "/services", env->world_size > 1 ? absl::StrCat("/rank", env->rank) : "");
  needs.stage = stage;
  needs.shared_by_ranks = env->world_size > 1;
  absl::StatusOr<StageServices> services = service_flags.Start(*run, run_flags, needs);
  if (!services.ok()) return Fail(services.status());

  absl::StatusOr<std::vector<data::PromptRecord>> eval_prompts = tasks::LoadEvalPrompts(run->data(), dir);
  if (!eval_prompts.ok()) return Fail(eval_prompts.status());
  absl::StatusOr<rl::PromptSource> prompts = rl::PromptSource::Create(run->data(), dir, *eval_prompts);
  if (!prompts.ok()) return Fail(prompts.status());
  absl::StatusOr<std::unique_ptr<rl::DataParallel>> dp =
      rl::DataParallel::Connect(*env, absl::Seconds(rendezvous_seconds), absl::Seconds(collective_seconds));
  if (!dp.ok()) return Fail(dp.status());

  rl::LearnerOptions options;
  options.stage = stage;
  options.stage_dir = absl::StrCat(dir, "/", stage);
  options.init_checkpoint = init;
  options.chat_template = ChatTemplatePath(run->data(), dir);
  options.rl = run->rl();
  options.seed = run->seed();
  options.resume = resume;
  options.prompts = &*prompts;
  options.eval_prompts = *eval_prompts;
  options.pool = services->pool.get();
  options.reward = services->reward.get();
  options.data_parallel = dp->get();
  options.check_weight_sync = check_weight_sync;
  if (env->rank == 0) {
    std::fprintf(stderr, "%s: from %s; %d prompts x %d samples per step%s; %zu eval prompts\n", stage.c_str(),
                 init.c_str(), run->rl().prompts_per_step(), run->rl().group_size(),
                 env->world_size > 1 ? absl::StrCat(" per rank, ", env->world_size, " ranks").c_str() : "",
                 eval_prompts->size());
  }
  absl::StatusOr<rl::LearnerResult> result = rl::RunGrpo(options);
  if (!result.ok()) return Fail(result.status());
  if (env->rank == 0) std::printf("%s\n", result->checkpoint.c_str());
  return kExitOk;
}

}  // namespace r1::cli
