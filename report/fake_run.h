// A synthetic pipeline run directory for the report tests: every file of the
// run-directory contract (report/run_report.h), small and with known values.
#ifndef R1_REPORT_FAKE_RUN_H_
#define R1_REPORT_FAKE_RUN_H_

#include <string>

#include "absl/status/status.h"

namespace r1::report::testing {

// A completion that would break the page if written unescaped: it closes the
// script block and opens markup.
inline constexpr char kHostileCompletion[] = "<think>2+2</script><b>bold</b> & more</think><answer>4</answer>";
// Steps the fake rl stage logs (reward_mean etc. on each, eval every 10).
inline constexpr int kRlSteps = 20;
// Steps the fake pretrain stage logs (loss on each, eval_loss every 10).
inline constexpr int kPretrainSteps = 30;

// Writes a finished run into `dir` (created if needed):
//   manifest.json: all nine stages; export pending, the rest done
//   pretrain, cold_start_sft, sft, distill: metrics.jsonl with loss curves
//   rl, rl2: metrics.jsonl with kRlSteps RL steps and eval/* every 10 steps
//   reject_sample/stats.json
//   eval/<model>.json for pretrain, cold_start_sft, rl, sft, rl2, distill
//   (sft's greedy is null) and eval/<model>.samples.jsonl: one correct
//   completion each, three for rl, the first of them kHostileCompletion.
absl::Status WriteFakeRun(const std::string& dir);

}  // namespace r1::report::testing

#endif  // R1_REPORT_FAKE_RUN_H_
