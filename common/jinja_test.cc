#include "common/jinja.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/jinja_golden_test_util.h"

namespace r1::jinja {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::ordered_json;

using jinja_golden::FixedClock;
using jinja_golden::kGoldenDir;
using jinja_golden::ReadText;

absl::StatusOr<std::string> Render(const std::string& source,
                                   const Json& variables = Json::object(),
                                   const RenderOptions& options = FixedClock()) {
  absl::StatusOr<Template> t = Template::Parse(source, "t.jinja");
  if (!t.ok()) return t.status();
  return t->Render(variables, options);
}

// Every case of goldens.json (written by make_goldens.py with jinja2 as
// transformers configures it) renders byte for byte, or fails where jinja2
// fails.
TEST(JinjaGolden, MatchesJinja2ByteForByte) {
  std::ifstream in(absl::StrCat(kGoldenDir, "goldens.json"));
  ASSERT_TRUE(in.good()) << "run from the repository root";
  const Json cases = Json::parse(in);
  ASSERT_GT(cases.size(), 150u);
  int checked = 0;
  for (const Json& c : cases) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    std::string source, file = "inline.jinja";
    if (c.contains("template_file")) {
      file = c["template_file"];
      source = ReadText(absl::StrCat(kGoldenDir, file));
      ASSERT_FALSE(source.empty()) << file;
    } else {
      source = c["template"];
    }
    absl::StatusOr<Template> t = Template::Parse(source, file);
    absl::StatusOr<std::string> out =
        t.ok() ? t->Render(c["context"], FixedClock()) : absl::StatusOr<std::string>(t.status());
    ++checked;
    if (c.contains("expected")) {
      EXPECT_TRUE(out.ok()) << out.status();
      if (out.ok()) {
        EXPECT_EQ(*out, c["expected"].get<std::string>());
      }
    } else {
      EXPECT_FALSE(out.ok()) << "rendered " << *out << "; jinja2 failed with "
                             << c["jinja2_error"].get<std::string>();
      if (out.ok()) continue;
      EXPECT_THAT(std::string(out.status().message()), HasSubstr(c["error"].get<std::string>()));
      EXPECT_THAT(std::string(out.status().message()), HasSubstr(file));
    }
  }
  EXPECT_EQ(checked, static_cast<int>(cases.size()));
}

TEST(JinjaErrors, UnknownFilterFailsAtParseNamingLineAndFilter) {
  absl::StatusOr<Template> t = Template::Parse("line one\n{{ x | frobnicate }}", "chat.jinja");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("chat.jinja:2:"));
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("'frobnicate'"));
}

TEST(JinjaErrors, UnknownTestFailsAtParse) {
  absl::StatusOr<Template> t = Template::Parse("{{ x is prime }}", "chat.jinja");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("the test 'prime'"));
}

TEST(JinjaErrors, SyntaxErrorNamesLine) {
  absl::StatusOr<Template> t =
      Template::Parse("a\nb\n{% if x == %}yes{% endif %}", "tokenizer_config.json");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("tokenizer_config.json:3:"));
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("expected an expression"));
}

TEST(JinjaErrors, UnclosedBlockNamesOpeningLine) {
  absl::StatusOr<Template> t = Template::Parse("x\n{% for m in messages %}\n{{ m }}\n", "t.jinja");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("t.jinja:2:"));
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("unclosed 'for'"));
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("endfor"));
}

TEST(JinjaErrors, UnclosedTagAndCommentAndString) {
  for (const char* source : {"{{ x ", "{% if x", "{# never closed", "{{ 'abc }}", "{{ (1 }}"}) {
    absl::StatusOr<Template> t = Template::Parse(source, "t.jinja");
    EXPECT_FALSE(t.ok()) << source;
    EXPECT_THAT(std::string(t.status().message()), HasSubstr("t.jinja:1:")) << source;
  }
}

TEST(JinjaErrors, StrayEndTagAndUnknownTag) {
  absl::StatusOr<Template> t = Template::Parse("{% endif %}", "t.jinja");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("no open block"));
  t = Template::Parse("{% frob %}", "t.jinja");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("unknown tag 'frob'"));
}

TEST(JinjaErrors, UnsupportedTagsAreRefusedByName) {
  for (const char* tag :
       {"include 'x'", "extends 'x'", "import 'x' as y", "raw", "filter upper", "with a = 1"}) {
    absl::StatusOr<Template> t = Template::Parse(absl::StrCat("{% ", tag, " %}"), "t.jinja");
    ASSERT_FALSE(t.ok()) << tag;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kUnimplemented) << tag;
    EXPECT_THAT(std::string(t.status().message()), HasSubstr("is not supported")) << tag;
  }
}

TEST(JinjaErrors, BreakOutsideLoop) {
  absl::StatusOr<Template> t = Template::Parse("{% break %}", "t.jinja");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("outside of a for loop"));
}

TEST(JinjaErrors, RaiseExceptionMessageIsVerbatimAfterLocation) {
  absl::StatusOr<std::string> out = Render(
      "ok\n{% if messages|length > 1 %}{{ raise_exception('Roles must alternate!') }}"
      "{% endif %}",
      Json{{"messages", {1, 2}}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(out.status().message(), "t.jinja:2: Roles must alternate!");
}

TEST(JinjaErrors, ErrorInsideMacroNamesTheMacroLine) {
  absl::StatusOr<std::string> out =
      Render("{% macro m(x) %}\n{{ x + 1 }}\n{% endmacro %}\n{{ m('a') }}");
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("t.jinja:2: "));
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("can only concatenate str"));
}

TEST(JinjaErrors, UnsupportedOperationsFailInsteadOfRenderingDifferently) {
  // Non-ASCII letters' case mapping, % formatting, an unbounded int.
  for (const char* source :
       {"{{ 'straße'|upper }}", "{{ 'é'.title() }}", "{{ '%s' % 1 }}", "{{ 2 ** 64 }}",
        "{% set g = [1]|map('string') %}{{ g|list }}"
        "{{ g|list }}",
        "{{ [1]|reverse }}", "{{ range(3) }}", "{{ 'a'.zfill(3) }}"}) {
    absl::StatusOr<std::string> out = Render(source);
    ASSERT_FALSE(out.ok()) << source << " rendered " << *out;
    EXPECT_EQ(out.status().code(), absl::StatusCode::kUnimplemented) << source << out.status();
  }
}

TEST(JinjaErrors, InvalidUtf8IsRefused) {
  EXPECT_FALSE(Template::Parse("\xff{{ x }}", "t.jinja").ok());
  absl::StatusOr<std::string> out = Render("{{ x }}", Json{{"x", "ok"}});
  ASSERT_TRUE(out.ok());
}

TEST(JinjaLimits, OutputSizeIsBounded) {
  RenderOptions options = FixedClock();
  options.max_output_bytes = 1000;
  absl::StatusOr<std::string> out =
      Render("{% for i in range(100) %}{{ 'x' * 50 }}{% endfor %}", Json::object(), options);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  out = Render("{{ 'x' * 100000000000 }}", Json::object(), options);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(JinjaLimits, StepsAreBounded) {
  RenderOptions options = FixedClock();
  options.max_steps = 10000;
  absl::StatusOr<std::string> out = Render(
      "{% for i in range(1000) %}{% for j in range(1000) %}{% set x = j %}{% endfor %}{% endfor %}",
      Json::object(), options);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(Render("{{ range(1000000)|length }}").ok());  // the sandbox's MAX_RANGE
}

TEST(JinjaLimits, MacroRecursionIsBounded) {
  absl::StatusOr<std::string> out =
      Render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(JinjaLimits, DeepNestingIsAnErrorNotACrash) {
  std::string parens = std::string(5000, '(') + "1" + std::string(5000, ')');
  EXPECT_FALSE(Template::Parse(absl::StrCat("{{ ", parens, " }}"), "t.jinja").ok());
  std::string ifs;
  for (int i = 0; i < 2000; ++i) ifs += "{% if true %}";
  EXPECT_FALSE(Template::Parse(ifs, "t.jinja").ok());
  std::string nots;
  for (int i = 0; i < 5000; ++i) nots += "not ";
  EXPECT_FALSE(Template::Parse(absl::StrCat("{{ ", nots, "x }}"), "t.jinja").ok());
  Json deep = Json::array();
  for (int i = 0; i < 1000; ++i) deep = Json::array({deep});
  EXPECT_FALSE(Render("{{ x|tojson }}", Json{{"x", deep}}).ok());
}

// Every prefix of the model-shaped templates either parses or fails cleanly.
TEST(JinjaFuzz, TruncatedTemplatesNeverCrash) {
  for (const char* file :
       {"qwen2_5.jinja", "qwen3.jinja", "llama3.jinja", "deepseek_r1.jinja", "mistral.jinja"}) {
    const std::string source = ReadText(absl::StrCat(kGoldenDir, file));
    ASSERT_FALSE(source.empty());
    const Json variables = {{"messages", {{{"role", "user"}, {"content", "hi"}}}},
                            {"add_generation_prompt", true}};
    for (size_t n = 0; n < source.size(); n += 7) {
      absl::StatusOr<Template> t = Template::Parse(source.substr(0, n), file);
      if (t.ok()) (void)t->Render(variables, FixedClock());
    }
  }
}

TEST(JinjaTemplate, RendersConcurrentlyFromOneParse) {
  absl::StatusOr<Template> t = Template::Parse(
      "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
      "{{ m }}{% endfor %}={{ ns.n }}",
      "t.jinja");
  ASSERT_TRUE(t.ok()) << t.status();
  std::vector<std::thread> threads;
  std::vector<std::string> outputs(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      Json messages = Json::array();
      for (int k = 0; k <= i; ++k) messages.push_back(k);
      for (int repeat = 0; repeat < 200; ++repeat) {
        absl::StatusOr<std::string> out = t->Render(Json{{"messages", messages}});
        outputs[i] = out.ok() ? *out : std::string(out.status().message());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int i = 0; i < 8; ++i) {
    std::string expected;
    for (int k = 0; k <= i; ++k) expected += std::to_string(k);
    EXPECT_EQ(outputs[i], absl::StrCat(expected, "=", i + 1));
  }
}

TEST(JinjaTemplate, VariablesMustBeAnObject) {
  absl::StatusOr<Template> t = Template::Parse("x", "t.jinja");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->Render(Json::array()).ok());
}

}  // namespace
}  // namespace r1::jinja
