#include "model/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

// A safetensors file written by hand whose data section starts with `skip`
// spare bytes, so that with an odd `skip` every tensor starts at an odd
// offset: unaligned for any element wider than a byte. (WriteSafetensors
// always aligns; released files need not.)
std::string WriteShifted(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                         size_t skip) {
  std::string json = "{", data(skip, '\x7f');
  for (const auto& [name, tensor] : tensors) {
    const torch::Tensor t = tensor.contiguous();
    const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
    absl::StrAppend(&json, json.size() > 1 ? "," : "", "\"", name, "\":{\"dtype\":\"",
                    *SafetensorsDtypeName(t.scalar_type()), "\",\"shape\":[", absl::StrJoin(t.sizes(), ","),
                    "],\"data_offsets\":[", data.size(), ",", data.size() + bytes, "]}");
    data.append(static_cast<const char*>(t.data_ptr()), bytes);
  }
  json += "}";
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string prefix(8, '\0');
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((json.size() >> (8 * i)) & 0xFF);
  EXPECT_TRUE(WriteFileAtomically(path, prefix + json + data).ok());
  return path;
}

TEST_F(SafetensorsTest, MappedCopyConvertsEveryFloatDtypeExactlyAlignedOrNot) {
  torch::manual_seed(3);
  // Values spread over many binades, so float16's and bfloat16's rounding
  // and float16's range (65504) are all exercised; 1000 x 7 values.
  const torch::Tensor source = torch::randn({1000, 7}) * torch::pow(10.0, torch::randint(-6, 5, {1000, 7}));
  for (torch::Dtype stored : {torch::kFloat32, torch::kFloat16, torch::kBFloat16}) {
    const torch::Tensor on_disk = source.to(stored);
    // skip 0: aligned; 1: unaligned; 2: aligned for 2-byte values, not for float32.
    for (size_t skip : {0, 1, 2}) {
      const std::string path = WriteShifted(Path(absl::StrCat("w", skip, ".safetensors")),
                                            {{"w", on_disk}, {"byte", torch::ones({3}, torch::kUInt8)}}, skip);
      absl::StatusOr<std::unique_ptr<MappedSafetensors>> file = MappedSafetensors::Open(path);
      ASSERT_TRUE(file.ok()) << file.status();
      EXPECT_EQ((*file)->header().tensors.at("w").dtype, stored);
      // The reader that copies the whole file agrees on what the file holds.
      EXPECT_TRUE(torch::equal(ReadSafetensors(path)->tensors.at("w"), on_disk));
      for (torch::Dtype run : {torch::kFloat32, torch::kBFloat16}) {
        // Whole, and in chunks of 1000 and 6 bytes (a chunk need not hold
        // whole rows; unaligned chunks go through the staging buffer).
        for (uint64_t chunk : {MappedSafetensors::kCopyChunkBytes, uint64_t{1000}, uint64_t{6}}) {
          torch::Tensor target = torch::full({1000, 7}, 42.0, torch::TensorOptions().dtype(run));
          ASSERT_TRUE((*file)->CopyTo("w", target, chunk).ok());
          EXPECT_TRUE(torch::equal(target, on_disk.to(run)))
              << "stored " << stored << " skip " << skip << " run " << run << " chunk " << chunk;
        }
      }
      // A non-contiguous target is filled too.
      torch::Tensor transposed = torch::zeros({7, 1000}).t();
      ASSERT_TRUE((*file)->CopyTo("w", transposed, 1000).ok());
      EXPECT_TRUE(torch::equal(transposed, on_disk.to(torch::kFloat32)));
      torch::Tensor bytes = torch::zeros({3}, torch::kInt64);
      ASSERT_TRUE((*file)->CopyTo("byte", bytes).ok());
      EXPECT_TRUE(torch::equal(bytes, torch::ones({3}, torch::kInt64)));
    }
  }
}

// How a DeepSeek release's MTP copy of the embedding is checked against the
// main tensor: from the mappings, within a file or across two, in chunks.
TEST_F(SafetensorsTest, SameValuesComparesBytesOrValuesChunkByChunk) {
  torch::manual_seed(4);
  const torch::Tensor main = torch::randn({50, 7}).to(torch::kBFloat16);
  torch::Tensor off = main.clone();
  off[49][6] = off[49][6].item<float>() + 1;  // the last value: every chunk before it agrees
  torch::Tensor negative_zero = torch::zeros({50, 7});
  negative_zero[3][3] = -0.0;
  for (size_t skip : {0, 1}) {  // aligned, and not (compared as bytes either way)
    const std::string a = WriteShifted(Path(absl::StrCat("a", skip)),
                                       {{"main", main},
                                        {"copy", main.clone()},
                                        {"off", off},
                                        {"wide", main.to(torch::kFloat32)},
                                        {"wide_off", off.to(torch::kFloat32)},
                                        {"zeros", torch::zeros({50, 7})},
                                        {"negative_zero", negative_zero},
                                        {"transposed", main.t().contiguous()}},
                                       skip);
    const std::string b = WriteShifted(Path(absl::StrCat("b", skip)), {{"copy", main.clone()}}, 0);
    absl::StatusOr<std::unique_ptr<MappedSafetensors>> x = MappedSafetensors::Open(a);
    absl::StatusOr<std::unique_ptr<MappedSafetensors>> y = MappedSafetensors::Open(b);
    ASSERT_TRUE(x.ok()) << x.status();
    ASSERT_TRUE(y.ok()) << y.status();
    for (uint64_t chunk : {MappedSafetensors::kCopyChunkBytes, uint64_t{64}, uint64_t{3}}) {
      SCOPED_TRACE(absl::StrCat("skip ", skip, " chunk ", chunk));
      EXPECT_TRUE(*(*x)->SameValues("copy", **x, "main", chunk));
      EXPECT_TRUE(*(*y)->SameValues("copy", **x, "main", chunk));  // across files
      EXPECT_FALSE(*(*x)->SameValues("off", **x, "main", chunk));
      // Other dtypes compare by value: bfloat16 widens to float32 exactly.
      EXPECT_TRUE(*(*x)->SameValues("wide", **x, "main", chunk));
      EXPECT_FALSE(*(*x)->SameValues("wide_off", **x, "main", chunk));
      // Same dtype is bitwise: -0.0 is not 0.0.
      EXPECT_FALSE(*(*x)->SameValues("negative_zero", **x, "zeros", chunk));
      EXPECT_FALSE(*(*x)->SameValues("transposed", **x, "main", chunk));  // another shape
    }
    EXPECT_THAT(std::string((*x)->SameValues("copy", **y, "none").status().message()),
                HasSubstr(absl::StrCat(b, " has no tensor none")));
  }
}

// One tensor under two names (how export writes the MTP copies) is written
// twice from one CPU copy, and reads back as two equal tensors.
TEST_F(SafetensorsTest, ATensorUnderTwoNamesIsWrittenUnderBoth) {
  const torch::Tensor shared = torch::randn({4, 3});
  const torch::Tensor view = shared.narrow(0, 0, 2);  // same data pointer, another shape
  ASSERT_TRUE(WriteSafetensors(Path("t"), {{"a", shared}, {"b", view}, {"c", shared}}).ok());
  absl::StatusOr<SafetensorsFile> file = ReadSafetensors(Path("t"));
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(torch::equal(file->tensors.at("a"), shared));
  EXPECT_TRUE(torch::equal(file->tensors.at("b"), view));
  EXPECT_TRUE(torch::equal(file->tensors.at("c"), shared));
}

TEST_F(SafetensorsTest, MappedCopyRefusesNamingTheFileAndTensor) {
  const std::string path = WriteShifted(Path("w.safetensors"), {{"w", torch::ones({4, 2})}}, 1);
  absl::StatusOr<std::unique_ptr<MappedSafetensors>> file = MappedSafetensors::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  torch::Tensor target = torch::zeros({2, 4});
  absl::Status s = (*file)->CopyTo("w", target);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat(path, ": tensor w has shape [4, 2], the target has [2, 4]")));
  EXPECT_TRUE(torch::equal(target, torch::zeros({2, 4})));  // untouched
  s = (*file)->CopyTo("v", target);
  EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat(path, " has no tensor v")));

  // Open checks the header as ReadSafetensorsHeader does.
  const std::string good = *ReadFile(path);
  ASSERT_TRUE(WriteFileAtomically(Path("cut"), good.substr(0, 20)).ok());
  s = MappedSafetensors::Open(Path("cut")).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat(Path("cut"), " is not a valid safetensors file: header length")));
  ASSERT_TRUE(WriteFileAtomically(Path("short"), good.substr(0, good.size() - 1)).ok());
  s = MappedSafetensors::Open(Path("short")).status();
  EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat(Path("short"), " is not a valid safetensors file: tensor w: data_offsets")));
  std::string garbled = good;
  garbled[9] = '!';
  ASSERT_TRUE(WriteFileAtomically(Path("garbled"), garbled).ok());
  EXPECT_THAT(std::string(MappedSafetensors::Open(Path("garbled")).status().message()), HasSubstr("header is not JSON"));
  ASSERT_TRUE(WriteFileAtomically(Path("empty"), "").ok());
  EXPECT_THAT(std::string(MappedSafetensors::Open(Path("empty")).status().message()), HasSubstr("shorter than"));
  EXPECT_EQ(MappedSafetensors::Open(Path("none")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(MappedSafetensors::Open(dir_.string()).status().message()), HasSubstr("not a regular file"));
}

}  // namespace
}  // namespace r1::model
