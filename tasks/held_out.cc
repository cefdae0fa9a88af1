#include "tasks/held_out.h"

#include <cctype>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/jsonl.h"
#include "common/status.h"

namespace r1::tasks {

absl::StatusOr<std::vector<data::PromptRecord>> ReadPromptFile(const config::DataConfig& data,
                                                               const std::string& path) {
  JsonlOptions options;
  options.skip_bad_lines = data.skip_bad_lines();
  JsonlStats stats;
  R1_ASSIGN_OR_RETURN(std::vector<data::PromptRecord> records, ReadJsonl<data::PromptRecord>(path, options, &stats));
  if (records.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no prompts"));
  if (stats.skipped > 0) {
    std::fprintf(stderr, "prompts: skipped %lld bad lines of %s (first: %s)\n", static_cast<long long>(stats.skipped),
                 path.c_str(), stats.first_error.c_str());
  }
  return records;
}

absl::StatusOr<std::vector<data::PromptRecord>> LoadEvalPrompts(const config::DataConfig& data,
                                                                const std::string& base_dir) {
  if (!data.eval_prompts().empty()) return ReadPromptFile(data, ResolvePath(base_dir, data.eval_prompts()));
  if (data.tasks_size() == 0) {
    return absl::InvalidArgumentError("data: needs an eval_prompts file or at least one of data.tasks");
  }
  R1_ASSIGN_OR_RETURN(TaskMix mix, TaskMix::Create({data.tasks().begin(), data.tasks().end()}));
  std::vector<data::PromptRecord> records;
  for (int i = 0; i < data.n_eval(); ++i) records.push_back(mix.Generate(data.eval_seed(), i).record);
  return records;
}

std::string NormalizePrompt(std::string_view prompt) {
  std::string out;
  out.reserve(prompt.size());
  bool space = false;
  for (const char c : prompt) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

HeldOutPrompts::HeldOutPrompts(const std::vector<data::PromptRecord>& records) {
  for (const data::PromptRecord& r : records) normalized_.insert(NormalizePrompt(r.prompt()));
}

std::string_view TrainingPrompt(const data::SftRecord& record) {
  if (record.messages_size() == 0) return record.prompt();
  for (const data::ChatMessage& m : record.messages()) {
    if (m.role() == "user") return m.content();
  }
  return {};
}

absl::StatusOr<std::vector<data::SftRecord>> WorkedExamplesApartFrom(const TaskMix& mix, uint64_t seed,
                                                                     int64_t count, const HeldOutPrompts& held_out) {
  std::vector<data::SftRecord> examples;
  examples.reserve(static_cast<size_t>(count));
  const uint64_t limit = 100u * static_cast<uint64_t>(count) + 100u;
  for (uint64_t i = 0; static_cast<int64_t>(examples.size()) < count; ++i) {
    if (i >= limit) {
      return absl::FailedPreconditionError(absl::StrCat(
          "only ", examples.size(), " of ", count, " examples in ", limit,
          " draws are not held-out eval prompts: the tasks have too few distinct prompts"));
    }
    data::SftRecord example = mix.WorkedExample(seed, i);
    if (!held_out.Contains(example.prompt())) examples.push_back(std::move(example));
  }
  return examples;
}

}  // namespace r1::tasks
