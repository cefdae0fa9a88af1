// The language-model training loop shared by pretraining, SFT and
// distillation's SFT phase: AdamW with warmup and cosine decay, gradient
// clipping, the MoE bias update after each step, periodic eval loss,
// checkpoints, exact resume, metrics and a progress line.
//
// Exact resume: the data order is a pure function of (seed, epoch), the
// checkpoint holds weights, AdamW moments, step and data position, so a run
// resumed from a checkpoint produces the same losses as one never stopped.
// The loop draws no other random numbers (no dropout), so it neither reads
// nor sets torch's process-wide generator: two trainers can run side by side
// on two threads (pretraining's policy and student) without touching each
// other's results.
#ifndef R1_SFT_LM_TRAINER_H_
#define R1_SFT_LM_TRAINER_H_

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/metrics.h"
#include "common/tokenizer.h"
#include "model/causal_lm.h"
#include "proto/config.pb.h"
#include "sft/packed_dataset.h"

namespace r1::sft {

struct TrainerOptions {
  std::string stage = "train";   // names the stage in logs and checkpoints
  std::string stage_dir;         // holds checkpoints/ and metrics.jsonl
  std::optional<Tokenizer> tokenizer;  // its files go into every checkpoint
  int64_t batch_size = 8;        // rows per step
  int64_t max_steps = 0;         // 0 = time budget only
  double max_seconds = 0;        // 0 = steps only
  int64_t eval_every = 0;        // steps; 0 = only at the end
  config::OptimizerConfig optimizer;
  config::CheckpointConfig checkpoint;
  bool resume = false;           // continue from the newest checkpoint
  uint64_t seed = 1;
  bool mtp = true;               // train the MTP modules when the model has them
  // Set by another thread to end the run early: TrainLm returns CANCELLED
  // before its next step (pretraining stops the student when the policy fails).
  const std::atomic<bool>* stop = nullptr;
  // An extra loss term added to the language-model loss (distillation's KL to
  // the teacher): given the batch's row ids [B] int64 into the training rows,
  // the logits [B, T, V] and the loss mask [B, T], returns a scalar, or an
  // error that ends the run (the teacher's worker did not answer).
  // `extra_loss_name` names it in the metrics.
  std::function<absl::StatusOr<torch::Tensor>(const torch::Tensor& rows, const torch::Tensor& logits,
                                              const torch::Tensor& mask)>
      extra_loss;
  std::string extra_loss_name = "extra_loss";
};

struct TrainerResult {
  int64_t steps = 0;
  double train_loss = 0;         // main loss of the last step
  double eval_loss = 0;          // main loss on the eval rows at the end
  double seconds = 0;            // training wall time, this run plus resumed ones
  double tokens_per_second = 0;  // this run
  std::string checkpoint;        // the final checkpoint folder
};

absl::StatusOr<TrainerResult> TrainLm(model::CausalLmImpl& model, const PackedDataset& train,
                                      const PackedDataset& eval, const TrainerOptions& options);

// Mean main loss over `data` (no gradients).
double EvalLoss(model::CausalLmImpl& model, const PackedDataset& data, int64_t batch_size);

}  // namespace r1::sft

#endif  // R1_SFT_LM_TRAINER_H_
