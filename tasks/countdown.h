// Countdown: reach a target with the given numbers, each used exactly once,
// and + - * / with parentheses. Intermediate results are positive integers.
// Worked solutions search: they may show failed attempts before the one that
// reaches the target, which is the kind of reasoning RL can lengthen.
//
// difficulty  numbers  values   failed attempts shown
//     1          3     1..10    0
//     2          3     1..25    0..1
//     3          4     1..25    0..2
//     4          4     1..50    0..3
//     5          5     1..100   0..4
#ifndef R1_TASKS_COUNTDOWN_H_
#define R1_TASKS_COUNTDOWN_H_

#include "tasks/task.h"

namespace r1::tasks {

class CountdownTask : public Task {
 public:
  explicit CountdownTask(int difficulty) : difficulty_(difficulty) {}

  absl::string_view name() const override { return "countdown"; }
  // The record carries `numbers` and the target as `answer`.
  data::PromptRecord Generate(uint64_t seed, uint64_t index) const override;
  WorkedSolution Solve(const data::PromptRecord& item, double error_rate, Rng& rng) const override;
  // `answer` is an expression, optionally followed by "= target".
  bool IsCorrect(const data::PromptRecord& item, absl::string_view answer) const override;

 private:
  int difficulty_;
};

}  // namespace r1::tasks

#endif  // R1_TASKS_COUNTDOWN_H_
