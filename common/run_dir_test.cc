#include "common/run_dir.h"

#include <gtest/gtest.h>

namespace r1 {
namespace {

TEST(RunDir, ConfiguredFolderWinsOverTheName) {
  config::RunConfig run;
  run.set_name("tiny");
  EXPECT_EQ(RunDir(run), "runs/tiny");
  run.set_run_dir("/data/experiment");
  EXPECT_EQ(RunDir(run), "/data/experiment");
}

}  // namespace
}  // namespace r1
