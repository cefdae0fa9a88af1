// Judging a submission: its program against test cases, one sandboxed run per
// case, each case a verdict, and a reward.
//
// Two kinds of test cases (the data format is fixed):
// - stdin/stdout (Submission::entry_point empty): `input` is the program's
//   stdin, `output` its expected stdout, compared as Submission::compare says
//   (CompareOutput: exact, lines, tokens (the default) or numeric).
// - function call (LeetCode style): the submission defines a function named
//   `entry_point`; `input` is a JSON array of positional arguments, `output`
//   the JSON of the expected return value. A small driver calls the function
//   and prints the JSON of the result; the comparison (JsonValuesMatch, not
//   Submission::compare) happens here, outside the sandbox, so the program
//   never sees the expected value. Anything the program prints goes to stderr.
//   - Python: a driver script next to the program imports it and calls
//     `entry_point`, a module-level function or, when the module has none of
//     that name, a method of `Solution()` (LeetCode's class).
//   - C++: the program is compiled together with a driver (one translation
//     unit: the driver's templates, then LeetCode's preamble `#include
//     <bits/stdc++.h>` and `using namespace std;`, then the program with any
//     `main` of its own renamed away, then the driver's main). The driver
//     calls `Solution().entry_point(...)` when the program declares a class or
//     struct `Solution`, else the free function `::entry_point`. The compiler
//     learns the signature (template deduction on the function's address), so
//     nothing parses C++. Parameter and return types: bool, char (a
//     one-character JSON string), the integer types up to 64 bits (range
//     checked), float, double, long double, std::string, and std::vector of
//     any of these, nested (vector<int>, vector<string>, vector<vector<int>>,
//     vector<vector<char>>, ...), by value or by (const) reference; a void
//     function returns null. Arguments that do not fit the declared types (a
//     JSON string for an int, 2^40 for an int, a wrong count) are the
//     program's runtime error, as Python's TypeError is. A declared type
//     outside that list (pointers such as ListNode*, maps, pairs, classes of
//     the program's own) is refused: JudgeInSandbox returns INVALID_ARGUMENT
//     naming the type (an item the judge cannot run, never a wrong answer). An
//     overloaded or template entry point, or one that is not there, does not
//     compile (compile_error).
#ifndef R1_SANDBOX_JUDGE_H_
#define R1_SANDBOX_JUDGE_H_

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "sandbox/compare.h"
#include "sandbox/limits.h"
#include "sandbox/sandbox.h"

namespace r1::sandbox {

enum class Language { kPython, kCpp };

struct TestCase {
  std::string input;
  std::string output;
};

struct Submission {
  Language language = Language::kPython;
  std::string source;
  std::string entry_point;  // empty: stdin/stdout cases
  std::vector<TestCase> tests;
  // How stdin/stdout cases compare (compare.h); function-call cases always
  // compare JSON values.
  CompareSpec compare;
  // Reward 1 only when every case passes, else 0; otherwise the fraction passed.
  bool all_or_nothing = false;
};

enum class Outcome {
  kPassed,
  kFailed,        // wrong answer (or a return value that is not JSON)
  kTimeout,       // CPU or wall limit, or the judge's deadline
  kMemoryLimit,   // the run's memory limit (cgroup), or MemoryError / std::bad_alloc
                  // under the address-space limit
  kRuntimeError,  // non-zero exit, uncaught exception, signal, file size limit
  kCompileError,  // C++ did not compile (every case gets it)
  kOutputLimit,   // more stdout/stderr than Limits::max_output_bytes
  kCancelled,     // the caller's cancellation flag stopped it
};

// "passed", "failed", "timeout", "memory", "runtime_error", "compile_error",
// "output_limit", "cancelled".
absl::string_view OutcomeName(Outcome outcome);

struct CaseResult {
  Outcome outcome = Outcome::kFailed;
  double wall_seconds = 0;
  std::string detail;  // short: first difference, stderr tail; printable ASCII
};

struct JudgeResult {
  std::vector<CaseResult> cases;  // one per Submission::tests, in order
  int passed = 0;
  double reward = 0;
  // "passed" when every case passed, else OutcomeName of the first case that
  // did not: a reason code for the reward service.
  std::string reason;
};

struct JudgeOptions {
  Limits run_limits;  // each test case
  Limits compile_limits = DefaultCompileLimits();
  // Paths inside the sandbox (the host's /usr is mounted there).
  std::string python_path = "/usr/bin/python3";
  // The site-packages directories of python_path, in site's order. Python
  // runs with -S (no site: its .pth files and sitecustomize are not run, see
  // judge.cc) and a prologue puts these on sys.path and defines exit, quit and
  // help as site would. SandboxPool::Create fills this in; unset,
  // JudgeInSandbox asks python first (ProbePythonSitePackages, one more run).
  std::optional<std::vector<std::string>> python_site_packages;
  std::string cxx_path = "/usr/bin/g++";
  std::vector<std::string> cxx_flags = {"-std=c++17", "-O2", "-pipe"};
};

// INVALID_ARGUMENT for what is wrong with the data rather than the program:
// no test cases, an entry point that is not an identifier (for C++ also a
// keyword or `main`), function-call inputs that are not JSON arrays or outputs
// that are not JSON.
absl::Status ValidateSubmission(const Submission& submission);

// The site-packages directories of `python_path` (site.getsitepackages(), the
// ones that exist), asked in `sandbox`. FAILED_PRECONDITION naming python when
// it fails.
absl::StatusOr<std::vector<std::string>> ProbePythonSitePackages(Sandbox& sandbox,
                                                                 const std::string& python_path,
                                                                 absl::Time deadline);

// Judges `submission` in `sandbox`, case after case. C++ is compiled first
// under options.compile_limits; a failed compile makes every case
// kCompileError. Cases reached after `deadline` are kTimeout without running;
// once `*cancelled` is set the running case and all later ones are kCancelled
// (reward 0, reason "cancelled"). Whatever the program does is a verdict; a
// non-OK status is an invalid submission or an infrastructure fault
// (INVALID_ARGUMENT also for a C++ entry point whose types the function-call
// driver does not support).
absl::StatusOr<JudgeResult> JudgeInSandbox(Sandbox& sandbox, const Submission& submission,
                                           const JudgeOptions& options, absl::Time deadline,
                                           const std::atomic<bool>* cancelled = nullptr);

}  // namespace r1::sandbox

#endif  // R1_SANDBOX_JUDGE_H_
