#include "sandbox/limits.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace r1::sandbox {
namespace {

using ::testing::HasSubstr;

TEST(ValidateLimits, DefaultsAreValid) {
  EXPECT_TRUE(ValidateLimits(Limits()).ok());
  EXPECT_TRUE(ValidateLimits(DefaultCompileLimits()).ok());
}

TEST(ValidateLimits, NamesTheBadField) {
  Limits limits;
  limits.cpu_seconds = 0;
  EXPECT_THAT(ValidateLimits(limits).message(), HasSubstr("cpu_seconds"));
  limits = Limits();
  limits.wall_seconds = -1;
  EXPECT_THAT(ValidateLimits(limits).message(), HasSubstr("wall_seconds"));
  limits = Limits();
  limits.max_processes = 0;
  EXPECT_THAT(ValidateLimits(limits).message(), HasSubstr("max_processes"));
  limits = Limits();
  limits.max_file_bytes = 0;
  EXPECT_THAT(ValidateLimits(limits).message(), HasSubstr("max_file_bytes"));
  limits = Limits();
  limits.max_output_bytes = 0;
  EXPECT_THAT(ValidateLimits(limits).message(), HasSubstr("max_output_bytes"));
}

TEST(ValidateLimits, RefusesLimitsTheSandboxItselfCannotStartUnder) {
  Limits limits;
  limits.memory_bytes = 1 << 20;
  EXPECT_EQ(ValidateLimits(limits).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ValidateLimits(limits).message(), HasSubstr("memory_bytes"));
  limits = Limits();
  limits.max_open_files = 4;
  EXPECT_THAT(ValidateLimits(limits).message(), HasSubstr("max_open_files"));
}

}  // namespace
}  // namespace r1::sandbox
