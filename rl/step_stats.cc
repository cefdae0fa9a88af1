#include "rl/step_stats.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "rl/distributed.h"

namespace r1::rl {

void StepStats::AllReduce(DataParallel& dp) {
  // One vector per kind of reduction, in one order on every rank.
  std::vector<double*> summed = {
      &completions,      &reward_sum,        &correct,         &well_formed,     &truncated,
      &length_sum,       &groups,            &staleness_sum,   &sampled,         &sampled_correct,
      &generated_tokens, &uniform_groups_dropped, &stale_dropped, &reward_errors, &reward_error_groups,
      &trained_tokens,   &loss_sum,          &policy_loss_sum, &kl_sum,          &clip_fraction_sum,
      &ratio_sum,        &entropy_sum,       &objective,       &mismatch_sum,    &mismatch_tokens};
  // Known rules by position: a rank whose prompts no rule applied to still
  // takes part in the sum.
  std::vector<RuleSum> known(kRewardRules.size());
  for (size_t i = 0; i < kRewardRules.size(); ++i) {
    const auto it = rules.find(std::string(kRewardRules[i]));
    if (it != rules.end()) known[i] = it->second;
    summed.push_back(&known[i].score_sum);
    summed.push_back(&known[i].items);
  }
  std::vector<double> values(summed.size());
  for (size_t i = 0; i < summed.size(); ++i) values[i] = *summed[i];
  dp.AllReduceSum(values);
  for (size_t i = 0; i < summed.size(); ++i) *summed[i] = values[i];
  for (size_t i = 0; i < kRewardRules.size(); ++i) {
    if (known[i].items > 0) rules[std::string(kRewardRules[i])] = known[i];
  }

  const std::vector<double*> maximal = {&staleness_max,   &length_max,     &draws,         &rollout_seconds,
                                        &reward_seconds,  &wait_seconds,   &train_seconds, &sync_seconds};
  std::vector<double> maxima(maximal.size());
  for (size_t i = 0; i < maximal.size(); ++i) maxima[i] = *maximal[i];
  dp.AllReduceMax(maxima);
  for (size_t i = 0; i < maximal.size(); ++i) *maximal[i] = maxima[i];
}

Scalars StepStats::ToScalars() const {
  Scalars scalars;
  const double per_completion = std::max(1.0, completions);
  const double tokens = std::max(1.0, trained_tokens);
  if (completions > 0) {
    // Over the trained batch (the groups dynamic sampling and the staleness
    // bound kept); "accuracy_sampled" below is over everything generated.
    scalars.insert({{"reward_mean", reward_sum / per_completion},
                    {"accuracy", correct / per_completion},
                    {"format_rate", well_formed / per_completion},
                    {"truncated_rate", truncated / per_completion},
                    {"response_length_mean", length_sum / per_completion},
                    {"response_length_max", length_max},
                    {"loss", loss_sum / tokens},
                    {"policy_loss", policy_loss_sum / tokens},
                    {"kl", kl_sum / tokens},
                    {"clip_fraction", clip_fraction_sum / tokens},
                    {"ratio_mean", ratio_sum / tokens},
                    {"entropy", entropy_sum / tokens},
                    // One optimizer step per mini-batch: the mean and max of
                    // their gradient norms (before clipping) over the steps taken.
                    {"grad_norm_mean", rounds_taken > 0 ? grad_norm_sum / rounds_taken : 0.0},
                    {"grad_norm_max", grad_norm_max}});
  }
  scalars.insert({{"accuracy_sampled", sampled > 0 ? sampled_correct / sampled : 0.0},
                  {"logprob_mismatch", mismatch_tokens > 0 ? mismatch_sum / mismatch_tokens : 0.0},
                  {"groups", groups},
                  {"uniform_groups_dropped", uniform_groups_dropped},
                  {"reward_errors", reward_errors},
                  {"reward_error_groups_dropped", reward_error_groups},
                  {"stale_completions_dropped", stale_dropped},
                  {"staleness_mean", staleness_sum / per_completion},
                  {"staleness_max", staleness_max},
                  {"sampling_draws", draws},
                  {"skipped_nonfinite_steps", rounds_skipped},
                  {"time/rollout", rollout_seconds},
                  {"time/reward", reward_seconds},
                  {"time/wait_for_rollouts", wait_seconds},
                  {"time/train", train_seconds},
                  {"time/sync", sync_seconds},
                  {"train_tokens_per_second", trained_tokens / std::max(train_seconds, 1e-9)},
                  {"generated_tokens_per_second", generated_tokens / std::max(rollout_seconds, 1e-9)}});
  for (const auto& [rule, sum] : rules) {
    // A rule this build does not name was not reduced: this rank's share only.
    scalars[absl::StrCat("reward/", rule)] = sum.score_sum / std::max(1.0, sum.items);
  }
  scalars.insert(expert_balance.begin(), expert_balance.end());
  return scalars;
}

}  // namespace r1::rl
