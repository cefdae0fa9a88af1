// The run report as people read it: the self-contained HTML page (tables,
// plot figures, sample browser; run_report.js draws the figures) and the
// fixed-width table for the terminal.
#include "report/run_report.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/file_util.h"
#include "common/status.h"
#include "report/plots.h"

namespace r1::report {

// report/run_report.js, embedded at build time (report/CMakeLists.txt): it
// draws every figure.plot from the run-data JSON. Text goes in through
// textContent only, so no name from the run directory is ever parsed as
// markup.
extern const char kRunReportScript[];

namespace {

// Completions per model shown in the sample browser.
constexpr size_t kMaxSamplesShown = 50;

std::string Fixed(std::optional<double> value, int decimals) {
  return value.has_value() ? absl::StrFormat("%.*f", decimals, *value) : "-";
}

std::string EscapeHtml(absl::string_view text) {
  return absl::StrReplaceAll(text, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&#39;"}});
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

std::string RenderHtml(const RunSummary& summary) {
  const std::vector<Plot> accuracy = AccuracyPlots(summary);
  std::vector<std::vector<Plot>> curves;
  for (const StageInfo& stage : summary.stages) curves.push_back(StagePlots(stage));

  const std::string json = PlotDataJson(accuracy, curves);

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
  absl::StrAppend(&html, "<script type=\"application/json\" id=\"run-data\">", json, "</script>\n<script>\n",
                  kRunReportScript, "</script>\n</body></html>\n");
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
  return WriteFileAtomically((std::filesystem::path(run_dir) / "report.html").string(), RenderHtml(summary));
}

}  // namespace r1::report
