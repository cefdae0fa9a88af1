#include "sandbox/judge.h"

#include <signal.h>
#include <string.h>

#include <algorithm>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/status.h"
#include "sandbox/compare.h"
#include "sandbox/cpp_driver.h"

namespace r1::sandbox {
namespace {

constexpr char kPythonSource[] = "solution.py";
constexpr char kPythonRunner[] = "_r1_main.py";
constexpr char kCppSource[] = "main.cc";
constexpr char kCppBinary[] = "prog";
constexpr char kHarness[] = "_r1_harness.py";
constexpr size_t kDetailBytes = 400;

// The judge's Python runs without `site` (-S): site's part that a program can
// see (the site-packages directories on sys.path, after the standard library,
// as site orders them, and the exit/quit/help builtins) is this prologue, with
// the directories ProbePythonSitePackages found. What is left out, the .pth
// files and sitecustomize of the host's installation, are start-up hooks of
// that installation (setuptools' distutils shim, certificate injectors), not
// of the program; running them took 4 of a run's 13 ms of Python start-up.
// Everything is local to the function: the program's globals get no name of
// the judge's.
constexpr char kSitePrologue[] = R"py(def _r1_site(site_packages):
    import builtins, sys, _sitebuiltins
    sys.path.extend(site_packages)
    builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
    builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")
    builtins.help = _sitebuiltins._Helper()
)py";

// Runs a stdin/stdout program as `python3 program.py` would: compiled from its
// bytes (its coding cookie holds), as __main__ with sys.argv[0] and __file__
// its path, in the module namespace of this script after every name of the
// runner is gone from it (a program that forgets `import sys` fails as it
// would alone). A syntax error is an uncaught exception here, exit status 1,
// as Python's own.
constexpr char kRunnerMain[] = R"py(def _r1_run(path):
    import sys
    with open(path, "rb") as source:
        code = compile(source.read(), path, "exec")
    namespace = globals()
    kept = ("__name__", "__doc__", "__builtins__", "__loader__", "__spec__", "__package__",
            "__annotations__", "__cached__")
    for name in [name for name in namespace if name not in kept]:
        del namespace[name]
    namespace["__file__"] = path
    sys.argv[0] = path
    exec(code, namespace)
)py";

// Harness exit code for a return value json.dumps refuses (a wrong answer);
// 4 (no such function) and Python's 1 (an exception) are runtime errors.
constexpr int kHarnessNotJson = 3;

// The Python function-call driver. It reads the arguments before importing the
// submission, moves fd 1 to stderr so the submission's prints cannot mix with
// the result, and prints only json.dumps(result) on the saved stdout.
constexpr char kHarnessSource[] = R"py(import json, os, sys

def _main():
    args = json.loads(sys.stdin.read())
    result_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    sys.path.insert(0, "/box")
    import solution
    fn = getattr(solution, sys.argv[1], None)
    if fn is None and isinstance(getattr(solution, "Solution", None), type):
        fn = getattr(solution.Solution(), sys.argv[1], None)
    if not callable(fn):
        print("r1 harness: the submission defines no function %r" % sys.argv[1], file=sys.stderr)
        sys.exit(4)
    result = fn(*args)
    try:
        text = json.dumps(result)
    except (TypeError, ValueError, RecursionError) as e:
        print("r1 harness: the return value is not JSON: %s" % e, file=sys.stderr)
        sys.exit(3)
    result_out.write(text)
    result_out.flush()

_main()
)py";


// The driver's answer when it cannot drive the entry point (a type it does
// not support, arguments it cannot read): this exit code and this prefix on
// the result channel, together.
constexpr int kCppHarnessRefused = 6;
constexpr char kCppHarnessRefusedMarker[] = "R1_HARNESS_REFUSED: ";

bool IsIdentifierChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

// Whether `source` declares a class or struct named Solution (LeetCode's).
bool DeclaresSolutionClass(absl::string_view source) {
  constexpr absl::string_view kName = "Solution";
  for (size_t at = source.find(kName); at != absl::string_view::npos;
       at = source.find(kName, at + 1)) {
    const size_t end = at + kName.size();
    if (end < source.size() && IsIdentifierChar(source[end])) continue;
    size_t i = at;
    if (i == 0 || !absl::ascii_isspace(static_cast<unsigned char>(source[i - 1]))) continue;
    while (i > 0 && absl::ascii_isspace(static_cast<unsigned char>(source[i - 1]))) --i;
    for (absl::string_view key : {"class", "struct"}) {
      if (i >= key.size() && source.substr(i - key.size(), key.size()) == key &&
          (i == key.size() || !IsIdentifierChar(source[i - key.size() - 1]))) {
        return true;
      }
    }
  }
  return false;
}

// The one translation unit of a C++ function-call submission.
std::string CppFunctionCallSource(const Submission& submission) {
  const std::string& name = submission.entry_point;
  const std::string target =
      DeclaresSolutionClass(submission.source) ? absl::StrCat("&Solution::", name) : absl::StrCat("&::", name);
  return absl::StrCat(kCppDriverPrefix, "#line 1 \"solution.cc\"\n", submission.source,
                      "\n#undef main\n#line 1 \"r1_driver_main.cc\"\n",
                      "signed main() { return ::r1_harness::Main(\"", name, "\", ", target, "); }\n");
}

constexpr absl::string_view kCppKeywords[] = {
    "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case",
    "catch", "char", "char8_t", "char16_t", "char32_t", "class", "co_await", "co_return", "co_yield",
    "compl", "concept", "const", "const_cast", "consteval", "constexpr", "constinit", "continue",
    "decltype", "default", "delete", "do", "double", "dynamic_cast", "else", "enum", "explicit",
    "export", "extern", "false", "float", "for", "friend", "goto", "if", "inline", "int", "long",
    "mutable", "namespace", "new", "noexcept", "not", "not_eq", "nullptr", "operator", "or", "or_eq",
    "private", "protected", "public", "register", "reinterpret_cast", "requires", "return", "short",
    "signed", "sizeof", "static", "static_assert", "static_cast", "struct", "switch", "template",
    "this", "thread_local", "throw", "true", "try", "typedef", "typeid", "typename", "union",
    "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq",
    // Names the driver itself uses.
    "main", "r1_harness", "r1_program_main", "Solution"};

std::string Tail(absl::string_view text) {
  text = absl::StripTrailingAsciiWhitespace(text);
  if (text.size() > kDetailBytes) text = text.substr(text.size() - kDetailBytes);
  return Printable(text, kDetailBytes);
}

bool LooksOutOfMemory(absl::string_view stderr_data) {
  for (absl::string_view marker :
       {"MemoryError", "std::bad_alloc", "Cannot allocate memory", "out of memory"}) {
    if (absl::StrContains(stderr_data, marker)) return true;
  }
  return false;
}

// The verdict for one run of a test case (or nullopt when the program ran to a
// zero exit and its output must be compared).
std::optional<CaseResult> RunVerdict(const RunResult& run, const Limits& limits) {
  CaseResult verdict;
  verdict.wall_seconds = run.wall_seconds;
  switch (run.termination) {
    case Termination::kCancelled:
      verdict.outcome = Outcome::kCancelled;
      return verdict;
    case Termination::kWallLimit:
      verdict.outcome = Outcome::kTimeout;
      verdict.detail =
          absl::StrFormat("killed after %.2f s of wall time (limit %.2f s or the deadline)",
                          run.wall_seconds, limits.wall_seconds);
      return verdict;
    case Termination::kCpuLimit:
      verdict.outcome = Outcome::kTimeout;
      verdict.detail = absl::StrFormat("used %.2f s of CPU (limit %.2f s)", run.cpu_seconds,
                                       limits.cpu_seconds);
      return verdict;
    case Termination::kMemoryLimit:
      verdict.outcome = Outcome::kMemoryLimit;
      verdict.detail = absl::StrCat(
          "the run's memory (all processes, shared memory and files in /tmp together) reached ",
          limits.memory_bytes, " bytes");
      return verdict;
    case Termination::kOutputLimit:
      verdict.outcome = Outcome::kOutputLimit;
      verdict.detail = absl::StrCat("more than ", limits.max_output_bytes, " bytes of output");
      return verdict;
    case Termination::kSignaled:
    case Termination::kExited:
      break;
  }
  if (run.signal == 0 && run.exit_code == 0) return std::nullopt;
  if (LooksOutOfMemory(run.stderr_data)) {
    verdict.outcome = Outcome::kMemoryLimit;
    verdict.detail = Tail(run.stderr_data);
    return verdict;
  }
  verdict.outcome = Outcome::kRuntimeError;
  if (run.signal == SIGXFSZ) {
    verdict.detail = absl::StrCat("file size limit (", limits.max_file_bytes, " bytes) exceeded");
  } else if (run.signal != 0) {
    verdict.detail = absl::StrCat("killed by signal ", run.signal, " (",
                                  sigabbrev_np(run.signal) ? sigabbrev_np(run.signal) : "?",
                                  ")", run.stderr_data.empty() ? "" : ": ",
                                  Tail(run.stderr_data));
  } else {
    verdict.detail =
        absl::StrCat("exit code ", run.exit_code, run.stderr_data.empty() ? "" : ": ",
                     Tail(run.stderr_data));
  }
  return verdict;
}

CaseResult JudgeCase(const RunResult& run, const Submission& submission, const TestCase& test,
                     const Limits& limits) {
  const bool harness = !submission.entry_point.empty();
  if (harness && submission.language == Language::kPython &&
      run.termination == Termination::kExited && run.exit_code == kHarnessNotJson) {
    return {Outcome::kFailed, run.wall_seconds, Tail(run.stderr_data)};
  }
  if (std::optional<CaseResult> verdict = RunVerdict(run, limits); verdict.has_value()) {
    return *verdict;
  }
  CaseResult result{Outcome::kFailed, run.wall_seconds, ""};
  if (!harness) {
    OutputComparison compared = CompareOutput(submission.compare, test.output, run.stdout_data);
    if (compared.match) {
      result.outcome = Outcome::kPassed;
    } else {
      result.detail = std::move(compared.difference);
    }
    return result;
  }
  if (run.stdout_data.empty()) {
    result.outcome = Outcome::kRuntimeError;
    result.detail = "the program exited before the function returned";
    return result;
  }
  absl::StatusOr<bool> same = JsonValuesMatch(test.output, run.stdout_data);
  if (!same.ok()) {
    result.detail = Printable(same.status().message(), kDetailBytes);
  } else if (*same) {
    result.outcome = Outcome::kPassed;
  } else {
    result.detail = absl::StrCat("expected ", Printable(test.output, 100), ", got ",
                                 Printable(run.stdout_data, 100));
  }
  return result;
}

bool IsPythonIdentifier(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return absl::ascii_isalnum(c) || c == '_'; });
}

JudgeResult Summarize(std::vector<CaseResult> cases, bool all_or_nothing) {
  JudgeResult result;
  result.cases = std::move(cases);
  result.reason = "passed";
  for (const CaseResult& c : result.cases) {
    if (c.outcome == Outcome::kPassed) {
      ++result.passed;
    } else if (result.reason == "passed") {
      result.reason = std::string(OutcomeName(c.outcome));
    }
  }
  const int total = static_cast<int>(result.cases.size());
  const bool cancelled = std::any_of(result.cases.begin(), result.cases.end(), [](const auto& c) {
    return c.outcome == Outcome::kCancelled;
  });
  if (cancelled) {
    result.reason = "cancelled";
    result.reward = 0;
  } else if (all_or_nothing) {
    result.reward = result.passed == total ? 1.0 : 0.0;
  } else {
    result.reward = total > 0 ? static_cast<double>(result.passed) / total : 0.0;
  }
  return result;
}

}  // namespace

absl::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPassed: return "passed";
    case Outcome::kFailed: return "failed";
    case Outcome::kTimeout: return "timeout";
    case Outcome::kMemoryLimit: return "memory";
    case Outcome::kRuntimeError: return "runtime_error";
    case Outcome::kCompileError: return "compile_error";
    case Outcome::kOutputLimit: return "output_limit";
    case Outcome::kCancelled: return "cancelled";
  }
  return "unknown";
}

absl::Status ValidateSubmission(const Submission& submission) {
  if (submission.tests.empty()) return absl::InvalidArgumentError("submission has no test cases");
  if (submission.entry_point.empty()) return absl::OkStatus();
  if (submission.language == Language::kPython && !IsPythonIdentifier(submission.entry_point)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "entry_point '", Printable(submission.entry_point, 80), "' is not a Python identifier"));
  }
  if (submission.language == Language::kCpp) {
    if (!IsPythonIdentifier(submission.entry_point)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "entry_point '", Printable(submission.entry_point, 80), "' is not a C++ identifier"));
    }
    for (absl::string_view reserved : kCppKeywords) {
      if (submission.entry_point == reserved) {
        return absl::InvalidArgumentError(absl::StrCat(
            "entry_point '", reserved, "' is a C++ keyword or a name the function-call driver uses"));
      }
    }
  }
  for (size_t i = 0; i < submission.tests.size(); ++i) {
    if (absl::Status s = CheckJsonArray(submission.tests[i].input); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("test ", i, " input is not a JSON array of arguments: ", s.message()));
    }
    if (absl::Status s = CheckJson(submission.tests[i].output); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("test ", i, " output is not JSON: ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ProbePythonSitePackages(Sandbox& sandbox,
                                                                 const std::string& python_path,
                                                                 absl::Time deadline) {
  RunRequest request;
  request.argv = {python_path, "-S", "-B", "-c",
                  "import os, site, sys\n"
                  "for path in site.getsitepackages():\n"
                  "    if os.path.isdir(path):\n"
                  "        sys.stdout.buffer.write(os.fsencode(path) + b'\\n')\n"};
  request.limits.cpu_seconds = 10;
  request.limits.wall_seconds = 20;
  absl::StatusOr<RunResult> run = sandbox.Run(request, deadline);
  if (!run.ok()) return run.status();
  if (run->termination != Termination::kExited || run->exit_code != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "asking ", python_path, " for its site-packages directories (site.getsitepackages) ",
        "in the sandbox failed: exit code ", run->exit_code, " signal ", run->signal, ", stderr '",
        Printable(run->stderr_data, kDetailBytes), "'"));
  }
  std::vector<std::string> dirs;
  for (absl::string_view line : absl::StrSplit(run->stdout_data, '\n', absl::SkipEmpty())) {
    dirs.emplace_back(line);
  }
  return dirs;
}

namespace {

// `_r1_site([...])` with `dirs` as Python str values: bytes literals (every
// byte but plain printable ASCII escaped) decoded as Python decodes paths.
std::string PythonSiteCall(const std::vector<std::string>& dirs) {
  std::string call = "_r1_site([";
  for (const std::string& dir : dirs) {
    call += "b'";
    for (unsigned char c : dir) {
      if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
        call += static_cast<char>(c);
      } else {
        absl::StrAppendFormat(&call, "\\x%02x", c);
      }
    }
    call += "'.decode('utf-8', 'surrogateescape'), ";
  }
  call += "])\n";
  return call;
}

}  // namespace

absl::StatusOr<JudgeResult> JudgeInSandbox(Sandbox& sandbox, const Submission& submission,
                                           const JudgeOptions& options, absl::Time deadline,
                                           const std::atomic<bool>* cancelled) {
  if (absl::Status s = ValidateSubmission(submission); !s.ok()) return s;
  const size_t n = submission.tests.size();
  const std::string box = Sandbox::kWorkspace;
  std::vector<std::string> argv;
  if (submission.language == Language::kPython) {
    std::vector<std::string> probed;
    if (!options.python_site_packages.has_value()) {
      R1_ASSIGN_OR_RETURN(probed, ProbePythonSitePackages(sandbox, options.python_path, deadline));
    }
    const std::string site_call =
        PythonSiteCall(options.python_site_packages.value_or(probed));
    if (absl::Status s = sandbox.WriteFile(kPythonSource, submission.source); !s.ok()) return s;
    if (submission.entry_point.empty()) {
      const std::string runner =
          absl::StrCat(kSitePrologue, kRunnerMain, site_call, "_r1_run('", box, "/",
                       kPythonSource, "')\n");
      if (absl::Status s = sandbox.WriteFile(kPythonRunner, runner); !s.ok()) return s;
      argv = {options.python_path, "-S", "-B", absl::StrCat(box, "/", kPythonRunner)};
    } else {
      const std::string harness = absl::StrCat(kSitePrologue, site_call, kHarnessSource);
      if (absl::Status s = sandbox.WriteFile(kHarness, harness); !s.ok()) return s;
      argv = {options.python_path, "-S", "-B", absl::StrCat(box, "/", kHarness),
              submission.entry_point};
    }
  } else {
    const std::string source =
        submission.entry_point.empty() ? submission.source : CppFunctionCallSource(submission);
    if (absl::Status s = sandbox.WriteFile(kCppSource, source); !s.ok()) return s;
    RunRequest compile;
    compile.argv.push_back(options.cxx_path);
    compile.argv.insert(compile.argv.end(), options.cxx_flags.begin(), options.cxx_flags.end());
    compile.argv.insert(compile.argv.end(), {"-o", absl::StrCat(box, "/", kCppBinary),
                                             absl::StrCat(box, "/", kCppSource)});
    compile.limits = options.compile_limits;
    compile.writable_workspace = true;
    absl::StatusOr<RunResult> run = sandbox.Run(compile, deadline, cancelled);
    if (!run.ok()) return run.status();
    if (run->termination != Termination::kExited || run->exit_code != 0) {
      CaseResult failed{Outcome::kCompileError, 0, ""};
      if (run->termination == Termination::kCancelled) {
        failed.outcome = Outcome::kCancelled;
      } else if (run->termination == Termination::kWallLimit && absl::Now() >= deadline) {
        failed.outcome = Outcome::kTimeout;
        failed.detail = "the deadline passed while compiling";
      } else if (run->termination == Termination::kExited && !run->stderr_data.empty()) {
        // The first errors say the most; the tail is usually "compilation terminated".
        failed.detail = Printable(run->stderr_data, kDetailBytes);
      } else if (std::optional<CaseResult> verdict = RunVerdict(*run, options.compile_limits)) {
        failed.detail = absl::StrCat("compiler: ", OutcomeName(verdict->outcome), " ",
                                     verdict->detail);
      }
      return Summarize(std::vector<CaseResult>(n, failed), submission.all_or_nothing);
    }
    argv = {absl::StrCat(box, "/", kCppBinary)};
  }

  std::vector<CaseResult> cases;
  cases.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const bool stop = !cases.empty() && cases.back().outcome == Outcome::kCancelled;
    if (stop || (cancelled != nullptr && cancelled->load())) {
      cases.push_back({Outcome::kCancelled, 0, ""});
      continue;
    }
    if (absl::Now() >= deadline) {
      cases.push_back({Outcome::kTimeout, 0, "the deadline passed before this case ran"});
      continue;
    }
    RunRequest request;
    request.argv = argv;
    request.stdin_data = submission.tests[i].input;
    request.limits = options.run_limits;
    absl::StatusOr<RunResult> run = sandbox.Run(request, deadline, cancelled);
    if (!run.ok()) return run.status();
    if (submission.language == Language::kCpp && !submission.entry_point.empty() &&
        run->termination == Termination::kExited && run->exit_code == kCppHarnessRefused &&
        absl::StartsWith(run->stdout_data, kCppHarnessRefusedMarker)) {
      absl::string_view why = run->stdout_data;
      why.remove_prefix(strlen(kCppHarnessRefusedMarker));
      return absl::InvalidArgumentError(
          absl::StrCat("the C++ function-call driver cannot call '", submission.entry_point,
                       "': ", Printable(why, kDetailBytes)));
    }
    cases.push_back(JudgeCase(*run, submission, submission.tests[i], options.run_limits));
  }
  return Summarize(std::move(cases), submission.all_or_nothing);
}

}  // namespace r1::sandbox
