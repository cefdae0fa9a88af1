// The services a stage needs, started on loopback as separate processes when
// no addresses are given: the reward service (`r1-reward serve`) and rollout
// workers (`r1 rollout serve`). Each writes its log under `log_dir`; each dies
// with this process (common/subprocess.h) and is stopped when the
// LocalServices object goes away, so no orphan outlives a run.
#ifndef R1_CLI_LOCAL_SERVICES_H_
#define R1_CLI_LOCAL_SERVICES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/subprocess.h"

namespace r1::cli {

struct LocalServicesOptions {
  std::string bin_dir;                 // holds r1 and r1-reward
  std::string log_dir;                 // <service>.log and port files
  // Reward service: served from this run config (its `reward` section).
  bool start_reward = false;
  std::string config_path;
  std::vector<std::string> config_overrides;  // --set values
  // Rollout workers serving `checkpoint`.
  int workers = 0;
  std::string checkpoint;
  int kv_slots = 64;
  bool speculative = false;            // --speculative (MTP drafts)
  int worker_threads = 0;              // 0 = all cores
  absl::Duration start_timeout = absl::Seconds(120);
};

class LocalServices {
 public:
  // Starts what the options ask for and waits until each one serves.
  // UNAVAILABLE names the service that exited or did not come up, with the
  // end of its log.
  static absl::StatusOr<std::unique_ptr<LocalServices>> Start(const LocalServicesOptions& options);

  const std::string& reward_address() const { return reward_address_; }
  const std::vector<std::string>& worker_addresses() const { return worker_addresses_; }

  // Stops every service (SIGTERM, then SIGKILL after a grace period).
  void Stop();
  ~LocalServices() { Stop(); }

 private:
  LocalServices() = default;
  std::vector<std::unique_ptr<Subprocess>> processes_;
  std::string reward_address_;
  std::vector<std::string> worker_addresses_;
};

}  // namespace r1::cli

#endif  // R1_CLI_LOCAL_SERVICES_H_
