// Prompt sources and the data-parallel environment: what a rank reads before
// it trains.
#include "rl/prompts.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "rl/distributed.h"

namespace r1::rl {
namespace {

config::DataConfig ArithmeticData() {
  config::DataConfig data;
  config::TaskConfig* task = data.add_tasks();
  task->set_kind(config::ARITHMETIC);
  task->set_difficulty(1);
  data.set_n_eval(50);
  return data;
}

TEST(PromptSource, GeneratedPromptsAreFixedByIndexAndAvoidTheEvalSet) {
  const config::DataConfig data = ArithmeticData();
  absl::StatusOr<std::vector<data::PromptRecord>> eval = tasks::LoadEvalPrompts(data, "");
  ASSERT_TRUE(eval.ok()) << eval.status();
  ASSERT_EQ(eval->size(), 50u);
  std::set<std::string> held_out;
  for (const auto& r : *eval) held_out.insert(r.prompt());
  // The train stream drawn with the eval seed would start with the eval set:
  // every one of those prompts must be replaced.
  config::DataConfig same_seed = data;
  same_seed.set_seed(data.eval_seed());
  absl::StatusOr<PromptSource> source = PromptSource::Create(same_seed, "", *eval);
  absl::StatusOr<PromptSource> again = PromptSource::Create(same_seed, "", *eval);
  ASSERT_TRUE(source.ok() && again.ok());
  for (int64_t i = 0; i < 200; ++i) {
    const data::PromptRecord record = source->Get(i);
    EXPECT_FALSE(held_out.count(record.prompt())) << "index " << i << ": " << record.prompt();
    EXPECT_EQ(record.prompt(), again->Get(i).prompt());
    EXPECT_FALSE(record.answer().empty());
  }
}

TEST(PromptSource, FileIsCycledInASeededOrderPerPass) {
  const std::string path = absl::StrCat(std::filesystem::temp_directory_path().string(), "/r1_prompts_", getpid(), ".jsonl");
  std::string text;
  for (int i = 0; i < 7; ++i) absl::StrAppend(&text, "{\"id\":\"p", i, "\",\"prompt\":\"q", i, "\",\"answer\":\"", i, "\"}\n");
  ASSERT_TRUE(WriteFileAtomically(path, text).ok());
  config::DataConfig data;
  data.set_train_prompts(path);
  absl::StatusOr<PromptSource> source = PromptSource::Create(data, "", {});
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ(source->size(), 7);
  std::vector<std::string> first, second;
  for (int64_t i = 0; i < 7; ++i) first.push_back(source->Get(i).id());
  for (int64_t i = 7; i < 14; ++i) second.push_back(source->Get(i).id());
  EXPECT_EQ(std::set<std::string>(first.begin(), first.end()).size(), 7u);  // each prompt once per pass
  EXPECT_EQ(std::set<std::string>(second.begin(), second.end()).size(), 7u);
  EXPECT_NE(first, second);  // a new order each pass
  EXPECT_EQ(source->Get(3).id(), first[3]);  // random access agrees with a sequential read

  ASSERT_TRUE(WriteFileAtomically(path, "{\"id\":\"p\",\"prompt\":\"q\"}\n{not json\n").ok());
  absl::StatusOr<PromptSource> bad = PromptSource::Create(data, "", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(":2"), std::string::npos) << bad.status();  // names the line
  std::filesystem::remove(path);
}

TEST(PromptSource, FilePromptsThatAreEvalPromptsAreNeverDrawn) {
  const std::string path =
      absl::StrCat(std::filesystem::temp_directory_path().string(), "/r1_prompts_held_", getpid(), ".jsonl");
  // q1 and q3 are eval prompts, written here with other spacing and case.
  ASSERT_TRUE(WriteFileAtomically(path, "{\"id\":\"a\",\"prompt\":\"What is  1 + 1?\"}\n"
                                        "{\"id\":\"b\",\"prompt\":\"What is 2 + 2?\"}\n"
                                        "{\"id\":\"c\",\"prompt\":\"  what is 3 + 3?\\n\"}\n")
                  .ok());
  config::DataConfig data;
  data.set_train_prompts(path);
  std::vector<data::PromptRecord> eval(2);
  eval[0].set_prompt("What is 1 + 1?");
  eval[1].set_prompt("What is 3 + 3?");
  absl::StatusOr<PromptSource> source = PromptSource::Create(data, "", eval);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ(source->size(), 1);
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(source->Get(i).id(), "b");
  // A file made only of eval prompts trains on nothing: refused, naming it.
  eval.resize(3);
  eval[2].set_prompt("What is 2 + 2?");
  absl::StatusOr<PromptSource> none = PromptSource::Create(data, "", eval);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find(path), std::string::npos) << none.status();
  std::filesystem::remove(path);
}

class EnvTest : public ::testing::Test {
 protected:
  void SetUp() override { Clear(); }
  void TearDown() override { Clear(); }
  static void Clear() {
    for (const char* name : {"RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID", "SLURM_NTASKS",
                             "SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST"}) {
      unsetenv(name);
    }
  }
};

TEST_F(EnvTest, OneRankWithoutVariables) {
  absl::StatusOr<DistributedEnv> env = DistributedEnvFromEnvironment();
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->rank, 0);
  EXPECT_EQ(env->world_size, 1);
}

TEST_F(EnvTest, TorchrunVariablesWinOverSlurms) {
  setenv("SLURM_PROCID", "3", 1);
  setenv("SLURM_NTASKS", "4", 1);
  setenv("SLURM_STEP_NODELIST", "gpu[07-09,12]", 1);
  absl::StatusOr<DistributedEnv> env = DistributedEnvFromEnvironment();
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->rank, 3);
  EXPECT_EQ(env->world_size, 4);
  EXPECT_EQ(env->master_addr, "gpu07");
  EXPECT_EQ(env->master_port, 29500);
  setenv("RANK", "1", 1);
  setenv("WORLD_SIZE", "2", 1);
  setenv("MASTER_ADDR", "10.0.0.5", 1);
  setenv("MASTER_PORT", "1234", 1);
  env = DistributedEnvFromEnvironment();
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->rank, 1);
  EXPECT_EQ(env->world_size, 2);
  EXPECT_EQ(env->master_addr, "10.0.0.5");
  EXPECT_EQ(env->master_port, 1234);
}

TEST_F(EnvTest, MalformedVariablesAreNamed) {
  setenv("RANK", "one", 1);
  absl::StatusOr<DistributedEnv> env = DistributedEnvFromEnvironment();
  ASSERT_FALSE(env.ok());
  EXPECT_NE(env.status().message().find("RANK"), std::string::npos);
  setenv("RANK", "2", 1);
  setenv("WORLD_SIZE", "2", 1);
  env = DistributedEnvFromEnvironment();
  ASSERT_FALSE(env.ok());
  EXPECT_NE(env.status().message().find("RANK must be in [0, WORLD_SIZE=2)"), std::string::npos) << env.status();
}

TEST(FirstSlurmHost, ExpandsTheFirstEntry) {
  EXPECT_EQ(FirstSlurmHost("node[03-05,9]"), "node03");
  EXPECT_EQ(FirstSlurmHost("node[3,5]"), "node3");
  EXPECT_EQ(FirstSlurmHost("a,b[1-2]"), "a");
  EXPECT_EQ(FirstSlurmHost("vm"), "vm");
}

}  // namespace
}  // namespace r1::rl
