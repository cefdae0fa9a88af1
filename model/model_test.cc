// Behaviour of the models that does not need reference values: the two MLA
// forms agree, cached decoding equals a full forward pass, padding is
// invisible, MoE routing and balancing follow their rules, and generation
// records the logprobs the learner will recompute.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/chat_template.h"
#include "common/file_util.h"
#include "common/test_support.h"
#include "model/causal_lm.h"
#include "model/deepseek.h"
#include "model/generate.h"
#include "model/layers.h"
#include "model/lm_loss.h"
#include "model/moe.h"
#include "model/sampler.h"

#include <ATen/CPUGeneratorImpl.h>

namespace r1::model {
namespace {

config::ModelConfig TinyDeepSeek(int vocab = 64) { return testing::SmallModelConfig(config::DEEPSEEK_V3, vocab); }
config::ModelConfig TinyLlama(int vocab = 64) { return testing::SmallModelConfig(config::LLAMA, vocab); }

CausalLm Build(const config::ModelConfig& c, uint64_t seed = 0) {
  torch::manual_seed(seed);
  absl::StatusOr<CausalLm> model = MakeModel(c);
  EXPECT_TRUE(model.ok()) << model.status();
  {
    // Larger weights than the default init so attention and routing are far
    // from uniform and mistakes show.
    torch::NoGradGuard no_grad;
    for (auto& p : (*model)->parameters()) {
      if (p.dim() == 2) p.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(p.size(1))));
    }
  }
  return *model;
}

class BothArchitectures : public ::testing::TestWithParam<config::ModelArch> {
 protected:
  config::ModelConfig Config() const { return GetParam() == config::DEEPSEEK_V3 ? TinyDeepSeek() : TinyLlama(); }
};

TEST_P(BothArchitectures, CachedDecodingEqualsOneFullForward) {
  CausalLm model = Build(Config());
  torch::NoGradGuard no_grad;
  const torch::Tensor tokens = torch::randint(0, 64, {2, 12}, torch::kInt64);
  const torch::Tensor full = model->Forward(tokens, nullptr, {}).logits;  // [2, 12, V]
  KvCache cache = model->NewCache(2, 16);
  ForwardOptions options;
  options.absorbed_attention = true;
  std::vector<torch::Tensor> pieces = {model->Forward(tokens.narrow(1, 0, 5), &cache, options).logits};
  for (int64_t t = 5; t < 12; ++t) pieces.push_back(model->Forward(tokens.narrow(1, t, 1), &cache, options).logits);
  EXPECT_EQ(cache.length, 12);
  EXPECT_TRUE(torch::allclose(torch::cat(pieces, 1), full, 1e-4, 1e-5));
}

TEST_P(BothArchitectures, LeftPaddingIsInvisible) {
  CausalLm model = Build(Config());
  torch::NoGradGuard no_grad;
  const torch::Tensor row = torch::randint(4, 64, {1, 7}, torch::kInt64);
  const torch::Tensor alone = model->Forward(row, nullptr, {}).logits;
  // The same row behind three pad tokens, batched with a longer row.
  torch::Tensor batch = torch::randint(4, 64, {2, 10}, torch::kInt64);
  batch[0].narrow(0, 0, 3).fill_(3);
  batch[0].narrow(0, 3, 7).copy_(row[0]);
  ForwardOptions options;
  options.token_valid = torch::ones({2, 10}, torch::kBool);
  options.token_valid[0].narrow(0, 0, 3).fill_(false);
  const torch::Tensor padded = model->Forward(batch, nullptr, options).logits;
  EXPECT_TRUE(torch::allclose(padded[0].narrow(0, 3, 7), alone[0], 1e-4, 1e-5));
}

TEST_P(BothArchitectures, GeneratedLogprobsEqualAFullForwardOverPromptAndCompletion) {
  CausalLm model = Build(Config(), 3);
  // A tokenizer only for ids: BOS/EOS/PAD and decoding.
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / absl::StrCat("r1_model_test_", getpid());
  absl::StatusOr<std::string> model_path = testing::TrainTinyTokenizer(dir.string(), 40);
  ASSERT_TRUE(model_path.ok()) << model_path.status();
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(*model_path);
  ASSERT_TRUE(tokenizer.ok());
  std::filesystem::remove_all(dir);

  const std::vector<std::vector<int>> prompts = {*EncodePrompt(*tokenizer, "What is 12 + 3?"),
                                                 *EncodePrompt(*tokenizer, "1?")};
  GenerationParams params;
  params.sampling.temperature = 0.7;
  params.sampling.top_p = 0.9;
  params.sampling.top_k = 20;
  params.max_new_tokens = 20;
  params.seed = 5;
  const std::vector<Completion> completions = Generate(*model, *tokenizer, prompts, params);
  ASSERT_EQ(completions.size(), 2u);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const Completion& c = completions[i];
    ASSERT_FALSE(c.tokens.empty());
    ASSERT_EQ(c.tokens.size(), c.logprobs.size());
    std::vector<int64_t> ids(prompts[i].begin(), prompts[i].end());
    ids.insert(ids.end(), c.tokens.begin(), c.tokens.end());
    const torch::Tensor sequence = torch::tensor(ids).unsqueeze(0);
    const torch::Tensor logits = model->Forward(sequence, nullptr, {}).logits;  // [1, L, V]
    const int64_t p = static_cast<int64_t>(prompts[i].size()), n = static_cast<int64_t>(c.tokens.size());
    const torch::Tensor expected =
        TokenLogprobs(logits.narrow(1, p - 1, n), sequence.narrow(1, p, n), params.sampling.temperature)[0];
    const torch::Tensor recorded = torch::tensor(c.logprobs);
    EXPECT_TRUE(torch::allclose(recorded, expected, 1e-4, 1e-4)) << recorded << expected;
    EXPECT_TRUE(torch::all(recorded <= 0).item<bool>());
  }
  // Same seed, same completions.
  const std::vector<Completion> again = Generate(*model, *tokenizer, prompts, params);
  EXPECT_EQ(again[0].tokens, completions[0].tokens);
  EXPECT_EQ(again[1].tokens, completions[1].tokens);
}

INSTANTIATE_TEST_SUITE_P(Models, BothArchitectures, ::testing::Values(config::DEEPSEEK_V3, config::LLAMA),
                         [](const auto& info) { return config::ModelArch_Name(info.param); });

TEST_P(BothArchitectures, Bfloat16ModelTracksFloat32AndTrains) {
  config::ModelConfig c = Config();
  CausalLm full = Build(c, 8);
  c.set_dtype(config::BFLOAT16);
  absl::StatusOr<CausalLm> half = MakeModel(c);
  ASSERT_TRUE(half.ok());
  EXPECT_EQ((*half)->dtype(), torch::kBFloat16);
  {
    torch::NoGradGuard no_grad;
    const auto named = NamedTensors(*full);
    std::map<std::string, torch::Tensor> weights(named.begin(), named.end());
    ASSERT_TRUE(LoadTensors(**half, weights, "float32 model").ok());
  }
  const torch::Tensor tokens = torch::randint(0, 64, {2, 10}, torch::kInt64);
  ForwardOptions options;
  options.compute_mtp = c.arch() == config::DEEPSEEK_V3;
  const ForwardResult a = full->Forward(tokens, nullptr, options);
  const ForwardResult b = (*half)->Forward(tokens, nullptr, options);
  EXPECT_EQ(b.logits.scalar_type(), torch::kBFloat16);
  // bfloat16 keeps 8 bits of mantissa: agreement to a few percent of the spread.
  EXPECT_LT((a.logits - b.logits.to(torch::kFloat32)).abs().max().item<float>(), 0.1f * a.logits.abs().max().item<float>());
  const LmLoss loss = ComputeLmLoss(b, tokens, c.mtp_loss_weight());
  loss.total.backward();
  for (const auto& p : (*half)->parameters()) {
    if (p.grad().defined()) EXPECT_EQ(p.grad().scalar_type(), torch::kBFloat16);
  }
  EXPECT_TRUE(std::isfinite(loss.total.item<float>()));
}

// A model built for loading (ModelInit::kWeightsFollow) holds the same
// tensors as a random one: names, shapes, dtypes (the balancing bias stays
// float32) and requires_grad; loaded, it computes what the source does.
TEST_P(BothArchitectures, ModelBuiltForLoadingMatchesARandomOneAndLoads) {
  config::ModelConfig c = Config();
  const CausalLm source = Build(c, 3);
  c.set_dtype(config::BFLOAT16);
  absl::StatusOr<CausalLm> random = MakeModel(c);
  absl::StatusOr<CausalLm> for_loading = MakeModel(c, ModelInit::kWeightsFollow);
  ASSERT_TRUE(random.ok() && for_loading.ok());
  const auto expected = NamedTensors(**random);
  const auto got = NamedTensors(**for_loading);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    SCOPED_TRACE(got[i].first);
    EXPECT_EQ(got[i].first, expected[i].first);
    EXPECT_EQ(got[i].second.sizes(), expected[i].second.sizes());
    EXPECT_EQ(got[i].second.scalar_type(), expected[i].second.scalar_type());
    EXPECT_EQ(got[i].second.requires_grad(), expected[i].second.requires_grad());
  }
  const auto named = NamedTensors(*source);
  ASSERT_TRUE(LoadTensors(**for_loading, {named.begin(), named.end()}, "source").ok());
  ASSERT_TRUE(LoadTensors(**random, {named.begin(), named.end()}, "source").ok());
  const torch::Tensor tokens = torch::randint(0, 64, {2, 10}, torch::kInt64);
  EXPECT_TRUE(torch::equal((*for_loading)->Forward(tokens, nullptr, {}).logits,
                           (*random)->Forward(tokens, nullptr, {}).logits));
}

// The build dtype makes each Linear and Embedding in it, with the real
// shapes, on this thread only, and ends with its scope.
// A completion ends with "stop" at the first token after which the whole
// text holds a stop string, as decoding the whole text at every token shows
// (the builder decodes only the newest tokens). Released tokenizers of each
// kind (byte-level BPE, SentencePiece-style metaspace with byte fallback),
// on texts with multi-byte characters and on random ids (cut characters,
// special tokens that decode to nothing).
TEST(CompletionBuilder, EndsAtTheFirstStopStringTheWholeTextShows) {
  std::mt19937 random(5);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / absl::StrCat("r1_stop_test_", getpid());
  const std::vector<std::pair<std::string, std::string>> fixtures = {  // name, its EOS token
      {"llama3", "<|end_of_text|>"},
      {"llama2", "</s>"},
      {"qwen2", "<|endoftext|>"},
      {"mistral_metaspace", "</s>"},
      {"deepseek_v3", "<｜end▁of▁sentence｜>"}};
  for (const auto& [name, eos] : fixtures) {
    // A model folder: the fixture as tokenizer.json, and the EOS token.
    const std::filesystem::path folder = dir / name;
    std::filesystem::create_directories(folder);
    std::filesystem::copy_file("tests/golden/tokenizers/" + name + ".tokenizer.json", folder / "tokenizer.json",
                               std::filesystem::copy_options::overwrite_existing);
    ASSERT_TRUE(WriteFileAtomically((folder / "tokenizer_config.json").string(),
                                    absl::StrCat("{\"eos_token\": \"", eos, "\"}"))
                    .ok());
    absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(folder.string());
    ASSERT_TRUE(tokenizer.ok()) << name << ": " << tokenizer.status();
    // The reference: the whole text after each token.
    auto expected = [&](const std::vector<int>& ids, const std::vector<std::string>& stops) {
      for (size_t k = 1; k <= ids.size(); ++k) {
        if (tokenizer->IsStop(ids[k - 1])) return std::make_pair(k, FinishReason::kEos);
        const std::string text = tokenizer->Decode(std::vector<int>(ids.begin(), ids.begin() + k)).value_or("");
        for (const std::string& stop : stops) {
          if (text.find(stop) != std::string::npos) return std::make_pair(k, FinishReason::kStop);
        }
      }
      return std::make_pair(ids.size(), FinishReason::kLength);
    };
    auto check = [&](const std::vector<int>& ids, const std::vector<std::string>& stops, const std::string& what) {
      CompletionBuilder builder(*tokenizer, stops, static_cast<int64_t>(ids.size()));
      size_t appended = 0;
      while (appended < ids.size() && !builder.Append(ids[appended], 0.0f)) ++appended;
      if (appended < ids.size()) ++appended;  // the token that ended it
      const auto [end, reason] = expected(ids, stops);
      EXPECT_EQ(appended, end) << name << ", " << what;
      EXPECT_EQ(builder.Build().finish_reason, reason) << name << ", " << what;
      return reason;
    };
    const std::vector<std::string> texts = {
        "Let me think. 3 + 4 = 7, so the answer is <answer>7</answer> and then more text follows here.",
        "答案是四十二。然后还有更多的文字在这里，以及更多。",
        "A naïve café résumé — with emoji 🙂🙂 and more words after the emoji to pad it out.",
        std::string(200, ' ') + "word after a long run of spaces\n\nand a blank line"};
    const std::vector<std::string> stops = {"</answer>", "。", "🙂", "é r", "\n\n", "spaces"};
    int stopped = 0;
    for (const std::string& text : texts) {
      stopped += check(tokenizer->Encode(text), stops, text.substr(0, 20)) == FinishReason::kStop;
      // Each stop alone, and one that never comes.
      for (const std::string& stop : stops) check(tokenizer->Encode(text), {stop}, stop);
      check(tokenizer->Encode(text), {"never here"}, "no stop");
    }
    EXPECT_EQ(stopped, 4) << name;
    // Random ids: characters cut in half, special tokens; the stop is three
    // bytes from late in the sequence's own text.
    for (int r = 0; r < 40; ++r) {
      std::vector<int> ids(120);
      for (int& id : ids) id = static_cast<int>(random() % static_cast<uint32_t>(tokenizer->vocab_size()));
      const std::string text = tokenizer->Decode(ids).value_or("");
      if (text.size() < 8) continue;
      const size_t at = text.size() / 2 + random() % (text.size() / 2 - 3);
      check(ids, {text.substr(at, 3)}, absl::StrCat("random ", r));
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(ScopedBuildDtype, ConvertsModulesMadeOnItsThreadWhileAlive) {
  {
    ScopedBuildDtype bf16(torch::kBFloat16);
    EXPECT_EQ(MakeLinear(4, 3, /*bias=*/true)->weight.scalar_type(), torch::kBFloat16);
    EXPECT_EQ(MakeLinear(4, 3, /*bias=*/true)->bias.scalar_type(), torch::kBFloat16);
    EXPECT_EQ(MakeEmbedding(5, 4)->weight.scalar_type(), torch::kBFloat16);
    // The real shapes, registered under the HF names, trainable.
    torch::nn::Linear linear = MakeLinear(4, 3, /*bias=*/true);
    const auto params = linear->named_parameters();
    EXPECT_EQ(params["weight"].sizes(), torch::IntArrayRef({3, 4}));
    EXPECT_EQ(params["bias"].sizes(), torch::IntArrayRef({3}));
    EXPECT_TRUE(params["weight"].requires_grad());
    EXPECT_EQ(linear(torch::ones({2, 4}, torch::kBFloat16)).sizes(), torch::IntArrayRef({2, 3}));
    EXPECT_EQ(MakeEmbedding(5, 4)->named_parameters()["weight"].sizes(), torch::IntArrayRef({5, 4}));
    torch::Dtype elsewhere = torch::kBFloat16;
    std::thread([&] { elsewhere = MakeLinear(4, 3)->weight.scalar_type(); }).join();
    EXPECT_EQ(elsewhere, torch::kFloat32);
    {
      ScopedBuildDtype f32(torch::kFloat32);
      EXPECT_EQ(MakeLinear(4, 3)->weight.scalar_type(), torch::kFloat32);
    }
    EXPECT_EQ(MakeLinear(4, 3)->weight.scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(MakeLinear(4, 3)->weight.scalar_type(), torch::kFloat32);
}

// Attention as every learner step and rollout computed it before kv heads
// were grouped: keys and values repeated per query head, one product per head.
torch::Tensor AttendPerQueryHead(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                 const AttentionContext& ctx, double scale) {
  const int64_t batch = q.size(0), heads = q.size(1), tokens = q.size(2), keys = k.size(2);
  const torch::Tensor k_heads = k.repeat_interleave(heads / k.size(1), 1);  // [B, H, S, dk]
  const torch::Tensor v_heads = v.repeat_interleave(heads / v.size(1), 1);  // [B, H, S, dv]
  const torch::Tensor scores = torch::bmm(q.reshape({batch * heads, tokens, q.size(3)}),
                                          k_heads.transpose(-1, -2).reshape({batch * heads, k.size(3), keys}))
                                   .view({batch, heads, tokens, keys});
  const torch::Tensor probs = torch::softmax(torch::add(ctx.mask_bias, scores.to(torch::kFloat32), scale), -1);
  const torch::Tensor out = torch::bmm(probs.to(v.scalar_type()).view({batch * heads, tokens, keys}),
                                       v_heads.reshape({batch * heads, keys, v.size(3)}));
  return out.view({batch, heads, tokens, v.size(3)}).transpose(1, 2);
}

// Grouping must send each query head to its own kv head (g = h / (H / G)),
// under padding and cached positions, in float32 and bfloat16. Not bit for
// bit: OpenBLAS picks its kernel by the product's row count (T per head,
// H / G * T per group), so about half of all shapes differ in the last bits
// (BENCHMARKS.md, "Attention": an 18-step RL run moved by 4.5e-7 in weights).
TEST(Attend, GroupedKvHeadsMatchRepeatedHeads) {
  struct Shape {
    int64_t batch, heads, kv_heads, tokens, past, key_dim, value_dim;
    torch::Dtype dtype;
  };
  const std::vector<Shape> shapes = {
      {1, 8, 2, 1, 40, 16, 16, torch::kFloat32},    // GQA decode
      {16, 8, 2, 1, 100, 16, 16, torch::kFloat32},  // GQA decode, a batch of rows
      {4, 8, 1, 1, 33, 40, 32, torch::kFloat32},    // absorbed MLA decode: one shared latent head
      {1, 8, 2, 200, 0, 16, 16, torch::kFloat32},   // GQA prefill / training
      {4, 8, 1, 32, 0, 40, 32, torch::kFloat32},    // absorbed MLA prefill
      {2, 8, 2, 5, 21, 16, 16, torch::kFloat32},    // a verify step after 21 cached tokens
      {2, 8, 8, 17, 0, 16, 16, torch::kFloat32},    // one kv head per query head
      {3, 4, 2, 9, 6, 16, 16, torch::kBFloat16},
      {3, 4, 2, 1, 6, 16, 16, torch::kBFloat16},
  };
  torch::manual_seed(11);
  for (const Shape& s : shapes) {
    SCOPED_TRACE(absl::StrCat("B=", s.batch, " H=", s.heads, " G=", s.kv_heads, " T=", s.tokens, " past=", s.past));
    const int64_t keys = s.past + s.tokens;
    const auto options = torch::TensorOptions().dtype(s.dtype);
    const torch::Tensor q = torch::randn({s.batch, s.heads, s.tokens, s.key_dim}, options);
    const torch::Tensor k = torch::randn({s.batch, s.kv_heads, keys, s.key_dim}, options);
    const torch::Tensor v = torch::randn({s.batch, s.kv_heads, keys, s.value_dim}, options);
    // Row 0 is left-padded by two tokens, so the mask is not only causal.
    torch::Tensor valid = torch::ones({s.batch, s.tokens}, torch::kBool);
    torch::Tensor past_valid, past_next;
    if (s.past > 0) {
      past_valid = torch::ones({s.batch, s.past}, torch::kBool);
      past_valid.narrow(1, 0, 2).select(0, 0).fill_(false);
      past_next = torch::full({s.batch}, s.past, torch::kInt64);
    } else if (s.tokens > 2) {
      valid.narrow(1, 0, 2).select(0, 0).fill_(false);
    }
    const AttentionContext ctx =
        MakeAttentionContext(valid, s.batch, s.tokens, s.past, past_valid, past_next, torch::kCPU);
    const double scale = 1.0 / std::sqrt(static_cast<double>(s.key_dim));
    const torch::Tensor grouped = Attend(q, k, v, ctx, scale);
    const torch::Tensor per_head = AttendPerQueryHead(q, k, v, ctx, scale);
    ASSERT_EQ(grouped.sizes(), per_head.sizes());
    const double tolerance = s.dtype == torch::kBFloat16 ? 2e-2 : 1e-5;
    EXPECT_TRUE(torch::allclose(grouped.to(torch::kFloat32), per_head.to(torch::kFloat32), tolerance, tolerance))
        << (grouped - per_head).abs().max();
  }
}

TEST(Mla, AbsorbedFormGivesTheNaiveLogits) {
  CausalLm model = Build(TinyDeepSeek(), 1);
  torch::NoGradGuard no_grad;
  const torch::Tensor tokens = torch::randint(0, 64, {2, 10}, torch::kInt64);
  ForwardOptions naive, absorbed;
  absorbed.absorbed_attention = true;
  const torch::Tensor a = model->Forward(tokens, nullptr, naive).logits;
  const torch::Tensor b = model->Forward(tokens, nullptr, absorbed).logits;
  EXPECT_TRUE(torch::allclose(a, b, 1e-4, 1e-5)) << (a - b).abs().max();
  EXPECT_GT(a.std().item<float>(), 0.1f);  // not a degenerate model
}

TEST(Mla, CacheHoldsOnlyTheLatentAndRopeKey) {
  const config::ModelConfig c = TinyDeepSeek();
  CausalLm model = Build(c);
  const KvCache cache = model->NewCache(1, 10);
  // (kv_lora_rank + qk_rope_head_dim) float32 values per token per layer.
  const int64_t per_token = c.n_layers() * (c.kv_lora_rank() + c.qk_rope_head_dim()) * 4;
  EXPECT_EQ(cache.Bytes(), 10 * per_token);
  // An MHA layer of the same width would cache H * (Dn + Dr + Dv) per token.
  EXPECT_LT(per_token, c.n_layers() * c.n_heads() * (c.qk_nope_head_dim() + c.qk_rope_head_dim() + c.v_head_dim()) * 4);
}

TEST(Mla, DecodingPastCapacityIsAnError) {
  CausalLm model = Build(TinyDeepSeek());
  torch::NoGradGuard no_grad;
  KvCache cache = model->NewCache(1, 4);
  EXPECT_THROW(model->Forward(torch::zeros({1, 5}, torch::kInt64), &cache, {}), c10::Error);
}

TEST(MoeGate, BiasChangesSelectionNotWeights) {
  const config::ModelConfig c = TinyDeepSeek();
  torch::manual_seed(2);
  Moe moe(c);
  const torch::Tensor x = torch::randn({16, c.dim()});
  const Routing before = moe->Route(x);
  {
    torch::NoGradGuard no_grad;
    moe->gate->e_score_correction_bias[5] = 100.0;  // expert 5 now always wins a slot
  }
  const Routing after = moe->Route(x);
  EXPECT_TRUE(torch::equal(before.scores, after.scores));
  EXPECT_TRUE(torch::all((after.experts == 5).any(1)).item<bool>());
  // Weights: the unbiased scores of the chosen experts, renormalized.
  const torch::Tensor chosen = after.scores.gather(1, after.experts);
  EXPECT_TRUE(torch::allclose(after.weights, chosen / chosen.sum(1, true) * c.routed_scaling_factor()));
  EXPECT_TRUE(torch::allclose(after.weights.sum(1), torch::full({16}, c.routed_scaling_factor())));
}

TEST(Moe, GroupedExpertsEqualAPerTokenLoop) {
  const config::ModelConfig c = TinyDeepSeek();
  torch::manual_seed(4);
  Moe moe(c);
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({2, 5, c.dim()});
  const torch::Tensor out = moe->forward(x, nullptr, false);
  const torch::Tensor flat = x.reshape({10, c.dim()});
  const Routing r = moe->Route(flat);
  for (int64_t n = 0; n < 10; ++n) {
    torch::Tensor expected = moe->shared_experts(flat[n]);
    for (int64_t k = 0; k < c.n_activated_experts(); ++k) {
      const int64_t e = r.experts[n][k].item<int64_t>();
      expected = expected + r.weights[n][k] * moe->experts[e]->as<SwiGluImpl>()->forward(flat[n]);
    }
    EXPECT_TRUE(torch::allclose(out.reshape({10, c.dim()})[n], expected, 1e-5, 1e-6)) << n;
  }
}

TEST(Moe, BiasUpdateMovesTowardBalanceAndResetsLoad) {
  const config::ModelConfig c = TinyDeepSeek();
  torch::manual_seed(6);
  Moe moe(c);
  {
    torch::NoGradGuard no_grad;
    moe->forward(torch::randn({4, 8, c.dim()}), nullptr, /*record_load=*/true);
  }
  const torch::Tensor load = moe->load().clone();
  EXPECT_EQ(load.sum().item<float>(), 4 * 8 * c.n_activated_experts());
  moe->UpdateBias(0.01);
  const torch::Tensor bias = moe->gate->e_score_correction_bias;
  const torch::Tensor expected = 0.01 * torch::sign(load.mean() - load);
  EXPECT_TRUE(torch::allclose(bias, expected));
  EXPECT_EQ(moe->load().sum().item<float>(), 0.0f);
  // The bias is state, not a trainable parameter.
  for (const auto& p : moe->named_parameters()) EXPECT_EQ(p.key().find("bias"), std::string::npos) << p.key();
}

TEST(Moe, LoadMaskCountsOnlyTheMarkedTokens) {
  const config::ModelConfig c = TinyDeepSeek();
  torch::manual_seed(7);
  Moe moe(c);
  const torch::Tensor x = torch::randn({2, 6, c.dim()});
  torch::NoGradGuard no_grad;
  moe->forward(x.narrow(1, 0, 4), nullptr, /*record_load=*/true);  // the first 4 tokens of each row alone
  const torch::Tensor unpadded = moe->load().clone();
  moe->ResetLoad();
  torch::Tensor mask = torch::zeros({2, 6}, torch::kBool);
  mask.narrow(1, 0, 4).fill_(true);  // the same tokens, as a padded batch
  moe->forward(x, nullptr, /*record_load=*/true, mask);
  EXPECT_TRUE(torch::equal(moe->load(), unpadded));
  EXPECT_EQ(unpadded.sum().item<float>(), 2 * 4 * c.n_activated_experts());
}

// Plain temperature 1, top-k with temperature, top-p, min-p with
// temperature, and greedy.
std::vector<SamplingParams> EverySamplingSetting() {
  std::vector<SamplingParams> settings(5);
  settings[1].temperature = 0.7;
  settings[1].top_k = 5;
  settings[2].top_p = 0.9;
  settings[3].min_p = 0.05;
  settings[3].temperature = 1.3;
  settings[4].temperature = 0;
  return settings;
}

// Sampling a batch's rows at once gives each row what sampling it alone with
// its generator gives, bit for bit, and leaves each generator where that
// leaves it: whatever the truncation, including greedy.
TEST(Sampler, RowsSampledTogetherEqualRowsSampledAlone) {
  torch::manual_seed(11);
  for (const SamplingParams& params : EverySamplingSetting()) {
    for (int64_t rows : {1, 3, 16}) {
      const torch::Tensor logits = torch::randn({rows, 50}) * 3;
      for (int round = 0; round < 4; ++round) {
        std::vector<at::Generator> alone, together;
        std::vector<at::Generator*> pointers;
        for (int64_t b = 0; b < rows; ++b) {
          alone.push_back(at::make_generator<at::CPUGeneratorImpl>(100 * round + b));
          together.push_back(at::make_generator<at::CPUGeneratorImpl>(100 * round + b));
        }
        for (at::Generator& g : together) pointers.push_back(&g);
        const Sampled batched = SampleRows(logits, params, pointers);
        for (int64_t b = 0; b < rows; ++b) {
          const Sampled single = SampleTokens(logits.narrow(0, b, 1), params, alone[static_cast<size_t>(b)]);
          EXPECT_EQ(batched.tokens[b].item<int64_t>(), single.tokens.item<int64_t>()) << rows << " " << b;
          EXPECT_EQ(batched.logprobs[b].item<float>(), single.logprobs.item<float>()) << rows << " " << b;
          // The next draw of each generator agrees too.
          EXPECT_EQ(torch::rand({1}, alone[static_cast<size_t>(b)]).item<float>(),
                    torch::rand({1}, together[static_cast<size_t>(b)]).item<float>());
        }
      }
    }
  }
}

TEST(Sampler, TruncationsMatchHandComputedDistributions) {
  // probs 0.5, 0.25, 0.125, 0.125
  const torch::Tensor logits = torch::log(torch::tensor({{0.5f, 0.25f, 0.125f, 0.125f}}));
  SamplingParams p;
  p.top_k = 2;
  EXPECT_TRUE(torch::allclose(SamplingDistribution(logits, p), torch::tensor({{2.0f / 3, 1.0f / 3, 0.0f, 0.0f}})));
  p = SamplingParams();
  p.top_p = 0.7;  // 0.5 < 0.7, 0.75 >= 0.7: keep two
  EXPECT_TRUE(torch::allclose(SamplingDistribution(logits, p), torch::tensor({{2.0f / 3, 1.0f / 3, 0.0f, 0.0f}})));
  p.top_p = 0.5;  // the first token alone reaches 0.5
  EXPECT_TRUE(torch::allclose(SamplingDistribution(logits, p), torch::tensor({{1.0f, 0.0f, 0.0f, 0.0f}})));
  p = SamplingParams();
  p.min_p = 0.3;  // keep p >= 0.15
  EXPECT_TRUE(torch::allclose(SamplingDistribution(logits, p), torch::tensor({{2.0f / 3, 1.0f / 3, 0.0f, 0.0f}})));
  p = SamplingParams();
  p.temperature = 0.5;  // squares then renormalizes: 16:4:1:1
  EXPECT_TRUE(torch::allclose(SamplingDistribution(logits, p), torch::tensor({{16.0f, 4.0f, 1.0f, 1.0f}}) / 22));
}

TEST(Sampler, LogprobsAreTakenBeforeTruncation) {
  const torch::Tensor logits = torch::log(torch::tensor({{0.5f, 0.25f, 0.125f, 0.125f}}));
  SamplingParams p;
  p.top_k = 1;
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(1);
  const Sampled s = SampleTokens(logits, p, g);
  EXPECT_EQ(s.tokens.item<int64_t>(), 0);
  EXPECT_NEAR(s.logprobs.item<float>(), std::log(0.5f), 1e-6);  // not log(1)
  p = SamplingParams();
  p.temperature = 0;
  EXPECT_NEAR(SampleTokens(logits, p, g).logprobs.item<float>(), std::log(0.5f), 1e-6);
}

TEST(Sampler, FrequenciesFollowTheDistribution) {
  const torch::Tensor logits = torch::log(torch::tensor({0.5f, 0.25f, 0.125f, 0.125f})).repeat({20000, 1});
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(7);
  const torch::Tensor counts = SampleTokens(logits, {}, g).tokens.bincount({}, 4).to(torch::kFloat32) / 20000;
  EXPECT_TRUE(torch::allclose(counts, torch::tensor({0.5f, 0.25f, 0.125f, 0.125f}), 0, 0.015)) << counts;
}

// The draft module with a cache, one position at a time as a decoder feeds
// it, gives the MTP logits of one whole-sequence forward pass; so does a
// span of several positions written at once after a prefill.
TEST(Draft, CachedDraftingEqualsTheWholeSequenceMtpLogits) {
  CausalLm model = Build(TinyDeepSeek());
  ASSERT_TRUE(model->CanDraft());
  torch::NoGradGuard no_grad;
  const int64_t length = 10, prefill = 4;
  const torch::Tensor tokens = torch::randint(0, 64, {2, length}, torch::kInt64);
  ForwardOptions whole;
  whole.compute_mtp = true;
  const torch::Tensor expected = model->Forward(tokens, nullptr, whole).mtp_logits.at(0);  // [2, T-1, V]

  KvCache cache = model->NewCache(2, 16, /*with_draft=*/true);
  ForwardOptions options;
  options.absorbed_attention = true;
  torch::Tensor hidden = model->Forward(tokens.narrow(1, 0, prefill), &cache, options).hidden;  // [2, 4, D]
  // Entries 0..2 join h_i with token i+1; h_3 waits for token 4.
  torch::Tensor drafted = model->Draft(hidden.narrow(1, 0, prefill - 1), tokens.narrow(1, 1, prefill - 1), {},
                                       &cache, 0, options).logits;
  EXPECT_TRUE(torch::allclose(drafted, expected.narrow(1, 0, prefill - 1), 1e-4, 1e-4));
  torch::Tensor previous = hidden.narrow(1, prefill - 1, 1);  // [2, 1, D]
  for (int64_t t = prefill; t < length; ++t) {
    const torch::Tensor h = model->Forward(tokens.narrow(1, t, 1), &cache, options).hidden;
    drafted = model->Draft(previous, tokens.narrow(1, t, 1), {}, &cache, t - 1, options).logits;  // [2, 1, V]
    EXPECT_TRUE(torch::allclose(drafted, expected.narrow(1, t - 1, 1), 1e-4, 1e-4)) << "position " << t - 1;
    previous = h;
  }
  // A model without MTP modules cannot draft, and says so.
  EXPECT_FALSE(Build(TinyLlama())->CanDraft());
  EXPECT_THROW(Build(TinyLlama())->NewCache(1, 4, /*with_draft=*/true), c10::Error);
}

// The engine's pattern (rollout/engine.cc, SpeculativeStep): each step feeds
// the last token and a draft; a rejected draft's position is marked invalid
// and the draft module writes its entries at the same two positions. The
// invalid entry is skipped by every later query, in both the main model and
// the draft module, so the drafts stay those of the whole sequence.
TEST(Draft, RejectedPositionsAreInvisibleToLaterDrafts) {
  CausalLm model = Build(TinyDeepSeek());
  torch::NoGradGuard no_grad;
  const torch::Tensor tokens = torch::randint(0, 63, {1, 7}, torch::kInt64);
  ForwardOptions whole;
  whole.compute_mtp = true;
  const torch::Tensor expected = model->Forward(tokens, nullptr, whole).mtp_logits.at(0);  // [1, 6, V]
  ForwardOptions options;
  KvCache cache = model->NewCache(1, 16, /*with_draft=*/true);
  // Prefill t0..t2; token t3 was sampled from its logits: entries 0..2.
  const torch::Tensor h = model->Forward(tokens.narrow(1, 0, 3), &cache, options).hidden;
  model->Draft(h, tokens.narrow(1, 1, 3), {}, &cache, 0, options);
  // Step 1 feeds t3 and a wrong draft (positions 3, 4); the verifier rejects
  // it and draws t4 instead.
  const torch::Tensor wrong = (tokens.narrow(1, 4, 1) + 1) % 64;
  const torch::Tensor step1 = model->Forward(torch::cat({tokens.narrow(1, 3, 1), wrong}, 1), &cache, options).hidden;
  cache.key_valid[0][4] = false;
  cache.next_position -= 1;
  torch::Tensor drafted = model->Draft(step1, torch::cat({tokens.narrow(1, 4, 1), wrong}, 1),
                                       torch::tensor({{true, false}}), &cache, 3, options).logits;
  EXPECT_TRUE(torch::allclose(drafted.narrow(1, 0, 1), expected.narrow(1, 3, 1), 1e-4, 1e-4));
  // Step 2 feeds t4 and a right draft t5 (positions 5, 6, RoPE 4, 5); both
  // kept, and t6 follows.
  const torch::Tensor step2 = model->Forward(tokens.narrow(1, 4, 2), &cache, options).hidden;
  drafted = model->Draft(step2, tokens.narrow(1, 5, 2), {}, &cache, 5, options).logits;
  EXPECT_TRUE(torch::allclose(drafted, expected.narrow(1, 4, 2), 1e-4, 1e-4));
}

// Speculative sampling for one row, as the papers write it: a uniform
// against p/q, else a draw from the residual. VerifyDrafts must give each
// row of a batch exactly this.
struct VerifiedRow {
  int64_t token = 0;
  float logprob = 0;
  bool accepted = false;
};
VerifiedRow VerifyOneDraft(const torch::Tensor& target_logits, const torch::Tensor& draft_probs, int64_t draft,
                           const SamplingParams& params, at::Generator& generator) {
  VerifiedRow out;
  if (params.temperature <= 0) {
    out.token = target_logits.argmax(-1).item<int64_t>();
    out.accepted = out.token == draft;
  } else {
    const torch::Tensor p = SamplingDistribution(target_logits.unsqueeze(0), params).squeeze(0);  // [V]
    const double u = torch::rand({1}, generator, torch::kFloat64).item<double>();
    if (u * draft_probs[draft].item<double>() < p[draft].item<double>()) {
      out.token = draft;
      out.accepted = true;
    } else {
      torch::Tensor residual = (p - draft_probs).clamp_min(0);
      if (residual.sum().item<double>() <= 0) residual = p;
      out.token = torch::multinomial(residual, 1, false, generator).item<int64_t>();
    }
  }
  out.logprob = TokenLogprobs(target_logits, torch::tensor(out.token, torch::kInt64), params.temperature).item<float>();
  return out;
}

// A batch's drafts verified together give each row what verifying it alone
// gives, bit for bit, and leave each generator where that leaves it; the
// draft distributions and draws made for a batch equal those made per row.
// Drafts are both kept and rejected (row 0's drafter is the target itself,
// so its drafts are always kept), under every truncation and greedy.
TEST(Sampler, DraftsVerifiedTogetherEqualDraftsVerifiedAlone) {
  torch::manual_seed(5);
  int kept = 0, rejected = 0;
  for (const SamplingParams& params : EverySamplingSetting()) {
    for (int64_t rows : {1, 3, 16}) {
      const torch::Tensor target = torch::randn({rows, 50}) * 3;
      // Drafter logits near the target's, and for row 0 the target's own.
      torch::Tensor drafter = target + torch::randn({rows, 50});
      drafter[0].copy_(target[0]);
      for (int round = 0; round < 4; ++round) {
        std::vector<at::Generator> alone, together;
        for (int64_t b = 0; b < rows; ++b) {
          alone.push_back(at::make_generator<at::CPUGeneratorImpl>(1000 * round + b));
          together.push_back(at::make_generator<at::CPUGeneratorImpl>(1000 * round + b));
        }
        std::vector<at::Generator*> pointers;
        for (at::Generator& g : together) pointers.push_back(&g);
        // The drafts, drawn together and alone.
        torch::Tensor q, drafts;
        if (params.temperature > 0) {
          q = SamplingDistribution(drafter, params);  // [rows, V]
          drafts = DrawRows(q, pointers);
        } else {
          drafts = drafter.argmax(-1);
        }
        const VerifiedRows batched = VerifyDrafts(target, q, drafts, params, pointers);
        for (int64_t b = 0; b < rows; ++b) {
          at::Generator& g = alone[static_cast<size_t>(b)];
          int64_t draft = drafter[b].argmax().item<int64_t>();
          torch::Tensor q_alone;
          if (params.temperature > 0) {
            q_alone = SamplingDistribution(drafter[b].unsqueeze(0), params).squeeze(0);  // [V]
            ASSERT_TRUE(torch::equal(q_alone, q[b])) << rows << " " << b;
            draft = torch::multinomial(q_alone, 1, false, g).item<int64_t>();
          }
          ASSERT_EQ(drafts[b].item<int64_t>(), draft) << rows << " " << b;
          const VerifiedRow single = VerifyOneDraft(target[b], q_alone, draft, params, g);
          EXPECT_EQ(batched.tokens[b].item<int64_t>(), single.token) << rows << " " << b;
          EXPECT_EQ(batched.logprobs[b].item<float>(), single.logprob) << rows << " " << b;
          EXPECT_EQ(batched.accepted[b].item<bool>(), single.accepted) << rows << " " << b;
          (single.accepted ? kept : rejected) += 1;
          EXPECT_EQ(torch::rand({1}, g).item<float>(), torch::rand({1}, together[static_cast<size_t>(b)]).item<float>());
        }
      }
    }
  }
  EXPECT_GT(kept, 50);
  EXPECT_GT(rejected, 50);
}

// Whatever the draft distribution, the verified token follows the target's:
// 40,000 draws for each of three drafts (one close to the target, one far,
// one on tokens the target truncates away) stay within 0.015 of it per token
// (4 standard errors at p = 0.5). Greedy keeps the draft only at the argmax.
TEST(Sampler, VerifiedDraftsFollowTheTargetDistribution) {
  const torch::Tensor target = torch::log(torch::tensor({0.4f, 0.3f, 0.2f, 0.05f, 0.05f}));
  SamplingParams params;
  params.top_k = 3;  // p = (4/9, 3/9, 2/9, 0, 0)
  const torch::Tensor p = SamplingDistribution(target.unsqueeze(0), params).squeeze(0);
  const std::vector<torch::Tensor> drafts = {torch::tensor({0.3f, 0.3f, 0.3f, 0.05f, 0.05f}),
                                             torch::tensor({0.05f, 0.05f, 0.1f, 0.4f, 0.4f}),
                                             torch::tensor({0.0f, 0.0f, 0.0f, 0.5f, 0.5f})};
  const int draws = 40000;
  // One generator per row, as the engine gives each sample its own.
  std::vector<at::Generator> generators;
  std::vector<at::Generator*> pointers;
  for (int i = 0; i < draws; ++i) generators.push_back(at::make_generator<at::CPUGeneratorImpl>(11 + i));
  for (at::Generator& g : generators) pointers.push_back(&g);
  for (size_t d = 0; d < drafts.size(); ++d) {
    const torch::Tensor q = drafts[d].repeat({draws, 1});  // [draws, V]
    const VerifiedRows v = VerifyDrafts(target.repeat({draws, 1}), q, DrawRows(q, pointers), params, pointers);
    const torch::Tensor counts = torch::bincount(v.tokens, {}, 5).to(torch::kFloat64) / draws;
    for (int t = 0; t < 5; ++t) EXPECT_NEAR(counts[t].item<double>(), p[t].item<double>(), 0.015) << "draft " << d << " token " << t;
    EXPECT_TRUE(torch::allclose(v.logprobs, target.index_select(0, v.tokens), 1e-5, 1e-5));
    // Acceptance rate = sum min(p, q): 0.878 for the close draft, 0.2 and 0 for the others.
    const double expected_rate = torch::minimum(p, drafts[d]).sum().item<double>();
    EXPECT_NEAR(v.accepted.to(torch::kFloat64).mean().item<double>(), expected_rate, 0.015) << "draft " << d;
  }
  SamplingParams greedy;
  greedy.temperature = 0;
  const VerifiedRows g = VerifyDrafts(target.repeat({2, 1}), {}, torch::tensor({0, 2}), greedy, {pointers[0], pointers[1]});
  EXPECT_TRUE(g.accepted[0].item<bool>());
  EXPECT_FALSE(g.accepted[1].item<bool>());
  EXPECT_EQ(g.tokens[1].item<int64_t>(), 0);
  EXPECT_NEAR(g.logprobs[1].item<float>(), std::log(0.4f), 1e-6);
}

}  // namespace
}  // namespace r1::model
