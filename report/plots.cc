#include "report/plots.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace r1::report {
namespace {

// Points per curve embedded in the page; longer curves are thinned evenly.
// Keeps a long run's report a few MB at most; 1500 exceeds the pixel width.
constexpr size_t kMaxPlotPoints = 1500;

std::string JsonNumber(std::optional<double> value) {
  return value.has_value() && std::isfinite(*value) ? absl::StrFormat("%.10g", *value) : "null";
}

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

}  // namespace

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

std::string PlotDataJson(const std::vector<Plot>& accuracy, const std::vector<std::vector<Plot>>& curves) {
  std::vector<std::string> entries;
  for (const Plot& plot : accuracy) entries.push_back(absl::StrCat(JsonString(plot.name), ":", plot.json));
  for (const auto& stage_plots : curves) {
    for (const Plot& plot : stage_plots) entries.push_back(absl::StrCat(JsonString(plot.name), ":", plot.json));
  }
  return absl::StrCat("{\"plots\":{", absl::StrJoin(entries, ","), "}}");
}

std::vector<std::string> PlotNames(const RunSummary& summary) {
  std::vector<std::string> names;
  for (const Plot& plot : AccuracyPlots(summary)) names.push_back(plot.name);
  for (const StageInfo& stage : summary.stages) {
    for (const Plot& plot : StagePlots(stage)) names.push_back(plot.name);
  }
  return names;
}

}  // namespace r1::report
