#include "rl/grpo_step.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <utility>

#include "model/causal_lm.h"
#include "model/optimizer.h"
#include "model/sampler.h"
#include "rl/distributed.h"

namespace r1::rl {
namespace {

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

// `rows` in chunks of `chunk` (0 or less: one chunk).
std::vector<std::vector<int64_t>> Split(const std::vector<int64_t>& rows, int64_t chunk) {
  std::vector<std::vector<int64_t>> chunks;
  if (chunk <= 0) chunk = std::max<int64_t>(1, static_cast<int64_t>(rows.size()));
  for (size_t i = 0; i < rows.size(); i += static_cast<size_t>(chunk)) {
    chunks.emplace_back(rows.begin() + static_cast<int64_t>(i),
                        rows.begin() + static_cast<int64_t>(std::min(rows.size(), i + static_cast<size_t>(chunk))));
  }
  return chunks;
}

// One mini-batch's size over every rank: what each micro-batch's share of
// the aggregated loss is measured against.
struct MiniBatchCounts {
  double tokens = 0;                 // completion tokens in the loss
  double sequences_with_tokens = 0;
  double sequences = 0;              // in the loss or not
};

// Per mini-batch b < updates (a rank with fewer sequences has empty ones, so
// every rank reduces the same vector).
std::vector<MiniBatchCounts> CountMiniBatches(const std::vector<Sequence>& sequences,
                                              const std::vector<std::vector<int64_t>>& minis, int64_t updates,
                                              DataParallel* dp) {
  std::vector<double> flat(static_cast<size_t>(3 * updates), 0.0);
  for (size_t b = 0; b < minis.size(); ++b) {
    for (int64_t row : minis[b]) {
      const Sequence& s = sequences[static_cast<size_t>(row)];
      const double tokens = s.in_loss ? static_cast<double>(s.old_logprobs.size()) : 0.0;
      flat[3 * b] += tokens;
      flat[3 * b + 1] += tokens > 0 ? 1 : 0;
      flat[3 * b + 2] += 1;
    }
  }
  if (dp != nullptr) dp->AllReduceSum(flat);
  std::vector<MiniBatchCounts> counts(static_cast<size_t>(updates));
  for (size_t b = 0; b < counts.size(); ++b) counts[b] = {flat[3 * b], flat[3 * b + 1], flat[3 * b + 2]};
  return counts;
}

// A micro-batch's share of its global mini-batch under the aggregation.
double MicroBatchShare(config::LossAggregation aggregation, const MicroBatch& mb, const MiniBatchCounts& mini) {
  switch (aggregation) {
    case config::SEQUENCE_MEAN:
      return (mb.mask.sum(1) > 0).sum().item<double>() / std::max(1.0, mini.sequences_with_tokens);
    case config::SUM_NORM:
      return static_cast<double>(mb.mask.size(0)) / std::max(1.0, mini.sequences);
    default:
      return mb.mask.sum().item<double>() / std::max(1.0, mini.tokens);
  }
}

// Token-weighted sums of the loss metrics over micro-batches.
struct LossSums {
  double tokens = 0, loss = 0, policy_loss = 0, kl = 0, clip_fraction = 0, ratio = 0, entropy = 0, objective = 0;
  void Add(const GrpoLoss& l, double loss_value, double n, double share) {
    tokens += n;
    loss += loss_value * n;
    policy_loss += l.policy_loss * n;
    kl += l.kl * n;
    clip_fraction += l.clip_fraction * n;
    ratio += l.ratio_mean * n;
    entropy += l.entropy * n;
    objective += loss_value * share;
  }
  void AddTo(StepStats& stats) const {
    stats.trained_tokens += tokens;
    stats.loss_sum += loss;
    stats.policy_loss_sum += policy_loss;
    stats.kl_sum += kl;
    stats.clip_fraction_sum += clip_fraction;
    stats.ratio_sum += ratio;
    stats.entropy_sum += entropy;
    stats.objective += objective;
  }
};

// |learner - old| over the mask: how far the old logprobs are from the
// learner's own before this batch's first update (logprob_mismatch).
void MeasureMismatch(const MicroBatch& mb, const torch::Tensor& learner_logprobs, StepStats& stats) {
  const torch::Tensor diff = (learner_logprobs.detach().cpu() - mb.old_logprobs).abs() * mb.mask;
  stats.mismatch_sum += diff.sum().item<double>();
  stats.mismatch_tokens += mb.mask.sum().item<double>();
}

// Replaces every sequence's old logprobs with the policy's own (no grad).
void RecomputeOldLogprobs(model::CausalLmImpl& policy, std::vector<Sequence>& sequences,
                          const std::vector<int64_t>& rows_in_order, const GrpoUpdateOptions& options,
                          StepStats& stats) {
  torch::NoGradGuard no_grad;
  for (const std::vector<int64_t>& rows : Split(rows_in_order, options.micro_batch_size)) {
    const MicroBatch mb = MakeMicroBatch(sequences, rows, options.pad_id);
    const torch::Tensor recomputed = ScoreTargets(policy, mb, options.temperature, false, false).logprobs.cpu();
    MeasureMismatch(mb, recomputed, stats);
    for (size_t i = 0; i < rows.size(); ++i) {
      Sequence& s = sequences[static_cast<size_t>(rows[i])];
      for (size_t j = 0; j < s.old_logprobs.size(); ++j) {
        s.old_logprobs[j] =
            recomputed[static_cast<int64_t>(i)][s.completion_start + static_cast<int64_t>(j) - 1].item<float>();
      }
    }
  }
}

// Forward and backward of one mini-batch's micro-batches on this rank,
// gradients accumulated. Returns the loss sums; `loss_finite` turns false on
// a non-finite micro-batch loss.
LossSums AccumulateMiniBatch(model::CausalLmImpl& policy, model::CausalLmImpl* reference,
                             const std::vector<Sequence>& sequences, const std::vector<int64_t>& rows_of_mini,
                             const MiniBatchCounts& counts, const GrpoUpdateOptions& options, int world,
                             bool measure_mismatch, StepStats& stats, bool& loss_finite) {
  LossSums sums;
  const torch::Device device = policy.device();
  for (const std::vector<int64_t>& rows : Split(rows_of_mini, options.micro_batch_size)) {
    const MicroBatch mb = MakeMicroBatch(sequences, rows, options.pad_id);
    const Scored scored = ScoreTargets(policy, mb, options.temperature, /*record_load=*/true, /*want_entropy=*/true,
                                       /*entropy_grad=*/options.loss.entropy_coef > 0);
    if (measure_mismatch) MeasureMismatch(mb, scored.logprobs, stats);
    GrpoLossInputs inputs;
    inputs.logprobs = scored.logprobs;
    inputs.old_logprobs = mb.old_logprobs.to(device);
    inputs.advantages = mb.advantages.to(device);
    inputs.mask = mb.mask.to(device);
    inputs.entropy = scored.entropy;
    if (reference != nullptr) {
      torch::NoGradGuard no_grad;
      inputs.ref_logprobs = ScoreTargets(*reference, mb, options.temperature, false, false).logprobs;
    }
    const GrpoLoss loss = ComputeGrpoLoss(inputs, options.loss);
    const double loss_value = loss.loss.item<double>();
    loss_finite = loss_finite && std::isfinite(loss_value);
    const double share = MicroBatchShare(options.loss.aggregation, mb, counts);
    // Times the world size because AverageGradients divides by it.
    (loss.loss * (share * world)).backward();
    sums.Add(loss, loss_value, mb.mask.sum().item<double>(), share);
  }
  return sums;
}

}  // namespace

MicroBatch MakeMicroBatch(const std::vector<Sequence>& sequences, const std::vector<int64_t>& rows, int pad_id) {
  int64_t length = 2;
  for (int64_t r : rows) length = std::max<int64_t>(length, static_cast<int64_t>(sequences[r].tokens.size()));
  const int64_t n = static_cast<int64_t>(rows.size());
  torch::Tensor tokens = torch::full({n, length}, pad_id, torch::kInt64);  // [n, L]
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

GrpoUpdateOptions GrpoUpdateOptionsFor(const config::RlConfig& rl) {
  GrpoUpdateOptions options;
  options.loss.clip_eps_low = rl.clip_eps_low();
  options.loss.clip_eps_high = rl.clip_eps_high();
  options.loss.dual_clip_c = rl.dual_clip_c();
  options.loss.kl_coef = rl.kl_coef();
  options.loss.kl_estimator = rl.kl_estimator();
  options.loss.aggregation = rl.loss_aggregation();
  options.loss.sum_norm_tokens = rl.sum_norm_tokens() > 0 ? rl.sum_norm_tokens() : rl.sampling().max_new_tokens();
  options.loss.entropy_coef = rl.entropy_coef();
  options.temperature = rl.sampling().temperature();
  options.updates = rl.updates_per_batch();
  options.micro_batch_size = rl.micro_batch_size();
  options.recompute_old_logprobs = rl.old_logprobs() == config::RECOMPUTE;
  options.grad_clip = rl.optimizer().grad_clip();
  return options;
}

StepStats GrpoUpdate(model::CausalLmImpl& policy, model::CausalLmImpl* reference, torch::optim::AdamW& optimizer,
                     std::vector<Sequence>& sequences, const GrpoUpdateOptions& options, DataParallel* dp) {
  StepStats stats;
  const int world = dp != nullptr ? dp->world_size() : 1;
  const bool leader = dp == nullptr || dp->rank() == 0;
  const int64_t n = static_cast<int64_t>(sequences.size());
  std::vector<int64_t> all_rows(static_cast<size_t>(n));
  std::iota(all_rows.begin(), all_rows.end(), 0);
  const int64_t updates = options.updates;
  const std::vector<std::vector<int64_t>> minis = Split(all_rows, std::max<int64_t>(1, (n + updates - 1) / updates));
  // Global counts first, so every rank scales its share the same way.
  const std::vector<MiniBatchCounts> counts = CountMiniBatches(sequences, minis, updates, dp);

  // The old logprobs and the learner's are compared either way
  // (logprob_mismatch): over the whole batch when recomputing, over the first
  // mini-batch's forward (before any update of this batch) when not.
  if (options.recompute_old_logprobs && n > 0) RecomputeOldLogprobs(policy, sequences, all_rows, options, stats);

  for (size_t b = 0; b < static_cast<size_t>(updates); ++b) {
    model::ClearGradients(policy);
    LossSums mini;
    bool loss_finite = true;
    if (b < minis.size()) {
      mini = AccumulateMiniBatch(policy, reference, sequences, minis[b], counts[b], options, world,
                                 /*measure_mismatch=*/b == 0 && !options.recompute_old_logprobs, stats, loss_finite);
    }
    if (dp != nullptr) dp->AverageGradients(policy);
    // A non-finite loss on one rank skips the step on every rank. (A
    // non-finite gradient anywhere is already in every rank's average.)
    std::vector<double> nonfinite_losses = {loss_finite ? 0.0 : 1.0};
    if (dp != nullptr) dp->AllReduceSum(nonfinite_losses);
    model::OptimizerRound round =
        model::GuardedOptimizerStep(policy, optimizer, options.lr, options.grad_clip, nonfinite_losses[0] == 0);
    if (round.skipped) {
      ++stats.rounds_skipped;
      if (leader) {
        std::fprintf(stderr, "%s, mini-batch %zu: %s not finite (gradient norm %g); update skipped\n",
                     options.log_prefix.c_str(), b, nonfinite_losses[0] > 0 ? "loss" : "gradient norm",
                     round.grad_norm);
      }
      continue;
    }
    ++stats.rounds_taken;
    stats.grad_norm_sum += round.grad_norm;
    stats.grad_norm_max = std::max(stats.grad_norm_max, round.grad_norm);
    mini.AddTo(stats);
    stats.expert_balance = std::move(round.expert_balance);
  }
  model::ClearGradients(policy);
  return stats;
}

}  // namespace r1::rl
