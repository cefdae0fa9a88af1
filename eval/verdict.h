// What "correct" means in every r1 eval: the reward rules' verdict
// (reward/scorer.h), whether the rules run in the reward service or in
// process. Accuracies (eval/accuracy.h) count these verdicts and nothing
// else, so `r1 eval`, the RL learner's evals and rejection sampling agree.
//
// A ScoreResult with `error` set has no verdict: the item was bad or the
// scoring infrastructure failed (a busy sandbox pool, a deadline), which says
// nothing about the model, so the sample is *unscored*, not wrong. Any other
// result is correct exactly when its `correct` is.
//
// Torch- and gRPC-free to include (ScoreResult is only declared here); the
// functions below live in r1_eval_verdict, which links the reward protos.
#ifndef R1_EVAL_VERDICT_H_
#define R1_EVAL_VERDICT_H_

#include <map>
#include <string>

namespace r1::reward {
class ScoreResult;
}

namespace r1::eval {

enum class Verdict { kCorrect, kWrong, kUnscored };

// The error code with which a judge marks an item it refuses for good
// (reward/scorer.h); other error codes are passing faults worth a retry.
inline constexpr char kInvalidItem[] = "invalid_item";

// How a judge found one completion: its verdict and what a report shows
// beside it.
struct Judgement {
  Verdict verdict = Verdict::kUnscored;
  std::string error_code;  // why it is unscored (reward/scorer.h); empty when scored
  std::string error;       // the judge's message, for logs
  // Scored by a correctness rule ("math", "countdown" or "code"). A scored
  // result without one means the rule mix has no correctness rule for the
  // item's task: its `correct` is false by default, not by judgement, and an
  // eval refuses the task rather than count it wrong.
  bool has_correctness_rule = false;
  double reward = 0;                          // the rules' weighted total
  std::map<std::string, double> rule_scores;  // rule name -> score before weighting
};

Verdict VerdictOf(const reward::ScoreResult& result);
Judgement JudgementOf(const reward::ScoreResult& result);

}  // namespace r1::eval

#endif  // R1_EVAL_VERDICT_H_
