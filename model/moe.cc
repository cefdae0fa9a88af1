#include "model/moe.h"

#include <torch/torch.h>

#include <algorithm>
#include <limits>

#include "model/cast.h"

namespace r1::model {

bool LayerRoutes(const config::ModelConfig& c, int64_t layer) {
  if (c.n_routed_experts() <= 0 || layer < c.n_dense_layers()) return false;
  if (layer % std::max(c.moe_layer_freq(), 1) != 0) return false;
  return std::find(c.dense_layers().begin(), c.dense_layers().end(), layer) == c.dense_layers().end();
}

MoeGateImpl::MoeGateImpl(int64_t dim, int64_t n_experts, bool balancing_bias) {
  weight = register_parameter("weight", torch::randn({n_experts, dim}) / std::sqrt(static_cast<double>(dim)));
  if (balancing_bias) e_score_correction_bias = register_buffer("e_score_correction_bias", torch::zeros({n_experts}));
}

MoeImpl::MoeImpl(const config::ModelConfig& c)
    : n_experts_(c.n_routed_experts()),
      top_k_(c.n_activated_experts()),
      n_group_(std::max(c.n_group(), 1)),
      topk_group_(c.topk_group()),
      softmax_(c.router_scoring() == config::SOFTMAX),
      norm_topk_prob_(c.norm_topk_prob()),
      routed_scaling_factor_(c.routed_scaling_factor()),
      seq_aux_loss_alpha_(c.seq_aux_loss_alpha()) {
  gate = register_module("gate", MoeGate(c.dim(), n_experts_, /*balancing_bias=*/!softmax_));
  experts = register_module("experts", torch::nn::ModuleList());
  for (int64_t e = 0; e < n_experts_; ++e) experts->push_back(SwiGlu(c.dim(), c.moe_inter_dim()));
  if (c.n_shared_experts() > 0) {
    shared_experts = register_module("shared_experts", SwiGlu(c.dim(), c.n_shared_experts() * c.moe_inter_dim()));
  }
  load_ = torch::zeros({n_experts_});
}

Routing MoeImpl::Route(const torch::Tensor& x_flat) const {
  Routing r;
  const torch::Tensor logits = torch::matmul(AsDtype(x_flat, torch::kFloat32), AsDtype(gate->weight, torch::kFloat32).t());  // [N, E]
  r.scores = softmax_ ? torch::softmax(logits, -1) : torch::sigmoid(logits);
  // The bias picks the experts; it never enters the weights.
  torch::Tensor choice = gate->e_score_correction_bias.defined()
                             ? r.scores + AsDtype(gate->e_score_correction_bias, torch::kFloat32)
                             : r.scores;                                                               // [N, E]
  if (n_group_ > 1) {
    const int64_t tokens = choice.size(0);
    const torch::Tensor grouped = choice.view({tokens, n_group_, n_experts_ / n_group_});              // [N, G, E/G]
    const torch::Tensor group_scores = std::get<0>(grouped.topk(2, -1)).sum(-1);                       // [N, G]
    const torch::Tensor kept = std::get<1>(group_scores.topk(topk_group_, -1));                        // [N, topk_group]
    const torch::Tensor group_kept =
        torch::zeros({tokens, n_group_}, choice.options().dtype(torch::kBool)).scatter_(1, kept, true);
    const torch::Tensor expert_kept = group_kept.unsqueeze(-1).expand_as(grouped).reshape({tokens, n_experts_});
    // Experts outside the kept groups can never be chosen (DeepSeek-V3's
    // inference code masks them to -inf).
    choice = choice.masked_fill(expert_kept.logical_not(), -std::numeric_limits<float>::infinity());
  }
  r.experts = std::get<1>(choice.topk(top_k_, -1));                                                   // [N, K]
  const torch::Tensor chosen = r.scores.gather(1, r.experts);                                          // [N, K]
  r.weights = norm_topk_prob_ ? chosen / chosen.sum(-1, /*keepdim=*/true) : chosen;
  if (routed_scaling_factor_ != 1) r.weights = r.weights * routed_scaling_factor_;
  return r;
}

torch::Tensor MoeImpl::forward(const torch::Tensor& x, torch::Tensor* aux_loss, bool record_load,
                               const torch::Tensor& load_mask) {
  const int64_t batch = x.size(0), tokens = x.size(1), dim = x.size(2);
  const torch::Tensor x_flat = x.reshape({batch * tokens, dim});  // [N, D]
  const Routing routing = Route(x_flat);

  // Group the N*K (token, expert) assignments by expert.
  const torch::Tensor flat_experts = routing.experts.flatten();                           // [N*K]
  const torch::Tensor order = flat_experts.argsort();                                     // [N*K]
  const torch::Tensor token_of = order.div(top_k_, "floor");                              // [N*K] token ids
  const torch::Tensor counts = flat_experts.bincount({}, n_experts_).to(torch::kCPU);     // [E]
  const torch::Tensor x_sorted = x_flat.index_select(0, token_of);                        // [N*K, D]
  std::vector<torch::Tensor> outputs;
  const int64_t* count = counts.data_ptr<int64_t>();
  int64_t offset = 0;
  for (int64_t e = 0; e < n_experts_; ++e) {
    if (count[e] == 0) continue;
    outputs.push_back(experts[e]->as<SwiGluImpl>()->forward(x_sorted.narrow(0, offset, count[e])));
    offset += count[e];
  }
  const torch::Tensor weights = routing.weights.flatten().index_select(0, order).unsqueeze(1);  // [N*K, 1]
  const torch::Tensor routed = torch::cat(outputs, 0) * AsDtype(weights, x.scalar_type());
  torch::Tensor out = torch::zeros_like(x_flat).index_add(0, token_of, routed);
  if (shared_experts) out = out + shared_experts(x_flat);

  if (record_load && load_mask.defined()) {
    const torch::Tensor counted = routing.experts.masked_select(
        load_mask.reshape({batch * tokens, 1}).to(routing.experts.device(), torch::kBool));  // [counted * K]
    load_ += counted.bincount({}, n_experts_).to(torch::kCPU, torch::kFloat32);
  } else if (record_load) {
    load_ += counts.to(torch::kFloat32);
  }
  if (aux_loss != nullptr && seq_aux_loss_alpha_ > 0) {
    // Per sequence: alpha * sum_e f_e * P_e with f_e = E/(K*T) * (tokens
    // choosing e) and P_e the mean normalized affinity.
    const torch::Tensor normalized = routing.scores / routing.scores.sum(-1, true);        // [N, E]
    const torch::Tensor p = normalized.view({batch, tokens, n_experts_}).mean(1);          // [B, E]
    const torch::Tensor chosen = torch::zeros({batch * tokens, n_experts_}, p.options())
                                     .scatter_(1, routing.experts, 1.0)
                                     .view({batch, tokens, n_experts_});
    const torch::Tensor f = chosen.sum(1) * (static_cast<double>(n_experts_) / (top_k_ * tokens));  // [B, E]
    *aux_loss = *aux_loss + seq_aux_loss_alpha_ * (f * p).sum(-1).mean();
  }
  return out.view({batch, tokens, dim});
}

void MoeImpl::UpdateBias(double speed) {
  if (!gate->e_score_correction_bias.defined()) return ResetLoad();  // softmax routers have no bias
  torch::NoGradGuard no_grad;
  const torch::Tensor load = load_.to(gate->e_score_correction_bias.device());
  gate->e_score_correction_bias += speed * torch::sign(load.mean() - load);
  ResetLoad();
}

void MoeImpl::ResetLoad() { load_.zero_(); }

}  // namespace r1::model
