#include "common/jsonl.h"

#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "proto/records.pb.h"

namespace r1 {
namespace {

using google::protobuf::Message;

absl::Status CheckPrompt(const data::PromptRecord& r) {
  if (r.prompt().empty()) return absl::InvalidArgumentError("\"prompt\" is missing or empty");
  return absl::OkStatus();
}

absl::Status CheckSft(const data::SftRecord& r) {
  if (r.messages_size() > 0) {
    if (!r.prompt().empty() || !r.response().empty()) {
      return absl::InvalidArgumentError("has both \"messages\" and \"prompt\"/\"response\"; use one form");
    }
    bool has_assistant = false;
    for (int i = 0; i < r.messages_size(); ++i) {
      const std::string& role = r.messages(i).role();
      if (role != "system" && role != "user" && role != "assistant") {
        return absl::InvalidArgumentError(absl::StrCat(
            "messages[", i, "].role must be system, user or assistant, got \"", role, "\""));
      }
      has_assistant |= role == "assistant";
    }
    if (!has_assistant) return absl::InvalidArgumentError("\"messages\" has no assistant turn to learn from");
    return absl::OkStatus();
  }
  if (r.prompt().empty()) return absl::InvalidArgumentError("\"prompt\" is missing or empty (or give \"messages\")");
  if (r.response().empty()) return absl::InvalidArgumentError("\"response\" is missing or empty");
  return absl::OkStatus();
}

absl::Status CheckSample(const data::SampleRecord& r) {
  if (r.prompt().empty()) return absl::InvalidArgumentError("\"prompt\" is missing or empty");
  return absl::OkStatus();
}

absl::Status CheckRecord(const Message& record) {
  if (const auto* p = dynamic_cast<const data::PromptRecord*>(&record)) return CheckPrompt(*p);
  if (const auto* s = dynamic_cast<const data::SftRecord*>(&record)) return CheckSft(*s);
  if (const auto* s = dynamic_cast<const data::SampleRecord*>(&record)) return CheckSample(*s);
  return absl::OkStatus();
}

// protobuf's JSON printer writes <, >, & and ' as \u003c, \u003e, \u0026 and
// \u0027 (safe inside HTML). Datasets full of <think> tags are read by people,
// so write those characters plainly; the JSON means the same.
std::string UnescapeHtmlSafeJson(const std::string& json) {
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    if (json[i] != '\\' || i + 1 >= json.size()) {
      out.push_back(json[i]);
      continue;
    }
    // An escape: either \uXXXX or a two-character one such as \\ or \".
    if (json[i + 1] == 'u' && i + 6 <= json.size()) {
      const std::string_view code(json.data() + i + 2, 4);
      const char plain = code == "003c" ? '<' : code == "003e" ? '>' : code == "0026" ? '&'
                         : code == "0027" ? '\'' : '\0';
      if (plain != '\0') {
        out.push_back(plain);
        i += 5;
        continue;
      }
    }
    out.push_back(json[i]);
    out.push_back(json[i + 1]);
    ++i;
  }
  return out;
}

}  // namespace

absl::Status ParseJsonRecord(absl::string_view json, Message* record) {
  record->Clear();
  absl::string_view trimmed = absl::StripAsciiWhitespace(json);
  if (trimmed.empty() || trimmed.front() != '{') {
    return absl::InvalidArgumentError("not a JSON object");
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(trimmed.data(), trimmed.size()), record, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(std::string(status.message()));
  }
  return CheckRecord(*record);
}

std::string ToJsonLine(const Message& record) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  // Printing a valid message cannot fail.
  (void)google::protobuf::util::MessageToJsonString(record, &json, options);
  return UnescapeHtmlSafeJson(json);
}

absl::Status ReadJsonlMessages(
    const std::string& path, const Message& prototype, const JsonlOptions& options,
    JsonlStats* stats, const std::function<absl::Status(int64_t, const Message&)>& on_record) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open dataset ", path));
  std::unique_ptr<Message> record(prototype.New());
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    absl::Status parsed = ParseJsonRecord(line, record.get());
    if (!parsed.ok()) {
      std::string error = absl::StrCat(path, ":", line_number, ": bad ",
                                       prototype.GetDescriptor()->name(), ": ", parsed.message());
      if (!options.skip_bad_lines) return absl::InvalidArgumentError(error);
      if (stats->first_error.empty()) stats->first_error = error;
      ++stats->skipped;
      continue;
    }
    ++stats->records;
    if (absl::Status s = on_record(line_number, *record); !s.ok()) return s;
  }
  if (in.bad()) return absl::InternalError(absl::StrCat("cannot read dataset ", path));
  return absl::OkStatus();
}

absl::Status JsonlWriter::Write(const Message& record) {
  ++records_;
  return file_.Write(absl::StrCat(ToJsonLine(record), "\n"));
}

}  // namespace r1
