// Importing public datasets (`r1 data import`): one JSON object per input
// line in a common public shape, converted into the records r1's stages read
// (proto/records.proto), so RL, eval and reject-sample take the output as is.
//
//   gsm8k     {"question", "answer": "...reasoning... #### 1,234"}
//             -> PromptRecord{prompt, answer "1234", task "math"}
//   math      {"problem", "solution": "... \boxed{...}"} or an "answer" field
//             -> PromptRecord{prompt, answer = last \boxed{} or "answer", task "math"}
//   messages  {"messages": [{"role", "content"}, ...]}
//             -> SftRecord: prompt/response for one user turn and its reply,
//                else the conversation through the last assistant turn
//   code      APPS / TACO / CodeContests shapes: a problem statement and tests
//             as {"inputs": [...], "outputs": [...], "fn_name"?} (also as a
//             JSON string, APPS' "input_output") or [{"input", "output"}, ...]
//             -> PromptRecord{prompt, tests, entry_point, task "code"}
//
// Errors name the input field ("answer", "input_output.inputs[2]"); the file
// loop adds `file:line: ` in front, as the JSONL readers do.
#ifndef R1_TASKS_DATASET_IMPORT_H_
#define R1_TASKS_DATASET_IMPORT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/records.pb.h"

namespace r1::tasks {

enum class ImportFormat { kGsm8k, kMath, kMessages, kCode };

// "gsm8k", "math", "messages" or "code"; INVALID_ARGUMENT naming them otherwise.
absl::StatusOr<ImportFormat> ParseImportFormat(absl::string_view name);

// Input field names. Empty: the format's defaults (ImportFieldDefaults), of
// which the first one a line has is used. Set: exactly that field.
struct ImportFields {
  std::string prompt;        // the question or problem statement
  std::string answer;        // gsm8k: "...#### x"; math: the final answer, wins over the solution
  std::string solution;      // math: the worked solution holding \boxed{}
  std::string id;            // optional everywhere; a string or an integer
  std::string messages;      // messages: the conversation
  std::string tests;         // code: comma-separated; every listed field present is used
  std::string fn_name;       // code: the function-call entry point
  std::string starter_code;  // code: optional, appended to the prompt
};

// The default candidates of each field for `format`, one line per field
// ("--prompt_field: question"), for help texts. Fields the format does not
// read are left out.
std::string ImportFieldDefaults(ImportFormat format);

struct ImportOptions {
  ImportFormat format = ImportFormat::kGsm8k;
  ImportFields fields;
  // PromptRecord.task; empty: "math" for gsm8k and math, "code" for code.
  std::string task;
  // APPS and TACO store each expected return value of a function-call test
  // wrapped in a one-element list (their checker accepts either); set, the
  // list is unwrapped and an output that is not a one-element list is a bad line.
  bool call_outputs_wrapped = false;
  // code: keep at most this many tests per problem (0: all), in file order.
  int64_t max_tests = 0;
};

using ImportedRecord = std::variant<data::PromptRecord, data::SftRecord>;

// Converts one input line (a JSON object). The record also passes the
// checks r1's own JSONL readers apply (ParseJsonRecord), so a file of them
// reads back. INVALID_ARGUMENT naming the field for a line that cannot be
// converted.
absl::StatusOr<ImportedRecord> ImportLine(absl::string_view line, const ImportOptions& options);

// The final answer of a GSM8K solution: the text after its last "####",
// trimmed, with thousands separators removed ("1,234" -> "1234"; a comma is a
// separator when a digit precedes it and exactly three digits follow).
// INVALID_ARGUMENT when there is no "####" or nothing after it.
absl::StatusOr<std::string> Gsm8kFinalAnswer(absl::string_view solution);

// The content of the last top-level \boxed{...} or \fbox{...} of `text`
// (braces balanced, escaped \{ \} not counted), trimmed; also the short form
// `\boxed 5` (up to the next space or `$`). INVALID_ARGUMENT when there is
// none, it is empty, or its braces never close.
absl::StatusOr<std::string> LastBoxedAnswer(absl::string_view text);

struct ImportStats {
  int64_t lines = 0;     // non-blank input lines read
  int64_t records = 0;   // records produced
  int64_t skipped = 0;   // bad lines skipped (skip_bad_lines only)
  std::string first_error;  // `file:line: problem` of the first bad line
};

// Converts every non-blank line of `path` (CRLF tolerated), calling
// `on_record` with each record in order. A bad line is `path:line: problem`:
// it fails the import unless `skip_bad_lines`, which counts it instead.
// `on_progress(bytes_read, file_bytes)` is called after each line.
absl::Status ImportJsonlFile(const std::string& path, const ImportOptions& options, bool skip_bad_lines,
                             ImportStats* stats,
                             const std::function<absl::Status(const ImportedRecord&)>& on_record,
                             const std::function<void(int64_t, int64_t)>& on_progress = nullptr);

}  // namespace r1::tasks

#endif  // R1_TASKS_DATASET_IMPORT_H_
