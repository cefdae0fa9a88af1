// r1 data gen / r1 data check.
#include <cstdio>
#include <memory>
#include <string>
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

}  // namespace r1::cli
