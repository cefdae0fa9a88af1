// Accuracy of a model on embedded-task prompts: k samples per prompt, each
// completion's <answer> checked by the task's verifier.
//
//   avg@k   mean over prompts of the fraction of k samples that are correct
//           (pass@1 averaged over k samples: the headline number)
//   pass@k  fraction of prompts with at least one correct sample
//   maj@k   fraction of prompts whose most common answer is correct
//   greedy  accuracy of one temperature-0 completion per prompt
#ifndef R1_EVAL_TASK_EVAL_H_
#define R1_EVAL_TASK_EVAL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "common/tokenizer.h"
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
  int batch_size = 64;               // completions generated together
  uint64_t seed = 0;
  bool greedy = true;                // also measure greedy accuracy
  int keep_examples = 0;             // completions kept for a report (first sample of the first prompts)
};

struct TaskEvalResult {
  int prompts = 0;
  int samples = 0;
  double avg_at_k = 0;
  double pass_at_k = 0;
  double maj_at_k = 0;
  double greedy = 0;
  double format_rate = 0;          // share of samples in the reasoning format
  double mean_completion_tokens = 0;
  std::vector<data::SampleRecord> examples;  // options.keep_examples of them
};

// k, sampling and token budget from a run config's `eval` section
// (`default_max_new_tokens` when it sets none).
TaskEvalOptions TaskEvalOptionsFromConfig(const config::EvalConfig& config, int64_t default_max_new_tokens);

// The result as one line of JSON (what quality.json and `r1 eval --out`
// hold); "greedy" is null unless `greedy_measured`.
std::string TaskEvalJson(const TaskEvalResult& result, const std::string& checkpoint, bool greedy_measured);

// The verifier for `prompts`: `data`'s task mix when it lists tasks, else one
// task per task name the records use. A record of a task no embedded verifier
// knows (e.g. "math") is refused, naming `source`, rather than counted wrong.
absl::StatusOr<tasks::TaskMix> VerifierForPrompts(const std::vector<data::PromptRecord>& prompts,
                                                  const config::DataConfig* data, const std::string& source);

// `verifier` supplies IsCorrect by each record's task name.
TaskEvalResult EvaluateOnTasks(model::CausalLmImpl& model, const Tokenizer& tokenizer,
                               const std::vector<data::PromptRecord>& prompts, const tasks::TaskMix& verifier,
                               const TaskEvalOptions& options);

}  // namespace r1::eval

#endif  // R1_EVAL_TASK_EVAL_H_
