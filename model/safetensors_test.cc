#include "model/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace r1::model {
namespace {

using ::testing::HasSubstr;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("r1_safetensors_", getpid(), "_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(SafetensorsTest, RoundTripsEveryDtypeShapeAndMetadata) {
  const std::vector<std::pair<std::string, torch::Tensor>> tensors = {
      {"a.weight", torch::randn({3, 5})},
      {"b", torch::randn({2, 2}).to(torch::kBFloat16)},
      {"c", torch::randn({7}).to(torch::kFloat16)},
      {"ids", torch::arange(6, torch::kInt64).view({2, 3})},
      {"scalar", torch::tensor(2.5)},
      {"empty", torch::zeros({0, 4})},
      {"strided", torch::randn({4, 6}).t()}};
  ASSERT_TRUE(WriteSafetensors(Path("t.safetensors"), tensors, {{"format", "pt"}, {"note", "a \"quoted\" value"}}).ok());
  absl::StatusOr<SafetensorsFile> file = ReadSafetensors(Path("t.safetensors"));
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->tensors.size(), tensors.size());
  for (const auto& [name, tensor] : tensors) {
    const torch::Tensor& back = file->tensors.at(name);
    EXPECT_EQ(back.scalar_type(), tensor.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(back, tensor)) << name;
  }
  EXPECT_EQ(file->metadata.at("note"), "a \"quoted\" value");
  // Data starts 8-byte aligned, as the format recommends.
  const std::string bytes = *ReadFile(Path("t.safetensors"));
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(header % 8, 0u);
}

TEST_F(SafetensorsTest, ReadsAFileWrittenByTheIndependentPythonWriter) {
  absl::StatusOr<SafetensorsFile> file = ReadSafetensors("tests/golden/llama_b.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->tensors.at("golden.tokens").scalar_type(), torch::kInt64);
  EXPECT_EQ(file->tensors.at("model.embed_tokens.weight").sizes(), (std::vector<int64_t>{64, 32}));
  EXPECT_THAT(file->metadata.at("config"), HasSubstr("\"arch\""));
}

TEST_F(SafetensorsTest, RefusesDamagedFilesNamingTheProblem) {
  ASSERT_TRUE(WriteSafetensors(Path("good.safetensors"), {{"w", torch::randn({4, 4})}}).ok());
  const std::string good = *ReadFile(Path("good.safetensors"));
  const auto expect_refused = [&](const std::string& name, const std::string& bytes, const std::string& why) {
    ASSERT_TRUE(WriteFileAtomically(Path(name), bytes).ok());
    absl::StatusOr<SafetensorsFile> file = ReadSafetensors(Path(name));
    ASSERT_FALSE(file.ok()) << name;
    EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(file.status().message()), HasSubstr(Path(name)));
    EXPECT_THAT(std::string(file.status().message()), HasSubstr(why)) << name;
  };
  expect_refused("short", "abc", "shorter than");
  expect_refused("truncated", good.substr(0, good.size() - 10), "tensor w: data_offsets");
  std::string huge_header = good;
  huge_header[5] = '\x7f';
  expect_refused("huge", huge_header, "header length");
  const auto with_header = [](const std::string& json) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((json.size() >> (8 * i)) & 0xFF);
    return out + json + std::string(64, '\0');
  };
  expect_refused("notjson", with_header("{not json"), "header is not JSON");
  expect_refused("dtype", with_header(R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,2]}})"), "unsupported dtype");
  expect_refused("size", with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})"), "do not hold 8 bytes");
  expect_refused("negative", with_header(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})"), "bad dimension");
  expect_refused("overlap", with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})"),
                 "overlap");
  expect_refused("fields", with_header(R"({"w":{"dtype":"F32"}})"), "needs dtype, shape and data_offsets");
}

TEST_F(SafetensorsTest, MissingFileIsNotFoundAndFailedWriteLeavesNothing) {
  EXPECT_EQ(ReadSafetensors(Path("none.safetensors")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(WriteSafetensors(Path("no/dir/x.safetensors"), {{"w", torch::zeros({1})}}).ok());
  EXPECT_FALSE(std::filesystem::exists(Path("no")));
}

}  // namespace
}  // namespace r1::model
