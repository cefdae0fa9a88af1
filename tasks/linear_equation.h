// Linear equations in one unknown with an integer solution:
// "Solve for x: 3x + 7 = 22." Worked solutions expand, collect x on the left,
// move constants to the right and divide, one rewrite per step.
//
// difficulty  form                 coefficients  solution
//     1       a x + b = c          2..9          -10..10
//     2       a x + b = c x + d    1..9          -10..10
//     3       a x + b = c x + d    1..20         -20..20
//     4       a(x + b) = c x + d   1..9          -20..20
//     5       a(x + b) = c x + d   1..20         -50..50
#ifndef R1_TASKS_LINEAR_EQUATION_H_
#define R1_TASKS_LINEAR_EQUATION_H_

#include "tasks/task.h"

namespace r1::tasks {

class LinearEquationTask : public Task {
 public:
  explicit LinearEquationTask(int difficulty) : difficulty_(difficulty) {}

  absl::string_view name() const override { return "linear_equation"; }
  data::PromptRecord Generate(uint64_t seed, uint64_t index) const override;
  WorkedSolution Solve(const data::PromptRecord& item, double error_rate, Rng& rng) const override;
  bool IsCorrect(const data::PromptRecord& item, absl::string_view answer) const override;

 private:
  int difficulty_;
};

}  // namespace r1::tasks

#endif  // R1_TASKS_LINEAR_EQUATION_H_
