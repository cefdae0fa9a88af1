// The one avg@k / pass@k / maj@k aggregation in r1, and the one meaning of
// "correct" it counts.
//
// Used by `r1 eval` (eval/task_eval.h) and the RL learner's evals
// (rl/learner.cc), so the RL curve and the eval table are one computation on
// one verdict.
//
// "Correct" is the reward rules' verdict (eval/verdict.h); an *unscored*
// sample is one the rules could not judge.
//
// Per prompt, over its s scored samples (an unscored sample counts as if it
// had never been drawn):
//   avg@k   mean over prompts of (correct samples / s): pass@1 averaged over
//           k samples, the headline number
//   pass@k  share of prompts with at least one correct sample
//   maj@k   share of prompts whose most common answer is correct. Every
//           correct sample votes for one shared answer, whatever its text
//           (countdown has many correct expressions, and correctness is the
//           judge's call, not the text's); a wrong sample votes for its
//           answer text with surrounding whitespace trimmed; a wrong sample
//           without an answer does not vote. Ties: when t answers share the
//           top count and the correct one is among them, the prompt scores
//           1/t, the expected score of breaking the tie at random (neither
//           optimistic nor pessimistic, and the same on every run).
//   greedy  share of prompts whose one greedy sample is correct, over the
//           prompts whose greedy sample was scored
// A prompt with no scored sample is left out of the @k denominators (and
// counted in unscored_prompts). Empty input gives all zeros.
#ifndef R1_EVAL_ACCURACY_H_
#define R1_EVAL_ACCURACY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "eval/verdict.h"

namespace r1::eval {

struct SampleVerdict {
  Verdict verdict = Verdict::kUnscored;
  std::string answer;  // the sample's final answer, for maj@k; empty = none
};

struct Accuracy {
  int prompts = 0;           // prompts with a scored sample: the denominator of the @k numbers
  int unscored_prompts = 0;  // prompts none of whose samples was scored (left out)
  int64_t unscored = 0;      // samples without a verdict, greedy samples included
  double avg_at_k = 0;
  double pass_at_k = 0;
  double maj_at_k = 0;
  int greedy_prompts = 0;    // prompts whose greedy sample was scored: greedy's denominator
  double greedy = 0;
};

// `samples[i]` holds prompt i's k samples (k may differ between prompts);
// `greedy` holds one greedy sample per prompt, or nothing when greedy
// accuracy was not measured.
Accuracy AggregateAccuracy(const std::vector<std::vector<SampleVerdict>>& samples,
                           const std::vector<SampleVerdict>& greedy = {});

}  // namespace r1::eval

#endif  // R1_EVAL_ACCURACY_H_
