#include "common/jsonl.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <fstream>
#include <optional>
#include <set>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status.h"
#include "proto/records.pb.h"

namespace r1 {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

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

// protobuf's JSON parser (3.21) is lenient where a dataset must not be: of a
// key given twice it keeps the last (also when the two spell one field
// differently: "weight_version" and "weightVersion"); it flattens lists of
// lists ([[1, 2], [3]] reads as [1, 2, 3]), takes a lone value or object for
// a list and drops nulls inside one. ShapeCheck walks the JSON text beside the
// record's descriptor and refuses all of these. It runs after protobuf has
// accepted the text, so the text is well-formed JSON.
class ShapeCheck {
 public:
  explicit ShapeCheck(absl::string_view json) : s_(json) {}

  absl::Status Run(const Descriptor& record) {
    SkipSpace();
    return Object(&record, "");
  }

 private:
  char Peek() const { return at_ < s_.size() ? s_[at_] : '\0'; }
  void SkipSpace() {
    while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\t' || s_[at_] == '\n' || s_[at_] == '\r')) ++at_;
  }
  // After a member or element: true when another follows (a ',' was eaten).
  bool Next() {
    SkipSpace();
    const bool more = Peek() == ',';
    ++at_;  // ',' or the closing bracket
    return more && at_ < s_.size();
  }

  // The string at at_ (opening quote included), its escapes decoded.
  std::string String() {
    std::string out;
    ++at_;
    while (at_ < s_.size() && s_[at_] != '"') {
      if (s_[at_] != '\\' || at_ + 1 >= s_.size()) {
        out.push_back(s_[at_++]);
        continue;
      }
      const char e = s_[at_ + 1];
      at_ += 2;
      switch (e) {
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': AppendCodeUnit(out); break;
        default: out.push_back(e); break;  // \" \\ \/
      }
    }
    ++at_;  // closing quote
    return out;
  }
  // \uXXXX (at_ just past the 'u'), a surrogate pair as one code point, as UTF-8.
  void AppendCodeUnit(std::string& out) {
    const auto hex4 = [&](uint32_t* v) {
      if (at_ + 4 > s_.size()) return false;
      *v = 0;
      for (int i = 0; i < 4; ++i) {
        const char h = s_[at_ + static_cast<size_t>(i)];
        const int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        if (d < 0) return false;
        *v = *v * 16 + static_cast<uint32_t>(d);
      }
      at_ += 4;
      return true;
    };
    uint32_t cp = 0;
    if (!hex4(&cp)) return;
    if (cp >= 0xD800 && cp < 0xDC00 && at_ + 6 <= s_.size() && s_[at_] == '\\' && s_[at_ + 1] == 'u') {
      at_ += 2;
      uint32_t low = 0;
      if (hex4(&low) && low >= 0xDC00 && low < 0xE000) cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // An object: the fields of `message`, or (null) a map or other free-form
  // object, whose keys are compared as written (after unescaping).
  absl::Status Object(const Descriptor* message, const std::string& path) {
    ++at_;  // '{'
    SkipSpace();
    if (Peek() == '}') {
      ++at_;
      return absl::OkStatus();
    }
    std::set<std::string> seen;
    do {
      SkipSpace();
      const std::string key = String();
      SkipSpace();
      ++at_;  // ':'
      SkipSpace();
      const FieldDescriptor* field = nullptr;
      if (message != nullptr) {
        // protobuf accepts a field by its proto name or its JSON (camelCase) name.
        field = message->FindFieldByName(key);
        for (int i = 0; field == nullptr && i < message->field_count(); ++i) {
          if (message->field(i)->json_name() == key) field = message->field(i);
        }
      }
      const std::string name = field != nullptr ? field->name() : key;
      const std::string where = message != nullptr ? (path.empty() ? name : absl::StrCat(path, ".", name))
                                                   : absl::StrCat(path, "[\"", key, "\"]");
      if (!seen.insert(name).second) {
        return absl::InvalidArgumentError(absl::StrCat("\"", where, "\" is given twice (duplicate key \"", key, "\")"));
      }
      R1_RETURN_IF_ERROR(field != nullptr ? FieldValue(*field, where) : AnyValue(where));
    } while (Next());
    return absl::OkStatus();
  }

  absl::Status FieldValue(const FieldDescriptor& field, const std::string& path) {
    if (Peek() == 'n') return AnyValue(path);  // null: the field keeps its default
    if (field.is_map()) return Peek() == '{' ? Object(nullptr, path) : AnyValue(path);
    if (!field.is_repeated()) return Element(field, path);
    if (Peek() != '[') {
      return absl::InvalidArgumentError(absl::StrCat("\"", path, "\" must be a list of ", TypeName(field), ", got a single value"));
    }
    return ListItems(path, [&](const std::string& item) -> absl::Status {
      if (Peek() == '[' || Peek() == 'n') {
        return absl::InvalidArgumentError(absl::StrCat("\"", path, "\" must be a list of ", TypeName(field), ", but ",
                                                       item, " is ", Peek() == '[' ? "a list" : "null"));
      }
      return Element(field, item);
    });
  }

  // Walks the list at at_ ('['), calling `item` with each element's path
  // (path[i]) while at_ is on the element.
  template <typename Item>
  absl::Status ListItems(const std::string& path, Item item) {
    ++at_;  // '['
    SkipSpace();
    if (Peek() == ']') {
      ++at_;
      return absl::OkStatus();
    }
    int index = 0;
    do {
      SkipSpace();
      R1_RETURN_IF_ERROR(item(absl::StrCat(path, "[", index++, "]")));
    } while (Next());
    return absl::OkStatus();
  }

  // One value of `field`'s type: an object of a message type is walked.
  absl::Status Element(const FieldDescriptor& field, const std::string& path) {
    if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && Peek() == '{') return Object(field.message_type(), path);
    return AnyValue(path);
  }

  // A value of no known type: objects in it are still checked for duplicate keys.
  absl::Status AnyValue(const std::string& path) {
    switch (Peek()) {
      case '{': return Object(nullptr, path);
      case '[': return ListItems(path, [&](const std::string& item) { return AnyValue(item); });
      case '"': String(); return absl::OkStatus();
      default:  // number, true, false, null
        while (at_ < s_.size() && !absl::ascii_isspace(static_cast<unsigned char>(s_[at_])) && s_[at_] != ',' &&
               s_[at_] != '}' && s_[at_] != ']') {
          ++at_;
        }
        return absl::OkStatus();
    }
  }

  static const char* TypeName(const FieldDescriptor& field) {
    switch (field.cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING: return "strings";
      case FieldDescriptor::CPPTYPE_MESSAGE: return "objects";
      case FieldDescriptor::CPPTYPE_BOOL: return "booleans";
      case FieldDescriptor::CPPTYPE_ENUM: return "names";
      default: return "numbers";
    }
  }

  absl::string_view s_;
  size_t at_ = 0;
};

// A double or float field's value (index -1: a singular field); none for other types.
std::optional<double> RealValue(const Message& message, const FieldDescriptor& field, int index) {
  const Reflection* r = message.GetReflection();
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return index < 0 ? r->GetDouble(message, &field) : r->GetRepeatedDouble(message, &field, index);
    case FieldDescriptor::CPPTYPE_FLOAT:
      return index < 0 ? r->GetFloat(message, &field) : r->GetRepeatedFloat(message, &field, index);
    default:
      return std::nullopt;
  }
}

absl::Status FiniteAt(const Message& message, const FieldDescriptor& field, int index, const std::string& path) {
  const std::optional<double> value = RealValue(message, field, index);
  if (value.has_value() && !std::isfinite(*value)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", path, "\" must be a finite number, got ", *value));
  }
  return absl::OkStatus();
}

// "NaN", "Infinity" and "-Infinity" are valid protobuf JSON for a double (as
// strings); no record field means anything by them, and one NaN reward
// poisons every advantage of its group.
absl::Status CheckFinite(const Message& message, const std::string& path) {
  const Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    const std::string name = path.empty() ? field->name() : absl::StrCat(path, ".", field->name());
    if (!field->is_repeated()) {
      R1_RETURN_IF_ERROR(field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE
                             ? CheckFinite(reflection->GetMessage(message, field), name)
                             : FiniteAt(message, *field, -1, name));
      continue;
    }
    for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
      if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
        R1_RETURN_IF_ERROR(FiniteAt(message, *field, i, absl::StrCat(name, "[", i, "]")));
        continue;
      }
      const Message& item = reflection->GetRepeatedMessage(message, field, i);
      const FieldDescriptor* key = field->is_map() ? field->message_type()->map_key() : nullptr;
      if (key != nullptr && key->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        // A map entry, named by its key: reward_breakdown["math"].
        const std::string at = absl::StrCat(name, "[\"", item.GetReflection()->GetString(item, key), "\"]");
        const FieldDescriptor* value = field->message_type()->map_value();
        R1_RETURN_IF_ERROR(value->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE
                               ? CheckFinite(item.GetReflection()->GetMessage(item, value), at)
                               : FiniteAt(item, *value, -1, at));
        continue;
      }
      R1_RETURN_IF_ERROR(CheckFinite(item, absl::StrCat(name, "[", i, "]")));
    }
  }
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
  R1_RETURN_IF_ERROR(ShapeCheck(trimmed).Run(*record->GetDescriptor()));
  R1_RETURN_IF_ERROR(CheckFinite(*record, ""));
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
