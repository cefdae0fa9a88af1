// Embedded reasoning tasks: seeded generators of verifiable problems, each able
// to write a worked chain-of-thought solution and to check a final answer.
// They supply the pretraining corpus, the cold-start SFT set and RL prompts
// when no weights or datasets can be downloaded.
//
// Determinism: item `index` of stream `seed` is a pure function of
// (task config, seed, index), the same on every machine (common/random.h).
#ifndef R1_TASKS_TASK_H_
#define R1_TASKS_TASK_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/random.h"
#include "proto/config.pb.h"
#include "proto/records.pb.h"

namespace r1::tasks {

struct WorkedSolution {
  std::string reasoning;  // the text between <think> and </think>
  std::string answer;     // the text between <answer> and </answer>
  bool has_error = false; // a step was made wrong on purpose
};

class Task {
 public:
  virtual ~Task() = default;

  // "arithmetic", "countdown", "linear_equation": the PromptRecord.task value.
  virtual absl::string_view name() const = 0;

  virtual data::PromptRecord Generate(uint64_t seed, uint64_t index) const = 0;

  // A step-by-step solution of `item`. With probability `error_rate` one step
  // is wrong (a slip a student could make), and the final answer follows it.
  virtual WorkedSolution Solve(const data::PromptRecord& item, double error_rate, Rng& rng) const = 0;

  // Whether `answer` (the text inside <answer>...</answer>) solves `item`.
  virtual bool IsCorrect(const data::PromptRecord& item, absl::string_view answer) const = 0;
};

// An integer final answer: "42", " -7 ", "x = 5", "42." are accepted; anything
// else (including "41.5" or "forty-two") is not an integer answer.
std::optional<int64_t> ParseIntegerAnswer(absl::string_view answer);

// The reasoning format of a completion: "<think>...</think><answer>...</answer>"
// with each tag exactly once, in that order, a non-blank answer, and only
// whitespace before <think>, between </think> and <answer>, and after
// </answer>.
struct ParsedCompletion {
  bool well_formed = false;
  // Why not well formed, in this order of checks: "missing_tag",
  // "repeated_tag", "wrong_order", "text_before_think",
  // "text_between_think_and_answer", "empty_answer", "text_after_answer";
  // "well_formed" otherwise.
  std::string format_reason;
  std::optional<std::string> answer;  // the last <answer> block's text, if any
};
ParsedCompletion ParseCompletion(absl::string_view completion);

// Whether `answer` and the record's reference answer are the same integer.
bool IntegerAnswerMatches(const data::PromptRecord& item, absl::string_view answer);

// A small arithmetic slip added to a result to make a wrong step.
int64_t ArithmeticSlip(Rng& rng);

// The task a config describes; INVALID_ARGUMENT for a bad kind or difficulty.
absl::StatusOr<std::unique_ptr<Task>> MakeTask(const config::TaskConfig& config);

// "countdown" -> COUNTDOWN, and back.
absl::StatusOr<config::TaskKind> ParseTaskKind(absl::string_view name);
absl::string_view TaskKindName(config::TaskKind kind);

// Several tasks mixed by weight. Item `index` picks its task with a draw from
// its own stream, so the mix is as deterministic as each task.
class TaskMix {
 public:
  static absl::StatusOr<TaskMix> Create(const std::vector<config::TaskConfig>& configs);

  struct Item {
    data::PromptRecord record;
    const Task* task;
    double solution_error_rate;
  };
  Item Generate(uint64_t seed, uint64_t index) const;

  // The task whose name() is `name`, or nullptr.
  const Task* Find(absl::string_view name) const;

  // The prompt, then the worked solution in the reasoning format, as one SFT
  // example. The solution's randomness comes from (seed, index) too.
  data::SftRecord WorkedExample(uint64_t seed, uint64_t index) const;

 private:
  std::vector<std::shared_ptr<const Task>> tasks_;
  std::vector<double> cumulative_weights_;
  std::vector<double> error_rates_;
};

}  // namespace r1::tasks

#endif  // R1_TASKS_TASK_H_
