// The report in a real browser: Debian's chromium, headless, loads a report
// written for a synthetic run and dumps the DOM after its scripts ran. The
// test reads back what the page's JS recorded (data-rendered, data-points,
// data-plots-rendered), so a plot that throws or draws nothing fails here
// even though the HTML itself looks right.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "common/subprocess.h"
#include "report/fake_run.h"
#include "report/run_report.h"

namespace r1::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Chromium's first start in a fresh profile takes a few seconds here; a hung
// browser must fail the test, not the CTest timeout.
constexpr absl::Duration kBrowserTimeout = absl::Seconds(90);

// The chromium executable on PATH, or empty.
std::string FindChromium() {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':')) {
    const std::string candidate = absl::StrCat(dir, "/chromium");
    if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// One start tag's attributes, as the browser serialized them.
using Attributes = std::map<std::string, std::string>;

Attributes ParseAttributes(absl::string_view tag) {
  Attributes attributes;
  size_t at = tag.find(' ');
  while (at != absl::string_view::npos) {
    const size_t eq = tag.find("=\"", at);
    if (eq == absl::string_view::npos) break;
    const size_t close = tag.find('"', eq + 2);
    if (close == absl::string_view::npos) break;
    std::string name(absl::StripAsciiWhitespace(tag.substr(at, eq - at)));
    attributes[name] = std::string(tag.substr(eq + 2, close - eq - 2));
    at = close + 1;
  }
  return attributes;
}

// Every <figure ...> start tag of `dom`, keyed by data-plot.
std::map<std::string, Attributes> Figures(const std::string& dom) {
  std::map<std::string, Attributes> figures;
  for (size_t at = dom.find("<figure "); at != std::string::npos; at = dom.find("<figure ", at + 1)) {
    Attributes attributes = ParseAttributes(absl::string_view(dom).substr(at, dom.find('>', at) - at));
    figures[attributes["data-plot"]] = attributes;
  }
  return figures;
}

Attributes BodyAttributes(const std::string& dom) {
  const size_t at = dom.find("<body");
  if (at == std::string::npos) return {};
  return ParseAttributes(absl::string_view(dom).substr(at, dom.find('>', at) - at));
}

class RunReportBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chromium_ = FindChromium();
    ASSERT_FALSE(chromium_.empty())
        << "chromium is not installed: the report's browser test needs Debian's chromium "
           "(apt-get install chromium; it is listed in scripts/packages.txt, so scripts/setup.sh installs it)";
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("r1_report_browser_test_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "home");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Loads RUN/report.html in headless chromium; the DOM after the scripts ran.
  std::string DumpDom(const std::string& run_dir) {
    const std::string home = (dir_ / "home").string();
    const std::string dom_path = (dir_ / "dom.html").string();
    const std::string log_path = (dir_ / "chromium.log").string();
    // HOME and the XDG folders point into the temp dir: chromium writes its
    // profile, cache and crash database there, never into the real home
    // (which may be read-only or shared with other test runs).
    const std::vector<std::string> argv = {
        "/usr/bin/env",
        absl::StrCat("HOME=", home),
        absl::StrCat("XDG_CONFIG_HOME=", home, "/.config"),
        absl::StrCat("XDG_CACHE_HOME=", home, "/.cache"),
        chromium_,
        "--headless",
        "--no-sandbox",  // root in a container: chromium's sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",  // a container's /dev/shm is often tiny
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",  // the page is offline; so is the browser
        absl::StrCat("--user-data-dir=", home, "/profile"),
        "--dump-dom",
        absl::StrCat("file://", std::filesystem::absolute(run_dir + "/report.html").string())};
    SubprocessOptions options;
    options.stdout_path = dom_path;
    options.stderr_path = log_path;
    absl::StatusOr<std::unique_ptr<Subprocess>> browser = Subprocess::Start(argv, options);
    EXPECT_TRUE(browser.ok()) << browser.status();
    if (!browser.ok()) return "";
    absl::StatusOr<int> exit_code = (*browser)->Wait(kBrowserTimeout);
    if (!exit_code.ok()) (*browser)->Stop();
    const std::string log = ReadFile(log_path).value_or("");
    EXPECT_TRUE(exit_code.ok()) << "chromium did not finish within " << kBrowserTimeout << "; its log:\n" << log;
    EXPECT_EQ(exit_code.value_or(-1), 0) << "chromium failed; its log:\n" << log;
    return ReadFile(dom_path).value_or("");
  }

  std::string chromium_;
  std::filesystem::path dir_;
};

TEST_F(RunReportBrowserTest, EveryPlotRendersAndTheSampleBrowserIsEscaped) {
  const std::string run = (dir_ / "run").string();
  ASSERT_TRUE(testing::WriteFakeRun(run).ok());
  ASSERT_TRUE(WriteRunReport(run).ok());
  absl::StatusOr<RunSummary> summary = LoadRunSummary(run);
  ASSERT_TRUE(summary.ok()) << summary.status();
  const std::vector<std::string> expected = PlotNames(*summary);
  ASSERT_EQ(expected.size(), 16);  // 2 accuracy charts, 4 loss curves, 2 x 5 RL curves

  const std::string dom = DumpDom(run);
  ASSERT_THAT(dom, HasSubstr("</html>"));
  const std::map<std::string, Attributes> figures = Figures(dom);
  EXPECT_EQ(figures.size(), expected.size());
  for (const std::string& name : expected) {
    SCOPED_TRACE(name);
    auto figure = figures.find(name);
    ASSERT_NE(figure, figures.end());
    const Attributes& a = figure->second;
    EXPECT_FALSE(a.contains("data-error")) << a.at("data-error");
    EXPECT_EQ(a.contains("data-rendered") ? a.at("data-rendered") : "", "true");
    int points = 0;
    EXPECT_TRUE(a.contains("data-points") && absl::SimpleAtoi(a.at("data-points"), &points));
    EXPECT_GT(points, 0);
  }
  // Points and bars drawn are exactly the data: 20 RL steps, 3 eval points
  // each of avg@k and greedy; 6 models x (avg@k, greedy) minus sft's null
  // greedy; 5 metrics x teacher and student.
  EXPECT_EQ(figures.at("rl.reward").at("data-points"), "20");
  EXPECT_EQ(figures.at("rl.accuracy").at("data-points"), "26");
  EXPECT_EQ(figures.at("pretrain.loss").at("data-points"), "63");
  EXPECT_EQ(figures.at("accuracy_per_stage").at("data-points"), "11");
  EXPECT_EQ(figures.at("teacher_vs_student").at("data-points"), "10");

  EXPECT_EQ(BodyAttributes(dom)["data-plots-rendered"], absl::StrCat(expected.size()));

  // The hostile completion is text in the sample browser, not markup.
  const size_t samples = dom.find("<section id=\"samples\">");
  ASSERT_NE(samples, std::string::npos);
  EXPECT_THAT(dom.substr(samples), HasSubstr("&lt;think&gt;2+2&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt; &amp; more"));
  EXPECT_THAT(dom, Not(HasSubstr("</script><b>")));
  EXPECT_THAT(dom, Not(HasSubstr("<b>bold</b>")));
}

TEST_F(RunReportBrowserTest, PartialRunRendersWhatExists) {
  // A run interrupted in its first stage: a manifest and some pretraining
  // curve, nothing evaluated yet.
  const std::string run = (dir_ / "run").string();
  ASSERT_TRUE(MakeDirs(run + "/pretrain").ok());
  ASSERT_TRUE(WriteFileAtomically(run + "/manifest.json",
                                  R"({"stages": [{"name": "pretrain", "status": "running"},
                                                  {"name": "rl", "status": "pending"}]})")
                  .ok());
  ASSERT_TRUE(WriteFileAtomically(run + "/pretrain/metrics.jsonl",
                                  "{\"step\":1,\"loss\":3}\n{\"step\":2,\"loss\":2.5}\n{\"step\":3,\"lo")
                  .ok());
  ASSERT_TRUE(WriteRunReport(run).ok());

  const std::string dom = DumpDom(run);
  const std::map<std::string, Attributes> figures = Figures(dom);
  ASSERT_EQ(figures.size(), 1);
  ASSERT_TRUE(figures.contains("pretrain.loss"));
  EXPECT_EQ(figures.at("pretrain.loss").at("data-rendered"), "true");
  EXPECT_EQ(figures.at("pretrain.loss").at("data-points"), "2");
  EXPECT_EQ(BodyAttributes(dom)["data-plots-rendered"], "1");
  EXPECT_THAT(dom, HasSubstr("No model evaluated yet"));
  EXPECT_THAT(dom, HasSubstr("metrics.jsonl:3: incomplete last line"));
}

}  // namespace
}  // namespace r1::report
