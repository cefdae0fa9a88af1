// An outside check of GGUF export: tests/gguf_reference.py, run by Debian's
// /usr/bin/python3, parses the file with its own NumPy reader, checks its
// tensors as llama.cpp's loader for the file's architecture would, and runs
// the forward pass of llama.cpp's "llama", "qwen2" or "qwen3" (tensor names,
// {arch}.* keys, ggml's adjacent-pair RoPE for llama and NEOX for the Qwens,
// biases, q/k norm, rope_freqs divisors, linear scaling). Its logits must
// equal r1's, for r1's student and for tiny models of each dense Hugging Face
// family built here.
#include <gmock/gmock.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
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

// The reference's values of tensor `name`, flattened.
absl::StatusOr<std::vector<double>> TensorValues(const std::string& gguf, const std::string& name) {
  absl::StatusOr<std::string> out = RunAndCapture(Reference(absl::StrCat("tensor ", gguf, " --name ", name)));
  if (!out.ok()) return out.status();
  std::vector<double> values;
  for (absl::string_view field : absl::StrSplit(*out, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    double v;
    if (!absl::SimpleAtod(field, &v)) return absl::InternalError(absl::StrCat("bad value ", field));
    values.push_back(v);
  }
  return values;
}

// Moves every weight away from the small default init and unit norms (biases
// and norms around 1 +- 0.2, matrices with unit-variance outputs), so that a
// swapped name, a missed permutation, a dropped bias or a wrong orientation
// shows in the logits.
void Randomize(CausalLm& model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) {
    if (p.dim() == 2) p.normal_(0.0, 1.0 / std::sqrt(static_cast<double>(p.size(1))));
    if (p.dim() == 1) p.normal_(1.0, 0.2);
  }
}

// Rounds the model's matrices through LibTorch's float->half conversion, as
// an F16 export stores them (norms and biases stay F32).
void RoundMatricesToHalf(CausalLm& model) {
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) {
    if (p.dim() == 2) p.copy_(p.to(torch::kHalf).to(torch::kFloat32));
  }
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
    absl::StatusOr<Tokenizer> loaded = Tokenizer::Load(tokenizer_path_);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    tokenizer_ = *loaded;

    config_ = testing::SmallModelConfig(config::LLAMA, GetParam().model_vocab);  // 4 heads, 2 kv heads
    // Away from the defaults a reader might assume.
    config_.set_rope_theta(500000);
    config_.set_rms_norm_eps(1e-5);
    config_.set_tie_embeddings(GetParam().tie_embeddings);
    torch::manual_seed(5);
    model_ = *MakeModel(config_);
    Randomize(model_);
    tokens_ = torch::randint(0, kTokenizerVocab, {kRows, kTokens}, torch::kInt64);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::string tokenizer_path_;
  std::optional<Tokenizer> tokenizer_;
  config::ModelConfig config_;
  CausalLm model_;
  torch::Tensor tokens_;
};

TEST_P(GgufExport, IndependentNumpyLlamaReproducesLogitsInF32AndF16) {
  torch::NoGradGuard no_grad;
  const std::string f32 = (dir_ / "student-f32.gguf").string();
  const std::string f16 = (dir_ / "student-f16.gguf").string();
  ASSERT_TRUE(ExportGguf(f32, *model_, *tokenizer_, GgufTensorType::kF32).ok());
  ASSERT_TRUE(ExportGguf(f16, *model_, *tokenizer_, GgufTensorType::kF16).ok());
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
  RoundMatricesToHalf(model_);
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
    ASSERT_TRUE(ExportGguf(path, *model_, *tokenizer_, type).ok());
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

// A family's config: family and hf_config set as an import sets them (the
// config.json itself does not matter to export).
config::ModelConfig FamilyConfig(const std::string& family, int vocab_size) {
  config::ModelConfig c = testing::SmallModelConfig(config::LLAMA, vocab_size);  // dim 32, 4 heads, 2 kv heads
  c.set_family(family);
  c.set_hf_config(absl::StrCat("{\"model_type\": \"", family, "\"}"));
  return c;
}

int64_t HeadDim(const config::ModelConfig& c) { return c.head_dim() > 0 ? c.head_dim() : c.dim() / c.n_heads(); }

// llama.cpp's rope_freqs for llama3 scaling, as its converter computes them:
// per frequency theta^(-2j/Dh), 1 for wavelengths below L / high_freq_factor,
// factor above L / low_freq_factor, and 1 / ((1 - s) / factor + s) between,
// s = (L / wavelength - low) / (high - low).
std::vector<double> Llama3Divisors(const config::ModelConfig& c) {
  const config::RopeScaling& s = c.rope_scaling();
  const double length = s.original_max_position_embeddings();
  const int64_t dh = HeadDim(c);
  std::vector<double> divisors;
  for (int64_t i = 0; i < dh; i += 2) {
    const double wavelength = 2 * M_PI / std::pow(c.rope_theta(), -static_cast<double>(i) / dh);
    if (wavelength < length / s.high_freq_factor()) {
      divisors.push_back(1);
    } else if (wavelength > length / s.low_freq_factor()) {
      divisors.push_back(s.factor());
    } else {
      const double smooth = (length / wavelength - s.low_freq_factor()) / (s.high_freq_factor() - s.low_freq_factor());
      divisors.push_back(1 / ((1 - smooth) / s.factor() + smooth));
    }
  }
  return divisors;
}

// The tensors (PyTorch shapes) llama.cpp's loader for `architecture` creates
// for a model of config `c`.
std::map<std::string, std::vector<int64_t>> ExpectedTensors(const config::ModelConfig& c,
                                                            const std::string& architecture) {
  const int64_t dh = HeadDim(c), d = c.dim(), f = c.ffn_hidden_dim();
  const int64_t q = c.n_heads() * dh, kv = c.n_kv_heads() * dh;
  std::map<std::string, std::vector<int64_t>> expected = {
      {"token_embd.weight", {c.vocab_size(), d}},
      {"output_norm.weight", {d}},
  };
  if (!c.tie_embeddings()) expected["output.weight"] = {c.vocab_size(), d};
  if (c.rope_scaling().type() == "llama3") expected["rope_freqs.weight"] = {dh / 2};
  for (int i = 0; i < c.n_layers(); ++i) {
    const std::string p = absl::StrCat("blk.", i, ".");
    expected[p + "attn_norm.weight"] = {d};
    expected[p + "attn_q.weight"] = {q, d};
    expected[p + "attn_k.weight"] = {kv, d};
    expected[p + "attn_v.weight"] = {kv, d};
    expected[p + "attn_output.weight"] = {d, q};
    expected[p + "ffn_norm.weight"] = {d};
    expected[p + "ffn_gate.weight"] = {f, d};
    expected[p + "ffn_up.weight"] = {f, d};
    expected[p + "ffn_down.weight"] = {d, f};
    if (c.qkv_bias() || architecture == "qwen2") {  // qwen2's loader requires them
      expected[p + "attn_q.bias"] = {q};
      expected[p + "attn_k.bias"] = {kv};
      expected[p + "attn_v.bias"] = {kv};
    }
    if (c.o_bias()) expected[p + "attn_output.bias"] = {d};
    if (c.mlp_bias()) {
      expected[p + "ffn_gate.bias"] = {f};
      expected[p + "ffn_up.bias"] = {f};
      expected[p + "ffn_down.bias"] = {d};
    }
    if (c.qk_norm()) {
      expected[p + "attn_q_norm.weight"] = {dh};
      expected[p + "attn_k_norm.weight"] = {dh};
    }
  }
  return expected;
}

struct FamilyCase {
  std::string label;
  std::string architecture;  // llama.cpp's, expected in general.architecture
  std::function<config::ModelConfig()> config;
};

void PrintTo(const FamilyCase& c, std::ostream* os) { *os << c.label; }

class GgufFamilyExport : public ::testing::TestWithParam<FamilyCase> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists("/usr/bin/python3"));
    dir_ = fs::temp_directory_path() / absl::StrCat("r1_gguf_family_", getpid(), "_", GetParam().label);
    fs::remove_all(dir_);
    absl::StatusOr<std::string> tokenizer = testing::TrainTinyTokenizer((dir_ / "tok").string(), kTokenizerVocab);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    tokenizer_path_ = *tokenizer;
    absl::StatusOr<Tokenizer> loaded = Tokenizer::Load(tokenizer_path_);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    tokenizer_ = *loaded;
    config_ = GetParam().config();
    torch::manual_seed(11);
    absl::StatusOr<CausalLm> model = MakeModel(config_);
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *model;
    Randomize(model_);
    tokens_ = torch::randint(0, kTokenizerVocab, {kRows, kTokens}, torch::kInt64);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::string tokenizer_path_;
  std::optional<Tokenizer> tokenizer_;
  config::ModelConfig config_;
  CausalLm model_;
  torch::Tensor tokens_;
};

TEST_P(GgufFamilyExport, IndependentNumpyReferenceReproducesLogitsInF32AndF16) {
  torch::NoGradGuard no_grad;
  const std::string f32 = (dir_ / "model-f32.gguf").string();
  const std::string f16 = (dir_ / "model-f16.gguf").string();
  ASSERT_TRUE(ExportGguf(f32, *model_, *tokenizer_, GgufTensorType::kF32).ok());
  ASSERT_TRUE(ExportGguf(f16, *model_, *tokenizer_, GgufTensorType::kF16).ok());
  const torch::Tensor ours = model_->Forward(tokens_, nullptr, {}).logits;  // [B, T, V]
  ASSERT_GT(ours.std().item<double>(), 0.5);

  absl::StatusOr<torch::Tensor> from_f32 = ReferenceLogits(f32, tokens_);
  ASSERT_TRUE(from_f32.ok()) << from_f32.status();
  const double f32_diff = (ours - *from_f32).abs().max().item<double>();
  EXPECT_LT(f32_diff, 1e-4);

  // The family's RoPE scaling is not a no-op on these positions: the same
  // weights without it give other logits, so the file must carry it.
  double scaling_effect = 0;
  if (config_.has_rope_scaling()) {
    config::ModelConfig unscaled_config = config_;
    unscaled_config.clear_rope_scaling();
    CausalLm unscaled = *MakeModel(unscaled_config);
    const auto source = model_->named_parameters();
    for (auto& p : unscaled->named_parameters()) p.value().copy_(source[p.key()]);
    scaling_effect = (ours - unscaled->Forward(tokens_, nullptr, {}).logits).abs().max().item<double>();
    EXPECT_GT(scaling_effect, 1e-2);
  }

  absl::StatusOr<torch::Tensor> from_f16 = ReferenceLogits(f16, tokens_);
  ASSERT_TRUE(from_f16.ok()) << from_f16.status();
  const double f16_vs_exact = (ours - *from_f16).abs().max().item<double>();
  EXPECT_LT(f16_vs_exact, 2e-2);
  RoundMatricesToHalf(model_);
  const torch::Tensor rounded = model_->Forward(tokens_, nullptr, {}).logits;
  const double f16_vs_rounded = (rounded - *from_f16).abs().max().item<double>();
  EXPECT_LT(f16_vs_rounded, 1e-4);
  std::printf("%s: max |logit diff|: f32 %.3g, f16 vs f16-rounded model %.3g, f16 vs exact model %.3g "
              "(logit std %.3g, RoPE scaling moves logits by %.3g)\n",
              GetParam().label.c_str(), f32_diff, f16_vs_rounded, f16_vs_exact, ours.std().item<double>(),
              scaling_effect);
}

TEST_P(GgufFamilyExport, ArchitectureKeysAndTensorsAreTheLoaders) {
  const config::ModelConfig& c = config_;
  const std::string path = (dir_ / "model.gguf").string();
  ASSERT_TRUE(ExportGguf(path, *model_, *tokenizer_, GgufTensorType::kF16).ok());
  absl::StatusOr<Struct> summary = Describe(path);
  ASSERT_TRUE(summary.ok()) << summary.status();
  const Struct& s = *summary;
  const std::string arch = GetParam().architecture;
  EXPECT_EQ(KeyValue(s, "general.architecture").string_value(), arch);
  const int64_t dh = HeadDim(c);
  const std::vector<std::pair<std::string, double>> counts = {
      {"context_length", c.max_seq_len()},          {"embedding_length", c.dim()},
      {"block_count", c.n_layers()},                {"feed_forward_length", c.ffn_hidden_dim()},
      {"attention.head_count", c.n_heads()},        {"attention.head_count_kv", c.n_kv_heads()},
      {"rope.dimension_count", dh},                 {"vocab_size", c.vocab_size()},
  };
  for (const auto& [key, value] : counts) {
    EXPECT_EQ(KeyType(s, arch + "." + key), "uint32") << key;
    EXPECT_EQ(KeyValue(s, arch + "." + key).number_value(), value) << key;
  }
  EXPECT_EQ(KeyValue(s, arch + ".rope.freq_base").number_value(), static_cast<float>(c.rope_theta()));
  EXPECT_EQ(KeyValue(s, arch + ".attention.layer_norm_rms_epsilon").number_value(),
            static_cast<float>(c.rms_norm_eps()));
  const Struct& metadata = Field(s, "metadata");
  // llama.cpp takes dim / n_heads as the head width unless told otherwise.
  const bool explicit_head_dim = dh != c.dim() / c.n_heads();
  EXPECT_EQ(metadata.fields().contains(arch + ".attention.key_length"), explicit_head_dim);
  EXPECT_EQ(metadata.fields().contains(arch + ".attention.value_length"), explicit_head_dim);
  if (explicit_head_dim) {
    EXPECT_EQ(KeyType(s, arch + ".attention.key_length"), "uint32");
    EXPECT_EQ(KeyValue(s, arch + ".attention.key_length").number_value(), dh);
    EXPECT_EQ(KeyValue(s, arch + ".attention.value_length").number_value(), dh);
  }
  const bool linear = c.rope_scaling().type() == "linear";
  EXPECT_EQ(metadata.fields().contains(arch + ".rope.scaling.type"), linear);
  EXPECT_EQ(metadata.fields().contains(arch + ".rope.scaling.factor"), linear);
  if (linear) {
    EXPECT_EQ(KeyValue(s, arch + ".rope.scaling.type").string_value(), "linear");
    EXPECT_EQ(KeyType(s, arch + ".rope.scaling.factor"), "float32");
    EXPECT_EQ(KeyValue(s, arch + ".rope.scaling.factor").number_value(), c.rope_scaling().factor());
  }
  if (c.rope_scaling().type() == "llama3") {
    absl::StatusOr<std::vector<double>> divisors = TensorValues(path, "rope_freqs.weight");
    ASSERT_TRUE(divisors.ok()) << divisors.status();
    const std::vector<double> expected = Llama3Divisors(c);
    ASSERT_EQ(divisors->size(), expected.size());
    for (size_t j = 0; j < expected.size(); ++j) EXPECT_NEAR((*divisors)[j], expected[j], 1e-5 * expected[j]) << j;
    // The three bands are all exercised: kept, blended and divided.
    EXPECT_EQ(expected.front(), 1);
    EXPECT_EQ(expected.back(), c.rope_scaling().factor());
    EXPECT_TRUE(std::any_of(expected.begin(), expected.end(),
                            [&](double v) { return v > 1 && v < c.rope_scaling().factor(); }));
  }

  const std::map<std::string, std::vector<int64_t>> expected = ExpectedTensors(c, arch);
  const Struct& tensors = Field(s, "tensors");
  std::set<std::string> names, expected_names;
  for (const auto& [name, info] : tensors.fields()) names.insert(name);
  for (const auto& [name, shape] : expected) expected_names.insert(name);
  EXPECT_EQ(names, expected_names);
  for (const auto& [name, shape] : expected) {
    if (!tensors.fields().contains(name)) continue;
    const Struct& info = tensors.fields().at(name).struct_value();
    std::vector<int64_t> got;
    for (const Value& d : info.fields().at("shape").list_value().values()) got.push_back(d.number_value());
    EXPECT_EQ(got, shape) << name;
    EXPECT_EQ(info.fields().at("type").number_value(), shape.size() == 1 ? 0 : 1) << name;  // 1-D stay F32
  }
}

INSTANTIATE_TEST_SUITE_P(
    Families, GgufFamilyExport,
    ::testing::Values(
        FamilyCase{"Qwen2BiasesTied", "qwen2",
                   [] {
                     config::ModelConfig c = FamilyConfig("qwen2", kTokenizerVocab + 2);
                     c.set_qkv_bias(true);
                     c.set_tie_embeddings(true);
                     c.set_rope_theta(1000000);
                     return c;
                   }},
        FamilyCase{"Qwen2WithoutBiasesGetsZeros", "qwen2",
                   [] { return FamilyConfig("qwen2", kTokenizerVocab); }},
        FamilyCase{"Qwen3QkNormWideHeads", "qwen3",
                   [] {
                     config::ModelConfig c = FamilyConfig("qwen3", kTokenizerVocab);
                     c.set_qk_norm(true);
                     c.set_head_dim(16);  // 4 heads * 16 = 64 over dim 32
                     c.set_rope_theta(1000000);
                     return c;
                   }},
        FamilyCase{"LlamaLlama3ScalingAndBiases", "llama",
                   [] {
                     config::ModelConfig c = FamilyConfig("llama", kTokenizerVocab);
                     c.set_qkv_bias(true);
                     c.set_o_bias(true);
                     c.set_mlp_bias(true);
                     // Dh 8, theta 1e4: wavelengths 2 pi * {1, 10, 100, 1000}
                     // against L / 4 = 16 and L / 1 = 64: kept, blended, divided.
                     c.set_rope_theta(10000);
                     config::RopeScaling* s = c.mutable_rope_scaling();
                     s->set_type("llama3");
                     s->set_factor(8);
                     s->set_low_freq_factor(1);
                     s->set_high_freq_factor(4);
                     s->set_original_max_position_embeddings(64);
                     return c;
                   }},
        FamilyCase{"LlamaLinearScalingWideHeads", "llama",
                   [] {
                     config::ModelConfig c = FamilyConfig("llama", kTokenizerVocab);
                     c.set_head_dim(16);
                     c.set_rope_theta(10000);
                     c.mutable_rope_scaling()->set_type("linear");
                     c.mutable_rope_scaling()->set_factor(4);
                     return c;
                   }},
        FamilyCase{"MistralTied", "llama",
                   [] {
                     config::ModelConfig c = FamilyConfig("mistral", kTokenizerVocab);
                     c.set_tie_embeddings(true);
                     return c;
                   }}),
    [](const auto& info) { return info.param.label; });

// What llama.cpp's loaders cannot hold is refused by name before anything is
// written (the tokenizer is not even read).
TEST(GgufExportErrors, WhatLlamaCppCannotHoldIsRefusedByName) {
  struct Refusal {
    std::string label;
    std::function<config::ModelConfig()> config;
    std::vector<std::string> message_parts;
  };
  const std::vector<Refusal> refusals = {
      {"yarn",
       [] {
         config::ModelConfig c = FamilyConfig("qwen3", kTokenizerVocab);
         c.set_qk_norm(true);
         c.mutable_rope_scaling()->set_type("yarn");
         c.mutable_rope_scaling()->set_factor(4);
         c.mutable_rope_scaling()->set_original_max_position_embeddings(32);
         return c;
       },
       {"rope_scaling yarn", "\"qwen3\""}},
      {"qwen3_moe",
       [] {
         config::ModelConfig c = FamilyConfig("qwen3_moe", kTokenizerVocab);
         c.set_qk_norm(true);
         c.set_n_routed_experts(4);
         c.set_n_activated_experts(2);
         c.set_moe_inter_dim(16);
         c.set_n_shared_experts(0);
         c.set_router_scoring(config::SOFTMAX);
         return c;
       },
       {"MoE models (family \"qwen3_moe\")"}},
      {"deepseek_v3",
       [] {
         config::ModelConfig c = testing::SmallModelConfig(config::DEEPSEEK_V3, kTokenizerVocab);
         c.set_family("deepseek_v3");
         c.set_hf_config("{\"model_type\": \"deepseek_v3\"}");
         return c;
       },
       {"DEEPSEEK_V3", "family \"deepseek_v3\""}},
      {"qwen2 o_bias",
       [] {
         config::ModelConfig c = FamilyConfig("qwen2", kTokenizerVocab);
         c.set_qkv_bias(true);
         c.set_o_bias(true);
         return c;
       },
       {"\"qwen2\"", "o_bias"}},
      {"qwen2 mlp_bias",
       [] {
         config::ModelConfig c = FamilyConfig("qwen2", kTokenizerVocab);
         c.set_qkv_bias(true);
         c.set_mlp_bias(true);
         return c;
       },
       {"\"qwen2\"", "mlp_bias"}},
      {"qwen2 wide heads",
       [] {
         config::ModelConfig c = FamilyConfig("qwen2", kTokenizerVocab);
         c.set_qkv_bias(true);
         c.set_head_dim(16);
         return c;
       },
       {"\"qwen2\"", "n_heads * head_dim (64)"}},
      {"qwen2 llama3",
       [] {
         config::ModelConfig c = FamilyConfig("qwen2", kTokenizerVocab);
         c.set_qkv_bias(true);
         c.mutable_rope_scaling()->set_type("llama3");
         c.mutable_rope_scaling()->set_factor(8);
         c.mutable_rope_scaling()->set_original_max_position_embeddings(64);
         return c;
       },
       {"\"qwen2\"", "rope_freqs", "llama3"}},
      {"qwen3 qkv_bias",
       [] {
         config::ModelConfig c = FamilyConfig("qwen3", kTokenizerVocab);
         c.set_qk_norm(true);
         c.set_qkv_bias(true);
         return c;
       },
       {"\"qwen3\"", "qkv_bias"}},
      {"qwen3 without qk_norm",
       [] { return FamilyConfig("qwen3", kTokenizerVocab); },
       {"\"qwen3\"", "requires", "qk_norm"}},
      {"llama qk_norm",
       [] {
         config::ModelConfig c = FamilyConfig("llama", kTokenizerVocab);
         c.set_qk_norm(true);
         return c;
       },
       {"\"llama\"", "qk_norm"}},
      {"llama q bias with wide heads",
       [] {
         config::ModelConfig c = FamilyConfig("llama", kTokenizerVocab);
         c.set_qkv_bias(true);
         c.set_head_dim(16);
         return c;
       },
       {"\"llama\"", "attn_q.bias"}},
  };
  const fs::path path = fs::temp_directory_path() / absl::StrCat("r1_gguf_refused_", getpid(), ".gguf");
  const fs::path tokenizer_dir = fs::temp_directory_path() / absl::StrCat("r1_gguf_refused_tok_", getpid());
  absl::StatusOr<Tokenizer> tokenizer = testing::TinyTokenizer(tokenizer_dir.string());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  fs::remove_all(tokenizer_dir);
  for (const Refusal& r : refusals) {
    SCOPED_TRACE(r.label);
    absl::StatusOr<CausalLm> model = MakeModel(r.config());
    ASSERT_TRUE(model.ok()) << model.status();
    const absl::Status status = ExportGguf(path.string(), **model, *tokenizer, GgufTensorType::kF16);
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
    for (const std::string& part : r.message_parts) EXPECT_THAT(status.message(), HasSubstr(part));
    EXPECT_FALSE(fs::exists(path));
    EXPECT_EQ(CheckGgufExportable((*model)->config()), status);
  }
}

TEST(GgufExportErrors, ExportableFamiliesPassTheUpFrontCheck) {
  EXPECT_TRUE(CheckGgufExportable(testing::SmallModelConfig(config::LLAMA, kTokenizerVocab)).ok());
  for (const std::string family : {"llama", "mistral"}) {
    EXPECT_TRUE(CheckGgufExportable(FamilyConfig(family, kTokenizerVocab)).ok()) << family;
  }
  config::ModelConfig qwen2 = FamilyConfig("qwen2", kTokenizerVocab);
  qwen2.set_qkv_bias(true);
  EXPECT_TRUE(CheckGgufExportable(qwen2).ok());
  config::ModelConfig qwen3 = FamilyConfig("qwen3", kTokenizerVocab);
  qwen3.set_qk_norm(true);
  EXPECT_TRUE(CheckGgufExportable(qwen3).ok());
  EXPECT_EQ(CheckGgufExportable(FamilyConfig("gemma2", kTokenizerVocab)).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(GgufExportErrors, DeepSeekV3IsRefusedByNameAndWritesNothing) {
  CausalLm model = *MakeModel(testing::SmallModelConfig(config::DEEPSEEK_V3, kTokenizerVocab));
  const fs::path path = fs::temp_directory_path() / absl::StrCat("r1_gguf_dsv3_", getpid(), ".gguf");
  const fs::path tokenizer_dir = fs::temp_directory_path() / absl::StrCat("r1_gguf_dsv3_tok_", getpid());
  absl::StatusOr<Tokenizer> tokenizer = testing::TinyTokenizer(tokenizer_dir.string());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  fs::remove_all(tokenizer_dir);
  const absl::Status status = ExportGguf(path.string(), *model, *tokenizer, GgufTensorType::kF16);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("DEEPSEEK_V3"));
  EXPECT_FALSE(fs::exists(path));
}

TEST(GgufExportErrors, TokenizerLargerThanTheModelVocabularyIsRefused) {
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("r1_gguf_vocab_", getpid());
  absl::StatusOr<std::string> tokenizer_path = testing::TrainTinyTokenizer((dir / "tok").string(), kTokenizerVocab);
  ASSERT_TRUE(tokenizer_path.ok()) << tokenizer_path.status();
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(*tokenizer_path);
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
