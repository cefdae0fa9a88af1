#include "model/kv_cache.h"

#include <torch/torch.h>

namespace r1::model {
namespace {

int64_t BytesOf(const torch::Tensor& t) { return t.defined() ? t.numel() * t.element_size() : 0; }

}  // namespace

std::array<torch::Tensor*, LayerCache::kFields> LayerCache::Fields() { return {&latent, &rope_key, &key, &value}; }

std::array<const torch::Tensor*, LayerCache::kFields> LayerCache::Fields() const {
  return {&latent, &rope_key, &key, &value};
}

int64_t KvCache::Bytes() const {
  int64_t total = 0;
  for (const LayerCache& layer : layers) {
    for (const torch::Tensor* t : layer.Fields()) total += BytesOf(*t);
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

KvCache KvCache::Rows(int64_t first, int64_t count) const {
  TORCH_CHECK(first >= 0 && count >= 0 && first + count <= batch, "rows [", first, ", ", first + count,
              ") outside a cache of ", batch, " rows");
  KvCache view;
  view.batch = count;
  view.capacity = capacity;
  view.length = length;
  view.key_valid = key_valid.narrow(0, first, count);          // [count, S_max]
  view.next_position = next_position.narrow(0, first, count);  // [count]
  view.layers.resize(layers.size());
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto src = layers[l].Fields();
    const auto dst = view.layers[l].Fields();
    for (size_t f = 0; f < LayerCache::kFields; ++f) {
      if (src[f]->defined()) *dst[f] = src[f]->narrow(0, first, count);  // [count, S_max, ...]
    }
  }
  return view;
}

void KvCache::CopySequence(const KvCache& from, int64_t from_row, int64_t row, int64_t at) {
  const int64_t tokens = from.length;
  TORCH_CHECK(layers.size() == from.layers.size(), "copying a sequence between caches of ", from.layers.size(),
              " and ", layers.size(), " layers");
  TORCH_CHECK(0 <= from_row && from_row < from.batch && 0 <= row && row < batch, "row out of range");
  TORCH_CHECK(at >= 0 && at + tokens <= capacity, "a sequence of ", tokens, " tokens at position ", at,
              " does not fit a cache of capacity ", capacity);
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto src = from.layers[l].Fields();
    const auto dst = layers[l].Fields();
    for (size_t f = 0; f < LayerCache::kFields; ++f) {
      if (!dst[f]->defined()) continue;
      TORCH_CHECK(src[f]->defined(), "copying a sequence between caches of different attention layouts");
      dst[f]->select(0, row).narrow(0, at, tokens).copy_(src[f]->select(0, from_row).narrow(0, 0, tokens));
    }
  }
  const torch::Tensor valid = key_valid.select(0, row);  // [S_max]
  valid.fill_(false);
  valid.narrow(0, at, tokens).copy_(from.key_valid.select(0, from_row).narrow(0, 0, tokens));
  next_position.select(0, row).copy_(from.next_position.select(0, from_row));
}

void KvCache::MoveRow(int64_t from, int64_t to) {
  TORCH_CHECK(0 <= from && from < batch && 0 <= to && to < batch, "row out of range");
  if (from == to) return;
  for (LayerCache& layer : layers) {
    for (torch::Tensor* t : layer.Fields()) {
      if (t->defined()) t->select(0, to).copy_(t->select(0, from));
    }
  }
  key_valid.select(0, to).copy_(key_valid.select(0, from));
  next_position.select(0, to).copy_(next_position.select(0, from));
  ClearRow(from);
}

void KvCache::ClearRow(int64_t row) {
  TORCH_CHECK(0 <= row && row < batch, "row ", row, " outside a cache of ", batch, " rows");
  key_valid.select(0, row).fill_(false);
  next_position.select(0, row).fill_(0);
}

void KvCache::Compact() {
  // Each row's valid entries to the front, in order: a stable sort on
  // "invalid". (The optional<bool> is spelled out: a plain `true` would bind
  // to the (dim, descending) overload and sort the wrong way.)
  const torch::Tensor order = std::get<1>(torch::sort(key_valid.logical_not().to(torch::kInt32),
                                                      c10::optional<bool>(true), /*dim=*/1,
                                                      /*descending=*/false));  // [B, S_max]
  for (LayerCache& layer : layers) {
    for (torch::Tensor* t : layer.Fields()) {
      if (!t->defined()) continue;
      // The order broadcast over the per-token dims: [B, S_max, 1, ...].
      torch::Tensor index = order.to(t->device());
      while (index.dim() < t->dim()) index = index.unsqueeze(-1);
      *t = t->gather(1, index.expand(t->sizes()).contiguous());
    }
  }
  key_valid = key_valid.gather(1, order.to(key_valid.device()));
  length = key_valid.sum(1).max().item<int64_t>();
}

}  // namespace r1::model
