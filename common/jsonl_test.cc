#include "common/jsonl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/file_util.h"
#include "proto/records.pb.h"

namespace r1 {
namespace {

using ::testing::HasSubstr;

class JsonlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("r1_jsonl_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    EXPECT_TRUE(WriteFileAtomically(path, text).ok());
    return path;
  }
  std::filesystem::path dir_;
};

constexpr char kMixed[] =
    "{\"prompt\": \"What is 1 + 1?\", \"answer\": \"2\", \"task\": \"arithmetic\"}\n"
    "\n"
    "{\"prompt\": \"Using the numbers 2, 3, make 6.\", \"answer\": \"6\", \"numbers\": [2, 3]}\n"
    "{\"prompt\": \"broken\", \"answer\": }\n"
    "{\"answer\": \"5\"}\n"
    "{\"prompt\": \"ok\", \"colour\": \"red\"}\n"
    "{\"prompt\": \"last\"}\r\n";

TEST_F(JsonlTest, StrictReadStopsAtTheFirstBadLineNamingFileAndLine) {
  const std::string path = Write("mixed.jsonl", kMixed);
  absl::StatusOr<std::vector<data::PromptRecord>> records = ReadJsonl<data::PromptRecord>(path);
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(records.status().message()), HasSubstr(path + ":4: bad PromptRecord"));
}

TEST_F(JsonlTest, SkippingBadLinesCountsThemAndKeepsTheGoodOnes) {
  const std::string path = Write("mixed.jsonl", kMixed);
  JsonlStats stats;
  absl::StatusOr<std::vector<data::PromptRecord>> records =
      ReadJsonl<data::PromptRecord>(path, JsonlOptions{.skip_bad_lines = true}, &stats);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[0].answer(), "2");
  EXPECT_EQ((*records)[1].numbers_size(), 2);
  EXPECT_EQ((*records)[1].numbers(1), 3);
  EXPECT_EQ((*records)[2].prompt(), "last");  // CRLF line endings are fine
  EXPECT_EQ(stats.records, 3);
  EXPECT_EQ(stats.skipped, 3);
  EXPECT_THAT(stats.first_error, HasSubstr(":4:"));
}

TEST_F(JsonlTest, EachKindOfBadLineGetsItsReason) {
  data::PromptRecord prompt;
  EXPECT_THAT(std::string(ParseJsonRecord("{\"answer\": \"5\"}", &prompt).message()), HasSubstr("\"prompt\" is missing"));
  EXPECT_THAT(std::string(ParseJsonRecord("{\"prompt\": \"p\", \"colour\": 1}", &prompt).message()), HasSubstr("colour"));
  EXPECT_THAT(std::string(ParseJsonRecord("[1, 2]", &prompt).message()), HasSubstr("not a JSON object"));
  EXPECT_FALSE(ParseJsonRecord("{\"prompt\": \"p\", \"numbers\": [\"two\"]}", &prompt).ok());
  EXPECT_FALSE(ParseJsonRecord("{\"prompt\": \"\xff\xfe\"}", &prompt).ok());

  data::SftRecord sft;
  EXPECT_TRUE(ParseJsonRecord("{\"prompt\": \"p\", \"response\": \"r\"}", &sft).ok());
  EXPECT_THAT(std::string(ParseJsonRecord("{\"prompt\": \"p\"}", &sft).message()), HasSubstr("\"response\" is missing"));
  EXPECT_TRUE(ParseJsonRecord(
      "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \"yo\"}]}", &sft).ok());
  EXPECT_THAT(std::string(ParseJsonRecord("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", &sft).message()),
              HasSubstr("no assistant turn"));
  EXPECT_THAT(std::string(ParseJsonRecord("{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}", &sft).message()),
              HasSubstr("messages[0].role"));
  EXPECT_THAT(std::string(ParseJsonRecord(
                  "{\"prompt\": \"p\", \"messages\": [{\"role\": \"assistant\", \"content\": \"x\"}]}", &sft).message()),
              HasSubstr("use one form"));
}

// Issue 12, item 8. protobuf's JSON parser flattens lists of lists, takes a
// lone value for a list and drops nulls in one; each is refused with the
// file, the line and the field.
TEST_F(JsonlTest, ListOfListsIsRefusedNamingFileLineAndField) {
  const std::string path = Write("nested.jsonl",
                                 "{\"prompt\": \"fine\", \"numbers\": [1, 2], \"tests\": [{\"input\": \"x\"}]}\n"
                                 "{\"prompt\": \"p\", \"numbers\": [[1, 2], [3]]}\n");
  absl::StatusOr<std::vector<data::PromptRecord>> records = ReadJsonl<data::PromptRecord>(path);
  ASSERT_FALSE(records.ok());
  EXPECT_THAT(std::string(records.status().message()),
              HasSubstr(path + ":2: bad PromptRecord: \"numbers\" must be a list of numbers, but numbers[0] is a list"));

  data::PromptRecord prompt;
  EXPECT_THAT(std::string(ParseJsonRecord("{\"prompt\": \"p\", \"tests\": [[[{\"input\": \"x\"}]]]}", &prompt).message()),
              HasSubstr("\"tests\" must be a list of objects, but tests[0] is a list"));
  data::SftRecord sft;
  EXPECT_THAT(std::string(ParseJsonRecord("{\"messages\": [[{\"role\": \"assistant\", \"content\": \"x\"}]]}", &sft).message()),
              HasSubstr("\"messages\" must be a list of objects, but messages[0] is a list"));
}

TEST_F(JsonlTest, SingleValueOrNullWhereAListBelongsIsRefused) {
  data::PromptRecord prompt;
  EXPECT_THAT(std::string(ParseJsonRecord("{\"prompt\": \"p\", \"numbers\": 5}", &prompt).message()),
              HasSubstr("\"numbers\" must be a list of numbers, got a single value"));
  EXPECT_THAT(std::string(ParseJsonRecord("{\"prompt\": \"p\", \"tests\": {\"input\": \"x\"}}", &prompt).message()),
              HasSubstr("\"tests\" must be a list of objects, got a single value"));
  EXPECT_THAT(std::string(ParseJsonRecord("{\"prompt\": \"p\", \"numbers\": [1, null]}", &prompt).message()),
              HasSubstr("numbers[1] is null"));
  // null for the whole field means "not given", as in protobuf's mapping.
  EXPECT_TRUE(ParseJsonRecord("{\"prompt\": \"p\", \"numbers\": null, \"tests\": []}", &prompt).ok());
}

TEST_F(JsonlTest, DuplicateKeysAreRefusedNamingFileLineAndKey) {
  const std::string path = Write("twice.jsonl", "{\"prompt\": \"a\"}\n\n{\"prompt\": \"a\", \"answer\": \"1\", \"answer\": \"2\"}\n");
  absl::StatusOr<std::vector<data::PromptRecord>> records = ReadJsonl<data::PromptRecord>(path);
  ASSERT_FALSE(records.ok());
  EXPECT_THAT(std::string(records.status().message()),
              HasSubstr(path + ":3: bad PromptRecord: \"answer\" is given twice"));

  data::PromptRecord prompt;
  // An escaped spelling of the same key, and a key inside a nested object.
  EXPECT_THAT(std::string(ParseJsonRecord("{\"prompt\": \"a\", \"\\u0070rompt\": \"b\"}", &prompt).message()),
              HasSubstr("\"prompt\" is given twice"));
  EXPECT_THAT(std::string(ParseJsonRecord(
                  "{\"prompt\": \"a\", \"tests\": [{\"input\": \"x\"}, {\"input\": \"x\", \"input\": \"y\"}]}", &prompt)
                              .message()),
              HasSubstr("\"tests[1].input\" is given twice"));
  // The JSON name and the proto name of one field.
  data::SampleRecord sample;
  EXPECT_THAT(std::string(ParseJsonRecord("{\"prompt\": \"p\", \"weight_version\": 1, \"weightVersion\": 2}", &sample)
                              .message()),
              HasSubstr("\"weight_version\" is given twice (duplicate key \"weightVersion\")"));
  // Map keys are compared too, and equal values in different objects are fine.
  EXPECT_FALSE(ParseJsonRecord("{\"prompt\": \"p\", \"reward_breakdown\": {\"math\": 1, \"math\": 0}}", &sample).ok());
  EXPECT_TRUE(ParseJsonRecord("{\"prompt\": \"p\", \"reward_breakdown\": {\"math\": 1, \"format\": 1}, \"id\": \"math\"}",
                              &sample).ok());
}

TEST_F(JsonlTest, NonFiniteNumbersAreRefusedNamingFileLineAndField) {
  const std::string path = Write("nan.jsonl",
                                 "{\"prompt\": \"p\", \"reward\": 0.5}\n"
                                 "{\"prompt\": \"p\", \"reward\": \"NaN\"}\n");
  absl::StatusOr<std::vector<data::SampleRecord>> records = ReadJsonl<data::SampleRecord>(path);
  ASSERT_FALSE(records.ok());
  EXPECT_THAT(std::string(records.status().message()),
              HasSubstr(path + ":2: bad SampleRecord: \"reward\" must be a finite number, got nan"));

  data::SampleRecord sample;
  EXPECT_THAT(std::string(ParseJsonRecord("{\"prompt\": \"p\", \"reward_breakdown\": {\"math\": \"Infinity\"}}", &sample)
                              .message()),
              HasSubstr("\"reward_breakdown[\"math\"]\" must be a finite number, got inf"));
  data::SftRecord sft;
  EXPECT_THAT(std::string(ParseJsonRecord(
                  "{\"prompt\": \"p\", \"response\": \"r\", \"provenance\": {\"reward\": \"-Infinity\"}}", &sft)
                              .message()),
              HasSubstr("\"provenance.reward\" must be a finite number, got -inf"));
  // A number too large for a double is protobuf's own refusal.
  EXPECT_FALSE(ParseJsonRecord("{\"prompt\": \"p\", \"reward\": 1e999}", &sample).ok());
}

TEST_F(JsonlTest, MissingFileIsNotFound) {
  absl::StatusOr<std::vector<data::SftRecord>> records = ReadJsonl<data::SftRecord>((dir_ / "nope.jsonl").string());
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(records.status().message()), HasSubstr("nope.jsonl"));
}

TEST_F(JsonlTest, WriterRoundTripsRecordsAndWritesTagsPlainly) {
  const std::string path = (dir_ / "samples.jsonl").string();
  data::SampleRecord sample;
  sample.set_prompt("What is 2 + 2?");
  // Tags, an ampersand, a quote, and a literal backslash-u that must survive.
  sample.set_completion("<think>2 + 2 = 4 & done 'ok' \\u003c</think><answer>4</answer>");
  sample.set_reward(1.0);
  (*sample.mutable_reward_breakdown())["math"] = 1.0;
  sample.set_weight_version(3);
  JsonlWriter writer;
  ASSERT_TRUE(writer.Open(path).ok());
  ASSERT_TRUE(writer.Write(sample).ok());
  ASSERT_TRUE(writer.Write(sample).ok());
  ASSERT_TRUE(writer.Commit().ok());
  EXPECT_EQ(writer.records(), 2);

  absl::StatusOr<std::string> text = ReadFile(path);
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(*text, HasSubstr("\"completion\":\"<think>2 + 2 = 4 & done 'ok' \\\\u003c</think>"));
  EXPECT_THAT(*text, HasSubstr("\"weight_version\":3"));

  absl::StatusOr<std::vector<data::SampleRecord>> back = ReadJsonl<data::SampleRecord>(path);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[0].SerializeAsString(), sample.SerializeAsString());
}

TEST_F(JsonlTest, UncommittedWriterLeavesNoFile) {
  const std::string path = (dir_ / "partial.jsonl").string();
  {
    JsonlWriter writer;
    ASSERT_TRUE(writer.Open(path).ok());
    data::PromptRecord record;
    record.set_prompt("p");
    ASSERT_TRUE(writer.Write(record).ok());
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

TEST_F(JsonlTest, AtomicWriterKeepsTheOldFileUntilCommit) {
  const std::string path = Write("keep.txt", "old");
  AtomicFileWriter writer;
  ASSERT_TRUE(writer.Open(path).ok());
  ASSERT_TRUE(writer.Write("new contents").ok());
  EXPECT_EQ(*ReadFile(path), "old");
  ASSERT_TRUE(writer.Commit().ok());
  EXPECT_EQ(*ReadFile(path), "new contents");
}

TEST_F(JsonlTest, WriterIntoMissingDirectoryFailsClearly) {
  JsonlWriter writer;
  absl::Status s = writer.Open((dir_ / "no" / "such" / "dir" / "x.jsonl").string());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()), HasSubstr("x.jsonl"));
}

}  // namespace
}  // namespace r1
