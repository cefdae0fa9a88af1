#include "model/deepseek.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace r1::model {

DeepSeekBlockImpl::DeepSeekBlockImpl(const config::ModelConfig& c, int64_t layer_index) {
  input_layernorm = register_module("input_layernorm", RmsNorm(c.dim(), c.rms_norm_eps()));
  self_attn = register_module("self_attn", Mla(c));
  post_attention_layernorm = register_module("post_attention_layernorm", RmsNorm(c.dim(), c.rms_norm_eps()));
  if (!LayerRoutes(c, layer_index)) {
    dense_mlp = register_module("mlp", SwiGlu(c.dim(), c.inter_dim()));
  } else {
    moe = register_module("mlp", Moe(c));
  }
}

torch::Tensor DeepSeekBlockImpl::forward(const torch::Tensor& h, const AttentionContext& ctx,
                                         LayerCache* cache, const ForwardOptions& options,
                                         torch::Tensor* aux_loss) {
  torch::Tensor x = h + self_attn(input_layernorm(h), ctx, cache, options.absorbed_attention);
  const torch::Tensor normed = post_attention_layernorm(x);
  return x + (dense_mlp ? dense_mlp(normed)
                        : moe->forward(normed, aux_loss, options.record_expert_load, options.expert_load_mask));
}

MtpModuleImpl::MtpModuleImpl(const config::ModelConfig& c, int64_t layer_index)
    : DeepSeekBlockImpl(c, layer_index) {
  enorm = register_module("enorm", RmsNorm(c.dim(), c.rms_norm_eps()));
  hnorm = register_module("hnorm", RmsNorm(c.dim(), c.rms_norm_eps()));
  eh_proj = register_module("eh_proj", MakeLinear(2 * c.dim(), c.dim()));
  shared_head = register_module("shared_head", std::make_shared<torch::nn::Module>());
  head_norm = shared_head->register_module("norm", RmsNorm(c.dim(), c.rms_norm_eps()));
}

std::vector<std::pair<std::string, std::string>> MtpSharedCopies(const config::ModelConfig& c) {
  std::vector<std::pair<std::string, std::string>> copies;
  if (c.arch() != config::DEEPSEEK_V3) return copies;
  for (int64_t k = 0; k < c.n_mtp_modules(); ++k) {
    const std::string prefix = absl::StrCat("model.layers.", c.n_layers() + k, ".");
    copies.emplace_back(absl::StrCat(prefix, "embed_tokens.weight"), "model.embed_tokens.weight");
    copies.emplace_back(absl::StrCat(prefix, "shared_head.head.weight"), "lm_head.weight");
  }
  return copies;
}

std::string MtpCopyOf(const config::ModelConfig& c, const std::string& name) {
  for (const auto& [copy, main] : MtpSharedCopies(c)) {
    if (copy == name) return main;
  }
  return "";
}

absl::Status MtpCopyDiffers(const std::string& where, const std::string& copy, const std::string& main) {
  return absl::InvalidArgumentError(absl::StrCat(
      where, ": tensor ", copy, " differs from ", main, ": r1's MTP modules share the main model's embedding and "
      "output head, so a copy stored with an MTP layer must equal the main tensor"));
}

DeepSeekV3Impl::DeepSeekV3Impl(const config::ModelConfig& c) : CausalLmImpl(c) {
  model_ = register_module("model", std::make_shared<torch::nn::Module>());
  embed_tokens_ = model_->register_module("embed_tokens", MakeEmbedding(c.vocab_size(), c.dim()));
  layers_ = model_->register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.n_layers(); ++i) {
    blocks_.push_back(DeepSeekBlock(c, i));
    layers_->push_back(blocks_.back());
  }
  for (int64_t k = 0; k < c.n_mtp_modules(); ++k) {
    mtp_.push_back(MtpModule(c, c.n_layers() + k));
    layers_->push_back(mtp_.back());
  }
  norm_ = model_->register_module("norm", RmsNorm(c.dim(), c.rms_norm_eps()));
  lm_head_ = register_module("lm_head", MakeLinear(c.dim(), c.vocab_size()));
}

ForwardResult DeepSeekV3Impl::Forward(const torch::Tensor& tokens, KvCache* cache,
                                      const ForwardOptions& options) {
  const int64_t batch = tokens.size(0), length = tokens.size(1);
  const AttentionContext ctx =
      MakeAttentionContext(options.token_valid, batch, length, cache, tokens.device(), options.segment_ids);
  ForwardResult result;
  result.aux_loss = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32).device(tokens.device()));
  torch::Tensor* aux = options.compute_aux_loss ? &result.aux_loss : nullptr;

  torch::Tensor h = embed_tokens_(tokens);  // [B, T, D]
  for (size_t i = 0; i < blocks_.size(); ++i) {
    h = blocks_[i](h, ctx, cache ? &cache->layers[i] : nullptr, options, aux);
  }
  result.hidden = h;
  result.logits = lm_head_(norm_(h));

  if (cache != nullptr) cache->Advance(options.token_valid, length);

  if (options.compute_mtp) {
    TORCH_CHECK(cache == nullptr, "MTP runs on whole sequences, not with a KV cache");
    torch::Tensor previous = h;  // module k's input hidden state, [B, T-k+1, D]
    for (size_t k = 1; k <= mtp_.size() && static_cast<int64_t>(k) < length; ++k) {
      const int64_t span = length - static_cast<int64_t>(k);
      MtpModuleImpl& module = *mtp_[k - 1];
      const torch::Tensor embedded = embed_tokens_(tokens.narrow(1, k, span));  // tokens t+k
      const torch::Tensor x = module.eh_proj(
          torch::cat({module.enorm(embedded), module.hnorm(previous.narrow(1, 0, span))}, -1));
      const AttentionContext mtp_ctx = MakeAttentionContext(
          options.token_valid.defined() ? options.token_valid.narrow(1, k, span) : torch::Tensor(), batch, span,
          nullptr, tokens.device(), options.segment_ids.defined() ? options.segment_ids.narrow(1, k, span) : torch::Tensor());
      ForwardOptions mtp_options = options;  // the load mask of the tokens this module sees
      if (options.expert_load_mask.defined()) mtp_options.expert_load_mask = options.expert_load_mask.narrow(1, k, span);
      const torch::Tensor hk = module.forward(x, mtp_ctx, nullptr, mtp_options, aux);
      result.mtp_logits.push_back(lm_head_(module.head_norm(hk)));
      previous = hk;
    }
  }
  return result;
}

ForwardResult DeepSeekV3Impl::Draft(const torch::Tensor& hidden, const torch::Tensor& next_tokens,
                                    const torch::Tensor& token_valid, KvCache* cache, int64_t at,
                                    const ForwardOptions& options) {
  TORCH_CHECK(!mtp_.empty(), "this model has no MTP module to draft with");
  TORCH_CHECK(cache != nullptr && cache->layers.size() == blocks_.size() + 1,
              "drafting needs a cache made with_draft (NewCache)");
  const int64_t batch = next_tokens.size(0), length = next_tokens.size(1);
  TORCH_CHECK(at >= 0 && at + length <= cache->length, "draft positions [", at, ", ", at + length,
              ") are not all recorded in the cache (length ", cache->length, ")");
  // RoPE position of entry `at` = valid keys before it in its row, as the
  // main model counted them when it wrote that position.      // [B]
  const torch::Tensor before = at > 0 ? cache->key_valid.narrow(1, 0, at).sum(1)
                                      : torch::zeros({batch}, cache->next_position.options());
  const AttentionContext ctx = MakeAttentionContext(token_valid, batch, length, at, cache->key_valid, before,
                                                    next_tokens.device());
  MtpModuleImpl& module = *mtp_[0];
  const torch::Tensor x = module.eh_proj(
      torch::cat({module.enorm(embed_tokens_(next_tokens)), module.hnorm(hidden)}, -1));  // [B, T, D]
  ForwardOptions draft_options = options;
  draft_options.compute_aux_loss = false;
  draft_options.record_expert_load = false;  // drafting must not steer the balance
  ForwardResult result;
  result.hidden = module.forward(x, ctx, &cache->layers[blocks_.size()], draft_options, nullptr);
  result.logits = lm_head_(module.head_norm(result.hidden));  // [B, T, V]
  return result;
}

void DeepSeekV3Impl::InitLayerCaches(KvCache& cache, torch::TensorOptions options) const {
  for (size_t i = 0; i < blocks_.size(); ++i) {
    blocks_[i]->self_attn->InitCache(cache.layers[i], cache.batch, cache.capacity, options);
  }
  // The draft module's keys, when the cache was made with_draft.
  if (cache.layers.size() > blocks_.size()) {
    mtp_[0]->self_attn->InitCache(cache.layers[blocks_.size()], cache.batch, cache.capacity, options);
  }
}

void DeepSeekV3Impl::AfterOptimizerStep() {
  for (DeepSeekBlock& block : blocks_) {
    if (block->moe) block->moe->UpdateBias(config_.bias_update_speed());
  }
  for (MtpModule& module : mtp_) {
    if (module->moe) module->moe->UpdateBias(config_.bias_update_speed());
  }
}

std::vector<torch::Tensor> DeepSeekV3Impl::ExpertLoad() const {
  std::vector<torch::Tensor> loads;
  for (const DeepSeekBlock& block : blocks_) {
    if (block->moe) loads.push_back(block->moe->load());
  }
  return loads;
}

}  // namespace r1::model
