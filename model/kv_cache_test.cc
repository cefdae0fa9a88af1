// KvCache's sequence operations, checked the way the rollout engine relies
// on them: a sequence copied, moved or compacted decodes to the same logits
// as the same tokens run fresh, for both attention layouts (MLA's latent
// cache and GQA's per-head keys and values).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "common/test_support.h"
#include "model/causal_lm.h"
#include "model/kv_cache.h"

namespace r1::model {
namespace {

constexpr int kVocab = 64;

class KvCacheOps : public ::testing::TestWithParam<config::ModelArch> {
 protected:
  void SetUp() override {
    torch::manual_seed(0);
    absl::StatusOr<CausalLm> model = MakeModel(testing::SmallModelConfig(GetParam(), kVocab));
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *model;
    // Larger weights than the default init, so attention is far from
    // uniform and a key in the wrong place changes the logits.
    for (auto& p : model_->parameters()) {
      if (p.dim() == 2) p.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(p.size(1))));
    }
    options_.absorbed_attention = true;  // as the rollout engine decodes
  }

  // Logits [V] of the last token of `tokens` [T], run without a cache.
  torch::Tensor Fresh(const torch::Tensor& tokens) {
    return model_->Forward(tokens.unsqueeze(0), nullptr, options_).logits[0][-1];
  }

  // Decodes one token per row ([B] ids) on `cache`; logits [B, V].
  torch::Tensor DecodeOne(KvCache& cache, const torch::Tensor& next) {
    return model_->Forward(next.unsqueeze(1), &cache, options_).logits.select(1, 0);
  }

  // A one-row cache holding `tokens` [T], as the engine's prefill leaves it.
  KvCache Prefill(const torch::Tensor& tokens) {
    KvCache cache = model_->NewCache(1, tokens.size(0));
    model_->Forward(tokens.unsqueeze(0), &cache, options_);
    return cache;
  }

  static torch::Tensor Tokens(int64_t n) { return torch::randint(0, kVocab, {n}, torch::kInt64); }

  static void ExpectClose(const torch::Tensor& a, const torch::Tensor& b) {
    EXPECT_TRUE(torch::allclose(a, b, 1e-4, 1e-5)) << "max difference " << (a - b).abs().max().item<float>();
  }

  torch::NoGradGuard no_grad_;
  CausalLm model_;
  ForwardOptions options_;
};

TEST_P(KvCacheOps, CopiedPrefixDecodesLikeAFreshPrefill) {
  const torch::Tensor prompt = Tokens(6), next = Tokens(3);
  const torch::Tensor others = torch::randint(0, kVocab, {3, 4}, torch::kInt64);
  // Three rows that have already run 4 tokens; row 1's copy lands after them.
  KvCache cache = model_->NewCache(3, 16);
  model_->Forward(others, &cache, options_);
  cache.CopySequence(Prefill(prompt), /*from_row=*/0, /*row=*/1, /*at=*/cache.length);
  cache.length += prompt.size(0);

  // Row 1 sees only the copied prompt, its positions restart from 0; rows
  // 0 and 2 never see the positions their neighbour filled.
  EXPECT_FALSE(cache.key_valid[1].narrow(0, 0, 4).any().item<bool>());
  EXPECT_TRUE(cache.key_valid[1].narrow(0, 4, 6).all().item<bool>());
  EXPECT_EQ(cache.next_position[1].item<int64_t>(), 6);
  EXPECT_FALSE(cache.key_valid[0].narrow(0, 4, 6).any().item<bool>());
  const torch::Tensor logits = DecodeOne(cache, next);
  ExpectClose(logits[1], Fresh(torch::cat({prompt, next.narrow(0, 1, 1)})));
  ExpectClose(logits[0], Fresh(torch::cat({others[0], next.narrow(0, 0, 1)})));
  ExpectClose(logits[2], Fresh(torch::cat({others[2], next.narrow(0, 2, 1)})));
}

TEST_P(KvCacheOps, CopyingIntoAnOccupiedRowReplacesItsSequence) {
  const torch::Tensor old_prompt = Tokens(5), prompt = Tokens(3), next = Tokens(1);
  KvCache cache = model_->NewCache(1, 12);
  model_->Forward(old_prompt.unsqueeze(0), &cache, options_);
  cache.CopySequence(Prefill(prompt), 0, 0, cache.length);
  cache.length += prompt.size(0);
  ExpectClose(DecodeOne(cache, next)[0], Fresh(torch::cat({prompt, next})));
}

TEST_P(KvCacheOps, MovedRowKeepsItsSequenceAndLeavesItsOldRowEmpty) {
  const torch::Tensor rows = torch::randint(0, kVocab, {3, 5}, torch::kInt64), next = Tokens(3);
  KvCache cache = model_->NewCache(3, 8);
  model_->Forward(rows, &cache, options_);
  const KvCache before = cache.Rows(2, 1);  // shares storage: cloned below
  std::vector<torch::Tensor> moved;  // row 2's tensors, every layer
  for (const LayerCache& layer : before.layers) {
    for (const torch::Tensor* t : layer.Fields()) {
      if (t->defined()) moved.push_back(t->select(0, 0).clone());
    }
  }
  ASSERT_FALSE(moved.empty());

  cache.MoveRow(/*from=*/2, /*to=*/0);
  EXPECT_FALSE(cache.key_valid[2].any().item<bool>());
  EXPECT_EQ(cache.next_position[0].item<int64_t>(), 5);
  EXPECT_EQ(cache.next_position[2].item<int64_t>(), 0);
  size_t i = 0;
  for (const LayerCache& layer : cache.layers) {
    for (const torch::Tensor* t : layer.Fields()) {
      if (t->defined()) EXPECT_TRUE(torch::equal(t->select(0, 0), moved[i++]));
    }
  }
  // The two live rows, packed at the front, decode as if nothing moved.
  KvCache live = cache.Rows(0, 2);
  const torch::Tensor logits = DecodeOne(live, next.narrow(0, 0, 2));
  ExpectClose(logits[0], Fresh(torch::cat({rows[2], next.narrow(0, 0, 1)})));
  ExpectClose(logits[1], Fresh(torch::cat({rows[1], next.narrow(0, 1, 1)})));
}

TEST_P(KvCacheOps, ClearedRowAttendsToNothingItHeld) {
  const torch::Tensor rows = torch::randint(0, kVocab, {2, 4}, torch::kInt64), next = Tokens(2);
  KvCache cache = model_->NewCache(2, 8);
  model_->Forward(rows, &cache, options_);
  cache.ClearRow(0);
  EXPECT_FALSE(cache.key_valid[0].any().item<bool>());
  EXPECT_EQ(cache.next_position[0].item<int64_t>(), 0);
  // A token decoded in the emptied row starts a new sequence at position 0.
  const torch::Tensor logits = DecodeOne(cache, next);
  ExpectClose(logits[0], Fresh(next.narrow(0, 0, 1)));
  ExpectClose(logits[1], Fresh(torch::cat({rows[1], next.narrow(0, 1, 1)})));
}

TEST_P(KvCacheOps, CompactionKeepsEachRowsSequence) {
  // Row 0 holds a 5-token prompt at [0, 5), row 1 a 7-token one at [5, 12)
  // (as when two samples join one after the other): gaps in both rows.
  const torch::Tensor a = Tokens(5), b = Tokens(7), next = Tokens(2);
  const auto build = [&] {
    KvCache cache = model_->NewCache(2, 16);
    cache.CopySequence(Prefill(a), 0, 0, 0);
    cache.CopySequence(Prefill(b), 0, 1, 5);
    cache.length = 12;
    return cache;
  };
  KvCache gappy = build(), compact = build();
  compact.Compact();

  EXPECT_EQ(compact.length, 7);  // the longest row
  EXPECT_TRUE(compact.key_valid[0].narrow(0, 0, 5).all().item<bool>());
  EXPECT_FALSE(compact.key_valid[0].narrow(0, 5, 11).any().item<bool>());
  EXPECT_TRUE(compact.key_valid[1].narrow(0, 0, 7).all().item<bool>());
  for (size_t l = 0; l < gappy.layers.size(); ++l) {
    const auto before = gappy.layers[l].Fields();
    const auto after = compact.layers[l].Fields();
    for (size_t f = 0; f < LayerCache::kFields; ++f) {
      if (!before[f]->defined()) continue;
      EXPECT_TRUE(torch::equal(after[f]->select(0, 0).narrow(0, 0, 5), before[f]->select(0, 0).narrow(0, 0, 5)));
      EXPECT_TRUE(torch::equal(after[f]->select(0, 1).narrow(0, 0, 7), before[f]->select(0, 1).narrow(0, 5, 7)));
    }
  }
  const torch::Tensor from_gappy = DecodeOne(gappy, next), from_compact = DecodeOne(compact, next);
  ExpectClose(from_compact, from_gappy);
  ExpectClose(from_compact[0], Fresh(torch::cat({a, next.narrow(0, 0, 1)})));
  ExpectClose(from_compact[1], Fresh(torch::cat({b, next.narrow(0, 1, 1)})));
}

TEST_P(KvCacheOps, DecodingARowsViewWritesIntoTheCache) {
  const torch::Tensor rows = torch::randint(0, kVocab, {3, 4}, torch::kInt64), next = Tokens(3), then = Tokens(2);
  KvCache cache = model_->NewCache(3, 8);
  model_->Forward(rows, &cache, options_);
  KvCache view = cache.Rows(0, 2);
  EXPECT_EQ(view.batch, 2);
  DecodeOne(view, next.narrow(0, 0, 2));
  cache.length = view.length;

  EXPECT_EQ(cache.length, 5);
  EXPECT_TRUE(cache.key_valid.narrow(0, 0, 2).select(1, 4).all().item<bool>());
  EXPECT_FALSE(cache.key_valid[2][4].item<bool>());  // row 2 did not run
  EXPECT_EQ(cache.next_position[0].item<int64_t>(), 5);
  EXPECT_EQ(cache.next_position[2].item<int64_t>(), 4);
  // The next step on the whole cache continues each row where it is.
  const torch::Tensor logits = DecodeOne(cache, torch::cat({then, next.narrow(0, 2, 1)}));
  ExpectClose(logits[0], Fresh(torch::cat({rows[0], next.narrow(0, 0, 1), then.narrow(0, 0, 1)})));
  ExpectClose(logits[2], Fresh(torch::cat({rows[2], next.narrow(0, 2, 1)})));
}

TEST_P(KvCacheOps, BytesCountsEveryLayersTensors) {
  const KvCache cache = model_->NewCache(2, 8);
  int64_t expected = 0;
  for (const LayerCache& layer : cache.layers) {
    for (const torch::Tensor* t : layer.Fields()) {
      if (t->defined()) expected += t->numel() * t->element_size();
    }
  }
  EXPECT_GT(expected, 0);
  EXPECT_EQ(cache.Bytes(), expected);
  EXPECT_EQ(cache.Rows(0, 1).Bytes(), expected / 2);
}

INSTANTIATE_TEST_SUITE_P(Layouts, KvCacheOps, ::testing::Values(config::DEEPSEEK_V3, config::LLAMA),
                         [](const auto& info) { return info.param == config::DEEPSEEK_V3 ? "Mla" : "Gqa"; });

}  // namespace
}  // namespace r1::model
