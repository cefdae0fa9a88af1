#include "sandbox/compare.h"

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
  EXPECT_EQ(ValidateSubmission(s).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace r1::sandbox
