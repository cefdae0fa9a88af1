#include "rollout/engine.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <mutex>

#include <gmock/gmock.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/chat_template.h"
#include "common/test_support.h"

namespace r1::rollout {
namespace {

class EngineTest : public ::testing::TestWithParam<config::ModelArch> {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / absl::StrCat("r1_engine_test_", getpid());
    std::filesystem::create_directories(dir_);
    absl::StatusOr<std::string> path = testing::TrainTinyTokenizer(dir_.string(), 40);
    ASSERT_TRUE(path.ok()) << path.status();
    tokenizer_ = new Tokenizer(*Tokenizer::Load(*path));
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    std::filesystem::remove_all(dir_);
  }

  model::CausalLm NewModel(uint64_t seed = 1) {
    torch::manual_seed(seed);
    absl::StatusOr<model::CausalLm> model =
        model::MakeModel(testing::SmallModelConfig(GetParam(), tokenizer_->vocab_size()));
    EXPECT_TRUE(model.ok()) << model.status();
    // A random model's next-token distribution is nearly flat, so greedy
    // picks could flip on rounding differences between batch shapes; sharper
    // logits make the comparisons about the engine, not about ties.
    torch::NoGradGuard no_grad;
    for (auto& [name, tensor] : model::NamedTensors(**model)) {
      if (name == "lm_head.weight") tensor.mul_(30.0);
    }
    return *model;
  }

  // The reference for a job of `n` samples per prompt: each sample as a row
  // of one model::Generate batch (seed 11), in (prompt, sample) order.
  std::vector<model::Completion> Reference(model::CausalLmImpl& model, const std::vector<std::vector<int>>& prompts,
                                           int n, int max_new_tokens, double temperature) const {
    std::vector<std::vector<int>> rows;
    for (const auto& p : prompts) rows.insert(rows.end(), n, p);
    model::GenerationParams params;
    params.max_new_tokens = max_new_tokens;
    params.sampling.temperature = temperature;
    params.seed = 11;
    return model::Generate(model, *tokenizer_, rows, params);
  }

  // Prompts of different lengths, so rows join at different offsets.
  std::vector<std::vector<int>> Prompts() const {
    std::vector<std::vector<int>> prompts;
    for (const char* text : {"What is 1 + 2?", "What is 10 + 20 - 3?", "What is 7?"}) {
      prompts.push_back(*EncodePrompt(*tokenizer_, text));
    }
    return prompts;
  }

  // Runs a job to the end and returns its samples by (prompt, sample). The
  // job's failure goes to `error`; without one, a failure fails the test.
  // `also` (if set) runs on the engine thread after each sample.
  std::map<std::pair<int, int>, SampleResult> RunJob(Engine& engine, std::shared_ptr<GenerationJob> job,
                                                     absl::Status* error = nullptr,
                                                     std::function<void(const SampleResult&)> also = nullptr) {
    std::map<std::pair<int, int>, SampleResult> results;
    std::mutex mu;
    std::promise<void> done;
    absl::Status failure;
    job->on_sample = [&](SampleResult r) {
      if (also) also(r);
      std::lock_guard<std::mutex> lock(mu);
      results[{r.prompt_index, r.sample_index}] = std::move(r);
    };
    job->on_error = [&](const absl::Status& status) { failure = status; };  // before on_done
    job->on_done = [&] { done.set_value(); };
    const absl::Status submitted = engine.Submit(job);
    EXPECT_TRUE(submitted.ok()) << submitted;
    if (!submitted.ok()) return results;
    done.get_future().wait();
    if (error != nullptr) {
      *error = failure;
    } else {
      EXPECT_TRUE(failure.ok()) << failure;
    }
    return results;
  }

  // The model's tensor `name` (sharing storage with the model).
  static torch::Tensor Named(const model::CausalLmImpl& model, const std::string& name) {
    for (const auto& [n, t] : model::NamedTensors(model)) {
      if (n == name) return t;
    }
    ADD_FAILURE() << "no tensor " << name;
    return torch::Tensor();
  }

  static std::shared_ptr<GenerationJob> Job(std::vector<std::vector<int>> prompts, int n, int max_new_tokens,
                                            double temperature) {
    auto job = std::make_shared<GenerationJob>();
    job->prompts = std::move(prompts);
    job->samples_per_prompt = n;
    job->params.max_new_tokens = max_new_tokens;
    job->params.sampling.temperature = temperature;
    job->params.seed = 11;
    return job;
  }

  static inline std::filesystem::path dir_;
  static inline Tokenizer* tokenizer_ = nullptr;
};

TEST_P(EngineTest, MatchesTheInProcessGeneratorWithFewSlotsAndCompaction) {
  model::CausalLm model = NewModel();
  const std::vector<std::vector<int>> prompts = Prompts();
  const int n = 3;
  int64_t compactions = 0;
  for (double temperature : {0.0, 1.0}) {
    const std::vector<model::Completion> expected = Reference(*model, prompts, n, 24, temperature);

    // 2 slots for 9 samples: rows join as others finish. A 7-token job
    // queued first shares the first step, so from then on the rows end 7
    // steps apart: the slots are never all empty (which would start the
    // position axis over) and the 128-position axis fills and compacts.
    EngineOptions options;
    options.kv_slots = 2;
    Engine engine(model, *tokenizer_, options, /*weight_version=*/1);
    std::shared_ptr<GenerationJob> offset = Job({prompts[1]}, 1, 7, temperature);
    std::vector<model::Completion> offset_got;
    std::promise<void> offset_done;
    offset->on_sample = [&](SampleResult r) { offset_got.push_back(r.completion); };
    offset->on_done = [&] { offset_done.set_value(); };
    ASSERT_TRUE(engine.Submit(offset).ok());
    auto results = RunJob(engine, Job(prompts, n, 24, temperature));
    offset_done.get_future().wait();
    const std::vector<model::Completion> offset_want = Reference(*model, {prompts[1]}, 1, 7, temperature);
    ASSERT_EQ(offset_got.size(), 1u);
    EXPECT_EQ(offset_got[0].tokens, offset_want[0].tokens);
    ASSERT_EQ(results.size(), expected.size());
    for (int p = 0; p < static_cast<int>(prompts.size()); ++p) {
      for (int k = 0; k < n; ++k) {
        const SampleResult& got = results.at({p, k});
        const model::Completion& want = expected[static_cast<size_t>(p * n + k)];
        EXPECT_EQ(got.completion.tokens, want.tokens) << "T=" << temperature << " prompt " << p << " sample " << k;
        ASSERT_EQ(got.completion.logprobs.size(), want.logprobs.size());
        for (size_t t = 0; t < want.logprobs.size(); ++t) EXPECT_NEAR(got.completion.logprobs[t], want.logprobs[t], 1e-4);
        EXPECT_EQ(got.completion.finish_reason, want.finish_reason);
        EXPECT_EQ(got.weight_version, 1);
        EXPECT_FALSE(got.cancelled);
      }
    }
    const EngineStats stats = engine.stats();
    compactions += stats.compactions;
    // The samples of one prompt share its prefill unless a weight change or
    // a long wait separates them: never more than one per sample.
    EXPECT_LE(stats.prefills, static_cast<int64_t>(expected.size()) + 1);
  }
  EXPECT_GT(compactions, 0);  // the comparison covered rows moved by compaction
}

// Samples joining together whose prompts have no prefill yet share one
// forward: prompts of three lengths, left-padded to the longest, on the
// same positions of the axis. Each sample is what the in-process generator
// gives it, greedy and sampled.
TEST_P(EngineTest, PromptsPrefilledTogetherMatchTheInProcessGenerator) {
  model::CausalLm model = NewModel();
  const std::vector<std::vector<int>> prompts = Prompts();
  ASSERT_NE(prompts[0].size(), prompts[1].size());
  ASSERT_NE(prompts[1].size(), prompts[2].size());
  const int n = 2;
  for (double temperature : {0.0, 1.0}) {
    const std::vector<model::Completion> expected = Reference(*model, prompts, n, 20, temperature);

    EngineOptions options;
    options.kv_slots = 8;  // every sample joins in the first pass
    Engine engine(model, *tokenizer_, options, /*weight_version=*/1);
    auto results = RunJob(engine, Job(prompts, n, 20, temperature));
    ASSERT_EQ(results.size(), expected.size());
    for (int p = 0; p < static_cast<int>(prompts.size()); ++p) {
      for (int k = 0; k < n; ++k) {
        const model::Completion& got = results.at({p, k}).completion;
        const model::Completion& want = expected[static_cast<size_t>(p * n + k)];
        EXPECT_EQ(got.tokens, want.tokens) << "T=" << temperature << " prompt " << p << " sample " << k;
        ASSERT_EQ(got.logprobs.size(), want.logprobs.size());
        for (size_t t = 0; t < want.logprobs.size(); ++t) EXPECT_NEAR(got.logprobs[t], want.logprobs[t], 1e-4);
      }
    }
    EXPECT_EQ(engine.stats().prefills, 3);
    EXPECT_EQ(engine.stats().prefill_forwards, 1);
  }
  // A prefill budget of two of the longest prompt's tokens: the first two
  // prompts share a forward, the third is prefilled alone; results as before.
  const int64_t longest = static_cast<int64_t>(std::max({prompts[0].size(), prompts[1].size(), prompts[2].size()}));
  EngineOptions options;
  options.kv_slots = 8;
  options.max_prefill_tokens = 2 * longest;
  Engine engine(model, *tokenizer_, options, /*weight_version=*/1);
  const std::vector<model::Completion> expected = Reference(*model, prompts, n, 20, 0.0);
  auto results = RunJob(engine, Job(prompts, n, 20, 0.0));
  ASSERT_EQ(results.size(), expected.size());
  for (int p = 0; p < static_cast<int>(prompts.size()); ++p) {
    for (int k = 0; k < n; ++k) {
      EXPECT_EQ(results.at({p, k}).completion.tokens, expected[static_cast<size_t>(p * n + k)].tokens) << p << " " << k;
    }
  }
  EXPECT_EQ(engine.stats().prefills, 3);
  EXPECT_EQ(engine.stats().prefill_forwards, 2);
}

TEST_P(EngineTest, SamplesOfAPromptShareOnePrefill) {
  model::CausalLm model = NewModel();
  EngineOptions options;
  options.kv_slots = 8;
  Engine engine(model, *tokenizer_, options, 1);
  auto results = RunJob(engine, Job(Prompts(), 8, 6, 1.0));
  EXPECT_EQ(results.size(), 24u);
  EXPECT_EQ(engine.stats().prefills, 3);  // one per prompt, not one per sample
  // Different samples of one prompt differ (their own random streams).
  bool differ = false;
  for (int k = 1; k < 8; ++k) differ |= results.at({0, k}).completion.tokens != results.at({0, 0}).completion.tokens;
  EXPECT_TRUE(differ);
}

TEST_P(EngineTest, WeightUpdateWaitsForSequencesInFlightThenServes) {
  model::CausalLm model = NewModel(1);
  EngineOptions options;
  options.kv_slots = 4;
  Engine engine(model, *tokenizer_, options, 1);
  // New weights: another model's, by name.
  std::map<std::string, torch::Tensor> other;
  for (const auto& [name, tensor] : model::NamedTensors(*NewModel(2))) other[name] = tensor.clone();

  auto before = Job(Prompts(), 2, 40, 1.0);
  std::map<std::pair<int, int>, SampleResult> first;
  std::promise<void> first_done;
  before->on_sample = [&](SampleResult r) { first[{r.prompt_index, r.sample_index}] = std::move(r); };
  before->on_done = [&] { first_done.set_value(); };
  ASSERT_TRUE(engine.Submit(before).ok());
  ASSERT_TRUE(engine.UpdateWeights(other, 2).ok());
  EXPECT_EQ(engine.weight_version(), 2);
  first_done.get_future().wait();
  // Every sample of the first job ran wholly on one version (here: the one
  // it started with; samples that had not started by the swap used the new).
  for (const auto& [key, r] : first) EXPECT_TRUE(r.weight_version == 1 || r.weight_version == 2);

  auto after = RunJob(engine, Job(Prompts(), 1, 12, 0.0));
  for (const auto& [key, r] : after) EXPECT_EQ(r.weight_version, 2);
  // The new weights are in use: greedy output equals the other model's.
  model::GenerationParams params;
  params.max_new_tokens = 12;
  params.sampling.temperature = 0;
  const auto reference = model::Generate(*NewModel(2), *tokenizer_, Prompts(), params);
  for (int p = 0; p < 3; ++p) EXPECT_EQ(after.at({p, 0}).completion.tokens, reference[static_cast<size_t>(p)].tokens);

  // An older or equal version is refused and the weights stay.
  EXPECT_TRUE(absl::IsFailedPrecondition(engine.UpdateWeights(other, 2)));
  std::map<std::string, torch::Tensor> wrong = other;
  wrong.begin()->second = torch::zeros({3});
  EXPECT_TRUE(absl::IsInvalidArgument(engine.UpdateWeights(wrong, 3)));
  EXPECT_EQ(engine.weight_version(), 2);
}

TEST_P(EngineTest, RestartPolicyRerunsSequencesInFlightOnTheNewWeights) {
  model::CausalLm model = NewModel(1);
  EngineOptions options;
  options.kv_slots = 2;
  options.restart_on_update = true;
  Engine engine(model, *tokenizer_, options, 1);
  std::map<std::string, torch::Tensor> other;
  for (const auto& [name, tensor] : model::NamedTensors(*NewModel(2))) other[name] = tensor.clone();
  auto job = Job(Prompts(), 4, 40, 1.0);
  std::map<std::pair<int, int>, SampleResult> results;
  std::promise<void> done;
  job->on_sample = [&](SampleResult r) { results[{r.prompt_index, r.sample_index}] = std::move(r); };
  job->on_done = [&] { done.set_value(); };
  ASSERT_TRUE(engine.Submit(job).ok());
  ASSERT_TRUE(engine.UpdateWeights(other, 5).ok());
  done.get_future().wait();
  ASSERT_EQ(results.size(), 12u);  // none lost, none twice
  int on_new = 0;
  for (const auto& [key, r] : results) on_new += r.weight_version == 5;
  EXPECT_GT(on_new, 0);
}

TEST_P(EngineTest, CancelledJobsEndAndBadJobsAreRefused) {
  model::CausalLm model = NewModel();
  EngineOptions options;
  options.kv_slots = 2;
  options.max_queued_samples = 10;
  Engine engine(model, *tokenizer_, options, 1);
  auto job = Job(Prompts(), 3, 60, 1.0);
  job->cancelled->store(true);
  auto results = RunJob(engine, job);
  ASSERT_EQ(results.size(), 9u);
  for (const auto& [key, r] : results) EXPECT_TRUE(r.cancelled);

  EXPECT_TRUE(absl::IsResourceExhausted(engine.Submit(Job(Prompts(), 4, 8, 1.0))));  // 12 > 10
  EXPECT_TRUE(absl::IsInvalidArgument(engine.Submit(Job({{}}, 1, 8, 1.0))));
  EXPECT_TRUE(absl::IsInvalidArgument(engine.Submit(Job({std::vector<int>(64, 5)}, 1, 8, 1.0))));
  EXPECT_TRUE(absl::IsInvalidArgument(engine.Submit(Job({{1, 9999}}, 1, 8, 1.0))));
  EXPECT_TRUE(absl::IsInvalidArgument(engine.Submit(Job(Prompts(), 0, 8, 1.0))));
}

TEST_P(EngineTest, BadSamplingParametersAreRefused) {
  model::CausalLm model = NewModel();
  EngineOptions options;
  options.kv_slots = 2;
  options.max_new_tokens = 16;
  Engine engine(model, *tokenizer_, options, 1);
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  for (double t : {1e-40, kMinTemperature / 2, nan, inf, -1.0}) {
    EXPECT_TRUE(absl::IsInvalidArgument(engine.Submit(Job(Prompts(), 1, 8, t)))) << t;
  }
  const auto submit = [&](const std::function<void(model::GenerationParams&)>& set) {
    auto job = Job(Prompts(), 1, 8, 1.0);
    set(job->params);
    return engine.Submit(job);
  };
  for (double p : {nan, inf, 0.0, -0.1, 1.5}) {
    EXPECT_TRUE(absl::IsInvalidArgument(submit([&](auto& g) { g.sampling.top_p = p; }))) << "top_p " << p;
  }
  for (double p : {nan, inf, 1.0, -0.1}) {
    EXPECT_TRUE(absl::IsInvalidArgument(submit([&](auto& g) { g.sampling.min_p = p; }))) << "min_p " << p;
  }
  EXPECT_TRUE(absl::IsInvalidArgument(submit([](auto& g) { g.sampling.top_k = -1; })));
  EXPECT_TRUE(absl::IsInvalidArgument(submit([](auto& g) { g.max_new_tokens = 0; })));
  EXPECT_TRUE(absl::IsInvalidArgument(submit([](auto& g) { g.max_new_tokens = 17; })));  // over the engine's 16
  EXPECT_TRUE(absl::IsInvalidArgument(submit([](auto& g) { g.stop.assign(65, "x"); })));
  EXPECT_EQ(engine.stats().queued, 0);
  // Greedy, the floor and the limit are fine.
  EXPECT_EQ(RunJob(engine, Job(Prompts(), 1, 16, kMinTemperature)).size(), 3u);
  EXPECT_EQ(RunJob(engine, Job(Prompts(), 1, 4, 0.0)).size(), 3u);
}

TEST_P(EngineTest, NonFiniteLogitsFailTheJobAndTheEngineServesOn) {
  model::CausalLm model = NewModel(1);
  {
    torch::NoGradGuard no_grad;
    Named(*model, "lm_head.weight").select(0, 5).fill_(std::numeric_limits<float>::quiet_NaN());
  }
  EngineOptions options;
  options.kv_slots = 2;
  Engine engine(model, *tokenizer_, options, 1);
  for (double temperature : {1.0, 0.0}) {  // the sampler would throw; argmax would return garbage
    absl::Status error;
    auto results = RunJob(engine, Job(Prompts(), 2, 8, temperature), &error);
    EXPECT_TRUE(absl::IsInternal(error)) << error;
    EXPECT_THAT(std::string(error.message()), ::testing::HasSubstr("non-finite logits"));
    ASSERT_EQ(results.size(), 6u);  // every sample reported, none lost
    for (const auto& [key, r] : results) EXPECT_TRUE(r.cancelled);
  }
  // Good weights arrive and serve.
  std::map<std::string, torch::Tensor> good;
  for (const auto& [name, tensor] : model::NamedTensors(*NewModel(2))) good[name] = tensor.clone();
  ASSERT_TRUE(engine.UpdateWeights(good, 2).ok());
  auto after = RunJob(engine, Job(Prompts(), 1, 12, 0.0));
  model::GenerationParams params;
  params.max_new_tokens = 12;
  params.sampling.temperature = 0;
  const auto reference = model::Generate(*NewModel(2), *tokenizer_, Prompts(), params);
  for (int p = 0; p < 3; ++p) EXPECT_EQ(after.at({p, 0}).completion.tokens, reference[static_cast<size_t>(p)].tokens);
}

TEST_P(EngineTest, ALibTorchErrorFailsTheJobsInFlightAndTheEngineServesOn) {
  model::CausalLm model = NewModel(1);
  EngineOptions options;
  options.kv_slots = 2;
  Engine engine(model, *tokenizer_, options, 1);
  // Exclusive work that throws answers INTERNAL with LibTorch's message.
  const absl::Status thrown =
      engine.RunExclusive([](model::CausalLmImpl&, int64_t) { TORCH_CHECK(false, "a bad teacher call"); });
  EXPECT_TRUE(absl::IsInternal(thrown)) << thrown;
  EXPECT_THAT(std::string(thrown.message()), ::testing::HasSubstr("a bad teacher call"));

  // When the first sample ends, the output layer gets a wrong shape (on the
  // engine thread, between steps): the next forward pass throws while other
  // samples are in slots or joining.
  torch::Tensor head = Named(*model, "lm_head.weight");
  const torch::Tensor saved = head.detach().clone();
  bool broken = false;
  absl::Status error;
  auto results = RunJob(engine, Job(Prompts(), 2, 8, 1.0), &error, [&](const SampleResult&) {
    if (broken) return;
    broken = true;
    head.set_data(torch::zeros({1, 1}));
  });
  EXPECT_TRUE(absl::IsInternal(error)) << error;
  EXPECT_THAT(std::string(error.message()), ::testing::HasSubstr("the rollout engine failed"));
  ASSERT_EQ(results.size(), 6u);
  int cancelled = 0;
  for (const auto& [key, r] : results) cancelled += r.cancelled;
  EXPECT_GE(cancelled, 1);

  // Repaired, the engine serves as before: the same greedy tokens as a fresh model.
  ASSERT_TRUE(engine.RunExclusive([&](model::CausalLmImpl&, int64_t) { head.set_data(saved); }).ok());
  auto after = RunJob(engine, Job(Prompts(), 1, 12, 0.0));
  model::GenerationParams params;
  params.max_new_tokens = 12;
  params.sampling.temperature = 0;
  const auto reference = model::Generate(*NewModel(1), *tokenizer_, Prompts(), params);
  for (int p = 0; p < 3; ++p) EXPECT_EQ(after.at({p, 0}).completion.tokens, reference[static_cast<size_t>(p)].tokens);
}

TEST_P(EngineTest, AVersionJumpBeyondTheBoundIsRefused) {
  model::CausalLm model = NewModel(1);
  EngineOptions options;
  options.kv_slots = 2;
  options.max_version_step = 10;
  Engine engine(model, *tokenizer_, options, 1);
  std::map<std::string, torch::Tensor> other;
  for (const auto& [name, tensor] : model::NamedTensors(*NewModel(2))) other[name] = tensor.clone();
  EXPECT_TRUE(absl::IsInvalidArgument(engine.UpdateWeights(other, 12)));
  EXPECT_TRUE(absl::IsInvalidArgument(engine.UpdateWeights(other, std::numeric_limits<int64_t>::max())));
  EXPECT_TRUE(absl::IsFailedPrecondition(engine.UpdateWeights(other, 1)));
  EXPECT_EQ(engine.weight_version(), 1);
  EXPECT_TRUE(engine.UpdateWeights(other, 11).ok());
  EXPECT_EQ(engine.weight_version(), 11);
}

// Jobs one after another, each pair of rows ending together: the engine is
// idle between them and the position axis starts over, so nothing ever
// compacts (without that the axis grew by each job's length and compacted
// whenever it filled, each job attending over the stale positions).
TEST_P(EngineTest, AnIdleEngineStartsThePositionAxisOver) {
  model::CausalLm model = NewModel(1);
  EngineOptions options;
  options.kv_slots = 2;
  Engine engine(model, *tokenizer_, options, 1);
  const std::vector<std::vector<int>> prompt = {Prompts()[0]};
  const auto first = RunJob(engine, Job(prompt, 2, 24, 0.0));
  // Positions one job takes on the axis: its prompt, then a step per token.
  const int64_t per_job = static_cast<int64_t>(prompt[0].size() + first.at({0, 0}).completion.tokens.size());
  const int64_t axis = 2 * model->config().max_seq_len();  // the engine's position capacity
  int64_t used = per_job;
  for (int job = 1; used <= 2 * axis; ++job, used += per_job) {
    const auto again = RunJob(engine, Job(prompt, 2, 24, 0.0));
    for (int k = 0; k < 2; ++k) {
      ASSERT_EQ(again.at({0, k}).completion.tokens, first.at({0, k}).completion.tokens) << "job " << job;
    }
  }
  EXPECT_EQ(engine.stats().compactions, 0);
}

INSTANTIATE_TEST_SUITE_P(Layouts, EngineTest, ::testing::Values(config::DEEPSEEK_V3, config::LLAMA),
                         [](const auto& info) { return info.param == config::DEEPSEEK_V3 ? "DeepSeekV3" : "Llama"; });

// MTP speculative decoding: only the DeepSeek-V3 layout has a draft module.
class SpeculationTest : public EngineTest {
 protected:
  // A random draft module guesses no better than chance. This one is the
  // model's own bigram head: its block adds nothing (output projections 0)
  // and eh_proj passes the token embedding through, so it drafts
  // lm_head(norm(embed(token))), which agrees with the model often but not
  // always: both the kept and the rejected paths run.
  static void MakeTheDraftABigramGuesser(model::CausalLmImpl& model) {
    torch::NoGradGuard no_grad;
    const std::string prefix = absl::StrCat("model.layers.", model.config().n_layers(), ".");
    for (auto& [name, tensor] : model::NamedTensors(model)) {
      if (name.rfind(prefix, 0) != 0) continue;
      if (absl::EndsWith(name, "o_proj.weight") || absl::EndsWith(name, "down_proj.weight")) tensor.zero_();
      if (name == prefix + "eh_proj.weight") {  // [D, 2D]: (embedding, hidden) -> embedding
        const int64_t dim = tensor.size(0);
        tensor.zero_();
        tensor.narrow(1, 0, dim).copy_(torch::eye(dim, tensor.options()));
      }
    }
  }
};

TEST_P(SpeculationTest, GreedyOutputIsTheSameWithFewSlotsAndCompaction) {
  model::CausalLm model = NewModel();
  MakeTheDraftABigramGuesser(*model);
  const std::vector<std::vector<int>> prompts = Prompts();
  const int n = 3;
  const std::vector<model::Completion> expected = Reference(*model, prompts, n, 24, 0.0);

  EngineOptions options;
  options.kv_slots = 2;
  options.speculative = true;
  Engine engine(model, *tokenizer_, options, /*weight_version=*/1);
  // As in the test without speculation: a short job first keeps the slots
  // from emptying together, so the axis fills and compacts.
  std::shared_ptr<GenerationJob> offset = Job({prompts[1]}, 1, 7, 0.0);
  std::promise<void> offset_done;
  offset->on_done = [&] { offset_done.set_value(); };
  ASSERT_TRUE(engine.Submit(offset).ok());
  auto results = RunJob(engine, Job(prompts, n, 24, 0.0));
  offset_done.get_future().wait();
  ASSERT_EQ(results.size(), expected.size());
  for (int p = 0; p < static_cast<int>(prompts.size()); ++p) {
    for (int k = 0; k < n; ++k) {
      const model::Completion& got = results.at({p, k}).completion;
      const model::Completion& want = expected[static_cast<size_t>(p * n + k)];
      EXPECT_EQ(got.tokens, want.tokens) << "prompt " << p << " sample " << k;
      ASSERT_EQ(got.logprobs.size(), want.logprobs.size());
      for (size_t t = 0; t < want.logprobs.size(); ++t) EXPECT_NEAR(got.logprobs[t], want.logprobs[t], 1e-4);
      EXPECT_EQ(got.finish_reason, want.finish_reason);
      EXPECT_EQ(got.text, want.text);
    }
  }
  const EngineStats stats = engine.stats();
  EXPECT_GT(stats.accepted, 0);
  EXPECT_LT(stats.accepted, stats.drafted);
  EXPECT_GT(stats.compactions, 0);
}

// At temperature 1 with top-k 3, 3,000 samples of two tokens: the second
// token is a verified draft or a redraw. The frequency of each (first,
// second) pair stays within 0.03 (about 4 standard errors at p = 0.1) of the
// model's exact probability p(first) p(second | first), computed here by
// full forward passes; logprobs are the model's.
TEST_P(SpeculationTest, SampledPairsFollowTheModelsDistribution) {
  torch::manual_seed(3);
  absl::StatusOr<model::CausalLm> made =
      model::MakeModel(testing::SmallModelConfig(GetParam(), tokenizer_->vocab_size()));
  ASSERT_TRUE(made.ok()) << made.status();
  model::CausalLm model = *made;
  {
    torch::NoGradGuard no_grad;
    for (auto& [name, tensor] : model::NamedTensors(*model)) {
      if (name == "lm_head.weight") tensor.mul_(4.0);  // away from uniform, far from one-hot
    }
  }
  MakeTheDraftABigramGuesser(*model);
  const std::vector<int> prompt = Prompts()[0];
  const int samples = 3000;
  EngineOptions options;
  options.speculative = true;
  Engine engine(model, *tokenizer_, options, 1);
  std::shared_ptr<GenerationJob> job = Job({prompt}, samples, 2, 1.0);
  job->params.sampling.top_k = 3;
  const auto results = RunJob(engine, job);
  ASSERT_EQ(static_cast<int>(results.size()), samples);

  torch::NoGradGuard no_grad;
  // The model's next-token logits [V] after `tokens`.
  auto next_logits = [&](std::vector<int> tokens) {
    const torch::Tensor t = torch::tensor(std::vector<int64_t>(tokens.begin(), tokens.end()), torch::kInt64);
    return model->Forward(t.unsqueeze(0), nullptr, {}).logits[0][-1];
  };
  const torch::Tensor first_logits = next_logits(prompt);
  const torch::Tensor first_p =
      model::SamplingDistribution(first_logits.unsqueeze(0), job->params.sampling).squeeze(0);  // [V]
  std::map<int, torch::Tensor> second_logits;
  std::map<std::pair<int, int>, int> counts;
  for (const auto& [key, r] : results) {
    ASSERT_EQ(r.completion.tokens.size(), 2u);
    const int a = r.completion.tokens[0], b = r.completion.tokens[1];
    ++counts[{a, b}];
    if (!second_logits.count(a)) {
      std::vector<int> extended = prompt;
      extended.push_back(a);
      second_logits[a] = next_logits(extended);
    }
    EXPECT_NEAR(r.completion.logprobs[1], torch::log_softmax(second_logits[a], -1)[b].item<float>(), 1e-4);
  }
  double covered = 0;
  for (const auto& [a, logits] : second_logits) {
    const torch::Tensor second_p = model::SamplingDistribution(logits.unsqueeze(0), job->params.sampling).squeeze(0);
    for (int b = 0; b < second_p.size(0); ++b) {
      const double want = first_p[a].item<double>() * second_p[b].item<double>();
      const auto it = counts.find({a, b});
      const double got = it == counts.end() ? 0.0 : static_cast<double>(it->second) / samples;
      EXPECT_NEAR(got, want, 0.03) << "pair (" << a << ", " << b << ")";
      covered += want;
    }
  }
  EXPECT_GT(covered, 0.99);  // every likely first token was drawn
  const EngineStats stats = engine.stats();
  // One verification per sample (none when the first token ends it).
  EXPECT_LE(stats.drafted, samples);
  EXPECT_GT(stats.drafted, samples / 2);
  EXPECT_GT(stats.accepted, stats.drafted / 10);
  EXPECT_LT(stats.accepted, stats.drafted - stats.drafted / 10);
}

INSTANTIATE_TEST_SUITE_P(Policy, SpeculationTest, ::testing::Values(config::DEEPSEEK_V3),
                         [](const auto&) { return "DeepSeekV3"; });

}  // namespace
}  // namespace r1::rollout
