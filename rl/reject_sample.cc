#include "rl/reject_sample.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/chat_template.h"
#include "common/jsonl.h"
#include "common/progress.h"
#include "common/random.h"
#include "common/status.h"
#include "common/tokenizer.h"
#include "reward/client.h"
#include "rl/prompts.h"
#include "rollout/pool.h"

namespace r1::rl {
namespace {

// The score a rule gave, or -1 when the mix does not have the rule.
double RuleScore(const reward::ScoreResult& result, const std::string& rule) {
  for (const reward::RuleScore& r : result.rules()) {
    if (r.rule() == rule) return r.score();
  }
  return -1;
}

struct Candidate {
  int sample_index = 0;
  const rollout::Completion* completion = nullptr;
  const reward::ScoreResult* score = nullptr;
};

}  // namespace

std::string RejectSampleStats::ToJson() const {
  return absl::StrFormat(
      "{\"prompts\": %d, \"samples\": %d, \"correct\": %d, \"dropped_format\": %d, \"dropped_truncated\": %d, "
      "\"dropped_too_long\": %d, \"dropped_language\": %d, \"duplicates\": %d, \"kept\": %d, "
      "\"prompts_with_kept\": %d, \"seconds\": %.1f}\n",
      prompts, samples, correct, dropped_format, dropped_truncated, dropped_too_long, dropped_language, duplicates,
      kept, prompts_with_kept, seconds);
}

absl::StatusOr<RejectSampleStats> RunRejectSampling(const RejectSampleOptions& options) {
  const config::RejectSampleConfig& rs = options.config;
  if (options.num_prompts < 1) return absl::InvalidArgumentError("reject_sample: no prompts to sample");
  const auto start = std::chrono::steady_clock::now();
  const int k = rs.samples_per_prompt();
  JsonlWriter out;
  R1_RETURN_IF_ERROR(out.Open(options.output_path));
  RejectSampleStats stats;
  ProgressLine progress("reject_sample");
  const rollout::SamplingParams sampling = rollout::ToSamplingParams(rs.sampling(), options.seed);
  Rng keep_rng(StreamSeed(options.seed, 0x4EC7));

  for (int64_t first = 0; first < options.num_prompts; first += options.chunk_prompts) {
    const int64_t count = std::min(options.chunk_prompts, options.num_prompts - first);
    std::vector<data::PromptRecord> records;
    std::vector<rollout::Prompt> prompts(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
      records.push_back(options.prompts->Get(first + i));
      R1_ASSIGN_OR_RETURN(const std::vector<int> ids, EncodePrompt(*options.tokenizer, records.back().prompt()));
      prompts[i].set_id(absl::StrCat(first + i));
      prompts[i].mutable_token_ids()->Add(ids.begin(), ids.end());
      prompts[i].set_stream_index(first + i);
    }
    std::vector<std::vector<rollout::Completion>> completions(static_cast<size_t>(count));
    R1_RETURN_IF_ERROR(options.pool->Generate(
        prompts, k, sampling, [&](int index, std::vector<rollout::Completion> c) { completions[index] = std::move(c); }));
    std::vector<reward::ScoreItem> items;
    for (int64_t i = 0; i < count; ++i) {
      if (static_cast<int>(completions[i].size()) != k) {
        return absl::InternalError(absl::StrCat("reject_sample: prompt ", first + i, " came back with ",
                                                completions[i].size(), " samples, not ", k));
      }
      for (const rollout::Completion& c : completions[i]) {
        items.push_back(reward::ScoreItemFor(records[i], c.text(), c.token_ids_size(),
                                             c.finish_reason() == rollout::LENGTH));
        items.back().set_id(absl::StrCat(first + i, "/", c.sample_index()));
      }
    }
    absl::StatusOr<std::vector<reward::ScoreResult>> scores = options.reward->Score(items);
    if (!scores.ok()) return absl::Status(scores.status().code(), absl::StrCat("reward: ", scores.status().message()));

    for (int64_t i = 0; i < count; ++i) {
      ++stats.prompts;
      std::vector<Candidate> survivors;
      std::set<std::string> seen;
      for (int s = 0; s < k; ++s) {
        const rollout::Completion& c = completions[i][s];
        const reward::ScoreResult& score = (*scores)[static_cast<size_t>(i * k + s)];
        ++stats.samples;
        if (!score.correct()) continue;
        ++stats.correct;
        if (c.finish_reason() == rollout::LENGTH) {
          ++stats.dropped_truncated;
          continue;
        }
        if (rs.max_response_tokens() > 0 && c.token_ids_size() > rs.max_response_tokens()) {
          ++stats.dropped_too_long;
          continue;
        }
        const double format = RuleScore(score, "format");
        if (format >= 0 && format < 1) {
          ++stats.dropped_format;
          continue;
        }
        if (rs.drop_mixed_language() && RuleScore(score, "language") < 1) {
          ++stats.dropped_language;
          continue;
        }
        if (!seen.insert(c.text()).second) {
          ++stats.duplicates;
          continue;
        }
        survivors.push_back({s, &c, &score});
      }
      if (rs.keep_policy() == "shortest") {
        std::stable_sort(survivors.begin(), survivors.end(), [](const Candidate& a, const Candidate& b) {
          return a.completion->token_ids_size() < b.completion->token_ids_size();
        });
      } else if (rs.keep_policy() == "random") {
        keep_rng.Shuffle(survivors);
      }
      const size_t keep = rs.keep_policy() == "all"
                              ? survivors.size()
                              : std::min(survivors.size(), static_cast<size_t>(rs.keep_per_prompt()));
      if (keep > 0) ++stats.prompts_with_kept;
      for (size_t j = 0; j < keep; ++j) {
        const Candidate& kept = survivors[j];
        data::SftRecord record;
        record.set_id(absl::StrCat(records[i].id().empty() ? absl::StrCat(first + i) : records[i].id(), "/",
                                   kept.sample_index));
        record.set_prompt(records[i].prompt());
        record.set_response(kept.completion->text());
        data::Provenance& p = *record.mutable_provenance();
        p.set_checkpoint(options.checkpoint);
        p.set_weight_version(kept.completion->weight_version());
        p.set_reward(kept.score->total());
        for (const reward::RuleScore& r : kept.score->rules()) (*p.mutable_reward_breakdown())[r.rule()] = r.score();
        p.set_task(records[i].task());
        p.set_answer(records[i].answer());
        p.set_completion_tokens(kept.completion->token_ids_size());
        p.set_sample_index(kept.sample_index);
        R1_RETURN_IF_ERROR(out.Write(record));
        ++stats.kept;
      }
    }
    progress.Update(first + count, options.num_prompts,
                    absl::StrFormat("%lld kept, %lld/%lld prompts with one", static_cast<long long>(stats.kept),
                                    static_cast<long long>(stats.prompts_with_kept),
                                    static_cast<long long>(stats.prompts)));
  }
  progress.Finish();
  if (stats.kept == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "reject_sample: no sample of ", stats.prompts, " prompts x ", k, " passed (", stats.correct,
        " correct): the checkpoint cannot seed an SFT set; nothing written to ", options.output_path));
  }
  R1_RETURN_IF_ERROR(out.Commit());
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace r1::rl
