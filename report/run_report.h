// The run report: what a pipeline run directory holds, read back into one
// summary, shown as a self-contained HTML page (plots and a sample browser)
// and as a fixed-width table for the terminal. The report only reads the run
// directory; it is safe to run while the pipeline is still writing.
//
// Run directory contract (RUN = the run directory):
//   RUN/manifest.json             {"config": "...", "stages": [{"name", "status",
//                                  "seconds", "output"}, ...]}; status is
//                                  pending, running, done or failed
//   RUN/<stage>/metrics.jsonl     {"step": N, "<key>": number-or-null, ...} per
//                                  line; keys are flat and may contain '/'
//   RUN/eval/<model>.json         eval::TaskEvalJson: checkpoint, prompts,
//                                  samples, avg_at_k, pass_at_k, maj_at_k,
//                                  greedy (may be null), format_rate,
//                                  mean_completion_tokens
//   RUN/eval/<model>.samples.jsonl  data::SampleRecord lines
//   RUN/reject_sample/stats.json  a flat JSON object (optional)
// Any file may be missing. A missing file is listed in `missing` when the
// manifest says it should exist by now; a malformed file or line is listed in
// `problems` as `path:line: problem` and the rest is still read.
#ifndef R1_REPORT_RUN_REPORT_H_
#define R1_REPORT_RUN_REPORT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/records.pb.h"

namespace r1::report {

// Every stage the pipeline knows, in run order; the report lists stages in
// this order and places unknown names after them. pretrain_student is the
// student's base, trained by the pretrain stage beside the policy.
inline constexpr std::string_view kStageOrder[] = {
    "pretrain", "pretrain_student", "cold_start_sft", "rl", "reject_sample", "sft", "rl2", "distill", "export", "eval"};
// Whether stage `a` comes before `b` in that order; unknown names after the
// known ones, alphabetically among themselves.
bool StageLess(std::string_view a, std::string_view b);

enum class StageKind {
  kTraining,  // pretrain, cold_start_sft, sft, distill: loss curves
  kRl,        // rl, rl2: reward, accuracy, length, KL, entropy curves
  kOther,     // reject_sample, export, eval: no curves
};
StageKind KindOfStage(std::string_view stage);

struct MetricPoint {
  int64_t step = 0;
  double value = 0;
};

struct StageInfo {
  std::string name;
  // pending, running, done or failed from the manifest; "unknown" for a
  // stage folder the manifest does not list (or when there is no manifest).
  std::string status;
  std::optional<double> seconds;  // wall time of the stage
  std::string output;             // the stage's artifact (checkpoint folder, dataset)
  bool has_metrics = false;       // RUN/<stage>/metrics.jsonl exists
  // Metric name -> points in increasing step order. When a resumed stage
  // logs a step again, the later line replaces the earlier tail (the
  // curve continues from the checkpoint instead of doubling back).
  std::map<std::string, std::vector<MetricPoint>> metrics;
};

// One RUN/eval/<model>.json. A field that is absent or null stays empty.
struct ModelEval {
  std::string model;  // the stage the checkpoint came from
  std::string checkpoint;
  int64_t prompts = 0;
  int64_t samples = 0;  // k
  std::optional<double> avg_at_k;
  std::optional<double> pass_at_k;
  std::optional<double> maj_at_k;
  std::optional<double> greedy;
  std::optional<double> format_rate;
  std::optional<double> mean_completion_tokens;
};

struct RunSummary {
  std::string run_dir;
  bool has_manifest = false;
  std::string config;               // the run config path from the manifest
  std::vector<StageInfo> stages;    // kStageOrder order, unknown names last
  std::vector<ModelEval> evals;     // kStageOrder order, unknown models last
  // Model -> the completions of RUN/eval/<model>.samples.jsonl (good lines).
  std::map<std::string, std::vector<data::SampleRecord>> samples;
  // RUN/reject_sample/stats.json as (key, value text) in key order; empty
  // when the file does not exist.
  std::vector<std::pair<std::string, std::string>> reject_sample_stats;
  // The distilled student ("distill") and its teacher: the last policy stage
  // before distill that finished (by the manifest), else the last one that
  // has an eval. Empty when the run has no such stage.
  std::string teacher;
  std::string student;
  std::vector<std::string> missing;   // expected files not there, relative to run_dir
  std::vector<std::string> problems;  // `path[:line]: problem`, in reading order

  const StageInfo* FindStage(std::string_view name) const;
  const ModelEval* FindEval(std::string_view model) const;
};

// Reads everything the run directory holds. NOT_FOUND only when `run_dir` is
// not a directory; missing or malformed files are recorded in the summary.
absl::StatusOr<RunSummary> LoadRunSummary(const std::string& run_dir);

// One self-contained HTML page: no network access, the data in a
// <script type="application/json" id="run-data"> block and inline JS that
// draws every <figure class="plot" data-plot="NAME"> as SVG. After drawing,
// a figure carries data-rendered="true" and data-points (points or bars
// drawn), and <body> carries data-plots-rendered (figures drawn).
std::string RenderHtml(const RunSummary& summary);

// The data-plot names RenderHtml gives this summary, in page order:
// "accuracy_per_stage" when any model was evaluated, "teacher_vs_student"
// when both were; then per stage "<stage>.loss" for training stages and
// "<stage>.reward", ".accuracy", ".response_length", ".kl", ".entropy" for
// RL stages, each only when its metrics have points.
std::vector<std::string> PlotNames(const RunSummary& summary);

// Fixed-width text for the terminal: stages (status, seconds), evaluated
// models (avg@k, pass@k, maj@k, greedy, format rate, mean length), the
// teacher against the student, then what is missing or malformed.
std::string SummaryTable(const RunSummary& summary);

// Loads `run_dir` and writes RUN/report.html atomically (a reader never sees
// a half-written page).
absl::Status WriteRunReport(const std::string& run_dir);

}  // namespace r1::report

#endif  // R1_REPORT_RUN_REPORT_H_
