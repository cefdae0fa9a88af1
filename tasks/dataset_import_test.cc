#include "tasks/dataset_import.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/jsonl.h"
#include "proto/config.pb.h"
#include "tasks/held_out.h"

namespace r1::tasks {
namespace {

using ::testing::HasSubstr;

ImportOptions Options(ImportFormat format) {
  ImportOptions options;
  options.format = format;
  return options;
}

data::PromptRecord Prompt(absl::string_view line, const ImportOptions& options) {
  absl::StatusOr<ImportedRecord> record = ImportLine(line, options);
  EXPECT_TRUE(record.ok()) << record.status();
  if (!record.ok() || !std::holds_alternative<data::PromptRecord>(*record)) return {};
  return std::get<data::PromptRecord>(*record);
}

data::SftRecord Sft(absl::string_view line) {
  absl::StatusOr<ImportedRecord> record = ImportLine(line, Options(ImportFormat::kMessages));
  EXPECT_TRUE(record.ok()) << record.status();
  if (!record.ok() || !std::holds_alternative<data::SftRecord>(*record)) return {};
  return std::get<data::SftRecord>(*record);
}

std::string ErrorOf(absl::string_view line, const ImportOptions& options) {
  absl::StatusOr<ImportedRecord> record = ImportLine(line, options);
  EXPECT_FALSE(record.ok()) << line;
  return record.ok() ? "" : std::string(record.status().message());
}

class ImportFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("r1_dataset_import_test_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = (dir_ / name).string();
    EXPECT_TRUE(WriteFileAtomically(path, content).ok());
    return path;
  }
  // ImportJsonlFile's error for a file of `lines`; the bad one is line 3.
  std::string BadLineError(ImportFormat format, const std::string& bad_line, const std::string& good_line) {
    const std::string path = Write("in.jsonl", absl::StrCat(good_line, "\n\n", bad_line, "\n", good_line, "\n"));
    ImportStats stats;
    int64_t records = 0;
    absl::Status s = ImportJsonlFile(path, Options(format), false, &stats, [&](const ImportedRecord&) {
      ++records;
      return absl::OkStatus();
    });
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_EQ(records, 1);  // the good line before it; the caller discards what it got
    EXPECT_THAT(std::string(s.message()), ::testing::StartsWith(path + ":3: "));
    return std::string(s.message());
  }

  std::filesystem::path dir_;
};

// --- gsm8k -------------------------------------------------------------------

TEST(Gsm8kImport, PromptIsTheQuestionAndAnswerFollowsTheLastMarker) {
  data::PromptRecord r = Prompt(
      R"({"question": " Tom has 3 apples. ", "answer": "He buys 2.\n#### 5 apples? no\n#### 1,234", "id": 17})",
      Options(ImportFormat::kGsm8k));
  EXPECT_EQ(r.prompt(), "Tom has 3 apples.");
  EXPECT_EQ(r.answer(), "1234");
  EXPECT_EQ(r.task(), "math");
  EXPECT_EQ(r.id(), "17");
}

TEST(Gsm8kImport, ThousandsSeparatorsGoOtherCommasStay) {
  EXPECT_EQ(*Gsm8kFinalAnswer("#### 1,234,567"), "1234567");
  EXPECT_EQ(*Gsm8kFinalAnswer("#### -3,000.50"), "-3000.50");
  EXPECT_EQ(*Gsm8kFinalAnswer("#### 72"), "72");
  EXPECT_EQ(*Gsm8kFinalAnswer("a #### 1 #### 2 ####  3  "), "3");
  EXPECT_EQ(*Gsm8kFinalAnswer("#### (1, 2)"), "(1, 2)");
  EXPECT_EQ(*Gsm8kFinalAnswer("#### 12,34"), "12,34");     // not a thousands group
  EXPECT_EQ(*Gsm8kFinalAnswer("#### 1,2345"), "1,2345");
  EXPECT_FALSE(Gsm8kFinalAnswer("The answer is 5").ok());
  EXPECT_FALSE(Gsm8kFinalAnswer("so #### ").ok());
}

TEST(Gsm8kImport, FieldNamesCanBeMapped) {
  ImportOptions options = Options(ImportFormat::kGsm8k);
  options.fields.prompt = "q";
  options.fields.answer = "a";
  options.fields.id = "key";
  options.task = "gsm8k";
  data::PromptRecord r = Prompt(R"({"q": "2+2?", "a": "#### 4", "key": "train-9", "question": "ignored"})", options);
  EXPECT_EQ(r.prompt(), "2+2?");
  EXPECT_EQ(r.answer(), "4");
  EXPECT_EQ(r.id(), "train-9");
  EXPECT_EQ(r.task(), "gsm8k");
  EXPECT_THAT(ErrorOf(R"({"question": "2+2?", "answer": "#### 4"})", options),
              HasSubstr("\"q\" is missing (--prompt_field names the field to read)"));
}

// --- math --------------------------------------------------------------------

TEST(MathImport, ReferenceIsTheLastBoxedWithNestedBraces) {
  data::PromptRecord r = Prompt(
      R"({"problem": "Half of 1?", "solution": "Try $\\boxed{2}$, no: $\\boxed{ \\frac{1}{2} }$.", "unique_id": "test/algebra/1.json"})",
      Options(ImportFormat::kMath));
  EXPECT_EQ(r.prompt(), "Half of 1?");
  EXPECT_EQ(r.answer(), "\\frac{1}{2}");
  EXPECT_EQ(r.task(), "math");
  EXPECT_EQ(r.id(), "test/algebra/1.json");
}

TEST(MathImport, BoxedForms) {
  EXPECT_EQ(*LastBoxedAnswer("\\boxed{\\frac{\\sqrt{3}}{2}}"), "\\frac{\\sqrt{3}}{2}");
  EXPECT_EQ(*LastBoxedAnswer("\\fbox{7} then \\boxed{8}"), "8");
  EXPECT_EQ(*LastBoxedAnswer("\\boxed{8} then \\fbox{7}"), "7");
  EXPECT_EQ(*LastBoxedAnswer("so $\\boxed 5$."), "5");
  EXPECT_EQ(*LastBoxedAnswer("\\boxed{\\{1, 2\\}}"), "\\{1, 2\\}");  // escaped braces do not count
  EXPECT_EQ(*LastBoxedAnswer("\\boxed{\\text{(A)}} \\boxedsymbol"), "\\text{(A)}");
  // The last top-level box: one nested inside it is part of its content.
  EXPECT_EQ(*LastBoxedAnswer("\\boxed{1} \\boxed{x = \\boxed{2}}"), "x = \\boxed{2}");
  EXPECT_THAT(std::string(LastBoxedAnswer("\\boxed{\\frac{1}{2}").status().message()), HasSubstr("never closed"));
  EXPECT_THAT(std::string(LastBoxedAnswer("the answer is 3").status().message()), HasSubstr("no \\boxed{}"));
  EXPECT_THAT(std::string(LastBoxedAnswer("\\boxed{ }").status().message()), HasSubstr("empty"));
}

TEST(MathImport, AnswerFieldWinsOverTheSolution) {
  const ImportOptions options = Options(ImportFormat::kMath);
  EXPECT_EQ(Prompt(R"({"problem": "p", "solution": "\\boxed{1}", "answer": " 2 "})", options).answer(), "2");
  EXPECT_EQ(Prompt(R"({"problem": "p", "answer": 204})", options).answer(), "204");
  // An empty answer field falls back to the solution.
  EXPECT_EQ(Prompt(R"({"problem": "p", "solution": "\\boxed{1}", "answer": ""})", options).answer(), "1");
  EXPECT_THAT(ErrorOf(R"({"problem": "p", "answer": [1]})", options), HasSubstr("\"answer\" must be a string or a number, got array"));
  EXPECT_THAT(ErrorOf(R"({"problem": "p"})", options), HasSubstr("no final answer"));
}

// --- messages ----------------------------------------------------------------

TEST(MessagesImport, OneTurnBecomesPromptAndResponse) {
  data::SftRecord r = Sft(R"({"id": "c1", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]})");
  EXPECT_EQ(r.id(), "c1");
  EXPECT_EQ(r.prompt(), "Hi");
  EXPECT_EQ(r.response(), "Hello!");
  EXPECT_EQ(r.messages_size(), 0);
}

TEST(MessagesImport, SystemAndHistoryStayAConversationThroughTheLastReply) {
  data::SftRecord r = Sft(R"({"messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "2"},
      {"role": "user", "content": "times 3?"}, {"role": "assistant", "content": "6"},
      {"role": "user", "content": "thanks"}]})");
  ASSERT_EQ(r.messages_size(), 5);  // the trailing user turn has no reply to learn
  EXPECT_EQ(r.messages(0).role(), "system");
  EXPECT_EQ(r.messages(0).content(), "Be brief.");
  EXPECT_EQ(r.messages(4).role(), "assistant");
  EXPECT_EQ(r.messages(4).content(), "6");
  EXPECT_TRUE(r.prompt().empty());
  data::SftRecord system_only = Sft(R"({"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}]})");
  EXPECT_EQ(system_only.messages_size(), 3);
}

TEST(MessagesImport, BadConversationsNameTheTurn) {
  const ImportOptions options = Options(ImportFormat::kMessages);
  EXPECT_THAT(ErrorOf(R"({"messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "y"}]})", options),
              HasSubstr("\"messages[1].role\" must be system, user or assistant, got \"tool\""));
  EXPECT_THAT(ErrorOf(R"({"messages": [{"role": "user", "content": "x"}]})", options), HasSubstr("no assistant turn"));
  EXPECT_THAT(ErrorOf(R"({"messages": [{"role": "user", "content": ["x"]}]})", options),
              HasSubstr("\"messages[0].content\" must be a string, got array"));
  EXPECT_THAT(ErrorOf(R"({"messages": [{"role": "user"}]})", options), HasSubstr("\"messages[0].content\" is missing"));
  EXPECT_THAT(ErrorOf(R"({"messages": {"role": "user"}})", options), HasSubstr("\"messages\" must be a list"));
  EXPECT_THAT(ErrorOf(R"({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": " "}]})", options),
              HasSubstr("\"messages[1].content\" (the last assistant turn) is empty"));
}

// --- code --------------------------------------------------------------------

TEST(CodeImport, AppsFunctionCallTestsInAJsonString) {
  ImportOptions options = Options(ImportFormat::kCode);
  options.call_outputs_wrapped = true;
  const std::string line = R"({"problem_id": 4012, "question": "Add two numbers.", "starter_code": "def add(a, b):\n    ",
      "input_output": "{\"fn_name\": \"add\", \"inputs\": [[1, 2], [10, -3]], \"outputs\": [[3], [7]]}"})";
  data::PromptRecord r = Prompt(line, options);
  EXPECT_EQ(r.id(), "4012");
  EXPECT_EQ(r.task(), "code");
  EXPECT_EQ(r.entry_point(), "add");
  EXPECT_EQ(r.prompt(), "Add two numbers.\n\nStart from this code:\n```python\ndef add(a, b):\n```");
  ASSERT_EQ(r.tests_size(), 2);
  EXPECT_EQ(r.tests(0).input(), "[1,2]");
  EXPECT_EQ(r.tests(0).output(), "3");
  EXPECT_EQ(r.tests(1).input(), "[10,-3]");
  EXPECT_EQ(r.tests(1).output(), "7");
  // Unwrapped, the list itself is the expected value.
  options.call_outputs_wrapped = false;
  EXPECT_EQ(Prompt(line, options).tests(0).output(), "[3]");
  options.call_outputs_wrapped = true;
  EXPECT_THAT(ErrorOf(R"({"question": "q", "fn_name": "f", "tests": {"inputs": [[1]], "outputs": [3]}})", options),
              HasSubstr("\"tests.outputs[0]\" must be a one-element list holding the return value"));
}

TEST(CodeImport, FunctionNameWithoutStarterCodeIsStatedInThePrompt) {
  data::PromptRecord r = Prompt(R"({"question": "Sum a list.", "fn_name": "total", "tests": [{"input": [[1, 2]], "output": 3}]})",
                                Options(ImportFormat::kCode));
  EXPECT_EQ(r.entry_point(), "total");
  EXPECT_THAT(r.prompt(), HasSubstr("Write a Python function named total"));
  ASSERT_EQ(r.tests_size(), 1);
  EXPECT_EQ(r.tests(0).input(), "[[1,2]]");
  EXPECT_EQ(r.tests(0).output(), "3");
}

TEST(CodeImport, StdinStdoutTestsInEachShape) {
  const ImportOptions options = Options(ImportFormat::kCode);
  data::PromptRecord apps = Prompt(
      R"({"question": "Echo.", "input_output": "{\"inputs\": [\"1\\n\", \"2\\n\"], \"outputs\": [\"1\\n\", \"2\\n\"]}"})", options);
  EXPECT_TRUE(apps.entry_point().empty());
  ASSERT_EQ(apps.tests_size(), 2);
  EXPECT_EQ(apps.tests(1).input(), "2\n");
  EXPECT_EQ(apps.tests(1).output(), "2\n");
  EXPECT_THAT(apps.prompt(), ::testing::Not(HasSubstr("function")));

  data::PromptRecord pairs = Prompt(R"({"problem": "Double.", "tests": [{"input": "4\n", "output": "8\n"}]})", options);
  ASSERT_EQ(pairs.tests_size(), 1);
  EXPECT_EQ(pairs.tests(0).input(), "4\n");

  // CodeContests: singular keys, several test fields, lines as a list.
  ImportOptions contests = options;
  contests.fields.prompt = "description";
  contests.fields.tests = "public_tests, private_tests, generated_tests";
  data::PromptRecord cc = Prompt(R"({"name": "1000_A", "description": "Sum.",
      "public_tests": {"input": ["1 2\n"], "output": ["3\n"]},
      "private_tests": {"input": [["5 5", "x"]], "output": ["10\n"]}})", contests);
  EXPECT_EQ(cc.id(), "1000_A");
  ASSERT_EQ(cc.tests_size(), 2);
  EXPECT_EQ(cc.tests(1).input(), "5 5\nx\n");
  contests.max_tests = 1;
  EXPECT_EQ(Prompt(R"({"description": "Sum.", "public_tests": {"input": ["1\n", "2\n"], "output": ["1\n", "2\n"]}})", contests).tests_size(), 1);
}

TEST(CodeImport, BadTestsNameTheField) {
  const ImportOptions options = Options(ImportFormat::kCode);
  EXPECT_THAT(ErrorOf(R"({"question": "q", "tests": {"inputs": ["1"], "outputs": []}})", options),
              HasSubstr("\"tests.inputs\" has 1 tests but \"tests.outputs\" has 0"));
  EXPECT_THAT(ErrorOf(R"({"question": "q", "tests": {"inputs": [1], "outputs": ["1"]}})", options),
              HasSubstr("\"tests.inputs[0]\" must be a string (or a list of lines), got number"));
  EXPECT_THAT(ErrorOf(R"({"question": "q", "fn_name": "f", "tests": {"inputs": ["1"], "outputs": [1]}})", options),
              HasSubstr("\"tests.inputs[0]\" must be a list of arguments"));
  EXPECT_THAT(ErrorOf(R"({"question": "q", "fn_name": "f(); import os", "tests": [{"input": [], "output": 1}]})", options),
              HasSubstr("\"fn_name\" must be a Python identifier"));
  EXPECT_THAT(ErrorOf(R"({"question": "q", "input_output": "{oops"})", options), HasSubstr("\"input_output\" is a string that is not JSON"));
  EXPECT_THAT(ErrorOf(R"({"question": "q", "tests": []})", options), HasSubstr("\"tests\" holds no tests"));
  EXPECT_THAT(ErrorOf(R"({"question": "q"})", options),
              HasSubstr("\"input_output\" (or \"tests\", \"test_cases\", \"public_tests\") is missing (--tests_field"));
  EXPECT_THAT(ErrorOf(R"({"question": "q", "tests": [{"input": "1"}]})", options), HasSubstr("\"tests[0].output\" is missing"));
}

// --- lines and files -----------------------------------------------------------

TEST(ImportLine, RefusesWhatIsNotAnObject) {
  const ImportOptions options = Options(ImportFormat::kGsm8k);
  EXPECT_THAT(ErrorOf("[1, 2]", options), HasSubstr("not a JSON object (a JSON array)"));
  EXPECT_THAT(ErrorOf(R"({"question": 5, "answer": "#### 1"})", options), HasSubstr("\"question\" must be a string, got number"));
  EXPECT_THAT(ErrorOf(R"({"question": "q", "answer": "#### 1", "id": 1.5})", options),
              HasSubstr("\"id\" must be a string or an integer, got number"));
  EXPECT_THAT(ErrorOf(R"({"question": "   ", "answer": "#### 1"})", options), HasSubstr("\"question\" is empty"));
  EXPECT_FALSE(ParseImportFormat("yaml").ok());
}

TEST_F(ImportFileTest, EveryBadLineIsFileColonLineNamingTheField) {
  const std::string gsm8k = R"({"question": "q", "answer": "#### 1"})";
  EXPECT_THAT(BadLineError(ImportFormat::kGsm8k, R"({"question": "q"})", gsm8k),
              HasSubstr(":3: \"answer\" is missing (--answer_field names the field to read)"));
  EXPECT_THAT(BadLineError(ImportFormat::kGsm8k, R"({"question": "q", "answer": 1})", gsm8k),
              HasSubstr(":3: \"answer\" must be a string, got number"));
  EXPECT_THAT(BadLineError(ImportFormat::kGsm8k, R"({"question": "q", "answer": 1)", gsm8k),
              HasSubstr(":3: invalid JSON at column "));
  EXPECT_THAT(BadLineError(ImportFormat::kGsm8k, R"({"question": "q", "answer": "it is 1"})", gsm8k),
              HasSubstr(":3: \"answer\": has no \"####\" before the final answer"));
  const std::string math = R"({"problem": "p", "solution": "\\boxed{1}"})";
  EXPECT_THAT(BadLineError(ImportFormat::kMath, R"({"problem": "p", "solution": "it is 1"})", math),
              HasSubstr(":3: \"solution\": has no \\boxed{} final answer"));
  EXPECT_THAT(BadLineError(ImportFormat::kMath, R"({"problem": "p", "solution": "\\boxed{1"})", math),
              HasSubstr(":3: \"solution\": the \\boxed{ at byte 0 is never closed"));
  const std::string messages = R"({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]})";
  EXPECT_THAT(BadLineError(ImportFormat::kMessages, R"({"conversation": []})", messages),
              HasSubstr(":3: \"messages\" is missing (--messages_field names the field to read)"));
  const std::string code = R"({"question": "q", "tests": [{"input": "1", "output": "1"}]})";
  EXPECT_THAT(BadLineError(ImportFormat::kCode, R"({"question": "q", "tests": "[{]"})", code),
              HasSubstr(":3: \"tests\" is a string that is not JSON"));
}

TEST_F(ImportFileTest, SkippingCountsBadLinesAndKeepsTheRest) {
  const std::string path = Write("in.jsonl", "{\"question\": \"a\", \"answer\": \"#### 1\"}\r\n"
                                             "{oops\n"
                                             "\n"
                                             "{\"question\": \"b\"}\n"
                                             "{\"question\": \"c\", \"answer\": \"#### 3\"}");
  ImportStats stats;
  std::vector<std::string> answers;
  int64_t last_done = 0, last_total = -1;
  absl::Status s = ImportJsonlFile(
      path, Options(ImportFormat::kGsm8k), true, &stats,
      [&](const ImportedRecord& r) {
        answers.push_back(std::get<data::PromptRecord>(r).answer());
        return absl::OkStatus();
      },
      [&](int64_t done, int64_t total) {
        last_done = done;
        last_total = total;
      });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(answers, (std::vector<std::string>{"1", "3"}));
  EXPECT_EQ(stats.lines, 4);
  EXPECT_EQ(stats.records, 2);
  EXPECT_EQ(stats.skipped, 2);
  EXPECT_THAT(stats.first_error, ::testing::StartsWith(path + ":2: invalid JSON"));
  EXPECT_EQ(last_done, last_total);
  EXPECT_GT(last_total, 0);
  EXPECT_TRUE(absl::IsNotFound(ImportJsonlFile((dir_ / "nope.jsonl").string(), Options(ImportFormat::kGsm8k), false, &stats,
                                               [](const ImportedRecord&) { return absl::OkStatus(); })));
}

// What `r1 data import` writes is what RL, eval and reject-sample read
// (ReadPromptFile) and what SFT reads (ReadJsonl<SftRecord>).
TEST_F(ImportFileTest, OutputReadsBackThroughTheStagesReaders) {
  struct Case {
    ImportFormat format;
    std::string input;
  };
  const std::vector<Case> cases = {
      {ImportFormat::kGsm8k, R"({"question": "q1", "answer": "x\n#### 2,000"})"},
      {ImportFormat::kMath, R"({"problem": "p1", "solution": "$\\boxed{\\frac{1}{2}}$"})"},
      {ImportFormat::kCode, R"({"question": "c1", "fn_name": "f", "input_output": "{\"inputs\": [[1]], \"outputs\": [1]}"})"},
      {ImportFormat::kCode, R"({"question": "c2", "tests": [{"input": "1\n", "output": "1\n"}]})"},
  };
  JsonlWriter prompts;
  ASSERT_TRUE(prompts.Open((dir_ / "prompts.jsonl").string()).ok());
  for (const Case& c : cases) {
    const std::string path = Write("in.jsonl", c.input + "\n");
    ImportStats stats;
    ASSERT_TRUE(ImportJsonlFile(path, Options(c.format), false, &stats, [&](const ImportedRecord& r) {
                  return prompts.Write(std::get<data::PromptRecord>(r));
                }).ok());
  }
  ASSERT_TRUE(prompts.Commit().ok());
  config::DataConfig data;
  absl::StatusOr<std::vector<data::PromptRecord>> read = ReadPromptFile(data, (dir_ / "prompts.jsonl").string());
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 4u);
  EXPECT_EQ((*read)[0].answer(), "2000");
  EXPECT_EQ((*read)[1].answer(), "\\frac{1}{2}");
  EXPECT_EQ((*read)[2].entry_point(), "f");
  EXPECT_EQ((*read)[2].tests(0).input(), "[1]");
  EXPECT_EQ((*read)[3].tests(0).output(), "1\n");

  JsonlWriter sft;
  ASSERT_TRUE(sft.Open((dir_ / "sft.jsonl").string()).ok());
  const std::string path = Write("chat.jsonl",
                                 R"({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})"
                                 "\n"
                                 R"({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "a"}, {"role": "assistant", "content": "<think>b</think>"}]})"
                                 "\n");
  ImportStats stats;
  ASSERT_TRUE(ImportJsonlFile(path, Options(ImportFormat::kMessages), false, &stats, [&](const ImportedRecord& r) {
                return sft.Write(std::get<data::SftRecord>(r));
              }).ok());
  ASSERT_TRUE(sft.Commit().ok());
  absl::StatusOr<std::vector<data::SftRecord>> examples = ReadJsonl<data::SftRecord>((dir_ / "sft.jsonl").string());
  ASSERT_TRUE(examples.ok()) << examples.status();
  ASSERT_EQ(examples->size(), 2u);
  EXPECT_EQ((*examples)[0].response(), "b");
  EXPECT_EQ((*examples)[1].messages(2).content(), "<think>b</think>");
}

TEST(ImportFieldDefaults, ListsEachFormatsFields) {
  EXPECT_EQ(ImportFieldDefaults(ImportFormat::kGsm8k),
            "  --prompt_field: question\n  --answer_field: answer\n  --id_field: id, unique_id\n");
  EXPECT_THAT(ImportFieldDefaults(ImportFormat::kCode), HasSubstr("--tests_field: input_output, tests, test_cases, public_tests\n"));
}

}  // namespace
}  // namespace r1::tasks
