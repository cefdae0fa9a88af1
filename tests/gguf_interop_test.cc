// An outside check of GGUF export: tests/gguf_reference.py, run by Debian's
// /usr/bin/python3, parses the file with its own NumPy reader and runs a
// Llama forward pass with llama.cpp's conventions (tensor names, llama.* keys,
// ggml's adjacent-pair RoPE on q/k as stored). Its logits must equal r1's.
#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <ostream>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/chat_template.h"
#include "common/test_support.h"
#include "common/tokenizer.h"
#include "model/causal_lm.h"
#include "model/gguf_export.h"

namespace r1::model {
namespace {

namespace fs = std::filesystem;
using google::protobuf::Struct;
using google::protobuf::Value;
using ::testing::HasSubstr;

constexpr int kTokenizerVocab = 40;
constexpr int64_t kRows = 2, kTokens = 9;

// stdout of `command`, or an error with its exit status.
absl::StatusOr<std::string> RunAndCapture(const std::string& command) {
  std::FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError(absl::StrCat("cannot run ", command));
  std::string out;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  const int status = pclose(pipe);
  if (status != 0) return absl::InternalError(absl::StrCat(command, " exited with status ", status));
  return out;
}

std::string Reference(const std::string& args) {
  return absl::StrCat("/usr/bin/python3 tests/gguf_reference.py ", args);
}

// The reference's logits for `tokens` [B, T]: [B, T, V] float32.
absl::StatusOr<torch::Tensor> ReferenceLogits(const std::string& gguf, const torch::Tensor& tokens) {
  std::vector<std::string> rows;
  for (int64_t b = 0; b < tokens.size(0); ++b) {
    const int64_t* ids = tokens[b].data_ptr<int64_t>();
    rows.push_back(absl::StrJoin(ids, ids + tokens.size(1), " "));
  }
  absl::StatusOr<std::string> out =
      RunAndCapture(Reference(absl::StrCat("forward ", gguf, " --tokens '", absl::StrJoin(rows, ","), "'")));
  if (!out.ok()) return out.status();
  const std::vector<absl::string_view> lines = absl::StrSplit(*out, '\n', absl::SkipEmpty());
  if (lines.size() != 1 + static_cast<size_t>(tokens.numel()) || lines[0] != absl::StrCat("logits ", tokens.size(0))) {
    return absl::InternalError(absl::StrCat("unexpected reference output: ", out->substr(0, 200)));
  }
  std::vector<float> values;
  for (size_t i = 1; i < lines.size(); ++i) {
    for (absl::string_view field : absl::StrSplit(lines[i], ' ')) {
      float v;
      if (!absl::SimpleAtof(field, &v)) return absl::InternalError(absl::StrCat("bad logit ", field));
      values.push_back(v);
    }
  }
  return torch::tensor(values).view({tokens.size(0), tokens.size(1), -1});
}

// The reference reader's summary of the file (see gguf_reference.py).
absl::StatusOr<Struct> Describe(const std::string& gguf) {
  absl::StatusOr<std::string> json = RunAndCapture(Reference(absl::StrCat("describe ", gguf)));
  if (!json.ok()) return json.status();
  Struct root;
  if (auto s = google::protobuf::util::JsonStringToMessage(*json, &root); !s.ok()) {
    return absl::InternalError(absl::StrCat("describe output is not JSON: ", std::string(s.message())));
  }
  return root;
}

const Struct& Field(const Struct& s, const std::string& key) {
  static const Struct* const empty = new Struct;
  const auto it = s.fields().find(key);
  return it == s.fields().end() ? *empty : it->second.struct_value();
}

// metadata[key].type and .value.
std::string KeyType(const Struct& summary, const std::string& key) {
  return Field(Field(summary, "metadata"), key).fields().at("type").string_value();
}
const Value& KeyValue(const Struct& summary, const std::string& key) {
  return Field(Field(summary, "metadata"), key).fields().at("value");
}

struct ExportCase {
  bool tie_embeddings;
  int model_vocab;  // > kTokenizerVocab: the export pads with unused pieces
};

void PrintTo(const ExportCase& c, std::ostream* os) {
  *os << (c.tie_embeddings ? "tied" : "untied") << ", vocab " << c.model_vocab;
}

class GgufExport : public ::testing::TestWithParam<ExportCase> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists("/usr/bin/python3"));
    dir_ = fs::temp_directory_path() / absl::StrCat("r1_gguf_", getpid(), "_", GetParam().tie_embeddings);
    fs::remove_all(dir_);
    absl::StatusOr<std::string> tokenizer = testing::TrainTinyTokenizer((dir_ / "tok").string(), kTokenizerVocab);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    tokenizer_path_ = *tokenizer;

    config_ = testing::SmallModelConfig(config::LLAMA, GetParam().model_vocab);  // 4 heads, 2 kv heads
    // Away from the defaults a reader might assume.
    config_.set_rope_theta(500000);
    config_.set_rms_norm_eps(1e-5);
    config_.set_tie_embeddings(GetParam().tie_embeddings);
    torch::manual_seed(5);
    model_ = *MakeModel(config_);
    torch::NoGradGuard no_grad;
    // Away from the small default init and unit norms, so that a swapped
    // name, a missed permutation or a wrong orientation shows in the logits.
    for (auto& p : model_->parameters()) {
      if (p.dim() == 2) p.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(p.size(1))));
      if (p.dim() == 1) p.normal_(1.0, 0.2);
    }
    tokens_ = torch::randint(0, kTokenizerVocab, {kRows, kTokens}, torch::kInt64);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::string tokenizer_path_;
  config::ModelConfig config_;
  CausalLm model_;
  torch::Tensor tokens_;
};

TEST_P(GgufExport, IndependentNumpyLlamaReproducesLogitsInF32AndF16) {
  torch::NoGradGuard no_grad;
  const std::string f32 = (dir_ / "student-f32.gguf").string();
  const std::string f16 = (dir_ / "student-f16.gguf").string();
  ASSERT_TRUE(ExportGguf(f32, *model_, tokenizer_path_, GgufTensorType::kF32).ok());
  ASSERT_TRUE(ExportGguf(f16, *model_, tokenizer_path_, GgufTensorType::kF16).ok());
  const torch::Tensor ours = model_->Forward(tokens_, nullptr, {}).logits;  // [B, T, V]
  ASSERT_GT(ours.std().item<double>(), 0.5);

  absl::StatusOr<torch::Tensor> from_f32 = ReferenceLogits(f32, tokens_);
  ASSERT_TRUE(from_f32.ok()) << from_f32.status();
  const double f32_diff = (ours - *from_f32).abs().max().item<double>();
  EXPECT_LT(f32_diff, 1e-4);

  // F16: against r1 with its matrices rounded by LibTorch's own float->half
  // conversion, tightly (so our rounding must agree with LibTorch's), and
  // against the unrounded model within what f16 weights can keep.
  absl::StatusOr<torch::Tensor> from_f16 = ReferenceLogits(f16, tokens_);
  ASSERT_TRUE(from_f16.ok()) << from_f16.status();
  const double f16_vs_exact = (ours - *from_f16).abs().max().item<double>();
  EXPECT_LT(f16_vs_exact, 2e-2);
  for (auto& p : model_->parameters()) {
    if (p.dim() == 2) p.copy_(p.to(torch::kHalf).to(torch::kFloat32));
  }
  const torch::Tensor rounded = model_->Forward(tokens_, nullptr, {}).logits;
  const double f16_vs_rounded = (rounded - *from_f16).abs().max().item<double>();
  EXPECT_LT(f16_vs_rounded, 1e-4);
  std::printf("max |logit diff|: f32 %.3g, f16 vs f16-rounded model %.3g, f16 vs exact model %.3g "
              "(logit std %.3g)\n",
              f32_diff, f16_vs_rounded, f16_vs_exact, ours.std().item<double>());
}

TEST_P(GgufExport, MetadataTokensAndTensorNamesReadBackIndependently) {
  const config::ModelConfig& c = config_;
  for (const GgufTensorType type : {GgufTensorType::kF32, GgufTensorType::kF16}) {
    SCOPED_TRACE(type == GgufTensorType::kF16 ? "f16" : "f32");
    const std::string path = (dir_ / "student.gguf").string();
    ASSERT_TRUE(ExportGguf(path, *model_, tokenizer_path_, type).ok());
    absl::StatusOr<Struct> summary = Describe(path);
    ASSERT_TRUE(summary.ok()) << summary.status();
    const Struct& s = *summary;
    EXPECT_EQ(s.fields().at("version").number_value(), 3);
    EXPECT_EQ(s.fields().at("alignment").number_value(), 32);

    EXPECT_EQ(KeyValue(s, "general.architecture").string_value(), "llama");
    EXPECT_EQ(KeyValue(s, "general.name").string_value(), "student");
    EXPECT_EQ(KeyValue(s, "general.file_type").number_value(), type == GgufTensorType::kF16 ? 1 : 0);
    const std::vector<std::pair<std::string, double>> counts = {
        {"llama.context_length", c.max_seq_len()},
        {"llama.embedding_length", c.dim()},
        {"llama.block_count", c.n_layers()},
        {"llama.feed_forward_length", c.ffn_hidden_dim()},
        {"llama.attention.head_count", c.n_heads()},
        {"llama.attention.head_count_kv", c.n_kv_heads()},
        {"llama.rope.dimension_count", c.dim() / c.n_heads()},
        {"llama.vocab_size", c.vocab_size()},
        {"general.alignment", 32},
        {"general.file_type", type == GgufTensorType::kF16 ? 1 : 0},
    };
    for (const auto& [key, value] : counts) {
      EXPECT_EQ(KeyType(s, key), "uint32") << key;
      EXPECT_EQ(KeyValue(s, key).number_value(), value) << key;
    }
    EXPECT_EQ(KeyType(s, "llama.rope.freq_base"), "float32");
    EXPECT_EQ(KeyValue(s, "llama.rope.freq_base").number_value(), 500000);
    EXPECT_EQ(KeyType(s, "llama.attention.layer_norm_rms_epsilon"), "float32");
    EXPECT_EQ(KeyValue(s, "llama.attention.layer_norm_rms_epsilon").number_value(), static_cast<float>(1e-5));

    // Vocabulary: the tokenizer's pieces, scores and kinds, padded to the
    // model's vocab_size with unused pieces.
    absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(tokenizer_path_);
    ASSERT_TRUE(tokenizer.ok());
    EXPECT_EQ(KeyValue(s, "tokenizer.ggml.model").string_value(), "llama");
    const auto& tokens = KeyValue(s, "tokenizer.ggml.tokens").list_value().values();
    const auto& scores = KeyValue(s, "tokenizer.ggml.scores").list_value().values();
    const auto& types = KeyValue(s, "tokenizer.ggml.token_type").list_value().values();
    EXPECT_EQ(Field(Field(s, "metadata"), "tokenizer.ggml.token_type").fields().at("elem_type").string_value(),
              "int32");
    EXPECT_EQ(Field(Field(s, "metadata"), "tokenizer.ggml.scores").fields().at("elem_type").string_value(),
              "float32");
    ASSERT_EQ(tokens.size(), static_cast<size_t>(c.vocab_size()));
    ASSERT_EQ(scores.size(), static_cast<size_t>(c.vocab_size()));
    ASSERT_EQ(types.size(), static_cast<size_t>(c.vocab_size()));
    for (int id = 0; id < c.vocab_size(); ++id) {
      if (id < kTokenizerVocab) {
        EXPECT_EQ(tokens[id].string_value(), tokenizer->IdToPiece(id)) << id;
        EXPECT_EQ(scores[id].number_value(), tokenizer->PieceScore(id)) << id;
      } else {
        EXPECT_EQ(tokens[id].string_value(), absl::StrCat("[PAD", id, "]"));
        EXPECT_EQ(types[id].number_value(), 5) << id;  // unused
      }
    }
    EXPECT_EQ(tokens[1].string_value(), "<s>");
    EXPECT_EQ(types[0].number_value(), 2);  // unknown
    for (int id : {1, 2, 3}) EXPECT_EQ(types[id].number_value(), 3) << id;  // control
    const int user_tag = tokenizer->PieceToId(kUserTag);
    EXPECT_EQ(tokens[user_tag].string_value(), kUserTag);
    EXPECT_EQ(types[user_tag].number_value(), 4);  // user defined: matched whole in text
    EXPECT_EQ(types[tokenizer->PieceToId("1")].number_value(), 1);  // normal
    EXPECT_EQ(KeyValue(s, "tokenizer.ggml.bos_token_id").number_value(), 1);
    EXPECT_EQ(KeyValue(s, "tokenizer.ggml.eos_token_id").number_value(), 2);
    EXPECT_EQ(KeyValue(s, "tokenizer.ggml.padding_token_id").number_value(), 3);
    EXPECT_EQ(KeyValue(s, "tokenizer.ggml.unknown_token_id").number_value(), 0);
    EXPECT_EQ(KeyType(s, "tokenizer.ggml.add_bos_token"), "bool");
    EXPECT_TRUE(KeyValue(s, "tokenizer.ggml.add_bos_token").bool_value());
    EXPECT_FALSE(KeyValue(s, "tokenizer.ggml.add_space_prefix").bool_value());

    // Tensors: llama.cpp's names and orientation; norms stay F32.
    const int64_t kv_dim = c.n_kv_heads() * (c.dim() / c.n_heads());
    std::map<std::string, std::vector<int64_t>> expected = {
        {"token_embd.weight", {c.vocab_size(), c.dim()}},
        {"output_norm.weight", {c.dim()}},
    };
    if (!c.tie_embeddings()) expected["output.weight"] = {c.vocab_size(), c.dim()};
    for (int i = 0; i < c.n_layers(); ++i) {
      const std::string p = absl::StrCat("blk.", i, ".");
      expected[p + "attn_norm.weight"] = {c.dim()};
      expected[p + "attn_q.weight"] = {c.dim(), c.dim()};
      expected[p + "attn_k.weight"] = {kv_dim, c.dim()};
      expected[p + "attn_v.weight"] = {kv_dim, c.dim()};
      expected[p + "attn_output.weight"] = {c.dim(), c.dim()};
      expected[p + "ffn_norm.weight"] = {c.dim()};
      expected[p + "ffn_gate.weight"] = {c.ffn_hidden_dim(), c.dim()};
      expected[p + "ffn_up.weight"] = {c.ffn_hidden_dim(), c.dim()};
      expected[p + "ffn_down.weight"] = {c.dim(), c.ffn_hidden_dim()};
    }
    const Struct& tensors = Field(s, "tensors");
    std::set<std::string> names;
    for (const auto& [name, info] : tensors.fields()) names.insert(name);
    std::set<std::string> expected_names;
    for (const auto& [name, shape] : expected) expected_names.insert(name);
    EXPECT_EQ(names, expected_names);
    for (const auto& [name, shape] : expected) {
      if (!tensors.fields().contains(name)) continue;
      const Struct& info = tensors.fields().at(name).struct_value();
      std::vector<int64_t> got;
      for (const Value& d : info.fields().at("shape").list_value().values()) got.push_back(d.number_value());
      EXPECT_EQ(got, shape) << name;  // PyTorch order: dims were written reversed
      const int expected_type = shape.size() == 1 || type == GgufTensorType::kF32 ? 0 : 1;
      EXPECT_EQ(info.fields().at("type").number_value(), expected_type) << name;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Student, GgufExport,
                         ::testing::Values(ExportCase{false, kTokenizerVocab}, ExportCase{true, kTokenizerVocab + 3}),
                         [](const auto& info) { return info.param.tie_embeddings ? "TiedPaddedVocab" : "Untied"; });

TEST(GgufExportErrors, DeepSeekV3IsRefusedByNameAndWritesNothing) {
  CausalLm model = *MakeModel(testing::SmallModelConfig(config::DEEPSEEK_V3, kTokenizerVocab));
  const fs::path path = fs::temp_directory_path() / absl::StrCat("r1_gguf_dsv3_", getpid(), ".gguf");
  const absl::Status status = ExportGguf(path.string(), *model, "unused.model", GgufTensorType::kF16);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("DEEPSEEK_V3"));
  EXPECT_FALSE(fs::exists(path));
}

TEST(GgufExportErrors, TokenizerLargerThanTheModelVocabularyIsRefused) {
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("r1_gguf_vocab_", getpid());
  absl::StatusOr<std::string> tokenizer = testing::TrainTinyTokenizer((dir / "tok").string(), kTokenizerVocab);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  CausalLm model = *MakeModel(testing::SmallModelConfig(config::LLAMA, kTokenizerVocab - 4));
  const fs::path path = dir / "small.gguf";
  const absl::Status status = ExportGguf(path.string(), *model, *tokenizer, GgufTensorType::kF32);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("vocab_size"));
  EXPECT_FALSE(fs::exists(path));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace r1::model
