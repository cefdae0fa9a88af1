#include "common/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>

#include "common/file_util.h"

namespace r1 {
namespace {

using ::testing::HasSubstr;

// Tests run from the source root (CTest WORKING_DIRECTORY).
constexpr char kTiny[] = "configs/tiny.textproto";

std::string WriteTemp(const std::string& name, const std::string& text) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("r1_config_test_" + std::to_string(getpid()) + "_" + name)).string();
  EXPECT_TRUE(WriteFileAtomically(path, text).ok());
  return path;
}

absl::StatusOr<config::RunConfig> TinyWith(const std::vector<std::string>& overrides) {
  return LoadRunConfig(kTiny, overrides);
}

TEST(LoadRunConfig, LoadsTheEmbeddedDefault) {
  absl::StatusOr<config::RunConfig> run = LoadRunConfig(kTiny);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->name(), "tiny");
  EXPECT_EQ(run->policy().arch(), config::DEEPSEEK_V3);
  EXPECT_GT(run->policy().n_routed_experts(), 0);
  EXPECT_EQ(run->student().arch(), config::LLAMA);
  EXPECT_EQ(run->stages(0), config::PRETRAIN);
}

TEST(LoadRunConfig, EveryShippedConfigValidates) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("configs")) {
    if (entry.path().extension() != ".textproto") continue;
    ++count;
    absl::StatusOr<config::RunConfig> run = LoadRunConfig(entry.path().string());
    EXPECT_TRUE(run.ok()) << run.status();
  }
  EXPECT_GE(count, 1);
}

TEST(LoadRunConfig, DefaultsComeFromTheSchema) {
  const std::string path = WriteTemp("defaults", "name: \"d\"\nrl { max_steps: 1 sampling { max_new_tokens: 8 } optimizer { lr: 1e-5 } }\n");
  absl::StatusOr<config::RunConfig> run = LoadRunConfig(path);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->rl().group_size(), 8);
  EXPECT_DOUBLE_EQ(run->rl().clip_eps_low(), 0.2);
  EXPECT_EQ(run->rl().kl_estimator(), config::K3);
  EXPECT_DOUBLE_EQ(run->rl().optimizer().beta2(), 0.95);
  EXPECT_DOUBLE_EQ(run->policy().rope_theta(), 10000);
}

TEST(LoadRunConfig, UnknownFieldIsReportedWithFileLineAndColumn) {
  const std::string path = WriteTemp("unknown", "name: \"x\"\npolicy {\n  dimm: 4\n}\n");
  absl::StatusOr<config::RunConfig> run = LoadRunConfig(path);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(run.status().message()), HasSubstr(path + ":3:"));
  EXPECT_THAT(std::string(run.status().message()), HasSubstr("dimm"));
}

TEST(LoadRunConfig, BadEnumAndBadTypeAreRejected) {
  absl::StatusOr<config::RunConfig> run = LoadRunConfig(WriteTemp("enum", "policy { arch: MOE }\n"));
  ASSERT_FALSE(run.ok());
  EXPECT_THAT(std::string(run.status().message()), HasSubstr("MOE"));
  run = LoadRunConfig(WriteTemp("type", "seed: \"one\"\n"));
  ASSERT_FALSE(run.ok());
  EXPECT_THAT(std::string(run.status().message()), HasSubstr(":1:"));
  run = LoadRunConfig(WriteTemp("twice", "seed: 1\nseed: 2\n"));
  ASSERT_FALSE(run.ok());
  EXPECT_THAT(std::string(run.status().message()), HasSubstr(":2:"));
}

TEST(LoadRunConfig, MissingFileIsNotFound) {
  absl::StatusOr<config::RunConfig> run = LoadRunConfig("configs/no_such.textproto");
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(run.status().message()), HasSubstr("configs/no_such.textproto"));
}

TEST(ApplyOverride, SetsNestedScalarsStringsAndEnums) {
  absl::StatusOr<config::RunConfig> run =
      TinyWith({"rl.group_size=16", "name=my run", "rl.kl_estimator=K2", "rl.sampling.temperature=0.7"});
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->rl().group_size(), 16);
  EXPECT_EQ(run->name(), "my run");
  EXPECT_EQ(run->rl().kl_estimator(), config::K2);
  EXPECT_DOUBLE_EQ(run->rl().sampling().temperature(), 0.7);
  // Untouched neighbours keep their file values.
  EXPECT_EQ(run->rl().prompts_per_step(), 16);
}

TEST(ApplyOverride, ReplacesRepeatedFields) {
  absl::StatusOr<config::RunConfig> run = TinyWith({"stages=[PRETRAIN, EVAL]", "rl.sampling.stop=END"});
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->stages_size(), 2);
  EXPECT_EQ(run->stages(1), config::EVAL);
  ASSERT_EQ(run->rl().sampling().stop_size(), 1);
  EXPECT_EQ(run->rl().sampling().stop(0), "END");
}

TEST(ApplyOverride, CreatesMissingParents) {
  config::RunConfig run;
  ASSERT_TRUE(ApplyOverride("distill.sft.batch_size=4", &run).ok());
  EXPECT_TRUE(run.has_distill());
  EXPECT_EQ(run.distill().sft().batch_size(), 4);
}

TEST(ApplyOverride, UnknownPathNamesTheMessageAndItsFields) {
  config::RunConfig run;
  absl::Status s = ApplyOverride("rl.group=4", &run);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("RlConfig has no field \"group\""));
  EXPECT_THAT(std::string(s.message()), HasSubstr("group_size"));
}

TEST(ApplyOverride, BadValuesAndShapesAreErrors) {
  config::RunConfig run;
  EXPECT_THAT(std::string(ApplyOverride("rl.group_size=many", &run).message()), HasSubstr("--set rl.group_size=many"));
  EXPECT_THAT(std::string(ApplyOverride("seed.x=1", &run).message()), HasSubstr("not a single message"));
  EXPECT_THAT(std::string(ApplyOverride("seed", &run).message()), HasSubstr("path.to.field=value"));
  EXPECT_THAT(std::string(ApplyOverride("policy.arch=MOE", &run).message()), HasSubstr("MOE"));
}

TEST(ApplyOverride, OverriddenValuesAreValidated) {
  absl::StatusOr<config::RunConfig> run = TinyWith({"policy.n_activated_experts=9"});
  ASSERT_FALSE(run.ok());
  EXPECT_THAT(std::string(run.status().message()),
              HasSubstr("policy.n_activated_experts (9) must be <= policy.n_routed_experts (8)"));
}

// Each case breaks one invariant of the tiny config and expects the named field.
struct InvariantCase {
  std::vector<std::string> overrides;
  std::string expected;
};

void PrintTo(const InvariantCase& c, std::ostream* os) { *os << "\"" << c.expected << "\""; }

class ValidateInvariants : public ::testing::TestWithParam<InvariantCase> {};

TEST_P(ValidateInvariants, NamesTheField) {
  absl::StatusOr<config::RunConfig> run = TinyWith(GetParam().overrides);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(run.status().message()), HasSubstr(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    Config, ValidateInvariants,
    ::testing::Values(
        InvariantCase{{"policy.dim=0"}, "policy.dim must be in [1, 65536], got 0"},
        InvariantCase{{"policy.qk_rope_head_dim=15"}, "policy.qk_rope_head_dim must be even"},
        InvariantCase{{"policy.n_dense_layers=9"}, "policy.n_dense_layers must be in [0, 4]"},
        InvariantCase{{"policy.device=tpu"}, "policy.device must be"},
        InvariantCase{{"policy.n_kv_heads=2"}, "policy.n_kv_heads applies only to arch LLAMA"},
        InvariantCase{{"student.kv_lora_rank=8"}, "student.kv_lora_rank applies only to arch DEEPSEEK_V3"},
        InvariantCase{{"student.n_kv_heads=3"}, "student.n_heads (4) must be a multiple of student.n_kv_heads (3)"},
        InvariantCase{{"policy.vocab_size=100", "student.vocab_size=100"}, "policy.vocab_size (100) must equal tokenizer.vocab_size (72)"},
        InvariantCase{{"student.vocab_size=100"}, "student.vocab_size (100) must equal policy.vocab_size"},
        InvariantCase{{"rl.group_size=1"}, "rl.group_size must be in [2, 1024]"},
        InvariantCase{{"rl.dual_clip_c=0.5"}, "rl.dual_clip_c must be 0 (off) or a finite number > 1, got 0.5"},
        InvariantCase{{"rl.sampling.top_p=0"}, "rl.sampling.top_p must be in (0, 1]"},
        InvariantCase{{"rl.optimizer.lr=0"}, "rl.optimizer.lr must be in (0, 1], got 0"},
        InvariantCase{{"rl.optimizer.beta1=1"}, "rl.optimizer.beta1 must be in [0, 1)"},
        InvariantCase{{"reject_sample.keep_per_prompt=9"}, "reject_sample.keep_per_prompt (9) must be <= reject_sample.samples_per_prompt (4)"},
        InvariantCase{{"reject_sample.keep_policy=longest"}, "reject_sample.keep_policy must be one of shortest, random, all"},
        InvariantCase{{"distill.kl_direction=sideways"}, "distill.kl_direction must be one of"},
        InvariantCase{{"data.tasks=[]"}, "data.tasks must list at least one task"},
        InvariantCase{{"pretrain.seq_len=512"}, "pretrain.seq_len (512) must be <= policy.max_seq_len (256)"},
        InvariantCase{{"stages=[RL, RL]"}, "stages[1] RL is listed twice"},
        InvariantCase{{"tokenizer.model_type=wordpiece"}, "tokenizer.model_type must be one of"},
        InvariantCase{{"reward.rules=[{rule: \"math\"}, {rule: \"math\"}]"}, "reward.rules[1].rule \"math\" is listed twice"},
        InvariantCase{{"reward.rules=[{rule: \"magic\"}]"}, "reward.rules[0].rule must be one of"},
        InvariantCase{{"reward.rules=[{rule: \"math\" math {precision: 31}}]"},
                      "reward.rules[0].math.precision must be in [0, 30], got 31"},
        InvariantCase{{"reward.rules=[{rule: \"code\" code {compare: \"fuzzy\"}}]"},
                      "reward.rules[0].code.compare must be one of exact, lines, tokens, numeric"},
        InvariantCase{{"rollout.workers=[\"localhost\"]"}, "rollout.workers[0] must be host:port"},
        InvariantCase{{"pretrain.max_steps=0", "pretrain.max_seconds=0"}, "pretrain.max_steps or max_seconds must be > 0"}),
    [](const ::testing::TestParamInfo<InvariantCase>& info) { return "Case" + std::to_string(info.index); });

TEST(Validate, ListedStageNeedsItsSection) {
  const std::string path = WriteTemp("stage", "stages: [DISTILL]\n");
  absl::StatusOr<config::RunConfig> run = LoadRunConfig(path);
  ASSERT_FALSE(run.ok());
  EXPECT_THAT(std::string(run.status().message()), HasSubstr("student must be set"));
  EXPECT_THAT(std::string(run.status().message()), HasSubstr("more problem"));
}

TEST(Validate, ReportsFirstProblemAndCountsTheRest) {
  absl::StatusOr<config::RunConfig> run = TinyWith({"policy.dim=0", "policy.n_layers=0", "rl.group_size=0"});
  ASSERT_FALSE(run.ok());
  EXPECT_THAT(std::string(run.status().message()), HasSubstr("policy.dim must be in [1, 65536], got 0"));
  EXPECT_THAT(std::string(run.status().message()), HasSubstr("(and 3 more problems)"));
}

// Issue 12, item 11: combinations that run but train wrongly.
INSTANTIATE_TEST_SUITE_P(
    RlCombinations, ValidateInvariants,
    ::testing::Values(
        // Recomputed with the current weights, a stale sample's ratio loses
        // its importance correction.
        InvariantCase{{"rl.max_staleness=1", "rl.old_logprobs=RECOMPUTE"},
                      "rl.old_logprobs must be ROLLOUT when rl.max_staleness > 0 (got RECOMPUTE"},
        // k1 as a loss term has zero expected gradient.
        InvariantCase{{"rl.kl_coef=0.04", "rl.kl_estimator=K1"}, "rl.kl_estimator must be K2 or K3 when rl.kl_coef > 0"},
        InvariantCase{{"rl.dual_clip_c=1"}, "rl.dual_clip_c must be 0 (off) or a finite number > 1, got 1"},
        InvariantCase{{"rl.dual_clip_c=0.01"}, "rl.dual_clip_c must be 0 (off) or a finite number > 1, got 0.01"},
        InvariantCase{{"rl.dual_clip_c=inf"}, "rl.dual_clip_c must be 0 (off) or a finite number > 1, got inf"}),
    [](const ::testing::TestParamInfo<InvariantCase>& info) { return "Case" + std::to_string(info.index); });

// Issue 12, item 8: nonsense numbers, each refused naming the field and the
// allowed range.
INSTANTIATE_TEST_SUITE_P(
    Ranges, ValidateInvariants,
    ::testing::Values(
        InvariantCase{{"rl.max_seconds=nan"}, "rl.max_seconds must be a finite number >= 0, got nan"},
        InvariantCase{{"rl.max_seconds=-1"}, "rl.max_seconds must be >= 0, got -1"},
        InvariantCase{{"pretrain.max_seconds=-inf"}, "pretrain.max_seconds must be a finite number >= 0, got -inf"},
        InvariantCase{{"eval.sampling.temperature=inf"}, "eval.sampling.temperature must be a finite number in [0, 100], got inf"},
        InvariantCase{{"rl.sampling.temperature=101"}, "rl.sampling.temperature must be in [0, 100], got 101"},
        InvariantCase{{"rl.sampling.temperature=-0.5"}, "rl.sampling.temperature must be in [0, 100], got -0.5"},
        InvariantCase{{"rl.sampling.top_p=nan"}, "rl.sampling.top_p must be a finite number in (0, 1], got nan"},
        InvariantCase{{"rl.sampling.min_p=1.5"}, "rl.sampling.min_p must be in [0, 1), got 1.5"},
        InvariantCase{{"rl.sampling.min_p=1"}, "rl.sampling.min_p must be in [0, 1), got 1"},
        // What the rollout engine refuses, the config refuses first.
        InvariantCase{{"rl.sampling.temperature=1e-40"}, "rl.sampling.temperature must be 0 (greedy) or at least 0.0001"},
        InvariantCase{{"rl.optimizer.lr=1e308"}, "rl.optimizer.lr must be in (0, 1], got 1e+308"},
        InvariantCase{{"sft.optimizer.lr=nan"}, "sft.optimizer.lr must be a finite number in (0, 1], got nan"},
        InvariantCase{{"rl.optimizer.grad_clip=inf"}, "rl.optimizer.grad_clip must be a finite number >= 0, got inf"},
        InvariantCase{{"rl.kl_coef=nan"}, "rl.kl_coef must be a finite number >= 0, got nan"},
        InvariantCase{{"rollout.kv_slots=2147483647"}, "rollout.kv_slots must be in [1, 65536], got 2147483647"},
        InvariantCase{{"policy.max_seq_len=2147483647"}, "policy.max_seq_len must be in [1, 1048576], got 2147483647"},
        InvariantCase{{"rl.group_size=2147483647"}, "rl.group_size must be in [2, 1024]"},
        InvariantCase{{"student.dim=2147483647"}, "student.dim must be in [1, 65536], got 2147483647"},
        InvariantCase{{"rl.sampling.max_new_tokens=2147483647"}, "rl.sampling.max_new_tokens must be in [1, 1048576]"},
        InvariantCase{{"policy.rope_theta=inf"}, "policy.rope_theta must be a finite number > 0, got inf"},
        InvariantCase{{"rollout.request_timeout_seconds=nan"}, "rollout.request_timeout_seconds must be a finite number > 0, got nan"},
        // A field without a range of its own is still refused when not finite.
        InvariantCase{{"reward.rules=[{rule: \"length\" length {correct_short: nan}}]"},
                      "reward.rules[0].length.correct_short must be a finite number, got nan"},
        InvariantCase{{"threads=100000"}, "threads must be in [0, 4096], got 100000"}),
    [](const ::testing::TestParamInfo<InvariantCase>& info) { return "Case" + std::to_string(info.index); });

// The fields of the Hugging Face families (model/families.h): each refused
// where it cannot apply or would not build, naming it.
INSTANTIATE_TEST_SUITE_P(
    Families, ValidateInvariants,
    ::testing::Values(
        InvariantCase{{"policy.head_dim=32"}, "policy.head_dim applies only to arch LLAMA, not DEEPSEEK_V3"},
        InvariantCase{{"policy.qk_norm=true"}, "policy.qk_norm applies only to arch LLAMA"},
        InvariantCase{{"policy.qkv_bias=true"}, "policy.qkv_bias applies only to arch LLAMA"},
        InvariantCase{{"policy.o_bias=false"}, "policy.o_bias applies only to arch LLAMA"},
        InvariantCase{{"policy.mlp_bias=true"}, "policy.mlp_bias applies only to arch LLAMA"},
        InvariantCase{{"student.inter_dim=64"}, "student.inter_dim applies only to arch DEEPSEEK_V3"},
        InvariantCase{{"student.n_mtp_modules=1"}, "student.n_mtp_modules applies only to arch DEEPSEEK_V3"},
        InvariantCase{{"student.head_dim=7"}, "student.head_dim must be even (RoPE rotates pairs), got 7"},
        InvariantCase{{"student.head_dim=-2"}, "student.head_dim must be in [2, 65536], got -2"},
        InvariantCase{{"student.dim=90"}, "student.dim (90) must be a multiple of student.n_heads (4) when head_dim is 0"},
        InvariantCase{{"policy.n_group=3"}, "policy.n_group (3) must divide policy.n_routed_experts (8)"},
        InvariantCase{{"policy.n_group=8", "policy.topk_group=2"}, "policy.n_group (8) must leave at least 2 experts per group, got 1"},
        InvariantCase{{"policy.n_group=4", "policy.topk_group=5"}, "policy.topk_group must be in [1, 4], got 5"},
        InvariantCase{{"policy.n_group=4", "policy.topk_group=0"}, "policy.topk_group must be in [1, 4], got 0"},
        InvariantCase{{"policy.n_group=4", "policy.topk_group=1", "policy.n_activated_experts=3"},
                      "policy.n_activated_experts (3) must be <= policy.topk_group * experts per group (1 * 2)"},
        InvariantCase{{"policy.moe_layer_freq=0"}, "policy.moe_layer_freq must be in [1, 1024], got 0"},
        InvariantCase{{"policy.dense_layers=[1, 4]"}, "policy.dense_layers[1] must be in [0, 3], got 4"},
        InvariantCase{{"policy.router_scoring=SOFTMAX"}, "policy.router_scoring must be SIGMOID for arch DEEPSEEK_V3"},
        InvariantCase{{"policy.n_dense_layers=0", "policy.inter_dim=0", "policy.moe_layer_freq=2"},
                      "policy.inter_dim must be in [1, 262144], got 0"},
        InvariantCase{{"student.n_routed_experts=4", "student.n_activated_experts=2"},
                      "student.moe_inter_dim must be in [1, 262144], got 0"},
        InvariantCase{{"student.n_routed_experts=4", "student.n_activated_experts=5", "student.moe_inter_dim=8"},
                      "student.n_activated_experts (5) must be <= student.n_routed_experts (4)"},
        InvariantCase{{"student.rope_scaling.type=dynamic", "student.rope_scaling.factor=2"},
                      "student.rope_scaling.type must be one of linear, llama3, yarn, got \"dynamic\""},
        InvariantCase{{"student.rope_scaling.type=linear", "student.rope_scaling.factor=0.5"},
                      "student.rope_scaling.factor must be >= 1, got 0.5"},
        InvariantCase{{"student.rope_scaling.type=linear", "student.rope_scaling.factor=2", "student.rope_scaling.beta_fast=16"},
                      "student.rope_scaling.beta_fast applies only to type yarn, not \"linear\""},
        InvariantCase{{"student.rope_scaling.type=llama3", "student.rope_scaling.factor=8",
                       "student.rope_scaling.low_freq_factor=4", "student.rope_scaling.high_freq_factor=1",
                       "student.rope_scaling.original_max_position_embeddings=64"},
                      "student.rope_scaling.high_freq_factor (1) must be > low_freq_factor (4)"},
        InvariantCase{{"student.rope_scaling.type=yarn", "student.rope_scaling.factor=4"},
                      "student.rope_scaling.original_max_position_embeddings must be in [1, 1048576], got 0"},
        InvariantCase{{"student.family=qwen3"},
                      "student.hf_config must hold the imported config.json (a JSON object) when student.family is set"},
        InvariantCase{{"student.hf_config=x"}, "student.hf_config applies only to an imported family"}),
    [](const ::testing::TestParamInfo<InvariantCase>& info) { return "Case" + std::to_string(info.index); });

// The layouts the families import validate.
TEST(ValidateModel, FamilyLayoutsPass) {
  // Qwen3-30B-A3B: head_dim independent of dim, q/k norm, softmax experts.
  config::ModelConfig moe;
  moe.set_arch(config::LLAMA);
  moe.set_vocab_size(151936);
  moe.set_dim(2048);
  moe.set_n_layers(48);
  moe.set_n_heads(32);
  moe.set_n_kv_heads(4);
  moe.set_head_dim(128);
  moe.set_qk_norm(true);
  moe.set_ffn_hidden_dim(6144);
  moe.set_max_seq_len(40960);
  moe.set_n_routed_experts(128);
  moe.set_n_activated_experts(8);
  moe.set_moe_inter_dim(768);
  moe.set_n_shared_experts(0);
  moe.set_router_scoring(config::SOFTMAX);
  moe.set_family("qwen3_moe");
  moe.set_hf_config("{\"model_type\": \"qwen3_moe\"}");
  EXPECT_TRUE(ValidateModel(moe, "model").ok()) << ValidateModel(moe, "model");
  // Qwen2: q/k/v biases; Llama 3: llama3 RoPE scaling.
  config::ModelConfig dense = moe;
  dense.clear_n_routed_experts();
  dense.clear_n_activated_experts();
  dense.clear_moe_inter_dim();
  dense.clear_n_shared_experts();
  dense.clear_router_scoring();
  dense.set_qkv_bias(true);
  dense.mutable_rope_scaling()->set_type("llama3");
  dense.mutable_rope_scaling()->set_factor(32);
  dense.mutable_rope_scaling()->set_original_max_position_embeddings(8192);
  dense.add_dense_layers(3);
  EXPECT_TRUE(ValidateModel(dense, "model").ok()) << ValidateModel(dense, "model");
  // DeepSeek-V3's group-limited routing (8 groups of 32, top 4 groups) with
  // yarn scaling.
  config::ModelConfig v3;
  v3.set_arch(config::DEEPSEEK_V3);
  v3.set_vocab_size(129280);
  v3.set_dim(7168);
  v3.set_n_layers(61);
  v3.set_n_heads(128);
  v3.set_max_seq_len(163840);
  v3.set_q_lora_rank(1536);
  v3.set_kv_lora_rank(512);
  v3.set_qk_nope_head_dim(128);
  v3.set_qk_rope_head_dim(64);
  v3.set_v_head_dim(128);
  v3.set_n_dense_layers(3);
  v3.set_inter_dim(18432);
  v3.set_moe_inter_dim(2048);
  v3.set_n_shared_experts(1);
  v3.set_n_routed_experts(256);
  v3.set_n_activated_experts(8);
  v3.set_n_group(8);
  v3.set_topk_group(4);
  v3.mutable_rope_scaling()->set_type("yarn");
  v3.mutable_rope_scaling()->set_factor(40);
  v3.mutable_rope_scaling()->set_original_max_position_embeddings(4096);
  v3.mutable_rope_scaling()->set_mscale(1);
  v3.mutable_rope_scaling()->set_mscale_all_dim(1);
  EXPECT_TRUE(ValidateModel(v3, "model").ok()) << ValidateModel(v3, "model");
}

TEST(Validate, K1IsFineWithoutAKlTermAndGreedyIsAllowed) {
  absl::StatusOr<config::RunConfig> run =
      TinyWith({"rl.kl_coef=0", "rl.kl_estimator=K1", "rl.sampling.min_p=0.99", "eval.sampling.temperature=0"});
  EXPECT_TRUE(run.ok()) << run.status();
  // Synchronous mode may recompute.
  run = TinyWith({"rl.max_staleness=0", "rl.old_logprobs=RECOMPUTE"});
  EXPECT_TRUE(run.ok()) << run.status();
}

// The bounds leave room for the largest published models.
TEST(ValidateModel, DeepSeekV3AndLlama405BSizesPass) {
  config::ModelConfig v3;
  v3.set_arch(config::DEEPSEEK_V3);
  v3.set_vocab_size(129280);
  v3.set_dim(7168);
  v3.set_n_layers(61);
  v3.set_n_heads(128);
  v3.set_max_seq_len(163840);
  v3.set_q_lora_rank(1536);
  v3.set_kv_lora_rank(512);
  v3.set_qk_nope_head_dim(128);
  v3.set_qk_rope_head_dim(64);
  v3.set_v_head_dim(128);
  v3.set_n_dense_layers(3);
  v3.set_inter_dim(18432);
  v3.set_moe_inter_dim(2048);
  v3.set_n_shared_experts(1);
  v3.set_n_routed_experts(256);
  v3.set_n_activated_experts(8);
  v3.set_routed_scaling_factor(2.5);
  v3.set_n_mtp_modules(1);
  EXPECT_TRUE(ValidateModel(v3, "policy").ok()) << ValidateModel(v3, "policy");

  config::ModelConfig llama;
  llama.set_arch(config::LLAMA);
  llama.set_vocab_size(128256);
  llama.set_dim(16384);
  llama.set_n_layers(126);
  llama.set_n_heads(128);
  llama.set_n_kv_heads(8);
  llama.set_ffn_hidden_dim(53248);
  llama.set_max_seq_len(131072);
  llama.set_rope_theta(500000);
  llama.set_rms_norm_eps(1e-5);
  EXPECT_TRUE(ValidateModel(llama, "student").ok()) << ValidateModel(llama, "student");

  v3.set_rms_norm_eps(std::numeric_limits<double>::quiet_NaN());
  EXPECT_THAT(std::string(ValidateModel(v3, "model").message()),
              HasSubstr("model.rms_norm_eps must be a finite number in (0, 1), got nan"));
}

TEST(ToTextProto, RoundTripsThroughTheParser) {
  absl::StatusOr<config::RunConfig> run = LoadRunConfig(kTiny);
  ASSERT_TRUE(run.ok());
  config::RunConfig again;
  ASSERT_TRUE(ParseTextProto(ToTextProto(*run), "printed", &again).ok());
  EXPECT_EQ(again.SerializeAsString(), run->SerializeAsString());
}

}  // namespace
}  // namespace r1
