// JSONL datasets: one JSON object per line, each a record message from
// proto/records.proto (PromptRecord, SftRecord, SampleRecord) in protobuf's
// JSON mapping. A malformed line is reported as `file:line: problem`. By
// default one bad line refuses the file; with skip_bad_lines the bad lines are
// skipped and counted, never silently.
#ifndef R1_COMMON_JSONL_H_
#define R1_COMMON_JSONL_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/file_util.h"

namespace google::protobuf {
class Message;
}

namespace r1 {

struct JsonlOptions {
  bool skip_bad_lines = false;
};

struct JsonlStats {
  int64_t records = 0;        // lines that became records
  int64_t skipped = 0;        // bad lines skipped (skip_bad_lines only)
  std::string first_error;    // `file:line: problem` of the first bad line
};

// Parses one JSON object into `record` and checks the record kind's rules
// (e.g. a PromptRecord needs a non-empty prompt). Refused besides what
// protobuf's JSON mapping refuses: a key given twice in one object (also as
// "weight_version" and "weightVersion"), a list field given a single value, a
// list inside a list or a null in one, and a NaN or infinite number. Errors
// name the field by its path: "tests[0].input", "reward_breakdown[\"math\"]".
absl::Status ParseJsonRecord(absl::string_view json, google::protobuf::Message* record);

// One line of JSON, no trailing newline.
std::string ToJsonLine(const google::protobuf::Message& record);

// Calls `on_record(line_number, record)` for each record of `path`; `prototype`
// gives the record kind. Blank lines are ignored.
absl::Status ReadJsonlMessages(
    const std::string& path, const google::protobuf::Message& prototype,
    const JsonlOptions& options, JsonlStats* stats,
    const std::function<absl::Status(int64_t, const google::protobuf::Message&)>& on_record);

template <typename Record>
absl::StatusOr<std::vector<Record>> ReadJsonl(const std::string& path,
                                              const JsonlOptions& options = {},
                                              JsonlStats* stats = nullptr) {
  std::vector<Record> records;
  JsonlStats local_stats;
  absl::Status status = ReadJsonlMessages(
      path, Record::default_instance(), options, stats != nullptr ? stats : &local_stats,
      [&](int64_t, const google::protobuf::Message& record) {
        records.push_back(static_cast<const Record&>(record));
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return records;
}

// Writes records to `path` atomically: the file appears, complete, on Commit().
class JsonlWriter {
 public:
  absl::Status Open(const std::string& path) { return file_.Open(path); }
  absl::Status Write(const google::protobuf::Message& record);
  absl::Status Commit() { return file_.Commit(); }
  int64_t records() const { return records_; }

 private:
  AtomicFileWriter file_;
  int64_t records_ = 0;
};

}  // namespace r1

#endif  // R1_COMMON_JSONL_H_
