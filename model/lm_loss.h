// The language-model training loss: next-token cross-entropy, plus the
// multi-token-prediction loss and the MoE balance loss when the forward pass
// produced them.
//
// Legend: B batch, T tokens, V vocab.
#ifndef R1_MODEL_LM_LOSS_H_
#define R1_MODEL_LM_LOSS_H_

#include <torch/types.h>

#include "model/causal_lm.h"

namespace r1::model {

struct LmLoss {
  torch::Tensor total;  // main + mtp + aux, what backward() runs on
  torch::Tensor main;   // mean CE of logits[:, t] against tokens[:, t+1]
  torch::Tensor mtp;    // mtp_loss_weight * mean over modules k of their CE
  torch::Tensor aux;    // the forward pass's balance loss (0 when off)
};

// tokens [B, T]; `loss_mask` [B, T] (or undefined = all 1) weights each
// target position t (the token predicted at t, i.e. tokens[:, t]); position 0
// is never a target. Cross-entropies are means over unmasked targets.
LmLoss ComputeLmLoss(const ForwardResult& forward, const torch::Tensor& tokens, double mtp_loss_weight,
                     const torch::Tensor& loss_mask = torch::Tensor());

}  // namespace r1::model

#endif  // R1_MODEL_LM_LOSS_H_
