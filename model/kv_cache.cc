#include "model/kv_cache.h"

#include <torch/torch.h>

namespace r1::model {
namespace {

int64_t BytesOf(const torch::Tensor& t) { return t.defined() ? t.numel() * t.element_size() : 0; }

}  // namespace

int64_t KvCache::Bytes() const {
  int64_t total = 0;
  for (const LayerCache& layer : layers) {
    total += BytesOf(layer.latent) + BytesOf(layer.rope_key) + BytesOf(layer.key) + BytesOf(layer.value);
  }
  return total;
}

void KvCache::Advance(const torch::Tensor& token_valid, int64_t tokens) {
  const torch::Tensor valid = token_valid.defined() ? token_valid.to(key_valid.device(), torch::kBool)
                                                    : torch::ones({batch, tokens}, key_valid.options());
  key_valid.narrow(1, length, tokens).copy_(valid);
  next_position += valid.to(torch::kInt64).sum(1);
  length += tokens;
}

}  // namespace r1::model
