#include "train/training_run.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status.h"
#include "model/causal_lm.h"
#include "model/optimizer.h"

namespace r1::train {
namespace {

// Steps timed before a time budget's horizon is estimated from them.
constexpr int64_t kStepsBeforeEstimate = 3;

}  // namespace

TrainingRun::TrainingRun(model::CausalLmImpl& model, torch::optim::AdamW& optimizer, TrainingRunOptions options)
    : model_(model),
      optimizer_(optimizer),
      options_(std::move(options)),
      checkpoints_(absl::StrCat(options_.stage_dir, "/checkpoints")),
      start_(std::chrono::steady_clock::now()) {}

absl::Status TrainingRun::Validate(const TrainingRunOptions& options) {
  if (options.stage_dir.empty()) return absl::InvalidArgumentError(absl::StrCat(options.stage, ": no stage folder"));
  if (options.max_steps <= 0 && options.max_seconds <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(options.stage, ": needs max_steps or max_seconds"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<ResumePoint>> TrainingRun::FindResumePoint() const {
  if (!options_.resume) return std::nullopt;
  absl::StatusOr<std::string> latest = model::LatestCheckpoint(checkpoints_);
  if (!latest.ok()) return std::nullopt;  // nothing to resume: a fresh start
  ResumePoint point;
  point.dir = *latest;
  R1_ASSIGN_OR_RETURN(point.state, model::LoadTrainingState(point.dir));
  return point;
}

absl::Status TrainingRun::RestoreFrom(const ResumePoint& point) {
  R1_RETURN_IF_ERROR(model::RestoreWeights(point.dir, model_));
  if (options_.global_rng && point.state.rng_state.defined()) {
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(point.state.rng_state);
  }
  R1_RETURN_IF_ERROR(model::RestoreOptimizerState(model_, optimizer_, point.state.optimizer));
  step_ = point.state.step;
  elapsed_before_ = point.state.ExtraNumber("elapsed_seconds", 0);
  resumed_ = true;
  if (options_.leader) {
    std::fprintf(stderr, "%s: resuming from %s (step %lld)\n", options_.stage.c_str(), point.dir.c_str(),
                 static_cast<long long>(step_));
  }
  return absl::OkStatus();
}

absl::Status TrainingRun::Begin() {
  R1_RETURN_IF_ERROR(Validate(options_));
  R1_RETURN_IF_ERROR(MakeDirs(options_.stage_dir));
  if (options_.leader) {
    if (!resumed_) {
      std::error_code ec;
      std::filesystem::remove_all(checkpoints_, ec);
      std::filesystem::remove(absl::StrCat(options_.stage_dir, "/metrics.jsonl"), ec);
      std::filesystem::remove_all(absl::StrCat(options_.stage_dir, "/tensorboard"), ec);
    }
    R1_RETURN_IF_ERROR(OpenStageSinks(options_.stage_dir, &metrics_));
    progress_.emplace(options_.stage);
  }
  first_step_ = step_;
  start_ = std::chrono::steady_clock::now();
  return absl::OkStatus();
}

double TrainingRun::run_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

bool TrainingRun::BudgetSpent() {
  double elapsed = this->elapsed();
  if (options_.shared_clock) elapsed = options_.shared_clock(elapsed);
  if (options_.max_steps > 0 && step_ >= options_.max_steps) return true;
  if (options_.max_seconds > 0 && elapsed >= options_.max_seconds) return true;
  if (options_.max_seconds > 0 && step_ - first_step_ >= kStepsBeforeEstimate) {
    const double per_step = (elapsed - elapsed_before_) / static_cast<double>(step_ - first_step_);
    horizon_ = step_ + static_cast<int64_t>((options_.max_seconds - elapsed) / std::max(per_step, 1e-6));
    if (options_.max_steps > 0) horizon_ = std::min(horizon_, options_.max_steps);
  }
  return false;
}

double TrainingRun::LearningRate() const {
  // Under a time budget the schedule has no end until one is estimated.
  const int64_t total = horizon() > 0 ? horizon() : INT64_MAX / 2;
  return model::LearningRate(options_.optimizer, step_, total);
}

absl::Status TrainingRun::Log(const Scalars& scalars, const std::string& progress_detail) {
  if (options_.leader) {
    R1_RETURN_IF_ERROR(metrics_.Write(step_, scalars));
    progress_->Update(step_, horizon(), progress_detail);
  }
  if (options_.checkpoint.every_steps() > 0 && step_ % options_.checkpoint.every_steps() == 0) {
    R1_RETURN_IF_ERROR(Save().status());
  }
  return absl::OkStatus();
}

absl::Status TrainingRun::WriteMetrics(const Scalars& scalars) {
  return options_.leader ? metrics_.Write(step_, scalars) : absl::OkStatus();
}

void TrainingRun::FinishProgress() {
  if (progress_.has_value() && !progress_finished_) progress_->Finish();
  progress_finished_ = true;
}

absl::StatusOr<std::string> TrainingRun::Save() {
  model::TrainingState state;
  state.step = step_;
  state.extra["stage"] = options_.stage;
  state.extra["elapsed_seconds"] = absl::StrCat(elapsed());
  if (options_.fill_state) options_.fill_state(state);  // on every rank: it may be collective
  const std::string dir = model::CheckpointDir(checkpoints_, step_);
  last_saved_ = step_;
  if (!options_.leader) return dir;
  if (options_.global_rng) state.rng_state = at::detail::getDefaultCPUGenerator().get_state();
  state.optimizer = model::OptimizerStateTensors(model_, optimizer_);
  R1_RETURN_IF_ERROR(model::SaveCheckpoint(dir, model_, options_.tokenizer ? &*options_.tokenizer : nullptr, &state));
  R1_RETURN_IF_ERROR(model::PruneCheckpoints(checkpoints_, options_.checkpoint.keep()));
  return dir;
}

absl::StatusOr<std::string> TrainingRun::Finish() {
  FinishProgress();
  if (options_.leader) R1_RETURN_IF_ERROR(metrics_.Flush());
  if (last_saved_ == step_) return model::CheckpointDir(checkpoints_, step_);
  return Save();
}

}  // namespace r1::train
