// The skeleton every training loop shares (the LM trainer of pretraining,
// SFT and distillation, and the GRPO learner): resume or fresh start, the
// step and time budget, the learning-rate horizon, metrics sinks, the
// progress line, and checkpoints saved and pruned. The loops keep only what
// is theirs: their data, their loss, their extra checkpoint fields.
//
//   TrainingRun run(model, optimizer, options);
//   R1_ASSIGN_OR_RETURN(std::optional<ResumePoint> resume, run.FindResumePoint());
//   if (resume) { ...check resume->state...; R1_RETURN_IF_ERROR(run.RestoreFrom(*resume)); }
//   R1_RETURN_IF_ERROR(run.Begin());        // a fresh start wipes old outputs
//   while (!run.BudgetSpent()) {
//     ... one optimizer step at run.LearningRate() ...
//     run.CompleteStep();
//     R1_RETURN_IF_ERROR(run.Log(scalars, "loss 1.23"));  // metrics, progress, periodic save
//   }
//   R1_ASSIGN_OR_RETURN(std::string checkpoint, run.Finish());
//
// Data parallel: every rank holds a TrainingRun; only the one with
// `leader` set writes metrics, progress and checkpoints. `shared_clock`
// makes every rank use rank 0's elapsed time, so they stop and schedule the
// learning rate alike.
#ifndef R1_TRAIN_TRAINING_RUN_H_
#define R1_TRAIN_TRAINING_RUN_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/metrics.h"
#include "common/progress.h"
#include "common/tokenizer.h"
#include "model/checkpoint.h"
#include "proto/config.pb.h"

namespace torch::optim {
class AdamW;
}
namespace r1::model {
class CausalLmImpl;
}

namespace r1::train {

struct TrainingRunOptions {
  std::string stage = "train";         // names the stage in logs and checkpoints
  std::string stage_dir;               // holds checkpoints/, metrics.jsonl and tensorboard/
  std::optional<Tokenizer> tokenizer;  // its files go into every checkpoint (and the chat template)
  int64_t max_steps = 0;               // 0 = time budget only
  double max_seconds = 0;              // 0 = steps only (a safety cap, never the embedded default's budget)
  config::OptimizerConfig optimizer;   // the learning-rate schedule
  config::CheckpointConfig checkpoint; // every_steps, keep
  bool resume = false;                 // continue from the newest checkpoint
  bool leader = true;                  // writes metrics, progress and checkpoints
  // Saves and restores torch's process-wide CPU generator with the
  // checkpoint (the learner samples from it; the LM trainer never touches it).
  bool global_rng = false;
  // Adds the loop's own fields to a checkpoint's state. Called on every rank
  // by Save (it may make collective calls); only the leader writes.
  std::function<void(model::TrainingState&)> fill_state;
  // This process's elapsed seconds in, the run's out (rank 0's, all-reduced).
  // Unset: this process's clock.
  std::function<double(double)> shared_clock;
};

// The newest checkpoint of a run being resumed, its state read but nothing
// restored yet (the loop checks it first: world size, starting checkpoint).
struct ResumePoint {
  std::string dir;
  model::TrainingState state;
};

class TrainingRun {
 public:
  TrainingRun(model::CausalLmImpl& model, torch::optim::AdamW& optimizer, TrainingRunOptions options);
  TrainingRun(const TrainingRun&) = delete;
  TrainingRun& operator=(const TrainingRun&) = delete;

  // A budget of steps or seconds, a stage folder: INVALID_ARGUMENT naming
  // the stage when missing.
  static absl::Status Validate(const TrainingRunOptions& options);

  // With options.resume and a checkpoint in stage_dir/checkpoints: the newest.
  absl::StatusOr<std::optional<ResumePoint>> FindResumePoint() const;
  // Weights, AdamW moments, step, elapsed time (and the global generator when
  // options.global_rng) from `point`; says so on stderr (leader).
  absl::Status RestoreFrom(const ResumePoint& point);

  // Starts the clock and opens the metrics sinks (leader). A run that did not
  // resume first removes an earlier run's checkpoints, metrics and event
  // files in its folder, which would otherwise be taken for (and pruned
  // against) this run's.
  absl::Status Begin();

  // Whether the step or time budget is spent; every rank calls it (with a
  // shared_clock it is collective). Under a time budget, also
  // re-estimates the learning-rate horizon from this run's mean step time, so
  // the decay ends when the time does.
  bool BudgetSpent();
  // The schedule's learning rate for the step about to be taken.
  double LearningRate() const;
  // Counts the step just taken.
  void CompleteStep() { ++step_; }
  // Writes `scalars` as step step()'s metrics, redraws the progress line with
  // `progress_detail`, and saves every checkpoint.every_steps steps.
  absl::Status Log(const Scalars& scalars, const std::string& progress_detail);
  // A metrics line outside the step cadence (an eval after the last step).
  absl::Status WriteMetrics(const Scalars& scalars);
  // Ends the progress line (before printing results under it).
  void FinishProgress();
  // Writes checkpoint step_<step> (weights, AdamW moments, step, elapsed
  // time, what fill_state adds) and prunes to checkpoint.keep. Every rank
  // calls it; the folder is returned on every rank.
  absl::StatusOr<std::string> Save();
  // Flushes metrics and saves the last step unless already saved; returns
  // the final checkpoint folder.
  absl::StatusOr<std::string> Finish();

  int64_t step() const { return step_; }
  int64_t first_step() const { return first_step_; }
  bool resumed() const { return resumed_; }
  // Seconds of training, this run plus the runs it resumed, by this
  // process's clock (BudgetSpent decides by the shared one).
  double elapsed() const { return elapsed_before_ + run_seconds(); }
  // Seconds since Begin, this process only.
  double run_seconds() const;
  // The schedule's length in steps: max_steps, or the time budget's estimate.
  int64_t horizon() const { return horizon_ > 0 ? horizon_ : options_.max_steps; }
  const std::string& checkpoints_dir() const { return checkpoints_; }
  const TrainingRunOptions& options() const { return options_; }

 private:
  model::CausalLmImpl& model_;
  torch::optim::AdamW& optimizer_;
  TrainingRunOptions options_;
  std::string checkpoints_;
  MetricsFanout metrics_;
  std::optional<ProgressLine> progress_;
  std::chrono::steady_clock::time_point start_;
  int64_t step_ = 0;
  int64_t first_step_ = 0;
  int64_t horizon_ = 0;  // 0 = not estimated (a step budget, or too early to tell)
  int64_t last_saved_ = -1;
  double elapsed_before_ = 0;  // seconds of the runs this one resumed
  bool resumed_ = false;
  bool progress_finished_ = false;
};

}  // namespace r1::train

#endif  // R1_TRAIN_TRAINING_RUN_H_
