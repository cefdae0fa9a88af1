#include "report/run_report.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "report/fake_run.h"

namespace r1::report {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Optional;
using ::testing::UnorderedElementsAreArray;

class RunReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() /
            absl::StrCat("r1_report_test_", getpid(), "_",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(testing::WriteFakeRun(dir_).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& relative) const { return absl::StrCat(dir_, "/", relative); }
  void Put(const std::string& relative, const std::string& text) {
    ASSERT_TRUE(WriteFileAtomically(Path(relative), text).ok());
  }
  void Remove(const std::string& relative) { ASSERT_TRUE(std::filesystem::remove(Path(relative))) << relative; }

  RunSummary Load() {
    absl::StatusOr<RunSummary> summary = LoadRunSummary(dir_);
    EXPECT_TRUE(summary.ok()) << summary.status();
    return summary.ok() ? *std::move(summary) : RunSummary{};
  }

  std::string dir_;
};

std::vector<std::string> StageNames(const RunSummary& summary) {
  std::vector<std::string> names;
  for (const StageInfo& stage : summary.stages) names.push_back(stage.name);
  return names;
}

TEST_F(RunReportTest, LoadsStagesFromTheManifestInRunOrder) {
  RunSummary summary = Load();
  EXPECT_TRUE(summary.has_manifest);
  EXPECT_EQ(summary.config, "configs/tiny.textproto");
  EXPECT_THAT(StageNames(summary), ElementsAre("pretrain", "cold_start_sft", "rl", "reject_sample", "sft", "rl2",
                                               "distill", "export", "eval"));
  const StageInfo* pretrain = summary.FindStage("pretrain");
  ASSERT_NE(pretrain, nullptr);
  EXPECT_EQ(pretrain->status, "done");
  EXPECT_THAT(pretrain->seconds, Optional(412.3));
  EXPECT_EQ(pretrain->output, "RUN/pretrain/checkpoints/step_00002197");
  EXPECT_EQ(summary.FindStage("export")->status, "pending");
  EXPECT_EQ(summary.FindStage("export")->seconds, std::nullopt);
  EXPECT_THAT(summary.missing, IsEmpty());
  EXPECT_THAT(summary.problems, IsEmpty());
}

TEST_F(RunReportTest, ReadsMetricCurvesAndSkipsNulls) {
  RunSummary summary = Load();
  const StageInfo* rl = summary.FindStage("rl");
  ASSERT_NE(rl, nullptr);
  EXPECT_TRUE(rl->has_metrics);
  EXPECT_EQ(rl->metrics.at("reward_mean").size(), testing::kRlSteps);
  ASSERT_EQ(rl->metrics.at("eval/avg_at_k").size(), 3);  // steps 0, 10 and 20
  EXPECT_EQ(rl->metrics.at("eval/avg_at_k")[1].step, 10);
  EXPECT_DOUBLE_EQ(rl->metrics.at("eval/avg_at_k")[1].value, 0.75);
  const StageInfo* pretrain = summary.FindStage("pretrain");
  EXPECT_EQ(pretrain->metrics.at("loss").size(), testing::kPretrainSteps);
  EXPECT_EQ(pretrain->metrics.at("eval_loss").size(), testing::kPretrainSteps / 10);
  EXPECT_FALSE(pretrain->metrics.contains("grad_norm"));  // logged once, as null
  EXPECT_FALSE(summary.FindStage("export")->has_metrics);
}

TEST_F(RunReportTest, ResumedStageContinuesFromItsCheckpointStep) {
  // Interrupted after step 3, resumed from the step-1 checkpoint: steps 2 and
  // 3 are logged again and the old ones must not remain.
  Put("sft/metrics.jsonl",
      "{\"step\":1,\"loss\":4}\n{\"step\":2,\"loss\":3}\n{\"step\":3,\"loss\":2}\n"
      "{\"step\":2,\"loss\":3.5}\n{\"step\":3,\"loss\":2.5}\n{\"step\":4,\"loss\":1}\n");
  RunSummary summary = Load();
  std::vector<std::pair<int64_t, double>> points;
  for (const MetricPoint& p : summary.FindStage("sft")->metrics.at("loss")) points.emplace_back(p.step, p.value);
  EXPECT_THAT(points, ElementsAre(std::pair<int64_t, double>{1, 4}, std::pair<int64_t, double>{2, 3.5},
                                  std::pair<int64_t, double>{3, 2.5}, std::pair<int64_t, double>{4, 1}));
}

TEST_F(RunReportTest, ReadsEvalsAndNamesTeacherAndStudent) {
  RunSummary summary = Load();
  std::vector<std::string> models;
  for (const ModelEval& e : summary.evals) models.push_back(e.model);
  EXPECT_THAT(models, ElementsAre("pretrain", "cold_start_sft", "rl", "sft", "rl2", "distill"));
  const ModelEval* pretrain = summary.FindEval("pretrain");
  EXPECT_EQ(pretrain->checkpoint, "RUN/pretrain/checkpoints/step_00000100");
  EXPECT_EQ(pretrain->prompts, 200);
  EXPECT_EQ(pretrain->samples, 8);
  EXPECT_THAT(pretrain->avg_at_k, Optional(0.6931));
  EXPECT_THAT(pretrain->greedy, Optional(0.975));
  EXPECT_THAT(pretrain->mean_completion_tokens, Optional(45.0));
  EXPECT_EQ(summary.FindEval("sft")->greedy, std::nullopt);  // "greedy": null = not measured
  EXPECT_EQ(summary.teacher, "rl2");
  EXPECT_EQ(summary.student, "distill");
}

TEST_F(RunReportTest, TeacherIsTheLastFinishedPolicyBeforeDistill) {
  Put("manifest.json",
      R"({"stages": [{"name": "pretrain", "status": "done"}, {"name": "rl", "status": "done"},
                     {"name": "rl2", "status": "failed"}, {"name": "distill", "status": "running"}]})");
  EXPECT_EQ(Load().teacher, "rl");
}

TEST_F(RunReportTest, ReadsSamplesAndRejectSampleStats) {
  RunSummary summary = Load();
  ASSERT_TRUE(summary.samples.contains("rl"));
  ASSERT_EQ(summary.samples.at("rl").size(), 3);
  EXPECT_EQ(summary.samples.at("rl")[0].completion(), testing::kHostileCompletion);
  EXPECT_EQ(summary.samples.at("rl")[2].finish_reason(), "length");
  EXPECT_EQ(summary.samples.at("distill").size(), 1);
  EXPECT_THAT(summary.reject_sample_stats,
              ElementsAre(std::pair<std::string, std::string>{"kept", "150"},
                          std::pair<std::string, std::string>{"prompts", "64"},
                          std::pair<std::string, std::string>{"prompts_with_kept", "60"},
                          std::pair<std::string, std::string>{"samples_per_prompt", "8"}));
}

TEST(LoadRunSummary, NoRunDirectoryIsNotFound) {
  absl::StatusOr<RunSummary> summary = LoadRunSummary("/nonexistent/r1_run");
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(summary.status().message(), HasSubstr("/nonexistent/r1_run"));
}

TEST_F(RunReportTest, EmptyRunDirectoryShowsNothingAndSaysTheManifestIsMissing) {
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  RunSummary summary = Load();
  EXPECT_FALSE(summary.has_manifest);
  EXPECT_THAT(summary.stages, IsEmpty());
  EXPECT_THAT(summary.evals, IsEmpty());
  EXPECT_THAT(summary.missing, ElementsAre("manifest.json"));
  EXPECT_THAT(PlotNames(summary), IsEmpty());
  EXPECT_THAT(SummaryTable(summary), AllOf(HasSubstr("no stage has started"), HasSubstr("no model evaluated yet"),
                                           HasSubstr("missing: manifest.json")));
  const std::string html = RenderHtml(summary);
  EXPECT_THAT(html, HasSubstr("No model evaluated yet"));
  EXPECT_THAT(html, HasSubstr("<code>manifest.json</code>"));
}

TEST_F(RunReportTest, WithoutManifestStageFoldersAreShownWithUnknownStatus) {
  Remove("manifest.json");
  RunSummary summary = Load();
  EXPECT_THAT(StageNames(summary),
              ElementsAre("pretrain", "cold_start_sft", "rl", "reject_sample", "sft", "rl2", "distill", "eval"));
  EXPECT_EQ(summary.FindStage("rl")->status, "unknown");
  EXPECT_TRUE(summary.FindStage("rl")->has_metrics);
  EXPECT_EQ(summary.teacher, "rl2");  // the last policy with an eval
}

TEST_F(RunReportTest, FilesAFinishedStageShouldHaveWrittenAreListedAsMissing) {
  Remove("rl/metrics.jsonl");
  Remove("eval/sft.json");
  Remove("eval/distill.samples.jsonl");
  RunSummary summary = Load();
  EXPECT_THAT(summary.missing,
              UnorderedElementsAreArray({"rl/metrics.jsonl", "eval/sft.json", "eval/distill.samples.jsonl"}));
  EXPECT_THAT(summary.problems, IsEmpty());
  EXPECT_FALSE(summary.FindStage("rl")->has_metrics);
  EXPECT_THAT(PlotNames(summary), Not(::testing::Contains("rl.reward")));
  EXPECT_THAT(RenderHtml(summary), HasSubstr("Not there yet: rl/metrics.jsonl"));
  EXPECT_THAT(SummaryTable(summary), HasSubstr("missing: rl/metrics.jsonl"));
}

TEST_F(RunReportTest, PendingStagesAreNotMissingAnything) {
  Put("manifest.json", R"({"stages": [{"name": "pretrain", "status": "running"}, {"name": "rl", "status": "pending"},
                                      {"name": "eval", "status": "pending"}]})");
  Remove("pretrain/metrics.jsonl");
  Remove("rl/metrics.jsonl");
  EXPECT_THAT(Load().missing, ElementsAre("pretrain/metrics.jsonl"));
}

TEST_F(RunReportTest, MalformedLineIsNamedByFileAndLineAndTheRestIsRead) {
  std::string metrics = *ReadFile(Path("rl/metrics.jsonl"));
  std::vector<std::string> lines = absl::StrSplit(metrics, '\n');
  lines[2] = "{\"step\": 2, \"accuracy\": ";  // line 3
  lines[4] = "{\"accuracy\": 0.5}";           // line 5: no step
  Put("rl/metrics.jsonl", absl::StrJoin(lines, "\n"));
  Put("eval/distill.samples.jsonl", "{\"prompt\": \"p\", \"completion\": \"c\"}\nnot json\n");
  RunSummary summary = Load();
  ASSERT_EQ(summary.problems.size(), 3) << absl::StrJoin(summary.problems, "\n");
  EXPECT_THAT(summary.problems[0], HasSubstr(Path("rl/metrics.jsonl") + ":3: "));
  EXPECT_THAT(summary.problems[1], AllOf(HasSubstr(Path("rl/metrics.jsonl") + ":5: "), HasSubstr("step")));
  EXPECT_THAT(summary.problems[2],
              AllOf(HasSubstr(Path("eval/distill.samples.jsonl") + ":2: "), HasSubstr("bad SampleRecord")));
  EXPECT_EQ(summary.FindStage("rl")->metrics.at("reward_mean").size(), testing::kRlSteps - 2);
  EXPECT_EQ(summary.samples.at("distill").size(), 1);
  EXPECT_THAT(SummaryTable(summary), HasSubstr(Path("rl/metrics.jsonl") + ":3: "));
  EXPECT_THAT(RenderHtml(summary), HasSubstr(Path("rl/metrics.jsonl") + ":3: "));
}

TEST_F(RunReportTest, ManyBadLinesAreCountedNotListed) {
  std::string bad;
  for (int i = 0; i < 12; ++i) bad += "garbage\n";
  Put("sft/metrics.jsonl", bad);
  RunSummary summary = Load();
  ASSERT_EQ(summary.problems.size(), 6);
  EXPECT_THAT(summary.problems.back(), HasSubstr("7 more bad lines"));
}

TEST_F(RunReportTest, LastLineStillBeingWrittenIsReportedAsIncomplete) {
  Put("rl2/metrics.jsonl", *ReadFile(Path("rl2/metrics.jsonl")) + "{\"step\": 21, \"accur");
  RunSummary summary = Load();
  ASSERT_EQ(summary.problems.size(), 1);
  EXPECT_THAT(summary.problems[0], AllOf(HasSubstr(Path("rl2/metrics.jsonl") + ":22: "), HasSubstr("incomplete")));
}

TEST_F(RunReportTest, MalformedJsonFilesAreProblemsNotFailures) {
  Put("manifest.json", "{\"stages\": [");
  Put("eval/rl.json", "[1, 2]");
  Put("eval/rl2.json", R"({"avg_at_k": "high"})");
  Put("reject_sample/stats.json", "");
  RunSummary summary = Load();
  EXPECT_THAT(summary.problems,
              UnorderedElementsAreArray({HasSubstr(Path("manifest.json") + ": "), HasSubstr(Path("eval/rl.json") + ": "),
                                         HasSubstr(Path("eval/rl2.json") + ": \"avg_at_k\" is not a number"),
                                         HasSubstr(Path("reject_sample/stats.json") + ": ")}));
  EXPECT_EQ(summary.FindEval("rl"), nullptr);
  EXPECT_EQ(summary.FindEval("rl2")->avg_at_k, std::nullopt);
  EXPECT_EQ(summary.FindStage("rl")->status, "unknown");  // the folder is still shown
}

TEST_F(RunReportTest, SummaryTableShowsStagesModelsAndTeacherAgainstStudent) {
  const std::string table = SummaryTable(Load());
  EXPECT_THAT(table, HasSubstr("(config configs/tiny.textproto)"));
  EXPECT_THAT(table, HasSubstr("stage            status      seconds\n"));
  EXPECT_THAT(table, HasSubstr("pretrain         done          412.3\n"));
  EXPECT_THAT(table, HasSubstr("export           pending           -\n"));
  EXPECT_THAT(table, HasSubstr("model             avg@k  pass@k   maj@k  greedy  format  mean len\n"));
  EXPECT_THAT(table, HasSubstr("pretrain         0.6931  0.9931  0.8931  0.9750  1.0000      45.0\n"));
  EXPECT_THAT(table, HasSubstr("sft              0.8600  1.0000  1.0000       -  1.0000      45.0\n"));
  EXPECT_THAT(table, HasSubstr("teacher rl2      0.9000  1.0000  1.0000  0.9900  1.0000      45.0\n"
                               "student distill  0.6500  0.9500  0.8500  0.9000  1.0000      45.0\n"));
  EXPECT_THAT(table, HasSubstr("reject_sample: kept=150 prompts=64 prompts_with_kept=60 samples_per_prompt=8"));
  EXPECT_THAT(table, Not(HasSubstr("missing")));
}

TEST_F(RunReportTest, SummaryTableSaysWhenTheStudentIsNotEvaluated) {
  Remove("eval/distill.json");
  EXPECT_THAT(SummaryTable(Load()), HasSubstr("teacher rl2 vs student distill (not evaluated)\n"));
}

TEST_F(RunReportTest, HtmlHasAFigurePerPlot) {
  RunSummary summary = Load();
  const std::vector<std::string> names = PlotNames(summary);
  EXPECT_THAT(names, ElementsAre("accuracy_per_stage", "teacher_vs_student", "pretrain.loss", "cold_start_sft.loss",
                                 "rl.reward", "rl.accuracy", "rl.response_length", "rl.kl", "rl.entropy", "sft.loss",
                                 "rl2.reward", "rl2.accuracy", "rl2.response_length", "rl2.kl", "rl2.entropy",
                                 "distill.loss"));
  const std::string html = RenderHtml(summary);
  for (const std::string& name : names) {
    EXPECT_THAT(html, HasSubstr(absl::StrCat("<figure class=\"plot\" data-plot=\"", name, "\">")));
  }
  size_t figures = 0;
  for (size_t at = html.find("<figure"); at != std::string::npos; at = html.find("<figure", at + 1)) ++figures;
  EXPECT_EQ(figures, names.size());
}

TEST_F(RunReportTest, HtmlEmbedsThePlotDataAsJson) {
  RunSummary summary = Load();
  const std::string html = RenderHtml(summary);
  const std::string open = "<script type=\"application/json\" id=\"run-data\">";
  const size_t begin = html.find(open);
  ASSERT_NE(begin, std::string::npos);
  const size_t end = html.find("</script>", begin);
  google::protobuf::Struct data;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(html.substr(begin + open.size(), end - begin - open.size()),
                                                          &data)
                  .ok());
  std::vector<std::string> plots;
  for (const auto& [name, spec] : data.fields().at("plots").struct_value().fields()) plots.push_back(name);
  EXPECT_THAT(plots, UnorderedElementsAreArray(PlotNames(summary)));
  const auto& reward = data.fields().at("plots").struct_value().fields().at("rl.reward").struct_value();
  const auto& series = reward.fields().at("series").list_value().values(0).struct_value();
  EXPECT_EQ(series.fields().at("name").string_value(), "reward_mean");
  EXPECT_EQ(series.fields().at("points").list_value().values_size(), testing::kRlSteps);
}

TEST_F(RunReportTest, HtmlEscapesCompletionsAndKeepsTheDataBlockClosed) {
  // A model named by a hostile file name reaches the page twice: as a table
  // cell (HTML) and as a bar category (JSON).
  Put("eval/x<\\script>.json", "{\"avg_at_k\": 0.5}");
  Put("eval/y<script><b>.samples.jsonl", "{\"prompt\": \"p\", \"completion\": \"c\"}\n");
  const std::string html = RenderHtml(Load());
  EXPECT_THAT(html, HasSubstr("<pre class=\"completion\">&lt;think&gt;2+2&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt; "
                              "&amp; more&lt;/think&gt;&lt;answer&gt;4&lt;/answer&gt;</pre>"));
  EXPECT_THAT(html, HasSubstr("What is 2+2? &lt;rl-0&gt;"));
  EXPECT_THAT(html, Not(HasSubstr("</script><b>")));
  EXPECT_THAT(html, Not(HasSubstr("<script><b>")));
  EXPECT_THAT(html, Not(HasSubstr("<\\script>")));
  // Exactly the two script blocks the page has: the data and the drawing code.
  size_t opens = 0, closes = 0;
  for (size_t at = html.find("<script"); at != std::string::npos; at = html.find("<script", at + 1)) ++opens;
  for (size_t at = html.find("</script>"); at != std::string::npos; at = html.find("</script>", at + 1)) ++closes;
  EXPECT_EQ(opens, 2);
  EXPECT_EQ(closes, 2);
}

TEST_F(RunReportTest, HtmlIsSelfContained) {
  const std::string html = RenderHtml(Load());
  EXPECT_THAT(html, Not(HasSubstr("<script src")));
  EXPECT_THAT(html, Not(HasSubstr("<link")));
  EXPECT_THAT(html, Not(HasSubstr("https://")));
  // The only URL is the SVG namespace name, which is never fetched.
  std::string without_namespace = html;
  const std::string ns = "http://www.w3.org/2000/svg";
  without_namespace.erase(without_namespace.find(ns), ns.size());
  EXPECT_THAT(without_namespace, Not(HasSubstr("http://")));
}

TEST_F(RunReportTest, SampleBrowserShowsVerdictRewardAndFinishReason) {
  const std::string html = RenderHtml(Load());
  EXPECT_THAT(html, HasSubstr("<details class=\"model\" data-model=\"rl\"><summary>rl: 3 completions, 1 correct"));
  EXPECT_THAT(html, HasSubstr("<b>rl-0</b> &middot; arithmetic &middot; reward 1.200 &middot; correct &middot; "
                              "finish eos &middot; 12 tokens</p>"));
  EXPECT_THAT(html, HasSubstr("<b>rl-2</b> &middot; arithmetic &middot; reward 0.200 &middot; wrong &middot; "
                              "finish length &middot; 12 tokens &middot; wrong_answer</p>"));
  EXPECT_THAT(html, HasSubstr("<p class=\"note\">format 1, math 0</p>"));
}

TEST_F(RunReportTest, WriteRunReportWritesReportHtmlIntoTheRunDirectory) {
  ASSERT_TRUE(WriteRunReport(dir_).ok());
  absl::StatusOr<std::string> html = ReadFile(Path("report.html"));
  ASSERT_TRUE(html.ok());
  // Byte-identical for the same run: reports can be diffed.
  EXPECT_TRUE(*html == RenderHtml(Load()));
  EXPECT_EQ(WriteRunReport(Path("no_such_run")).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace r1::report
