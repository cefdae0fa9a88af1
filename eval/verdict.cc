#include "eval/verdict.h"

#include "proto/reward.pb.h"

namespace r1::eval {

Verdict VerdictOf(const reward::ScoreResult& result) {
  if (!result.error().empty()) return Verdict::kUnscored;
  return result.correct() ? Verdict::kCorrect : Verdict::kWrong;
}

Judgement JudgementOf(const reward::ScoreResult& result) {
  Judgement judgement;
  judgement.verdict = VerdictOf(result);
  if (judgement.verdict == Verdict::kUnscored) {
    // An error without a code comes from a server older than error_code:
    // treat it as the item's fault, so it is not retried forever.
    judgement.error_code = result.error_code().empty() ? kInvalidItem : result.error_code();
    judgement.error = result.error();
    return judgement;
  }
  judgement.reward = result.total();
  for (const reward::RuleScore& rule : result.rules()) {
    judgement.rule_scores[rule.rule()] = rule.score();
    if (rule.rule() == "math" || rule.rule() == "countdown" || rule.rule() == "code") {
      judgement.has_correctness_rule = true;
    }
  }
  return judgement;
}

}  // namespace r1::eval
