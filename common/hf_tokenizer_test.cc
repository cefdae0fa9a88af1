// HfTokenizer against the reference library's expected ids (goldens made by
// tests/golden/tokenizers/generate.mjs with @huggingface/tokenizers), plus
// the behaviours the goldens cannot show: refusals, errors, invalid UTF-8,
// threads, and the cases where the JavaScript port differs from Rust.
#include "common/hf_tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/file_util.h"

namespace r1 {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

const char kFixtureDir[] = "tests/golden/tokenizers/";

HfTokenizer LoadFixture(const std::string& name) {
  auto tokenizer = HfTokenizer::Load(kFixtureDir + name + ".tokenizer.json");
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return *std::move(tokenizer);
}

std::string Escaped(const std::string& text) { return Json(text).dump(); }

class GoldenTest : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTest, MatchesReferenceIdsAndDecodes) {
  const std::string name = GetParam();
  const HfTokenizer tokenizer = LoadFixture(name);
  auto text = ReadFile(kFixtureDir + name + ".golden.json");
  ASSERT_TRUE(text.ok()) << text.status();
  const Json golden = Json::parse(*text);
  ASSERT_GT(golden["cases"].size(), 20u);
  for (const Json& c : golden["cases"]) {
    const std::string input = c["text"];
    SCOPED_TRACE(name + " text " + Escaped(input));
    // A field listed under "divergent" is one where the JavaScript port
    // differs from the Rust library (generate.mjs says why); the Divergence
    // tests below cover those.
    std::set<std::string> divergent;
    if (c.contains("divergent")) divergent = c["divergent"].get<std::set<std::string>>();
    if (divergent.count("ids") == 0) {
      EXPECT_EQ(tokenizer.Encode(input, /*add_special_tokens=*/false),
                c["ids"].get<std::vector<int>>());
    }
    if (divergent.count("ids_special") == 0) {
      EXPECT_EQ(tokenizer.Encode(input, /*add_special_tokens=*/true),
                c["ids_special"].get<std::vector<int>>());
    }
    // Decodes start from the reference's ids.
    for (const bool skip_special : {false, true}) {
      const char* field = skip_special ? "decode_skip_special" : "decode";
      if (divergent.count(field) > 0) continue;
      auto decoded = tokenizer.Decode(c["ids_special"].get<std::vector<int>>(), skip_special);
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      EXPECT_EQ(*decoded, c[field].get<std::string>()) << field;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GoldenTest,
                         ::testing::Values("gpt2", "llama3", "llama3_ignore_merges", "qwen2",
                                           "deepseek_v3", "llama2", "mistral_metaspace",
                                           "normalizers_unk", "added_flags"));

}  // namespace
}  // namespace r1
