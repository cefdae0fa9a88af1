#include "model/optimizer.h"

#include <torch/torch.h>

#include <cmath>

#include "absl/strings/str_cat.h"

namespace r1::model {

double LearningRate(const config::OptimizerConfig& c, int64_t step, int64_t total_steps) {
  if (c.warmup_steps() > 0 && step < c.warmup_steps()) {
    return c.lr() * static_cast<double>(step + 1) / static_cast<double>(c.warmup_steps());
  }
  const int64_t decay_steps = std::max<int64_t>(1, total_steps - c.warmup_steps());
  const double progress = std::min(1.0, static_cast<double>(step - c.warmup_steps()) / static_cast<double>(decay_steps));
  const double cosine = 0.5 * (1.0 + std::cos(M_PI * progress));
  return c.lr() * (c.min_lr_ratio() + (1.0 - c.min_lr_ratio()) * cosine);
}

std::unique_ptr<torch::optim::AdamW> MakeAdamW(CausalLmImpl& model, const config::OptimizerConfig& c) {
  // Weight decay on matrices only: decaying RMSNorm gains pulls them toward
  // zero for no benefit (the usual recipe; GPT-2, Llama).
  std::vector<torch::Tensor> matrices, vectors;
  for (const auto& p : model.parameters()) (p.dim() >= 2 ? matrices : vectors).push_back(p);
  const auto options = [&](double decay) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(c.lr()).betas({c.beta1(), c.beta2()}).eps(c.eps()).weight_decay(decay));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(matrices, options(c.weight_decay()));
  if (!vectors.empty()) groups.emplace_back(vectors, options(0.0));
  return std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(c.lr()));
}

void SetLearningRate(torch::optim::AdamW& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

void ClearGradients(CausalLmImpl& model) {
  for (auto& p : model.parameters()) p.mutable_grad() = torch::Tensor();
}

double ClipGradients(CausalLmImpl& model, double max_norm) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : model.parameters()) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return 0.0;
  double total = 0;
  for (const auto& g : grads) total += g.to(torch::kFloat32).pow(2).sum().item<double>();
  const double norm = std::sqrt(total);
  if (max_norm > 0 && norm > max_norm) {
    torch::NoGradGuard no_grad;
    for (auto& g : grads) g.mul_(max_norm / (norm + 1e-6));
  }
  return norm;
}

std::map<std::string, torch::Tensor> OptimizerStateTensors(CausalLmImpl& model, torch::optim::AdamW& optimizer) {
  std::map<std::string, torch::Tensor> out;
  auto& state = optimizer.state();
  for (const auto& item : model.named_parameters()) {
    const auto it = state.find(c10::guts::to_string(item.value().unsafeGetTensorImpl()));
    if (it == state.end()) continue;
    const auto& s = static_cast<const torch::optim::AdamWParamState&>(*it->second);
    out[absl::StrCat("exp_avg.", item.key())] = s.exp_avg();
    out[absl::StrCat("exp_avg_sq.", item.key())] = s.exp_avg_sq();
    out[absl::StrCat("step.", item.key())] = torch::tensor(s.step(), torch::kInt64);
  }
  return out;
}

absl::Status RestoreOptimizerState(CausalLmImpl& model, torch::optim::AdamW& optimizer,
                                   const std::map<std::string, torch::Tensor>& tensors) {
  auto& state = optimizer.state();
  for (const auto& item : model.named_parameters()) {
    const auto avg = tensors.find(absl::StrCat("exp_avg.", item.key()));
    const auto avg_sq = tensors.find(absl::StrCat("exp_avg_sq.", item.key()));
    const auto step = tensors.find(absl::StrCat("step.", item.key()));
    if (avg == tensors.end() && avg_sq == tensors.end() && step == tensors.end()) continue;
    if (avg == tensors.end() || avg_sq == tensors.end() || step == tensors.end()) {
      return absl::InvalidArgumentError(absl::StrCat("optimizer state for ", item.key(), " is incomplete"));
    }
    if (avg->second.sizes() != item.value().sizes() || avg_sq->second.sizes() != item.value().sizes() ||
        step->second.numel() != 1) {
      return absl::InvalidArgumentError(absl::StrCat("optimizer state for ", item.key(), " has the wrong shape"));
    }
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    s->step(step->second.item<int64_t>());
    s->exp_avg(avg->second.to(item.value().options()).clone());
    s->exp_avg_sq(avg_sq->second.to(item.value().options()).clone());
    state[c10::guts::to_string(item.value().unsafeGetTensorImpl())] = std::move(s);
  }
  return absl::OkStatus();
}

OptimizerRound GuardedOptimizerStep(CausalLmImpl& model, torch::optim::AdamW& optimizer, double lr,
                                    double grad_clip, bool loss_finite) {
  OptimizerRound round;
  round.grad_norm = ClipGradients(model, grad_clip);
  if (!loss_finite || !std::isfinite(round.grad_norm)) {
    round.skipped = true;
    ClearGradients(model);
    for (torch::Tensor load : model.ExpertLoad()) load.zero_();  // shares the MoE layer's counts
    return round;
  }
  SetLearningRate(optimizer, lr);
  optimizer.step();
  round.expert_balance = ExpertLoadBalance(model);  // before the bias update resets the counts
  model.AfterOptimizerStep();
  return round;
}

}  // namespace r1::model
