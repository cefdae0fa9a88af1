// The interface both architectures implement, and the factory that builds one
// from a ModelConfig. Tensor names (named_parameters / named_buffers) are the
// Hugging Face names of each layout, so a state dict is a safetensors file.
//
// Legend: B batch, T tokens, D dim, V vocab.
#ifndef R1_MODEL_CAUSAL_LM_H_
#define R1_MODEL_CAUSAL_LM_H_

#include <torch/nn/module.h>
#include <torch/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/kv_cache.h"
#include "proto/config.pb.h"

namespace r1::model {

struct ForwardOptions {
  // [B, T] bool, false for left padding; undefined = every token is real.
  torch::Tensor token_valid;
  // [B, T] int, for packed training rows (no cache): tokens attend only within
  // their own segment and RoPE positions restart at each segment's start.
  // Undefined = one segment per row.
  torch::Tensor segment_ids;
  bool compute_mtp = false;         // DeepSeek-V3: also run the MTP modules
  bool absorbed_attention = false;  // MLA: attend over the latent directly
  bool compute_aux_loss = false;    // sequence-wise MoE balance loss
  bool record_expert_load = false;  // count routed tokens for UpdateBias
  // [B, T] bool: the tokens whose routing counts toward the expert load
  // (undefined = all). Padding should not steer the balance, and with it
  // off, how a batch is padded would change the bias update.
  torch::Tensor expert_load_mask;
};

struct ForwardResult {
  torch::Tensor logits;                  // [B, T, V], model dtype
  torch::Tensor hidden;                  // [B, T, D] before the final norm
  std::vector<torch::Tensor> mtp_logits; // module k (1-based) at [k-1]: [B, T-k, V]
  torch::Tensor aux_loss;                // scalar; 0 when off
};

class CausalLmImpl : public torch::nn::Module {
 public:
  explicit CausalLmImpl(const config::ModelConfig& config) : config_(config) {}

  // tokens [B, T] int64. With a cache, the tokens continue the cached ones
  // and the cache advances by T.
  virtual ForwardResult Forward(const torch::Tensor& tokens, KvCache* cache,
                                const ForwardOptions& options) = 0;

  // An empty cache for `batch` rows and up to `capacity` tokens. With
  // `with_draft`, it also holds the draft module's keys (layers after the
  // main ones), for speculative decoding with Draft(); only for a model that
  // CanDraft().
  KvCache NewCache(int64_t batch, int64_t capacity, bool with_draft = false) const;

  // Speculative decoding with the first multi-token prediction module as the
  // drafter (DESIGN.md section 4). A model can draft when it has one.
  virtual bool CanDraft() const { return false; }

  // Runs the draft module on positions [at, at + T) of `cache` (a cache made
  // with_draft), which the main model's Forward has already recorded: their
  // validity and RoPE positions are the main model's, so the draft keys live
  // beside the main ones and every sequence operation moves both. Entry i
  // joins the main model's hidden state at a position, `hidden` [B, T, D]
  // (ForwardResult.hidden), with the token that followed it, `next_tokens`
  // [B, T]; its logits [B, T, V] predict the token after that one, exactly as
  // ForwardResult.mtp_logits[0] does for a whole sequence. `token_valid`
  // [B, T] (undefined = all) must match the validity recorded there. The
  // cache's length, validity and positions are left as they are.
  virtual ForwardResult Draft(const torch::Tensor& hidden, const torch::Tensor& next_tokens,
                              const torch::Tensor& token_valid, KvCache* cache, int64_t at,
                              const ForwardOptions& options);

  // Called after every optimizer step (MoE bias update). No-op when dense.
  virtual void AfterOptimizerStep() {}

  // Routed tokens per expert per MoE layer since the last step, [E] each.
  virtual std::vector<torch::Tensor> ExpertLoad() const { return {}; }

  const config::ModelConfig& config() const { return config_; }
  torch::Device device() const;
  torch::Dtype dtype() const;

 protected:
  // Allocates each layer's cache tensors (cache.layers is already sized:
  // NumCachedLayers(), plus the draft module's when one was asked for).
  virtual void InitLayerCaches(KvCache& cache, torch::TensorOptions options) const = 0;
  virtual int64_t NumCachedLayers() const = 0;

  config::ModelConfig config_;
};

using CausalLm = std::shared_ptr<CausalLmImpl>;

enum class ModelInit {
  kRandom,        // small normal weights, unit norm gains, zero biases
  kWeightsFollow, // the caller loads every tensor next: no init, and the
                  // model is never held whole in float32 (ScopedBuildDtype)
};

// Builds a model on the config's device and dtype, randomly initialized
// unless `init` says its weights follow. INVALID_ARGUMENT when the config
// does not validate.
absl::StatusOr<CausalLm> MakeModel(const config::ModelConfig& config, ModelInit init = ModelInit::kRandom);

// Every persistent tensor (parameters and buffers) by its Hugging Face name.
std::vector<std::pair<std::string, torch::Tensor>> NamedTensors(const CausalLmImpl& model);

// Process-wide settings for LibTorch work, called once at start-up:
// intra-op threads = `threads`, or the number of cores when 0 (LibTorch
// defaults to 1 here); and malloc keeps freed memory for reuse instead of
// returning every block over 32 MiB to the kernel, which made each large
// activation pay page faults again (15% of a training step on the tiny
// config). Returns the number of threads set.
int ConfigureRuntime(int threads);

// Number of trainable parameters.
int64_t CountParameters(const CausalLmImpl& model);

// Expert load balance of each MoE layer since the last optimizer step, as the
// busiest expert's routed tokens over the mean (1 = perfectly balanced):
// "expert_load_max_over_mean/layer<i>", plus their mean under
// "expert_load_max_over_mean". Empty for a dense model. Read it before
// AfterOptimizerStep(), which resets the counts.
std::map<std::string, double> ExpertLoadBalance(const CausalLmImpl& model);

// Copies `tensors` into the model's parameters and buffers by name, converting
// dtype and device. Refuses a missing or unexpected name or a wrong shape,
// naming the tensor and `source` (a file name, for the message). A DeepSeek
// release's MTP copies of the embedding and head (MtpSharedCopies in
// model/deepseek.h) are accepted when equal to the main tensors, refused by
// name when not.
absl::Status LoadTensors(CausalLmImpl& model, const std::map<std::string, torch::Tensor>& tensors,
                         const std::string& source);

// LoadTensors for tensors handed over for good: one that already has its
// parameter's dtype and device and is contiguous becomes that parameter's
// storage (no copy); the others are copied as LoadTensors does. The caller
// must not keep or change the tensors it hands over: the model now reads them.
absl::Status AdoptTensors(CausalLmImpl& model, const std::map<std::string, torch::Tensor>& tensors,
                          const std::string& source);

}  // namespace r1::model

#endif  // R1_MODEL_CAUSAL_LM_H_
