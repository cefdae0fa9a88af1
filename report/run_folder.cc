// Reading a run directory into a RunSummary (report/run_report.h has the
// contract): the manifest, every stage's metrics.jsonl, the eval results and
// samples, rejection-sampling statistics. Nothing here renders anything.
#include "report/run_report.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "common/jsonl.h"

namespace r1::report {
namespace {

namespace fs = std::filesystem;
using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

// Bad lines listed per file; past this a count stands for the rest, so a
// corrupt file cannot bury the report in thousands of identical messages.
constexpr int kMaxProblemsPerFile = 5;

// The policies a distilled student can learn from, in run order.
constexpr std::string_view kPolicyStages[] = {"pretrain", "cold_start_sft", "rl", "sft", "rl2"};
constexpr std::string_view kStudentStage = "distill";

int StageRank(std::string_view name) {
  const auto* it = std::find(std::begin(kStageOrder), std::end(kStageOrder), name);
  return static_cast<int>(it - std::begin(kStageOrder));
}

std::string Join(const std::string& dir, std::string_view relative) {
  return (fs::path(dir) / fs::path(relative)).string();
}

bool IsFile(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

absl::StatusOr<Struct> ParseJsonObject(absl::string_view json) {
  json = absl::StripAsciiWhitespace(json);
  if (json.empty() || json.front() != '{') return absl::InvalidArgumentError("not a JSON object");
  Struct object;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &object);
  if (!status.ok()) return absl::InvalidArgumentError(std::string(status.message()));
  return object;
}

// Collects one file's bad lines, capped at kMaxProblemsPerFile.
class ProblemLog {
 public:
  ProblemLog(std::vector<std::string>* problems, std::string path)
      : problems_(problems), path_(std::move(path)) {}
  ~ProblemLog() {
    if (count_ > kMaxProblemsPerFile) {
      problems_->push_back(absl::StrCat(path_, ": ", count_ - kMaxProblemsPerFile, " more bad lines"));
    }
  }
  void Add(int64_t line, absl::string_view problem) {
    if (++count_ <= kMaxProblemsPerFile) problems_->push_back(absl::StrCat(path_, ":", line, ": ", problem));
  }

 private:
  std::vector<std::string>* problems_;
  std::string path_;
  int count_ = 0;
};

// Calls `on_line(line_number, text, complete)` for every non-blank line;
// `complete` is false for a last line without its newline, which a writer
// may still be appending to.
template <typename Fn>
void ForEachLine(const std::string& contents, Fn on_line) {
  std::vector<absl::string_view> lines = absl::StrSplit(contents, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::string_view line = absl::StripSuffix(lines[i], "\r");
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    on_line(static_cast<int64_t>(i + 1), line, i + 1 < lines.size());
  }
}

void AppendPoint(std::vector<MetricPoint>& points, int64_t step, double value) {
  // A resumed stage logs again from its checkpoint's step: the new line
  // supersedes everything logged at or after that step by the interrupted run.
  while (!points.empty() && points.back().step >= step) points.pop_back();
  points.push_back({step, value});
}

void LoadMetrics(const std::string& path, StageInfo& stage, std::vector<std::string>& problems) {
  absl::StatusOr<std::string> contents = ReadFile(path);
  if (!contents.ok()) {
    problems.push_back(absl::StrCat(path, ": ", contents.status().message()));
    return;
  }
  stage.has_metrics = true;
  ProblemLog log(&problems, path);
  ForEachLine(*contents, [&](int64_t line_number, absl::string_view line, bool complete) {
    absl::StatusOr<Struct> object = ParseJsonObject(line);
    if (!object.ok()) {
      log.Add(line_number, complete ? object.status().message()
                                    : absl::StrCat("incomplete last line (still being written?): ",
                                                   object.status().message()));
      return;
    }
    auto step = object->fields().find("step");
    if (step == object->fields().end() || step->second.kind_case() != Value::kNumberValue) {
      log.Add(line_number, "no numeric \"step\"");
      return;
    }
    const int64_t step_value = static_cast<int64_t>(std::llround(step->second.number_value()));
    for (const auto& [key, value] : object->fields()) {
      // null stands for a non-finite value (common/metrics.cc); strings and
      // objects are not curves. Neither makes the line bad.
      if (key == "step" || value.kind_case() != Value::kNumberValue) continue;
      AppendPoint(stage.metrics[key], step_value, value.number_value());
    }
  });
}

// A field of an eval result: absent and null are "not measured"; anything
// but a number is a problem.
std::optional<double> NumberField(const Struct& object, const std::string& key, const std::string& path,
                                  std::vector<std::string>& problems) {
  auto it = object.fields().find(key);
  if (it == object.fields().end() || it->second.kind_case() == Value::kNullValue) return std::nullopt;
  if (it->second.kind_case() != Value::kNumberValue) {
    problems.push_back(absl::StrCat(path, ": \"", key, "\" is not a number"));
    return std::nullopt;
  }
  return it->second.number_value();
}

std::optional<ModelEval> LoadEval(const std::string& path, const std::string& model,
                                  std::vector<std::string>& problems) {
  absl::StatusOr<std::string> contents = ReadFile(path);
  absl::StatusOr<Struct> object = contents.ok() ? ParseJsonObject(*contents) : contents.status();
  if (!object.ok()) {
    problems.push_back(absl::StrCat(path, ": ", object.status().message()));
    return std::nullopt;
  }
  ModelEval eval;
  eval.model = model;
  if (auto it = object->fields().find("checkpoint");
      it != object->fields().end() && it->second.kind_case() == Value::kStringValue) {
    eval.checkpoint = it->second.string_value();
  }
  eval.prompts = std::llround(NumberField(*object, "prompts", path, problems).value_or(0));
  eval.samples = std::llround(NumberField(*object, "samples", path, problems).value_or(0));
  eval.avg_at_k = NumberField(*object, "avg_at_k", path, problems);
  eval.pass_at_k = NumberField(*object, "pass_at_k", path, problems);
  eval.maj_at_k = NumberField(*object, "maj_at_k", path, problems);
  eval.greedy = NumberField(*object, "greedy", path, problems);
  eval.format_rate = NumberField(*object, "format_rate", path, problems);
  eval.mean_completion_tokens = NumberField(*object, "mean_completion_tokens", path, problems);
  return eval;
}

std::vector<data::SampleRecord> LoadSamples(const std::string& path, std::vector<std::string>& problems) {
  std::vector<data::SampleRecord> samples;
  absl::StatusOr<std::string> contents = ReadFile(path);
  if (!contents.ok()) {
    problems.push_back(absl::StrCat(path, ": ", contents.status().message()));
    return samples;
  }
  ProblemLog log(&problems, path);
  data::SampleRecord record;
  ForEachLine(*contents, [&](int64_t line_number, absl::string_view line, bool) {
    if (absl::Status s = ParseJsonRecord(line, &record); !s.ok()) {
      log.Add(line_number, absl::StrCat("bad SampleRecord: ", s.message()));
      return;
    }
    samples.push_back(record);
  });
  return samples;
}

std::string JsonValueText(const Value& value) {
  switch (value.kind_case()) {
    case Value::kStringValue:
      return value.string_value();
    case Value::kNumberValue:
      return absl::StrFormat("%.10g", value.number_value());
    case Value::kBoolValue:
      return value.bool_value() ? "true" : "false";
    case Value::kNullValue:
      return "null";
    default: {
      std::string json;
      (void)google::protobuf::util::MessageToJsonString(value, &json);
      return json;
    }
  }
}

void LoadManifest(const std::string& path, RunSummary& summary) {
  absl::StatusOr<std::string> contents = ReadFile(path);
  absl::StatusOr<Struct> manifest = contents.ok() ? ParseJsonObject(*contents) : contents.status();
  if (!manifest.ok()) {
    summary.problems.push_back(absl::StrCat(path, ": ", manifest.status().message()));
    return;
  }
  const auto& fields = manifest->fields();
  if (auto it = fields.find("config"); it != fields.end() && it->second.kind_case() == Value::kStringValue) {
    summary.config = it->second.string_value();
  }
  auto stages = fields.find("stages");
  if (stages == fields.end()) return;
  if (stages->second.kind_case() != Value::kListValue) {
    summary.problems.push_back(absl::StrCat(path, ": \"stages\" is not a list"));
    return;
  }
  const ListValue& list = stages->second.list_value();
  for (int i = 0; i < list.values_size(); ++i) {
    const Value& entry = list.values(i);
    const auto name = entry.struct_value().fields().find("name");
    if (entry.kind_case() != Value::kStructValue || name == entry.struct_value().fields().end() ||
        name->second.kind_case() != Value::kStringValue || name->second.string_value().empty()) {
      summary.problems.push_back(absl::StrCat(path, ": stages[", i, "] has no \"name\""));
      continue;
    }
    StageInfo stage;
    stage.name = name->second.string_value();
    stage.status = "unknown";
    for (const auto& [key, value] : entry.struct_value().fields()) {
      if (key == "status" && value.kind_case() == Value::kStringValue) stage.status = value.string_value();
      if (key == "seconds" && value.kind_case() == Value::kNumberValue) stage.seconds = value.number_value();
      if (key == "output" && value.kind_case() == Value::kStringValue) stage.output = value.string_value();
    }
    if (summary.FindStage(stage.name) != nullptr) {
      summary.problems.push_back(absl::StrCat(path, ": stage \"", stage.name, "\" listed twice; first kept"));
      continue;
    }
    summary.stages.push_back(std::move(stage));
  }
}

bool Started(const StageInfo& stage) {
  return stage.status == "running" || stage.status == "done" || stage.status == "failed";
}

// Only what the manifest says should exist by now counts as missing; a
// pending stage's files are simply not there yet.
void FindMissing(RunSummary& summary) {
  if (!summary.has_manifest) {
    summary.missing.push_back("manifest.json");
    return;
  }
  for (const StageInfo& stage : summary.stages) {
    if (Started(stage) && KindOfStage(stage.name) != StageKind::kOther && !stage.has_metrics) {
      summary.missing.push_back(absl::StrCat(stage.name, "/metrics.jsonl"));
    }
  }
  const StageInfo* eval = summary.FindStage("eval");
  if (eval == nullptr || eval->status != "done") return;
  for (const StageInfo& stage : summary.stages) {
    const bool is_model = stage.name == kStudentStage ||
                          std::find(std::begin(kPolicyStages), std::end(kPolicyStages), stage.name) !=
                              std::end(kPolicyStages);
    if (!is_model || stage.status != "done") continue;
    if (summary.FindEval(stage.name) == nullptr) summary.missing.push_back(absl::StrCat("eval/", stage.name, ".json"));
    if (!summary.samples.contains(stage.name)) {
      summary.missing.push_back(absl::StrCat("eval/", stage.name, ".samples.jsonl"));
    }
  }
}

void FindTeacher(RunSummary& summary) {
  if (summary.FindStage(kStudentStage) == nullptr && summary.FindEval(kStudentStage) == nullptr) return;
  summary.student = std::string(kStudentStage);
  // The teacher is the newest policy the student could have learned from:
  // the last one that finished, or without a manifest the last one evaluated.
  for (std::string_view stage : kPolicyStages) {
    const StageInfo* info = summary.FindStage(stage);
    if (info != nullptr && info->status == "done") summary.teacher = std::string(stage);
  }
  if (!summary.teacher.empty()) return;
  for (std::string_view stage : kPolicyStages) {
    if (summary.FindEval(stage) != nullptr) summary.teacher = std::string(stage);
  }
}

}  // namespace

bool StageLess(std::string_view a, std::string_view b) {
  const int ra = StageRank(a), rb = StageRank(b);
  return ra != rb ? ra < rb : a < b;
}

StageKind KindOfStage(std::string_view stage) {
  if (stage == "pretrain" || stage == "pretrain_student" || stage == "cold_start_sft" || stage == "sft" ||
      stage == "distill") {
    return StageKind::kTraining;
  }
  if (stage == "rl" || stage == "rl2") return StageKind::kRl;
  return StageKind::kOther;
}

const StageInfo* RunSummary::FindStage(std::string_view name) const {
  for (const StageInfo& stage : stages) {
    if (stage.name == name) return &stage;
  }
  return nullptr;
}

const ModelEval* RunSummary::FindEval(std::string_view model) const {
  for (const ModelEval& eval : evals) {
    if (eval.model == model) return &eval;
  }
  return nullptr;
}

absl::StatusOr<RunSummary> LoadRunSummary(const std::string& run_dir) {
  std::error_code ec;
  if (!fs::is_directory(run_dir, ec)) return absl::NotFoundError(absl::StrCat("no run directory ", run_dir));
  RunSummary summary;
  summary.run_dir = run_dir;

  const std::string manifest = Join(run_dir, "manifest.json");
  summary.has_manifest = IsFile(manifest);
  if (summary.has_manifest) LoadManifest(manifest, summary);
  // Stage folders the manifest does not list (or all of them, without one):
  // what exists is shown even when the manifest lags behind.
  for (std::string_view name : kStageOrder) {
    if (summary.FindStage(name) == nullptr && fs::is_directory(Join(run_dir, name), ec)) {
      StageInfo& stage = summary.stages.emplace_back();
      stage.name = std::string(name);
      stage.status = "unknown";
    }
  }
  std::stable_sort(summary.stages.begin(), summary.stages.end(),
                   [](const StageInfo& a, const StageInfo& b) { return StageLess(a.name, b.name); });
  for (StageInfo& stage : summary.stages) {
    const std::string metrics = Join(run_dir, absl::StrCat(stage.name, "/metrics.jsonl"));
    if (IsFile(metrics)) LoadMetrics(metrics, stage, summary.problems);
  }

  // Models: every eval/<model>.json; samples: every eval/<model>.samples.jsonl.
  const std::string eval_dir = Join(run_dir, "eval");
  std::vector<std::string> eval_files;
  if (fs::is_directory(eval_dir, ec)) {
    for (const auto& entry : fs::directory_iterator(eval_dir, ec)) {
      if (entry.is_regular_file(ec)) eval_files.push_back(entry.path().filename().string());
    }
  }
  std::sort(eval_files.begin(), eval_files.end());
  for (const std::string& file : eval_files) {
    const std::string path = Join(eval_dir, file);
    if (absl::string_view model = file; absl::ConsumeSuffix(&model, ".samples.jsonl")) {
      summary.samples[std::string(model)] = LoadSamples(path, summary.problems);
    } else if (absl::ConsumeSuffix(&model, ".json")) {
      if (std::optional<ModelEval> eval = LoadEval(path, std::string(model), summary.problems)) {
        summary.evals.push_back(std::move(*eval));
      }
    }
  }
  std::stable_sort(summary.evals.begin(), summary.evals.end(),
                   [](const ModelEval& a, const ModelEval& b) { return StageLess(a.model, b.model); });

  const std::string stats = Join(run_dir, "reject_sample/stats.json");
  if (IsFile(stats)) {
    absl::StatusOr<std::string> contents = ReadFile(stats);
    absl::StatusOr<Struct> object = contents.ok() ? ParseJsonObject(*contents) : contents.status();
    if (object.ok()) {
      std::map<std::string, std::string> sorted;
      for (const auto& [key, value] : object->fields()) sorted[key] = JsonValueText(value);
      summary.reject_sample_stats.assign(sorted.begin(), sorted.end());
    } else {
      summary.problems.push_back(absl::StrCat(stats, ": ", object.status().message()));
    }
  }

  FindTeacher(summary);
  FindMissing(summary);
  return summary;
}

}  // namespace r1::report
