#include "common/tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/chat_template.h"
#include "common/config.h"
#include "common/file_util.h"
#include "common/random.h"
#include "common/test_support.h"
#include "common/hf_chat_template.h"
#include "proto/config.pb.h"

namespace r1 {
namespace {

using ::testing::HasSubstr;

// A corpus shaped like the embedded tasks' worked solutions.
std::vector<std::string> MakeCorpus(int lines, uint64_t seed) {
  Rng rng(seed);
  std::vector<std::string> out;
  for (int i = 0; i < lines; ++i) {
    const int64_t a = rng.UniformInt(1, 99), b = rng.UniformInt(1, 99);
    const bool plus = rng.Bernoulli(0.5);
    const int64_t c = plus ? a + b : a - b;
    const std::string op = plus ? "+" : "-";
    out.push_back(absl::StrCat(kUserTag, "What is ", a, " ", op, " ", b, "?", kAssistantTag,
                               RenderReasoningResponse(absl::StrCat(a, " ", op, " ", b, " = ", c, "."),
                                                       absl::StrCat(c))));
  }
  return out;
}

class TokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("r1_tokenizer_test_" + std::to_string(getpid())));
    std::filesystem::create_directories(*dir_);
    const std::string corpus = (*dir_ / "corpus.txt").string();
    ASSERT_TRUE(WriteFileAtomically(corpus, absl::StrJoin(MakeCorpus(3000, 1), "\n") + "\n").ok());
    config::TokenizerConfig config;
    config.set_vocab_size(40);  // the most this small corpus supports is 44
    config.set_model_type("bpe");
    model_ = new std::string((*dir_ / "tok.model").string());
    absl::Status trained = Tokenizer::Train(config, {corpus}, *model_);
    ASSERT_TRUE(trained.ok()) << trained;
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
    delete model_;
  }
  void SetUp() override {
    absl::StatusOr<Tokenizer> loaded = Tokenizer::Load(*model_);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    tokenizer_.emplace(*loaded);
  }

  static std::filesystem::path* dir_;
  static std::string* model_;
  std::optional<Tokenizer> tokenizer_;
};

std::filesystem::path* TokenizerTest::dir_ = nullptr;
std::string* TokenizerTest::model_ = nullptr;

TEST_F(TokenizerTest, ReservedIdsAndSpecialTokensAreSingleTokens) {
  EXPECT_EQ(tokenizer_->vocab_size(), 40);
  EXPECT_EQ(tokenizer_->unk_id(), 0);
  EXPECT_EQ(tokenizer_->bos_id(), 1);
  EXPECT_EQ(tokenizer_->eos_id(), 2);
  EXPECT_EQ(tokenizer_->pad_id(), 3);
  int expected_id = 4;
  for (const std::string& token : ChatSpecialTokens()) {
    EXPECT_EQ(tokenizer_->Encode(token), std::vector<int>{expected_id}) << token;
    EXPECT_EQ(tokenizer_->IdToPiece(expected_id), token);
    ++expected_id;
  }
  // Inside text too: the tag is cut out as one token, not spelled.
  const std::vector<int> ids = tokenizer_->Encode("12<think>3");
  EXPECT_NE(std::find(ids.begin(), ids.end(), tokenizer_->PieceToId("<think>")), ids.end());
}

TEST_F(TokenizerTest, DecodeInvertsEncode) {
  for (const std::string& line : MakeCorpus(50, 7)) {
    const std::vector<int> ids = tokenizer_->Encode(line);
    absl::StatusOr<std::string> back = tokenizer_->Decode(ids);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, line);
  }
  // Leading, trailing and repeated spaces survive (identity normalization).
  const std::string spaced = "  12  +  3 ";
  EXPECT_EQ(*tokenizer_->Decode(tokenizer_->Encode(spaced)), spaced);
}

TEST_F(TokenizerTest, AgreesTokenForTokenWithDebiansSpmEncode) {
  std::vector<std::string> lines = MakeCorpus(200, 99);
  lines.push_back("What is 7 - 100?  ");
  lines.push_back("<answer>-93</answer><|user|>");
  const std::string input = (*dir_ / "spm_in.txt").string();
  const std::string output = (*dir_ / "spm_out.txt").string();
  ASSERT_TRUE(WriteFileAtomically(input, absl::StrJoin(lines, "\n") + "\n").ok());
  const std::string command = absl::StrCat("/usr/bin/spm_encode --model=", *model_,
                                           " --output_format=id < ", input, " > ", output);
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  absl::StatusOr<std::string> reference = ReadFile(output);
  ASSERT_TRUE(reference.ok());
  std::vector<std::string> reference_lines = absl::StrSplit(*reference, '\n', absl::SkipEmpty());
  ASSERT_EQ(reference_lines.size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(absl::StrJoin(tokenizer_->Encode(lines[i]), " "), reference_lines[i]) << lines[i];
  }
}

TEST_F(TokenizerTest, PieceScoresMatchSpmExportVocabAndTypesFollowTheLayout) {
  const std::string vocab = (*dir_ / "vocab.tsv").string();
  const std::string command =
      absl::StrCat("/usr/bin/spm_export_vocab --model=", *model_, " --output=", vocab);
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  absl::StatusOr<std::string> exported = ReadFile(vocab);
  ASSERT_TRUE(exported.ok());
  const std::vector<std::string> lines = absl::StrSplit(*exported, '\n', absl::SkipEmpty());
  ASSERT_EQ(static_cast<int>(lines.size()), tokenizer_->vocab_size());
  for (int id = 0; id < tokenizer_->vocab_size(); ++id) {
    const std::vector<std::string> fields = absl::StrSplit(lines[id], '\t');
    ASSERT_EQ(fields.size(), 2u) << lines[id];
    EXPECT_EQ(tokenizer_->IdToPiece(id), fields[0]);
    EXPECT_FLOAT_EQ(tokenizer_->PieceScore(id), std::stof(fields[1])) << fields[0];
  }
  // The layout of tokenizer.h: <unk>, three control tokens, the chat tags as
  // user-defined symbols, then ordinary pieces (no byte fallback here).
  EXPECT_EQ(tokenizer_->GetPieceType(0), PieceType::kUnknown);
  for (int id = 1; id <= 3; ++id) EXPECT_EQ(tokenizer_->GetPieceType(id), PieceType::kControl) << id;
  const int first_normal = 4 + static_cast<int>(ChatSpecialTokens().size());
  for (int id = 4; id < first_normal; ++id) {
    EXPECT_EQ(tokenizer_->GetPieceType(id), PieceType::kUserDefined) << tokenizer_->IdToPiece(id);
  }
  for (int id = first_normal; id < tokenizer_->vocab_size(); ++id) {
    EXPECT_EQ(tokenizer_->GetPieceType(id), PieceType::kNormal) << tokenizer_->IdToPiece(id);
  }
}

TEST_F(TokenizerTest, PromptEncodingIsBosPlusTemplate) {
  const std::vector<int> ids = *EncodePrompt(*tokenizer_, "What is 1 + 2?");
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), tokenizer_->bos_id());
  EXPECT_EQ(ids[1], tokenizer_->PieceToId("<|user|>"));
  EXPECT_EQ(ids.back(), tokenizer_->PieceToId("<|assistant|>"));
  EXPECT_EQ(*tokenizer_->Decode(ids), "<|user|>What is 1 + 2?<|assistant|>");
}

TEST_F(TokenizerTest, ExampleLossCoversResponseAndEosOnly) {
  const std::string prompt = "What is 5 + 6?";
  const std::string response = RenderReasoningResponse("5 + 6 = 11.", "11");
  const EncodedExample example = *EncodeExample(*tokenizer_, prompt, response);
  const std::vector<int> prompt_ids = *EncodePrompt(*tokenizer_, prompt);
  const std::vector<int> response_ids = tokenizer_->Encode(response);
  ASSERT_EQ(example.ids.size(), prompt_ids.size() + response_ids.size() + 1);
  ASSERT_EQ(example.loss_mask.size(), example.ids.size());
  EXPECT_TRUE(std::equal(prompt_ids.begin(), prompt_ids.end(), example.ids.begin()));
  EXPECT_EQ(example.ids.back(), tokenizer_->eos_id());
  for (size_t i = 0; i < example.ids.size(); ++i) {
    EXPECT_EQ(example.loss_mask[i], i < prompt_ids.size() ? 0 : 1) << i;
  }
  // The prompt/response boundary is a token boundary: encoding the whole text
  // at once gives the same ids.
  std::vector<int> whole = {tokenizer_->bos_id()};
  const std::vector<int> rest = tokenizer_->Encode(RenderPrompt(prompt) + response);
  whole.insert(whole.end(), rest.begin(), rest.end());
  whole.push_back(tokenizer_->eos_id());
  EXPECT_EQ(whole, example.ids);
}

TEST_F(TokenizerTest, ConversationOfOneTurnEqualsExample) {
  const EncodedExample example = *EncodeExample(*tokenizer_, "What is 2 + 2?", "<answer>4</answer>");
  const EncodedExample conversation = *EncodeConversation(
      *tokenizer_, {{"user", "What is 2 + 2?"}, {"assistant", "<answer>4</answer>"}});
  EXPECT_EQ(conversation.ids, example.ids);
  EXPECT_EQ(conversation.loss_mask, example.loss_mask);
}

TEST_F(TokenizerTest, ConversationMasksEveryAssistantTurnAndNothingElse) {
  const EncodedExample c = *EncodeConversation(
      *tokenizer_, {{"system", "Be brief."}, {"user", "1 + 1?"}, {"assistant", "2"}, {"user", "2 + 2?"}, {"assistant", "4"}});
  std::string masked;
  std::vector<int> target_ids;
  for (size_t i = 0; i < c.ids.size(); ++i) {
    if (c.loss_mask[i]) target_ids.push_back(c.ids[i]);
  }
  // Targets: "2" EOS "4" EOS.
  std::vector<int> expected = tokenizer_->Encode("2");
  expected.push_back(tokenizer_->eos_id());
  const std::vector<int> four = tokenizer_->Encode("4");
  expected.insert(expected.end(), four.begin(), four.end());
  expected.push_back(tokenizer_->eos_id());
  EXPECT_EQ(target_ids, expected);
  EXPECT_EQ(c.ids[1], tokenizer_->PieceToId("<|system|>"));
}

TEST_F(TokenizerTest, DecodeRejectsIdsOutsideTheVocabulary) {
  absl::StatusOr<std::string> text = tokenizer_->Decode({5, 40});
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(text.status().message()), HasSubstr("token id 40 at position 1 is outside the vocabulary [0, 40)"));
  EXPECT_FALSE(tokenizer_->Decode({-1}).ok());
}

TEST_F(TokenizerTest, LoadRefusesMissingGarbageAndForeignModels) {
  absl::StatusOr<Tokenizer> missing = Tokenizer::Load((*dir_ / "none.model").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("none.model"));

  const std::string garbage = (*dir_ / "garbage.model").string();
  ASSERT_TRUE(WriteFileAtomically(garbage, "this is not a model").ok());
  absl::StatusOr<Tokenizer> bad = Tokenizer::Load(garbage);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("is not a valid SentencePiece model"));

  // A truncated model is refused too, never half-loaded.
  absl::StatusOr<std::string> bytes = ReadFile(*model_);
  ASSERT_TRUE(bytes.ok());
  const std::string truncated = (*dir_ / "truncated.model").string();
  ASSERT_TRUE(WriteFileAtomically(truncated, bytes->substr(0, bytes->size() / 2)).ok());
  EXPECT_FALSE(Tokenizer::Load(truncated).ok());

  // A model trained by spm_train itself, without r1's special tokens.
  const std::string prefix = (*dir_ / "plain").string();
  const std::string command = absl::StrCat(
      "/usr/bin/spm_train --input=", (*dir_ / "corpus.txt").string(), " --model_prefix=", prefix,
      " --vocab_size=40 --model_type=char --minloglevel=2 > /dev/null 2>&1");
  ASSERT_EQ(std::system(command.c_str()), 0);
  absl::StatusOr<Tokenizer> foreign = Tokenizer::Load(prefix + ".model");
  ASSERT_FALSE(foreign.ok());
  EXPECT_THAT(std::string(foreign.status().message()), HasSubstr("lacks the special token <|system|>"));
}

TEST_F(TokenizerTest, TrainingRefusesBadInput) {
  config::TokenizerConfig config;
  config.set_vocab_size(64);
  const std::string out = (*dir_ / "never.model").string();
  EXPECT_EQ(Tokenizer::Train(config, {(*dir_ / "absent.txt").string()}, out).code(), absl::StatusCode::kNotFound);
  const std::string empty = (*dir_ / "empty.txt").string();
  ASSERT_TRUE(WriteFileAtomically(empty, "").ok());
  EXPECT_THAT(std::string(Tokenizer::Train(config, {empty}, out).message()), HasSubstr("is empty"));
  config.set_vocab_size(100000);
  absl::Status too_big = Tokenizer::Train(config, {(*dir_ / "corpus.txt").string()}, out);
  EXPECT_THAT(std::string(too_big.message()), HasSubstr("Vocabulary size too high"));
  EXPECT_FALSE(std::filesystem::exists(out));
}

// The reason for the shim: SentencePiece beside libprotobuf.so.32 in one
// process. This binary links protobuf (configs); both must work together.
TEST_F(TokenizerTest, WorksInAProcessThatUsesProtobuf) {
  absl::StatusOr<config::RunConfig> run = LoadRunConfig("configs/tiny.textproto");
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_FALSE(tokenizer_->Encode(run->name()).empty());
  absl::StatusOr<std::string> shim = SentencePieceShimPath();
  ASSERT_TRUE(shim.ok());
  EXPECT_THAT(*shim, HasSubstr("libr1_sentencepiece.so"));
}

// A released model's tokenizer.json folder: the special tokens of
// tokenizer_config.json, the stop ids of generation_config.json, the chat
// template, and the files a checkpoint carries.
// A run's data.chat_template on r1's own tokenizer: r1's template written as
// Jinja goes through the template path (rendered text, <s> and </s> found in
// it as their ids) and must give exactly the ids and loss masks of the
// built-in path.
TEST_F(TokenizerTest, ConfigTemplateEqualToR1sEncodesExactlyAsTheBuiltInPath) {
  const std::string jinja = (*dir_ / "r1.jinja").string();
  ASSERT_TRUE(WriteFileAtomically(jinja, R1ChatTemplateJinja()).ok());
  absl::StatusOr<Tokenizer> templated = Tokenizer::Load(*model_, jinja);
  ASSERT_TRUE(templated.ok()) << templated.status();
  ASSERT_NE(templated->chat_template(), nullptr);
  EXPECT_EQ(DescribeChatTemplate(*templated), jinja);
  EXPECT_EQ(DescribeChatTemplate(*tokenizer_), "r1's own");
  EXPECT_EQ(templated->files().back(), (std::pair<std::string, std::string>{jinja, "chat_template.jinja"}));

  EXPECT_EQ(*EncodePrompt(*templated, "What is 1 + 2?"), *EncodePrompt(*tokenizer_, "What is 1 + 2?"));
  const std::string response = RenderReasoningResponse("5 + 6 = 11.", "11");
  const EncodedExample want = *EncodeExample(*tokenizer_, "What is 5 + 6?", response);
  const EncodedExample got = *EncodeExample(*templated, "What is 5 + 6?", response);
  EXPECT_EQ(got.ids, want.ids);
  EXPECT_EQ(got.loss_mask, want.loss_mask);
  EXPECT_EQ(got.ids.front(), tokenizer_->bos_id());  // {{ bos_token }} became the id, not "<s>" as text
  const std::vector<ChatTurn> turns = {{"system", "Be brief."}, {"user", "1 + 1?"}, {"assistant", "2"},
                                       {"user", "2 + 2?"},        {"assistant", "4"}};
  const EncodedExample want_turns = *EncodeConversation(*tokenizer_, turns);
  const EncodedExample got_turns = *EncodeConversation(*templated, turns);
  EXPECT_EQ(got_turns.ids, want_turns.ids);
  EXPECT_EQ(got_turns.loss_mask, want_turns.loss_mask);

  // Saved beside tokenizer.model (as a checkpoint saves it), the folder
  // loads with it and no fallback.
  const std::filesystem::path folder = *dir_ / "with_template";
  std::filesystem::create_directories(folder);
  std::filesystem::copy_file(*model_, folder / "tokenizer.model", std::filesystem::copy_options::overwrite_existing);
  ASSERT_TRUE(WriteFileAtomically((folder / "chat_template.jinja").string(), "{{ eos_token }}x").ok());
  absl::StatusOr<Tokenizer> from_folder = Tokenizer::Load(folder.string(), jinja);
  ASSERT_TRUE(from_folder.ok()) << from_folder.status();
  EXPECT_EQ(DescribeChatTemplate(*from_folder), (folder / "chat_template.jinja").string());  // the model's wins
  EXPECT_EQ(*EncodePrompt(*from_folder, "1"), (std::vector<int>{tokenizer_->eos_id(), tokenizer_->PieceToId("x")}));
  std::filesystem::remove_all(folder);
}

TEST_F(TokenizerTest, ABadConfigTemplateIsNamed) {
  absl::Status missing = Tokenizer::Load(*model_, (*dir_ / "nope.jinja").string()).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.message()), HasSubstr("chat template"));
  EXPECT_THAT(std::string(missing.message()), HasSubstr("nope.jinja"));
  const std::string bad = (*dir_ / "bad.jinja").string();
  ASSERT_TRUE(WriteFileAtomically(bad, "ok\n{% for m in messages %}never closed").ok());
  absl::Status unparsed = Tokenizer::Load(*model_, bad).status();
  EXPECT_FALSE(unparsed.ok());
  EXPECT_THAT(std::string(unparsed.message()), HasSubstr(bad + ":2"));  // file:line
}

class HfFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/r1_hf_folder_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    ASSERT_TRUE(testing::WriteTinyHfTokenizerFolder(dir_).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(HfFolderTest, FolderLoadsItsTokenizerJsonWithSpecialsStopsAndFiles) {
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(dir_);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ(tokenizer->kind(), "tokenizer.json");
  EXPECT_EQ(tokenizer->vocab_size(), 761);
  EXPECT_EQ(tokenizer->bos_id(), -1);  // Qwen has none
  EXPECT_EQ(tokenizer->eos_id(), 758);
  EXPECT_EQ(tokenizer->pad_id(), 756);
  EXPECT_EQ(tokenizer->stop_ids(), (std::vector<int>{758, 756}));
  EXPECT_TRUE(tokenizer->IsStop(756));
  EXPECT_FALSE(tokenizer->IsStop(757));
  EXPECT_NE(tokenizer->chat_template(), nullptr);
  std::vector<std::string> names;
  for (const auto& [source, name] : tokenizer->files()) names.push_back(name);
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("tokenizer.json", "tokenizer_config.json",
                                                     "generation_config.json"));
  // The file itself loads the same way.
  absl::StatusOr<Tokenizer> file = Tokenizer::Load(dir_ + "/tokenizer.json");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->Encode("Hello, world!"), tokenizer->Encode("Hello, world!"));
  // Special tokens are left out of decoded text, like SentencePiece's </s>.
  std::vector<int> ids = {757};
  for (int id : tokenizer->Encode("hi there")) ids.push_back(id);
  ids.push_back(758);
  EXPECT_EQ(*tokenizer->Decode(ids), "hi there");
  // Ids past the tokenizer (a padded embedding's rows) are skipped, as the
  // tokenizers library skips them; negative ids are an error.
  ids.insert(ids.begin() + 1, {761, 151935});
  EXPECT_EQ(*tokenizer->Decode(ids), "hi there");
  EXPECT_FALSE(tokenizer->Decode({-1}).ok());
}

// r1's reasoning tags are ordinary text to a vocabulary without them.
TEST_F(HfFolderTest, ReasoningTagsAreTextWhenTheVocabularyLacksThem) {
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(dir_);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const std::string response = RenderReasoningResponse("2 + 2 = 4.", "4");
  const std::vector<int> ids = tokenizer->Encode(response);
  EXPECT_GT(ids.size(), 4u);
  EXPECT_EQ(*tokenizer->Decode(ids), response);
  // <think> is one of this vocabulary's added tokens: a single id.
  EXPECT_EQ(tokenizer->Encode("<think>"), std::vector<int>{759});
}

TEST_F(HfFolderTest, PromptsAndExamplesGoThroughTheModelsTemplate) {
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(dir_);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const std::string prompt_text =
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n"
      "<|im_start|>assistant\n";
  absl::StatusOr<std::vector<int>> prompt = EncodePrompt(*tokenizer, "What is 2 + 2?");
  ASSERT_TRUE(prompt.ok()) << prompt.status();
  EXPECT_EQ(*prompt, tokenizer->Encode(prompt_text));
  EXPECT_EQ((*prompt)[0], 757);  // the template starts with <|im_start|>, no BOS

  absl::StatusOr<EncodedExample> example = EncodeExample(*tokenizer, "What is 2 + 2?", "It is 4.");
  ASSERT_TRUE(example.ok()) << example.status();
  ASSERT_EQ(example->ids.size(), example->loss_mask.size());
  // The prompt is exactly what generation starts from; the target is the
  // answer and the template's end of turn.
  EXPECT_EQ(std::vector<int>(example->ids.begin(), example->ids.begin() + prompt->size()), *prompt);
  std::vector<int> target;
  for (size_t i = 0; i < example->ids.size(); ++i) {
    if (example->loss_mask[i]) target.push_back(example->ids[i]);
  }
  EXPECT_EQ(target, tokenizer->Encode("It is 4.<|im_end|>\n"));
  EXPECT_EQ(std::count(example->loss_mask.begin(), example->loss_mask.begin() + prompt->size(), 1), 0);
}

TEST_F(HfFolderTest, EveryAssistantTurnOfAConversationIsATarget) {
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(dir_);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const std::vector<ChatTurn> turns = {{"system", "Be brief."}, {"user", "1+1?"}, {"assistant", "2"},
                                       {"user", "2+2?"},        {"assistant", "4"}};
  absl::StatusOr<EncodedExample> encoded = EncodeConversation(*tokenizer, turns);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  std::vector<int> target;
  for (size_t i = 0; i < encoded->ids.size(); ++i) {
    if (encoded->loss_mask[i]) target.push_back(encoded->ids[i]);
  }
  std::vector<int> expected = tokenizer->Encode("2<|im_end|>\n");
  const std::vector<int> second = tokenizer->Encode("4<|im_end|>\n");
  expected.insert(expected.end(), second.begin(), second.end());
  EXPECT_EQ(target, expected);
  absl::StatusOr<std::string> text = RenderChat(*tokenizer->chat_template(), turns, false);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*tokenizer->Decode(encoded->ids), *tokenizer->Decode(tokenizer->Encode(*text)));
}

TEST_F(HfFolderTest, ChatTemplateJinjaWinsAndTravels) {
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/chat_template.jinja",
                                  "{{ eos_token }}{% if enable_thinking is defined and not enable_thinking %}"
                                  "off{% else %}on{% endif %}")
                  .ok());
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(dir_);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  // chat_template.jinja wins over tokenizer_config.json's, and travels too.
  const std::vector<ChatTurn> user = {{"user", "x"}};
  EXPECT_EQ(*RenderChat(*tokenizer->chat_template(), user, true), "<|im_end|>on");
  EXPECT_EQ(*RenderChat(*tokenizer->chat_template(), user, true, {{"enable_thinking", "false"}}), "<|im_end|>off");
  bool carried = false;
  for (const auto& [source, name] : tokenizer->files()) carried |= name == "chat_template.jinja";
  EXPECT_TRUE(carried);
}

TEST_F(HfFolderTest, BadFilesAreNamed) {
  const auto load_error = [&]() { return std::string(Tokenizer::Load(dir_).status().message()); };
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/chat_template.jinja", "line one\n{% if x %}never closed").ok());
  EXPECT_THAT(load_error(), HasSubstr("chat_template.jinja"));
  std::filesystem::remove(dir_ + "/chat_template.jinja");

  ASSERT_TRUE(WriteFileAtomically(dir_ + "/generation_config.json", R"({"eos_token_id": [758, 99999]})").ok());
  EXPECT_THAT(load_error(), HasSubstr("generation_config.json: eos_token_id 99999"));
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/generation_config.json", "{not json").ok());
  EXPECT_THAT(load_error(), HasSubstr("generation_config.json is not a JSON object"));
  std::filesystem::remove(dir_ + "/generation_config.json");

  ASSERT_TRUE(WriteFileAtomically(dir_ + "/tokenizer_config.json", R"({"eos_token": "<|nope|>"})").ok());
  EXPECT_THAT(load_error(), HasSubstr("tokenizer_config.json: eos_token \"<|nope|>\" is not in"));
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/tokenizer_config.json", R"({"chat_template": 3})").ok());
  EXPECT_THAT(load_error(), HasSubstr("tokenizer_config.json"));
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/tokenizer_config.json", R"({"eos_token": 5})").ok());
  EXPECT_THAT(load_error(), HasSubstr("tokenizer_config.json: \"eos_token\" is neither a string nor an object"));
  // An AddedToken object names its token by "content".
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/tokenizer_config.json",
                                  R"({"eos_token": {"__type": "AddedToken", "content": "<|endoftext|>"}})")
                  .ok());
  EXPECT_EQ(Tokenizer::Load(dir_)->eos_id(), 756);
  ASSERT_TRUE(WriteFileAtomically(dir_ + "/tokenizer_config.json", "{}").ok());
  EXPECT_THAT(load_error(), HasSubstr("no EOS token"));

  std::filesystem::remove(dir_ + "/tokenizer.json");
  EXPECT_THAT(load_error(), HasSubstr("has neither tokenizer.json nor tokenizer.model"));
}

// A base model's folder: no template of its own. The run config's applies
// (with the folder's own special tokens) and travels in files(); without it,
// prompts are r1's text with no BOS, since this vocabulary has none.
TEST_F(HfFolderTest, ConfigTemplateAppliesOnlyWhenTheModelHasNone) {
  const std::string jinja = dir_ + "/../" + std::filesystem::path(dir_).filename().string() + ".jinja";
  ASSERT_TRUE(WriteFileAtomically(jinja,
                                  "{% for m in messages %}[{{ m.role }}] {{ m.content }}{{ eos_token }}{% endfor %}"
                                  "{% if add_generation_prompt %}[assistant] {% endif %}")
                  .ok());
  absl::StatusOr<Tokenizer> own = Tokenizer::Load(dir_, jinja);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_THAT(DescribeChatTemplate(*own), HasSubstr("tokenizer_config.json"));  // the model's wins

  ASSERT_TRUE(WriteFileAtomically(dir_ + "/tokenizer_config.json",
                                  R"({"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"})")
                  .ok());
  absl::StatusOr<Tokenizer> bare = Tokenizer::Load(dir_);
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->chat_template(), nullptr);
  EXPECT_EQ(*EncodePrompt(*bare, "2 + 2?"), bare->Encode("<|user|>2 + 2?<|assistant|>"));  // no -1 BOS

  absl::StatusOr<Tokenizer> given = Tokenizer::Load(dir_, jinja);
  ASSERT_TRUE(given.ok()) << given.status();
  EXPECT_EQ(DescribeChatTemplate(*given), jinja);
  EXPECT_EQ(*EncodePrompt(*given, "2 + 2?"), given->Encode("[user] 2 + 2?<|im_end|>[assistant] "));
  const EncodedExample example = *EncodeExample(*given, "2 + 2?", "4");
  std::vector<int> target;
  for (size_t i = 0; i < example.ids.size(); ++i) {
    if (example.loss_mask[i]) target.push_back(example.ids[i]);
  }
  EXPECT_EQ(target, given->Encode("4<|im_end|>"));
  EXPECT_EQ(given->files().back(), (std::pair<std::string, std::string>{jinja, "chat_template.jinja"}));
  std::filesystem::remove(jinja);
}

}  // namespace
}  // namespace r1
