// The plots of the run report as data: each is a name (the page's
// data-plot attribute), a caption and the JSON spec run_report.js draws it
// from. Private to report/.
#ifndef R1_REPORT_PLOTS_H_
#define R1_REPORT_PLOTS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "report/run_report.h"

namespace r1::report {

struct Plot {
  std::string name;
  std::string caption;
  std::string json;
};

// "accuracy_per_stage" when any model was evaluated, then
// "teacher_vs_student" when both were.
std::vector<Plot> AccuracyPlots(const RunSummary& summary);

// The curves of one stage (PlotNames lists them), only those with data.
std::vector<Plot> StagePlots(const StageInfo& stage);

// {"plots":{"<name>":<spec>, ...}} over the accuracy plots, then every
// stage's curves, in page order.
std::string PlotDataJson(const std::vector<Plot>& accuracy, const std::vector<std::vector<Plot>>& curves);

// A JSON string literal. Written here rather than through protobuf's printer
// because the page must come out byte-identical for the same run (protobuf's
// map order is not stable). '<' becomes \u003c, so no text from the run
// directory can close the <script> block the data sits in.
std::string JsonString(absl::string_view text);

}  // namespace r1::report

#endif  // R1_REPORT_PLOTS_H_
