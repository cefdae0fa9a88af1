// The pretrain stage of the embedded default: no base weights can be
// downloaded, so a tiny policy learns the embedded tasks from generated
// worked solutions (with a share of wrong steps, data.tasks[].solution_error_rate)
// before the R1 stages start.
//
// run_dir/tokenizer.model   trained on the corpus unless it exists
// run_dir/pretrain/         corpus.txt, checkpoints/, metrics.jsonl,
//                           quality.json (accuracy on held-out prompts)
// run_dir/pretrain_student/ the student's base, with pretrain.student_max_seconds
#ifndef R1_SFT_PRETRAIN_H_
#define R1_SFT_PRETRAIN_H_

#include <string>

#include "absl/status/statusor.h"
#include "eval/task_eval.h"
#include "proto/config.pb.h"
#include "sft/lm_trainer.h"

namespace r1::sft {

struct PretrainOptions {
  bool resume = false;
  bool quality_eval = true;  // measure accuracy on held-out prompts at the end
};

struct PretrainResult {
  TrainerResult training;
  eval::TaskEvalResult quality;  // zero when quality_eval is off
  TrainerResult student;         // steps 0 unless the student base was pretrained
  std::string tokenizer_path;
};

absl::StatusOr<PretrainResult> RunPretrain(const config::RunConfig& run, const std::string& run_dir,
                                           const PretrainOptions& options);

}  // namespace r1::sft

#endif  // R1_SFT_PRETRAIN_H_
