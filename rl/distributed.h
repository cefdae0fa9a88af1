// Data-parallel learners on c10d: ranks rendezvous through a TCPStore that
// rank 0 hosts, and average their gradients with ProcessGroupGloo (CPU).
//
// Each rank trains on its own share of the rollout batch; after the backward
// pass the gradients are summed across ranks and divided by the world size,
// so every rank takes the same optimizer step and holds the same weights. A
// parameter whose gradient is undefined on every rank (a routed expert no
// token reached) stays undefined, as in a single process: AdamW then leaves
// it alone on every rank. The MoE expert loads are summed too, so the
// aux-loss-free bias update is the same everywhere.
#ifndef R1_RL_DISTRIBUTED_H_
#define R1_RL_DISTRIBUTED_H_

#include <torch/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "model/causal_lm.h"

namespace r1::rl {

struct DistributedEnv {
  int rank = 0;
  int world_size = 1;
  std::string master_addr = "127.0.0.1";  // host of rank 0's TCPStore
  int master_port = 29500;
};

// From the environment: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (the
// torchrun convention); under `srun`, SLURM_PROCID, SLURM_NTASKS and the
// first host of SLURM_STEP_NODELIST fill what those leave unset. Neither set:
// one rank. INVALID_ARGUMENT names a malformed variable.
absl::StatusOr<DistributedEnv> DistributedEnvFromEnvironment();

// The first host of a Slurm node list: "node[03-05,9]" -> "node03".
std::string FirstSlurmHost(const std::string& nodelist);

class DataParallel {
 public:
  // Connects every rank (blocks until all `world_size` have joined, up to
  // `rendezvous_timeout`). A collective then waits up to `collective_timeout`
  // for the other ranks: long, because ranks wait in one while rank 0
  // evaluates or saves and while the slowest rank generates. A world of one
  // needs no store and no process group.
  static absl::StatusOr<std::unique_ptr<DataParallel>> Connect(
      const DistributedEnv& env, absl::Duration rendezvous_timeout = absl::Minutes(5),
      absl::Duration collective_timeout = absl::Hours(2));
  ~DataParallel();

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }

  // Sums `values` (float64 scalars) across ranks, in place.
  void AllReduceSum(std::vector<double>& values);
  // The maximum across ranks of each of `values`, in place.
  void AllReduceMax(std::vector<double>& values);
  // Every rank gets rank 0's parameters and buffers.
  void BroadcastWeights(model::CausalLmImpl& model);
  // Averages gradients (see above) and sums MoE expert loads. Gloo only, for
  // now: on CUDA the tensors go through Gloo's CUDA path, not NCCL.
  void AverageGradients(model::CausalLmImpl& model);
  void Barrier();

  // Max over ranks of |w - w_rank0| for every parameter: 0 when the ranks
  // hold identical weights (how the test checks them after each step).
  double MaxWeightDivergence(model::CausalLmImpl& model);

 private:
  struct Comm;  // the c10d store and process group (kept out of this header)
  explicit DataParallel(DistributedEnv env);
  void AllReduceInPlace(torch::Tensor& flat);

  DistributedEnv env_;
  std::unique_ptr<Comm> comm_;
};

}  // namespace r1::rl

#endif  // R1_RL_DISTRIBUTED_H_
