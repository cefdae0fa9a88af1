// Multi-step arithmetic: "What is 23 + 45 - 12?", solved one operation per
// step with * before + and -, then left to right.
//
// difficulty  operands  values    operators
//     1          2      1..99     + -
//     2          3      1..99     + -        (the prototype's task, DESIGN.md §8)
//     3          4      1..99     + -
//     4          4      1..999    + - *      (a * takes a multiplier 2..12)
//     5          5      1..999    + - *
#ifndef R1_TASKS_ARITHMETIC_H_
#define R1_TASKS_ARITHMETIC_H_

#include "tasks/task.h"

namespace r1::tasks {

class ArithmeticTask : public Task {
 public:
  explicit ArithmeticTask(int difficulty) : difficulty_(difficulty) {}

  absl::string_view name() const override { return "arithmetic"; }
  data::PromptRecord Generate(uint64_t seed, uint64_t index) const override;
  WorkedSolution Solve(const data::PromptRecord& item, double error_rate, Rng& rng) const override;
  bool IsCorrect(const data::PromptRecord& item, absl::string_view answer) const override;

 private:
  int difficulty_;
};

}  // namespace r1::tasks

#endif  // R1_TASKS_ARITHMETIC_H_
