// ReadSafetensorsHeader: what a file holds, known before anything is
// allocated for it, under the same checks ReadSafetensors applies.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "model/safetensors.h"

namespace r1::model {
namespace {

using ::testing::HasSubstr;

class SafetensorsHeaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("r1_st_header_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

std::string WithHeader(const std::string& json, size_t data_bytes) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((json.size() >> (8 * i)) & 0xFF);
  return out + json + std::string(data_bytes, '\0');
}

TEST_F(SafetensorsHeaderTest, DescribesWhatReadSafetensorsReads) {
  ASSERT_TRUE(WriteSafetensors(Path("t.safetensors"),
                               {{"a", torch::randn({3, 5})}, {"b", torch::zeros({2}, torch::kBFloat16)}},
                               {{"format", "pt"}})
                  .ok());
  absl::StatusOr<SafetensorsHeader> header = ReadSafetensorsHeader(Path("t.safetensors"));
  ASSERT_TRUE(header.ok()) << header.status();
  ASSERT_EQ(header->tensors.size(), 2u);
  EXPECT_EQ(header->tensors.at("a").shape, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(header->tensors.at("a").dtype, torch::kFloat32);
  EXPECT_EQ(header->tensors.at("a").end - header->tensors.at("a").begin, 60u);
  EXPECT_EQ(header->tensors.at("b").dtype, torch::kBFloat16);
  EXPECT_EQ(header->metadata.at("format"), "pt");
  EXPECT_EQ(header->file_bytes, ReadFile(Path("t.safetensors"))->size());
  EXPECT_EQ(header->data_start + 60 + 4, header->file_bytes);
  EXPECT_EQ(ReadSafetensorsHeader(Path("none")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SafetensorsHeaderTest, RefusesWhatReadSafetensorsRefuses) {
  ASSERT_TRUE(WriteSafetensors(Path("good"), {{"w", torch::randn({4, 4})}}).ok());
  const std::string good = *ReadFile(Path("good"));
  std::string beyond_limit = good;
  beyond_limit[4] = '\x01';  // 4 GiB + the real length: over 100 MiB, never read
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"short", "abc", "shorter than its 8-byte header length"},
      {"truncated_header", good.substr(0, 20), "header length"},
      {"beyond_limit", beyond_limit, "or the 100 MiB limit"},
      {"past_eof", good.substr(0, good.size() - 1), "tensor w: data_offsets [0, 64] do not hold 64 bytes inside the 63-byte"},
      {"shape_vs_range", WithHeader(R"({"w":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}})", 8), "do not hold 6 bytes"},
      {"overlap", WithHeader(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})", 8),
       "overlap"},
      {"dtype", WithHeader(R"({"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", 1), "unsupported dtype"},
  };
  for (const auto& [name, bytes, why] : cases) {
    ASSERT_TRUE(WriteFileAtomically(Path(name), bytes).ok());
    for (const absl::Status& s : {ReadSafetensorsHeader(Path(name)).status(), ReadSafetensors(Path(name)).status()}) {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
      EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat(Path(name), " is not a valid safetensors file")));
      EXPECT_THAT(std::string(s.message()), HasSubstr(why)) << name;
    }
  }
}

}  // namespace
}  // namespace r1::model
