#include "sft/lm_trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/metrics.h"
#include "common/random.h"
#include "common/status.h"
#include "model/checkpoint.h"
#include "model/lm_loss.h"
#include "model/optimizer.h"
#include "train/training_run.h"

namespace r1::sft {
namespace {

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
  auto optimizer = model::MakeAdamW(model, options.optimizer);

  int64_t cursor = 0, tokens_seen = 0;  // the data position a checkpoint carries
  train::TrainingRunOptions run_options;
  run_options.stage = options.stage;
  run_options.stage_dir = options.stage_dir;
  run_options.tokenizer = options.tokenizer;
  run_options.max_steps = options.max_steps;
  run_options.max_seconds = options.max_seconds;
  run_options.optimizer = options.optimizer;
  run_options.checkpoint = options.checkpoint;
  run_options.resume = options.resume;
  run_options.fill_state = [&](model::TrainingState& state) {
    state.data_cursor = cursor;
    state.tokens_seen = tokens_seen;
  };
  train::TrainingRun run(model, *optimizer, std::move(run_options));
  R1_ASSIGN_OR_RETURN(std::optional<train::ResumePoint> resume, run.FindResumePoint());
  if (resume.has_value()) {
    R1_RETURN_IF_ERROR(run.RestoreFrom(*resume));
    cursor = resume->state.data_cursor;
    tokens_seen = resume->state.tokens_seen;
  }
  R1_RETURN_IF_ERROR(run.Begin());

  DataOrder order(train.rows(), options.seed);
  const torch::Device device = model.device();
  const config::ModelConfig& config = model.config();
  const bool mtp = options.mtp && config.arch() == config::DEEPSEEK_V3 && config.n_mtp_modules() > 0;
  TrainerResult result;
  int64_t run_tokens = 0;
  int64_t skipped_steps = 0;  // non-finite loss or gradient: no update
  while (!run.BudgetSpent()) {
    if (options.stop != nullptr && options.stop->load()) {
      return absl::CancelledError(absl::StrCat(options.stage, ": stopped at step ", run.step()));
    }
    const double lr = run.LearningRate();
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
    skipped_steps += round.skipped ? 1 : 0;
    Scalars scalars(round.expert_balance.begin(), round.expert_balance.end());

    run.CompleteStep();
    cursor += options.batch_size;
    const int64_t batch_tokens = mask.sum().item<int64_t>();
    tokens_seen += batch_tokens;
    run_tokens += batch_tokens;
    result.train_loss = loss.main.item<double>();
    const double tokens_per_second = run_tokens / std::max(run.run_seconds(), 1e-9);
    scalars.insert({{"loss", loss.total.item<double>()}, {"main_loss", result.train_loss},
                    {"mtp_loss", loss.mtp.item<double>()}, {"aux_loss", loss.aux.item<double>()},
                    {"lr", lr},
                    {"grad_norm", round.grad_norm},
                    {"skipped_nonfinite_steps_total", static_cast<double>(skipped_steps)},
                    {"tokens_per_second", tokens_per_second}});
    if (extra.defined()) scalars[options.extra_loss_name] = extra.item<double>();
    if (options.eval_every > 0 && run.step() % options.eval_every == 0 && eval.rows() > 0) {
      scalars["eval_loss"] = EvalLoss(model, eval, options.batch_size);
    }
    R1_RETURN_IF_ERROR(
        run.Log(scalars, absl::StrFormat("loss %.4f lr %.2e %.0f tok/s", result.train_loss, lr, tokens_per_second)));
  }
  run.FinishProgress();
  result.steps = run.step();
  result.seconds = run.elapsed();
  result.tokens_per_second = run_tokens / std::max(run.run_seconds(), 1e-9);
  result.eval_loss = EvalLoss(model, eval, options.batch_size);
  R1_RETURN_IF_ERROR(run.WriteMetrics({{"final_eval_loss", result.eval_loss}}));
  R1_ASSIGN_OR_RETURN(result.checkpoint, run.Finish());
  return result;
}

}  // namespace r1::sft
