#include "reward/scorer.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "reward/math/answer_extraction.h"
#include "reward/math/math_verify.h"
#include "reward/rules.h"
#include "sandbox/pool.h"
#include "tasks/task.h"

namespace r1::reward {
namespace {

bool IsCodeTask(absl::string_view task) { return task == "code"; }
bool IsCountdownTask(absl::string_view task) { return task == "countdown"; }

void AddRule(ScoreResult& result, const config::RewardRuleConfig& rule, const RuleVerdict& verdict) {
  RuleScore* score = result.add_rules();
  score->set_rule(rule.rule());
  score->set_score(verdict.score);
  score->set_weight(rule.weight());
  score->set_reason(verdict.reason);
  result.set_total(result.total() + rule.weight() * verdict.score);
}

// The item problems that no completion could fix; empty when the item is fine.
std::string ItemError(const ScoreItem& item) {
  if (item.task().empty()) return "item has no task";
  if (IsCodeTask(item.task())) {
    if (item.tests().empty()) return "code item has no tests";
    if (!item.code_language().empty() && item.code_language() != "python" && item.code_language() != "cpp") {
      return absl::StrCat("code_language must be \"python\" or \"cpp\", got \"", item.code_language(), "\"");
    }
    if (!item.entry_point().empty() && item.code_language() == "cpp") {
      return "entry_point (function-call tests) is for python only";
    }
  }
  if (IsCountdownTask(item.task()) && item.numbers().empty()) return "countdown item has no numbers";
  return "";
}

RuleVerdict MathRule(const ScoreItem& item, const config::RewardRuleConfig& rule) {
  ExtractionOptions extraction;
  extraction.pattern = rule.math().answer_pattern();
  const ExtractedAnswer answer = ExtractFinalAnswer(item.completion(), extraction);
  if (!answer.found) return {0.0, answer.reason};
  MathVerifyOptions options;
  options.relative_tolerance = rule.math().relative_tolerance();
  const MathVerdict verdict = VerifyMathAnswer(answer.text, item.reference(), options);
  return {verdict.correct ? 1.0 : 0.0, verdict.reason};
}

RuleVerdict CodeRule(const ScoreItem& item, const config::RewardRuleConfig& rule, sandbox::SandboxPool& pool,
                     absl::Time deadline, const std::atomic<bool>* cancelled) {
  const std::string code = ExtractCode(item.completion());
  if (code.empty()) return {0.0, "no_code"};
  sandbox::Submission submission;
  submission.language = item.code_language() == "cpp" ? sandbox::Language::kCpp : sandbox::Language::kPython;
  submission.source = code;
  submission.entry_point = item.entry_point();
  submission.all_or_nothing = rule.code().all_or_nothing();
  for (const data::TestCase& test : item.tests()) submission.tests.push_back({test.input(), test.output()});
  absl::StatusOr<sandbox::JudgeResult> judged = pool.Judge(submission, deadline, cancelled);
  if (!judged.ok()) {
    // Infrastructure trouble (queue full, deadline) is not the model's fault,
    // but the item still needs a verdict; the reason says what happened.
    return {0.0, absl::IsResourceExhausted(judged.status()) ? "sandbox_busy"
                 : absl::IsDeadlineExceeded(judged.status()) ? "deadline_exceeded"
                                                             : "sandbox_error"};
  }
  return {judged->reward, judged->reason};
}

}  // namespace

Scorer::Scorer(config::RewardServiceConfig config) : config_(std::move(config)) {}
Scorer::~Scorer() = default;

absl::StatusOr<std::unique_ptr<Scorer>> Scorer::Create(const config::RewardServiceConfig& config) {
  if (config.rules().empty()) return absl::InvalidArgumentError("reward.rules is empty: nothing to score with");
  std::unique_ptr<Scorer> scorer(new Scorer(config));
  for (const config::RewardRuleConfig& rule : config.rules()) {
    if (rule.rule() != "code") continue;
    sandbox::PoolOptions options;
    options.max_concurrent = config.max_concurrent_sandboxes();
    options.max_queued = config.max_queued_sandboxes();
    sandbox::Limits& limits = options.judge.run_limits;  // each test case
    limits.cpu_seconds = rule.code().cpu_seconds();
    limits.wall_seconds = rule.code().wall_seconds();
    limits.memory_bytes = rule.code().memory_mb() << 20;
    limits.max_processes = rule.code().max_processes();
    limits.max_output_bytes = rule.code().max_output_kb() << 10;
    absl::StatusOr<std::unique_ptr<sandbox::SandboxPool>> pool = sandbox::SandboxPool::Create(options);
    if (!pool.ok()) return pool.status();
    scorer->sandboxes_ = std::move(*pool);
  }
  return scorer;
}

const config::RewardRuleConfig* Scorer::CorrectnessRule(absl::string_view task) const {
  const absl::string_view wanted = IsCodeTask(task) ? "code" : IsCountdownTask(task) ? "countdown" : "math";
  for (const config::RewardRuleConfig& rule : config_.rules()) {
    if (rule.rule() == wanted) return &rule;
  }
  return nullptr;
}

ScoreResult Scorer::Score(const ScoreItem& item, absl::Time deadline, const std::atomic<bool>* cancelled) const {
  const absl::Time start = absl::Now();
  ScoreResult result;
  result.set_id(item.id());
  if (std::string error = ItemError(item); !error.empty()) {
    result.set_error(std::move(error));
    return result;
  }
  const absl::string_view completion = item.completion();
  const bool too_long = static_cast<int64_t>(completion.size()) > config_.max_completion_bytes();
  const std::string too_long_reason = "completion_too_long";

  // Correctness first: the cosine length rule depends on it.
  bool correct = false;
  if (const config::RewardRuleConfig* rule = CorrectnessRule(item.task())) {
    RuleVerdict verdict;
    if (too_long) {
      verdict = {0.0, too_long_reason};
    } else if (rule->rule() == "math") {
      verdict = MathRule(item, *rule);
    } else if (rule->rule() == "countdown") {
      const tasks::ParsedCompletion parsed = tasks::ParseCompletion(completion);
      verdict = parsed.answer.has_value()
                    ? CountdownRule(*parsed.answer, {item.numbers().begin(), item.numbers().end()}, item.reference())
                    : RuleVerdict{0.0, "no_answer"};
    } else {
      verdict = CodeRule(item, *rule, *sandboxes_, deadline, cancelled);
    }
    correct = verdict.score >= 1.0;
    AddRule(result, *rule, verdict);
  }
  for (const config::RewardRuleConfig& rule : config_.rules()) {
    const std::string& name = rule.rule();
    if (name == "math" || name == "countdown" || name == "code") continue;
    if (name == "length") {
      // O(1) with a token count, linear otherwise: safe even when too long.
      const int64_t length = CompletionLength(completion, item.completion_tokens());
      AddRule(result, rule,
              rule.length().mode() == config::COSINE ? CosineLengthRule(length, correct, rule.length())
                                                     : SoftOverlongRule(length, rule.length()));
    } else if (too_long) {
      AddRule(result, rule, {0.0, too_long_reason});
    } else if (name == "format") {
      AddRule(result, rule, FormatRule(completion));
    } else if (name == "language") {
      AddRule(result, rule, LanguageRule(completion, rule.language()));
    } else if (name == "repetition") {
      AddRule(result, rule, RepetitionRule(completion, rule.repetition()));
    }
  }
  result.set_correct(correct);
  result.set_latency_ms(absl::ToDoubleMilliseconds(absl::Now() - start));
  return result;
}

std::vector<ScoreResult> Scorer::ScoreBatch(const std::vector<const ScoreItem*>& items, absl::Time deadline,
                                            const std::atomic<bool>* cancelled) const {
  std::vector<ScoreResult> results(items.size());
  std::vector<size_t> code_items;
  for (size_t i = 0; i < items.size(); ++i) {
    if (IsCodeTask(items[i]->task()) && sandboxes_ != nullptr && ItemError(*items[i]).empty()) {
      code_items.push_back(i);
    } else {
      results[i] = Score(*items[i], deadline, cancelled);
    }
  }
  if (code_items.empty()) return results;
  // Enough threads to keep the pool busy and its queue fed; the pool itself
  // bounds how many sandboxes run at once.
  const size_t n_threads = std::min<size_t>(code_items.size(), config_.max_concurrent_sandboxes() + 1);
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (size_t t = 0; t < n_threads; ++t) {
    threads.emplace_back([&] {
      for (size_t k = next++; k < code_items.size(); k = next++) {
        results[code_items[k]] = Score(*items[code_items[k]], deadline, cancelled);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return results;
}

}  // namespace r1::reward
