#include "model/lm_loss.h"

#include <torch/torch.h>

namespace r1::model {
namespace {

// Mean CE of logits [B, L, V] against targets [B, L] weighted by mask [B, L].
torch::Tensor MaskedCrossEntropy(const torch::Tensor& logits, const torch::Tensor& targets, const torch::Tensor& mask) {
  const torch::Tensor nll = -torch::log_softmax(logits.to(torch::kFloat32), -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1);
  if (!mask.defined()) return nll.mean();
  const torch::Tensor m = mask.to(torch::kFloat32);
  return (nll * m).sum() / m.sum().clamp_min(1.0);
}

}  // namespace

LmLoss ComputeLmLoss(const ForwardResult& forward, const torch::Tensor& tokens, double mtp_loss_weight,
                     const torch::Tensor& loss_mask) {
  const int64_t length = tokens.size(1);
  const auto mask_from = [&](int64_t start) {
    return loss_mask.defined() ? loss_mask.narrow(1, start, length - start) : torch::Tensor();
  };
  LmLoss loss;
  loss.main = MaskedCrossEntropy(forward.logits.narrow(1, 0, length - 1), tokens.narrow(1, 1, length - 1), mask_from(1));
  loss.mtp = torch::zeros_like(loss.main);
  int64_t modules = 0;
  for (size_t i = 0; i < forward.mtp_logits.size(); ++i) {
    // Module k's position t predicts tokens[:, t + k + 1].
    const int64_t k = static_cast<int64_t>(i) + 1, targets = length - k - 1;
    if (targets <= 0) break;
    loss.mtp = loss.mtp + MaskedCrossEntropy(forward.mtp_logits[i].narrow(1, 0, targets),
                                             tokens.narrow(1, k + 1, targets), mask_from(k + 1));
    ++modules;
  }
  if (modules > 0) loss.mtp = loss.mtp * (mtp_loss_weight / static_cast<double>(modules));
  loss.aux = forward.aux_loss.defined() ? forward.aux_loss : torch::zeros_like(loss.main);
  loss.total = loss.main + loss.mtp + loss.aux;
  return loss;
}

}  // namespace r1::model
