// `r1 rl`: the GRPO stage (R1-Zero when it starts from the base model).
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "cli/local_services.h"
#include "common/config.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "model/causal_lm.h"
#include "model/checkpoint.h"
#include "reward/client.h"
#include "rl/distributed.h"
#include "rl/learner.h"
#include "rl/prompts.h"
#include "rollout/pool.h"
#include "sft/pretrain.h"

namespace r1::cli {

int Rl(const Args& args) {
  std::vector<std::string> files, overrides;
  std::string config_flag, run_dir, init, stage = "rl", workers_flag, worker_file, reward_address;
  bool resume = false, check_weight_sync = false;
  int64_t worker_threads = 0, rendezvous_seconds = 300, collective_seconds = 7200;
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
  flags.Positional("CONFIG", 0, 1, &files, "run config (or --config)");
  flags.AddString("config", &config_flag, "run config, e.g. configs/tiny.textproto");
  flags.AddList("set", &overrides, "override a config field: --set rl.max_steps=50 (repeatable)");
  flags.AddString("run_dir", &run_dir, "run directory (default: the config's run_dir, or runs/<name>)");
  flags.AddString("init", &init, "starting checkpoint (default: the newest in run_dir/pretrain/checkpoints)");
  flags.AddString("stage", &stage, "stage folder under run_dir (rl, rl2)");
  flags.AddBool("resume", &resume, "continue from the newest checkpoint in run_dir/<stage>");
  flags.AddString("rollout_workers", &workers_flag,
                  "host:port,... of running rollout workers (default: rollout.workers, else start local ones)");
  flags.AddString("rollout_address_file", &worker_file, "file of worker addresses, re-read when it changes");
  flags.AddString("reward_address", &reward_address, "host:port of a running reward service (default: start one)");
  flags.AddInt("worker_threads", &worker_threads, "intra-op threads of each local worker; 0 = all cores");
  flags.AddInt("rendezvous_seconds", &rendezvous_seconds, "how long ranks wait for each other to start");
  flags.AddInt("collective_seconds", &collective_seconds,
               "how long a rank waits in a collective (rank 0 evaluating or saving, the slowest rank generating)");
  flags.AddBool("check_weight_sync", &check_weight_sync,
                "log the largest weight difference between ranks after every step");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  const std::string config_path = !config_flag.empty() ? config_flag : files.empty() ? "" : files[0];
  if (config_path.empty()) {
    std::fprintf(stderr, "r1 rl: give a config (see r1 rl --help)\n");
    return kExitUsage;
  }
  absl::StatusOr<config::RunConfig> run = LoadRunConfig(config_path, overrides);
  if (!run.ok()) return Fail(run.status());
  if (!run->has_rl()) return Fail(absl::InvalidArgumentError(absl::StrCat(config_path, " has no rl section")));
  absl::StatusOr<rl::DistributedEnv> env = rl::DistributedEnvFromEnvironment();
  if (!env.ok()) return Fail(env.status());

  const std::string dir = run_dir.empty() ? sft::RunDir(*run) : run_dir;
  if (init.empty()) {
    absl::StatusOr<std::string> latest = model::LatestCheckpoint(absl::StrCat(dir, "/pretrain/checkpoints"));
    if (!latest.ok()) {
      return Fail(absl::NotFoundError(absl::StrCat("no starting checkpoint: give --init, or run `r1 pretrain` into ",
                                                   dir, " first")));
    }
    init = *latest;
  }
  model::ConfigureRuntime(run->threads());

  // Services: given addresses, or local processes on loopback.
  std::vector<std::string> workers;
  if (!workers_flag.empty()) {
    workers = absl::StrSplit(workers_flag, ',', absl::SkipEmpty());
  } else {
    workers.assign(run->rollout().workers().begin(), run->rollout().workers().end());
  }
  LocalServicesOptions local;
  local.bin_dir = ExecutableDir();
  local.log_dir = absl::StrCat(dir, "/", stage, "/services", env->world_size > 1 ? absl::StrCat("/rank", env->rank) : "");
  local.config_path = config_path;
  local.config_overrides = overrides;
  local.start_reward = reward_address.empty();
  local.workers = workers.empty() && worker_file.empty() ? run->rollout().local_workers() : 0;
  local.checkpoint = init;
  local.kv_slots = run->rollout().kv_slots();
  local.worker_threads = static_cast<int>(worker_threads);
  if (env->world_size > 1 && (local.start_reward || local.workers > 0)) {
    return Fail(absl::InvalidArgumentError(
        "several learner ranks share one set of services: give --rollout_workers (or --rollout_address_file) "
        "and --reward_address"));
  }
  if (local.start_reward || local.workers > 0) {
    std::fprintf(stderr, "%s: starting %s%s on loopback (logs in %s)\n", stage.c_str(),
                 local.start_reward ? "the reward service" : "",
                 local.workers > 0 ? absl::StrCat(local.start_reward ? " and " : "", local.workers,
                                                  " rollout worker(s)").c_str() : "",
                 local.log_dir.c_str());
  }
  absl::StatusOr<std::unique_ptr<LocalServices>> services = LocalServices::Start(local);
  if (!services.ok()) return Fail(services.status());
  if (local.start_reward) reward_address = (*services)->reward_address();
  if (local.workers > 0) workers = (*services)->worker_addresses();

  absl::StatusOr<std::unique_ptr<reward::RewardClient>> reward = reward::RewardClient::Connect(reward_address);
  if (!reward.ok()) return Fail(reward.status());
  if (absl::Status s = (*reward)->WaitUntilServing(absl::Seconds(30)); !s.ok()) {
    return Fail(absl::UnavailableError(absl::StrCat("reward service at ", reward_address, ": ", s.message())));
  }
  rollout::PoolOptions pool_options;
  pool_options.addresses = workers;
  pool_options.address_file = worker_file;
  pool_options.request_timeout = absl::Seconds(run->rollout().request_timeout_seconds());
  absl::StatusOr<std::unique_ptr<rollout::RolloutPool>> pool = rollout::RolloutPool::Create(pool_options);
  if (!pool.ok()) return Fail(pool.status());

  absl::StatusOr<std::vector<data::PromptRecord>> eval_prompts = rl::LoadEvalPrompts(run->data(), dir);
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
  options.rl = run->rl();
  options.seed = run->seed();
  options.resume = resume;
  options.prompts = &*prompts;
  options.eval_prompts = *eval_prompts;
  options.pool = pool->get();
  options.reward = reward->get();
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
