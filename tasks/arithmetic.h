// Multi-step arithmetic: "What is 23 + 45 - 12?", solved one operation per
// step with * before + and -, then left to right; sums and differences are
// worked column by column (measured: a 0.8M-parameter model learns 2-digit
// sums in this form within 1500 steps, and not in 2000 from "a + b = c").
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

// One + or - step written out column by column, the way the embedded base
// model learns to add: "39 + 48: ones 9 + 8 = 17, tens 3 + 4 + 1 = 8, so 87."
// and "35 - 73 = -(73 - 35): ones 13 - 5 = 8, tens 7 - 3 - 1 = 3, so -38.".
// a may be negative (a running total); b >= 0. With `slip_rng`, one column is
// wrong by 1 or 2 and the value follows it.
struct ColumnStep {
  std::string text;
  int64_t value;
};
ColumnStep AddOrSubtractByColumns(int64_t a, char op, int64_t b, Rng* slip_rng = nullptr);

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
