// The services a stage command talks to, and the flags that name them:
// --rollout_workers / --rollout_address_file / --reward_address attach to
// running services; without them the stage starts its own on loopback
// (cli/local_services.h) and stops them when it ends. Attached services may
// require TLS and a bearer token (--service_token_file, --tls_root). `r1 rl`,
// `r1 reject-sample` and `r1 distill` share this, so they attach the same way.
#ifndef R1_CLI_STAGE_SERVICES_H_
#define R1_CLI_STAGE_SERVICES_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/local_services.h"
#include "cli/service_auth_flags.h"
#include "proto/config.pb.h"
#include "reward/client.h"
#include "rollout/pool.h"

namespace r1 {

class FlagSet;

namespace cli {

class RunFlags;

struct StageServices {
  std::unique_ptr<LocalServices> local;  // what this stage started, if anything
  std::unique_ptr<reward::RewardClient> reward;  // null unless asked for
  std::unique_ptr<rollout::RolloutPool> pool;    // null unless asked for
};

class ServiceFlags {
 public:
  void Add(FlagSet& flags);

  struct Needs {
    bool reward = false;
    bool workers = false;
    std::string checkpoint;  // what local workers serve
    std::string log_dir;     // logs of local services
    std::string stage;       // names the stage in messages
    // Several learner ranks must share services: local ones are refused.
    bool shared_by_ranks = false;
  };
  // Connects to the given services or starts local ones, and waits until
  // each serves. UNAVAILABLE names the service that does not answer.
  absl::StatusOr<StageServices> Start(const config::RunConfig& run, const RunFlags& run_flags,
                                      const Needs& needs) const;

 private:
  std::string workers_, worker_file_, reward_address_;
  ServiceAuthFlags auth_;  // how to reach attached services
  int64_t worker_threads_ = 0;
};

}  // namespace cli
}  // namespace r1

#endif  // R1_CLI_STAGE_SERVICES_H_
