#include "report/fake_run.h"

#include <algorithm>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_util.h"
#include "common/jsonl.h"
#include "common/status.h"
#include "proto/records.pb.h"

namespace r1::report::testing {
namespace {

absl::Status Write(const std::string& dir, const std::string& relative, const std::string& text) {
  const std::string path = absl::StrCat(dir, "/", relative);
  R1_RETURN_IF_ERROR(MakeDirs(path.substr(0, path.rfind('/'))));
  return WriteFileAtomically(path, text);
}

std::string TrainingMetrics(int steps, double start_loss) {
  std::string lines;
  for (int step = 1; step <= steps; ++step) {
    const double loss = start_loss / step;
    absl::StrAppend(&lines, absl::StrFormat("{\"step\":%d,\"loss\":%.6g,\"main_loss\":%.6g,\"lr\":0.001", step, loss,
                                            loss * 0.8));
    if (step % 10 == 0) absl::StrAppend(&lines, absl::StrFormat(",\"eval_loss\":%.6g", loss * 0.9));
    // A non-finite value is logged as null (common/metrics.cc); it is no point.
    if (step == 2) lines += ",\"grad_norm\":null";
    lines += "}\n";
  }
  return lines;
}

std::string RlMetrics(double start_accuracy) {
  std::string lines =
      absl::StrFormat("{\"step\":0,\"eval/avg_at_k\":%.4f,\"eval/format_rate\":1,\"eval/greedy\":0.95,"
                      "\"eval/mean_length\":45,\"eval/pass_at_k\":1}\n",
                      start_accuracy);
  for (int step = 1; step <= kRlSteps; ++step) {
    const double accuracy = start_accuracy + 0.01 * step;
    absl::StrAppend(&lines, absl::StrFormat("{\"step\":%d,\"accuracy\":%.4f,\"reward_mean\":%.4f,\"kl\":%.6f,"
                                            "\"entropy\":%.4f,\"response_length_mean\":%.2f,\"reward/math\":%.4f",
                                            step, accuracy, accuracy + 0.2, 0.0005 * step, 0.06 - 0.002 * step,
                                            44.0 + 0.1 * step, accuracy));
    if (step % 10 == 0) {
      absl::StrAppend(&lines, absl::StrFormat(",\"eval/avg_at_k\":%.4f,\"eval/greedy\":0.96,\"eval/pass_at_k\":1,"
                                              "\"eval/format_rate\":1,\"eval/mean_length\":44.5",
                                              accuracy + 0.05));
    }
    lines += "}\n";
  }
  return lines;
}

std::string EvalJson(std::string_view model, double avg, const char* greedy) {
  return absl::StrFormat(
      "{\"checkpoint\": \"RUN/%s/checkpoints/step_00000100\", \"prompts\": 200, \"samples\": 8, "
      "\"avg_at_k\": %.4f, \"pass_at_k\": %.4f, \"maj_at_k\": %.4f, \"greedy\": %s, \"format_rate\": 1.0000, "
      "\"mean_completion_tokens\": 45.0}\n",
      model, avg, std::min(1.0, avg + 0.3), std::min(1.0, avg + 0.2), greedy);
}

std::string Sample(const std::string& id, const std::string& completion, bool correct, const char* finish) {
  data::SampleRecord record;
  record.set_id(id);
  record.set_prompt(absl::StrCat("What is 2+2? <", id, ">"));
  record.set_completion(completion);
  record.set_answer("4");
  record.set_task("arithmetic");
  record.set_reward(correct ? 1.2 : 0.2);
  (*record.mutable_reward_breakdown())["math"] = correct ? 1 : 0;
  (*record.mutable_reward_breakdown())["format"] = 1;
  record.set_reason(correct ? "correct" : "wrong_answer");
  record.set_finish_reason(finish);
  record.set_completion_tokens(12);
  return absl::StrCat(ToJsonLine(record), "\n");
}

}  // namespace

absl::Status WriteFakeRun(const std::string& dir) {
  R1_RETURN_IF_ERROR(Write(dir, "manifest.json", R"({"config": "configs/tiny.textproto", "stages": [
  {"name": "pretrain", "status": "done", "seconds": 412.3, "output": "RUN/pretrain/checkpoints/step_00002197"},
  {"name": "cold_start_sft", "status": "done", "seconds": 30.5, "output": "RUN/cold_start_sft/checkpoints/step_00000100"},
  {"name": "rl", "status": "done", "seconds": 300, "output": "RUN/rl/checkpoints/step_00000020"},
  {"name": "reject_sample", "status": "done", "seconds": 60.25, "output": "RUN/reject_sample/sft.jsonl"},
  {"name": "sft", "status": "done", "seconds": 40, "output": "RUN/sft/checkpoints/step_00000100"},
  {"name": "rl2", "status": "done", "seconds": 200, "output": "RUN/rl2/checkpoints/step_00000020"},
  {"name": "distill", "status": "done", "seconds": 90, "output": "RUN/distill/checkpoints/step_00000100"},
  {"name": "export", "status": "pending"},
  {"name": "eval", "status": "done", "seconds": 25}
]}
)"));
  R1_RETURN_IF_ERROR(Write(dir, "pretrain/metrics.jsonl", TrainingMetrics(kPretrainSteps, 5.0)));
  R1_RETURN_IF_ERROR(Write(dir, "cold_start_sft/metrics.jsonl", TrainingMetrics(10, 1.0)));
  R1_RETURN_IF_ERROR(Write(dir, "sft/metrics.jsonl", TrainingMetrics(10, 0.8)));
  R1_RETURN_IF_ERROR(Write(dir, "distill/metrics.jsonl", TrainingMetrics(10, 2.0)));
  R1_RETURN_IF_ERROR(Write(dir, "rl/metrics.jsonl", RlMetrics(0.6)));
  R1_RETURN_IF_ERROR(Write(dir, "rl2/metrics.jsonl", RlMetrics(0.8)));
  R1_RETURN_IF_ERROR(Write(dir, "reject_sample/stats.json",
                           R"({"prompts": 64, "prompts_with_kept": 60, "kept": 150, "samples_per_prompt": 8})"));
  R1_RETURN_IF_ERROR(Write(dir, "eval/pretrain.json", EvalJson("pretrain", 0.6931, "0.9750")));
  R1_RETURN_IF_ERROR(Write(dir, "eval/cold_start_sft.json", EvalJson("cold_start_sft", 0.72, "0.9800")));
  R1_RETURN_IF_ERROR(Write(dir, "eval/rl.json", EvalJson("rl", 0.85, "0.9800")));
  R1_RETURN_IF_ERROR(Write(dir, "eval/sft.json", EvalJson("sft", 0.86, "null")));
  R1_RETURN_IF_ERROR(Write(dir, "eval/rl2.json", EvalJson("rl2", 0.9, "0.9900")));
  R1_RETURN_IF_ERROR(Write(dir, "eval/distill.json", EvalJson("distill", 0.65, "0.9000")));
  R1_RETURN_IF_ERROR(Write(dir, "eval/rl.samples.jsonl",
                           Sample("rl-0", kHostileCompletion, true, "eos") +
                               Sample("rl-1", "<think>2+2=5</think><answer>5</answer>", false, "eos") +
                               Sample("rl-2", "<think>2+2 is", false, "length")));
  for (const char* model : {"pretrain", "cold_start_sft", "sft", "rl2", "distill"}) {
    R1_RETURN_IF_ERROR(Write(dir, absl::StrCat("eval/", model, ".samples.jsonl"),
                             Sample(absl::StrCat(model, "-0"), "<think>2+2=4</think><answer>4</answer>", true, "eos")));
  }
  return absl::OkStatus();
}

}  // namespace r1::report::testing
