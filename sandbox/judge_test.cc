// JudgeInSandbox with real sandboxes: output comparison modes, and
// function-call tests in Python and C++ (the C++ driver: the types it fills,
// what it refuses, and what stays the program's own verdict).
#include "sandbox/judge.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sandbox/test_util.h"

namespace r1::sandbox {
namespace {

using ::r1::sandbox::testing::TestLimits;
using ::r1::sandbox::testing::TestSandboxOptions;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<Outcome> Outcomes(const JudgeResult& result) {
  std::vector<Outcome> outcomes;
  for (const CaseResult& c : result.cases) outcomes.push_back(c.outcome);
  return outcomes;
}

CompareSpec Mode(absl::string_view text) {
  absl::StatusOr<CompareSpec> spec = ParseCompareSpec(text);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : CompareSpec{};
}

class JudgeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto box = Sandbox::Create(TestSandboxOptions());
    ASSERT_TRUE(box.ok()) << box.status();
    box_ = box->release();
  }
  static void TearDownTestSuite() {
    delete box_;
    box_ = nullptr;
  }

  static absl::StatusOr<JudgeResult> Judge(const Submission& submission) {
    JudgeOptions options;
    options.run_limits = TestLimits();
    return JudgeInSandbox(*box_, submission, options, absl::Now() + absl::Seconds(120));
  }
  static JudgeResult MustJudge(const Submission& submission) {
    absl::StatusOr<JudgeResult> result = Judge(submission);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : JudgeResult{};
  }

  static Submission Python(const std::string& source, std::vector<TestCase> tests,
                           absl::string_view compare = "tokens") {
    Submission s;
    s.language = Language::kPython;
    s.source = source;
    s.tests = std::move(tests);
    s.compare = Mode(compare);
    return s;
  }
  static Submission CppCall(const std::string& source, const std::string& entry_point,
                            std::vector<TestCase> tests) {
    Submission s;
    s.language = Language::kCpp;
    s.source = source;
    s.entry_point = entry_point;
    s.tests = std::move(tests);
    return s;
  }

  static Sandbox* box_;
};

Sandbox* JudgeTest::box_ = nullptr;

TEST_F(JudgeTest, CompareModesDecideStdoutCases) {
  const std::string two_lines = "print(1)\nprint(2)\n";
  const std::vector<TestCase> tests = {{"", "1 2"}, {"", "1\n2"}, {"", "12"}};
  EXPECT_THAT(Outcomes(MustJudge(Python(two_lines, tests, "tokens"))),
              ElementsAre(Outcome::kPassed, Outcome::kPassed, Outcome::kFailed));
  EXPECT_THAT(Outcomes(MustJudge(Python(two_lines, tests, "lines"))),
              ElementsAre(Outcome::kFailed, Outcome::kPassed, Outcome::kFailed));
  EXPECT_THAT(Outcomes(MustJudge(Python(two_lines, tests, "exact"))),
              ElementsAre(Outcome::kFailed, Outcome::kPassed, Outcome::kFailed));
  // The default is tokens.
  EXPECT_EQ(Submission{}.compare.mode, CompareMode::kTokens);

  const std::string half = "print('%.7f' % 0.5)\n";  // 0.5000000
  const std::vector<TestCase> numbers = {{"", "0.5"}, {"", "0.50000001"}, {"", "0.51"}, {"", "1/2"}};
  EXPECT_THAT(Outcomes(MustJudge(Python(half, numbers, "numeric"))),
              ElementsAre(Outcome::kPassed, Outcome::kPassed, Outcome::kFailed, Outcome::kFailed));
  EXPECT_THAT(Outcomes(MustJudge(Python(half, numbers, "tokens"))),
              ElementsAre(Outcome::kFailed, Outcome::kFailed, Outcome::kFailed, Outcome::kFailed));
  const JudgeResult off = MustJudge(Python(half, {{"", "0.51"}}, "numeric"));
  EXPECT_EQ(off.cases.at(0).detail, "line 1: expected \"0.51\", got \"0.5000000\"");
  EXPECT_EQ(off.reward, 0);
}

TEST_F(JudgeTest, PythonFunctionCallsFindLeetCodesSolutionClass) {
  Submission s = Python("class Solution:\n    def add(self, a, b):\n        return a + b\n",
                        {{"[1, 2]", "3"}, {"[2, 3]", "6"}});
  s.entry_point = "add";
  const JudgeResult r = MustJudge(s);
  EXPECT_THAT(Outcomes(r), ElementsAre(Outcome::kPassed, Outcome::kFailed));
  // A module-level function of that name still wins.
  s.source = "def add(a, b):\n    return a * b\nclass Solution:\n    def add(self, a, b):\n        return a + b\n";
  EXPECT_THAT(Outcomes(MustJudge(s)), ElementsAre(Outcome::kFailed, Outcome::kPassed));
}

// What the host's Python, with its site, prints for `source` run as a script.
std::string HostPythonOutput(const std::string& source) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/judge_host_", getpid(), ".py");
  {
    std::ofstream out(path);
    out << source;
  }
  std::string output;
  FILE* pipe = popen(absl::StrCat("/usr/bin/python3 -B ", path).c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  char buffer[4096];
  for (size_t got; (got = fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, got);
  pclose(pipe);
  std::remove(path.c_str());
  return output;
}

// The judge runs Python without site (-S) and its runner puts back what a
// program can see of site: the program's globals, __name__, sys.argv, the
// site-packages directories in site's order, exit()/quit(), help; and none of
// the runner's names.
TEST_F(JudgeTest, PythonProgramsSeeWhatTheHostsPythonGivesAScript) {
  const std::string script = R"py(import sys
print(sorted(globals()))
print(__name__, __file__ == sys.argv[0], len(sys.argv), callable(help), 'site' in sys.modules)
print([p for p in sys.path[1:] if p.endswith(('dist-packages', 'site-packages'))])
print(sys.path.index(sys.path[-1]) > sys.path.index([p for p in sys.path if 'lib-dynload' in p][0]))
exit(0)
print('after exit')
)py";
  std::string expected = HostPythonOutput(script);
  // The host runs site, the judge does not; that is the one line that differs.
  ASSERT_THAT(expected, HasSubstr("True 1 True True\n"));
  expected.replace(expected.find("True 1 True True\n"), 17, "True 1 True False\n");
  EXPECT_THAT(expected, HasSubstr("dist-packages"));
  const JudgeResult r = MustJudge(Python(script, {{"", expected}}, "exact"));
  EXPECT_THAT(Outcomes(r), ElementsAre(Outcome::kPassed)) << r.cases.at(0).detail;

  // quit() ends a program with its status; a name only the runner had is not there.
  EXPECT_THAT(Outcomes(MustJudge(Python("print(1)\nquit(2)\n", {{"", "1"}}))),
              ElementsAre(Outcome::kRuntimeError));
  EXPECT_THAT(Outcomes(MustJudge(Python("print(sys.argv)\n", {{"", "['/box/solution.py']"}}))),
              ElementsAre(Outcome::kRuntimeError));
  // A syntax error is the program's runtime error, as Python's own exit status 1.
  EXPECT_THAT(Outcomes(MustJudge(Python("print(1\n", {{"", "1"}}))),
              ElementsAre(Outcome::kRuntimeError));

  // A function-call submission imports from the same site-packages.
  Submission call = Python(
      "import sys\n"
      "def dirs():\n"
      "    return [p for p in sys.path if p.endswith(('dist-packages', 'site-packages'))]\n",
      {{"[]", HostPythonOutput("import json, sys\nprint(json.dumps([p for p in sys.path[1:] if "
                               "p.endswith(('dist-packages', 'site-packages'))]))\n")}});
  call.entry_point = "dirs";
  const JudgeResult called = MustJudge(call);
  EXPECT_THAT(Outcomes(called), ElementsAre(Outcome::kPassed)) << called.cases.at(0).detail;
}

constexpr char kTwoSum[] = R"cc(#include <vector>
#include <unordered_map>
#include <iostream>
using namespace std;

class Solution {
public:
    vector<int> twoSum(vector<int>& nums, int target) {
        cout << "[0, 1]" << endl;  // prints go to stderr, not into the result
        printf("[0, 1]\n");
        unordered_map<int, int> seen;
        for (int i = 0; i < (int)nums.size(); ++i) {
            auto it = seen.find(target - nums[i]);
            if (it != seen.end()) return {it->second, i};
            seen[nums[i]] = i;
        }
        return {};
    }
};

int main() {  // a test main of its own: renamed, never run
    Solution s;
    vector<int> v = {1, 2};
    s.twoSum(v, 3);
    return 7;
}
)cc";

TEST_F(JudgeTest, CppFunctionCallPassesAndFailsPerCase) {
  const JudgeResult r = MustJudge(CppCall(kTwoSum, "twoSum",
                                          {{"[[2, 7, 11, 15], 9]", "[0, 1]"},
                                           {"[[3, 2, 4], 6]", "[1, 2]"},
                                           {"[[3, 3], 6]", "[0, 1]"},
                                           {"[[1, 5, 9], 14]", "[0, 1]"},  // wrong expectation
                                           {"[[1, 2], 100]", "[]"}}));
  EXPECT_THAT(Outcomes(r), ElementsAre(Outcome::kPassed, Outcome::kPassed, Outcome::kPassed,
                                       Outcome::kFailed, Outcome::kPassed));
  EXPECT_EQ(r.cases[3].detail, "expected [0, 1], got [1,2]");
  EXPECT_DOUBLE_EQ(r.reward, 0.8);
}

// Every supported parameter type in one call, by value, reference and const
// reference, on a free function under a competitive programmer's macros.
TEST_F(JudgeTest, CppFunctionCallFillsTheSupportedTypes) {
  const std::string source = R"cc(#include <bits/stdc++.h>
using namespace std;
#define int long long
string describe(int a, long long b, double c, bool d, const string& e, vector<int>& f,
                const vector<string>& g, vector<vector<int>> h, char i, vector<vector<char>> j,
                unsigned k, float l, vector<double> m, vector<bool> n) {
  ostringstream out;
  out << a << "|" << b << "|" << c << "|" << d << "|" << e << "|" << f.size() << ":" << accumulate(f.begin(), f.end(), 0LL)
      << "|" << g.size() << ":" << (g.empty() ? "" : g.back()) << "|" << h.size() << "x" << (h.empty() ? 0 : h[0].size())
      << "|" << i << "|" << j[0][1] << "|" << k << "|" << l << "|" << m.size() << "|" << n.size() << n[0];
  return out.str();
}
)cc";
  const std::string args =
      R"([-3, 9000000000, 2.5, true, "h\u00e9\n", [1, 2, 3], ["x", "yz"], [[1, 2], [3, 4], [5, 6]],)"
      R"( "c", [["a", "b"]], 4000000000, 0.25, [1, 2.5, -1e300], [true, false]])";
  const JudgeResult r = MustJudge(CppCall(
      source, "describe",
      {{args, "\"-3|9000000000|2.5|1|h\\u00e9\\n|3:6|2:yz|3x2|c|b|4000000000|0.25|3|21\""},
       {args, "\"-3|9000000000|2.5|1|h\\u00e9\\n|3:6|2:yz|3x2|c|b|4000000000|0.25|3|20\""}}));
  EXPECT_THAT(Outcomes(r), ElementsAre(Outcome::kPassed, Outcome::kFailed)) << r.cases[0].detail;
}

// Return types: each its own program, as each entry point is.
TEST_F(JudgeTest, CppFunctionCallReturnsJson) {
  struct Case {
    std::string source, entry, input, output;
  };
  const std::vector<Case> cases = {
      {"class Solution { public: static double avg(vector<int> v) { return accumulate(v.begin(), v.end(), 0.0) / v.size(); } };",
       "avg", "[[1, 2, 2]]", "1.6666666666666667"},
      {"bool isEven(long long x) { return x % 2 == 0; }", "isEven", "[4]", "true"},
      {"struct Solution { vector<vector<int>> grid(int n) const { return vector<vector<int>>(n, vector<int>(n, n)); } };",
       "grid", "[2]", "[[2, 2], [2, 2]]"},
      {"vector<string> split(string s) { vector<string> out; stringstream in(s); string w; while (in >> w) out.push_back(w); return out; }",
       "split", "[\"a b  c\"]", "[\"a\", \"b\", \"c\"]"},
      {"class Solution { public: void rotate(vector<int>& v) { reverse(v.begin(), v.end()); } };", "rotate",
       "[[1, 2]]", "null"},
      {"class Solution { public: string quote() { return \"say \\\"hi\\\"\\t\\\\\"; } };", "quote", "[]",
       "\"say \\\"hi\\\"\\t\\\\\""},
      {"double root(double x) { return sqrt(x); }", "root", "[-1]", "NaN"},
      {"vector<char> letters(string s) { return vector<char>(s.begin(), s.end()); }", "letters", "[\"ab\"]",
       "[\"a\", \"b\"]"},
  };
  for (const Case& c : cases) {
    const JudgeResult r = MustJudge(CppCall(c.source, c.entry, {{c.input, c.output}, {c.input, "0"}}));
    EXPECT_THAT(Outcomes(r), ElementsAre(Outcome::kPassed, Outcome::kFailed))
        << c.entry << ": " << (r.cases.empty() ? "" : r.cases[0].detail);
  }
}

TEST_F(JudgeTest, CppArgumentsThatDoNotFitAreTheProgramsRuntimeError) {
  const std::string source = "int add(int a, int b) { return a + b; }";
  const JudgeResult r = MustJudge(CppCall(source, "add",
                                          {{"[1, 2]", "3"},
                                           {"[1, 2, 3]", "3"},
                                           {"[\"1\", 2]", "3"},
                                           {"[3000000000, 2]", "3000000002"},
                                           {"[1.5, 2]", "3.5"}}));
  EXPECT_THAT(Outcomes(r), ElementsAre(Outcome::kPassed, Outcome::kRuntimeError, Outcome::kRuntimeError,
                                       Outcome::kRuntimeError, Outcome::kRuntimeError));
  EXPECT_THAT(r.cases[1].detail, HasSubstr("add takes 2 arguments, the test gives 3"));
  EXPECT_THAT(r.cases[2].detail, HasSubstr("argument 1 (int): a string"));
  EXPECT_THAT(r.cases[3].detail, HasSubstr("3000000000"));
}

TEST_F(JudgeTest, CppProgramsFaultsStayVerdicts) {
  // No such function: it does not compile, the program's doing.
  const JudgeResult missing = MustJudge(CppCall("int add2(int a, int b) { return a + b; }", "add", {{"[1, 2]", "3"}}));
  EXPECT_THAT(Outcomes(missing), ElementsAre(Outcome::kCompileError));
  EXPECT_THAT(missing.cases[0].detail, HasSubstr("add"));
  // Syntax errors cite the program's own lines.
  const JudgeResult broken = MustJudge(CppCall("int add(int a, int b) { return a + }", "add", {{"[1, 2]", "3"}}));
  EXPECT_THAT(Outcomes(broken), ElementsAre(Outcome::kCompileError));
  EXPECT_THAT(broken.cases[0].detail, HasSubstr("solution.cc:1"));
  // Crashes, exits before returning, and a fake result on stdout.
  const std::string source = R"cc(
int crash(int x) { if (x == 1) abort(); if (x == 2) throw runtime_error("boom"); return x; }
int quit(int x) { exit(0); }
int fake(int x) {
  printf("3");  // the expected answer, but on the program's stdout
  fflush(stdout);
  fprintf(stdout, "R1_HARNESS_REFUSED: spoof\n");
  fflush(stdout);
  exit(6);
}
)cc";
  EXPECT_THAT(Outcomes(MustJudge(CppCall(source, "crash", {{"[0]", "0"}, {"[1]", "1"}, {"[2]", "2"}}))),
              ElementsAre(Outcome::kPassed, Outcome::kRuntimeError, Outcome::kRuntimeError));
  const JudgeResult quit = MustJudge(CppCall(source, "quit", {{"[0]", "0"}}));
  EXPECT_THAT(Outcomes(quit), ElementsAre(Outcome::kRuntimeError));
  EXPECT_THAT(quit.cases[0].detail, HasSubstr("exited before the function returned"));
  const JudgeResult fake = MustJudge(CppCall(source, "fake", {{"[0]", "3"}}));
  EXPECT_THAT(Outcomes(fake), ElementsAre(Outcome::kRuntimeError));
  EXPECT_EQ(fake.reward, 0);
}

TEST_F(JudgeTest, CppTypesTheDriverCannotFillAreRefusedNotScored) {
  const std::string source = R"cc(
struct TreeNode { int val; TreeNode *left, *right; };
class Solution {
public:
    int maxDepth(TreeNode* root) { return root ? 1 : 0; }
    pair<int, int> span(vector<int> v) { return {0, 0}; }
};
)cc";
  absl::StatusOr<JudgeResult> tree = Judge(CppCall(source, "maxDepth", {{"[[3, 9, 20]]", "3"}}));
  ASSERT_FALSE(tree.ok());
  EXPECT_EQ(tree.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tree.status().message(), HasSubstr("parameter 1 of maxDepth has type TreeNode*"));
  absl::StatusOr<JudgeResult> pair = Judge(CppCall(source, "span", {{"[[1]]", "[0, 0]"}}));
  ASSERT_FALSE(pair.ok());
  EXPECT_EQ(pair.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(pair.status().message(), HasSubstr("span returns std::pair<int, int>"));
}

}  // namespace
}  // namespace r1::sandbox
