#include "sandbox/compare.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sandbox/judge.h"

namespace r1::sandbox {
namespace {

TEST(StdoutMatches, IgnoresTrailingWhitespaceAndBlankLines) {
  EXPECT_TRUE(StdoutMatches("1 2\n3\n", "1 2   \r\n3\t\n\n\n"));
  EXPECT_TRUE(StdoutMatches("42", "42\n"));
  EXPECT_TRUE(StdoutMatches("", "\n \n"));
}

TEST(StdoutMatches, KeepsLeadingWhitespaceAndInnerBlankLines) {
  EXPECT_FALSE(StdoutMatches("1\n2", " 1\n2"));
  EXPECT_FALSE(StdoutMatches("1\n2", "1\n\n2"));
  EXPECT_FALSE(StdoutMatches("1 2", "1  2"));
  EXPECT_FALSE(StdoutMatches("1", ""));
}

TEST(StdoutDifference, NamesFirstDifferingLine) {
  EXPECT_EQ(StdoutDifference("a\nb\n", "a\nc\n"), "line 2: expected \"b\", got \"c\"");
  EXPECT_EQ(StdoutDifference("a\nb", "a"), "line 2: expected \"b\", got end of output");
  EXPECT_EQ(StdoutDifference("a", "a  \n"), "");
}

CompareSpec Spec(absl::string_view text) {
  absl::StatusOr<CompareSpec> spec = ParseCompareSpec(text);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : CompareSpec{};
}

bool Matches(absl::string_view mode, absl::string_view expected, absl::string_view actual) {
  return CompareOutput(Spec(mode), expected, actual).match;
}

TEST(ParseCompareSpec, AcceptsTheModesAndTolerances) {
  EXPECT_EQ(Spec("exact").mode, CompareMode::kExact);
  EXPECT_EQ(Spec("lines").mode, CompareMode::kLines);
  EXPECT_EQ(Spec("tokens").mode, CompareMode::kTokens);
  const CompareSpec numeric = Spec("numeric");
  EXPECT_EQ(numeric.mode, CompareMode::kNumeric);
  EXPECT_EQ(numeric.abs_tolerance, 1e-6);
  EXPECT_EQ(numeric.rel_tolerance, 1e-6);
  const CompareSpec both = Spec("numeric:1e-4");
  EXPECT_EQ(both.abs_tolerance, 1e-4);
  EXPECT_EQ(both.rel_tolerance, 1e-4);
  const CompareSpec abs_only = Spec("numeric:abs=0.01");
  EXPECT_EQ(abs_only.abs_tolerance, 0.01);
  EXPECT_EQ(abs_only.rel_tolerance, 0);
  const CompareSpec rel_only = Spec("numeric:rel=1e-9");
  EXPECT_EQ(rel_only.abs_tolerance, 0);
  EXPECT_EQ(rel_only.rel_tolerance, 1e-9);
  const CompareSpec keyed = Spec("numeric:rel=2e-9,abs=3e-5");
  EXPECT_EQ(keyed.abs_tolerance, 3e-5);
  EXPECT_EQ(keyed.rel_tolerance, 2e-9);
  EXPECT_EQ(Spec("numeric:0").abs_tolerance, 0);
  EXPECT_EQ(CompareSpecName(Spec("tokens")), "tokens");
  EXPECT_EQ(CompareSpecName(Spec("numeric:abs=0.5,rel=0.25")), "numeric:abs=0.5,rel=0.25");
  // The name reads back as the same spec.
  const CompareSpec again = Spec(CompareSpecName(keyed));
  EXPECT_EQ(again.abs_tolerance, keyed.abs_tolerance);
  EXPECT_EQ(again.rel_tolerance, keyed.rel_tolerance);
}

TEST(ParseCompareSpec, RefusesAnythingElseNamingIt) {
  for (absl::string_view bad :
       {"", "fuzzy", "Tokens", " tokens", "tokens ", "exact:1", "numeric:", "numeric:abc",
        "numeric:-1e-6", "numeric:nan", "numeric:inf", "numeric:1e999", "numeric:1", "numeric:rel=1",
        "numeric:abs=", "numeric:abs=1e-3,abs=1e-4", "numeric:foo=1", "numeric:abs=1e-3,",
        "numeric: 1e-3", "numeric1e-3", "numericx"}) {
    absl::StatusOr<CompareSpec> spec = ParseCompareSpec(bad);
    ASSERT_FALSE(spec.ok()) << "accepted \"" << bad << "\"";
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(spec.status().message().find(absl::StrCat("\"", bad, "\"")), absl::string_view::npos)
        << spec.status();
    EXPECT_NE(spec.status().message().find("exact, lines, tokens, numeric"), absl::string_view::npos);
  }
}

TEST(CompareOutput, DefaultModeIsTokens) {
  EXPECT_EQ(CompareSpec{}.mode, CompareMode::kTokens);
}

TEST(CompareOutput, ExactIsByteForByteUpToOneFinalNewline) {
  EXPECT_TRUE(Matches("exact", "1 2\n3", "1 2\n3"));
  EXPECT_TRUE(Matches("exact", "42", "42\n"));
  EXPECT_TRUE(Matches("exact", "42\n", "42"));
  EXPECT_TRUE(Matches("exact", "", ""));
  EXPECT_TRUE(Matches("exact", "", "\n"));
  EXPECT_FALSE(Matches("exact", "42", "42\n\n"));
  EXPECT_FALSE(Matches("exact", "42", "42 "));
  EXPECT_FALSE(Matches("exact", "42\n", "42\r\n"));
  EXPECT_FALSE(Matches("exact", "1 2", "1  2"));
  EXPECT_FALSE(Matches("exact", "1 2", "1\n2"));
  EXPECT_FALSE(Matches("exact", "1", " 1"));
  EXPECT_FALSE(Matches("exact", "0.5", "0.50"));
  EXPECT_FALSE(Matches("exact", "a", ""));
  EXPECT_FALSE(Matches("exact", "", "\n\n"));
  EXPECT_EQ(CompareOutput(Spec("exact"), "ab\ncd\n", "ab\ncx\n").difference,
            "line 2, column 2: expected \"d\", got \"x\"");
  EXPECT_EQ(CompareOutput(Spec("exact"), "ab", "ab  ").difference,
            "line 1, column 3: expected end of output, got \"  \"");
}

TEST(CompareOutput, LinesIsTheOldStdoutComparison) {
  EXPECT_TRUE(Matches("lines", "1 2\n3\n", "1 2   \r\n3\t\n\n\n"));
  EXPECT_FALSE(Matches("lines", "1\n2", "1 2"));
  EXPECT_FALSE(Matches("lines", "1 2", "1  2"));
  EXPECT_FALSE(Matches("lines", "1\n2", "1\n\n2"));
  EXPECT_EQ(CompareOutput(Spec("lines"), "a\nb\n", "a\nc\n").difference,
            "line 2: expected \"b\", got \"c\"");
}

TEST(CompareOutput, TokensIgnoreWhitespaceButNotTokenBoundaries) {
  EXPECT_TRUE(Matches("tokens", "1 2\n3\n", "1 2 3"));
  EXPECT_TRUE(Matches("tokens", "1 2", "  1\t\t2 \r\n\n\v\f"));
  EXPECT_TRUE(Matches("tokens", "1\n2", "1 2"));
  EXPECT_TRUE(Matches("tokens", "", " \n \n"));
  EXPECT_TRUE(Matches("tokens", "Yes", "Yes\n"));
  EXPECT_FALSE(Matches("tokens", "1 2", "12"));
  EXPECT_FALSE(Matches("tokens", "12", "1 2"));
  EXPECT_FALSE(Matches("tokens", "Yes", "YES"));
  EXPECT_FALSE(Matches("tokens", "1 2", "1 2 3"));
  EXPECT_FALSE(Matches("tokens", "1 2 3", "1 2"));
  EXPECT_FALSE(Matches("tokens", "1", ""));
  EXPECT_FALSE(Matches("tokens", "", "0"));
  EXPECT_FALSE(Matches("tokens", "0.5", "0.50"));
  EXPECT_FALSE(Matches("tokens", "7", "07"));
  EXPECT_FALSE(Matches("tokens", "a", std::string("a\0", 2)));  // NUL is not whitespace
  EXPECT_FALSE(Matches("tokens", "1 2", "1\xc2\xa0" "2"));     // nor is U+00A0
  EXPECT_FALSE(Matches("tokens", "a b", "a,b"));
}

TEST(CompareOutput, TokensNameTheFirstDifferingToken) {
  EXPECT_EQ(CompareOutput(Spec("tokens"), "8\n", "7\n").difference,
            "line 1: expected \"8\", got \"7\"");
  EXPECT_EQ(CompareOutput(Spec("tokens"), "1 2\n3 4\n", "1 2 3 5").difference,
            "line 2: expected \"4\", got \"5\"");
  EXPECT_EQ(CompareOutput(Spec("tokens"), "1\n2\n", "1").difference,
            "line 2: expected \"2\", got end of output");
  EXPECT_EQ(CompareOutput(Spec("tokens"), "1", "1\n\n2").difference,
            "line 3: expected end of output, got \"2\"");
  EXPECT_EQ(CompareOutput(Spec("tokens"), "a", "a").difference, "");
}

TEST(CompareOutput, NumericComparesNumbersWithinTolerance) {
  EXPECT_TRUE(Matches("numeric", "0.5", "0.50"));
  EXPECT_TRUE(Matches("numeric", "0.50", "0.5"));
  EXPECT_TRUE(Matches("numeric", "0", "1e-7"));
  EXPECT_TRUE(Matches("numeric", "0", "-1e-7"));
  EXPECT_TRUE(Matches("numeric", "3.14159265", "3.1415929"));
  EXPECT_TRUE(Matches("numeric", "1000000.5", "1000000.9"));  // relative 4e-7
  EXPECT_TRUE(Matches("numeric", "3", "3.0000001"));
  EXPECT_TRUE(Matches("numeric", "3", "3.0"));
  EXPECT_TRUE(Matches("numeric", "1000", "1E3"));
  EXPECT_TRUE(Matches("numeric", "0.5", ".5"));
  EXPECT_TRUE(Matches("numeric", "5", "5."));
  EXPECT_TRUE(Matches("numeric", "5", "+5"));
  EXPECT_TRUE(Matches("numeric", "007", "7"));
  EXPECT_TRUE(Matches("numeric", "0", "-0"));
  EXPECT_TRUE(Matches("numeric", "-0.0", "0"));
  EXPECT_TRUE(Matches("numeric", "1.5 abc\n2", "1.50 abc 2.0000000"));
  EXPECT_TRUE(Matches("numeric", "Case #1: 0.333333", "Case #1: 0.3333333333"));
  EXPECT_TRUE(Matches("numeric", "1e300", "1.0000001e300"));
}

TEST(CompareOutput, NumericRejectsWrongNumbersAndWords) {
  EXPECT_FALSE(Matches("numeric", "0.5", "0.51"));
  EXPECT_FALSE(Matches("numeric", "0.5", "0.500002"));
  EXPECT_FALSE(Matches("numeric", "0", "1e-5"));
  EXPECT_FALSE(Matches("numeric", "-0.5", "0.5"));
  EXPECT_FALSE(Matches("numeric", "1 2", "12"));
  EXPECT_FALSE(Matches("numeric", "1 2", "1 2 0"));
  EXPECT_FALSE(Matches("numeric", "0.5", ""));
  EXPECT_FALSE(Matches("numeric", "abc", "abd"));
  EXPECT_FALSE(Matches("numeric", "Yes", "YES"));
  EXPECT_FALSE(Matches("numeric", "1.5", "1.5x"));
  EXPECT_FALSE(Matches("numeric", "1.5", "1,5"));
  EXPECT_FALSE(Matches("numeric", "16", "0x10"));
  EXPECT_FALSE(Matches("numeric", "1000", "1_000"));
  EXPECT_FALSE(Matches("numeric", "1", "e1"));
  EXPECT_FALSE(Matches("numeric", "0", "."));
  EXPECT_FALSE(Matches("numeric", "0", "-"));
  EXPECT_FALSE(Matches("numeric", "1", "1e"));
  // Integers on both sides compare exactly, however close relatively.
  EXPECT_FALSE(Matches("numeric", "1000000", "1000001"));
  EXPECT_FALSE(Matches("numeric", "123456789012345678901234567890", "123456789012345678901234567891"));
  EXPECT_FALSE(Matches("numeric", "9007199254740993", "9007199254740992"));
  EXPECT_TRUE(Matches("numeric", "123456789012345678901234567890", "0123456789012345678901234567890"));
}

TEST(CompareOutput, NumericNanAndInfinityAreWords) {
  EXPECT_TRUE(Matches("numeric", "nan", "nan"));
  EXPECT_FALSE(Matches("numeric", "nan", "NaN"));
  EXPECT_FALSE(Matches("numeric", "nan", "0"));
  EXPECT_FALSE(Matches("numeric", "0", "nan"));
  EXPECT_FALSE(Matches("numeric", "0", "-nan"));
  EXPECT_TRUE(Matches("numeric", "inf", "inf"));
  EXPECT_FALSE(Matches("numeric", "inf", "1e400"));
  EXPECT_FALSE(Matches("numeric", "inf", "infinity"));
  EXPECT_FALSE(Matches("numeric", "1e308", "inf"));
  // Beyond double range: compared as text.
  EXPECT_TRUE(Matches("numeric", "1e400", "1e400"));
  EXPECT_FALSE(Matches("numeric", "1e400", "1e401"));
  EXPECT_FALSE(Matches("numeric", "1e400", "-1e400"));
  EXPECT_FALSE(Matches("numeric", "1.7e308", "-1.7e308"));
  EXPECT_TRUE(Matches("numeric", "0", "1e-400"));  // underflows to 0: within tolerance
}

TEST(CompareOutput, NumericToleranceOptions) {
  EXPECT_TRUE(Matches("numeric:0", "0.50", "0.5"));
  EXPECT_FALSE(Matches("numeric:0", "0.5", "0.5000001"));
  EXPECT_TRUE(Matches("numeric:1e-2", "0.5", "0.505"));
  EXPECT_FALSE(Matches("numeric:1e-2", "0.5", "0.52"));
  // Absolute only: large values get no relative slack.
  EXPECT_TRUE(Matches("numeric:abs=1e-3", "0.0001", "0.0009"));
  EXPECT_FALSE(Matches("numeric:abs=1e-3", "1000.0", "1000.5"));
  // Relative only: relative to the expected value; nothing is near 0 but 0.
  EXPECT_TRUE(Matches("numeric:rel=1e-3", "1000.0", "1000.5"));
  EXPECT_FALSE(Matches("numeric:rel=1e-3", "0", "0.0001"));
  EXPECT_FALSE(Matches("numeric:rel=1e-3", "1", "2"));
  // Relative to the expected value, not the larger one.
  EXPECT_FALSE(Matches("numeric:rel=0.5", "1.0", "1.9"));
  EXPECT_TRUE(Matches("numeric:rel=0.5", "2.0", "1.1"));
}

TEST(CompareOutput, NumericDifferenceNamesTheTokens) {
  EXPECT_EQ(CompareOutput(Spec("numeric"), "0.5\n", "0.51\n").difference,
            "line 1: expected \"0.5\", got \"0.51\"");
  EXPECT_EQ(CompareOutput(Spec("numeric"), "0.5", "0.50").difference, "");
}

TEST(CompareOutput, AWrongAnswerFailsInEveryMode) {
  const std::vector<std::pair<std::string, std::string>> wrong = {
      {"1 2", "12"},   {"0.5", "0.51"}, {"Yes", "No"},  {"3", "4"},        {"1\n2", "2\n1"},
      {"a", ""},       {"", "a"},       {"1 2", "1"},   {"-1", "1"},       {"abc", "ab c"},
      {"1e-3", "2e-3"}, {"10", "10 10"}, {"x y", "y x"}, {"1000000", "1000001"}};
  for (absl::string_view mode : {"exact", "lines", "tokens", "numeric"}) {
    for (const auto& [expected, actual] : wrong) {
      const OutputComparison c = CompareOutput(Spec(mode), expected, actual);
      EXPECT_FALSE(c.match) << mode << ": \"" << expected << "\" vs \"" << actual << "\"";
      EXPECT_FALSE(c.difference.empty()) << mode;
    }
  }
}

TEST(JsonValuesMatch, IntegersExactFloatsRelative) {
  EXPECT_TRUE(*JsonValuesMatch("[1, 2, 3]", "[1,2,3]"));
  EXPECT_TRUE(*JsonValuesMatch("123456789012345678901234567890", "123456789012345678901234567890"));
  EXPECT_FALSE(*JsonValuesMatch("123456789012345678901234567890", "123456789012345678901234567891"));
  EXPECT_TRUE(*JsonValuesMatch("1.0", "1"));
  EXPECT_TRUE(*JsonValuesMatch("0.3333333", "0.33333333333"));
  EXPECT_FALSE(*JsonValuesMatch("0.333", "0.334"));
  EXPECT_TRUE(*JsonValuesMatch("1e300", "1.0000001e300"));
  EXPECT_FALSE(*JsonValuesMatch("0.0", "1e-12"));
  EXPECT_TRUE(*JsonValuesMatch("-0", "0"));
  EXPECT_TRUE(*JsonValuesMatch("NaN", "NaN"));
  EXPECT_TRUE(*JsonValuesMatch("-Infinity", "-Infinity"));
  EXPECT_FALSE(*JsonValuesMatch("Infinity", "1e308"));
}

TEST(JsonValuesMatch, BoolsAreNotNumbersAndNullIsItself) {
  EXPECT_FALSE(*JsonValuesMatch("true", "1"));
  EXPECT_TRUE(*JsonValuesMatch("false", " false "));
  EXPECT_FALSE(*JsonValuesMatch("null", "0"));
  EXPECT_TRUE(*JsonValuesMatch("null", "null"));
}

TEST(JsonValuesMatch, StringsArraysObjects) {
  EXPECT_TRUE(*JsonValuesMatch("\"caf\\u00e9\"", "\"caf\xc3\xa9\""));
  EXPECT_TRUE(*JsonValuesMatch("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\""));
  EXPECT_FALSE(*JsonValuesMatch("\"a\"", "\"a \""));
  EXPECT_FALSE(*JsonValuesMatch("[1, 2]", "[2, 1]"));
  EXPECT_FALSE(*JsonValuesMatch("[1]", "[1, 1]"));
  EXPECT_TRUE(*JsonValuesMatch(R"({"a": [1, {"b": null}], "c": "x"})", R"({"c":"x","a":[1,{"b":null}]})"));
  EXPECT_FALSE(*JsonValuesMatch(R"({"a": 1})", R"({"a": 1, "b": 2})"));
  EXPECT_TRUE(*JsonValuesMatch(R"({"a": 1, "a": 2})", R"({"a": 2})"));
}

TEST(JsonValuesMatch, RejectsNonJsonAndDeepNesting) {
  EXPECT_EQ(JsonValuesMatch("[1,", "[1]").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JsonValuesMatch("1", "1 2").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JsonValuesMatch("1", "01").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JsonValuesMatch("1", "{'a': 1}").status().code(), absl::StatusCode::kInvalidArgument);
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(JsonValuesMatch("1", deep).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CheckJsonArray, AcceptsOnlyArrays) {
  EXPECT_TRUE(CheckJsonArray("[1, \"a\", [2]]").ok());
  EXPECT_TRUE(CheckJsonArray(" [] ").ok());
  EXPECT_FALSE(CheckJsonArray("{\"a\": 1}").ok());
  EXPECT_FALSE(CheckJsonArray("1").ok());
}

TEST(Printable, ReplacesNonAsciiAndCuts) {
  EXPECT_EQ(Printable("ab\x01\xff\n", 10), "ab??\n");
  EXPECT_EQ(Printable("abcdef", 3), "abc...");
}

TEST(OutcomeName, SnakeCaseNames) {
  EXPECT_EQ(OutcomeName(Outcome::kPassed), "passed");
  EXPECT_EQ(OutcomeName(Outcome::kFailed), "failed");
  EXPECT_EQ(OutcomeName(Outcome::kTimeout), "timeout");
  EXPECT_EQ(OutcomeName(Outcome::kMemoryLimit), "memory");
  EXPECT_EQ(OutcomeName(Outcome::kRuntimeError), "runtime_error");
  EXPECT_EQ(OutcomeName(Outcome::kCompileError), "compile_error");
  EXPECT_EQ(OutcomeName(Outcome::kOutputLimit), "output_limit");
  EXPECT_EQ(OutcomeName(Outcome::kCancelled), "cancelled");
}

TEST(ValidateSubmission, RejectsBadData) {
  Submission s;
  EXPECT_EQ(ValidateSubmission(s).code(), absl::StatusCode::kInvalidArgument);  // no tests
  s.tests = {{"[1, 2]", "3"}};
  s.entry_point = "add";
  EXPECT_TRUE(ValidateSubmission(s).ok());
  s.entry_point = "os.system";
  EXPECT_EQ(ValidateSubmission(s).code(), absl::StatusCode::kInvalidArgument);
  s.entry_point = "add";
  s.tests = {{"1, 2", "3"}};
  EXPECT_EQ(ValidateSubmission(s).code(), absl::StatusCode::kInvalidArgument);
  s.tests = {{"[1]", "three"}};
  EXPECT_EQ(ValidateSubmission(s).code(), absl::StatusCode::kInvalidArgument);
  s.tests = {{"[1]", "3"}};
  s.language = Language::kCpp;
  EXPECT_TRUE(ValidateSubmission(s).ok());  // C++ function calls
  for (const char* bad : {"int", "class", "main", "Solution", "r1_harness", "a b", "f()", "1f", ""}) {
    s.entry_point = bad;
    if (s.entry_point.empty()) continue;
    const absl::Status status = ValidateSubmission(s);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(status.message().find(bad), absl::string_view::npos) << status;
  }
  s.entry_point = "twoSum";
  s.tests = {{"[1, 2", "3"}};
  EXPECT_EQ(ValidateSubmission(s).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace r1::sandbox
