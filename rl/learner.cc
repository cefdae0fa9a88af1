#include "rl/learner.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <numeric>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/chat_template.h"
#include "common/config.h"
#include "common/file_util.h"
#include "common/metrics.h"
#include "common/progress.h"
#include "common/random.h"
#include "common/status.h"
#include "common/tensorboard.h"
#include "common/tokenizer.h"
#include "model/checkpoint.h"
#include "model/optimizer.h"
#include "model/sampler.h"
#include "reward/client.h"
#include "rl/distributed.h"
#include "rl/grpo_loss.h"
#include "rl/prompts.h"
#include "rollout/pool.h"
#include "tasks/task.h"

namespace r1::rl {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// How often items the reward service could not score are sent again.
constexpr int kRewardRetries = 2;

// Eval samples draw from streams of their own, the same at every eval, so
// two evals differ by the policy only (common random numbers).
constexpr uint64_t kEvalStream = 0xE7A1;

// One prompt with its G completions and their scores.
struct Group {
  int64_t prompt_index = 0;  // position in the (global) prompt stream: its random stream
  data::PromptRecord record;
  std::vector<int> prompt_tokens;
  std::vector<rollout::Completion> completions;  // sample order
  std::vector<reward::ScoreResult> scores;       // same order
};

struct RolloutBatch {
  std::vector<Group> groups;
  int64_t cursor_after = 0;    // this rank's prompt cursor after the batch
  int draws = 0;               // generation rounds (1 + dynamic sampling's extra draws)
  int64_t prompts_drawn = 0;
  int64_t uniform_groups = 0;  // dropped by dynamic sampling: all rewards equal
  int64_t reward_errors = 0;   // items the reward service could not score, after retries
  int64_t error_groups = 0;    // groups dropped for one of those (never trained on as reward 0)
  int64_t generated_tokens = 0;
  int64_t sampled = 0;          // completions generated, kept or not
  int64_t sampled_correct = 0;  // of those, correct (before dynamic sampling's filter)
  double rollout_seconds = 0;
  double reward_seconds = 0;
};

// Generates and scores: the rollout half of a step (and of an eval).
class Sampler {
 public:
  Sampler(const LearnerOptions& options, const Tokenizer& tokenizer, int rank, int world)
      : options_(options), tokenizer_(tokenizer), rank_(rank), world_(world) {}

  // prompts_per_step groups from this rank's prompt cursor on; with dynamic
  // sampling, groups whose rewards are all equal are dropped and more prompts
  // drawn, up to max_sampling_draws extra rounds.
  absl::StatusOr<RolloutBatch> Collect(int64_t cursor) {
    const config::RlConfig& rl = options_.rl;
    RolloutBatch batch;
    const rollout::SamplingParams sampling = rollout::ToSamplingParams(rl.sampling(), options_.seed);
    while (true) {
      const int missing = rl.prompts_per_step() - static_cast<int>(batch.groups.size());
      std::vector<Group> drawn(static_cast<size_t>(missing));
      for (Group& group : drawn) {
        group.prompt_index = cursor * world_ + rank_;
        group.record = options_.prompts->Get(group.prompt_index);
        ++cursor;
      }
      R1_RETURN_IF_ERROR(GenerateAndScore(drawn, rl.group_size(), sampling, &batch.rollout_seconds,
                                          &batch.reward_seconds));
      ++batch.draws;
      batch.prompts_drawn += missing;
      for (Group& group : drawn) {
        for (const rollout::Completion& c : group.completions) batch.generated_tokens += c.token_ids_size();
        // An item the service could not score (a full sandbox pool, a sandbox
        // failure) has no reward: its group has no advantage to learn from.
        int64_t errors = 0;
        for (const reward::ScoreResult& s : group.scores) errors += s.error().empty() ? 0 : 1;
        if (errors > 0) {
          batch.reward_errors += errors;
          ++batch.error_groups;
          continue;
        }
        for (const reward::ScoreResult& s : group.scores) batch.sampled_correct += s.correct() ? 1 : 0;
        batch.sampled += static_cast<int64_t>(group.scores.size());
        if (rl.dynamic_sampling() && AllRewardsEqual(group)) {
          ++batch.uniform_groups;
          continue;
        }
        batch.groups.push_back(std::move(group));
      }
      if (!rl.dynamic_sampling() || static_cast<int>(batch.groups.size()) >= rl.prompts_per_step() ||
          batch.draws > rl.max_sampling_draws()) {
        break;
      }
    }
    batch.cursor_after = cursor;
    return batch;
  }

  // Fills each group's prompt tokens, completions (n each) and scores.
  absl::Status GenerateAndScore(std::vector<Group>& groups, int n, const rollout::SamplingParams& sampling,
                                double* rollout_seconds, double* reward_seconds) {
    std::vector<rollout::Prompt> prompts(groups.size());
    for (size_t i = 0; i < groups.size(); ++i) {
      groups[i].prompt_tokens = EncodePrompt(tokenizer_, groups[i].record.prompt());
      prompts[i].set_id(absl::StrCat(groups[i].prompt_index));
      prompts[i].mutable_token_ids()->Add(groups[i].prompt_tokens.begin(), groups[i].prompt_tokens.end());
      prompts[i].set_stream_index(groups[i].prompt_index);
    }
    Clock::time_point start = Clock::now();
    absl::Status generated = options_.pool->Generate(
        prompts, n, sampling,
        [&](int index, std::vector<rollout::Completion> completions) { groups[index].completions = std::move(completions); });
    if (!generated.ok()) return Annotate(generated, "rollout");
    *rollout_seconds += SecondsSince(start);
    for (const Group& group : groups) {
      if (static_cast<int>(group.completions.size()) != n) {
        return absl::InternalError(absl::StrCat("rollout: prompt ", group.prompt_index, " came back with ",
                                                group.completions.size(), " samples, not ", n));
      }
      for (const rollout::Completion& c : group.completions) {
        if (c.logprobs_size() != c.token_ids_size()) {
          return absl::InternalError(absl::StrCat("rollout: a completion of prompt ", group.prompt_index, " has ",
                                                  c.token_ids_size(), " tokens but ", c.logprobs_size(), " logprobs"));
        }
      }
    }

    std::vector<reward::ScoreItem> items;
    for (const Group& group : groups) {
      for (const rollout::Completion& c : group.completions) {
        reward::ScoreItem& item = items.emplace_back(reward::ScoreItemFor(
            group.record, c.text(), c.token_ids_size(), c.finish_reason() == rollout::LENGTH));
        item.set_id(absl::StrCat(c.prompt_id(), "/", c.sample_index()));
      }
    }
    start = Clock::now();
    absl::StatusOr<std::vector<reward::ScoreResult>> scores = options_.reward->Score(items);
    if (!scores.ok()) return Annotate(scores.status(), "reward");
    // Items that failed for a passing reason (a busy sandbox pool, a deadline)
    // are scored again, up to kRewardRetries times; an invalid item is not.
    for (int attempt = 1; attempt <= kRewardRetries; ++attempt) {
      std::vector<size_t> again;
      for (size_t i = 0; i < scores->size(); ++i) {
        const reward::ScoreResult& s = (*scores)[i];
        if (!s.error().empty() && s.error_code() != "invalid_item") again.push_back(i);
      }
      if (again.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));  // let the pool drain
      std::vector<reward::ScoreItem> retry;
      for (size_t i : again) retry.push_back(items[i]);
      absl::StatusOr<std::vector<reward::ScoreResult>> rescored = options_.reward->Score(retry);
      if (!rescored.ok()) return Annotate(rescored.status(), "reward");
      for (size_t j = 0; j < again.size(); ++j) (*scores)[again[j]] = std::move((*rescored)[j]);
    }
    *reward_seconds += SecondsSince(start);
    size_t next = 0;
    for (Group& group : groups) {
      group.scores.assign(scores->begin() + static_cast<int64_t>(next),
                          scores->begin() + static_cast<int64_t>(next + group.completions.size()));
      next += group.completions.size();
    }
    return absl::OkStatus();
  }

 private:
  static bool AllRewardsEqual(const Group& group) {
    for (const reward::ScoreResult& s : group.scores) {
      if (s.total() != group.scores.front().total()) return false;
    }
    return true;
  }
  static absl::Status Annotate(const absl::Status& status, const char* what) {
    return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
  }

  const LearnerOptions& options_;
  const Tokenizer& tokenizer_;
  const int rank_;
  const int world_;
};

// Asynchronous mode: a thread that collects the next batches, up to `depth`
// ahead of the learner.
class Producer {
 public:
  Producer(Sampler& sampler, int64_t cursor, int depth)
      : sampler_(sampler), cursor_(cursor), depth_(depth), thread_([this] { Run(); }) {}
  ~Producer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }

  absl::StatusOr<RolloutBatch> Next() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return !queue_.empty(); });
    absl::StatusOr<RolloutBatch> batch = std::move(queue_.front());
    queue_.pop_front();
    changed_.notify_all();
    return batch;
  }

  // Waits until the producer is idle: its queue is full (or it stopped on an
  // error). The learner publishes new weights only then, so every batch is
  // generated under one version fixed by the step count, not by how fast
  // generation ran against training: the run reproduces on any machine.
  void WaitUntilIdle() {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return finished_ || static_cast<int>(queue_.size()) >= depth_; });
  }

 private:
  void Run() {
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        changed_.wait(lock, [&] { return stop_ || static_cast<int>(queue_.size()) < depth_; });
        if (stop_) return;
      }
      absl::StatusOr<RolloutBatch> batch = sampler_.Collect(cursor_);
      const bool failed = !batch.ok();
      if (batch.ok()) cursor_ = batch->cursor_after;
      {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back(std::move(batch));
      }
      if (failed) {
        std::lock_guard<std::mutex> lock(mu_);
        finished_ = true;
      }
      changed_.notify_all();
      if (failed) return;
    }
  }

  Sampler& sampler_;
  int64_t cursor_;
  const int depth_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<absl::StatusOr<RolloutBatch>> queue_;
  bool stop_ = false;
  bool finished_ = false;  // Run() returned after an error
  std::thread thread_;  // last: starts after the members it uses
};

// A weight push running on its own thread (asynchronous mode).
class BackgroundPush {
 public:
  ~BackgroundPush() { Wait(); }
  void Start(std::function<void()> push) { thread_ = std::thread(std::move(push)); }
  void Wait() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread thread_;
};

// One sequence of the batch in training form.
struct Sequence {
  std::vector<int64_t> tokens;     // prompt + completion
  int64_t completion_start = 0;    // index of the first completion token
  std::vector<float> old_logprobs; // per completion token
  float advantage = 0;
  bool in_loss = true;             // false: truncated and rl.mask_truncated
};

// A micro-batch as tensors, with positions aligned to the logits of
// tokens[:, :-1] (the logprob of token p sits at p - 1).
struct MicroBatch {
  torch::Tensor inputs;        // [n, L-1] int64
  torch::Tensor targets;       // [n, L-1] int64
  torch::Tensor mask;          // [n, L-1] float, 1 on completion tokens in the loss
  torch::Tensor old_logprobs;  // [n, L-1] float
  torch::Tensor advantages;    // [n]
  torch::Tensor real;          // [n, L-1] bool, false on right padding
};

MicroBatch MakeMicroBatch(const std::vector<Sequence>& sequences, const std::vector<int64_t>& rows, int pad_id) {
  int64_t length = 2;
  for (int64_t r : rows) length = std::max<int64_t>(length, static_cast<int64_t>(sequences[r].tokens.size()));
  const int64_t n = static_cast<int64_t>(rows.size());
  torch::Tensor tokens = torch::full({n, length}, pad_id, torch::kInt64);
  torch::Tensor mask = torch::zeros({n, length - 1});
  torch::Tensor old = torch::zeros({n, length - 1});
  torch::Tensor advantages = torch::zeros({n});
  torch::Tensor real = torch::zeros({n, length - 1}, torch::kBool);
  auto t = tokens.accessor<int64_t, 2>();
  auto m = mask.accessor<float, 2>();
  auto o = old.accessor<float, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const Sequence& s = sequences[rows[i]];
    for (size_t p = 0; p < s.tokens.size(); ++p) t[i][static_cast<int64_t>(p)] = s.tokens[p];
    real[i].narrow(0, 0, static_cast<int64_t>(s.tokens.size()) - 1).fill_(true);
    for (size_t j = 0; j < s.old_logprobs.size(); ++j) {
      const int64_t at = s.completion_start + static_cast<int64_t>(j) - 1;
      m[i][at] = s.in_loss ? 1.0f : 0.0f;
      o[i][at] = s.old_logprobs[j];
    }
    advantages[i] = s.advantage;
  }
  MicroBatch batch;
  batch.inputs = tokens.narrow(1, 0, length - 1);
  batch.targets = tokens.narrow(1, 1, length - 1);
  batch.mask = mask;
  batch.old_logprobs = old;
  batch.advantages = advantages;
  batch.real = real;
  return batch;
}

// Logprobs (and, when asked, entropies) of the targets under `model`, [n, L-1].
struct Scored {
  torch::Tensor logprobs;
  torch::Tensor entropy;
};
// The entropy keeps its autograd graph only when it is in the loss
// (`entropy_grad`): a [n, L-1, V] graph is a lot to hold for a metric.
Scored ScoreTargets(model::CausalLmImpl& model, const MicroBatch& batch, double temperature, bool record_load,
                    bool want_entropy, bool entropy_grad = false) {
  model::ForwardOptions forward;
  const torch::Device device = model.device();
  forward.record_expert_load = record_load;
  // Padding must not count: ranks pad their shares differently.
  if (record_load) forward.expert_load_mask = batch.real.to(device);
  torch::Tensor logits = model.Forward(batch.inputs.to(device), nullptr, forward).logits.to(torch::kFloat32);
  Scored scored;
  scored.logprobs = model::TokenLogprobs(logits, batch.targets.to(device), temperature);
  if (want_entropy) {
    c10::AutoGradMode grad_mode(entropy_grad && c10::GradMode::is_enabled());
    const torch::Tensor from = entropy_grad ? logits : logits.detach();
    const torch::Tensor logp = torch::log_softmax(temperature > 0 ? from / temperature : from, -1);
    scored.entropy = -(logp.exp() * logp).sum(-1);
  }
  return scored;
}

std::vector<std::vector<int64_t>> Split(const std::vector<int64_t>& rows, int64_t chunk) {
  std::vector<std::vector<int64_t>> chunks;
  if (chunk <= 0) chunk = std::max<int64_t>(1, static_cast<int64_t>(rows.size()));
  for (size_t i = 0; i < rows.size(); i += static_cast<size_t>(chunk)) {
    chunks.emplace_back(rows.begin() + static_cast<int64_t>(i),
                        rows.begin() + static_cast<int64_t>(std::min(rows.size(), i + static_cast<size_t>(chunk))));
  }
  return chunks;
}

std::vector<std::pair<std::string, torch::Tensor>> SnapshotWeights(const model::CausalLmImpl& model) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (auto& [name, tensor] : model::NamedTensors(model)) tensors.emplace_back(name, tensor.detach().to(torch::kCPU).clone());
  return tensors;
}

// The pass@1-over-k eval through the same workers and reward service.
absl::StatusOr<EvalResult> Evaluate(const LearnerOptions& options, Sampler& sampler) {
  EvalResult result;
  if (options.eval_prompts.empty()) return result;
  const config::RlConfig& rl = options.rl;
  const int k = rl.eval_samples();
  std::vector<Group> groups(options.eval_prompts.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    groups[i].prompt_index = static_cast<int64_t>(i);
    groups[i].record = options.eval_prompts[i];
  }
  double unused_a = 0, unused_b = 0;
  R1_RETURN_IF_ERROR(sampler.GenerateAndScore(groups, k, rollout::ToSamplingParams(rl.sampling(), StreamSeed(options.seed, kEvalStream)),
                                              &unused_a, &unused_b));
  result.samples = k;
  int64_t completions = 0, well_formed = 0, tokens = 0, scored_prompts = 0;
  for (const Group& group : groups) {
    int correct = 0, scored = 0;
    for (size_t j = 0; j < group.completions.size(); ++j) {
      well_formed += tasks::ParseCompletion(group.completions[j].text()).well_formed ? 1 : 0;
      tokens += group.completions[j].token_ids_size();
      ++completions;
      if (!group.scores[j].error().empty()) {
        ++result.unscored;
        continue;
      }
      ++scored;
      correct += group.scores[j].correct() ? 1 : 0;
    }
    if (scored == 0) continue;
    ++scored_prompts;
    result.avg_at_k += static_cast<double>(correct) / scored;
    result.pass_at_k += correct > 0 ? 1.0 : 0.0;
  }
  result.prompts = static_cast<int>(scored_prompts);
  result.avg_at_k /= static_cast<double>(std::max<int64_t>(1, scored_prompts));
  result.pass_at_k /= static_cast<double>(std::max<int64_t>(1, scored_prompts));
  result.format_rate = static_cast<double>(well_formed) / std::max<int64_t>(1, completions);
  result.mean_length = static_cast<double>(tokens) / std::max<int64_t>(1, completions);
  if (rl.eval_greedy()) {
    config::SamplingConfig greedy_config = rl.sampling();
    greedy_config.set_temperature(0);
    R1_RETURN_IF_ERROR(sampler.GenerateAndScore(groups, 1, rollout::ToSamplingParams(greedy_config, 0), &unused_a, &unused_b));
    int64_t correct = 0, scored = 0;
    for (const Group& group : groups) {
      if (!group.scores[0].error().empty()) {
        ++result.unscored;
        continue;
      }
      ++scored;
      correct += group.scores[0].correct() ? 1 : 0;
    }
    result.greedy = static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(1, scored));
  }
  return result;
}

// Token-weighted sums of the loss metrics over micro-batches.
struct LossSums {
  double tokens = 0, loss = 0, policy_loss = 0, kl = 0, clip_fraction = 0, ratio_mean = 0, entropy = 0;
  void Add(const GrpoLoss& l, double loss_value, double n) {
    tokens += n;
    loss += loss_value * n;
    policy_loss += l.policy_loss * n;
    kl += l.kl * n;
    clip_fraction += l.clip_fraction * n;
    ratio_mean += l.ratio_mean * n;
    entropy += l.entropy * n;
  }
  void Add(const LossSums& o) {
    tokens += o.tokens;
    loss += o.loss;
    policy_loss += o.policy_loss;
    kl += o.kl;
    clip_fraction += o.clip_fraction;
    ratio_mean += o.ratio_mean;
    entropy += o.entropy;
  }
};

// The max over ranks of each of `values`. DataParallel sums only: each rank
// fills its own row of a [world, k] table of zeros, and the sum is the table.
std::vector<double> MaxOverRanks(DataParallel& dp, const std::vector<double>& values) {
  const size_t k = values.size();
  std::vector<double> table(k * static_cast<size_t>(dp.world_size()), 0.0);
  std::copy(values.begin(), values.end(), table.begin() + static_cast<int64_t>(k * static_cast<size_t>(dp.rank())));
  dp.AllReduceSum(table);
  std::vector<double> max(table.begin(), table.begin() + static_cast<int64_t>(k));
  for (size_t i = k; i < table.size(); ++i) max[i % k] = std::max(max[i % k], table[i]);
  return max;
}

void AddEvalScalars(const EvalResult& eval, Scalars& scalars) {
  scalars["eval/avg_at_k"] = eval.avg_at_k;
  scalars["eval/pass_at_k"] = eval.pass_at_k;
  if (eval.greedy >= 0) scalars["eval/greedy"] = eval.greedy;
  scalars["eval/format_rate"] = eval.format_rate;
  scalars["eval/mean_length"] = eval.mean_length;
  scalars["eval/unscored"] = static_cast<double>(eval.unscored);
}

std::string DescribeEval(const EvalResult& eval) {
  return absl::StrFormat("avg@%d %.3f pass@%d %.3f greedy %s format %.3f length %.1f", eval.samples, eval.avg_at_k,
                         eval.samples, eval.pass_at_k, eval.greedy >= 0 ? absl::StrFormat("%.3f", eval.greedy) : "-",
                         eval.format_rate, eval.mean_length) +
         (eval.unscored > 0 ? absl::StrFormat(" (%d samples unscored: reward service faults)", eval.unscored) : "");
}

}  // namespace

absl::StatusOr<LearnerResult> RunGrpo(const LearnerOptions& options) {
  const config::RlConfig& rl = options.rl;
  if (options.prompts == nullptr || options.pool == nullptr || options.reward == nullptr) {
    return absl::InvalidArgumentError("RunGrpo needs prompts, a rollout pool and a reward client");
  }
  if (rl.max_steps() <= 0 && rl.max_seconds() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(options.stage, ": needs rl.max_steps or rl.max_seconds"));
  }
  if (rl.min_base_pass_at_k() > 0 && options.eval_prompts.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(options.stage, ": rl.min_base_pass_at_k needs eval prompts"));
  }
  std::unique_ptr<DataParallel> single;
  DataParallel* dp = options.data_parallel;
  if (dp == nullptr) {
    R1_ASSIGN_OR_RETURN(single, DataParallel::Connect(DistributedEnv{}));
    dp = single.get();
  }
  const int rank = dp->rank(), world = dp->world_size();
  const bool leader = rank == 0;
  const config::SamplingConfig& sampling = rl.sampling();
  if (leader && (sampling.top_p() < 1 || sampling.top_k() > 0 || sampling.min_p() > 0)) {
    // Allowed (a user may want it), but worth a line in every log.
    std::fprintf(stderr,
                 "%s: warning: rl.sampling truncates the distribution (top_p %g, top_k %d, min_p %g): samples come "
                 "from the truncated distribution but every logprob (worker's and learner's) is of the full one, so "
                 "the importance ratio and the KL estimate are biased; RL usually samples with top_p 1, top_k 0, "
                 "min_p 0\n",
                 options.stage.c_str(), sampling.top_p(), sampling.top_k(), sampling.min_p());
  }

  R1_RETURN_IF_ERROR(MakeDirs(options.stage_dir));
  const std::string checkpoints = absl::StrCat(options.stage_dir, "/checkpoints");
  const std::string tokenizer_path = absl::StrCat(options.init_checkpoint, "/tokenizer.model");
  R1_ASSIGN_OR_RETURN(Tokenizer tokenizer, Tokenizer::Load(tokenizer_path));
  R1_ASSIGN_OR_RETURN(model::CausalLm policy, model::LoadModel(options.init_checkpoint));
  if (tokenizer.vocab_size() != policy->config().vocab_size()) {
    return absl::FailedPreconditionError(absl::StrCat(options.init_checkpoint, ": tokenizer has ", tokenizer.vocab_size(),
                                                      " pieces but the model's vocab_size is ",
                                                      policy->config().vocab_size()));
  }
  // No reference model at all when the KL term is off.
  model::CausalLm reference;
  if (rl.kl_coef() > 0) {
    R1_ASSIGN_OR_RETURN(reference, model::LoadModel(options.init_checkpoint));
    reference->eval();
    for (auto& p : reference->parameters()) p.set_requires_grad(false);
  }
  auto optimizer = model::MakeAdamW(*policy, rl.optimizer());

  // State that a checkpoint carries.
  int64_t step = 0, cursor = 0, version_base = 0;
  double elapsed_before = 0;
  bool resumed = false;
  if (options.resume) {
    if (absl::StatusOr<std::string> latest = model::LatestCheckpoint(checkpoints); latest.ok()) {
      R1_ASSIGN_OR_RETURN(model::TrainingState state, model::LoadTrainingState(*latest));
      // Every rank refuses the same mismatches, before any collective call.
      const int saved_world = static_cast<int>(state.ExtraNumber("world_size", 1));
      if (saved_world != world) {
        return absl::FailedPreconditionError(absl::StrCat(
            *latest, " was written by ", saved_world, " learner rank(s); resume it with as many (this run has ",
            world, "): each rank's prompt cursor is its own"));
      }
      const auto saved_init = state.extra.find("init_checkpoint");
      if (saved_init != state.extra.end() && saved_init->second != options.init_checkpoint) {
        return absl::FailedPreconditionError(absl::StrCat(
            *latest, " continues a run that started from ", saved_init->second, ", not ", options.init_checkpoint,
            ": give --init ", saved_init->second, " (the reference policy and tokenizer come from it)"));
      }
      R1_RETURN_IF_ERROR(model::RestoreWeights(*latest, *policy));
      resumed = true;
      if (state.rng_state.defined()) {
        at::Generator generator = at::detail::getDefaultCPUGenerator();
        generator.set_state(state.rng_state);
      }
      R1_RETURN_IF_ERROR(model::RestoreOptimizerState(*policy, *optimizer, state.optimizer));
      step = state.step;
      cursor = static_cast<int64_t>(state.ExtraNumber(absl::StrCat("prompt_cursor.rank", rank), -1));
      if (cursor < 0) {
        return absl::FailedPreconditionError(absl::StrCat(*latest, ": no prompt cursor for rank ", rank,
                                                          " (was it written by a run with another world size?)"));
      }
      version_base = static_cast<int64_t>(state.ExtraNumber("version_base", 0));
      elapsed_before = state.ExtraNumber("elapsed_seconds", 0);
      if (reference && !state.extra_tensors.empty()) {
        std::map<std::string, torch::Tensor> ref;
        for (auto& [name, tensor] : state.extra_tensors) {
          if (name.rfind("reference.", 0) == 0) ref[name.substr(10)] = tensor;
        }
        if (!ref.empty()) R1_RETURN_IF_ERROR(model::LoadTensors(*reference, ref, *latest));
      }
      if (leader) {
        std::fprintf(stderr, "%s: resuming from %s (step %lld)\n", options.stage.c_str(), latest->c_str(),
                     static_cast<long long>(step));
      }
    }
  }
  dp->BroadcastWeights(*policy);  // one starting point on every rank

  const std::string metrics_path = absl::StrCat(options.stage_dir, "/metrics.jsonl");
  MetricsFanout metrics;
  if (leader) {
    if (!resumed) {
      // A fresh start: an earlier run's checkpoints and metrics in the same
      // folder would be mistaken for this run's.
      std::error_code ec;
      std::filesystem::remove_all(checkpoints, ec);
      std::filesystem::remove(metrics_path, ec);
    std::filesystem::remove_all(absl::StrCat(options.stage_dir, "/tensorboard"), ec);
    }
    R1_RETURN_IF_ERROR(OpenStageSinks(options.stage_dir, &metrics));
  }

  // Weight versions: the policy after `step` optimizer rounds is version
  // version_base + step. A restarted learner numbers above what the workers
  // already serve (they refuse an older version).
  if (leader) {
    R1_ASSIGN_OR_RETURN(int64_t serving, options.pool->MaxWorkerVersion());
    version_base = std::max(version_base, serving + 1 - step);
  }
  {
    std::vector<double> shared = {leader ? static_cast<double>(version_base) : 0.0};
    dp->AllReduceSum(shared);
    version_base = static_cast<int64_t>(shared[0]);
  }
  // Synchronous mode waits for the push (and the other ranks) before the next
  // rollouts; asynchronous mode pushes in the background: a worker finishing
  // its sequences in flight on the old weights (drain) must not hold up
  // training. The next push waits for the previous one. The version is
  // published before the background push starts, so a batch that starts
  // meanwhile first brings its worker up to date.
  BackgroundPush background_push;
  const auto push_weights = [&](bool in_background) {
    background_push.Wait();
    if (leader) {
      std::vector<std::pair<std::string, torch::Tensor>> snapshot = SnapshotWeights(*policy);
      const int64_t version = version_base + step;
      if (in_background) options.pool->PublishWeights(snapshot, version);
      auto push = [pool = options.pool, tensors = std::move(snapshot), version, stage = options.stage]() mutable {
        for (const rollout::PushResult& r : pool->PushWeights(std::move(tensors), version)) {
          if (!r.status.ok()) {
            std::fprintf(stderr, "%s: weight push of version %lld to %s failed: %s (it catches up before its next batch)\n",
                         stage.c_str(), static_cast<long long>(version), r.address.c_str(),
                         std::string(r.status.message()).c_str());
          }
        }
      };
      if (in_background) {
        background_push.Start(std::move(push));
      } else {
        push();
      }
    }
    if (!in_background) dp->Barrier();  // no rank generates with the old weights
  };
  push_weights(/*in_background=*/false);

  Sampler sampler(options, tokenizer, rank, world);
  LearnerResult result;
  const auto evaluate = [&](Scalars& scalars) -> absl::StatusOr<EvalResult> {
    EvalResult eval;
    background_push.Wait();  // the eval is of the newest weights
    if (leader) {
      R1_ASSIGN_OR_RETURN(eval, Evaluate(options, sampler));
      if (eval.prompts > 0) AddEvalScalars(eval, scalars);
    }
    return eval;
  };

  // The quality gate and the starting point of the curve.
  {
    Scalars scalars;
    R1_ASSIGN_OR_RETURN(result.first_eval, evaluate(scalars));
    if (leader && result.first_eval.prompts > 0) {
      std::fprintf(stderr, "%s: eval at step %lld: %s\n", options.stage.c_str(), static_cast<long long>(step),
                   DescribeEval(result.first_eval).c_str());
      R1_RETURN_IF_ERROR(metrics.Write(step, scalars));
    }
    std::vector<double> gate = {leader && step == 0 && rl.min_base_pass_at_k() > 0 &&
                                        result.first_eval.pass_at_k < rl.min_base_pass_at_k()
                                    ? 1.0
                                    : 0.0};
    dp->AllReduceSum(gate);
    if (gate[0] > 0 && !leader) {
      return absl::FailedPreconditionError(absl::StrCat(options.stage, ": rank 0 found the starting policy below "
                                                        "rl.min_base_pass_at_k (its log says by how much)"));
    }
    if (gate[0] > 0) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "%s: the starting policy %s has pass@%d %.3f on the eval set, below rl.min_base_pass_at_k %.3f: "
          "RL needs a base whose samples already contain correct answers (train the base longer)",
          options.stage, options.init_checkpoint, result.first_eval.samples, result.first_eval.pass_at_k,
          rl.min_base_pass_at_k()));
    }
    result.last_eval = result.first_eval;
  }

  const auto save = [&](double elapsed) -> absl::Status {
    std::vector<double> cursors(static_cast<size_t>(world), 0.0);
    cursors[static_cast<size_t>(rank)] = static_cast<double>(cursor);
    dp->AllReduceSum(cursors);
    if (!leader) return absl::OkStatus();
    model::TrainingState state;
    state.step = step;
    state.data_cursor = cursor;
    state.rng_state = at::detail::getDefaultCPUGenerator().get_state();
    state.optimizer = model::OptimizerStateTensors(*policy, *optimizer);
    for (int r = 0; r < world; ++r) state.extra[absl::StrCat("prompt_cursor.rank", r)] = absl::StrCat(static_cast<int64_t>(cursors[static_cast<size_t>(r)]));
    state.extra["stage"] = options.stage;
    state.extra["elapsed_seconds"] = absl::StrCat(elapsed);
    state.extra["version_base"] = absl::StrCat(version_base);
    state.extra["world_size"] = absl::StrCat(world);
    state.extra["init_checkpoint"] = options.init_checkpoint;
    if (reference && rl.ref_reset_every() > 0) {
      // The reference has moved away from the starting checkpoint.
      for (auto& [name, tensor] : model::NamedTensors(*reference)) state.extra_tensors["reference." + name] = tensor;
    }
    const std::string dir = model::CheckpointDir(checkpoints, step);
    R1_RETURN_IF_ERROR(model::SaveCheckpoint(dir, *policy, tokenizer_path, &state));
    R1_RETURN_IF_ERROR(model::PruneCheckpoints(checkpoints, rl.checkpoint().keep()));
    result.checkpoint = dir;
    return absl::OkStatus();
  };

  std::unique_ptr<Producer> producer;
  if (rl.max_staleness() > 0) producer = std::make_unique<Producer>(sampler, cursor, rl.max_staleness());
  const int64_t group_size = rl.group_size();
  const double temperature = rl.sampling().temperature();
  GrpoLossOptions loss_options;
  loss_options.clip_eps_low = rl.clip_eps_low();
  loss_options.clip_eps_high = rl.clip_eps_high();
  loss_options.dual_clip_c = rl.dual_clip_c();
  loss_options.kl_coef = rl.kl_coef();
  loss_options.kl_estimator = rl.kl_estimator();
  loss_options.aggregation = rl.loss_aggregation();
  loss_options.sum_norm_tokens = rl.sum_norm_tokens() > 0 ? rl.sum_norm_tokens() : rl.sampling().max_new_tokens();
  loss_options.entropy_coef = rl.entropy_coef();

  ProgressLine progress(options.stage);
  const Clock::time_point start = Clock::now();
  const int64_t first_step = step;
  int64_t horizon = rl.max_seconds() > 0 ? 0 : rl.max_steps();
  int64_t last_saved = -1;
  int64_t stale_dropped_total = 0;
  int64_t skipped_total = 0;  // optimizer steps skipped for a non-finite loss or gradient
  int64_t empty_batches = 0;
  double elapsed = elapsed_before;
  while (true) {
    elapsed = elapsed_before + SecondsSince(start);
    // Rank 0's clock decides for every rank: when to stop, and the learning
    // rate (a time budget sets the schedule's horizon), so ranks agree.
    std::vector<double> clock = {leader ? elapsed : 0.0};
    dp->AllReduceSum(clock);
    elapsed = clock[0];
    if ((rl.max_steps() > 0 && step >= rl.max_steps()) || (rl.max_seconds() > 0 && elapsed >= rl.max_seconds())) {
      break;
    }
    if (rl.max_seconds() > 0 && step - first_step >= 2) {
      const double per_step = (elapsed - elapsed_before) / static_cast<double>(step - first_step);
      horizon = step + static_cast<int64_t>((rl.max_seconds() - elapsed) / std::max(per_step, 1e-6));
      if (rl.max_steps() > 0) horizon = std::min(horizon, rl.max_steps());
    }
    const double lr = model::LearningRate(rl.optimizer(), step, horizon > 0 ? horizon : INT64_MAX / 2);
    Scalars scalars;

    // 1. Rollouts and rewards.
    const Clock::time_point wait_start = Clock::now();
    absl::StatusOr<RolloutBatch> collected = producer ? producer->Next() : sampler.Collect(cursor);
    if (!collected.ok()) return collected.status();
    RolloutBatch batch = std::move(*collected);
    const double wait_seconds = SecondsSince(wait_start);
    cursor = batch.cursor_after;
    const int64_t version = version_base + step;

    // 2. Staleness: drop groups with a completion older than the bound.
    int64_t stale_dropped = 0;
    double staleness_sum = 0, staleness_max = 0;
    {
      std::vector<Group> fresh;
      for (Group& group : batch.groups) {
        int64_t oldest = version;
        for (const rollout::Completion& c : group.completions) oldest = std::min(oldest, c.weight_version());
        if (version - oldest > rl.max_staleness()) {
          stale_dropped += static_cast<int64_t>(group.completions.size());
          continue;
        }
        for (const rollout::Completion& c : group.completions) {
          staleness_sum += static_cast<double>(version - c.weight_version());
          staleness_max = std::max(staleness_max, static_cast<double>(version - c.weight_version()));
        }
        fresh.push_back(std::move(group));
      }
      batch.groups = std::move(fresh);
    }

    // 3. Sequences, rewards and advantages.
    std::vector<Sequence> sequences;
    std::vector<float> rewards;
    int64_t correct = 0, well_formed = 0, truncated = 0, length_sum = 0, length_max = 0;
    std::map<std::string, std::pair<double, int64_t>> rule_sums;  // rule -> (score sum, items)
    for (const Group& group : batch.groups) {
      for (size_t j = 0; j < group.completions.size(); ++j) {
        const rollout::Completion& c = group.completions[j];
        const reward::ScoreResult& score = group.scores[j];
        Sequence& s = sequences.emplace_back();
        s.tokens.assign(group.prompt_tokens.begin(), group.prompt_tokens.end());
        s.completion_start = static_cast<int64_t>(s.tokens.size());
        s.tokens.insert(s.tokens.end(), c.token_ids().begin(), c.token_ids().end());
        s.old_logprobs.assign(c.logprobs().begin(), c.logprobs().end());
        s.in_loss = !(rl.mask_truncated() && c.finish_reason() == rollout::LENGTH) && c.token_ids_size() > 0;
        rewards.push_back(static_cast<float>(score.total()));
        correct += score.correct() ? 1 : 0;
        well_formed += tasks::ParseCompletion(c.text()).well_formed ? 1 : 0;
        truncated += c.finish_reason() == rollout::LENGTH ? 1 : 0;
        length_sum += c.token_ids_size();
        length_max = std::max<int64_t>(length_max, c.token_ids_size());
        for (const reward::RuleScore& rule : score.rules()) {
          auto& [sum, count] = rule_sums[rule.rule()];
          sum += rule.score();
          ++count;
        }
      }
    }
    const int64_t n = static_cast<int64_t>(sequences.size());
    if (n > 0) {
      const torch::Tensor advantages =
          GroupAdvantages(torch::tensor(rewards), group_size, rl.advantage_norm());  // [N]
      for (int64_t i = 0; i < n; ++i) sequences[static_cast<size_t>(i)].advantage = advantages[i].item<float>();
    }

    // 4. Mini-batches (one optimizer step each) of micro-batches (one forward
    // each). Global counts first, so every rank scales its share the same way.
    const Clock::time_point train_start = Clock::now();
    std::vector<int64_t> all_rows(static_cast<size_t>(n));
    std::iota(all_rows.begin(), all_rows.end(), 0);
    const int64_t updates = rl.updates_per_batch();
    const std::vector<std::vector<int64_t>> minis =
        Split(all_rows, std::max<int64_t>(1, (n + updates - 1) / updates));
    std::vector<double> counts(static_cast<size_t>(3 * updates), 0.0);  // per mini-batch: tokens, sequences with tokens, sequences
    for (size_t b = 0; b < minis.size(); ++b) {
      for (int64_t row : minis[b]) {
        const Sequence& s = sequences[static_cast<size_t>(row)];
        const double tokens = s.in_loss ? static_cast<double>(s.old_logprobs.size()) : 0.0;
        counts[3 * b] += tokens;
        counts[3 * b + 1] += tokens > 0 ? 1 : 0;
        counts[3 * b + 2] += 1;
      }
    }
    dp->AllReduceSum(counts);

    // Old logprobs recomputed by the learner, or the workers'. Either way the
    // two are compared (logprob_mismatch): over the whole batch when
    // recomputing, over the first mini-batch's forward (before any update of
    // this batch) when not.
    double mismatch_sum = 0, mismatch_tokens = 0;
    const auto measure_mismatch = [&](const MicroBatch& mb, const torch::Tensor& learner_logprobs) {
      const torch::Tensor diff = (learner_logprobs.detach().cpu() - mb.old_logprobs).abs() * mb.mask;
      mismatch_sum += diff.sum().item<double>();
      mismatch_tokens += mb.mask.sum().item<double>();
    };
    if (rl.old_logprobs() == config::RECOMPUTE && n > 0) {
      torch::NoGradGuard no_grad;
      for (const std::vector<int64_t>& rows : Split(all_rows, rl.micro_batch_size())) {
        const MicroBatch mb = MakeMicroBatch(sequences, rows, tokenizer.pad_id());
        const torch::Tensor recomputed = ScoreTargets(*policy, mb, temperature, false, false).logprobs.cpu();
        measure_mismatch(mb, recomputed);
        for (size_t i = 0; i < rows.size(); ++i) {
          Sequence& s = sequences[static_cast<size_t>(rows[i])];
          for (size_t j = 0; j < s.old_logprobs.size(); ++j) {
            s.old_logprobs[j] = recomputed[static_cast<int64_t>(i)][s.completion_start + static_cast<int64_t>(j) - 1].item<float>();
          }
        }
      }
    }

    // Loss metrics over the mini-batches whose optimizer step was taken.
    LossSums trained;
    double grad_norm_sum = 0, grad_norm_max = 0;
    int64_t rounds_taken = 0, rounds_skipped = 0;
    Scalars balance;
    for (size_t b = 0; b < static_cast<size_t>(updates); ++b) {
      model::ClearGradients(*policy);
      LossSums mini;
      bool loss_finite = true;
      if (b < minis.size()) {
        for (const std::vector<int64_t>& rows : Split(minis[b], rl.micro_batch_size())) {
          const MicroBatch mb = MakeMicroBatch(sequences, rows, tokenizer.pad_id());
          const double micro_tokens = mb.mask.sum().item<double>();
          const double micro_with_tokens = (mb.mask.sum(1) > 0).sum().item<double>();
          const Scored scored = ScoreTargets(*policy, mb, temperature, /*record_load=*/true, /*want_entropy=*/true,
                                             /*entropy_grad=*/rl.entropy_coef() > 0);
          if (b == 0 && rl.old_logprobs() == config::ROLLOUT) measure_mismatch(mb, scored.logprobs);
          GrpoLossInputs inputs;
          inputs.logprobs = scored.logprobs;
          inputs.old_logprobs = mb.old_logprobs.to(policy->device());
          inputs.advantages = mb.advantages.to(policy->device());
          inputs.mask = mb.mask.to(policy->device());
          inputs.entropy = scored.entropy;
          if (reference) {
            torch::NoGradGuard no_grad;
            inputs.ref_logprobs = ScoreTargets(*reference, mb, temperature, false, false).logprobs;
          }
          const GrpoLoss loss = ComputeGrpoLoss(inputs, loss_options);
          const double loss_value = loss.loss.item<double>();
          loss_finite = loss_finite && std::isfinite(loss_value);
          // This micro-batch's share of the global mini-batch, times the world
          // size because AverageGradients divides by it.
          double share;
          switch (rl.loss_aggregation()) {
            case config::SEQUENCE_MEAN: share = micro_with_tokens / std::max(1.0, counts[3 * b + 1]); break;
            case config::SUM_NORM: share = static_cast<double>(rows.size()) / std::max(1.0, counts[3 * b + 2]); break;
            default: share = micro_tokens / std::max(1.0, counts[3 * b]); break;
          }
          (loss.loss * (share * world)).backward();
          mini.Add(loss, loss_value, micro_tokens);
        }
      }
      dp->AverageGradients(*policy);
      // A non-finite loss on one rank skips the step on every rank. (A
      // non-finite gradient anywhere is already in every rank's average.)
      std::vector<double> nonfinite_losses = {loss_finite ? 0.0 : 1.0};
      dp->AllReduceSum(nonfinite_losses);
      model::OptimizerRound round =
          model::GuardedOptimizerStep(*policy, *optimizer, lr, rl.optimizer().grad_clip(), nonfinite_losses[0] == 0);
      if (round.skipped) {
        ++rounds_skipped;
        if (leader) {
          std::fprintf(stderr, "%s: step %lld, mini-batch %zu: %s not finite (gradient norm %g); update skipped\n",
                       options.stage.c_str(), static_cast<long long>(step + 1), b,
                       nonfinite_losses[0] > 0 ? "loss" : "gradient norm", round.grad_norm);
        }
        continue;
      }
      ++rounds_taken;
      grad_norm_sum += round.grad_norm;
      grad_norm_max = std::max(grad_norm_max, round.grad_norm);
      trained.Add(mini);
      balance = std::move(round.expert_balance);
    }
    model::ClearGradients(*policy);
    const double train_seconds = SecondsSince(train_start);
    ++step;

    if (reference && rl.ref_reset_every() > 0 && step % rl.ref_reset_every() == 0) {
      torch::NoGradGuard no_grad;
      std::map<std::string, torch::Tensor> weights;
      for (auto& [name, tensor] : model::NamedTensors(*policy)) weights[name] = tensor;
      R1_RETURN_IF_ERROR(model::LoadTensors(*reference, weights, "the policy"));
    }

    // 5. The new weights to every worker, once every rank's producer is
    // idle (see WaitUntilIdle).
    double idle_wait_seconds = 0;  // counted as waiting for rollouts
    if (producer) {
      const Clock::time_point idle_start = Clock::now();
      producer->WaitUntilIdle();
      dp->Barrier();
      idle_wait_seconds = SecondsSince(idle_start);
    }
    const Clock::time_point sync_start = Clock::now();
    push_weights(/*in_background=*/producer != nullptr);
    const double sync_seconds = SecondsSince(sync_start);
    if (options.check_weight_sync) scalars["weight_divergence"] = dp->MaxWeightDivergence(*policy);

    // 6. Metrics over all ranks (sums, or maxima where a max is logged);
    // rank 0 writes. Every rank reduces the same vectors in the same order.
    std::vector<double> sums = {static_cast<double>(n), 0, static_cast<double>(correct),
                                static_cast<double>(well_formed), static_cast<double>(truncated),
                                static_cast<double>(length_sum), trained.tokens, trained.policy_loss, trained.kl,
                                trained.clip_fraction, trained.ratio_mean, trained.entropy, mismatch_sum,
                                mismatch_tokens, static_cast<double>(batch.uniform_groups),
                                static_cast<double>(stale_dropped), static_cast<double>(batch.groups.size()),
                                trained.loss, static_cast<double>(batch.sampled),
                                static_cast<double>(batch.sampled_correct), staleness_sum,
                                static_cast<double>(batch.generated_tokens),
                                static_cast<double>(batch.reward_errors),
                                static_cast<double>(batch.error_groups)};
    for (float r : rewards) sums[1] += r;
    // Per-rule reward (score sum, items) in the order of kRewardRules: a rank
    // whose prompts no rule applied to still takes part in the sum.
    const size_t rule_base = sums.size();
    for (absl::string_view rule : kRewardRules) {
      const auto it = rule_sums.find(std::string(rule));
      sums.push_back(it == rule_sums.end() ? 0.0 : it->second.first);
      sums.push_back(it == rule_sums.end() ? 0.0 : static_cast<double>(it->second.second));
    }
    dp->AllReduceSum(sums);
    const std::vector<double> maxima =
        MaxOverRanks(*dp, {staleness_max, static_cast<double>(length_max), static_cast<double>(batch.draws),
                           batch.rollout_seconds, batch.reward_seconds, wait_seconds + idle_wait_seconds, train_seconds,
                           sync_seconds});
    const double completions = std::max(1.0, sums[0]);
    const double tokens = std::max(1.0, sums[6]);
    stale_dropped_total += static_cast<int64_t>(sums[15]);
    skipped_total += rounds_skipped;
    elapsed = elapsed_before + SecondsSince(start);
    if (sums[0] > 0) {
      // Over the trained batch (the groups dynamic sampling and the staleness
      // bound kept); "accuracy_sampled" below is over everything generated.
      scalars.insert({{"reward_mean", sums[1] / completions},
                      {"accuracy", sums[2] / completions},
                      {"format_rate", sums[3] / completions},
                      {"truncated_rate", sums[4] / completions},
                      {"response_length_mean", sums[5] / completions},
                      {"response_length_max", maxima[1]},
                      {"loss", sums[17] / tokens},
                      {"policy_loss", sums[7] / tokens},
                      {"kl", sums[8] / tokens},
                      {"clip_fraction", sums[9] / tokens},
                      {"ratio_mean", sums[10] / tokens},
                      {"entropy", sums[11] / tokens},
                      // One optimizer step per mini-batch: the mean and max of
                      // their gradient norms (before clipping) over the steps taken.
                      {"grad_norm_mean", rounds_taken > 0 ? grad_norm_sum / static_cast<double>(rounds_taken) : 0.0},
                      {"grad_norm_max", grad_norm_max}});
    } else {
      // Every group was dropped: nothing was trained (no gradient, so AdamW
      // and the bias update left the weights alone).
      ++empty_batches;
      if (leader) std::fprintf(stderr, "%s: step %lld had no group to train on\n", options.stage.c_str(), static_cast<long long>(step));
    }
    scalars.insert({{"empty_batches_total", static_cast<double>(empty_batches)},
                    {"accuracy_sampled", sums[18] > 0 ? sums[19] / sums[18] : 0.0},
                    {"logprob_mismatch", sums[13] > 0 ? sums[12] / sums[13] : 0.0},
                    {"lr", lr},
                    {"groups", sums[16]},
                    {"uniform_groups_dropped", sums[14]},
                    {"reward_errors", sums[22]},        // items unscored after retries
                    {"reward_error_groups_dropped", sums[23]},
                    {"stale_completions_dropped", sums[15]},
                    {"stale_completions_dropped_total", static_cast<double>(stale_dropped_total)},
                    {"staleness_mean", sums[20] / completions},
                    {"staleness_max", maxima[0]},
                    {"sampling_draws", maxima[2]},  // the most any rank needed
                    {"skipped_nonfinite_steps", static_cast<double>(rounds_skipped)},
                    {"skipped_nonfinite_steps_total", static_cast<double>(skipped_total)},
                    {"weight_version", static_cast<double>(version_base + step)},
                    // Times: the slowest rank's, which the others wait for.
                    {"time/rollout", maxima[3]},
                    {"time/reward", maxima[4]},
                    {"time/wait_for_rollouts", maxima[5]},
                    {"time/train", maxima[6]},
                    {"time/sync", maxima[7]},
                    {"train_tokens_per_second", sums[6] / std::max(maxima[6], 1e-9)},
                    {"generated_tokens_per_second", sums[21] / std::max(maxima[3], 1e-9)},
                    {"elapsed_seconds", elapsed}});
    for (size_t i = 0; i < kRewardRules.size(); ++i) {
      const double items = sums[rule_base + 2 * i + 1];
      if (items > 0) scalars[absl::StrCat("reward/", kRewardRules[i])] = sums[rule_base + 2 * i] / items;
    }
    for (const auto& [rule, sum_count] : rule_sums) {
      // A rule this build does not name (a newer reward service): this rank's share only.
      if (!scalars.count(absl::StrCat("reward/", rule))) {
        scalars[absl::StrCat("reward/", rule)] = sum_count.first / std::max<int64_t>(1, sum_count.second);
      }
    }
    scalars.insert(balance.begin(), balance.end());
    if (rl.eval_every() > 0 && step % rl.eval_every() == 0) {
      R1_ASSIGN_OR_RETURN(result.last_eval, evaluate(scalars));
    }
    if (leader) R1_RETURN_IF_ERROR(metrics.Write(step, scalars));
    const int64_t total = horizon > 0 ? horizon : rl.max_steps();
    if (leader) {
      progress.Update(step, total,
                      absl::StrFormat("reward %.3f acc %.3f fmt %.2f len %.0f kl %.4f ent %.3f%s", scalars["reward_mean"],
                                      scalars["accuracy"], scalars["format_rate"], scalars["response_length_mean"],
                                      scalars["kl"], scalars["entropy"],
                                      scalars.count("eval/avg_at_k")
                                          ? absl::StrFormat(" eval avg@k %.3f", scalars["eval/avg_at_k"])
                                          : ""));
    }
    if (rl.checkpoint().every_steps() > 0 && step % rl.checkpoint().every_steps() == 0) {
      R1_RETURN_IF_ERROR(save(elapsed));
      last_saved = step;
    }
  }
  producer.reset();  // stop generating before the final eval and save
  background_push.Wait();
  if (leader) progress.Finish();
  if (step != first_step && (rl.eval_every() == 0 || step % rl.eval_every() != 0)) {
    Scalars scalars;
    R1_ASSIGN_OR_RETURN(EvalResult eval, evaluate(scalars));
    if (leader && eval.prompts > 0) {
      result.last_eval = eval;
      R1_RETURN_IF_ERROR(metrics.Write(step, scalars));
    }
  }
  if (leader && result.last_eval.prompts > 0) {
    std::fprintf(stderr, "%s: eval at step %lld: %s\n", options.stage.c_str(), static_cast<long long>(step),
                 DescribeEval(result.last_eval).c_str());
  }
  if (leader) R1_RETURN_IF_ERROR(metrics.Flush());
  if (last_saved != step) R1_RETURN_IF_ERROR(save(elapsed));
  result.checkpoint = model::CheckpointDir(checkpoints, step);
  result.steps = step;
  result.seconds = elapsed;
  return result;
}

}  // namespace r1::rl
