#include "rl/prompts.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/jsonl.h"
#include "common/random.h"
#include "common/status.h"

namespace r1::rl {
namespace {

absl::StatusOr<std::vector<data::PromptRecord>> ReadPrompts(const config::DataConfig& data, const std::string& path) {
  JsonlOptions options;
  options.skip_bad_lines = data.skip_bad_lines();
  JsonlStats stats;
  R1_ASSIGN_OR_RETURN(std::vector<data::PromptRecord> records, ReadJsonl<data::PromptRecord>(path, options, &stats));
  if (records.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no prompts"));
  if (stats.skipped > 0) {
    std::fprintf(stderr, "rl: skipped %lld bad lines of %s (first: %s)\n", static_cast<long long>(stats.skipped),
                 path.c_str(), stats.first_error.c_str());
  }
  return records;
}

absl::StatusOr<std::shared_ptr<const tasks::TaskMix>> MakeMix(const config::DataConfig& data) {
  if (data.tasks_size() == 0) {
    return absl::InvalidArgumentError("data: needs train_prompts/eval_prompts files or at least one of data.tasks");
  }
  R1_ASSIGN_OR_RETURN(tasks::TaskMix mix, tasks::TaskMix::Create({data.tasks().begin(), data.tasks().end()}));
  return std::make_shared<const tasks::TaskMix>(std::move(mix));
}

}  // namespace

absl::StatusOr<PromptSource> PromptSource::Create(const config::DataConfig& data, const std::string& base_dir,
                                                  const std::vector<data::PromptRecord>& held_out) {
  PromptSource source;
  source.seed_ = data.seed();
  if (!data.train_prompts().empty()) {
    R1_ASSIGN_OR_RETURN(source.file_records_, ReadPrompts(data, ResolvePath(base_dir, data.train_prompts())));
    return source;
  }
  R1_ASSIGN_OR_RETURN(source.mix_, MakeMix(data));
  for (const data::PromptRecord& record : held_out) source.held_out_prompts_.insert(record.prompt());
  return source;
}

data::PromptRecord PromptSource::Get(int64_t index) const {
  if (!file_records_.empty()) {
    const int64_t n = size();
    const int64_t pass = index / n;
    if (pass != order_pass_) {  // each pass in an order fixed by (seed, pass)
      order_.resize(static_cast<size_t>(n));
      std::iota(order_.begin(), order_.end(), 0);
      Rng(StreamSeed(seed_, static_cast<uint64_t>(pass))).Shuffle(order_);
      order_pass_ = pass;
    }
    return file_records_[static_cast<size_t>(order_[static_cast<size_t>(index % n)])];
  }
  // A held-out prompt is replaced by the same index of a shifted stream (a
  // task whose every prompt is held out would loop forever: give up after 64).
  for (uint64_t shift = 0;; ++shift) {
    data::PromptRecord record = mix_->Generate(seed_ + shift * 0x9E3779B97F4A7C15ull, static_cast<uint64_t>(index)).record;
    if (!held_out_prompts_.count(record.prompt()) || shift >= 64) return record;
  }
}

absl::StatusOr<std::vector<data::PromptRecord>> LoadEvalPrompts(const config::DataConfig& data,
                                                                const std::string& base_dir) {
  if (!data.eval_prompts().empty()) return ReadPrompts(data, ResolvePath(base_dir, data.eval_prompts()));
  R1_ASSIGN_OR_RETURN(std::shared_ptr<const tasks::TaskMix> mix, MakeMix(data));
  std::vector<data::PromptRecord> records;
  for (int i = 0; i < data.n_eval(); ++i) records.push_back(mix->Generate(data.eval_seed(), i).record);
  return records;
}

}  // namespace r1::rl
