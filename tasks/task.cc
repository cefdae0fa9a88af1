#include "tasks/task.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/chat_template.h"
#include "tasks/arithmetic.h"
#include "tasks/countdown.h"
#include "tasks/linear_equation.h"

namespace r1::tasks {

std::optional<int64_t> ParseIntegerAnswer(absl::string_view answer) {
  answer = absl::StripAsciiWhitespace(answer);
  // "x = 5": a single variable name, then '='.
  if (answer.size() >= 2 && absl::ascii_isalpha(static_cast<unsigned char>(answer[0]))) {
    absl::string_view rest = absl::StripLeadingAsciiWhitespace(answer.substr(1));
    if (!rest.empty() && rest[0] == '=') answer = absl::StripAsciiWhitespace(rest.substr(1));
  }
  if (!answer.empty() && answer.back() == '.') answer.remove_suffix(1);
  int64_t value;
  if (answer.empty() || !absl::SimpleAtoi(answer, &value)) return std::nullopt;
  return value;
}

ParsedCompletion ParseCompletion(absl::string_view completion) {
  ParsedCompletion parsed;
  const size_t open = completion.rfind(kAnswerOpen);
  if (open != absl::string_view::npos) {
    const size_t start = open + kAnswerOpen.size();
    const size_t close = completion.find(kAnswerClose, start);
    if (close != absl::string_view::npos) parsed.answer = std::string(completion.substr(start, close - start));
  }
  const auto count = [&](absl::string_view tag) {
    size_t n = 0;
    for (size_t at = completion.find(tag); at != absl::string_view::npos; at = completion.find(tag, at + tag.size())) ++n;
    return n;
  };
  const size_t think_open = completion.find(kThinkOpen), think_close = completion.find(kThinkClose);
  const size_t answer_open = completion.find(kAnswerOpen), answer_close = completion.find(kAnswerClose);
  const size_t counts[] = {count(kThinkOpen), count(kThinkClose), count(kAnswerOpen), count(kAnswerClose)};
  if (std::any_of(std::begin(counts), std::end(counts), [](size_t n) { return n == 0; })) {
    parsed.format_reason = "missing_tag";
  } else if (std::any_of(std::begin(counts), std::end(counts), [](size_t n) { return n > 1; })) {
    parsed.format_reason = "repeated_tag";
  } else if (!(think_open < think_close && think_close < answer_open && answer_open < answer_close)) {
    parsed.format_reason = "wrong_order";
  } else if (!absl::StripAsciiWhitespace(completion.substr(0, think_open)).empty()) {
    parsed.format_reason = "text_before_think";  // whitespace before it is fine (a template's newline)
  } else if (!absl::StripAsciiWhitespace(completion.substr(think_close + kThinkClose.size(),
                                                          answer_open - think_close - kThinkClose.size()))
                  .empty()) {
    parsed.format_reason = "text_between_think_and_answer";  // the answer must be the answer block alone
  } else if (absl::StripAsciiWhitespace(completion.substr(answer_open + kAnswerOpen.size(),
                                                         answer_close - answer_open - kAnswerOpen.size()))
                 .empty()) {
    parsed.format_reason = "empty_answer";
  } else if (!absl::StripTrailingAsciiWhitespace(completion.substr(answer_close + kAnswerClose.size())).empty()) {
    parsed.format_reason = "text_after_answer";
  } else {
    parsed.format_reason = "well_formed";
    parsed.well_formed = true;
  }
  return parsed;
}

bool IntegerAnswerMatches(const data::PromptRecord& item, absl::string_view answer) {
  const std::optional<int64_t> given = ParseIntegerAnswer(answer);
  const std::optional<int64_t> expected = ParseIntegerAnswer(item.answer());
  return given.has_value() && expected.has_value() && *given == *expected;
}

int64_t ArithmeticSlip(Rng& rng) {
  static constexpr int64_t kSlips[] = {-10, -2, -1, 1, 2, 10};
  return kSlips[rng.UniformInt(0, 5)];
}

absl::StatusOr<config::TaskKind> ParseTaskKind(absl::string_view name) {
  if (name == "arithmetic") return config::ARITHMETIC;
  if (name == "countdown") return config::COUNTDOWN;
  if (name == "linear_equation") return config::LINEAR_EQUATION;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown task \"", name, "\"; known tasks: arithmetic, countdown, linear_equation"));
}

absl::string_view TaskKindName(config::TaskKind kind) {
  switch (kind) {
    case config::ARITHMETIC: return "arithmetic";
    case config::COUNTDOWN: return "countdown";
    case config::LINEAR_EQUATION: return "linear_equation";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<Task>> MakeTask(const config::TaskConfig& config) {
  const int difficulty = config.difficulty();
  if (difficulty < 1 || difficulty > 5) {
    return absl::InvalidArgumentError(
        absl::StrCat("task difficulty must be in [1, 5], got ", difficulty));
  }
  switch (config.kind()) {
    case config::ARITHMETIC: return std::unique_ptr<Task>(new ArithmeticTask(difficulty));
    case config::COUNTDOWN: return std::unique_ptr<Task>(new CountdownTask(difficulty));
    case config::LINEAR_EQUATION: return std::unique_ptr<Task>(new LinearEquationTask(difficulty));
  }
  return absl::InvalidArgumentError("task kind must be set");
}

absl::StatusOr<TaskMix> TaskMix::Create(const std::vector<config::TaskConfig>& configs) {
  if (configs.empty()) return absl::InvalidArgumentError("a task mix needs at least one task");
  TaskMix mix;
  double total = 0;
  for (const config::TaskConfig& config : configs) {
    auto task = MakeTask(config);
    if (!task.ok()) return task.status();
    if (!(config.weight() > 0)) {
      return absl::InvalidArgumentError(absl::StrCat("task weight must be > 0, got ", config.weight()));
    }
    total += config.weight();
    mix.tasks_.push_back(std::move(*task));
    mix.cumulative_weights_.push_back(total);
    mix.error_rates_.push_back(config.solution_error_rate());
  }
  for (double& w : mix.cumulative_weights_) w /= total;
  return mix;
}

TaskMix::Item TaskMix::Generate(uint64_t seed, uint64_t index) const {
  size_t which = 0;
  if (tasks_.size() > 1) {
    // A stream apart from the tasks' own (which use StreamSeed(seed, index)).
    Rng rng(StreamSeed(seed ^ 0x6D69785F7461736Bull, index));
    const double u = rng.UniformDouble();
    while (which + 1 < tasks_.size() && u >= cumulative_weights_[which]) ++which;
  }
  return Item{tasks_[which]->Generate(seed, index), tasks_[which].get(), error_rates_[which]};
}

const Task* TaskMix::Find(absl::string_view name) const {
  for (const auto& task : tasks_) {
    if (task->name() == name) return task.get();
  }
  return nullptr;
}

data::SftRecord TaskMix::WorkedExample(uint64_t seed, uint64_t index) const {
  Item item = Generate(seed, index);
  Rng rng(StreamSeed(seed ^ 0x736F6C7574696F6Eull, index));
  WorkedSolution solution = item.task->Solve(item.record, item.solution_error_rate, rng);
  data::SftRecord example;
  example.set_id(item.record.id());
  example.set_prompt(item.record.prompt());
  example.set_response(RenderReasoningResponse(solution.reasoning, solution.answer));
  return example;
}

}  // namespace r1::tasks
