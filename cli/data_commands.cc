// r1 data gen / r1 data check / r1 data import.
#include <cstdio>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "common/chat_template.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "common/jsonl.h"
#include "common/progress.h"
#include "common/status.h"
#include "proto/records.pb.h"
#include "tasks/dataset_import.h"
#include "tasks/task.h"

namespace r1::cli {
namespace {

// Output to a file (complete on Commit, or absent) or to stdout ("-").
class Output {
 public:
  absl::Status Open(const std::string& path) {
    to_stdout_ = path == "-";
    return to_stdout_ ? absl::OkStatus() : file_.Open(path);
  }
  absl::Status Write(absl::string_view line) {
    if (!to_stdout_) return file_.Write(line);
    if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size()) {
      return absl::InternalError("cannot write to stdout");
    }
    return absl::OkStatus();
  }
  absl::Status Commit() {
    if (!to_stdout_) return file_.Commit();
    return std::fflush(stdout) == 0 ? absl::OkStatus() : absl::InternalError("cannot write to stdout");
  }

 private:
  bool to_stdout_ = false;
  AtomicFileWriter file_;
};

}  // namespace

int DataGen(const Args& args) {
  std::string task_names;
  int64_t n = 1000, seed = 1, start = 0, difficulty = 2;
  double error_rate = 0;
  std::string format = "prompts";
  std::string out;
  FlagSet flags("r1 data gen",
                "Writes n items of an embedded reasoning task. Item i depends only on (task,\n"
                "difficulty, seed, i), so the same command always writes the same file.\n"
                "Formats: prompts (JSONL PromptRecord: prompt, answer, task, numbers),\n"
                "sft (JSONL SftRecord: prompt and a worked <think>/<answer> response),\n"
                "text (one chat-templated worked example per line: a tokenizer or\n"
                "pretraining corpus).");
  flags.AddString("task", &task_names, "arithmetic, countdown or linear_equation; several, comma-separated, are mixed evenly");
  flags.AddInt("n", &n, "number of items");
  flags.AddInt("seed", &seed, "generator seed");
  flags.AddInt("start", &start, "index of the first item (disjoint ranges give disjoint sets)");
  flags.AddInt("difficulty", &difficulty, "1 (easiest) .. 5; see tasks/<task>.h");
  flags.AddDouble("error_rate", &error_rate, "probability that a worked solution has a wrong step (sft, text)");
  flags.AddString("format", &format, "prompts, sft or text");
  flags.AddString("out", &out, "output file, or - for stdout");
  flags.Require("task");
  flags.Require("out");
  if (auto code = ParseCommandLine(flags, args)) return *code;

  if (format != "prompts" && format != "sft" && format != "text") {
    std::fprintf(stderr, "r1 data gen: --format must be prompts, sft or text, got \"%s\"\n", format.c_str());
    return kExitUsage;
  }
  if (n < 0 || start < 0 || seed < 0) {
    std::fprintf(stderr, "r1 data gen: --n, --start and --seed must be >= 0\n");
    return kExitUsage;
  }
  if (!(error_rate >= 0 && error_rate <= 1)) {
    std::fprintf(stderr, "r1 data gen: --error_rate must be in [0, 1], got %g\n", error_rate);
    return kExitUsage;
  }
  std::vector<config::TaskConfig> configs;
  for (absl::string_view name : absl::StrSplit(task_names, ',', absl::SkipEmpty())) {
    absl::StatusOr<config::TaskKind> kind = tasks::ParseTaskKind(name);
    if (!kind.ok()) {
      std::fprintf(stderr, "r1 data gen: %s\n", std::string(kind.status().message()).c_str());
      return kExitUsage;
    }
    config::TaskConfig& config = configs.emplace_back();
    config.set_kind(*kind);
    config.set_difficulty(static_cast<int>(difficulty));
    config.set_solution_error_rate(error_rate);
  }
  absl::StatusOr<tasks::TaskMix> mix = tasks::TaskMix::Create(configs);
  if (!mix.ok()) {
    std::fprintf(stderr, "r1 data gen: %s\n", std::string(mix.status().message()).c_str());
    return kExitUsage;
  }

  Output output;
  if (absl::Status s = output.Open(out); !s.ok()) return Fail(s);
  ProgressLine progress(absl::StrCat("generating ", out));
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t index = static_cast<uint64_t>(start + i);
    std::string line;
    if (format == "prompts") {
      line = ToJsonLine(mix->Generate(static_cast<uint64_t>(seed), index).record);
    } else {
      data::SftRecord example = mix->WorkedExample(static_cast<uint64_t>(seed), index);
      line = format == "sft" ? ToJsonLine(example)
                             : RenderExampleText(example.prompt(), example.response());
    }
    line.push_back('\n');
    if (absl::Status s = output.Write(line); !s.ok()) return Fail(s);
    progress.Update(i + 1, n);
  }
  if (absl::Status s = output.Commit(); !s.ok()) return Fail(s);
  if (out != "-") {
    std::fprintf(stderr, "wrote %lld records (%s) to %s\n", static_cast<long long>(n), format.c_str(), out.c_str());
  }
  return kExitOk;
}

int DataCheck(const Args& args) {
  std::string kind = "prompts";
  bool skip_bad_lines = false;
  std::vector<std::string> files;
  FlagSet flags("r1 data check",
                "Reads JSONL datasets and reports how many records they hold. The first bad\n"
                "line is reported as file:line; with --skip_bad_lines bad lines are counted\n"
                "instead of refusing the file.");
  flags.AddString("kind", &kind, "prompts, sft or samples");
  flags.AddBool("skip_bad_lines", &skip_bad_lines, "count bad lines instead of failing");
  flags.Positional("FILE", 1, 1 << 20, &files, "JSONL files to check");
  if (auto code = ParseCommandLine(flags, args)) return *code;

  std::unique_ptr<google::protobuf::Message> prototype;
  if (kind == "prompts") {
    prototype = std::make_unique<data::PromptRecord>();
  } else if (kind == "sft") {
    prototype = std::make_unique<data::SftRecord>();
  } else if (kind == "samples") {
    prototype = std::make_unique<data::SampleRecord>();
  } else {
    std::fprintf(stderr, "r1 data check: --kind must be prompts, sft or samples, got \"%s\"\n", kind.c_str());
    return kExitUsage;
  }
  int exit_code = kExitOk;
  for (const std::string& file : files) {
    JsonlStats stats;
    JsonlOptions options;
    options.skip_bad_lines = skip_bad_lines;
    absl::Status s = ReadJsonlMessages(file, *prototype, options, &stats,
                                       [](int64_t, const google::protobuf::Message&) { return absl::OkStatus(); });
    if (!s.ok()) {
      exit_code = Fail(s);
      continue;
    }
    std::printf("%s: %lld records", file.c_str(), static_cast<long long>(stats.records));
    if (stats.skipped > 0) {
      std::printf(", %lld bad lines skipped (first: %s)", static_cast<long long>(stats.skipped),
                  stats.first_error.c_str());
    }
    std::printf("\n");
  }
  return exit_code;
}

int DataImport(const Args& args) {
  std::string format_name, in, out, task;
  tasks::ImportFields fields;
  bool call_outputs_wrapped = false, skip_bad_lines = false;
  int64_t max_tests = 0;
  std::string summary =
      "Converts a public dataset, one JSON object per line, into the JSONL records r1's\n"
      "stages read: prompts (PromptRecord) for RL, eval and reject-sample, or SFT\n"
      "examples (SftRecord). The output appears complete or not at all. A bad line is\n"
      "reported as file:line naming the field, and nothing is written; with\n"
      "--skip_bad_lines bad lines are counted instead.\n"
      "Formats:\n"
      "  gsm8k     question + answer \"...#### 1,234\" -> prompt, answer \"1234\": the text\n"
      "            after the last ####, trimmed, thousands separators removed; task math\n"
      "  math      problem + solution -> prompt, answer = the content of the solution's\n"
      "            last \\boxed{...} or \\fbox{...} (nested braces kept, also \\boxed 5);\n"
      "            an answer field, when present, wins; task math\n"
      "  messages  messages [{role, content}] -> SFT: one user turn and its reply as\n"
      "            prompt/response, else the conversation (system prompt, history)\n"
      "            through the last assistant turn\n"
      "  code      question + tests as {inputs, outputs[, fn_name]} (also as a JSON\n"
      "            string: APPS/TACO input_output) or [{input, output}] (CodeContests'\n"
      "            {input: [..], output: [..]} too) -> prompt, tests; with fn_name the\n"
      "            tests call that Python function (inputs: argument lists, outputs:\n"
      "            return values), else stdin/stdout; starter_code is appended to the\n"
      "            prompt; task code\n"
      "Fields read, first one present (a --*_field flag names exactly one):\n";
  for (const char* name : {"gsm8k", "math", "messages", "code"}) {
    absl::StrAppend(&summary, " ", name, ":\n", tasks::ImportFieldDefaults(*tasks::ParseImportFormat(name)));
  }
  summary.pop_back();  // the usage adds its own line break
  FlagSet flags("r1 data import", summary);
  flags.AddString("format", &format_name, "gsm8k, math, messages or code");
  flags.AddString("in", &in, "input JSONL file");
  flags.AddString("out", &out, "output JSONL file (PromptRecord; SftRecord for messages)");
  flags.AddString("prompt_field", &fields.prompt, "field of the question or problem statement (gsm8k, math, code)");
  flags.AddString("answer_field", &fields.answer, "gsm8k: the solution ending in #### answer; math: the final answer");
  flags.AddString("solution_field", &fields.solution, "math: the solution holding \\boxed{}");
  flags.AddString("id_field", &fields.id, "record id, a string or an integer (optional in every format)");
  flags.AddString("messages_field", &fields.messages, "messages: the conversation");
  flags.AddString("tests_field", &fields.tests,
                  "code: test fields, comma-separated; all present are used (e.g. public_tests,private_tests)");
  flags.AddString("fn_name_field", &fields.fn_name, "code: the function the tests call (also looked for inside the tests)");
  flags.AddString("starter_code_field", &fields.starter_code, "code: starter code appended to the prompt");
  flags.AddString("task", &task, "the records' task (default: math for gsm8k and math, code for code)");
  flags.AddBool("call_outputs_wrapped", &call_outputs_wrapped,
                "code: each expected return value is a one-element list to unwrap (APPS and TACO store them so)");
  flags.AddInt("max_tests", &max_tests, "code: keep at most this many tests per problem (0: all)");
  flags.AddBool("skip_bad_lines", &skip_bad_lines, "count bad lines instead of failing");
  flags.Require("format");
  flags.Require("in");
  flags.Require("out");
  if (auto code = ParseCommandLine(flags, args)) return *code;

  absl::StatusOr<tasks::ImportFormat> format = tasks::ParseImportFormat(format_name);
  if (!format.ok()) {
    std::fprintf(stderr, "r1 data import: %s\n", std::string(format.status().message()).c_str());
    return kExitUsage;
  }
  // A flag the format never reads is a mistake, not something to ignore.
  const std::string field_defaults = tasks::ImportFieldDefaults(*format);
  for (const char* flag : {"prompt_field", "answer_field", "solution_field", "messages_field", "tests_field",
                           "fn_name_field", "starter_code_field"}) {
    if (flags.WasSet(flag) && field_defaults.find(absl::StrCat("--", flag, ":")) == std::string::npos) {
      std::fprintf(stderr, "r1 data import: --%s does not apply to --format %s\n", flag, format_name.c_str());
      return kExitUsage;
    }
  }
  const bool code = *format == tasks::ImportFormat::kCode;
  for (const char* flag : {"call_outputs_wrapped", "max_tests"}) {
    if (flags.WasSet(flag) && !code) {
      std::fprintf(stderr, "r1 data import: --%s applies to --format code only\n", flag);
      return kExitUsage;
    }
  }
  if (flags.WasSet("task") && *format == tasks::ImportFormat::kMessages) {
    std::fprintf(stderr, "r1 data import: --task does not apply to --format messages (SFT records have no task)\n");
    return kExitUsage;
  }
  if (max_tests < 0) {
    std::fprintf(stderr, "r1 data import: --max_tests must be >= 0, got %lld\n", static_cast<long long>(max_tests));
    return kExitUsage;
  }

  tasks::ImportOptions options;
  options.format = *format;
  options.fields = fields;
  options.task = task;
  options.call_outputs_wrapped = call_outputs_wrapped;
  options.max_tests = max_tests;
  JsonlWriter writer;
  if (absl::Status s = writer.Open(out); !s.ok()) return Fail(s);
  tasks::ImportStats stats;
  ProgressLine progress(absl::StrCat("importing ", in, ", bytes"));
  absl::Status imported = tasks::ImportJsonlFile(
      in, options, skip_bad_lines, &stats,
      [&](const tasks::ImportedRecord& record) {
        return std::visit([&](const auto& r) { return writer.Write(r); }, record);
      },
      [&](int64_t done, int64_t total) { progress.Update(done, total); });
  progress.Finish();
  if (!imported.ok()) return Fail(imported);  // the writer's destructor drops the partial file
  if (stats.records == 0) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(in, ": no records to import (", stats.lines, " lines read, ",
                                                        stats.skipped, " bad)")));
  }
  if (absl::Status s = writer.Commit(); !s.ok()) return Fail(s);
  std::string summary_line = absl::StrCat("imported ", in, ": ", stats.lines, " lines read, ", stats.records,
                                          *format == tasks::ImportFormat::kMessages ? " SFT examples" : " prompts",
                                          " written to ", out, ", ", stats.skipped, " bad lines skipped");
  if (stats.skipped > 0) absl::StrAppend(&summary_line, " (first: ", stats.first_error, ")");
  std::fprintf(stderr, "%s\n", summary_line.c_str());
  return kExitOk;
}

}  // namespace r1::cli
