#include "reward/scorer.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "reward/math/answer_extraction.h"
#include "reward/math/math_verify.h"
#include "reward/rules.h"
#include "sandbox/compare.h"
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

// ScoreResult.error_code values (scorer.h).
constexpr char kInvalidItem[] = "invalid_item";
constexpr char kSandboxBusy[] = "sandbox_busy";
constexpr char kSandboxError[] = "sandbox_error";
constexpr char kDeadlineExceeded[] = "deadline_exceeded";
constexpr char kCancelled[] = "cancelled";

// The item gets no score: only the error (scorer.h).
void SetError(ScoreResult& result, absl::string_view code, absl::string_view message) {
  result.clear_rules();
  result.set_total(0);
  result.set_correct(false);
  result.set_error(std::string(message));
  result.set_error_code(std::string(code));
}

// The submission of a code item, without its program.
sandbox::Submission SubmissionOf(const ScoreItem& item, bool all_or_nothing) {
  sandbox::Submission submission;
  submission.language = item.code_language() == "cpp" ? sandbox::Language::kCpp : sandbox::Language::kPython;
  submission.entry_point = item.entry_point();
  submission.all_or_nothing = all_or_nothing;
  for (const CodeTest& test : item.tests()) submission.tests.push_back({test.input(), test.output()});
  return submission;
}

// The item problems that no completion could fix; empty when the item is fine.
std::string ItemError(const ScoreItem& item) {
  if (item.task().empty()) return "item has no task";
  if (IsCodeTask(item.task())) {
    if (item.tests().empty()) return "code item has no tests";
    if (!item.code_language().empty() && item.code_language() != "python" && item.code_language() != "cpp") {
      return absl::StrCat("code_language must be \"python\" or \"cpp\", got \"",
                          sandbox::Printable(item.code_language(), 40), "\"");
    }
    // An unknown comparison mode is the data's fault, never a 0 for the program.
    if (!item.compare().empty()) {
      if (absl::StatusOr<sandbox::CompareSpec> spec = sandbox::ParseCompareSpec(item.compare()); !spec.ok()) {
        return std::string(spec.status().message());
      }
    }
    // Test data arrives as proto string fields, which must be UTF-8; a
    // program's stdin that is not would also be compared as text.
    for (int i = 0; i < item.tests_size(); ++i) {
      if (!IsValidUtf8(item.tests(i).input())) return absl::StrCat("test ", i, " input is not valid UTF-8");
      if (!IsValidUtf8(item.tests(i).output())) return absl::StrCat("test ", i, " output is not valid UTF-8");
    }
    // A bad entry_point, arguments that are not a JSON array, JSON nested too
    // deep: the judge would refuse the item, which is the data's fault.
    if (absl::Status s = sandbox::ValidateSubmission(SubmissionOf(item, false)); !s.ok()) {
      return std::string(s.message());
    }
  }
  if (IsCountdownTask(item.task()) && item.numbers().empty()) return "countdown item has no numbers";
  return "";
}

// The error_code of a sandbox pool's refusal or failure.
const char* FaultCode(const absl::Status& status) {
  if (absl::IsResourceExhausted(status)) return kSandboxBusy;
  if (absl::IsDeadlineExceeded(status)) return kDeadlineExceeded;
  if (absl::IsCancelled(status)) return kCancelled;
  if (absl::IsInvalidArgument(status)) return kInvalidItem;
  return kSandboxError;
}

RuleVerdict MathRule(const ScoreItem& item, const config::RewardRuleConfig& rule) {
  ExtractionOptions extraction;
  extraction.pattern = rule.math().answer_pattern();
  extraction.after_think = rule.math().answer_after_think();
  const ExtractedAnswer answer = ExtractFinalAnswer(item.completion(), extraction);
  if (!answer.found) return {0.0, answer.reason};
  MathVerifyOptions options;
  options.relative_tolerance = rule.math().relative_tolerance();
  options.precision = rule.math().precision();
  options.strict = rule.math().strict();
  const MathVerdict verdict = VerifyMathAnswer(answer.text, GoldAnswerText(item.reference()), options);
  return {verdict.correct ? 1.0 : 0.0, verdict.reason};
}

// The code rule's verdict, or the fault (a non-OK status) that kept the
// program from being judged: not the model's doing, so no verdict at all.
absl::StatusOr<RuleVerdict> CodeRule(const ScoreItem& item, const config::RewardRuleConfig& rule,
                                     sandbox::SandboxPool& pool, absl::Time deadline,
                                     const std::atomic<bool>* cancelled) {
  const std::string code = ExtractCode(item.completion());
  if (code.empty()) return RuleVerdict{0.0, "no_code"};
  sandbox::Submission submission = SubmissionOf(item, rule.code().all_or_nothing());
  submission.source = code;
  // The item's mode, else the rule's (both checked before: ItemError, Create).
  absl::StatusOr<sandbox::CompareSpec> compare =
      sandbox::ParseCompareSpec(item.compare().empty() ? rule.code().compare() : item.compare());
  if (!compare.ok()) return compare.status();
  submission.compare = *compare;
  absl::StatusOr<sandbox::JudgeResult> judged = pool.Judge(submission, deadline, cancelled);
  if (!judged.ok()) return judged.status();
  if (judged->reason == "cancelled") return absl::CancelledError("cancelled while the program ran");
  return RuleVerdict{judged->reward, judged->reason};
}

}  // namespace

Scorer::Scorer(config::RewardServiceConfig config) : config_(std::move(config)) {}
Scorer::~Scorer() = default;

absl::StatusOr<std::unique_ptr<Scorer>> Scorer::Create(const config::RewardServiceConfig& config,
                                                       const ScorerOptions& scorer_options) {
  if (config.rules().empty()) return absl::InvalidArgumentError("reward.rules is empty: nothing to score with");
  std::unique_ptr<Scorer> scorer(new Scorer(config));
  for (const config::RewardRuleConfig& rule : config.rules()) {
    if (rule.rule() != "code") continue;
    if (absl::StatusOr<sandbox::CompareSpec> spec = sandbox::ParseCompareSpec(rule.code().compare()); !spec.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("reward rule \"code\": code.compare: ", spec.status().message()));
    }
    sandbox::PoolOptions options;
    options.max_concurrent = config.max_concurrent_sandboxes();
    options.max_queued = config.max_queued_sandboxes();
    options.sandbox = scorer_options.sandbox;
    options.sandbox.loopback_network = rule.code().loopback_network();
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
    SetError(result, kInvalidItem, error);
    result.set_latency_ms(absl::ToDoubleMilliseconds(absl::Now() - start));
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
      absl::StatusOr<RuleVerdict> judged = CodeRule(item, *rule, *sandboxes_, deadline, cancelled);
      if (!judged.ok()) {
        SetError(result, FaultCode(judged.status()), judged.status().message());
        result.set_latency_ms(absl::ToDoubleMilliseconds(absl::Now() - start));
        return result;
      }
      verdict = *std::move(judged);
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
