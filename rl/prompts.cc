#include "rl/prompts.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/random.h"
#include "common/status.h"

namespace r1::rl {

absl::StatusOr<PromptSource> PromptSource::Create(const config::DataConfig& data, const std::string& base_dir,
                                                  const std::vector<data::PromptRecord>& held_out) {
  PromptSource source;
  source.seed_ = data.seed();
  source.held_out_ = tasks::HeldOutPrompts(held_out);
  if (!data.train_prompts().empty()) {
    const std::string path = ResolvePath(base_dir, data.train_prompts());
    R1_ASSIGN_OR_RETURN(std::vector<data::PromptRecord> records, tasks::ReadPromptFile(data, path));
    int64_t dropped = 0;
    for (data::PromptRecord& record : records) {
      if (source.held_out_.Contains(record.prompt())) {
        ++dropped;
      } else {
        source.file_records_.push_back(std::move(record));
      }
    }
    if (dropped > 0) {
      std::fprintf(stderr, "prompts: %lld prompts of %s are held-out eval prompts; they are not trained on\n",
                   static_cast<long long>(dropped), path.c_str());
    }
    if (source.file_records_.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": every prompt is also an eval prompt"));
    }
    return source;
  }
  if (data.tasks_size() == 0) {
    return absl::InvalidArgumentError("data: needs a train_prompts file or at least one of data.tasks");
  }
  R1_ASSIGN_OR_RETURN(tasks::TaskMix mix, tasks::TaskMix::Create({data.tasks().begin(), data.tasks().end()}));
  source.mix_ = std::make_shared<const tasks::TaskMix>(std::move(mix));
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
    if (!held_out_.Contains(record.prompt()) || shift >= 64) return record;
  }
}

}  // namespace r1::rl
