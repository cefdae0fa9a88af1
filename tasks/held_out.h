// The held-out prompts: the one set every eval measures on (RL's evals, `r1
// eval`, pretraining's quality check, the report), and that no stage trains
// on. Every source of training data (the pretraining corpus, the cold-start
// set, RL and rejection-sampling prompts, SFT files) drops or replaces the
// prompts in it, compared by normalised text, for generated and file prompts
// alike. Without this, difficulty-1 arithmetic (19,602 distinct prompts)
// let a 50,000-example corpus cover about 92% of the "held-out" set.
#ifndef R1_TASKS_HELD_OUT_H_
#define R1_TASKS_HELD_OUT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/config.pb.h"
#include "proto/records.pb.h"
#include "tasks/task.h"

namespace r1::tasks {

// data.eval_prompts when set (relative to `base_dir`), else data.n_eval items
// drawn from data.tasks with data.eval_seed.
absl::StatusOr<std::vector<data::PromptRecord>> LoadEvalPrompts(const config::DataConfig& data,
                                                                const std::string& base_dir);

// A JSONL file of PromptRecords (data.skip_bad_lines applies); an empty file
// is an error naming it.
absl::StatusOr<std::vector<data::PromptRecord>> ReadPromptFile(const config::DataConfig& data,
                                                               const std::string& path);

// The text two prompts are compared by: Unicode left alone, ASCII letters
// lower-cased, every run of whitespace one space, none at the ends.
std::string NormalizePrompt(std::string_view prompt);

class HeldOutPrompts {
 public:
  HeldOutPrompts() = default;
  explicit HeldOutPrompts(const std::vector<data::PromptRecord>& records);

  bool Contains(std::string_view prompt) const { return normalized_.count(NormalizePrompt(prompt)) > 0; }
  size_t size() const { return normalized_.size(); }

 private:
  std::unordered_set<std::string> normalized_;
};

// The prompt an SFT record trains on: `prompt`, else its first user turn.
std::string_view TrainingPrompt(const data::SftRecord& record);

// `count` worked solutions of `mix` drawn with `seed` from index 0 on,
// skipping any whose prompt is held out (the pretraining corpus and the
// cold-start set). Gives up with an error after 100 x count draws: a task
// whose every prompt is held out.
absl::StatusOr<std::vector<data::SftRecord>> WorkedExamplesApartFrom(const TaskMix& mix, uint64_t seed,
                                                                     int64_t count, const HeldOutPrompts& held_out);

}  // namespace r1::tasks

#endif  // R1_TASKS_HELD_OUT_H_
