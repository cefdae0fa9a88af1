// Routed-expert feed-forward: DeepSeekMoE with auxiliary-loss-free load
// balancing, and the softmax router of Qwen3-MoE.
//
// Legend: N tokens (B*T flattened), D dim, E routed experts, K experts per
// token, G expert groups.
//
// Routing (router_scoring SIGMOID, DeepSeek-V3): affinities s = sigmoid(x
// W_gate^T). The top-K experts are chosen on s + bias; the gate weights come
// from s alone (renormalized over the chosen K when norm_topk_prob, times
// routed_scaling_factor). With n_group > 1 the E experts form G groups, each
// scored by the sum of its two best s + bias; only the topk_group best groups
// may be chosen from ("noaux_tc"). The bias is a buffer moved by UpdateBias()
// after each optimizer step — bias += speed * sign(mean - load) — so
// overloaded experts get chosen less without a loss term fighting the
// language-model loss. Shared experts see every token.
//
// Routing (SOFTMAX, Qwen3-MoE): s = softmax(x W_gate^T) over the experts, the
// top-K of s, renormalized when norm_topk_prob. No bias, no balancing step.
//
// Tokens are grouped per expert, so each expert runs one batched matmul per
// call, not one per token.
#ifndef R1_MODEL_MOE_H_
#define R1_MODEL_MOE_H_

#include <torch/nn/modules/container/modulelist.h>

#include "model/layers.h"
#include "proto/config.pb.h"

namespace r1::model {

// Whether layer `layer` (0-based; MTP modules continue after n_layers) has
// routed experts: the model has experts, layer >= n_dense_layers,
// layer % moe_layer_freq == 0 and the layer is not in dense_layers.
bool LayerRoutes(const config::ModelConfig& config, int64_t layer);

// The router: HF names mlp.gate.weight and (sigmoid scoring only)
// mlp.gate.e_score_correction_bias.
class MoeGateImpl : public torch::nn::Module {
 public:
  MoeGateImpl(int64_t dim, int64_t n_experts, bool balancing_bias);
  torch::Tensor weight;                   // [E, D]
  torch::Tensor e_score_correction_bias;  // [E] buffer, not trained by gradients; undefined for softmax
};
TORCH_MODULE(MoeGate);

struct Routing {
  torch::Tensor scores;   // [N, E] sigmoid or softmax affinities, float32
  torch::Tensor experts;  // [N, K] chosen expert ids
  torch::Tensor weights;  // [N, K] gate weights, float32
};

class MoeImpl : public torch::nn::Module {
 public:
  explicit MoeImpl(const config::ModelConfig& config);

  // x [B, T, D] -> [B, T, D]. When `aux_loss` is given and
  // seq_aux_loss_alpha > 0, adds this layer's sequence-wise balance loss.
  // When `record_load`, adds the chosen-expert counts to load(), of the
  // tokens `load_mask` [B, T] marks (undefined = all).
  torch::Tensor forward(const torch::Tensor& x, torch::Tensor* aux_loss, bool record_load,
                        const torch::Tensor& load_mask = torch::Tensor());

  Routing Route(const torch::Tensor& x_flat) const;

  // Aux-loss-free balancing step; resets the load counters.
  void UpdateBias(double speed);
  // Tokens routed to each expert since the last UpdateBias/ResetLoad, [E] float.
  const torch::Tensor& load() const { return load_; }
  void ResetLoad();

  MoeGate gate{nullptr};
  torch::nn::ModuleList experts{nullptr};  // E x SwiGlu(D, moe_inter_dim)
  SwiGlu shared_experts{nullptr};          // SwiGlu(D, n_shared * moe_inter_dim)

 private:
  int64_t n_experts_, top_k_, n_group_, topk_group_;
  bool softmax_, norm_topk_prob_;
  double routed_scaling_factor_;
  double seq_aux_loss_alpha_;
  torch::Tensor load_;
};
TORCH_MODULE(Moe);

}  // namespace r1::model

#endif  // R1_MODEL_MOE_H_
