#include "report/run_report.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "common/jsonl.h"
#include "common/status.h"

namespace r1::report {
namespace {

namespace fs = std::filesystem;
using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

// Bad lines listed per file; past this a count stands for the rest, so a
// corrupt file cannot bury the report in thousands of identical messages.
constexpr int kMaxProblemsPerFile = 5;
// Points per curve embedded in the page; longer curves are thinned evenly.
// Keeps a long run's report a few MB at most; 1500 exceeds the pixel width.
constexpr size_t kMaxPlotPoints = 1500;
// Completions per model shown in the sample browser.
constexpr size_t kMaxSamplesShown = 50;

// The policies a distilled student can learn from, in run order.
constexpr std::string_view kPolicyStages[] = {"pretrain", "cold_start_sft", "rl", "sft", "rl2"};
constexpr std::string_view kStudentStage = "distill";

int StageRank(std::string_view name) {
  const auto* it = std::find(std::begin(kStageOrder), std::end(kStageOrder), name);
  return static_cast<int>(it - std::begin(kStageOrder));
}

bool StageLess(std::string_view a, std::string_view b) {
  const int ra = StageRank(a), rb = StageRank(b);
  return ra != rb ? ra < rb : a < b;
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

// ---------------------------------------------------------------- rendering

std::string Fixed(std::optional<double> value, int decimals) {
  return value.has_value() ? absl::StrFormat("%.*f", decimals, *value) : "-";
}

std::string EscapeHtml(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&#39;"}});
}

// A JSON string. Written here rather than through protobuf's printer because
// the page must come out byte-identical for the same run (protobuf's map
// order is not stable). '<' becomes \u003c, so no text from the run
// directory can close the <script> block the data sits in.
std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '<': out += "\\u003c"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppend(&out, absl::StrFormat("\\u%04x", c));
        } else {
          out.push_back(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string JsonNumber(std::optional<double> value) {
  return value.has_value() && std::isfinite(*value) ? absl::StrFormat("%.10g", *value) : "null";
}

// One plot: its data-plot name, caption and the JSON object the page's
// script draws it from.
struct Plot {
  std::string name;
  std::string caption;
  std::string json;
};

// {"kind": "lines", "x_label": "step", "y_scale": "linear" or "log",
//  "series": [{"name", "points": [[step, value], ...]}]}
Plot LinePlot(const std::string& name, const std::string& caption, const StageInfo& stage,
              const std::vector<std::string>& keys, bool log_scale) {
  std::vector<std::string> series;
  for (const std::string& key : keys) {
    auto it = stage.metrics.find(key);
    if (it == stage.metrics.end() || it->second.empty()) continue;
    const std::vector<MetricPoint>& points = it->second;
    std::vector<std::string> pairs;
    const size_t stride = (points.size() + kMaxPlotPoints - 1) / kMaxPlotPoints;
    for (size_t i = 0; i < points.size(); i += stride) {
      // Thinning keeps the last point: the final value is the one people read.
      const MetricPoint& p = (i + stride >= points.size()) ? points.back() : points[i];
      pairs.push_back(absl::StrCat("[", p.step, ",", JsonNumber(p.value), "]"));
    }
    series.push_back(absl::StrCat("{\"name\":", JsonString(key), ",\"points\":[", absl::StrJoin(pairs, ","), "]}"));
  }
  return {name, caption,
          absl::StrCat("{\"kind\":\"lines\",\"x_label\":\"step\",\"y_scale\":\"", log_scale ? "log" : "linear",
                       "\",\"series\":[", absl::StrJoin(series, ","), "]}")};
}

// {"kind": "bars", "categories": [...], "series": [{"name", "values": [number or null per category]}]}
Plot BarPlot(const std::string& name, const std::string& caption, const std::vector<std::string>& categories,
             const std::vector<std::pair<std::string, std::vector<std::optional<double>>>>& series) {
  std::vector<std::string> names, entries;
  for (const std::string& c : categories) names.push_back(JsonString(c));
  for (const auto& [series_name, values] : series) {
    std::vector<std::string> numbers;
    for (const std::optional<double>& v : values) numbers.push_back(JsonNumber(v));
    entries.push_back(
        absl::StrCat("{\"name\":", JsonString(series_name), ",\"values\":[", absl::StrJoin(numbers, ","), "]}"));
  }
  return {name, caption,
          absl::StrCat("{\"kind\":\"bars\",\"categories\":[", absl::StrJoin(names, ","), "],\"series\":[",
                       absl::StrJoin(entries, ","), "]}")};
}

bool HasPoints(const StageInfo& stage, const std::vector<std::string>& keys) {
  return std::any_of(keys.begin(), keys.end(), [&](const std::string& key) {
    auto it = stage.metrics.find(key);
    return it != stage.metrics.end() && !it->second.empty();
  });
}

// The curves of one stage, only those with data.
std::vector<Plot> StagePlots(const StageInfo& stage) {
  struct Curve {
    const char* suffix;
    const char* caption;
    std::vector<std::string> keys;
    bool log_scale = false;
  };
  std::vector<Curve> curves;
  if (KindOfStage(stage.name) == StageKind::kRl) {
    curves = {{"reward", "reward", {"reward_mean"}},
              {"accuracy", "accuracy (train samples; eval avg@k and greedy)",
               {"accuracy", "eval/avg_at_k", "eval/greedy"}},
              {"response_length", "response length (tokens)", {"response_length_mean", "eval/mean_length"}},
              {"kl", "KL to the reference policy", {"kl"}},
              {"entropy", "entropy (nats per token)", {"entropy"}}};
  } else if (KindOfStage(stage.name) == StageKind::kTraining) {
    curves = {{"loss", "loss", {"loss", "main_loss", "eval_loss"}, /*log_scale=*/true}};
  }
  std::vector<Plot> plots;
  for (const Curve& curve : curves) {
    if (!HasPoints(stage, curve.keys)) continue;
    plots.push_back(LinePlot(absl::StrCat(stage.name, ".", curve.suffix),
                             absl::StrCat(stage.name, ": ", curve.caption), stage, curve.keys, curve.log_scale));
  }
  return plots;
}

std::vector<Plot> AccuracyPlots(const RunSummary& summary) {
  std::vector<Plot> plots;
  if (summary.evals.empty()) return plots;
  std::vector<std::string> models;
  std::vector<std::optional<double>> avg, greedy;
  for (const ModelEval& eval : summary.evals) {
    models.push_back(eval.model);
    avg.push_back(eval.avg_at_k);
    greedy.push_back(eval.greedy);
  }
  plots.push_back(BarPlot("accuracy_per_stage", "accuracy per stage (avg@k, greedy beside it)", models,
                          {{"avg@k", avg}, {"greedy", greedy}}));
  const ModelEval* teacher = summary.FindEval(summary.teacher);
  const ModelEval* student = summary.FindEval(summary.student);
  if (teacher != nullptr && student != nullptr) {
    auto values = [](const ModelEval& e) {
      return std::vector<std::optional<double>>{e.avg_at_k, e.pass_at_k, e.maj_at_k, e.greedy, e.format_rate};
    };
    plots.push_back(BarPlot("teacher_vs_student",
                            absl::StrCat("teacher (", teacher->model, ") against student (", student->model, ")"),
                            {"avg@k", "pass@k", "maj@k", "greedy", "format"},
                            {{absl::StrCat("teacher ", teacher->model), values(*teacher)},
                             {absl::StrCat("student ", student->model), values(*student)}}));
  }
  return plots;
}

void AppendFigure(std::string& html, const Plot& plot) {
  absl::StrAppend(&html, "<figure class=\"plot\" data-plot=\"", EscapeHtml(plot.name), "\"><figcaption>",
                  EscapeHtml(plot.caption),
                  "</figcaption><svg viewBox=\"0 0 560 260\" role=\"img\"></svg></figure>\n");
}

// Whether a sample's answer was right. A reward-service sample carries its
// correctness rule's score (the rule is named after the task family); an eval
// example (eval::EvaluateOnTasks) says so in its reason code instead. Empty
// when neither tells.
std::optional<bool> SampleCorrect(const data::SampleRecord& sample) {
  for (const char* rule : {"math", "countdown", "code"}) {
    auto it = sample.reward_breakdown().find(rule);
    if (it != sample.reward_breakdown().end()) return it->second >= 1.0 - 1e-9;
  }
  if (sample.reason() == "correct") return true;
  if (sample.reason() == "wrong_answer" || sample.reason() == "bad_format") return false;
  return std::nullopt;
}

constexpr char kStyle[] = R"CSS(
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1200px; padding: 0 16px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin: 18px 0 6px; }
code, pre { font: 12px/1.4 ui-monospace, monospace; }
table { border-collapse: collapse; margin: 8px 0; } th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.status { padding: 1px 7px; border-radius: 8px; font-size: 12px; background: #eee; }
.status-done { background: #d8f0d8; } .status-running { background: #d8e6fa; } .status-failed { background: #f8d4d4; }
.warn { color: #a00; } .note { color: #666; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
figure.plot { margin: 0; border: 1px solid #e4e4e4; border-radius: 4px; padding: 6px; width: 560px; }
figure.plot figcaption { font-weight: 600; font-size: 13px; }
figure.plot svg { width: 100%; height: auto; }
svg .axis { stroke: #555; } svg .grid { stroke: #eee; } svg text { font-size: 10px; fill: #444; }
.legend span { display: inline-block; margin-right: 12px; font-size: 12px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: middle; }
details.model { margin: 6px 0; } details.model > summary { font-weight: 600; cursor: pointer; }
.sample { border-left: 3px solid #ccc; margin: 8px 0 8px 12px; padding: 2px 10px; }
.sample.correct { border-color: #4a4; } .sample.wrong { border-color: #c44; }
.sample pre { white-space: pre-wrap; word-break: break-word; background: #f7f7f7; padding: 6px; margin: 4px 0; }
)CSS";

// Draws every figure.plot from the run-data JSON. Text goes in through
// textContent only, so no name from the run directory is ever parsed as markup.
constexpr char kScript[] = R"JS(
(function () {
  'use strict';
  var NS = 'http://www.w3.org/2000/svg';
  var COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf'];
  var W = 560, H = 260, LEFT = 58, RIGHT = 14, TOP = 12, BOTTOM = 34;
  var PW = W - LEFT - RIGHT, PH = H - TOP - BOTTOM;
  var data = JSON.parse(document.getElementById('run-data').textContent);

  function node(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    parent.appendChild(e);
    return e;
  }
  function label(parent, x, y, s, anchor) {
    var t = node('text', {x: x, y: y, 'text-anchor': anchor || 'start'}, parent);
    t.textContent = s;
    return t;
  }
  function fmt(v) {
    var a = Math.abs(v);
    if (v === 0) return '0';
    if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
    return String(parseFloat(v.toPrecision(3)));
  }
  // `unmap` turns an axis coordinate back into the value its label shows.
  function yAxis(svg, y0, y1, unmap) {
    node('line', {x1: LEFT, y1: TOP, x2: LEFT, y2: TOP + PH, 'class': 'axis'}, svg);
    node('line', {x1: LEFT, y1: TOP + PH, x2: LEFT + PW, y2: TOP + PH, 'class': 'axis'}, svg);
    for (var i = 0; i <= 4; i++) {
      var y = TOP + PH - PH * i / 4;
      if (i > 0) node('line', {x1: LEFT + 1, y1: y, x2: LEFT + PW, y2: y, 'class': 'grid'}, svg);
      label(svg, LEFT - 5, y + 3, fmt(unmap(y0 + (y1 - y0) * i / 4)), 'end');
    }
  }
  function legend(fig, names) {
    var div = document.createElement('div');
    div.className = 'legend';
    names.forEach(function (name, i) {
      var span = document.createElement('span');
      var swatch = document.createElement('i');
      swatch.style.background = COLORS[i % COLORS.length];
      span.appendChild(swatch);
      span.appendChild(document.createTextNode(name));
      div.appendChild(span);
    });
    fig.appendChild(div);
  }

  function drawLines(fig, svg, spec) {
    var series = spec.series.filter(function (s) { return s.points.length > 0; });
    // Loss falls by orders of magnitude; on a linear axis everything after the
    // first few steps is a flat line. Log only when every value allows it.
    var log = spec.y_scale === 'log' && series.every(function (s) {
      return s.points.every(function (p) { return p[1] > 0; });
    });
    function ty(y) { return log ? Math.log10(y) : y; }
    var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity, n = 0;
    series.forEach(function (s) {
      s.points.forEach(function (p) {
        x0 = Math.min(x0, p[0]); x1 = Math.max(x1, p[0]);
        y0 = Math.min(y0, ty(p[1])); y1 = Math.max(y1, ty(p[1]));
        n++;
      });
    });
    if (n === 0) return 0;
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    var pad = y1 > y0 ? (y1 - y0) * 0.05 : (Math.abs(y0) * 0.05 || 1);
    y0 -= pad; y1 += pad;
    yAxis(svg, y0, y1, function (v) { return log ? Math.pow(10, v) : v; });
    if (log) label(svg, LEFT + 4, TOP + 10, 'log scale');
    for (var i = 0; i <= 4; i++) {
      label(svg, LEFT + PW * i / 4, TOP + PH + 13, fmt(Math.round(x0 + (x1 - x0) * i / 4)), 'middle');
    }
    label(svg, LEFT + PW / 2, H - 4, spec.x_label, 'middle');
    function sx(x) { return (LEFT + (x - x0) / (x1 - x0) * PW).toFixed(1); }
    function sy(y) { return (TOP + PH - (ty(y) - y0) / (y1 - y0) * PH).toFixed(1); }
    series.forEach(function (s, i) {
      var color = COLORS[i % COLORS.length];
      if (s.points.length > 1) {
        var pts = s.points.map(function (p) { return sx(p[0]) + ',' + sy(p[1]); }).join(' ');
        node('polyline', {points: pts, fill: 'none', stroke: color, 'stroke-width': 1.5}, svg);
      }
      // Sparse series (eval every N steps, a single point) need markers to be seen.
      if (s.points.length <= 60) {
        s.points.forEach(function (p) {
          var c = node('circle', {cx: sx(p[0]), cy: sy(p[1]), r: 2.5, fill: color}, svg);
          node('title', {}, c).textContent = s.name + ' at step ' + p[0] + ': ' + fmt(p[1]);
        });
      }
    });
    legend(fig, series.map(function (s) { return s.name; }));
    return n;
  }

  function drawBars(fig, svg, spec) {
    var top = 1;  // accuracies: the axis always shows 0..1
    spec.series.forEach(function (s) {
      s.values.forEach(function (v) { if (v !== null && v > top) top = v; });
    });
    yAxis(svg, 0, top, function (v) { return v; });
    var groups = spec.categories.length, group = PW / groups;
    var bar = group * 0.8 / spec.series.length, n = 0;
    spec.series.forEach(function (s, j) {
      s.values.forEach(function (v, i) {
        if (v === null) return;
        var h = Math.max(0, v) / top * PH, x = LEFT + i * group + group * 0.1 + j * bar;
        var r = node('rect', {x: x.toFixed(1), y: (TOP + PH - h).toFixed(1), width: Math.max(1, bar - 2).toFixed(1),
                              height: h.toFixed(1), fill: COLORS[j % COLORS.length]}, svg);
        node('title', {}, r).textContent = s.name + ', ' + spec.categories[i] + ': ' + fmt(v);
        label(svg, x + bar / 2, TOP + PH - h - 3, v.toFixed(2), 'middle');
        n++;
      });
    });
    spec.categories.forEach(function (c, i) { label(svg, LEFT + (i + 0.5) * group, TOP + PH + 13, c, 'middle'); });
    legend(fig, spec.series.map(function (s) { return s.name; }));
    return n;
  }

  var rendered = 0;
  Array.prototype.forEach.call(document.querySelectorAll('figure.plot'), function (fig) {
    try {
      var spec = data.plots[fig.dataset.plot];
      if (!spec) throw new Error('no data for ' + fig.dataset.plot);
      var svg = fig.querySelector('svg');
      var n = spec.kind === 'bars' ? drawBars(fig, svg, spec) : drawLines(fig, svg, spec);
      fig.dataset.points = n;
      if (n > 0) {
        fig.dataset.rendered = 'true';
        rendered++;
      }
    } catch (e) {
      // One broken plot must not stop the others; the test reads data-error.
      fig.dataset.error = String(e);
    }
  });
  document.body.dataset.plotsRendered = rendered;
})();
)JS";

void AppendStages(std::string& html, const RunSummary& summary) {
  html += "<section id=\"stages\"><h2>Stages</h2>\n";
  if (summary.stages.empty()) {
    html += "<p class=\"note\">No stage has started (no manifest entries and no stage folders).</p></section>\n";
    return;
  }
  html += "<table><tr><th>stage</th><th>status</th><th class=\"num\">seconds</th><th>output</th></tr>\n";
  for (const StageInfo& stage : summary.stages) {
    absl::StrAppend(&html, "<tr><td>", EscapeHtml(stage.name), "</td><td><span class=\"status status-",
                    EscapeHtml(stage.status), "\">", EscapeHtml(stage.status), "</span></td><td class=\"num\">",
                    Fixed(stage.seconds, 1), "</td><td><code>", EscapeHtml(stage.output), "</code></td></tr>\n");
  }
  html += "</table></section>\n";
}

void AppendAccuracy(std::string& html, const RunSummary& summary, const std::vector<Plot>& plots) {
  html += "<section id=\"accuracy\"><h2>Accuracy</h2>\n";
  if (summary.evals.empty()) {
    html += "<p class=\"note\">No model evaluated yet (eval/&lt;model&gt;.json).</p></section>\n";
    return;
  }
  html +=
      "<table><tr><th>model</th><th class=\"num\">prompts</th><th class=\"num\">k</th><th class=\"num\">avg@k</th>"
      "<th class=\"num\">pass@k</th><th class=\"num\">maj@k</th><th class=\"num\">greedy</th>"
      "<th class=\"num\">format</th><th class=\"num\">mean length</th><th>checkpoint</th></tr>\n";
  for (const ModelEval& e : summary.evals) {
    std::string role = e.model == summary.teacher ? " (teacher)" : e.model == summary.student ? " (student)" : "";
    absl::StrAppend(&html, "<tr><td>", EscapeHtml(e.model), role, "</td><td class=\"num\">", e.prompts,
                    "</td><td class=\"num\">", e.samples, "</td><td class=\"num\">", Fixed(e.avg_at_k, 4),
                    "</td><td class=\"num\">", Fixed(e.pass_at_k, 4), "</td><td class=\"num\">",
                    Fixed(e.maj_at_k, 4), "</td><td class=\"num\">", Fixed(e.greedy, 4), "</td><td class=\"num\">",
                    Fixed(e.format_rate, 4), "</td><td class=\"num\">", Fixed(e.mean_completion_tokens, 1),
                    "</td><td><code>", EscapeHtml(e.checkpoint), "</code></td></tr>\n");
  }
  html += "</table>\n<div class=\"plots\">\n";
  for (const Plot& plot : plots) AppendFigure(html, plot);
  html += "</div>\n";
  if (!summary.student.empty() && plots.size() < 2) {
    absl::StrAppend(&html, "<p class=\"note\">Teacher against student needs both evaluated: teacher ",
                    EscapeHtml(summary.teacher.empty() ? "unknown" : summary.teacher), ", student ",
                    EscapeHtml(summary.student), ".</p>\n");
  }
  html += "</section>\n";
}

void AppendRejectSampleStats(std::string& html, const RunSummary& summary) {
  if (summary.reject_sample_stats.empty()) return;
  html += "<section id=\"reject-sample\"><h2>Rejection sampling</h2><table>\n";
  for (const auto& [key, value] : summary.reject_sample_stats) {
    absl::StrAppend(&html, "<tr><th>", EscapeHtml(key), "</th><td class=\"num\">", EscapeHtml(value),
                    "</td></tr>\n");
  }
  html += "</table></section>\n";
}

void AppendCurves(std::string& html, const RunSummary& summary, const std::vector<std::vector<Plot>>& plots) {
  html += "<section id=\"curves\"><h2>Training curves</h2>\n";
  bool any = false;
  for (size_t i = 0; i < summary.stages.size(); ++i) {
    const StageInfo& stage = summary.stages[i];
    if (KindOfStage(stage.name) == StageKind::kOther) continue;
    any = true;
    absl::StrAppend(&html, "<h3>", EscapeHtml(stage.name), " <span class=\"status status-", EscapeHtml(stage.status),
                    "\">", EscapeHtml(stage.status), "</span></h3>\n");
    if (plots[i].empty()) {
      absl::StrAppend(&html, "<p class=\"note\">",
                      stage.has_metrics ? "No plotted metric logged yet in "
                                        : "Not there yet: ",
                      EscapeHtml(stage.name), "/metrics.jsonl.</p>\n");
      continue;
    }
    html += "<div class=\"plots\">\n";
    for (const Plot& plot : plots[i]) AppendFigure(html, plot);
    html += "</div>\n";
  }
  if (!any) html += "<p class=\"note\">No training stage in this run yet.</p>\n";
  html += "</section>\n";
}

void AppendSamples(std::string& html, const RunSummary& summary) {
  html += "<section id=\"samples\"><h2>Samples</h2>\n";
  if (summary.samples.empty()) {
    html += "<p class=\"note\">No sampled completions yet (eval/&lt;model&gt;.samples.jsonl).</p></section>\n";
    return;
  }
  std::vector<std::string> models;
  for (const auto& [model, samples] : summary.samples) models.push_back(model);
  std::sort(models.begin(), models.end(), StageLess);
  for (const std::string& model : models) {
    const std::vector<data::SampleRecord>& samples = summary.samples.at(model);
    int correct = 0;
    for (const auto& s : samples) correct += SampleCorrect(s).value_or(false) ? 1 : 0;
    absl::StrAppend(&html, "<details class=\"model\" data-model=\"", EscapeHtml(model), "\"><summary>",
                    EscapeHtml(model), ": ", samples.size(), " completions, ", correct, " correct</summary>\n");
    if (samples.size() > kMaxSamplesShown) {
      absl::StrAppend(&html, "<p class=\"note\">Showing the first ", kMaxSamplesShown, ".</p>\n");
    }
    for (size_t i = 0; i < samples.size() && i < kMaxSamplesShown; ++i) {
      const data::SampleRecord& s = samples[i];
      const std::optional<bool> ok = SampleCorrect(s);
      const char* verdict = !ok.has_value() ? "unknown" : *ok ? "correct" : "wrong";
      std::vector<std::string> breakdown;
      std::map<std::string, double> rules(s.reward_breakdown().begin(), s.reward_breakdown().end());
      for (const auto& [rule, score] : rules) breakdown.push_back(absl::StrFormat("%s %.3g", rule, score));
      // The reason code only when it says more than the verdict.
      const std::string reason = s.reason().empty() || s.reason() == verdict
                                     ? ""
                                     : absl::StrCat(" &middot; ", EscapeHtml(s.reason()));
      absl::StrAppend(&html, "<div class=\"sample ", verdict, "\"><p><b>",
                      EscapeHtml(s.id().empty() ? absl::StrCat("#", i + 1) : s.id()), "</b> &middot; ",
                      EscapeHtml(s.task()), " &middot; reward ", absl::StrFormat("%.3f", s.reward()), " &middot; ",
                      verdict, " &middot; finish ", EscapeHtml(s.finish_reason().empty() ? "?" : s.finish_reason()),
                      " &middot; ", s.completion_tokens(), " tokens", reason, "</p>\n");
      if (!breakdown.empty()) {
        absl::StrAppend(&html, "<p class=\"note\">", EscapeHtml(absl::StrJoin(breakdown, ", ")), "</p>\n");
      }
      absl::StrAppend(&html, "<details><summary>prompt (expected answer ", EscapeHtml(s.answer()),
                      ")</summary><pre class=\"prompt\">", EscapeHtml(s.prompt()),
                      "</pre></details>\n<pre class=\"completion\">", EscapeHtml(s.completion()), "</pre></div>\n");
    }
    html += "</details>\n";
  }
  html += "</section>\n";
}

}  // namespace

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

std::vector<std::string> PlotNames(const RunSummary& summary) {
  std::vector<std::string> names;
  for (const Plot& plot : AccuracyPlots(summary)) names.push_back(plot.name);
  for (const StageInfo& stage : summary.stages) {
    for (const Plot& plot : StagePlots(stage)) names.push_back(plot.name);
  }
  return names;
}

std::string RenderHtml(const RunSummary& summary) {
  const std::vector<Plot> accuracy = AccuracyPlots(summary);
  std::vector<std::vector<Plot>> curves;
  for (const StageInfo& stage : summary.stages) curves.push_back(StagePlots(stage));

  std::vector<std::string> entries;
  for (const Plot& plot : accuracy) entries.push_back(absl::StrCat(JsonString(plot.name), ":", plot.json));
  for (const auto& stage_plots : curves) {
    for (const Plot& plot : stage_plots) entries.push_back(absl::StrCat(JsonString(plot.name), ":", plot.json));
  }
  const std::string json = absl::StrCat("{\"plots\":{", absl::StrJoin(entries, ","), "}}");

  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>r1 run report: ",
      EscapeHtml(summary.run_dir), "</title>\n<style>", kStyle, "</style></head>\n<body>\n<h1>Run report</h1>\n",
      "<p>Run directory <code>", EscapeHtml(summary.run_dir), "</code>",
      summary.config.empty() ? "" : absl::StrCat(", config <code>", EscapeHtml(summary.config), "</code>"),
      "</p>\n<noscript><p class=\"warn\">The plots need JavaScript.</p></noscript>\n");
  if (!summary.missing.empty() || !summary.problems.empty()) {
    html += "<section id=\"problems\">\n";
    if (!summary.missing.empty()) {
      html += "<h2>Missing</h2><ul>\n";
      for (const std::string& m : summary.missing) absl::StrAppend(&html, "<li><code>", EscapeHtml(m), "</code></li>\n");
      html += "</ul>\n";
    }
    if (!summary.problems.empty()) {
      html += "<h2>Problems</h2><ul class=\"warn\">\n";
      for (const std::string& p : summary.problems) absl::StrAppend(&html, "<li><code>", EscapeHtml(p), "</code></li>\n");
      html += "</ul>\n";
    }
    html += "</section>\n";
  }
  AppendStages(html, summary);
  AppendAccuracy(html, summary, accuracy);
  AppendRejectSampleStats(html, summary);
  AppendCurves(html, summary, curves);
  AppendSamples(html, summary);
  absl::StrAppend(&html, "<script type=\"application/json\" id=\"run-data\">", json, "</script>\n<script>", kScript,
                  "</script>\n</body></html>\n");
  return html;
}

std::string SummaryTable(const RunSummary& summary) {
  std::string out = absl::StrCat("run ", summary.run_dir);
  if (!summary.config.empty()) absl::StrAppend(&out, "  (config ", summary.config, ")");
  out += "\n\n";
  if (summary.stages.empty()) {
    out += "no stage has started\n";
  } else {
    absl::StrAppend(&out, absl::StrFormat("%-16s %-8s %10s\n", "stage", "status", "seconds"));
    for (const StageInfo& stage : summary.stages) {
      absl::StrAppend(&out, absl::StrFormat("%-16s %-8s %10s\n", stage.name, stage.status, Fixed(stage.seconds, 1)));
    }
  }
  out += "\n";
  if (summary.evals.empty()) {
    out += "no model evaluated yet\n";
  } else {
    const ModelEval* teacher = summary.FindEval(summary.teacher);
    const ModelEval* student = summary.FindEval(summary.student);
    const bool compare = teacher != nullptr && student != nullptr;
    // Wide enough for every label printed.
    size_t width = std::string_view("model").size();
    for (const ModelEval& e : summary.evals) width = std::max(width, e.model.size());
    if (compare) width = std::max({width, summary.teacher.size() + 8, summary.student.size() + 8});
    auto row = [&](const std::string& label, const ModelEval& e) {
      return absl::StrFormat("%-*s %7s %7s %7s %7s %7s %9s\n", width, label, Fixed(e.avg_at_k, 4), Fixed(e.pass_at_k, 4),
                             Fixed(e.maj_at_k, 4), Fixed(e.greedy, 4), Fixed(e.format_rate, 4),
                             Fixed(e.mean_completion_tokens, 1));
    };
    absl::StrAppend(&out, absl::StrFormat("%-*s %7s %7s %7s %7s %7s %9s\n", width, "model", "avg@k", "pass@k",
                                          "maj@k", "greedy", "format", "mean len"));
    for (const ModelEval& e : summary.evals) absl::StrAppend(&out, row(e.model, e));
    if (!summary.student.empty()) {
      out += "\n";
      if (compare) {
        absl::StrAppend(&out, row(absl::StrCat("teacher ", teacher->model), *teacher),
                        row(absl::StrCat("student ", student->model), *student));
      } else {
        absl::StrAppend(&out, "teacher ", summary.teacher.empty() ? "unknown" : summary.teacher,
                        teacher != nullptr ? "" : " (not evaluated)", " vs student ", summary.student,
                        student != nullptr ? "" : " (not evaluated)", "\n");
      }
    }
  }
  if (!summary.reject_sample_stats.empty()) {
    out += "\nreject_sample:";
    for (const auto& [key, value] : summary.reject_sample_stats) absl::StrAppend(&out, " ", key, "=", value);
    out += "\n";
  }
  if (!summary.missing.empty()) absl::StrAppend(&out, "\nmissing: ", absl::StrJoin(summary.missing, ", "), "\n");
  if (!summary.problems.empty()) {
    out += "\nproblems:\n";
    for (const std::string& p : summary.problems) absl::StrAppend(&out, "  ", p, "\n");
  }
  return out;
}

absl::Status WriteRunReport(const std::string& run_dir) {
  R1_ASSIGN_OR_RETURN(RunSummary summary, LoadRunSummary(run_dir));
  return WriteFileAtomically(Join(run_dir, "report.html"), RenderHtml(summary));
}

}  // namespace r1::report
