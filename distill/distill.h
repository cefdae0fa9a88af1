// Distillation into a dense student (DeepSeek-R1 §2.4): a fresh Llama-layout
// student trained on the teacher's traces, i.e. SFT on rejection-sampled data,
// and by option a token-level KL to the teacher's top-k next-token
// distribution, which a rollout worker serving the teacher computes
// (ScoreTokens). The student shares the teacher's tokenizer; its size is its
// own (run.student).
//
// The KL is over the teacher's top-k tokens at each target position t
// (p = teacher's top-k probabilities renormalised, q = the student's):
//   forward  sum_j p_j (log p_j - log q_j)    (q over the whole vocabulary)
//   reverse  sum_j q'_j (log q'_j - log p_j)  (q' = q renormalised over the k)
//   mix      the mean of the two
// averaged over target tokens; loss = CE + kl_weight * KL.
#ifndef R1_DISTILL_DISTILL_H_
#define R1_DISTILL_DISTILL_H_

#include <string>

#include "absl/status/statusor.h"
#include "proto/config.pb.h"
#include "sft/sft_stage.h"
#include "tasks/held_out.h"

namespace r1 {
namespace rollout {
class RolloutPool;
}

namespace distill {

struct DistillOptions {
  config::DistillConfig config;
  config::ModelConfig student;
  std::string stage_dir;
  std::string base_dir;            // relative data paths resolve against it
  tasks::HeldOutPrompts held_out;  // traces of these eval prompts are not trained on
  std::string teacher_checkpoint;  // its tokenizer is the student's
  std::string chat_template;       // a .jinja file when the teacher has no template (data.chat_template)
  std::string student_init;        // the student's pretrained base; empty = random weights
  // Workers serving the teacher; needed only when config.kl_weight > 0.
  rollout::RolloutPool* teacher_pool = nullptr;
  uint64_t seed = 1;
  bool resume = false;
};

absl::StatusOr<sft::SftStageResult> RunDistill(const DistillOptions& options);

// The KL term above for one batch. student_logits [B, T, V]; teacher_ids and
// teacher_logprobs [B, T, K] hold, at target position t, the teacher's top-k
// for token t (position 0 unused); mask [B, T] marks target tokens.
torch::Tensor TopKDistillationLoss(const torch::Tensor& student_logits, const torch::Tensor& teacher_ids,
                                   const torch::Tensor& teacher_logprobs, const torch::Tensor& mask,
                                   const std::string& direction);

}  // namespace distill
}  // namespace r1

#endif  // R1_DISTILL_DISTILL_H_
