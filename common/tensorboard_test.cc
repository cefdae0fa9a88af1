#include "common/tensorboard.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"

namespace r1 {
namespace {

TEST(TensorBoardSink, AnIndependentReaderChecksEveryRecordAndGetsTheScalars) {
  if (!std::filesystem::exists("/usr/bin/python3")) GTEST_SKIP() << "needs /usr/bin/python3";
  const std::string dir = std::filesystem::temp_directory_path() / absl::StrCat("r1_tb_", getpid());
  std::filesystem::remove_all(dir);
  std::string path;
  {
    TensorBoardSink sink;
    ASSERT_TRUE(sink.Open(dir).ok());
    ASSERT_TRUE(sink.Write(1, {{"loss", 2.5}, {"reward/mean", 0.25}}).ok());
    ASSERT_TRUE(sink.Write(300, {{"loss", -1.0}}).ok());
    ASSERT_TRUE(sink.Flush().ok());
    path = sink.path();
  }
  EXPECT_NE(path.find("/events.out.tfevents."), std::string::npos);
  // tests/golden/read_tfevents.py: its own CRC-32C and wire-format decoder.
  const std::string out = dir + "/read.json";
  const std::string command =
      absl::StrCat("/usr/bin/python3 tests/golden/read_tfevents.py ", path, " > ", out, " 2>&1");
  ASSERT_EQ(std::system(command.c_str()), 0) << ReadFile(out).value_or("");
  const std::vector<std::string> lines = absl::StrSplit(ReadFile(out).value(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("\"file_version\": \"brain.Event:2\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("\"scalars\": {\"loss\": 2.5, \"reward/mean\": 0.25}"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("\"step\": 1"), std::string::npos);
  EXPECT_NE(lines[2].find("\"scalars\": {\"loss\": -1.0}"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("\"step\": 300"), std::string::npos);

  // A flipped byte is caught by the reader's CRC check.
  std::string bytes = ReadFile(path).value();
  bytes[bytes.size() - 6] ^= 0x01;
  ASSERT_TRUE(WriteFileAtomically(path, bytes).ok());
  EXPECT_NE(std::system(command.c_str()), 0);
  std::filesystem::remove_all(dir);
}

TEST(TensorBoardSink, WritingBeforeOpenIsAnError) {
  TensorBoardSink sink;
  EXPECT_FALSE(sink.Write(1, {{"x", 1}}).ok());
}

}  // namespace
}  // namespace r1
