#include "cli/stage_services.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/run_flags.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "common/status.h"

namespace r1::cli {

void ServiceFlags::Add(FlagSet& flags) {
  flags.AddString("rollout_workers", &workers_,
                  "host:port,... of running rollout workers (default: rollout.workers, else start local ones)");
  flags.AddString("rollout_address_file", &worker_file_, "file of worker addresses, re-read when it changes");
  flags.AddString("reward_address", &reward_address_, "host:port of a running reward service (default: start one)");
  flags.AddInt("worker_threads", &worker_threads_, "intra-op threads of each local worker; 0 = all cores");
  auth_.Add(flags, "the attached reward service and workers");
}

absl::StatusOr<StageServices> ServiceFlags::Start(const config::RunConfig& run, const RunFlags& run_flags,
                                                  const Needs& needs) const {
  std::vector<std::string> workers;
  if (!workers_.empty()) {
    workers = absl::StrSplit(workers_, ',', absl::SkipEmpty());
  } else {
    workers.assign(run.rollout().workers().begin(), run.rollout().workers().end());
  }
  std::string reward_address = reward_address_;
  LocalServicesOptions local;
  local.bin_dir = ExecutableDir();
  local.log_dir = needs.log_dir;
  local.config_path = run_flags.config_path();
  local.config_overrides = run_flags.overrides();
  local.start_reward = needs.reward && reward_address.empty();
  local.workers = needs.workers && workers.empty() && worker_file_.empty() ? run.rollout().local_workers() : 0;
  local.checkpoint = needs.checkpoint;
  local.kv_slots = run.rollout().kv_slots();
  local.speculative = run.rollout().speculative();
  local.worker_threads = static_cast<int>(worker_threads_);
  if (needs.shared_by_ranks && (local.start_reward || local.workers > 0)) {
    return absl::InvalidArgumentError(
        "several learner ranks share one set of services: give --rollout_workers (or --rollout_address_file) "
        "and --reward_address");
  }
  if (local.start_reward || local.workers > 0) {
    std::fprintf(stderr, "%s: starting %s%s on loopback (logs in %s)\n", needs.stage.c_str(),
                 local.start_reward ? "the reward service" : "",
                 local.workers > 0
                     ? absl::StrCat(local.start_reward ? " and " : "", local.workers, " rollout worker(s)").c_str()
                     : "",
                 local.log_dir.c_str());
  }
  // The token and TLS apply to attached services; local ones serve loopback
  // in the clear.
  R1_ASSIGN_OR_RETURN(const std::string token, auth_.ReadToken());
  reward::ClientOptions reward_options;
  rollout::ClientOptions worker_options;
  if (!local.start_reward) auth_.ApplyTo(token, &reward_options);
  if (local.workers == 0) auth_.ApplyTo(token, &worker_options);
  StageServices services;
  R1_ASSIGN_OR_RETURN(services.local, LocalServices::Start(local));
  if (local.start_reward) reward_address = services.local->reward_address();
  if (local.workers > 0) workers = services.local->worker_addresses();

  if (needs.reward) {
    R1_ASSIGN_OR_RETURN(services.reward, reward::RewardClient::Connect(reward_address, reward_options));
    if (absl::Status s = services.reward->WaitUntilServing(absl::Seconds(30)); !s.ok()) {
      return absl::UnavailableError(absl::StrCat("reward service at ", reward_address, ": ", s.message()));
    }
  }
  if (needs.workers) {
    rollout::PoolOptions pool_options;
    pool_options.addresses = workers;
    pool_options.address_file = worker_file_;
    pool_options.request_timeout = absl::Seconds(run.rollout().request_timeout_seconds());
    pool_options.client = worker_options;
    R1_ASSIGN_OR_RETURN(services.pool, rollout::RolloutPool::Create(pool_options));
  }
  return services;
}

}  // namespace r1::cli
