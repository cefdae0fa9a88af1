#include "common/subprocess.h"

#include <signal.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"

namespace r1 {
namespace {

TEST(Subprocess, ReportsExitCodes) {
  auto ok = Subprocess::Start({"/bin/true"});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)->Wait().value(), 0);
  auto three = Subprocess::Start({"/bin/sh", "-c", "exit 3"});
  ASSERT_TRUE(three.ok());
  EXPECT_EQ((*three)->Wait().value(), 3);
  EXPECT_FALSE((*three)->Running());
}

TEST(Subprocess, AMissingProgramIsAnErrorNotExit127) {
  auto missing = Subprocess::Start({"/nonexistent/program"});
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(missing.status()));
  EXPECT_NE(missing.status().message().find("/nonexistent/program"), std::string::npos);
}

TEST(Subprocess, RedirectsOutputAndStopsALongRunningChild) {
  const std::string dir = std::filesystem::temp_directory_path() / absl::StrCat("r1_subprocess_", getpid());
  std::filesystem::create_directories(dir);
  SubprocessOptions options;
  options.stdout_path = dir + "/out";
  auto echo = Subprocess::Start({"/bin/sh", "-c", "echo hello"}, options);
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ((*echo)->Wait().value(), 0);
  EXPECT_EQ(ReadFile(dir + "/out").value(), "hello\n");

  auto sleeper = Subprocess::Start({"/bin/sleep", "100"});
  ASSERT_TRUE(sleeper.ok());
  EXPECT_TRUE((*sleeper)->Running());
  EXPECT_TRUE(absl::IsDeadlineExceeded((*sleeper)->Wait(absl::Milliseconds(50)).status()));
  EXPECT_EQ((*sleeper)->Stop(), 128 + SIGTERM);
  std::filesystem::remove_all(dir);
}

TEST(Subprocess, DestructorLeavesNoChildBehind) {
  pid_t pid = 0;
  {
    auto sleeper = Subprocess::Start({"/bin/sleep", "100"});
    ASSERT_TRUE(sleeper.ok());
    pid = (*sleeper)->pid();
  }
  EXPECT_NE(kill(pid, 0), 0);  // reaped: the pid is gone
}

}  // namespace
}  // namespace r1
