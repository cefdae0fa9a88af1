#include "common/hf_chat_template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/jinja_golden_test_util.h"

namespace r1 {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

using jinja_golden::FixedClock;
using jinja_golden::kGoldenDir;
using jinja_golden::ReadText;

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string GoldenTemplate(const std::string& file) {
  std::string source = ReadText(absl::StrCat(kGoldenDir, file));
  EXPECT_FALSE(source.empty()) << file << ": run from the repository root";
  return source;
}

// The golden case `name` of goldens.json (make_goldens.py).
Json GoldenCase(const std::string& name) {
  std::ifstream in(absl::StrCat(kGoldenDir, "goldens.json"));
  const Json cases = Json::parse(in);
  for (const Json& c : cases) {
    if (c["name"] == name) return c;
  }
  ADD_FAILURE() << "no golden case " << name;
  return Json::object();
}

// A fresh model folder per test.
fs::path ModelDir(const std::string& name) {
  fs::path dir = fs::path(::testing::TempDir()) / absl::StrCat("hf_chat_template_test_", name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(LoadChatTemplate, StringInTokenizerConfigWithAddedTokenObjects) {
  const fs::path dir = ModelDir("string");
  Json config = {{"bos_token", {{"__type", "AddedToken"}, {"content", "<s>"}, {"lstrip", false}}},
                 {"eos_token", "</s>"},
                 {"chat_template", GoldenTemplate("mistral.jinja")}};
  WriteText(dir / "tokenizer_config.json", config.dump(2));
  absl::StatusOr<std::optional<HfChatTemplate>> t = LoadChatTemplate(dir.string());
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE(t->has_value());
  EXPECT_EQ((*t)->bos_token, "<s>");
  EXPECT_EQ((*t)->eos_token, "</s>");
  EXPECT_THAT((*t)->origin, HasSubstr("tokenizer_config.json (chat_template)"));

  const Json golden = GoldenCase("mistral/multi_turn/gen=0");
  absl::StatusOr<std::string> out = RenderChat(**t, golden["context"]["messages"], false);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, golden["expected"].get<std::string>());
}

TEST(LoadChatTemplate, ChatTemplateJinjaWinsOverTheConfig) {
  const fs::path dir = ModelDir("jinja_file");
  WriteText(dir / "tokenizer_config.json",
            Json{{"chat_template", "WRONG"}, {"eos_token", "<|im_end|>"}}.dump());
  WriteText(dir / "chat_template.jinja", GoldenTemplate("qwen3.jinja"));
  absl::StatusOr<std::optional<HfChatTemplate>> t = LoadChatTemplate(dir.string());
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE(t->has_value());
  EXPECT_THAT((*t)->origin, HasSubstr("chat_template.jinja"));
  EXPECT_FALSE((*t)->bos_token.has_value());

  for (const char* thinking : {"false", "true"}) {
    const Json golden = GoldenCase(absl::StrCat("qwen3/reasoning_history/gen=1/thinking=",
                                                std::string(thinking) == "true" ? 1 : 0));
    absl::StatusOr<std::string> out =
        RenderChat(**t, golden["context"]["messages"], true, {{"enable_thinking", thinking}});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, golden["expected"].get<std::string>()) << thinking;
  }
}

TEST(LoadChatTemplate, NamedTemplatesUseDefaultAndTokensFallBackToSpecialTokensMap) {
  const fs::path dir = ModelDir("named");
  Json config = {{"chat_template",
                  {{{"name", "tool_use"}, {"template", "{{ 'tools!' }}"}},
                   {{"name", "default"}, {"template", GoldenTemplate("llama3.jinja")}}}}};
  WriteText(dir / "tokenizer_config.json", config.dump());
  WriteText(
      dir / "special_tokens_map.json",
      Json{{"bos_token", {{"content", "<|begin_of_text|>"}}}, {"eos_token", "<|eot_id|>"}}.dump());
  absl::StatusOr<std::optional<HfChatTemplate>> t = LoadChatTemplate(dir.string());
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE(t->has_value());
  EXPECT_EQ((*t)->bos_token, "<|begin_of_text|>");

  const Json golden = GoldenCase("llama3/system_user/gen=1");
  std::vector<ChatMessage> messages;
  for (const Json& m : golden["context"]["messages"]) messages.push_back({m["role"], m["content"]});
  absl::StatusOr<std::string> out = RenderChat(**t, messages, true, {}, FixedClock());
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, golden["expected"].get<std::string>());
}

TEST(LoadChatTemplate, NamedTemplatesWithoutDefaultAreRefused) {
  const fs::path dir = ModelDir("no_default");
  WriteText(dir / "tokenizer_config.json",
            Json{{"chat_template", {{{"name", "rag"}, {"template", "x"}}}}}.dump());
  absl::StatusOr<std::optional<HfChatTemplate>> t = LoadChatTemplate(dir.string());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("tokenizer_config.json"));
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("rag"));
}

TEST(LoadChatTemplate, FolderWithoutTemplateIsNullopt) {
  const fs::path dir = ModelDir("none");
  absl::StatusOr<std::optional<HfChatTemplate>> t = LoadChatTemplate(dir.string());
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_FALSE(t->has_value());
  WriteText(dir / "tokenizer_config.json", Json{{"eos_token", "</s>"}}.dump());
  t = LoadChatTemplate(dir.string());
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_FALSE(t->has_value());
  EXPECT_EQ(LoadChatTemplate((dir / "missing").string()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(LoadChatTemplate, ErrorsNameTheFile) {
  const fs::path dir = ModelDir("errors");
  WriteText(dir / "tokenizer_config.json", "{\"chat_template\": ");
  absl::StatusOr<std::optional<HfChatTemplate>> t = LoadChatTemplate(dir.string());
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()),
              HasSubstr("tokenizer_config.json: not valid JSON"));

  WriteText(dir / "tokenizer_config.json",
            Json{{"chat_template", "line 1\n{% for m in messages %}{{ m }}"}}.dump());
  t = LoadChatTemplate(dir.string());
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()),
              HasSubstr("tokenizer_config.json (chat_template):2:"));

  WriteText(dir / "tokenizer_config.json", Json{{"chat_template", 7}}.dump());
  EXPECT_FALSE(LoadChatTemplate(dir.string()).ok());
  WriteText(dir / "tokenizer_config.json", Json{{"chat_template", "x"}, {"bos_token", 3}}.dump());
  EXPECT_FALSE(LoadChatTemplate(dir.string()).ok());
}

TEST(RenderChat, TemplateErrorsNameOriginAndLine) {
  absl::StatusOr<HfChatTemplate> t =
      MakeChatTemplate(GoldenTemplate("mistral.jinja"), "model/chat_template.jinja");
  ASSERT_TRUE(t.ok()) << t.status();
  absl::StatusOr<std::string> out =
      RenderChat(*t, std::vector<ChatMessage>{{"user", "a"}, {"user", "b"}}, false);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(),
            "model/chat_template.jinja:12: After the optional system message, conversation roles "
            "must alternate user/assistant/user/assistant/...");
}

TEST(RenderChat, PassesToolsAndDocumentsAsNoneLikeTransformers) {
  absl::StatusOr<HfChatTemplate> t = MakeChatTemplate(
      "{{ tools is defined }} {{ tools is none }} {{ documents is none }} {{ bos_token is defined "
      "}}"
      " {{ add_generation_prompt }}",
      "t.jinja");
  ASSERT_TRUE(t.ok()) << t.status();
  absl::StatusOr<std::string> out = RenderChat(*t, std::vector<ChatMessage>{}, true);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "True True True False True");
}

TEST(RenderChat, VariablesAreJsonLiteralsElseStrings) {
  absl::StatusOr<HfChatTemplate> t = MakeChatTemplate(
      "{{ a is false }}|{{ b + 1 }}|{{ c }}|{{ d|length }}|{{ e is none }}|{{ f }}|{{ tools[0] }}",
      "t.jinja");
  ASSERT_TRUE(t.ok()) << t.status();
  ChatVariables variables;
  for (const char* assignment : {"a=false", "b=41", "c=Be brief, please", "d=[1, 2, 3]", "e=null",
                                 "f=\"quoted\"", "tools=[\"x\"]"}) {
    absl::StatusOr<std::pair<std::string, std::string>> v = ParseChatVariable(assignment);
    ASSERT_TRUE(v.ok()) << v.status();
    variables.push_back(*v);
  }
  absl::StatusOr<std::string> out = RenderChat(*t, Json::array(), false, variables);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "True|42|Be brief, please|3|True|quoted|x");
  EXPECT_FALSE(ParseChatVariable("novalue").ok());
  EXPECT_FALSE(ParseChatVariable("=x").ok());
  EXPECT_EQ(ParseChatVariable("k=a=b")->second, "a=b");
}

TEST(RenderChat, MessagesMustBeAnArray) {
  absl::StatusOr<HfChatTemplate> t = MakeChatTemplate("x", "t.jinja");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(RenderChat(*t, Json::object(), false).ok());
}

}  // namespace
}  // namespace r1
