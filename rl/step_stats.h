// What one GRPO step measured, by name: the rollout batch the learner trained
// on (filled by the learner), the policy update (filled by GrpoUpdate) and the
// step's times. Each rank fills its own; AllReduce combines them (sums for
// counts and sums, maxima for maxima) and ToScalars names them as
// metrics.jsonl and TensorBoard show them.
//
// Token-weighted fields (policy_loss_sum, kl_sum, ...) hold sum over
// micro-batches of (the micro-batch's token mean * its tokens), so dividing by
// trained_tokens gives the token mean over everything trained, on any number
// of ranks and micro-batches.
#ifndef R1_RL_STEP_STATS_H_
#define R1_RL_STEP_STATS_H_

#include <map>
#include <string>

#include "common/metrics.h"

namespace r1::rl {

class DataParallel;

struct StepStats {
  // --- The trained batch: completions kept after dynamic sampling and the
  // staleness bound (sums over ranks).
  double completions = 0;
  double reward_sum = 0;
  double correct = 0;
  double well_formed = 0;        // in the reasoning format
  double truncated = 0;          // finished by the token limit
  double length_sum = 0;         // completion tokens
  double groups = 0;
  double staleness_sum = 0;      // weight versions behind the trained policy, summed over completions
  // Per reward rule: the score sum and the items the rule applied to.
  struct RuleSum {
    double score_sum = 0;
    double items = 0;
  };
  std::map<std::string, RuleSum> rules;

  // --- Everything generated (sums over ranks).
  double sampled = 0;            // completions generated, kept or not
  double sampled_correct = 0;
  double generated_tokens = 0;
  double uniform_groups_dropped = 0;  // dynamic sampling: all rewards equal
  double stale_dropped = 0;           // completions older than rl.max_staleness
  double reward_errors = 0;           // items unscored after retries
  double reward_error_groups = 0;     // groups dropped for one of those

  // --- The update (GrpoUpdate; sums over ranks). Loss metrics count the
  // mini-batches whose optimizer step was taken.
  double trained_tokens = 0;
  double loss_sum = 0;               // token-weighted, like the fields below
  double policy_loss_sum = 0;
  double kl_sum = 0;
  double clip_fraction_sum = 0;
  double ratio_sum = 0;
  double entropy_sum = 0;
  // The objective whose gradient the optimizer followed (this rank's share of
  // it before AllReduce), summed over the rounds taken. Not a metric: a test
  // compares it with an independent program.
  double objective = 0;
  // |learner logprob - old logprob| summed over tokens, and those tokens.
  double mismatch_sum = 0;
  double mismatch_tokens = 0;

  // --- The same on every rank already (gradients are averaged before the
  // norm is taken and every rank decides to skip alike): not reduced.
  double rounds_taken = 0;           // optimizer steps taken
  double rounds_skipped = 0;         // skipped: loss or gradient not finite
  double grad_norm_sum = 0;          // before clipping, over the rounds taken
  double grad_norm_max = 0;
  std::map<std::string, double> expert_balance;  // of the last round taken (MoE load metrics)

  // --- Maxima over ranks.
  double staleness_max = 0;
  double length_max = 0;
  double draws = 0;              // generation rounds; the most any rank needed
  // Times in seconds: the slowest rank's, which the others wait for.
  double rollout_seconds = 0;
  double reward_seconds = 0;
  double wait_seconds = 0;       // waiting for rollouts (asynchronous mode: for the producer)
  double train_seconds = 0;
  double sync_seconds = 0;

  // Sums and maxima across ranks, in place. Every rank must call it (a
  // collective). Per-rule sums are reduced for the rules common/config.h's
  // kRewardRules names; a rule this build does not name (a newer reward
  // service) keeps this rank's share.
  void AllReduce(DataParallel& dp);

  // The step's metrics under their metrics.jsonl names. Without completions
  // (every group dropped) the trained-batch and loss metrics are left out.
  Scalars ToScalars() const;
};

}  // namespace r1::rl

#endif  // R1_RL_STEP_STATS_H_
