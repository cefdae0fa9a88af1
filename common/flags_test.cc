#include "common/flags.h"

#include <gtest/gtest.h>

namespace r1 {
namespace {

struct Fixture {
  std::string name = "default";
  int64_t count = 3;
  double rate = 0.5;
  bool verbose = false;
  std::vector<std::string> sets;
  std::vector<std::string> files;
  FlagSet flags{"r1 test", "A test command."};
  Fixture() {
    flags.AddString("name", &name, "a name");
    flags.AddInt("count", &count, "a count");
    flags.AddDouble("rate", &rate, "a rate");
    flags.AddBool("verbose", &verbose, "talk more");
    flags.AddList("set", &sets, "an override");
  }
};

TEST(FlagSet, ParsesBothSpellingsAndKeepsDefaults) {
  Fixture f;
  ASSERT_TRUE(f.flags.Parse({"--name=abc", "--count", "7", "--verbose"}).ok());
  EXPECT_EQ(f.name, "abc");
  EXPECT_EQ(f.count, 7);
  EXPECT_TRUE(f.verbose);
  EXPECT_DOUBLE_EQ(f.rate, 0.5);
  EXPECT_TRUE(f.flags.WasSet("count"));
  EXPECT_FALSE(f.flags.WasSet("rate"));
}

TEST(FlagSet, BoolTakesExplicitValuesAndNegation) {
  Fixture f;
  f.verbose = true;
  ASSERT_TRUE(f.flags.Parse({"--noverbose"}).ok());
  EXPECT_FALSE(f.verbose);
  ASSERT_TRUE(f.flags.Parse({"--verbose=true"}).ok());
  EXPECT_TRUE(f.verbose);
  EXPECT_FALSE(f.flags.Parse({"--verbose=maybe"}).ok());
}

TEST(FlagSet, ListFlagAccumulates) {
  Fixture f;
  ASSERT_TRUE(f.flags.Parse({"--set", "a=1", "--set=b=2"}).ok());
  EXPECT_EQ(f.sets, (std::vector<std::string>{"a=1", "b=2"}));
}

TEST(FlagSet, UnknownFlagIsOneLineErrorNamingItAndTheHelp) {
  Fixture f;
  absl::Status s = f.flags.Parse({"--nmae=x"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "r1 test: unknown flag --nmae (see r1 test --help)");
}

TEST(FlagSet, BadNumbersAndMissingValuesAreErrors) {
  Fixture f;
  EXPECT_NE(f.flags.Parse({"--count=seven"}).message().find("--count expects an integer"), std::string::npos);
  EXPECT_NE(f.flags.Parse({"--rate", "fast"}).message().find("--rate expects a number"), std::string::npos);
  EXPECT_NE(f.flags.Parse({"--name"}).message().find("--name needs a value"), std::string::npos);
  EXPECT_NE(f.flags.Parse({"-n"}).message().find("flags are spelled --name"), std::string::npos);
}

TEST(FlagSet, RequiredFlagMustBeGiven) {
  Fixture f;
  f.flags.Require("name");
  absl::Status s = f.flags.Parse({"--count=1"});
  EXPECT_NE(s.message().find("missing required flag --name"), std::string::npos);
  EXPECT_TRUE(f.flags.Parse({"--name=x"}).ok());
}

TEST(FlagSet, PositionalArgumentsAreCountedAndDoubleDashEndsFlags) {
  Fixture f;
  f.flags.Positional("FILE", 1, 2, &f.files, "input files");
  EXPECT_NE(f.flags.Parse({}).message().find("missing argument FILE"), std::string::npos);
  EXPECT_NE(f.flags.Parse({"a", "b", "c"}).message().find("unexpected argument \"c\""), std::string::npos);
  ASSERT_TRUE(f.flags.Parse({"--", "--weird-name"}).ok());
  EXPECT_EQ(f.files, std::vector<std::string>{"--weird-name"});
}

TEST(FlagSet, PositionalWithoutDeclarationIsAnError) {
  Fixture f;
  EXPECT_NE(f.flags.Parse({"stray"}).message().find("unexpected argument \"stray\""), std::string::npos);
}

TEST(FlagSet, HelpStopsParsingAndUsageListsFlagsWithDefaults) {
  Fixture f;
  f.flags.Require("name");
  ASSERT_TRUE(f.flags.Parse({"--help", "--unknown"}).ok());
  EXPECT_TRUE(f.flags.help_requested());
  const std::string usage = f.flags.Usage();
  EXPECT_NE(usage.find("usage: r1 test"), std::string::npos);
  EXPECT_NE(usage.find("--count"), std::string::npos);
  EXPECT_NE(usage.find("(default 3)"), std::string::npos);
  EXPECT_NE(usage.find("(required)"), std::string::npos);
  EXPECT_NE(usage.find("(repeatable)"), std::string::npos);
}

}  // namespace
}  // namespace r1
