// Accuracy of a model on task prompts: k samples per prompt (and one greedy
// sample), each completion judged by a Judge, the verdicts aggregated by
// eval/accuracy.h (avg@k, pass@k, maj@k, greedy; unscored samples left out
// and counted).
//
// `r1 eval` judges with the reward rules (eval/verdict.h: the same verdict
// the RL learner's evals count), in process or through the reward service;
// see cli/eval_commands.cc. TaskVerifierJudge, the embedded task verifiers,
// remains for the callers that have not moved to the reward rules yet.
#ifndef R1_EVAL_TASK_EVAL_H_
#define R1_EVAL_TASK_EVAL_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "common/tokenizer.h"
#include "eval/verdict.h"
#include "model/causal_lm.h"
#include "model/sampler.h"
#include "proto/config.pb.h"
#include "proto/records.pb.h"
#include "tasks/task.h"

namespace r1::eval {

struct TaskEvalOptions {
  int samples = 8;                   // k
  model::SamplingParams sampling;    // for the k samples
  int64_t max_new_tokens = 96;
  int batch_size = 64;               // completions generated (and judged) together
  uint64_t seed = 0;
  bool greedy = true;                // also measure greedy accuracy
  int keep_examples = 0;             // completions kept for a report (first sample of the first prompts)
  bool keep_all_samples = false;     // keep every sampled completion instead (greedy ones excluded)
};

struct TaskEvalResult {
  int prompts = 0;                 // prompts asked
  int samples = 0;                 // k
  double avg_at_k = 0;             // the @k numbers and greedy: eval/accuracy.h
  double pass_at_k = 0;
  double maj_at_k = 0;
  double greedy = 0;
  int64_t unscored = 0;            // samples (greedy ones included) the judge gave no verdict
  double format_rate = 0;          // share of samples in the reasoning format
  double mean_completion_tokens = 0;
  // Per kept completion: reward and reward_breakdown from the judge, reason
  // "correct", "wrong_answer", "bad_format" or (unscored) the judge's error code.
  std::vector<data::SampleRecord> examples;
};

// One completion for a Judge, with the prompt it answers.
struct CompletionToJudge {
  const data::PromptRecord* prompt = nullptr;
  std::string completion;     // the model's output after the chat template
  int completion_tokens = 0;
  bool truncated = false;     // it stopped at the token budget
};

// Judges a batch: one Judgement per completion, in order. An item it could
// not judge comes back unscored with an error code; a non-OK status (the
// reward service is gone) fails the eval.
using Judge = std::function<absl::StatusOr<std::vector<Judgement>>(const std::vector<CompletionToJudge>&)>;

// Refuses, naming `source` and the task, a task of `prompts` for which
// `judge` has no correctness rule: such a task would score 0 by default, not
// by judgement. Asks the judge about one empty completion per task, so it
// costs no generation. `judge_name` says whose rules these are.
absl::Status CheckJudgeKnowsTasks(const std::vector<data::PromptRecord>& prompts, const Judge& judge,
                                  const std::string& source, const std::string& judge_name);

// k, sampling and token budget from a run config's `eval` section
// (`default_max_new_tokens` when it sets none).
TaskEvalOptions TaskEvalOptionsFromConfig(const config::EvalConfig& config, int64_t default_max_new_tokens);

// The result as one line of JSON (what quality.json and `r1 eval --out`
// hold); "greedy" is null unless `greedy_measured`.
std::string TaskEvalJson(const TaskEvalResult& result, const std::string& checkpoint, bool greedy_measured);

// Generates, judges and aggregates. Unscored items the judge may score on a
// second try (a busy sandbox pool, a deadline) are judged again, twice at
// most. A scored completion without a correctness rule fails the eval
// (FAILED_PRECONDITION naming the task; CheckJudgeKnowsTasks catches it
// before any generation).
absl::StatusOr<TaskEvalResult> EvaluateOnTasks(model::CausalLmImpl& model, const Tokenizer& tokenizer,
                                               const std::vector<data::PromptRecord>& prompts, const Judge& judge,
                                               const TaskEvalOptions& options);

// --- The embedded task verifiers, not the reward rules. --------------------
// Still used by sft/pretrain.cc's quality gate and `r1 distill --compare`,
// which should move to the reward rules (a Judge made in cli/) so that every
// number in a run means the same "correct".

// The verifier for `prompts`: `data`'s task mix when it lists tasks, else one
// task per task name the records use. A record of a task no embedded verifier
// knows (e.g. "math") is refused, naming `source`, rather than counted wrong.
absl::StatusOr<tasks::TaskMix> VerifierForPrompts(const std::vector<data::PromptRecord>& prompts,
                                                  const config::DataConfig* data, const std::string& source);

// `verifier` (which must outlive the judge) as a Judge: IsCorrect of the
// <answer> by each record's task name; it never leaves an item unscored.
Judge TaskVerifierJudge(const tasks::TaskMix& verifier);

// EvaluateOnTasks with TaskVerifierJudge(verifier).
TaskEvalResult EvaluateOnTasks(model::CausalLmImpl& model, const Tokenizer& tokenizer,
                               const std::vector<data::PromptRecord>& prompts, const tasks::TaskMix& verifier,
                               const TaskEvalOptions& options);

}  // namespace r1::eval

#endif  // R1_EVAL_TASK_EVAL_H_
