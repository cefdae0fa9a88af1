#include "eval/accuracy.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"

namespace r1::eval {
namespace {

// maj@k's score for one prompt's samples (rules at the top of accuracy.h).
double MajorityScore(const std::vector<SampleVerdict>& samples) {
  int correct_votes = 0;
  std::map<absl::string_view, int> wrong_votes;  // trimmed answer -> votes
  for (const SampleVerdict& sample : samples) {
    if (sample.verdict == Verdict::kCorrect) {
      ++correct_votes;
    } else if (sample.verdict == Verdict::kWrong) {
      const absl::string_view answer = absl::StripAsciiWhitespace(sample.answer);
      if (!answer.empty()) ++wrong_votes[answer];
    }
  }
  if (correct_votes == 0) return 0;
  int tied = 1;  // answers with correct_votes votes, the correct one included
  for (const auto& [answer, votes] : wrong_votes) {
    if (votes > correct_votes) return 0;
    if (votes == correct_votes) ++tied;
  }
  return 1.0 / tied;
}

}  // namespace

Accuracy AggregateAccuracy(const std::vector<std::vector<SampleVerdict>>& samples,
                           const std::vector<SampleVerdict>& greedy) {
  Accuracy accuracy;
  for (const std::vector<SampleVerdict>& prompt : samples) {
    int scored = 0, correct = 0;
    for (const SampleVerdict& sample : prompt) {
      if (sample.verdict == Verdict::kUnscored) {
        ++accuracy.unscored;
        continue;
      }
      ++scored;
      correct += sample.verdict == Verdict::kCorrect ? 1 : 0;
    }
    if (scored == 0) {
      ++accuracy.unscored_prompts;
      continue;
    }
    ++accuracy.prompts;
    accuracy.avg_at_k += static_cast<double>(correct) / scored;
    accuracy.pass_at_k += correct > 0 ? 1.0 : 0.0;
    accuracy.maj_at_k += MajorityScore(prompt);
  }
  if (accuracy.prompts > 0) {
    accuracy.avg_at_k /= accuracy.prompts;
    accuracy.pass_at_k /= accuracy.prompts;
    accuracy.maj_at_k /= accuracy.prompts;
  }
  int greedy_correct = 0;
  for (const SampleVerdict& sample : greedy) {
    if (sample.verdict == Verdict::kUnscored) {
      ++accuracy.unscored;
      continue;
    }
    ++accuracy.greedy_prompts;
    greedy_correct += sample.verdict == Verdict::kCorrect ? 1 : 0;
  }
  if (accuracy.greedy_prompts > 0) accuracy.greedy = static_cast<double>(greedy_correct) / accuracy.greedy_prompts;
  return accuracy;
}

}  // namespace r1::eval
