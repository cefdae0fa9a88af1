#include "model/causal_lm.h"

#include <torch/torch.h>

#include <malloc.h>

#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/config.h"
#include "model/deepseek.h"
#include "model/llama.h"

namespace r1::model {

namespace {

// The parameter parameters().front() would return (the module's own first,
// else its children's, depth first), without listing them all: that list
// cost the tiny MoE policy about 75 us, paid by every decode step and
// admission that asked for the model's device.
torch::Tensor FirstParameter(const torch::nn::Module& module) {
  for (const torch::Tensor& own : module.parameters(/*recurse=*/false)) return own;
  for (const auto& child : module.children()) {
    if (torch::Tensor found = FirstParameter(*child); found.defined()) return found;
  }
  return torch::Tensor();
}

torch::Tensor AnyParameter(const torch::nn::Module& module) {
  torch::Tensor first = FirstParameter(module);
  TORCH_CHECK(first.defined(), "a model without parameters has no device or dtype");
  return first;
}

}  // namespace

torch::Device CausalLmImpl::device() const { return AnyParameter(*this).device(); }

torch::Dtype CausalLmImpl::dtype() const { return AnyParameter(*this).scalar_type(); }

KvCache CausalLmImpl::NewCache(int64_t batch, int64_t capacity, bool with_draft) const {
  TORCH_CHECK(!with_draft || CanDraft(), "a draft cache for a model without a draft (MTP) module");
  KvCache cache;
  cache.batch = batch;
  cache.capacity = capacity;
  const auto options = torch::TensorOptions().dtype(dtype()).device(device());
  cache.key_valid = torch::zeros({batch, capacity}, options.dtype(torch::kBool));
  cache.next_position = torch::zeros({batch}, options.dtype(torch::kInt64));
  cache.layers.resize(static_cast<size_t>(NumCachedLayers() + (with_draft ? 1 : 0)));
  InitLayerCaches(cache, options);
  return cache;
}

ForwardResult CausalLmImpl::Draft(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&, KvCache*, int64_t,
                                  const ForwardOptions&) {
  TORCH_CHECK(false, "this model has no draft (MTP) module: speculative decoding needs a DeepSeek-V3 policy with "
                     "n_mtp_modules >= 1");
}

absl::StatusOr<CausalLm> MakeModel(const config::ModelConfig& config, ModelInit init) {
  if (absl::Status s = ValidateModel(config, "model"); !s.ok()) return s;
  const torch::Dtype dtype = config.dtype() == config::BFLOAT16 ? torch::kBFloat16 : torch::kFloat32;
  CausalLm model;
  {
    std::optional<ScopedBuildDtype> build_dtype;
    if (init == ModelInit::kWeightsFollow) build_dtype.emplace(dtype);
    if (config.arch() == config::DEEPSEEK_V3) {
      model = std::make_shared<DeepSeekV3Impl>(config);
    } else {
      model = std::make_shared<LlamaImpl>(config);
    }
  }
  if (init == ModelInit::kRandom) {
    // Small normal weights (std 0.02) and unit norm gains: the usual start
    // for transformer language models.
    torch::NoGradGuard no_grad;
    for (auto& item : model->named_parameters()) {
      if (absl::EndsWith(item.key(), "norm.weight")) {
        item.value().fill_(1.0);
      } else if (absl::EndsWith(item.key(), ".bias")) {
        item.value().zero_();
      } else {
        item.value().normal_(0.0, 0.02);
      }
    }
  }
  torch::Device device(config.device());
  if (device.is_cuda() && !torch::cuda::is_available()) {
    return absl::FailedPreconditionError(
        absl::StrCat("model.device is \"", config.device(), "\" but this LibTorch has no usable CUDA device"));
  }
  model->to(device, dtype);
  // The balancing bias moves by bias_update_speed (1e-3) per step: bfloat16
  // would round such steps away, so it stays float32 in every model.
  for (auto& item : model->named_buffers()) {
    if (absl::EndsWith(item.key(), "e_score_correction_bias")) item.value().set_data(item.value().to(torch::kFloat32));
  }
  return model;
}

std::vector<std::pair<std::string, torch::Tensor>> NamedTensors(const CausalLmImpl& model) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& item : model.named_parameters()) tensors.emplace_back(item.key(), item.value());
  for (const auto& item : model.named_buffers()) tensors.emplace_back(item.key(), item.value());
  return tensors;
}

int ConfigureRuntime(int threads) {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  const int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
  return n;
}

int64_t CountParameters(const CausalLmImpl& model) {
  int64_t total = 0;
  for (const auto& p : model.parameters()) total += p.numel();
  return total;
}

std::map<std::string, double> ExpertLoadBalance(const CausalLmImpl& model) {
  std::map<std::string, double> balance;
  const std::vector<torch::Tensor> loads = model.ExpertLoad();
  if (loads.empty()) return balance;
  double total = 0;
  int64_t layer = -1;  // the layer of loads[j]: the j-th that routes
  for (size_t j = 0; j < loads.size(); ++j) {
    do ++layer; while (!LayerRoutes(model.config(), layer));
    const double mean = loads[j].mean().item<double>();
    const double ratio = mean > 0 ? loads[j].max().item<double>() / mean : 1.0;
    balance[absl::StrCat("expert_load_max_over_mean/layer", layer)] = ratio;
    total += ratio;
  }
  balance["expert_load_max_over_mean"] = total / static_cast<double>(loads.size());
  return balance;
}

}  // namespace r1::model

namespace r1::model {

namespace {

absl::Status CopyOrAdoptTensors(CausalLmImpl& model, const std::map<std::string, torch::Tensor>& tensors,
                                const std::string& source, bool adopt) {
  torch::NoGradGuard no_grad;
  size_t used = 0;
  for (auto& [name, target] : NamedTensors(model)) {
    const auto it = tensors.find(name);
    if (it == tensors.end()) {
      return absl::InvalidArgumentError(absl::StrCat(source, " has no tensor ", name, " that the model needs"));
    }
    if (it->second.sizes() != target.sizes()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": tensor ", name, " has shape [",
                                                     absl::StrJoin(it->second.sizes(), ", "), "], the model expects [",
                                                     absl::StrJoin(target.sizes(), ", "), "]"));
    }
    const torch::Tensor& given = it->second;
    if (adopt && given.scalar_type() == target.scalar_type() && given.device() == target.device() &&
        given.is_contiguous()) {
      target.set_data(given);  // the parameter now reads `given`'s storage
    } else {
      target.copy_(given);
    }
    ++used;
  }
  if (used != tensors.size()) {
    const auto named = NamedTensors(model);
    for (const auto& [name, tensor] : tensors) {
      const bool known = std::any_of(named.begin(), named.end(), [&](const auto& n) { return n.first == name; });
      if (known) continue;
      const std::string main_name = MtpCopyOf(model.config(), name);
      if (main_name.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(source, " has tensor ", name, " that the model does not"));
      }
      // The main tensor was found above. Equal in the given dtypes, or as
      // values when the dtypes differ.
      const torch::Tensor& main = tensors.at(main_name);
      const bool same = tensor.sizes() == main.sizes() &&
                        (tensor.scalar_type() == main.scalar_type()
                             ? torch::equal(tensor, main)
                             : torch::equal(tensor.to(torch::kFloat64), main.to(torch::kFloat64)));
      if (!same) return MtpCopyDiffers(source, name, main_name);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status LoadTensors(CausalLmImpl& model, const std::map<std::string, torch::Tensor>& tensors,
                         const std::string& source) {
  return CopyOrAdoptTensors(model, tensors, source, /*adopt=*/false);
}

absl::Status AdoptTensors(CausalLmImpl& model, const std::map<std::string, torch::Tensor>& tensors,
                          const std::string& source) {
  return CopyOrAdoptTensors(model, tensors, source, /*adopt=*/true);
}

}  // namespace r1::model
