// HfTokenizer against the reference library's expected ids (goldens made by
// tests/golden/tokenizers/generate.mjs with @huggingface/tokenizers), plus
// the behaviours the goldens cannot show: refusals, errors, invalid UTF-8,
// threads, and the cases where the JavaScript port differs from Rust.
#include "common/hf_tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/file_util.h"
#include "common/hf_tokenizer_internal.h"
#include "common/utf8.h"

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
                         ::testing::Values("gpt2", "gpt2_prefix_space", "llama3", "llama3_ignore_merges", "qwen2",
                                           "deepseek_v3", "llama2", "mistral_metaspace",
                                           "normalizers_unk", "added_flags", "unigram"));

// ---- A tiny tokenizer written inline ----------------------------------------

// Characters a b c - ▁ and space, every two-character string of a, b, c, -
// merged (so a pre-token of up to two characters is one token, which makes
// the pre-tokenizer's cuts visible in the ids), and <unk>.
Json TinyTokenizer() {
  Json vocab = Json::object();
  // "b▁" first: a merge across a word boundary, which Metaspace's split stops.
  Json merges = Json::array({Json::array({"b", "\u2581"})});
  const std::vector<std::string> chars = {"a", "b", "c", "-"};
  for (const std::string& c : chars) vocab[c] = static_cast<int>(vocab.size());
  for (const char* c : {"\u2581", " ", "<unk>"}) vocab[c] = static_cast<int>(vocab.size());
  for (const std::string& left : chars) {
    for (const std::string& right : chars) {
      vocab[left + right] = static_cast<int>(vocab.size());
      merges.push_back(Json::array({left, right}));
    }
  }
  vocab["b\u2581"] = static_cast<int>(vocab.size());
  for (const std::string c : {"\u2581a", "\u2581b", "\u2581\u2581"}) {
    vocab[c] = static_cast<int>(vocab.size());
    merges.push_back(Json::array({"\u2581", c.substr(3)}));
  }
  return Json{{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr},
              {"added_tokens", Json::array()}, {"normalizer", nullptr},
              {"pre_tokenizer", nullptr}, {"post_processor", nullptr}, {"decoder", nullptr},
              {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"},
                         {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                         {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
                         {"vocab", vocab}, {"merges", merges}}}};
}

HfTokenizer FromTiny(const Json& json) {
  auto tokenizer = HfTokenizer::FromJson(json.dump(), "tiny.json");
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return *std::move(tokenizer);
}

std::vector<std::string> Tokens(const HfTokenizer& tokenizer, const std::string& text) {
  std::vector<std::string> tokens;
  for (int id : tokenizer.Encode(text)) tokens.push_back(tokenizer.IdToToken(id));
  return tokens;
}

using ::testing::ElementsAre;

Json SplitOn(const char* behavior, bool invert) {
  return {{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior},
          {"invert", invert}};
}

TEST(HfTokenizerSplit, EachBehaviorCutsAsTheReferenceDoes) {
  Json json = TinyTokenizer();
  // "a-b--c-": pieces a | - | b | - | - | c | -
  json["pre_tokenizer"] = SplitOn("Removed", false);
  EXPECT_THAT(Tokens(FromTiny(json), "a-b--c-"), ElementsAre("a", "b", "c"));
  json["pre_tokenizer"] = SplitOn("Isolated", false);
  EXPECT_THAT(Tokens(FromTiny(json), "a-b--c-"), ElementsAre("a", "-", "b", "-", "-", "c", "-"));
  json["pre_tokenizer"] = SplitOn("MergedWithPrevious", false);
  EXPECT_THAT(Tokens(FromTiny(json), "a-b--c-"), ElementsAre("a-", "b-", "-", "c-"));
  json["pre_tokenizer"] = SplitOn("MergedWithNext", false);
  EXPECT_THAT(Tokens(FromTiny(json), "a-b--c-"), ElementsAre("a", "-b", "-", "-c", "-"));
  json["pre_tokenizer"] = SplitOn("Contiguous", false);
  EXPECT_THAT(Tokens(FromTiny(json), "a-b--c-"), ElementsAre("a", "-", "b", "--", "c", "-"));
  // Inverted, the letters are the matches: Removed keeps only the dashes.
  json["pre_tokenizer"] = SplitOn("Removed", true);
  EXPECT_THAT(Tokens(FromTiny(json), "a-b--c-"), ElementsAre("-", "-", "-", "-"));
  // "ab" is now a match and "-" a gap; the gap does not join a match.
  json["pre_tokenizer"] = SplitOn("MergedWithPrevious", true);
  EXPECT_THAT(Tokens(FromTiny(json), "ab-c"), ElementsAre("ab", "-c"));
}

TEST(HfTokenizerSplit, MetaspaceSplitCutsBeforeEachReplacement) {
  Json json = TinyTokenizer();
  json["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "\u2581"},
                           {"prepend_scheme", "always"}, {"split", true}};
  EXPECT_THAT(Tokens(FromTiny(json), "b a"), ElementsAre("\u2581b", "\u2581a"));
  EXPECT_THAT(Tokens(FromTiny(json), "a  b"), ElementsAre("\u2581a", "\u2581", "\u2581b"));
  json["pre_tokenizer"]["split"] = false;
  EXPECT_THAT(Tokens(FromTiny(json), "b a"), ElementsAre("\u2581", "b\u2581", "a"));
}

TEST(HfTokenizerSplit, UnknownCharactersBecomeUnkAndFuseWhenAsked) {
  Json json = TinyTokenizer();
  EXPECT_THAT(Tokens(FromTiny(json), "axyb"), ElementsAre("a", "<unk>", "<unk>", "b"));
  json["model"]["fuse_unk"] = true;
  EXPECT_THAT(Tokens(FromTiny(json), "axyb"), ElementsAre("a", "<unk>", "b"));
  // Without an unk token an unknown character is dropped, as the reference does.
  json["model"]["unk_token"] = nullptr;
  // (what is left merges as if the character were never there).
  EXPECT_THAT(Tokens(FromTiny(json), "axyb"), ElementsAre("ab"));
}

TEST(HfTokenizerNormalizers, DecomposedFormsComeFromIcu) {
  Json json = TinyTokenizer();
  json["model"]["vocab"]["e"] = 900;
  json["model"]["vocab"]["\u0301"] = 901;
  json["model"]["vocab"]["\u00e9"] = 902;
  json["normalizer"] = {{"type", "NFD"}};
  EXPECT_EQ(FromTiny(json).Encode("\u00e9"), (std::vector<int>{900, 901}));
  json["normalizer"] = {{"type", "NFKC"}};
  EXPECT_EQ(FromTiny(json).Encode("e\u0301"), (std::vector<int>{902}));
  json["normalizer"] = {{"type", "NFKD"}};
  EXPECT_EQ(FromTiny(json).Encode("\u00e9"), (std::vector<int>{900, 901}));
}

TEST(HfTokenizerPatterns, WhitespaceIsOnigurumasIncludingNextLine) {
  // Oniguruma (the Rust library's engine) counts U+0085 as \s; PCRE2 alone
  // would not. The JavaScript port does not either, so no golden shows it.
  auto matches = [](const std::string& pattern, const std::string& text) {
    auto regex = hf_internal::Regex::Compile(pattern, /*literal=*/false);
    EXPECT_TRUE(regex.ok()) << regex.status();
    std::vector<std::pair<size_t, size_t>> found;
    (*regex)->FindAll(text, &found);
    std::vector<std::string> pieces;
    for (const auto& [begin, end] : found) pieces.push_back(text.substr(begin, end - begin));
    return pieces;
  };
  const std::string nel = "\u0085";
  EXPECT_THAT(matches(R"(\s+)", "a" + nel + "b"), ElementsAre(nel));
  EXPECT_THAT(matches(R"(\S+)", "a" + nel + "b"), ElementsAre("a", "b"));
  EXPECT_THAT(matches(R"([^\s]+)", "a" + nel + "b"), ElementsAre("a", "b"));
  EXPECT_THAT(matches(R"([\]\s]+)", "a]" + nel + "b"), ElementsAre("]" + nel));
  EXPECT_THAT(matches(R"([[:alpha:]\s]+)", "ab" + nel + "1"), ElementsAre("ab" + nel));
  // GPT-2's pattern: two NELs before a letter are two whitespace pieces, not
  // one run of "other" characters.
  EXPECT_THAT(matches(hf_internal::kGpt2Pattern, "x" + nel + nel + "y"),
              ElementsAre("x", nel, nel, "y"));
}

TEST(HfTokenizerDecode, WithoutADecoderTokensAreJoinedBySpaces) {
  const HfTokenizer tokenizer = FromTiny(TinyTokenizer());
  EXPECT_EQ(*tokenizer.Decode({*tokenizer.TokenToId("ab"), *tokenizer.TokenToId("c")}), "ab c");
}

TEST(HfTokenizerUnigram, ByteFallbackAndUnknownRuns) {
  // Pieces: a (-1), b (-1), ab (-1.5: "ab" beats "a" + "b" = -2), <0xNN> for
  // the bytes of é only; the JavaScript port has no Unigram byte fallback.
  Json json = TinyTokenizer();
  Json vocab = Json::array({Json::array({"<unk>", 0.0}), Json::array({"a", -1.0}),
                            Json::array({"b", -1.0}), Json::array({"ab", -1.5}),
                            Json::array({"<0xC3>", -5.0}), Json::array({"<0xA9>", -5.0})});
  json["model"] = {{"type", "Unigram"}, {"unk_id", 0}, {"vocab", vocab}, {"byte_fallback", false}};
  const HfTokenizer plain = FromTiny(json);
  EXPECT_EQ(plain.Encode("abba"), (std::vector<int>{3, 2, 1}));
  // Uncovered characters: one unk for each run, between known pieces.
  EXPECT_EQ(plain.Encode("axyzb\u00e9"), (std::vector<int>{1, 0, 2, 0}));
  json["model"]["byte_fallback"] = true;
  const HfTokenizer fallback = FromTiny(json);
  // The run "é" has byte pieces; "xé" does not (no <0x78>), so it stays unk.
  EXPECT_EQ(fallback.Encode("a\u00e9"), (std::vector<int>{1, 4, 5}));
  EXPECT_EQ(fallback.Encode("ax\u00e9"), (std::vector<int>{1, 0}));
  json["model"]["unk_id"] = 9;
  EXPECT_THAT(HfTokenizer::FromJson(json.dump(), "tiny.json").status().message(),
              HasSubstr("model.unk_id: 9 is not a piece of model.vocab"));
}

// ---- Refusals and errors ------------------------------------------------------

struct Refusal {
  std::string pointer;  // JSON pointer into TinyTokenizer()
  std::string value;    // JSON text put there
  std::string message;  // a substring of the error
};

void ExpectRefused(const Refusal& refusal) {
  SCOPED_TRACE(refusal.pointer + " = " + refusal.value);
  Json json = TinyTokenizer();
  json[Json::json_pointer(refusal.pointer)] = Json::parse(refusal.value);
  auto tokenizer = HfTokenizer::FromJson(json.dump(), "tiny.json");
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tokenizer.status().message(), HasSubstr(refusal.message));
}

TEST(HfTokenizerLoad, RefusesEachUnimplementedFeatureByName) {
  const Refusal refusals[] = {
      {"/pre_tokenizer", R"({"type": "BertPreTokenizer"})",
       "tiny.json: pre_tokenizer: type \"BertPreTokenizer\" is not supported"},
      {"/pre_tokenizer",
       R"({"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true},
                                                 {"type": "Whitespace"}]})",
       "pre_tokenizer.pretokenizers[1]: type \"Whitespace\" is not supported"},
      {"/pre_tokenizer", R"({"type": "Punctuation"})", "type \"Punctuation\" is not supported"},
      {"/pre_tokenizer", R"({"type": "UnicodeScripts"})", "type \"UnicodeScripts\""},
      {"/normalizer", R"({"type": "BertNormalizer"})", "normalizer: type \"BertNormalizer\""},
      {"/normalizer", R"({"type": "Precompiled", "precompiled_charsmap": ""})",
       "normalizer: type \"Precompiled\" is not supported"},
      {"/normalizer", R"({"type": "StripAccents"})", "type \"StripAccents\" is not supported"},
      {"/model/type", R"("WordPiece")", "model: type \"WordPiece\" is not supported"},
      {"/model/type", R"("WordLevel")", "model: type \"WordLevel\" is not supported"},
      {"/model/type", R"("Unigram")", "model: key \"continuing_subword_prefix\" is not supported"},
      {"/model/dropout", "0.1", "model.dropout: BPE dropout is not supported"},
      {"/model/continuing_subword_prefix", R"("##")", "model.continuing_subword_prefix"},
      {"/model/end_of_word_suffix", R"("</w>")", "model.end_of_word_suffix"},
      {"/post_processor", R"({"type": "RobertaProcessing"})",
       "post_processor: type \"RobertaProcessing\" is not supported"},
      {"/post_processor", R"({"type": "BertProcessing"})", "type \"BertProcessing\""},
      {"/decoder", R"({"type": "WordPiece"})", "decoder: type \"WordPiece\" is not supported"},
      {"/decoder", R"({"type": "CTC"})", "decoder: type \"CTC\" is not supported"},
      {"/decoder", R"({"type": "BPEDecoder"})", "decoder: type \"BPEDecoder\" is not supported"},
      {"/truncation", R"({"max_length": 8})", "truncation: is not supported (must be null)"},
      {"/padding", R"({"strategy": "BatchLongest"})", "padding: is not supported (must be null)"},
      {"/pre_tokenizer", R"({"type": "ByteLevel", "add_prefix_space": false, "shiny": true})",
       "pre_tokenizer: key \"shiny\" is not supported"},
      {"/pre_tokenizer",
       R"({"type": "Split", "pattern": {"String": "-"}, "behavior": "Sideways", "invert": false})",
       "pre_tokenizer.behavior: \"Sideways\" is not supported"},
      {"/extra_top_level_key", "1", "(root): key \"extra_top_level_key\" is not supported"},
  };
  for (const Refusal& refusal : refusals) ExpectRefused(refusal);
}

TEST(HfTokenizerLoad, ErrorsNameTheFileAndTheField) {
  const Refusal errors[] = {
      {"/model/vocab", R"("not an object")", "tiny.json: model.vocab: must be an object"},
      {"/model/merges/0", R"("ab")", "tiny.json: model.merges[0]: must be two tokens separated"},
      {"/model/merges/0", R"(["a", "zz"])", "model.merges[0]: \"zz\" is not in model.vocab"},
      {"/model/unk_token", R"("<nope>")", "model.unk_token: \"<nope>\" is not in model.vocab"},
      {"/added_tokens", R"([{"id": 99}])", "added_tokens[0].content: is missing"},
      {"/added_tokens", R"([{"id": "x", "content": "<x>"}])",
       "added_tokens[0].id: must be an integer"},
      {"/pre_tokenizer",
       R"({"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated",
           "invert": false})",
       "pre_tokenizer.pattern.Regex: pattern does not compile"},
      {"/post_processor",
       R"({"type": "TemplateProcessing",
           "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}},
                      {"Sequence": {"id": "A", "type_id": 0}}],
           "pair": null, "special_tokens": {}})",
       "post_processor.single[0].SpecialToken.id: \"<bos>\" is not in special_tokens"},
      {"/post_processor",
       R"({"type": "TemplateProcessing", "single": [{"Sequence": {"id": "B", "type_id": 0}}],
           "pair": null, "special_tokens": {}})",
       "post_processor.single[0].Sequence.id: \"B\" is not a sequence of this template"},
      {"/decoder", R"({"type": "Strip", "content": "ab", "start": 1, "stop": 0})",
       "decoder.content: must be exactly one character"},
      {"/model/vocab/abc", "33554432", "model.vocab.abc: must be an integer id in [0, 16777215]"},
      {"/added_tokens", R"([{"id": -1, "content": "<x>"}])", "added_tokens[0].id: must be in"},
  };
  for (const Refusal& error : errors) ExpectRefused(error);
  Json no_model = TinyTokenizer();
  no_model.erase("model");
  EXPECT_THAT(HfTokenizer::FromJson(no_model.dump(), "tiny.json").status().message(),
              HasSubstr("tiny.json: model: is missing"));
  Json no_vocab = TinyTokenizer();
  no_vocab["model"].erase("vocab");
  EXPECT_THAT(HfTokenizer::FromJson(no_vocab.dump(), "tiny.json").status().message(),
              HasSubstr("tiny.json: model.vocab: is missing"));
}

TEST(HfTokenizerLoad, MalformedJsonAndMissingFilesSayWhere) {
  auto malformed = HfTokenizer::FromJson("{\"model\": {", "/models/x/tokenizer.json");
  ASSERT_FALSE(malformed.ok());
  EXPECT_THAT(malformed.status().message(),
              HasSubstr("/models/x/tokenizer.json: not valid JSON"));
  auto missing = HfTokenizer::Load("/nonexistent/tokenizer.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/tokenizer.json"));
}

// ---- Decoding -----------------------------------------------------------------

TEST(HfTokenizerDecode, IdsOutsideTheVocabularyAreInvalidArgument) {
  const HfTokenizer tokenizer = LoadFixture("qwen2");
  for (int bad : {-1, tokenizer.vocab_size(), 1 << 30}) {
    auto decoded = tokenizer.Decode({1, bad});
    ASSERT_FALSE(decoded.ok()) << bad;
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(decoded.status().message(), HasSubstr("position 1"));
  }
  auto empty = tokenizer.Decode({});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

TEST(HfTokenizerDecode, ByteLevelRoundTripsAnyValidUtf8) {
  std::mt19937 rng(15);
  // Code points from every plane that has characters, surrogates excluded.
  std::uniform_int_distribution<int> plane(0, 3);
  auto random_text = [&] {
    std::string text;
    const int length = std::uniform_int_distribution<int>(0, 40)(rng);
    for (int i = 0; i < length; ++i) {
      static const int kLimits[] = {0x80, 0x800, 0x10000, 0x110000};
      int cp = std::uniform_int_distribution<int>(0, kLimits[plane(rng)] - 1)(rng);
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = ' ';
      utf8::AppendCodePoint(cp, &text);
    }
    return text;
  };
  for (const char* name : {"gpt2", "llama3", "deepseek_v3", "llama3_ignore_merges"}) {
    const HfTokenizer tokenizer = LoadFixture(name);
    for (int trial = 0; trial < 300; ++trial) {
      const std::string text = random_text();
      auto decoded = tokenizer.Decode(tokenizer.Encode(text));
      ASSERT_TRUE(decoded.ok());
      ASSERT_EQ(*decoded, text) << name << " " << Escaped(text);
    }
  }
}

TEST(HfTokenizerDecode, InvalidUtf8NeverCrashesAndRoundTripsAsBytes) {
  // Stray continuation, truncated sequences, an overlong form, a surrogate,
  // bytes that never occur in UTF-8, and a truncated sequence at the end.
  const std::string text =
      "ok \x80 \xE4\xB8 z\xC0\xAF \xED\xA0\x80 \xFF\xFE <|im_start|>\xF0\x9F\x98 end\xE4";
  for (const char* name : {"gpt2", "llama3", "qwen2", "deepseek_v3", "added_flags"}) {
    const HfTokenizer tokenizer = LoadFixture(name);
    const std::vector<int> ids = tokenizer.Encode(text);
    auto bytes = tokenizer.DecodeBytes(ids);
    ASSERT_TRUE(bytes.ok());
    if (std::string(name) != "added_flags") {  // added_flags lowercases
      EXPECT_EQ(*bytes, text) << name;
    }
    auto repaired = tokenizer.Decode(ids);
    ASSERT_TRUE(repaired.ok());
    EXPECT_TRUE(utf8::IsValid(*repaired)) << name;
  }
  // Byte-level decode replaces each maximal ill-formed subpart with one U+FFFD.
  EXPECT_EQ(*LoadFixture("gpt2").Decode(LoadFixture("gpt2").Encode("a\xE4\xB8z\xFF")),
            "a\uFFFDz\uFFFD");
  // Byte fallback: the <0xNN> pieces carry the raw bytes; Decode, as Rust's
  // ByteFallback decoder, makes an invalid run one U+FFFD per byte.
  const HfTokenizer llama2 = LoadFixture("llama2");
  const std::vector<int> ids = llama2.Encode("a\xE4\xB8z");
  EXPECT_EQ(*llama2.DecodeBytes(ids), "a\xE4\xB8z");
  EXPECT_EQ(*llama2.Decode(ids), "a\uFFFD\uFFFDz");
  EXPECT_TRUE(llama2.Decode(llama2.Encode(text)).ok());
  EXPECT_TRUE(LoadFixture("mistral_metaspace").Decode(LoadFixture("mistral_metaspace").Encode(text)).ok());
  EXPECT_TRUE(LoadFixture("normalizers_unk").Decode(LoadFixture("normalizers_unk").Encode(text)).ok());
}

// ---- Where the JavaScript port differs from the Rust library --------------------

TEST(HfTokenizerDivergence, MetaspaceDecoderDropsEveryReplacementOfTheFirstToken) {
  const HfTokenizer tokenizer = LoadFixture("mistral_metaspace");
  const std::vector<int> ids = tokenizer.Encode("   ");
  ASSERT_FALSE(ids.empty());
  // The expected text by the Rust rule, from the tokens themselves.
  std::string expected;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string token = tokenizer.IdToToken(ids[i]);
    for (size_t pos = token.find("\u2581"); pos != std::string::npos; pos = token.find("\u2581")) {
      token.replace(pos, 3, i == 0 ? "" : " ");
    }
    expected += token;
  }
  EXPECT_EQ(*tokenizer.Decode(ids), expected);
  EXPECT_LT(expected.size(), 3u);  // the port would give two spaces back
}

TEST(HfTokenizerDivergence, ByteFallbackKeepsAByteOrderMark) {
  const HfTokenizer tokenizer = LoadFixture("llama2");
  EXPECT_EQ(*tokenizer.Decode(tokenizer.Encode("and\uFEFFbom")), "and\uFEFFbom");
}

TEST(HfTokenizerDivergence, DigitsSplitsEveryNumericCharacter) {
  const HfTokenizer tokenizer = LoadFixture("normalizers_unk");
  // Arabic-Indic digits are numeric to Rust's char::is_numeric: each is its
  // own piece (so each gets its own ▁ and <unk>), as ASCII digits are.
  std::vector<int> expected = tokenizer.Encode("\u0663");
  const std::vector<int> second = tokenizer.Encode("\u0664");
  expected.insert(expected.end(), second.begin(), second.end());
  EXPECT_EQ(tokenizer.Encode("\u0663\u0664"), expected);
}

TEST(HfTokenizerAddedTokens, SingleWordMatchesOnlyWholeWords) {
  const HfTokenizer tokenizer = LoadFixture("added_flags");
  const int magic = *tokenizer.TokenToId("magic");
  auto contains_magic = [&](const std::string& text) {
    const std::vector<int> ids = tokenizer.Encode(text);
    return std::find(ids.begin(), ids.end(), magic) != ids.end();
  };
  EXPECT_TRUE(contains_magic("a magic b"));
  EXPECT_TRUE(contains_magic("(magic)"));
  EXPECT_FALSE(contains_magic("magical"));
  EXPECT_FALSE(contains_magic("unmagic"));
  EXPECT_FALSE(contains_magic("_magic"));    // `_` is a word character
  EXPECT_FALSE(contains_magic("\u00e9magic"));  // so is é
}

TEST(HfTokenizerAddedTokens, KeepTheirIdsAndFlags) {
  const HfTokenizer tokenizer = LoadFixture("added_flags");
  const auto& added = tokenizer.added_tokens();
  ASSERT_FALSE(added.empty());
  for (size_t i = 1; i < added.size(); ++i) EXPECT_LT(added[i - 1].id, added[i].id);
  // "The" is in the model's vocabulary and an added token with the same id.
  const int the = *tokenizer.TokenToId("The");
  EXPECT_EQ(tokenizer.Encode("The"), std::vector<int>{the});
  EXPECT_FALSE(tokenizer.IsSpecial(the));
  const int special = *tokenizer.TokenToId("<|special|>");
  EXPECT_TRUE(tokenizer.IsSpecial(special));
  EXPECT_EQ(tokenizer.IdToToken(special), "<|special|>");
  EXPECT_EQ(tokenizer.vocab_size(), added.back().id + 1);
  EXPECT_FALSE(tokenizer.TokenToId("no such token").has_value());
  EXPECT_EQ(tokenizer.IdToToken(-5), "");
}

TEST(HfTokenizerThreads, PieceCacheOverflowKeepsResults) {
  // More distinct pieces than one thread's cache holds (2^17): the cache
  // starts over mid-text and the ids must not change.
  const HfTokenizer tokenizer = LoadFixture("gpt2");
  std::string text;
  for (int i = 0; i < 150000; ++i) text += " " + std::to_string(i * 7919 % 1000003);
  const std::vector<int> first = tokenizer.Encode(text);
  EXPECT_EQ(tokenizer.Encode(text), first);
  std::vector<int> fresh_thread;
  std::thread([&] { fresh_thread = tokenizer.Encode(text); }).join();
  EXPECT_EQ(fresh_thread, first);
  EXPECT_EQ(*tokenizer.Decode(first), text);
}

TEST(HfTokenizerThreads, ConcurrentEncodesAgree) {
  const HfTokenizer tokenizer = LoadFixture("qwen2");
  std::string text;
  for (int i = 0; i < 50; ++i) {
    text += "<|im_start|>user\nWhat is 12345 + 678? 東京 \U0001F469\u200D\U0001F4BB café<|im_end|>\n";
  }
  const std::vector<int> expected = tokenizer.Encode(text, true);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        if (tokenizer.Encode(text, true) != expected) ++mismatches[t];
        auto decoded = tokenizer.Decode(expected);
        if (!decoded.ok() || *decoded != text) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace r1
