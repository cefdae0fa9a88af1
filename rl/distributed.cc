#include "rl/distributed.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/types.h>

#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace r1::rl {
namespace {

// The variable's value, or nullptr when unset or empty.
const char* Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : nullptr;
}

absl::Status ParseIntEnv(const char* name, const char* fallback_name, int* out) {
  const char* text = Env(name);
  const char* source = name;
  if (text == nullptr && fallback_name != nullptr) {
    text = Env(fallback_name);
    source = fallback_name;
  }
  if (text == nullptr) return absl::OkStatus();
  if (!absl::SimpleAtoi(text, out)) {
    return absl::InvalidArgumentError(absl::StrCat("environment variable ", source, "=\"", text,
                                                   "\" is not an integer"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string FirstSlurmHost(const std::string& nodelist) {
  // "a[1-3],b" -> first item "a[1-3]" -> "a1"; a bare "a,b" -> "a".
  const size_t bracket = nodelist.find('[');
  const size_t comma = nodelist.find(',');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket)) {
    return nodelist.substr(0, comma);
  }
  const std::string prefix = nodelist.substr(0, bracket);
  const size_t end = nodelist.find_first_of("-,]", bracket + 1);
  return prefix + nodelist.substr(bracket + 1, end == std::string::npos ? std::string::npos : end - bracket - 1);
}

absl::StatusOr<DistributedEnv> DistributedEnvFromEnvironment() {
  DistributedEnv env;
  if (absl::Status s = ParseIntEnv("RANK", "SLURM_PROCID", &env.rank); !s.ok()) return s;
  if (absl::Status s = ParseIntEnv("WORLD_SIZE", "SLURM_NTASKS", &env.world_size); !s.ok()) return s;
  if (absl::Status s = ParseIntEnv("MASTER_PORT", nullptr, &env.master_port); !s.ok()) return s;
  if (const char* addr = Env("MASTER_ADDR")) {
    env.master_addr = addr;
  } else if (const char* nodes = Env("SLURM_STEP_NODELIST") ? Env("SLURM_STEP_NODELIST") : Env("SLURM_JOB_NODELIST")) {
    env.master_addr = FirstSlurmHost(nodes);
  }
  if (env.world_size < 1) return absl::InvalidArgumentError(absl::StrCat("WORLD_SIZE must be >= 1, got ", env.world_size));
  if (env.rank < 0 || env.rank >= env.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("RANK must be in [0, WORLD_SIZE=", env.world_size, "), got ", env.rank));
  }
  if (env.master_port < 1 || env.master_port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("MASTER_PORT must be in [1, 65535], got ", env.master_port));
  }
  return env;
}

struct DataParallel::Comm {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
};

DataParallel::DataParallel(DistributedEnv env) : env_(std::move(env)), comm_(std::make_unique<Comm>()) {}
DataParallel::~DataParallel() = default;

absl::StatusOr<std::unique_ptr<DataParallel>> DataParallel::Connect(const DistributedEnv& env,
                                                                     absl::Duration rendezvous_timeout,
                                                                     absl::Duration collective_timeout) {
  std::unique_ptr<DataParallel> dp(new DataParallel(env));
  if (env.world_size == 1) return dp;
  const auto timeout_ms = std::chrono::milliseconds(absl::ToInt64Milliseconds(rendezvous_timeout));
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(env.master_port);
    options.isServer = env.rank == 0;
    options.numWorkers = env.world_size;
    options.waitWorkers = true;
    options.timeout = timeout_ms;
    dp->comm_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, options);
    auto group_options = c10d::ProcessGroupGloo::Options::create(
        std::chrono::milliseconds(absl::ToInt64Milliseconds(collective_timeout)));
    if (const char* ifname = Env("GLOO_SOCKET_IFNAME")) {
      group_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else if (env.master_addr == "127.0.0.1" || env.master_addr == "localhost") {
      group_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      group_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    group_options->threads = 1;
    dp->comm_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(dp->comm_->store, env.rank, env.world_size,
                                                                  group_options);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("rank ", env.rank, " of ", env.world_size,
                                               ": rendezvous at ", env.master_addr, ":", env.master_port,
                                               " failed: ", e.what()));
  }
  return dp;
}

void DataParallel::AllReduceInPlace(torch::Tensor& flat) {
  if (env_.world_size == 1) return;
  std::vector<torch::Tensor> tensors = {flat};
  comm_->group->allreduce(tensors)->wait();
}

void DataParallel::AllReduceSum(std::vector<double>& values) {
  if (env_.world_size == 1 || values.empty()) return;
  torch::Tensor flat = torch::tensor(values, torch::kFloat64);
  AllReduceInPlace(flat);
  for (size_t i = 0; i < values.size(); ++i) values[i] = flat[static_cast<int64_t>(i)].item<double>();
}

void DataParallel::AllReduceMax(std::vector<double>& values) {
  if (env_.world_size == 1 || values.empty()) return;
  // Through the sum: each rank fills its own row of a [world, k] table of
  // zeros, so the summed table holds every rank's values exactly.
  const size_t k = values.size();
  std::vector<double> table(k * static_cast<size_t>(env_.world_size), 0.0);
  std::copy(values.begin(), values.end(), table.begin() + static_cast<int64_t>(k * static_cast<size_t>(env_.rank)));
  AllReduceSum(table);
  for (size_t i = 0; i < k; ++i) values[i] = table[i];
  for (size_t i = k; i < table.size(); ++i) values[i % k] = std::max(values[i % k], table[i]);
}

void DataParallel::BroadcastWeights(model::CausalLmImpl& model) {
  if (env_.world_size == 1) return;
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : model::NamedTensors(model)) {
    (void)name;
    std::vector<torch::Tensor> tensors = {tensor.is_contiguous() ? tensor : tensor.contiguous()};
    comm_->group->broadcast(tensors)->wait();
    if (!tensor.is_contiguous()) tensor.copy_(tensors[0]);
  }
}

void DataParallel::AverageGradients(model::CausalLmImpl& model) {
  if (env_.world_size == 1) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> params = model.parameters();
  // One flat buffer: every gradient (zeros where undefined), then one flag per
  // parameter saying whether this rank had a gradient for it, then the loads.
  std::vector<torch::Tensor> pieces;
  std::vector<float> defined(params.size());
  const auto on_device = torch::TensorOptions().dtype(torch::kFloat32).device(model.device());
  for (size_t i = 0; i < params.size(); ++i) {
    const torch::Tensor& grad = params[i].grad();
    defined[i] = grad.defined() ? 1.0f : 0.0f;
    pieces.push_back(grad.defined() ? grad.reshape(-1).to(on_device) : torch::zeros({params[i].numel()}, on_device));
  }
  pieces.push_back(torch::tensor(defined).to(on_device));
  std::vector<torch::Tensor> loads = model.ExpertLoad();
  for (const torch::Tensor& load : loads) pieces.push_back(load.reshape(-1).to(on_device));
  torch::Tensor flat = torch::cat(pieces);
  AllReduceInPlace(flat);

  int64_t offset = 0;
  std::vector<torch::Tensor> summed(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    summed[i] = flat.narrow(0, offset, params[i].numel());
    offset += params[i].numel();
  }
  const torch::Tensor any_defined = flat.narrow(0, offset, static_cast<int64_t>(params.size())).cpu();
  offset += static_cast<int64_t>(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    if (any_defined[static_cast<int64_t>(i)].item<float>() == 0) continue;  // no rank had one
    const torch::Tensor mean = (summed[i] / env_.world_size).view(params[i].sizes()).to(params[i].dtype());
    if (params[i].grad().defined()) {
      params[i].mutable_grad().copy_(mean);
    } else {
      params[i].mutable_grad() = mean.clone();
    }
  }
  for (torch::Tensor& load : loads) {
    load.copy_(flat.narrow(0, offset, load.numel()).view(load.sizes()).to(load.device()));
    offset += load.numel();
  }
}

void DataParallel::Barrier() {
  if (env_.world_size == 1) return;
  comm_->group->barrier()->wait();
}

double DataParallel::MaxWeightDivergence(model::CausalLmImpl& model) {
  if (env_.world_size == 1) return 0;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> pieces;
  for (const torch::Tensor& p : model.parameters()) pieces.push_back(p.reshape(-1).to(torch::kFloat64));
  torch::Tensor mine = torch::cat(pieces);
  std::vector<torch::Tensor> root = {mine.clone()};
  comm_->group->broadcast(root)->wait();
  torch::Tensor flat = (mine - root[0]).abs().max().reshape({1});
  std::vector<torch::Tensor> tensors = {flat};
  c10d::AllreduceOptions options;
  options.reduceOp = c10d::ReduceOp::MAX;
  comm_->group->allreduce(tensors, options)->wait();
  return flat.item<double>();
}

}  // namespace r1::rl
