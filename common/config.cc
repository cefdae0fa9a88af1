#include "common/config.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/types/span.h"
#include "common/file_util.h"
#include "common/status.h"

namespace r1 {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Collects parser errors as "source:line:column: message" (1-based).
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  explicit ErrorCollector(std::string source) : source_(std::move(source)) {}
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!errors_.empty()) return;  // the first error is the useful one
    errors_ = absl::StrCat(source_, ":", line + 1, ":", column + 1, ": ", message);
  }
  const std::string& errors() const { return errors_; }

 private:
  std::string source_;
  std::string errors_;
};

// Parse (not merge) semantics: a singular field given twice is an error.
absl::Status ParseText(absl::string_view text, const std::string& source_name, Message* message) {
  ErrorCollector errors(source_name);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  // Unknown fields and unknown enum values are errors (the parser's default);
  // a typo must not silently fall back to a default.
  if (!parser.ParseFromString(std::string(text), message)) {
    return absl::InvalidArgumentError(errors.errors().empty()
                                          ? absl::StrCat(source_name, ": cannot parse")
                                          : errors.errors());
  }
  return absl::OkStatus();
}

std::string FieldNames(const Descriptor& descriptor) {
  std::vector<std::string> names;
  for (int i = 0; i < descriptor.field_count(); ++i) names.push_back(descriptor.field(i)->name());
  return absl::StrJoin(names, ", ");
}

// Upper bounds of sizes. A config is user data: 2^31-1 slots or tokens would
// overflow the products sized from them or fail an allocation far from the
// config. Each bound leaves room for the largest published models
// (DeepSeek-V3: vocab 129280, dim 7168, 61 layers, 128 heads, 256 experts,
// max_seq_len 163840; Llama 3.1 405B: dim 16384, FFN 53248, 126 layers).
constexpr int64_t kMaxVocab = 10'000'000;
constexpr int64_t kMaxWidth = 65'536;      // dim, head dims, latent ranks
constexpr int64_t kMaxFfnWidth = 262'144;  // dense FFN and expert hidden widths
constexpr int64_t kMaxLayers = 1'024;
constexpr int64_t kMaxHeads = 4'096;
constexpr int64_t kMaxExperts = 65'536;
constexpr int64_t kMaxSeqLen = 1'048'576;  // tokens of one sequence
constexpr int64_t kMaxGroup = 1'024;       // samples of one prompt (G, K, eval k)
constexpr int64_t kMaxBatch = 1'048'576;   // sequences or prompts per step
constexpr int64_t kMaxKvSlots = 65'536;
constexpr int64_t kMaxWorkers = 1'024;
constexpr int64_t kMaxThreads = 4'096;
constexpr double kMaxTemperature = 100;

constexpr double kInf = std::numeric_limits<double>::infinity();

// An interval of allowed values for Checker::Real: closed ends unless marked
// open; an infinite end means unbounded (values must be finite regardless).
struct Interval {
  double lo = -kInf, hi = kInf;
  bool lo_open = false, hi_open = false;

  bool Contains(double v) const {
    return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  }
  // "in (0, 1]", ">= 0", "> 0", or "" when unbounded.
  std::string ToString() const {
    if (std::isinf(hi)) {
      if (std::isinf(lo)) return "";
      return absl::StrCat(lo_open ? "> " : ">= ", lo);
    }
    return absl::StrCat("in ", lo_open ? "(" : "[", lo, ", ", hi, hi_open ? ")" : "]");
  }
};
Interval Closed(double lo, double hi) { return {lo, hi, false, false}; }
Interval OpenClosed(double lo, double hi) { return {lo, hi, true, false}; }
Interval ClosedOpen(double lo, double hi) { return {lo, hi, false, true}; }
Interval Open(double lo, double hi) { return {lo, hi, true, true}; }
Interval AtLeast(double lo) { return {lo, kInf, false, false}; }
Interval Above(double lo) { return {lo, kInf, true, false}; }

// Accumulates validation failures; reports the first with a count of the rest.
class Checker {
 public:
  explicit Checker(absl::string_view prefix) : prefix_(prefix) {
    if (!prefix_.empty()) prefix_ += ".";
  }

  void Fail(absl::string_view field, absl::string_view message) {
    const std::string path = absl::StrCat(prefix_, field);
    if (first_.empty()) first_ = absl::StrCat(path, " ", message);
    failed_.insert(path);
    ++count_;
  }
  // Whether `field` has failed a check already.
  bool Failed(absl::string_view field) const { return failed_.count(absl::StrCat(prefix_, field)) > 0; }

  // A real number: finite, within `allowed`; the message states the range.
  void Real(absl::string_view field, double value, const Interval& allowed) {
    const std::string range = allowed.ToString();
    if (!std::isfinite(value)) {
      Fail(field, absl::StrCat("must be a finite number", range.empty() ? "" : " ", range, ", got ", value));
    } else if (!allowed.Contains(value)) {
      Fail(field, absl::StrCat("must be ", range, ", got ", value));
    }
  }
  template <typename T>
  void Positive(absl::string_view field, T value) {
    if (!(value > 0)) Fail(field, absl::StrCat("must be > 0, got ", value));
  }
  template <typename T>
  void NonNegative(absl::string_view field, T value) {
    if (!(value >= 0)) Fail(field, absl::StrCat("must be >= 0, got ", value));
  }
  // An integer count or size in [lo, hi].
  void InRange(absl::string_view field, int64_t value, int64_t lo, int64_t hi) {
    if (!(value >= lo && value <= hi)) {
      Fail(field, absl::StrCat("must be in [", lo, ", ", hi, "], got ", value));
    }
  }
  void OneOf(absl::string_view field, const std::string& value, absl::Span<const absl::string_view> allowed) {
    for (absl::string_view a : allowed) {
      if (value == a) return;
    }
    Fail(field, absl::StrCat("must be one of ", absl::StrJoin(allowed, ", "), ", got \"", value,
                             "\""));
  }
  void Merge(const Checker& nested) {
    if (first_.empty()) first_ = nested.first_;
    failed_.insert(nested.failed_.begin(), nested.failed_.end());
    count_ += nested.count_;
  }

  absl::Status status() const {
    if (count_ == 0) return absl::OkStatus();
    if (count_ == 1) return absl::InvalidArgumentError(first_);
    return absl::InvalidArgumentError(
        absl::StrCat(first_, " (and ", count_ - 1, " more problem", count_ > 2 ? "s" : "", ")"));
  }

 private:
  std::string prefix_;
  std::string first_;
  std::set<std::string> failed_;  // full paths
  int count_ = 0;
};

// The backstop for "non-finite anywhere": every double or float field that is
// set, at any depth, must be finite (a field with a range check of its own
// has been reported already, with its range). `path` is relative to `c`.
void CheckAllFinite(const Message& message, const std::string& path, Checker& c) {
  const Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    const std::string name = path.empty() ? field->name() : absl::StrCat(path, ".", field->name());
    const int n = field->is_repeated() ? reflection->FieldSize(message, field) : 1;
    for (int i = 0; i < n; ++i) {
      const std::string at = field->is_repeated() ? absl::StrCat(name, "[", i, "]") : name;
      double value = 0;
      switch (field->cpp_type()) {
        case FieldDescriptor::CPPTYPE_MESSAGE:
          CheckAllFinite(field->is_repeated() ? reflection->GetRepeatedMessage(message, field, i)
                                              : reflection->GetMessage(message, field),
                         at, c);
          continue;
        case FieldDescriptor::CPPTYPE_DOUBLE:
          value = field->is_repeated() ? reflection->GetRepeatedDouble(message, field, i)
                                       : reflection->GetDouble(message, field);
          break;
        case FieldDescriptor::CPPTYPE_FLOAT:
          value = field->is_repeated() ? reflection->GetRepeatedFloat(message, field, i)
                                       : reflection->GetFloat(message, field);
          break;
        default:
          continue;
      }
      if (!std::isfinite(value) && !c.Failed(at)) c.Fail(at, absl::StrCat("must be a finite number, got ", value));
    }
  }
}

Checker CheckTokenizer(const config::TokenizerConfig& t, absl::string_view path) {
  Checker c(path);
  c.InRange("vocab_size", t.vocab_size(), 0, kMaxVocab);
  c.OneOf("model_type", t.model_type(), {"unigram", "bpe", "char", "word"});
  c.Real("character_coverage", t.character_coverage(), OpenClosed(0, 1));
  if (t.byte_fallback() && t.vocab_size() > 0 && t.vocab_size() <= 256 + 16) {
    c.Fail("vocab_size", absl::StrCat("must exceed 256 byte pieces plus special tokens when "
                                      "byte_fallback is on, got ", t.vocab_size()));
  }
  return c;
}

Checker CheckTask(const config::TaskConfig& t, absl::string_view path) {
  Checker c(path);
  if (!t.has_kind()) c.Fail("kind", "must be set (ARITHMETIC, COUNTDOWN or LINEAR_EQUATION)");
  c.InRange("difficulty", t.difficulty(), 1, 5);
  c.Real("solution_error_rate", t.solution_error_rate(), Closed(0, 1));
  c.Real("weight", t.weight(), Above(0));
  return c;
}

Checker CheckData(const config::DataConfig& d, absl::string_view path) {
  Checker c(path);
  for (int i = 0; i < d.tasks_size(); ++i) {
    c.Merge(CheckTask(d.tasks(i), absl::StrCat(path, ".tasks[", i, "]")));
  }
  c.InRange("n_eval", d.n_eval(), 0, kMaxBatch);
  if (d.train_prompts().empty() && d.tasks_size() == 0 && d.has_n_eval()) {
    c.Fail("tasks", "must list at least one task when train_prompts is empty");
  }
  return c;
}

}  // namespace

std::string ChatTemplatePath(const config::DataConfig& data, const std::string& run_dir) {
  return data.chat_template().empty() ? "" : ResolvePath(run_dir, data.chat_template());
}

namespace {

Checker CheckOptimizer(const config::OptimizerConfig& o, absl::string_view path) {
  Checker c(path);
  c.Real("lr", o.lr(), OpenClosed(0, 1));
  c.NonNegative("warmup_steps", o.warmup_steps());
  c.Real("min_lr_ratio", o.min_lr_ratio(), Closed(0, 1));
  c.Real("weight_decay", o.weight_decay(), Closed(0, 1));
  c.Real("beta1", o.beta1(), ClosedOpen(0, 1));
  c.Real("beta2", o.beta2(), ClosedOpen(0, 1));
  c.Real("eps", o.eps(), OpenClosed(0, 1));
  c.Real("grad_clip", o.grad_clip(), AtLeast(0));
  return c;
}

Checker CheckCheckpoint(const config::CheckpointConfig& k, absl::string_view path) {
  Checker c(path);
  c.NonNegative("every_steps", k.every_steps());
  c.Positive("keep", k.keep());
  return c;
}

Checker CheckSampling(const config::SamplingConfig& s, absl::string_view path) {
  Checker c(path);
  c.Real("temperature", s.temperature(), Closed(0, kMaxTemperature));
  if (s.temperature() > 0 && s.temperature() < kMinTemperature) {
    c.Fail("temperature", absl::StrCat("must be 0 (greedy) or at least ", kMinTemperature, ", got ", s.temperature()));
  }
  c.Real("top_p", s.top_p(), OpenClosed(0, 1));
  c.InRange("top_k", s.top_k(), 0, kMaxVocab);
  // 1 would keep only tokens as likely as the most likely one.
  c.Real("min_p", s.min_p(), ClosedOpen(0, 1));
  c.InRange("max_new_tokens", s.max_new_tokens(), 1, kMaxSeqLen);
  for (int i = 0; i < s.stop_size(); ++i) {
    if (s.stop(i).empty()) c.Fail(absl::StrCat("stop[", i, "]"), "must not be empty");
  }
  return c;
}

Checker CheckPretrain(const config::PretrainConfig& p, absl::string_view path) {
  Checker c(path);
  c.Positive("corpus_examples", p.corpus_examples());
  c.InRange("batch_size", p.batch_size(), 1, kMaxBatch);
  c.InRange("seq_len", p.seq_len(), 1, kMaxSeqLen);
  if (p.max_steps() <= 0 && p.max_seconds() <= 0) {
    c.Fail("max_steps", "or max_seconds must be > 0 (the stage needs a budget)");
  }
  c.NonNegative("student_max_steps", p.student_max_steps());
  c.Real("student_max_seconds", p.student_max_seconds(), AtLeast(0));
  c.Real("max_seconds", p.max_seconds(), AtLeast(0));
  c.NonNegative("eval_every", p.eval_every());
  c.Merge(CheckOptimizer(p.optimizer(), absl::StrCat(path, ".optimizer")));
  if (p.has_student_optimizer()) {
    c.Merge(CheckOptimizer(p.student_optimizer(), absl::StrCat(path, ".student_optimizer")));
  }
  c.Merge(CheckCheckpoint(p.checkpoint(), absl::StrCat(path, ".checkpoint")));
  return c;
}

Checker CheckSft(const config::SftConfig& s, absl::string_view path) {
  Checker c(path);
  c.Real("eval_fraction", s.eval_fraction(), ClosedOpen(0, 1));
  c.InRange("batch_size", s.batch_size(), 1, kMaxBatch);
  c.InRange("seq_len", s.seq_len(), 1, kMaxSeqLen);
  c.Positive("epochs", s.epochs());
  c.NonNegative("max_steps", s.max_steps());
  c.Real("max_seconds", s.max_seconds(), AtLeast(0));
  c.NonNegative("generated_examples", s.generated_examples());
  c.NonNegative("eval_every", s.eval_every());
  c.Merge(CheckOptimizer(s.optimizer(), absl::StrCat(path, ".optimizer")));
  c.Merge(CheckCheckpoint(s.checkpoint(), absl::StrCat(path, ".checkpoint")));
  return c;
}

Checker CheckRl(const config::RlConfig& r, absl::string_view path) {
  Checker c(path);
  if (!(r.group_size() >= 2 && r.group_size() <= kMaxGroup)) {
    c.Fail("group_size", absl::StrCat("must be in [2, ", kMaxGroup, "] (a group advantage needs two samples), got ",
                                      r.group_size()));
  }
  c.InRange("prompts_per_step", r.prompts_per_step(), 1, kMaxBatch);
  c.Real("max_seconds", r.max_seconds(), AtLeast(0));
  if (r.max_steps() <= 0 && !(r.max_seconds() > 0)) {
    c.Fail("max_steps", "or max_seconds must be > 0 (the stage needs a budget)");
  }
  c.Merge(CheckSampling(r.sampling(), absl::StrCat(path, ".sampling")));
  c.Real("clip_eps_low", r.clip_eps_low(), Open(0, 1));
  c.Real("clip_eps_high", r.clip_eps_high(), Above(0));
  if (!std::isfinite(r.dual_clip_c()) || (r.dual_clip_c() != 0 && r.dual_clip_c() <= 1)) {
    c.Fail("dual_clip_c", absl::StrCat("must be 0 (off) or a finite number > 1, got ", r.dual_clip_c()));
  }
  c.Real("kl_coef", r.kl_coef(), AtLeast(0));
  if (r.kl_estimator() == config::K1 && r.kl_coef() > 0) {
    // k1 = log pi - log pi_ref has expected gradient 0 under samples of pi:
    // as a loss term it only adds noise.
    c.Fail("kl_estimator", absl::StrCat("must be K2 or K3 when ", path,
                                        ".kl_coef > 0 (K1 as a loss term has zero expected gradient), got K1"));
  }
  c.InRange("max_sampling_draws", r.max_sampling_draws(), 0, 1'000);
  c.InRange("updates_per_batch", r.updates_per_batch(), 1, kMaxBatch);
  c.InRange("max_staleness", r.max_staleness(), 0, 1'000);
  if (r.max_staleness() > 0 && r.old_logprobs() == config::RECOMPUTE) {
    // Recomputed with the current weights, the denominator of a stale sample's
    // ratio is no longer the policy that sampled it: no importance correction.
    c.Fail("old_logprobs", absl::StrCat("must be ROLLOUT when ", path, ".max_staleness > 0 (got RECOMPUTE with ",
                                        path, ".max_staleness ", r.max_staleness(),
                                        "): stale samples need the sampling policy's logprobs"));
  }
  c.NonNegative("eval_every", r.eval_every());
  c.InRange("eval_samples", r.eval_samples(), 1, kMaxGroup);
  c.NonNegative("ref_reset_every", r.ref_reset_every());
  c.InRange("micro_batch_size", r.micro_batch_size(), 0, kMaxBatch);
  c.Real("entropy_coef", r.entropy_coef(), AtLeast(0));
  c.Real("sum_norm_tokens", r.sum_norm_tokens(), AtLeast(0));
  c.Real("min_base_pass_at_k", r.min_base_pass_at_k(), Closed(0, 1));
  c.Merge(CheckOptimizer(r.optimizer(), absl::StrCat(path, ".optimizer")));
  c.Merge(CheckCheckpoint(r.checkpoint(), absl::StrCat(path, ".checkpoint")));
  return c;
}

Checker CheckRejectSample(const config::RejectSampleConfig& r, absl::string_view path) {
  Checker c(path);
  c.InRange("samples_per_prompt", r.samples_per_prompt(), 1, kMaxGroup);
  c.Positive("keep_per_prompt", r.keep_per_prompt());
  if (r.keep_per_prompt() > r.samples_per_prompt()) {
    c.Fail("keep_per_prompt", absl::StrCat("(", r.keep_per_prompt(), ") must be <= ", path,
                                           ".samples_per_prompt (", r.samples_per_prompt(), ")"));
  }
  c.OneOf("keep_policy", r.keep_policy(), {"shortest", "random", "all"});
  c.InRange("prompts", r.prompts(), 1, kMaxBatch);
  c.InRange("max_response_tokens", r.max_response_tokens(), 0, kMaxSeqLen);
  c.Merge(CheckSampling(r.sampling(), absl::StrCat(path, ".sampling")));
  return c;
}

Checker CheckDistill(const config::DistillConfig& d, absl::string_view path) {
  Checker c(path);
  c.Merge(CheckSft(d.sft(), absl::StrCat(path, ".sft")));
  c.Real("kl_weight", d.kl_weight(), AtLeast(0));
  c.InRange("teacher_top_k", d.teacher_top_k(), 1, kMaxGroup);
  c.OneOf("kl_direction", d.kl_direction(), {"forward", "reverse", "mix"});
  return c;
}

Checker CheckEval(const config::EvalConfig& e, absl::string_view path) {
  Checker c(path);
  c.InRange("samples", e.samples(), 1, kMaxGroup);
  c.Merge(CheckSampling(e.sampling(), absl::StrCat(path, ".sampling")));
  return c;
}

Checker CheckReward(const config::RewardServiceConfig& r, absl::string_view path) {
  Checker c(path);
  if (r.address().empty() || r.address().find(':') == std::string::npos) {
    c.Fail("address", absl::StrCat("must be host:port, got \"", r.address(), "\""));
  }
  std::set<std::string> seen;
  for (int i = 0; i < r.rules_size(); ++i) {
    const std::string field = absl::StrCat("rules[", i, "]");
    c.OneOf(absl::StrCat(field, ".rule"), r.rules(i).rule(), kRewardRules);
    c.Real(absl::StrCat(field, ".weight"), r.rules(i).weight(), AtLeast(0));
    if (!seen.insert(r.rules(i).rule()).second) {
      c.Fail(absl::StrCat(field, ".rule"), absl::StrCat("\"", r.rules(i).rule(), "\" is listed twice"));
    }
    const config::RewardRuleConfig& rule = r.rules(i);
    if (rule.has_length()) {
      const config::LengthRuleConfig& l = rule.length();
      c.InRange(absl::StrCat(field, ".length.max_length"), l.max_length(), 1, kMaxSeqLen);
      c.InRange(absl::StrCat(field, ".length.overlong_buffer"), l.overlong_buffer(), 0, l.max_length());
    }
    if (rule.has_repetition()) {
      c.Positive(absl::StrCat(field, ".repetition.ngram_size"), rule.repetition().ngram_size());
      c.Real(absl::StrCat(field, ".repetition.max_penalty"), rule.repetition().max_penalty(), AtLeast(0));
    }
    if (rule.has_language()) {
      c.OneOf(absl::StrCat(field, ".language.script"), rule.language().script(),
              {"latin", "han", "cyrillic", "arabic", "devanagari", "hiragana_katakana", "hangul", "greek"});
    }
    if (rule.has_math()) {
      c.Real(absl::StrCat(field, ".math.relative_tolerance"), rule.math().relative_tolerance(), OpenClosed(0, 1));
      c.InRange(absl::StrCat(field, ".math.precision"), rule.math().precision(), 0, 30);
    }
    if (rule.has_code()) {
      const config::CodeRuleConfig& k = rule.code();
      c.Real(absl::StrCat(field, ".code.cpu_seconds"), k.cpu_seconds(), Above(0));
      c.Real(absl::StrCat(field, ".code.wall_seconds"), k.wall_seconds(), Above(0));
      c.Positive(absl::StrCat(field, ".code.memory_mb"), k.memory_mb());
      c.Positive(absl::StrCat(field, ".code.max_processes"), k.max_processes());
      c.Positive(absl::StrCat(field, ".code.max_output_kb"), k.max_output_kb());
      // The mode's name here; its tolerances are parsed where the judge lives
      // (sandbox/compare.h), when the reward service starts.
      if (!absl::StartsWith(k.compare(), "numeric:")) {
        c.OneOf(absl::StrCat(field, ".code.compare"), k.compare(), {"exact", "lines", "tokens", "numeric"});
      }
    }
  }
  c.Positive("max_concurrent_sandboxes", r.max_concurrent_sandboxes());
  c.NonNegative("max_queued_sandboxes", r.max_queued_sandboxes());
  c.Positive("max_completion_bytes", r.max_completion_bytes());
  c.Positive("max_batch_items", r.max_batch_items());
  return c;
}

Checker CheckRollout(const config::RolloutServiceConfig& r, absl::string_view path) {
  Checker c(path);
  for (int i = 0; i < r.workers_size(); ++i) {
    if (r.workers(i).find(':') == std::string::npos) {
      c.Fail(absl::StrCat("workers[", i, "]"), absl::StrCat("must be host:port, got \"", r.workers(i), "\""));
    }
  }
  c.InRange("local_workers", r.local_workers(), 0, kMaxWorkers);
  c.InRange("kv_slots", r.kv_slots(), 1, kMaxKvSlots);
  c.Real("request_timeout_seconds", r.request_timeout_seconds(), Above(0));
  return c;
}

}  // namespace

absl::Status ParseTextProto(absl::string_view text, const std::string& source_name,
                            Message* message) {
  return ParseText(text, source_name, message);
}

absl::Status ApplyOverride(absl::string_view assignment, Message* message) {
  const std::string where = absl::StrCat("--set ", assignment);
  const size_t eq = assignment.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": expected path.to.field=value"));
  }
  const absl::string_view path = assignment.substr(0, eq);
  absl::string_view value = absl::StripAsciiWhitespace(assignment.substr(eq + 1));

  // Walk to the message holding the leaf field, creating parents as needed.
  std::vector<absl::string_view> parts = absl::StrSplit(path, '.');
  Message* target = message;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Descriptor* descriptor = target->GetDescriptor();
    const FieldDescriptor* field = descriptor->FindFieldByName(std::string(parts[i]));
    if (field == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", descriptor->name(),
                                                     " has no field \"", parts[i],
                                                     "\"; its fields are: ",
                                                     FieldNames(*descriptor)));
    }
    const Reflection* reflection = target->GetReflection();
    if (i + 1 < parts.size()) {
      if (field->is_repeated() || field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": \"", parts[i], "\" is not a single message, so it has no subfields"));
      }
      target = reflection->MutableMessage(target, field);
      continue;
    }
    // The leaf: replace its value rather than merging into it.
    std::string text_value(value);
    const bool is_string = field->type() == FieldDescriptor::TYPE_STRING ||
                           field->type() == FieldDescriptor::TYPE_BYTES;
    const auto quote = [](absl::string_view v) {
      if (absl::StartsWith(v, "\"") || absl::StartsWith(v, "'")) return std::string(v);
      return absl::StrCat("\"", absl::CEscape(v), "\"");
    };
    if (is_string && !(field->is_repeated() && absl::StartsWith(value, "["))) {
      text_value = quote(value);
    }
    Message* scratch = target->New();
    absl::Status status =
        ParseText(absl::StrCat(field->name(), ": ", text_value), where, scratch);
    if (status.ok()) {
      reflection->ClearField(target, field);
      // Merging a message holding only this field copies just this field.
      target->MergeFrom(*scratch);
    }
    delete scratch;
    return status;
  }
  return absl::OkStatus();
}

std::string ToTextProto(const Message& message) {
  std::string text;
  google::protobuf::TextFormat::PrintToString(message, &text);
  return text;
}

absl::StatusOr<config::RunConfig> LoadRunConfig(const std::string& path,
                                                const std::vector<std::string>& overrides) {
  R1_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  config::RunConfig run;
  R1_RETURN_IF_ERROR(ParseTextProto(text, path, &run));
  for (const std::string& assignment : overrides) {
    R1_RETURN_IF_ERROR(ApplyOverride(assignment, &run));
  }
  if (absl::Status s = Validate(run); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
  }
  return run;
}

namespace {

// Group-limited routing, the balancing settings and where routed layers go:
// shared by both layouts when they have experts.
void CheckRouting(const config::ModelConfig& m, absl::string_view path, Checker& c) {
  c.InRange("n_routed_experts", m.n_routed_experts(), 1, kMaxExperts);
  c.InRange("moe_inter_dim", m.moe_inter_dim(), 1, kMaxFfnWidth);
  c.InRange("n_shared_experts", m.n_shared_experts(), 0, kMaxExperts);
  c.InRange("n_activated_experts", m.n_activated_experts(), 1, kMaxExperts);
  if (m.n_activated_experts() > m.n_routed_experts()) {
    c.Fail("n_activated_experts",
           absl::StrCat("(", m.n_activated_experts(), ") must be <= ", path,
                        ".n_routed_experts (", m.n_routed_experts(), ")"));
  }
  c.Real("routed_scaling_factor", m.routed_scaling_factor(), Above(0));
  c.Real("bias_update_speed", m.bias_update_speed(), Closed(0, 1));
  c.Real("seq_aux_loss_alpha", m.seq_aux_loss_alpha(), AtLeast(0));
  c.InRange("n_group", m.n_group(), 1, kMaxExperts);
  c.InRange("topk_group", m.topk_group(), 1, std::max(m.n_group(), 1));
  if (m.n_group() > 1 && m.n_routed_experts() > 0 && !c.Failed("n_group")) {
    const int per_group = m.n_routed_experts() / m.n_group();
    if (m.n_routed_experts() % m.n_group() != 0) {
      c.Fail("n_group", absl::StrCat("(", m.n_group(), ") must divide ", path, ".n_routed_experts (",
                                     m.n_routed_experts(), ")"));
    } else if (per_group < 2) {
      // A group is scored by the sum of its two best affinities.
      c.Fail("n_group", absl::StrCat("(", m.n_group(), ") must leave at least 2 experts per group, got ", per_group));
    } else if (m.n_activated_experts() > m.topk_group() * per_group) {
      c.Fail("n_activated_experts",
             absl::StrCat("(", m.n_activated_experts(), ") must be <= ", path, ".topk_group * experts per group (",
                          m.topk_group(), " * ", per_group, "): top-k is taken within the topk_group best groups"));
    }
  }
}

// rope_scaling: the type's own fields only, in range.
void CheckRopeScaling(const config::RopeScaling& s, Checker& c) {
  const std::string& type = s.type();
  c.OneOf("rope_scaling.type", type, {"linear", "llama3", "yarn"});
  c.Real("rope_scaling.factor", s.factor(), AtLeast(1));
  const auto only_for = [&](bool has, absl::string_view field, absl::string_view types) {
    if (has) c.Fail(absl::StrCat("rope_scaling.", field), absl::StrCat("applies only to type ", types, ", not \"", type, "\""));
  };
  only_for(type != "llama3" && (s.has_low_freq_factor() || s.has_high_freq_factor()),
           s.has_low_freq_factor() ? "low_freq_factor" : "high_freq_factor", "llama3");
  only_for(type == "linear" && s.has_original_max_position_embeddings(), "original_max_position_embeddings",
           "llama3 or yarn");
  for (const auto& [has, field] : std::initializer_list<std::pair<bool, absl::string_view>>{
           {s.has_beta_fast(), "beta_fast"},
           {s.has_beta_slow(), "beta_slow"},
           {s.has_mscale(), "mscale"},
           {s.has_mscale_all_dim(), "mscale_all_dim"},
           {s.has_attention_factor(), "attention_factor"}}) {
    only_for(type != "yarn" && has, field, "yarn");
  }
  if (type == "llama3" || type == "yarn") {
    c.InRange("rope_scaling.original_max_position_embeddings", s.original_max_position_embeddings(), 1, kMaxSeqLen);
  }
  if (type == "llama3") {
    c.Real("rope_scaling.low_freq_factor", s.low_freq_factor(), Above(0));
    if (!(s.high_freq_factor() > s.low_freq_factor())) {
      c.Fail("rope_scaling.high_freq_factor", absl::StrCat("(", s.high_freq_factor(), ") must be > low_freq_factor (",
                                                           s.low_freq_factor(), ")"));
    }
  }
  if (type == "yarn") {
    c.Real("rope_scaling.beta_fast", s.beta_fast(), Above(0));
    c.Real("rope_scaling.beta_slow", s.beta_slow(), Above(0));
    c.Real("rope_scaling.mscale", s.mscale(), AtLeast(0));
    c.Real("rope_scaling.mscale_all_dim", s.mscale_all_dim(), AtLeast(0));
    c.Real("rope_scaling.attention_factor", s.attention_factor(), AtLeast(0));
  }
}

Checker CheckModel(const config::ModelConfig& m, absl::string_view path) {
  Checker c(path);
  c.InRange("vocab_size", m.vocab_size(), 1, kMaxVocab);
  c.InRange("dim", m.dim(), 1, kMaxWidth);
  c.InRange("n_layers", m.n_layers(), 1, kMaxLayers);
  c.InRange("n_heads", m.n_heads(), 1, kMaxHeads);
  c.InRange("max_seq_len", m.max_seq_len(), 1, kMaxSeqLen);
  c.Real("rope_theta", m.rope_theta(), Above(0));
  c.Real("rms_norm_eps", m.rms_norm_eps(), Open(0, 1));
  const std::string& device = m.device();
  if (device != "cpu" && device != "cuda" && !absl::StartsWith(device, "cuda:")) {
    c.Fail("device", absl::StrCat("must be \"cpu\", \"cuda\" or \"cuda:N\", got \"", device, "\""));
  } else if (absl::StartsWith(device, "cuda:")) {
    int index;
    if (!absl::SimpleAtoi(device.substr(5), &index) || index < 0) {
      c.Fail("device", absl::StrCat("has a bad CUDA index in \"", device, "\""));
    }
  }
  // An imported family carries its config.json (model/families.h); r1's own
  // models carry neither.
  if (!m.family().empty() && absl::StripLeadingAsciiWhitespace(m.hf_config()).substr(0, 1) != "{") {
    c.Fail("hf_config", absl::StrCat("must hold the imported config.json (a JSON object) when ", path,
                                     ".family is set (\"", m.family(), "\")"));
  }
  if (m.family().empty() && !m.hf_config().empty()) {
    c.Fail("hf_config", absl::StrCat("applies only to an imported family (", path, ".family is empty)"));
  }
  if (m.has_rope_scaling()) CheckRopeScaling(m.rope_scaling(), c);
  c.InRange("moe_layer_freq", m.moe_layer_freq(), 1, kMaxLayers);
  for (int i = 0; i < m.dense_layers_size(); ++i) {
    c.InRange(absl::StrCat("dense_layers[", i, "]"), m.dense_layers(i), 0, m.n_layers() - 1);
  }

  const std::string arch = config::ModelArch_Name(m.arch());
  // A field of the other architecture is a mistake, not something to ignore.
  const auto only_for = [&](bool has, absl::string_view field, absl::string_view owner) {
    if (has) c.Fail(field, absl::StrCat("applies only to arch ", owner, ", not ", arch));
  };

  if (m.arch() == config::DEEPSEEK_V3) {
    for (const auto& [has, name] : std::initializer_list<std::pair<bool, absl::string_view>>{
             {m.has_n_kv_heads(), "n_kv_heads"},
             {m.has_ffn_hidden_dim(), "ffn_hidden_dim"},
             {m.has_tie_embeddings(), "tie_embeddings"},
             {m.has_head_dim(), "head_dim"},
             {m.has_qkv_bias(), "qkv_bias"},
             {m.has_o_bias(), "o_bias"},
             {m.has_mlp_bias(), "mlp_bias"},
             {m.has_qk_norm(), "qk_norm"}}) {
      only_for(has, name, "LLAMA");
    }
    c.InRange("q_lora_rank", m.q_lora_rank(), 0, kMaxWidth);
    c.InRange("kv_lora_rank", m.kv_lora_rank(), 1, kMaxWidth);
    c.InRange("qk_nope_head_dim", m.qk_nope_head_dim(), 1, kMaxWidth);
    c.InRange("qk_rope_head_dim", m.qk_rope_head_dim(), 1, kMaxWidth);
    if (m.qk_rope_head_dim() % 2 != 0) {
      c.Fail("qk_rope_head_dim", absl::StrCat("must be even (RoPE rotates pairs), got ", m.qk_rope_head_dim()));
    }
    c.InRange("v_head_dim", m.v_head_dim(), 1, kMaxWidth);
    c.InRange("n_dense_layers", m.n_dense_layers(), 0, m.n_layers());
    // Some layer is dense: the first n_dense_layers, those moe_layer_freq
    // skips, those listed.
    if (m.n_dense_layers() > 0 || m.moe_layer_freq() > 1 || m.dense_layers_size() > 0) {
      c.InRange("inter_dim", m.inter_dim(), 1, kMaxFfnWidth);
    }
    if (m.n_dense_layers() < m.n_layers()) CheckRouting(m, path, c);
    if (m.router_scoring() != config::SIGMOID) {
      c.Fail("router_scoring", absl::StrCat("must be SIGMOID for arch DEEPSEEK_V3 (its balancing bias steers sigmoid "
                                            "affinities), got ", config::RouterScoring_Name(m.router_scoring())));
    }
    c.InRange("n_mtp_modules", m.n_mtp_modules(), 0, kMaxLayers);
    c.Real("mtp_loss_weight", m.mtp_loss_weight(), AtLeast(0));
  } else {  // LLAMA
    // Experts (the Qwen3-MoE layout) are allowed; MLA, DeepSeek's dense FFN
    // width and MTP are not.
    for (const auto& [has, name] : std::initializer_list<std::pair<bool, absl::string_view>>{
             {m.has_q_lora_rank(), "q_lora_rank"},
             {m.has_kv_lora_rank(), "kv_lora_rank"},
             {m.has_qk_nope_head_dim(), "qk_nope_head_dim"},
             {m.has_qk_rope_head_dim(), "qk_rope_head_dim"},
             {m.has_v_head_dim(), "v_head_dim"},
             {m.has_inter_dim(), "inter_dim"},
             {m.has_n_mtp_modules(), "n_mtp_modules"}}) {
      only_for(has, name, "DEEPSEEK_V3");
    }
    c.InRange("n_kv_heads", m.n_kv_heads(), 1, kMaxHeads);
    if (m.n_kv_heads() > 0 && m.n_heads() % m.n_kv_heads() != 0) {
      c.Fail("n_heads", absl::StrCat("(", m.n_heads(), ") must be a multiple of ", path,
                                     ".n_kv_heads (", m.n_kv_heads(), ")"));
    }
    if (m.head_dim() != 0) {
      // Set independently of dim (Qwen3: 16 heads of 128 over dim 1024).
      c.InRange("head_dim", m.head_dim(), 2, kMaxWidth);
      if (m.head_dim() % 2 != 0) c.Fail("head_dim", absl::StrCat("must be even (RoPE rotates pairs), got ", m.head_dim()));
    } else if (m.n_heads() > 0 && m.dim() % m.n_heads() != 0) {
      c.Fail("dim", absl::StrCat("(", m.dim(), ") must be a multiple of ", path, ".n_heads (",
                                 m.n_heads(), ") when head_dim is 0"));
    } else if (m.n_heads() > 0 && (m.dim() / m.n_heads()) % 2 != 0) {
      c.Fail("dim", absl::StrCat("/ n_heads must be even (RoPE rotates pairs), got ",
                                 m.dim() / std::max(1, m.n_heads())));
    }
    c.InRange("ffn_hidden_dim", m.ffn_hidden_dim(), 1, kMaxFfnWidth);
    c.InRange("n_dense_layers", m.n_dense_layers(), 0, m.n_layers());
    if (m.n_routed_experts() > 0 || m.has_n_activated_experts() || m.has_moe_inter_dim() || m.has_n_shared_experts()) {
      CheckRouting(m, path, c);
    }
  }
  CheckAllFinite(m, "", c);
  return c;
}

}  // namespace

absl::Status ValidateModel(const config::ModelConfig& m, absl::string_view path) {
  return CheckModel(m, path).status();
}

absl::Status Validate(const config::RunConfig& run) {
  Checker c("");
  c.InRange("threads", run.threads(), 0, kMaxThreads);
  if (run.name().empty()) c.Fail("name", "must not be empty");

  std::set<int> stages;
  for (int i = 0; i < run.stages_size(); ++i) {
    if (!stages.insert(run.stages(i)).second) {
      c.Fail(absl::StrCat("stages[", i, "]"),
             absl::StrCat(config::Stage_Name(run.stages(i)), " is listed twice"));
    }
  }
  const auto wants = [&](config::Stage stage) { return stages.count(stage) > 0; };
  // A stage that runs must have its section; a section present is checked
  // even if its stage is off, so a mistake shows before it is switched on.
  const auto need = [&](bool present, config::Stage stage, absl::string_view section) {
    if (wants(stage) && !present) {
      c.Fail(section, absl::StrCat("must be set: stage ", config::Stage_Name(stage), " is listed in stages"));
    }
    return present;
  };

  const bool needs_policy = wants(config::PRETRAIN) || wants(config::COLD_START_SFT) ||
                            wants(config::RL) || wants(config::RL2) || wants(config::SFT) ||
                            wants(config::REJECT_SAMPLE);
  if (needs_policy && !run.has_policy()) c.Fail("policy", "must be set: a listed stage trains or samples the policy");
  if (run.has_policy()) c.Merge(CheckModel(run.policy(), "policy"));
  if (need(run.has_student(), config::DISTILL, "student")) c.Merge(CheckModel(run.student(), "student"));
  if (run.has_tokenizer()) c.Merge(CheckTokenizer(run.tokenizer(), "tokenizer"));
  if (run.has_data()) c.Merge(CheckData(run.data(), "data"));

  if (run.has_policy() && run.has_tokenizer() && run.tokenizer().vocab_size() > 0 &&
      run.policy().vocab_size() != run.tokenizer().vocab_size()) {
    c.Fail("policy.vocab_size", absl::StrCat("(", run.policy().vocab_size(),
                                             ") must equal tokenizer.vocab_size (",
                                             run.tokenizer().vocab_size(), ")"));
  }
  if (run.has_student() && run.has_policy() && run.student().vocab_size() != run.policy().vocab_size()) {
    c.Fail("student.vocab_size", absl::StrCat("(", run.student().vocab_size(),
                                              ") must equal policy.vocab_size (",
                                              run.policy().vocab_size(), "): they share the tokenizer"));
  }
  if (run.has_policy() && run.has_pretrain() && run.pretrain().seq_len() > run.policy().max_seq_len()) {
    c.Fail("pretrain.seq_len", absl::StrCat("(", run.pretrain().seq_len(), ") must be <= policy.max_seq_len (",
                                            run.policy().max_seq_len(), ")"));
  }
  if (wants(config::PRETRAIN) && (!run.has_data() || run.data().tasks_size() == 0)) {
    c.Fail("data.tasks", "must list at least one task: PRETRAIN generates its corpus from them");
  }

  if (need(run.has_pretrain(), config::PRETRAIN, "pretrain")) c.Merge(CheckPretrain(run.pretrain(), "pretrain"));
  if (need(run.has_cold_start_sft(), config::COLD_START_SFT, "cold_start_sft")) {
    c.Merge(CheckSft(run.cold_start_sft(), "cold_start_sft"));
  }
  if (need(run.has_rl(), config::RL, "rl")) c.Merge(CheckRl(run.rl(), "rl"));
  if (wants(config::RL2) && !run.has_rl()) c.Fail("rl", "must be set: stage RL2 is listed in stages");
  if (need(run.has_reject_sample(), config::REJECT_SAMPLE, "reject_sample")) {
    c.Merge(CheckRejectSample(run.reject_sample(), "reject_sample"));
  }
  if (need(run.has_sft(), config::SFT, "sft")) c.Merge(CheckSft(run.sft(), "sft"));
  if (need(run.has_distill(), config::DISTILL, "distill")) c.Merge(CheckDistill(run.distill(), "distill"));
  if (run.has_eval()) c.Merge(CheckEval(run.eval(), "eval"));
  if (run.has_reward()) c.Merge(CheckReward(run.reward(), "reward"));
  if (run.has_rollout()) c.Merge(CheckRollout(run.rollout(), "rollout"));
  // policy and student have been walked by CheckModel.
  config::RunConfig rest = run;
  rest.clear_policy();
  rest.clear_student();
  CheckAllFinite(rest, "", c);
  return c.status();
}

}  // namespace r1
