#include "tasks/dataset_import.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/jsonl.h"
#include "common/status.h"

namespace r1::tasks {
namespace {

using Json = nlohmann::json;

// The default candidates of each field, per format. The first one a line has
// is used; a --*_field flag replaces the list with one name.
struct FieldDefaults {
  std::vector<std::string> prompt, answer, solution, id, messages, tests, fn_name, starter_code;
};

const FieldDefaults& DefaultsOf(ImportFormat format) {
  static const FieldDefaults gsm8k{.prompt = {"question"}, .answer = {"answer"}, .id = {"id", "unique_id"}};
  static const FieldDefaults math{.prompt = {"problem", "question"},
                                  .answer = {"answer"},
                                  .solution = {"solution"},
                                  .id = {"id", "unique_id"}};
  static const FieldDefaults messages{.id = {"id"}, .messages = {"messages"}};
  static const FieldDefaults code{.prompt = {"question", "problem", "description", "prompt"},
                                  .id = {"id", "problem_id", "task_id", "name"},
                                  .tests = {"input_output", "tests", "test_cases", "public_tests"},
                                  .fn_name = {"fn_name"},
                                  .starter_code = {"starter_code"}};
  switch (format) {
    case ImportFormat::kGsm8k: return gsm8k;
    case ImportFormat::kMath: return math;
    case ImportFormat::kMessages: return messages;
    case ImportFormat::kCode: return code;
  }
  return gsm8k;
}

// One field of the input line as the options name it.
struct FieldSpec {
  std::string flag;                 // e.g. "--prompt_field", for hints
  std::vector<std::string> names;   // candidates, in order
};

FieldSpec Spec(const std::string& flag, const std::string& chosen, const std::vector<std::string>& defaults) {
  return {flag, chosen.empty() ? defaults : std::vector<std::string>{chosen}};
}

std::string Quoted(const std::string& name) { return absl::StrCat("\"", name, "\""); }

// "\"question\"" or "\"problem\" (or \"question\")".
std::string Describe(const FieldSpec& spec) {
  std::string text = Quoted(spec.names.front());
  if (spec.names.size() > 1) {
    std::vector<std::string> others;
    for (size_t i = 1; i < spec.names.size(); ++i) others.push_back(Quoted(spec.names[i]));
    absl::StrAppend(&text, " (or ", absl::StrJoin(others, ", "), ")");
  }
  return text;
}

struct Field {
  std::string name;            // as found in the line
  const Json* value = nullptr; // null: absent (a JSON null counts as absent)
};

Field Find(const Json& line, const FieldSpec& spec) {
  for (const std::string& name : spec.names) {
    auto it = line.find(name);
    if (it != line.end() && !it->is_null()) return {name, &*it};
  }
  return {};
}

absl::Status Missing(const FieldSpec& spec) {
  return absl::InvalidArgumentError(
      absl::StrCat(Describe(spec), " is missing (", spec.flag, " names the field to read)"));
}

absl::Status WrongType(const std::string& path, const char* wanted, const Json& got) {
  return absl::InvalidArgumentError(absl::StrCat(Quoted(path), " must be ", wanted, ", got ", got.type_name()));
}

// A required, non-empty string field (surrounding whitespace trimmed).
absl::StatusOr<std::string> RequiredText(const Json& line, const FieldSpec& spec) {
  const Field field = Find(line, spec);
  if (field.value == nullptr) return Missing(spec);
  if (!field.value->is_string()) return WrongType(field.name, "a string", *field.value);
  std::string text(absl::StripAsciiWhitespace(field.value->get_ref<const std::string&>()));
  if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(Quoted(field.name), " is empty"));
  return text;
}

// An optional string field: empty when absent.
absl::StatusOr<std::string> OptionalText(const Json& line, const FieldSpec& spec) {
  const Field field = Find(line, spec);
  if (field.value == nullptr) return std::string();
  if (!field.value->is_string()) return WrongType(field.name, "a string", *field.value);
  return field.value->get<std::string>();
}

// Ids are strings in some datasets and integers in others (APPS' problem_id).
absl::StatusOr<std::string> OptionalId(const Json& line, const FieldSpec& spec) {
  const Field field = Find(line, spec);
  if (field.value == nullptr) return std::string();
  if (field.value->is_string()) return field.value->get<std::string>();
  if (field.value->is_number_integer()) return field.value->dump();
  return WrongType(field.name, "a string or an integer", *field.value);
}

absl::Status WithField(const std::string& name, const absl::Status& status) {
  return absl::InvalidArgumentError(absl::StrCat(Quoted(name), ": ", status.message()));
}

absl::StatusOr<Json> ParseObject(absl::string_view text) {
  Json value;
  try {
    value = Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 7: syntax error ..."
    const std::string what = e.what();
    const size_t column = what.find("column ");
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON", column != std::string::npos ? absl::StrCat(" at ", what.substr(column)) : ""));
  }
  if (!value.is_object()) return absl::InvalidArgumentError(absl::StrCat("not a JSON object (a JSON ", value.type_name(), ")"));
  return value;
}

// --- gsm8k and math ----------------------------------------------------------

absl::StatusOr<data::PromptRecord> ImportGsm8k(const Json& line, const ImportOptions& options) {
  const FieldDefaults& defaults = DefaultsOf(options.format);
  data::PromptRecord record;
  R1_ASSIGN_OR_RETURN(*record.mutable_prompt(), RequiredText(line, Spec("--prompt_field", options.fields.prompt, defaults.prompt)));
  const FieldSpec answer_spec = Spec("--answer_field", options.fields.answer, defaults.answer);
  R1_ASSIGN_OR_RETURN(const std::string solution, RequiredText(line, answer_spec));
  absl::StatusOr<std::string> answer = Gsm8kFinalAnswer(solution);
  if (!answer.ok()) return WithField(Find(line, answer_spec).name, answer.status());
  record.set_answer(*std::move(answer));
  return record;
}

absl::StatusOr<data::PromptRecord> ImportMath(const Json& line, const ImportOptions& options) {
  const FieldDefaults& defaults = DefaultsOf(options.format);
  data::PromptRecord record;
  R1_ASSIGN_OR_RETURN(*record.mutable_prompt(), RequiredText(line, Spec("--prompt_field", options.fields.prompt, defaults.prompt)));
  // A separate final-answer field is the dataset's own reading of the
  // solution, so it wins; numbers (AIME-style answers) are taken as written.
  const Field answer = Find(line, Spec("--answer_field", options.fields.answer, defaults.answer));
  if (answer.value != nullptr) {
    std::string text;
    if (answer.value->is_string()) {
      text = std::string(absl::StripAsciiWhitespace(answer.value->get_ref<const std::string&>()));
    } else if (answer.value->is_number()) {
      text = answer.value->dump();
    } else {
      return WrongType(answer.name, "a string or a number", *answer.value);
    }
    if (!text.empty()) {
      record.set_answer(text);
      return record;
    }
  }
  const FieldSpec solution_spec = Spec("--solution_field", options.fields.solution, defaults.solution);
  const Field solution = Find(line, solution_spec);
  if (solution.value == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("no final answer: ", Describe(Spec("--answer_field", options.fields.answer, defaults.answer)),
                                                   " and ", Describe(solution_spec), " are both missing or empty"));
  }
  if (!solution.value->is_string()) return WrongType(solution.name, "a string", *solution.value);
  absl::StatusOr<std::string> boxed = LastBoxedAnswer(solution.value->get_ref<const std::string&>());
  if (!boxed.ok()) return WithField(solution.name, boxed.status());
  record.set_answer(*std::move(boxed));
  return record;
}

// --- messages ----------------------------------------------------------------

absl::StatusOr<data::SftRecord> ImportMessages(const Json& line, const ImportOptions& options) {
  const FieldSpec spec = Spec("--messages_field", options.fields.messages, DefaultsOf(options.format).messages);
  const Field field = Find(line, spec);
  if (field.value == nullptr) return Missing(spec);
  if (!field.value->is_array()) return WrongType(field.name, "a list of {\"role\", \"content\"} objects", *field.value);
  std::vector<data::ChatMessage> turns;
  int last_assistant = -1;
  for (size_t i = 0; i < field.value->size(); ++i) {
    const Json& turn = (*field.value)[i];
    const std::string at = absl::StrCat(field.name, "[", i, "]");
    if (!turn.is_object()) return WrongType(at, "an object with \"role\" and \"content\"", turn);
    data::ChatMessage& message = turns.emplace_back();
    for (const char* key : {"role", "content"}) {
      auto it = turn.find(key);
      const std::string path = absl::StrCat(at, ".", key);
      if (it == turn.end() || it->is_null()) return absl::InvalidArgumentError(absl::StrCat(Quoted(path), " is missing"));
      if (!it->is_string()) return WrongType(path, "a string", *it);
      *(std::string(key) == "role" ? message.mutable_role() : message.mutable_content()) = it->get<std::string>();
    }
    const std::string& role = message.role();
    if (role != "system" && role != "user" && role != "assistant") {
      return absl::InvalidArgumentError(
          absl::StrCat(Quoted(at + ".role"), " must be system, user or assistant, got \"", role, "\""));
    }
    if (role == "assistant") last_assistant = static_cast<int>(i);
  }
  if (last_assistant < 0) return absl::InvalidArgumentError(absl::StrCat(Quoted(field.name), " has no assistant turn to learn from"));
  if (absl::StripAsciiWhitespace(turns[last_assistant].content()).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(Quoted(absl::StrCat(field.name, "[", last_assistant, "].content")),
                                                   " (the last assistant turn) is empty"));
  }
  // Turns after the last reply have nothing to learn from.
  turns.resize(static_cast<size_t>(last_assistant) + 1);
  data::SftRecord record;
  if (turns.size() == 2 && turns[0].role() == "user") {
    // The form `r1 data gen --format sft` writes: one prompt, one response.
    record.set_prompt(turns[0].content());
    record.set_response(turns[1].content());
  } else {
    // A system prompt or earlier turns: the conversation, which SFT renders
    // through the chat template with every assistant turn as a target.
    for (data::ChatMessage& turn : turns) *record.add_messages() = std::move(turn);
  }
  return record;
}

// --- code --------------------------------------------------------------------

// One stdin or expected stdout: a string, or a list of lines (some
// datasets split them) joined with newlines.
absl::StatusOr<std::string> StreamText(const Json& value, const std::string& path) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array() && std::all_of(value.begin(), value.end(), [](const Json& v) { return v.is_string(); })) {
    std::string text;
    for (const Json& part : value) absl::StrAppend(&text, part.get_ref<const std::string&>(), "\n");
    return text;
  }
  return WrongType(path, "a string (or a list of lines)", value);
}

struct CodeTestsContext {
  const ImportOptions* options;
  std::string entry_point;  // empty: stdin/stdout tests
};

absl::Status AddTest(const Json& input, const std::string& input_path, const Json& output,
                     const std::string& output_path, const CodeTestsContext& context, data::PromptRecord* record) {
  data::TestCase test;
  if (context.entry_point.empty()) {
    R1_ASSIGN_OR_RETURN(*test.mutable_input(), StreamText(input, input_path));
    R1_ASSIGN_OR_RETURN(*test.mutable_output(), StreamText(output, output_path));
  } else {
    if (!input.is_array()) return WrongType(input_path, "a list of arguments (function-call tests)", input);
    test.set_input(input.dump());
    if (context.options->call_outputs_wrapped) {
      if (!output.is_array() || output.size() != 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            Quoted(output_path), " must be a one-element list holding the return value (--call_outputs_wrapped), got ",
            output.is_array() ? absl::StrCat("a list of ", output.size()) : std::string(output.type_name())));
      }
      test.set_output(output[0].dump());
    } else {
      test.set_output(output.dump());
    }
  }
  *record->add_tests() = std::move(test);
  return absl::OkStatus();
}

// The tests of one field, in any of the shapes the header lists.
absl::Status AddTests(const Json& tests, const std::string& name, const CodeTestsContext& context,
                      data::PromptRecord* record) {
  if (tests.is_array()) {
    for (size_t i = 0; i < tests.size(); ++i) {
      const Json& pair = tests[i];
      const std::string at = absl::StrCat(name, "[", i, "]");
      if (!pair.is_object()) return WrongType(at, "an object with \"input\" and \"output\"", pair);
      for (const char* key : {"input", "output"}) {
        if (!pair.contains(key)) return absl::InvalidArgumentError(absl::StrCat(Quoted(absl::StrCat(at, ".", key)), " is missing"));
      }
      R1_RETURN_IF_ERROR(AddTest(pair["input"], at + ".input", pair["output"], at + ".output", context, record));
    }
    return absl::OkStatus();
  }
  if (!tests.is_object()) return WrongType(name, "an object of \"inputs\" and \"outputs\" or a list of {\"input\", \"output\"}", tests);
  // APPS/TACO spell the lists "inputs"/"outputs", CodeContests "input"/"output".
  const auto list = [&](const char* plural, const char* singular, std::string* key) -> const Json* {
    for (const char* k : {plural, singular}) {
      auto it = tests.find(k);
      if (it != tests.end()) {
        *key = k;
        return &*it;
      }
    }
    return nullptr;
  };
  std::string inputs_key, outputs_key;
  const Json* inputs = list("inputs", "input", &inputs_key);
  const Json* outputs = list("outputs", "output", &outputs_key);
  if (inputs == nullptr) return absl::InvalidArgumentError(absl::StrCat(Quoted(name + ".inputs"), " is missing"));
  if (outputs == nullptr) return absl::InvalidArgumentError(absl::StrCat(Quoted(name + ".outputs"), " is missing"));
  const std::string inputs_path = absl::StrCat(name, ".", inputs_key), outputs_path = absl::StrCat(name, ".", outputs_key);
  if (!inputs->is_array()) return WrongType(inputs_path, "a list", *inputs);
  if (!outputs->is_array()) return WrongType(outputs_path, "a list", *outputs);
  if (inputs->size() != outputs->size()) {
    return absl::InvalidArgumentError(absl::StrCat(Quoted(inputs_path), " has ", inputs->size(), " tests but ",
                                                   Quoted(outputs_path), " has ", outputs->size()));
  }
  for (size_t i = 0; i < inputs->size(); ++i) {
    R1_RETURN_IF_ERROR(AddTest((*inputs)[i], absl::StrCat(inputs_path, "[", i, "]"), (*outputs)[i],
                               absl::StrCat(outputs_path, "[", i, "]"), context, record));
  }
  return absl::OkStatus();
}

absl::StatusOr<data::PromptRecord> ImportCode(const Json& line, const ImportOptions& options) {
  const FieldDefaults& defaults = DefaultsOf(options.format);
  data::PromptRecord record;
  R1_ASSIGN_OR_RETURN(*record.mutable_prompt(), RequiredText(line, Spec("--prompt_field", options.fields.prompt, defaults.prompt)));

  // The test fields: every listed one that is present (--tests_field a,b), or
  // the first default present.
  std::vector<std::pair<std::string, Json>> test_fields;
  std::vector<std::string> names = defaults.tests;
  if (!options.fields.tests.empty()) {
    names.clear();
    for (absl::string_view name : absl::StrSplit(options.fields.tests, ',', absl::SkipWhitespace())) {
      names.emplace_back(absl::StripAsciiWhitespace(name));
    }
  }
  for (const std::string& name : names) {
    auto it = line.find(name);
    if (it == line.end() || it->is_null()) continue;
    Json tests = *it;
    // APPS and TACO store the tests as a JSON string inside the line.
    if (tests.is_string()) {
      absl::StatusOr<Json> parsed = [&]() -> absl::StatusOr<Json> {
        try {
          return Json::parse(tests.get_ref<const std::string&>());
        } catch (const Json::parse_error&) {
          return absl::InvalidArgumentError(absl::StrCat(Quoted(name), " is a string that is not JSON"));
        }
      }();
      if (!parsed.ok()) return parsed.status();
      tests = *std::move(parsed);
    }
    test_fields.emplace_back(name, std::move(tests));
    if (options.fields.tests.empty()) break;
  }
  if (test_fields.empty()) {
    FieldSpec spec{"--tests_field", names};
    return Missing(spec);
  }

  // Function-call problems name their function at the top level or, in
  // APPS' input_output, beside the tests.
  const FieldSpec fn_spec = Spec("--fn_name_field", options.fields.fn_name, defaults.fn_name);
  CodeTestsContext context{&options, ""};
  R1_ASSIGN_OR_RETURN(context.entry_point, OptionalText(line, fn_spec));
  std::string fn_path = fn_spec.names.front();
  for (const auto& [name, tests] : test_fields) {
    if (!context.entry_point.empty() || !tests.is_object()) continue;
    auto it = tests.find(fn_spec.names.front());
    if (it == tests.end() || it->is_null()) continue;
    fn_path = absl::StrCat(name, ".", fn_spec.names.front());
    if (!it->is_string()) return WrongType(fn_path, "a string", *it);
    context.entry_point = it->get<std::string>();
  }
  context.entry_point = std::string(absl::StripAsciiWhitespace(context.entry_point));
  const bool identifier = !context.entry_point.empty() && !absl::ascii_isdigit(context.entry_point[0]) &&
                          std::all_of(context.entry_point.begin(), context.entry_point.end(),
                                      [](char c) { return absl::ascii_isalnum(c) || c == '_'; });
  if (!context.entry_point.empty() && !identifier) {
    return absl::InvalidArgumentError(
        absl::StrCat(Quoted(fn_path), " must be a Python identifier, got \"", context.entry_point, "\""));
  }
  record.set_entry_point(context.entry_point);

  for (const auto& [name, tests] : test_fields) R1_RETURN_IF_ERROR(AddTests(tests, name, context, &record));
  if (record.tests().empty()) {
    std::vector<std::string> quoted;
    for (const auto& field : test_fields) quoted.push_back(Quoted(field.first));
    return absl::InvalidArgumentError(absl::StrCat(absl::StrJoin(quoted, ", "), " holds no tests"));
  }
  if (options.max_tests > 0 && record.tests_size() > options.max_tests) {
    record.mutable_tests()->DeleteSubrange(static_cast<int>(options.max_tests),
                                           record.tests_size() - static_cast<int>(options.max_tests));
  }

  // The model must know the signature the tests call.
  R1_ASSIGN_OR_RETURN(const std::string starter,
                      OptionalText(line, Spec("--starter_code_field", options.fields.starter_code, defaults.starter_code)));
  if (!absl::StripAsciiWhitespace(starter).empty()) {
    absl::StrAppend(record.mutable_prompt(), "\n\nStart from this code:\n```python\n",
                    absl::StripTrailingAsciiWhitespace(starter), "\n```");
  } else if (!context.entry_point.empty()) {
    absl::StrAppend(record.mutable_prompt(), "\n\nWrite a Python function named ", context.entry_point,
                    "; the tests call it with the arguments and check what it returns.");
  }
  return record;
}

// The record as r1's readers will see it: what they refuse must not be written.
absl::Status CheckReadsBack(const google::protobuf::Message& record) {
  std::unique_ptr<google::protobuf::Message> copy(record.New());
  absl::Status status = ParseJsonRecord(ToJsonLine(record), copy.get());
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("the converted ", record.GetDescriptor()->name(),
                                                   " would not read back: ", status.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ImportFormat> ParseImportFormat(absl::string_view name) {
  if (name == "gsm8k") return ImportFormat::kGsm8k;
  if (name == "math") return ImportFormat::kMath;
  if (name == "messages") return ImportFormat::kMessages;
  if (name == "code") return ImportFormat::kCode;
  return absl::InvalidArgumentError(absl::StrCat("--format must be gsm8k, math, messages or code, got \"", name, "\""));
}

std::string ImportFieldDefaults(ImportFormat format) {
  const FieldDefaults& d = DefaultsOf(format);
  std::string text;
  const auto line = [&](const char* flag, const std::vector<std::string>& names) {
    if (!names.empty()) absl::StrAppend(&text, "  ", flag, ": ", absl::StrJoin(names, ", "), "\n");
  };
  line("--prompt_field", d.prompt);
  line("--answer_field", d.answer);
  line("--solution_field", d.solution);
  line("--messages_field", d.messages);
  line("--tests_field", d.tests);
  line("--fn_name_field", d.fn_name);
  line("--starter_code_field", d.starter_code);
  line("--id_field", d.id);
  return text;
}

absl::StatusOr<std::string> Gsm8kFinalAnswer(absl::string_view solution) {
  const size_t marker = solution.rfind("####");
  if (marker == absl::string_view::npos) return absl::InvalidArgumentError("has no \"####\" before the final answer");
  const absl::string_view answer = absl::StripAsciiWhitespace(solution.substr(marker + 4));
  if (answer.empty()) return absl::InvalidArgumentError("has nothing after its last \"####\"");
  std::string out;
  out.reserve(answer.size());
  for (size_t i = 0; i < answer.size(); ++i) {
    const auto digit_at = [&](size_t k) { return k < answer.size() && absl::ascii_isdigit(answer[k]); };
    const bool separator = answer[i] == ',' && i > 0 && digit_at(i - 1) && digit_at(i + 1) && digit_at(i + 2) &&
                           digit_at(i + 3) && !digit_at(i + 4);
    if (!separator) out.push_back(answer[i]);
  }
  return out;
}

absl::StatusOr<std::string> LastBoxedAnswer(absl::string_view text) {
  std::string last;
  bool found = false;
  size_t at = 0;
  while (at < text.size()) {
    // The next \boxed or \fbox command (not \boxedfoo).
    size_t start = absl::string_view::npos, name_length = 0;
    for (absl::string_view command : {absl::string_view("\\boxed"), absl::string_view("\\fbox")}) {
      for (size_t p = text.find(command, at); p != absl::string_view::npos; p = text.find(command, p + 1)) {
        const size_t end = p + command.size();
        if (end < text.size() && absl::ascii_isalpha(text[end])) continue;
        if (p < start) {
          start = p;
          name_length = command.size();
        }
        break;
      }
    }
    if (start == absl::string_view::npos) break;
    size_t i = start + name_length;
    while (i < text.size() && text[i] == ' ') ++i;
    if (i < text.size() && text[i] == '{') {
      int depth = 0;
      size_t close = absl::string_view::npos;
      for (size_t j = i; j < text.size(); ++j) {
        if (text[j] == '\\') {  // \{ and \} are literal braces, \\ a line break
          ++j;
          continue;
        }
        if (text[j] == '{') ++depth;
        if (text[j] == '}' && --depth == 0) {
          close = j;
          break;
        }
      }
      if (close == absl::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat("the \\boxed{ at byte ", start, " is never closed"));
      }
      last = std::string(absl::StripAsciiWhitespace(text.substr(i + 1, close - i - 1)));
      found = true;
      at = close + 1;
    } else if (i > start + name_length) {
      // `\boxed 5`: the short form takes one token.
      size_t end = i;
      while (end < text.size() && !absl::ascii_isspace(static_cast<unsigned char>(text[end])) && text[end] != '$') ++end;
      last = std::string(text.substr(i, end - i));
      found = true;
      at = end;
    } else {
      at = i;  // a bare \boxed with nothing after it
    }
  }
  if (!found) return absl::InvalidArgumentError("has no \\boxed{} final answer");
  if (last.empty()) return absl::InvalidArgumentError("its last \\boxed{} is empty");
  return last;
}

absl::StatusOr<ImportedRecord> ImportLine(absl::string_view line, const ImportOptions& options) {
  R1_ASSIGN_OR_RETURN(const Json json, ParseObject(line));
  R1_ASSIGN_OR_RETURN(const std::string id, OptionalId(json, Spec("--id_field", options.fields.id, DefaultsOf(options.format).id)));
  if (options.format == ImportFormat::kMessages) {
    R1_ASSIGN_OR_RETURN(data::SftRecord record, ImportMessages(json, options));
    record.set_id(id);
    R1_RETURN_IF_ERROR(CheckReadsBack(record));
    return record;
  }
  data::PromptRecord record;
  switch (options.format) {
    case ImportFormat::kGsm8k: {
      R1_ASSIGN_OR_RETURN(record, ImportGsm8k(json, options));
      break;
    }
    case ImportFormat::kMath: {
      R1_ASSIGN_OR_RETURN(record, ImportMath(json, options));
      break;
    }
    default: {
      R1_ASSIGN_OR_RETURN(record, ImportCode(json, options));
      break;
    }
  }
  record.set_id(id);
  record.set_task(!options.task.empty() ? options.task : options.format == ImportFormat::kCode ? "code" : "math");
  R1_RETURN_IF_ERROR(CheckReadsBack(record));
  return record;
}

absl::Status ImportJsonlFile(const std::string& path, const ImportOptions& options, bool skip_bad_lines,
                             ImportStats* stats, const std::function<absl::Status(const ImportedRecord&)>& on_record,
                             const std::function<void(int64_t, int64_t)>& on_progress) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open dataset ", path));
  std::error_code size_error;
  const auto file_bytes = std::filesystem::file_size(path, size_error);
  const int64_t total = size_error ? 0 : static_cast<int64_t>(file_bytes);
  std::string line;
  int64_t line_number = 0, bytes_read = 0;
  while (std::getline(in, line)) {
    ++line_number;
    bytes_read += static_cast<int64_t>(line.size()) + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    ++stats->lines;
    absl::StatusOr<ImportedRecord> record = ImportLine(line, options);
    if (!record.ok()) {
      std::string error = absl::StrCat(path, ":", line_number, ": ", record.status().message());
      if (!skip_bad_lines) return absl::InvalidArgumentError(error);
      if (stats->first_error.empty()) stats->first_error = std::move(error);
      ++stats->skipped;
    } else {
      ++stats->records;
      R1_RETURN_IF_ERROR(on_record(*record));
    }
    if (on_progress) on_progress(std::min(bytes_read, total), total);
  }
  if (in.bad()) return absl::InternalError(absl::StrCat("cannot read dataset ", path));
  return absl::OkStatus();
}

}  // namespace r1::tasks
