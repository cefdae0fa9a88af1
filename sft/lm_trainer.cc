#include "sft/lm_trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_util.h"
#include "common/metrics.h"
#include "common/progress.h"
#include "common/random.h"
#include "common/status.h"
#include "model/checkpoint.h"
#include "model/lm_loss.h"
#include "model/optimizer.h"

namespace r1::sft {
namespace {

using Clock = std::chrono::steady_clock;

// Row order of one epoch: a permutation fixed by (seed, epoch).
class DataOrder {
 public:
  DataOrder(int64_t rows, uint64_t seed) : rows_(rows), seed_(seed) {}

  // Row ids for `count` consecutive positions starting at `cursor`.
  torch::Tensor Rows(int64_t cursor, int64_t count) {
    std::vector<int64_t> ids;
    for (int64_t c = cursor; c < cursor + count; ++c) {
      const int64_t epoch = c / rows_;
      if (epoch != epoch_) {
        at::Generator g = at::make_generator<at::CPUGeneratorImpl>(StreamSeed(seed_, static_cast<uint64_t>(epoch)));
        permutation_ = torch::randperm(rows_, g, torch::kInt64);
        epoch_ = epoch;
      }
      ids.push_back(permutation_[c % rows_].item<int64_t>());
    }
    return torch::tensor(ids, torch::kInt64);
  }

 private:
  int64_t rows_;
  uint64_t seed_;
  int64_t epoch_ = -1;
  torch::Tensor permutation_;
};

}  // namespace

double EvalLoss(model::CausalLmImpl& model, const PackedDataset& data, int64_t batch_size) {
  if (data.rows() == 0) return 0;
  torch::NoGradGuard no_grad;
  double weighted = 0, targets = 0;
  for (int64_t start = 0; start < data.rows(); start += batch_size) {
    const int64_t n = std::min(batch_size, data.rows() - start);
    const torch::Tensor tokens = data.tokens.narrow(0, start, n).to(model.device());
    const torch::Tensor mask = data.loss_mask.narrow(0, start, n).to(model.device());
    model::ForwardOptions options;
    options.segment_ids = data.segment_ids.narrow(0, start, n);
    const model::LmLoss loss = model::ComputeLmLoss(model.Forward(tokens, nullptr, options), tokens, 0, mask);
    const double count = mask.narrow(1, 1, mask.size(1) - 1).sum().item<double>();
    weighted += loss.main.item<double>() * count;
    targets += count;
  }
  return targets > 0 ? weighted / targets : 0;
}

absl::StatusOr<TrainerResult> TrainLm(model::CausalLmImpl& model, const PackedDataset& train,
                                      const PackedDataset& eval, const TrainerOptions& options) {
  if (train.rows() == 0) return absl::InvalidArgumentError(absl::StrCat(options.stage, ": no training data"));
  if (options.max_steps <= 0 && options.max_seconds <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(options.stage, ": needs max_steps or max_seconds"));
  }
  R1_RETURN_IF_ERROR(MakeDirs(options.stage_dir));
  const std::string checkpoints = absl::StrCat(options.stage_dir, "/checkpoints");
  auto optimizer = model::MakeAdamW(model, options.optimizer);

  int64_t step = 0, cursor = 0, tokens_seen = 0;
  double elapsed_before = 0;
  // Steps the learning-rate schedule spans: max_steps, or with a time budget
  // the steps done plus those the remaining time allows at this run's mean
  // step time, re-estimated every step so the decay ends when the time does.
  int64_t horizon = options.max_seconds > 0 ? 0 : options.max_steps;
  if (options.resume) {
    if (absl::StatusOr<std::string> latest = model::LatestCheckpoint(checkpoints); latest.ok()) {
      R1_RETURN_IF_ERROR(model::RestoreWeights(*latest, model));
      R1_ASSIGN_OR_RETURN(model::TrainingState state, model::LoadTrainingState(*latest));
      R1_RETURN_IF_ERROR(model::RestoreOptimizerState(model, *optimizer, state.optimizer));
      step = state.step;
      cursor = state.data_cursor;
      tokens_seen = state.tokens_seen;
      elapsed_before = state.ExtraNumber("elapsed_seconds", 0);
      std::fprintf(stderr, "%s: resuming from %s (step %lld)\n", options.stage.c_str(), latest->c_str(),
                   static_cast<long long>(step));
    }
  }

  const std::string metrics_path = absl::StrCat(options.stage_dir, "/metrics.jsonl");
  if (step == 0) {
    // A fresh start: checkpoints and metrics of an earlier run in the same
    // folder would be mistaken for this run's (and pruned against it).
    std::error_code ec;
    std::filesystem::remove_all(checkpoints, ec);
    std::filesystem::remove(metrics_path, ec);
    std::filesystem::remove_all(absl::StrCat(options.stage_dir, "/tensorboard"), ec);
  }
  MetricsFanout metrics;
  R1_RETURN_IF_ERROR(OpenStageSinks(options.stage_dir, &metrics));
  DataOrder order(train.rows(), options.seed);
  ProgressLine progress(options.stage);
  const torch::Device device = model.device();
  const config::ModelConfig& config = model.config();
  const bool mtp = options.mtp && config.arch() == config::DEEPSEEK_V3 && config.n_mtp_modules() > 0;

  const auto save = [&](int64_t at_step, double elapsed) -> absl::StatusOr<std::string> {
    model::TrainingState state;
    state.step = at_step;
    state.data_cursor = cursor;
    state.tokens_seen = tokens_seen;
    state.optimizer = model::OptimizerStateTensors(model, *optimizer);
    state.extra["stage"] = options.stage;
    state.extra["elapsed_seconds"] = absl::StrCat(elapsed);
    const std::string dir = model::CheckpointDir(checkpoints, at_step);
    R1_RETURN_IF_ERROR(model::SaveCheckpoint(dir, model, options.tokenizer_path, &state));
    R1_RETURN_IF_ERROR(model::PruneCheckpoints(checkpoints, options.checkpoint.keep()));
    return dir;
  };

  TrainerResult result;
  const Clock::time_point start = Clock::now();
  const int64_t first_step = step;
  int64_t run_tokens = 0;
  int64_t last_saved = -1;
  int64_t skipped_steps = 0;  // non-finite loss or gradient: no update
  double elapsed = elapsed_before;
  while (true) {
    elapsed = elapsed_before + std::chrono::duration<double>(Clock::now() - start).count();
    if (options.stop != nullptr && options.stop->load()) {
      return absl::CancelledError(absl::StrCat(options.stage, ": stopped at step ", step));
    }
    if (options.max_steps > 0 && step >= options.max_steps) break;
    if (options.max_seconds > 0 && elapsed >= options.max_seconds) break;
    if (options.max_seconds > 0 && step - first_step >= 3) {
      const double per_step = (elapsed - elapsed_before) / static_cast<double>(step - first_step);
      horizon = step + static_cast<int64_t>((options.max_seconds - elapsed) / std::max(per_step, 1e-6));
      if (options.max_steps > 0) horizon = std::min(horizon, options.max_steps);
    }
    const double lr = model::LearningRate(options.optimizer, step, horizon > 0 ? horizon : INT64_MAX / 2);
    const torch::Tensor rows = order.Rows(cursor, options.batch_size);
    const torch::Tensor tokens = train.tokens.index_select(0, rows).to(device);
    const torch::Tensor mask = train.loss_mask.index_select(0, rows).to(device);

    model::ClearGradients(model);
    model::ForwardOptions forward;
    forward.compute_mtp = mtp;
    forward.compute_aux_loss = true;
    forward.record_expert_load = true;
    forward.segment_ids = train.segment_ids.index_select(0, rows);
    forward.expert_load_mask = (forward.segment_ids > 0).to(device);  // padding does not steer the balance
    const model::ForwardResult output = model.Forward(tokens, nullptr, forward);
    const model::LmLoss loss = model::ComputeLmLoss(output, tokens, config.mtp_loss_weight(), mask);
    torch::Tensor extra;
    if (options.extra_loss) {
      R1_ASSIGN_OR_RETURN(extra, options.extra_loss(rows, output.logits, mask));
    }
    const torch::Tensor total = extra.defined() ? loss.total + extra : loss.total;
    total.backward();
    // A non-finite loss or gradient skips the update (weights, AdamW state and
    // the MoE bias stay as they were) and is counted; the data moves on.
    const model::OptimizerRound round = model::GuardedOptimizerStep(
        model, *optimizer, lr, options.optimizer.grad_clip(), std::isfinite(total.item<double>()));
    const double grad_norm = round.grad_norm;
    skipped_steps += round.skipped ? 1 : 0;
    Scalars scalars(round.expert_balance.begin(), round.expert_balance.end());

    ++step;
    cursor += options.batch_size;
    const int64_t batch_tokens = mask.sum().item<int64_t>();
    tokens_seen += batch_tokens;
    run_tokens += batch_tokens;
    const double run_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    result.train_loss = loss.main.item<double>();
    scalars.insert({{"loss", loss.total.item<double>()}, {"main_loss", result.train_loss},
                    {"mtp_loss", loss.mtp.item<double>()}, {"aux_loss", loss.aux.item<double>()},
                    {"lr", lr},
                    {"grad_norm", grad_norm},
                    {"skipped_nonfinite_steps_total", static_cast<double>(skipped_steps)},
                    {"tokens_per_second", run_tokens / std::max(run_seconds, 1e-9)}});
    if (extra.defined()) scalars[options.extra_loss_name] = extra.item<double>();
    if (options.eval_every > 0 && step % options.eval_every == 0 && eval.rows() > 0) {
      scalars["eval_loss"] = EvalLoss(model, eval, options.batch_size);
    }
    R1_RETURN_IF_ERROR(metrics.Write(step, scalars));
    progress.Update(step, horizon > 0 ? horizon : options.max_steps,
                    absl::StrFormat("loss %.4f lr %.2e %.0f tok/s", result.train_loss, lr, scalars["tokens_per_second"]));
    if (options.checkpoint.every_steps() > 0 && step % options.checkpoint.every_steps() == 0) {
      R1_RETURN_IF_ERROR(save(step, elapsed_before + run_seconds).status());
      last_saved = step;
    }
  }
  progress.Finish();
  result.steps = step;
  result.seconds = elapsed;
  const double run_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.tokens_per_second = run_tokens / std::max(run_seconds, 1e-9);
  result.eval_loss = EvalLoss(model, eval, options.batch_size);
  R1_RETURN_IF_ERROR(metrics.Write(step, {{"final_eval_loss", result.eval_loss}}));
  R1_RETURN_IF_ERROR(metrics.Flush());
  if (last_saved == step) {
    result.checkpoint = model::CheckpointDir(checkpoints, step);
  } else {
    R1_ASSIGN_OR_RETURN(result.checkpoint, save(step, elapsed));
  }
  return result;
}

}  // namespace r1::sft
