// Supervised fine-tuning on a JSONL dataset: cold-start SFT, SFT on
// rejection-sampled data, and distillation's SFT of a student on teacher
// traces all run through here.
//
// Records are proto/records.proto SftRecord lines: `prompt` + `response`, or
// `messages` (every assistant turn is a target). They go through the chat
// template (common/chat_template.h), the loss covers response tokens only,
// and examples are packed into rows with attention kept within each example
// (sft/packed_dataset.h). The eval split is `sft.eval_file`, or a seeded
// `eval_fraction` of the training file held out.
//
// stage_dir/  checkpoints/, metrics.jsonl (the same sink as every stage)
#ifndef R1_SFT_SFT_STAGE_H_
#define R1_SFT_SFT_STAGE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "proto/config.pb.h"
#include "sft/lm_trainer.h"
#include "tasks/held_out.h"

namespace r1::sft {

struct SftStageOptions {
  std::string stage = "sft";     // names the stage in logs and checkpoints
  std::string stage_dir;
  config::SftConfig sft;
  std::string base_dir;          // relative sft.train_file / eval_file resolve against it
  // Records whose prompt (or first user turn) is one of these held-out eval
  // prompts are dropped from the training file, with a count in the log.
  tasks::HeldOutPrompts held_out;
  // The starting weights: a checkpoint (its tokenizer comes along), or a
  // fresh model of `fresh_model` (a distillation student) with `tokenizer_path`.
  std::string init_checkpoint;
  const config::ModelConfig* fresh_model = nullptr;
  std::string tokenizer_path;
  // A .jinja file for a model without a chat template (data.chat_template).
  std::string chat_template;
  uint64_t seed = 1;
  bool resume = false;
  // Called with the model, the packed train rows and their per-example
  // placement before training starts (distillation fetches the teacher's
  // top-k logprobs here and installs an extra loss).
  std::function<absl::Status(model::CausalLmImpl&, const PackedDataset&, TrainerOptions&)> before_training;
};

struct SftStageResult {
  TrainerResult training;
  int64_t train_examples = 0;
  int64_t eval_examples = 0;
  int64_t truncated = 0;         // train examples longer than sft.seq_len, cut
};

absl::StatusOr<SftStageResult> RunSft(const SftStageOptions& options);

}  // namespace r1::sft

#endif  // R1_SFT_SFT_STAGE_H_
