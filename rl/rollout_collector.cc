#include "rl/rollout_collector.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/chat_template.h"
#include "common/status.h"
#include "common/tokenizer.h"
#include "reward/client.h"
#include "rl/prompts.h"
#include "rollout/pool.h"

namespace r1::rl {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// How often items the reward service could not score are sent again.
constexpr int kRewardRetries = 2;

bool AllRewardsEqual(const Group& group) {
  for (const reward::ScoreResult& s : group.scores) {
    if (s.total() != group.scores.front().total()) return false;
  }
  return true;
}

absl::Status Annotate(const absl::Status& status, const char* what) {
  return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
}

}  // namespace

RolloutCollectorOptions RolloutCollectorOptionsFor(const config::RlConfig& rl) {
  RolloutCollectorOptions options;
  options.prompts_per_step = rl.prompts_per_step();
  options.group_size = rl.group_size();
  options.dynamic_sampling = rl.dynamic_sampling();
  options.max_sampling_draws = rl.max_sampling_draws();
  options.sampling = rl.sampling();
  return options;
}

absl::StatusOr<RolloutBatch> RolloutCollector::Collect(int64_t cursor) {
  RolloutBatch batch;
  const rollout::SamplingParams sampling = rollout::ToSamplingParams(options_.sampling, options_.seed);
  while (true) {
    const int missing = options_.prompts_per_step - static_cast<int>(batch.groups.size());
    std::vector<Group> drawn(static_cast<size_t>(missing));
    for (Group& group : drawn) {
      group.prompt_index = cursor * options_.world + options_.rank;
      group.record = options_.prompts->Get(group.prompt_index);
      ++cursor;
    }
    R1_RETURN_IF_ERROR(
        GenerateAndScore(drawn, options_.group_size, sampling, &batch.rollout_seconds, &batch.reward_seconds));
    ++batch.draws;
    batch.prompts_drawn += missing;
    for (Group& group : drawn) {
      for (const rollout::Completion& c : group.completions) batch.generated_tokens += c.token_ids_size();
      // An item the service could not score (a full sandbox pool, a sandbox
      // failure) has no reward: its group has no advantage to learn from.
      int64_t errors = 0;
      for (const reward::ScoreResult& s : group.scores) errors += s.error().empty() ? 0 : 1;
      if (errors > 0) {
        batch.reward_errors += errors;
        ++batch.error_groups;
        continue;
      }
      for (const reward::ScoreResult& s : group.scores) batch.sampled_correct += s.correct() ? 1 : 0;
      batch.sampled += static_cast<int64_t>(group.scores.size());
      if (options_.dynamic_sampling && AllRewardsEqual(group)) {
        ++batch.uniform_groups;
        continue;
      }
      batch.groups.push_back(std::move(group));
    }
    if (!options_.dynamic_sampling || static_cast<int>(batch.groups.size()) >= options_.prompts_per_step ||
        batch.draws > options_.max_sampling_draws) {
      break;
    }
  }
  batch.cursor_after = cursor;
  return batch;
}

absl::Status RolloutCollector::GenerateAndScore(std::vector<Group>& groups, int n,
                                                const rollout::SamplingParams& sampling, double* rollout_seconds,
                                                double* reward_seconds) {
  std::vector<rollout::Prompt> prompts(groups.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    R1_ASSIGN_OR_RETURN(groups[i].prompt_tokens, EncodePrompt(tokenizer_, groups[i].record.prompt()));
    prompts[i].set_id(absl::StrCat(groups[i].prompt_index));
    prompts[i].mutable_token_ids()->Add(groups[i].prompt_tokens.begin(), groups[i].prompt_tokens.end());
    prompts[i].set_stream_index(groups[i].prompt_index);
  }
  Clock::time_point start = Clock::now();
  absl::Status generated = options_.pool->Generate(
      prompts, n, sampling,
      [&](int index, std::vector<rollout::Completion> completions) { groups[index].completions = std::move(completions); });
  if (!generated.ok()) return Annotate(generated, "rollout");
  *rollout_seconds += SecondsSince(start);
  for (const Group& group : groups) {
    if (static_cast<int>(group.completions.size()) != n) {
      return absl::InternalError(absl::StrCat("rollout: prompt ", group.prompt_index, " came back with ",
                                              group.completions.size(), " samples, not ", n));
    }
    for (const rollout::Completion& c : group.completions) {
      if (c.logprobs_size() != c.token_ids_size()) {
        return absl::InternalError(absl::StrCat("rollout: a completion of prompt ", group.prompt_index, " has ",
                                                c.token_ids_size(), " tokens but ", c.logprobs_size(), " logprobs"));
      }
    }
  }

  std::vector<reward::ScoreItem> items;
  for (const Group& group : groups) {
    for (const rollout::Completion& c : group.completions) {
      reward::ScoreItem& item = items.emplace_back(reward::ScoreItemFor(
          group.record, c.text(), c.token_ids_size(), c.finish_reason() == rollout::LENGTH));
      item.set_id(absl::StrCat(c.prompt_id(), "/", c.sample_index()));
    }
  }
  start = Clock::now();
  absl::StatusOr<std::vector<reward::ScoreResult>> scores = options_.reward->Score(items);
  if (!scores.ok()) return Annotate(scores.status(), "reward");
  // Items that failed for a passing reason (a busy sandbox pool, a deadline)
  // are scored again, up to kRewardRetries times; an invalid item is not.
  for (int attempt = 1; attempt <= kRewardRetries; ++attempt) {
    std::vector<size_t> again;
    for (size_t i = 0; i < scores->size(); ++i) {
      const reward::ScoreResult& s = (*scores)[i];
      if (!s.error().empty() && s.error_code() != "invalid_item") again.push_back(i);
    }
    if (again.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));  // let the pool drain
    std::vector<reward::ScoreItem> retry;
    for (size_t i : again) retry.push_back(items[i]);
    absl::StatusOr<std::vector<reward::ScoreResult>> rescored = options_.reward->Score(retry);
    if (!rescored.ok()) return Annotate(rescored.status(), "reward");
    for (size_t j = 0; j < again.size(); ++j) (*scores)[again[j]] = std::move((*rescored)[j]);
  }
  *reward_seconds += SecondsSince(start);
  size_t next = 0;
  for (Group& group : groups) {
    group.scores.assign(scores->begin() + static_cast<int64_t>(next),
                        scores->begin() + static_cast<int64_t>(next + group.completions.size()));
    next += group.completions.size();
  }
  return absl::OkStatus();
}

RolloutProducer::~RolloutProducer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

absl::StatusOr<RolloutBatch> RolloutProducer::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return !queue_.empty(); });
  absl::StatusOr<RolloutBatch> batch = std::move(queue_.front());
  queue_.pop_front();
  changed_.notify_all();
  return batch;
}

void RolloutProducer::WaitUntilIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return finished_ || static_cast<int>(queue_.size()) >= depth_; });
}

void RolloutProducer::Run() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      changed_.wait(lock, [&] { return stop_ || static_cast<int>(queue_.size()) < depth_; });
      if (stop_) return;
    }
    absl::StatusOr<RolloutBatch> batch = collector_.Collect(cursor_);
    const bool failed = !batch.ok();
    if (batch.ok()) cursor_ = batch->cursor_after;
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(batch));
    }
    if (failed) {
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = true;
    }
    changed_.notify_all();
    if (failed) return;
  }
}

}  // namespace r1::rl
