// GRPO on released-model layouts: a tiny Qwen3-MoE-shaped and a tiny
// Llama-3-shaped checkpoint, written as a user's Hugging Face folder would be
// (config.json with the family's own keys, bfloat16 weights under the Hugging
// Face names, no r1 keys), go through a real rollout worker and the learner
// for two steps, are exported, and the export loads back with the family's
// keys and dtype. A tiny Qwen2-shaped folder does the same with what a
// released model ships instead of r1's tokenizer.model: a byte-level
// tokenizer.json, tokenizer_config.json with a Qwen-style chat template and
// generation_config.json, on prompts imported from a GSM8K-format file; the
// export carries those files, `r1 eval` reads it back, and `r1 sft` and
// `r1 distill` (with a teacher worker for the KL term) start from it. A run's
// data.chat_template is given to all three: the folders without a template
// of their own use it and carry it into their export; qwen2 keeps its own.
// What it shows: every part between import and export (the
// worker's generation, the learner's forward and update, weight sync, the
// MoE balancing step, checkpoints, export) runs the imported family, not
// r1's own layout.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "cli/local_services.h"
#include "common/file_util.h"
#include "common/subprocess.h"
#include "common/test_support.h"
#include "model/checkpoint.h"
#include "model/families.h"
#include "model/safetensors.h"

namespace r1 {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr int kVocab = 40;
constexpr int kHfVocab = 761;  // testing::WriteTinyHfTokenizerFolder's tokenizer.json

std::string BinDir() {
  const char* bin = std::getenv("R1_BIN_DIR");
  return bin != nullptr ? bin : "build/bin";
}

// Shapes of Qwen3-30B-A3B and Llama-3.2-1B, shrunk; every key as released.
std::string Qwen3MoeConfig() {
  return absl::StrCat(R"({
  "architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "attention_bias": false,
  "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2, "decoder_sparse_step": 1,
  "head_dim": 16, "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02,
  "intermediate_size": 64, "max_position_embeddings": 128, "max_window_layers": 2, "mlp_only_layers": [0],
  "moe_intermediate_size": 16, "norm_topk_prob": true, "num_attention_heads": 4, "num_experts": 8,
  "num_experts_per_tok": 2, "num_hidden_layers": 2, "num_key_value_heads": 2, "output_router_logits": false,
  "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000.0, "router_aux_loss_coef": 0.001,
  "sliding_window": null, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "transformers_version": "4.51.0", "use_cache": true, "use_sliding_window": false, "vocab_size": )",
                      kVocab, "\n}\n");
}

std::string Llama3Config() {
  return absl::StrCat(R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "attention_bias": false,
  "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2, "head_dim": 8, "hidden_act": "silu",
  "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64, "max_position_embeddings": 128,
  "mlp_bias": false, "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
  "pretraining_tp": 1, "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                   "original_max_position_embeddings": 64, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0", "use_cache": true, "vocab_size": )",
                      kVocab, "\n}\n");
}

// Qwen2.5-0.5B's shape, shrunk: q/k/v biases, tied embeddings.
std::string Qwen2Config() {
  return absl::StrCat(R"({
  "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "attention_dropout": 0.0,
  "bos_token_id": 756, "eos_token_id": 756, "hidden_act": "silu", "hidden_size": 32, "initializer_range": 0.02,
  "intermediate_size": 64, "max_position_embeddings": 256, "max_window_layers": 2, "num_attention_heads": 4,
  "num_hidden_layers": 2, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_scaling": null,
  "rope_theta": 1000000.0, "sliding_window": null, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
  "transformers_version": "4.43.1", "use_cache": true, "use_sliding_window": false, "vocab_size": )",
                      kHfVocab, "\n}\n");
}

// `data`: where prompts come from; `rules`: reward rules beside length and
// repetition.
std::string RunConfig(const std::string& data, const std::string& rules) {
  return absl::StrCat(R"pb(
name: "rl_imported_test"
seed: 3
threads: 1
)pb", data, R"pb(
rl {
  group_size: 4
  prompts_per_step: 2
  max_steps: 2
  sampling { temperature: 1.0 max_new_tokens: 12 }
  kl_coef: 0.04
  eval_samples: 1
  optimizer { lr: 3e-3 warmup_steps: 1 min_lr_ratio: 1.0 weight_decay: 0.0 }
  checkpoint { every_steps: 2 keep: 2 }
}
reward {
  rules { rule: "length" length { max_length: 12 overlong_buffer: 10 } }
  rules { rule: "repetition" repetition { ngram_size: 1 } }
)pb", rules, R"pb(
}
rollout { kv_slots: 8 }
)pb");
}

struct Outcome {
  int exit_code = -1;
  std::string stdout_text, stderr_text;
};

// r1's template with a fixed system turn first, in the tiny vocabulary.
constexpr char kRunTemplate[] =
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'assistant' %}<|assistant|>{{ m['content'] }}"
    "{{ eos_token }}{% else %}<|system|>1 + 1 = 2.<|user|>{{ m['content'] }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}";

class RlImportedTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / absl::StrCat("r1_rl_imported_", getpid(), "_", GetParam());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // The user's folder: config.json, bfloat16 weights, the tokenizer.
    const std::string json = GetParam() == "qwen3_moe" ? Qwen3MoeConfig()
                             : GetParam() == "llama3"  ? Llama3Config()
                                                       : Qwen2Config();
    fs::create_directories(Path("init"));
    ASSERT_TRUE(WriteFileAtomically(Path("init/config.json"), json).ok());
    absl::StatusOr<config::ModelConfig> config = model::ModelConfigFromJson(json, "config.json");
    ASSERT_TRUE(config.ok()) << config.status();
    config->set_dtype(config::FLOAT32);
    torch::manual_seed(7);
    absl::StatusOr<model::CausalLm> model = model::MakeModel(*config);
    ASSERT_TRUE(model.ok()) << model.status();
    std::vector<std::pair<std::string, torch::Tensor>> weights;
    for (const auto& [name, tensor] : model::NamedTensors(**model)) {
      // Released MoE checkpoints keep the balancing bias in float32.
      weights.emplace_back(name, tensor.to(name.find("e_score") != std::string::npos ? torch::kFloat32 : torch::kBFloat16));
    }
    ASSERT_TRUE(model::WriteSafetensors(Path("init/model.safetensors"), weights).ok());
    // A run's own chat template (data.chat_template): the llama3 folder has
    // none, so it applies there; the qwen2 folder's own template wins.
    ASSERT_TRUE(WriteFileAtomically(Path("run_template.jinja"), kRunTemplate).ok());
    const std::string chat_template = absl::StrCat(" chat_template: \"", Path("run_template.jinja"), "\"");
    std::string data = absl::StrCat("data { tasks { kind: ARITHMETIC difficulty: 1 } n_eval: 4 seed: 1 eval_seed: 2",
                                    chat_template, " }\n");
    std::string rules;
    if (GetParam() == "qwen2") {
      ASSERT_TRUE(testing::WriteTinyHfTokenizerFolder(Path("init")).ok());
      // The user's prompts: GSM8K lines, through `r1 data import`.
      const std::vector<std::pair<std::string, std::string>> splits = {
          {"train", "{\"question\": \"Tom has 3 apples and buys 4. How many?\", \"answer\": \"3 + 4 = 7\\n#### 7\"}\n"
                    "{\"question\": \"A box holds 1,200 nails; 200 are used. How many are left?\", "
                    "\"answer\": \"1200 - 200 = 1000\\n#### 1,000\"}\n"
                    "{\"question\": \"What is 6 times 7?\", \"answer\": \"6 * 7 = 42\\n#### 42\"}\n"},
          {"test", "{\"question\": \"Ann reads 5 pages a day for 3 days. How many pages?\", "
                   "\"answer\": \"5 * 3 = 15\\n#### 15\"}\n"}};
      for (const auto& [split, lines] : splits) {
        ASSERT_TRUE(WriteFileAtomically(Path(split + ".gsm8k.jsonl"), lines).ok());
        const Outcome imported = RunR1("import_" + split, {"data", "import", "--format", "gsm8k", "--in",
                                                           Path(split + ".gsm8k.jsonl"), "--out",
                                                           Path(split + ".jsonl")});
        ASSERT_EQ(imported.exit_code, 0) << imported.stderr_text;
      }
      data = absl::StrCat("data { train_prompts: \"", Path("train.jsonl"), "\" eval_prompts: \"",
                          Path("test.jsonl"), "\"", chat_template, " }\n");
      // Twelve random tokens of this multilingual vocabulary are always
      // twelve long and rarely repeat a word: the script-consistency reward
      // is what differs within a group (so the policy moves). "math" judges
      // GSM8K answers for `r1 eval`.
      rules = "  rules { rule: \"language\" language { script: \"latin\" } }\n  rules { rule: \"math\" }\n";
      // SFT on the export, from imported chat data (see the end of the test).
      data += "sft { batch_size: 2 seq_len: 96 max_steps: 2 eval_fraction: 0.34 optimizer { lr: 1e-3 } }\n";
      // Distillation of the export into an r1 dense student with the
      // teacher's tokenizer.json, with the KL term from a teacher worker.
      data += absl::StrCat(
          "student { arch: LLAMA vocab_size: ", kHfVocab,
          " dim: 32 n_layers: 1 n_heads: 4 n_kv_heads: 2 ffn_hidden_dim: 48 max_seq_len: 128 }\n"
          "distill { sft { batch_size: 2 seq_len: 96 max_steps: 2 optimizer { lr: 1e-3 } } kl_weight: 0.5 "
          "teacher_top_k: 4 }\n");
    } else {
      absl::StatusOr<std::string> tokenizer = testing::TrainTinyTokenizer(dir_.string(), kVocab);
      ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
      fs::copy_file(*tokenizer, Path("init/tokenizer.model"));
    }
    ASSERT_TRUE(WriteFileAtomically(Path("run.textproto"), RunConfig(data, rules)).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  Outcome RunR1(const std::string& tag, std::vector<std::string> args) {
    args.insert(args.begin(), BinDir() + "/r1");
    SubprocessOptions options;
    options.stdout_path = Path(tag + ".out");
    options.stderr_path = Path(tag + ".err");
    Outcome run;
    absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(args, options);
    EXPECT_TRUE(process.ok()) << process.status();
    if (!process.ok()) return run;
    absl::StatusOr<int> code = (*process)->Wait(absl::Seconds(600));
    run.exit_code = code.ok() ? *code : -1;
    run.stdout_text = ReadFile(Path(tag + ".out")).value_or("");
    run.stderr_text = ReadFile(Path(tag + ".err")).value_or("");
    return run;
  }

  fs::path dir_;
};

TEST_P(RlImportedTest, GrpoStepsThroughWorkerAndLearnerThenExportLoadsBack) {
  cli::LocalServicesOptions options;
  options.bin_dir = BinDir();
  options.log_dir = Path("services");
  options.start_reward = true;
  options.config_path = Path("run.textproto");
  options.workers = 1;
  options.checkpoint = Path("init");
  options.kv_slots = 8;
  options.worker_threads = 1;
  absl::StatusOr<std::unique_ptr<cli::LocalServices>> services = cli::LocalServices::Start(options);
  ASSERT_TRUE(services.ok()) << services.status();

  const Outcome rl = RunR1("rl", {"rl", Path("run.textproto"), "--init", Path("init"), "--run_dir", Path("run"),
                              "--rollout_workers", (*services)->worker_addresses()[0], "--reward_address",
                              (*services)->reward_address()});
  ASSERT_EQ(rl.exit_code, 0) << rl.stderr_text;
  const std::string trained = model::CheckpointDir(Path("run/rl/checkpoints"), 2);
  EXPECT_THAT(rl.stderr_text, HasSubstr(GetParam() == "qwen2" ? "rl: chat template " + Path("init/tokenizer_config.json")
                                                              : "rl: chat template " + Path("run_template.jinja")));
  const std::string metrics = ReadFile(Path("run/rl/metrics.jsonl")).value_or("");
  // Learner and worker computed the same logprobs: both run the family's
  // math (in bfloat16, the folder's dtype, so to bfloat16's precision).
  // At step 2 the worker samples with the weights the learner pushed after
  // step 1, so this also checks weight sync of the family's tensors.
  const std::string key = "\"logprob_mismatch\":";
  int steps = 0;
  for (size_t at = metrics.find(key); at != std::string::npos; at = metrics.find(key, at + 1), ++steps) {
    const double mismatch = std::strtod(metrics.c_str() + at + key.size(), nullptr);
    EXPECT_LT(mismatch, 0.05) << "step " << steps + 1;
    std::fprintf(stderr, "step %d logprob_mismatch %g\n", steps + 1, mismatch);
  }
  EXPECT_EQ(steps, 2) << metrics;

  // The trained checkpoint is the same family, with the user's keys, and moved.
  absl::StatusOr<model::CausalLm> before = model::LoadModel(Path("init"));
  absl::StatusOr<model::CausalLm> after = model::LoadModel(trained);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ((*after)->config().family(), GetParam() == "llama3" ? "llama" : GetParam());
  double moved = 0;
  const auto after_tensors = model::NamedTensors(**after);
  for (size_t i = 0; i < after_tensors.size(); ++i) {
    moved = std::max(moved, (after_tensors[i].second.to(torch::kFloat32) -
                             model::NamedTensors(**before)[i].second.to(torch::kFloat32)).abs().max().item<double>());
  }
  EXPECT_GT(moved, 0.0);

  const Outcome exported = RunR1("export", {"export", "--ckpt", trained, "--out", Path("export")});
  ASSERT_EQ(exported.exit_code, 0) << exported.stderr_text;
  const std::string config_json = ReadFile(Path("export/config.json")).value_or("");
  for (const char* key : GetParam() == "qwen3_moe"
                             ? std::vector<const char*>{"\"decoder_sparse_step\"", "\"mlp_only_layers\"",
                                                        "\"router_aux_loss_coef\"", "\"qwen3_moe\""}
                             : GetParam() == "llama3"
                             ? std::vector<const char*>{"\"rope_scaling\"", "\"llama3\"", "\"pretraining_tp\""}
                             : std::vector<const char*>{"\"qwen2\"", "\"max_window_layers\"", "\"use_sliding_window\""}) {
    EXPECT_THAT(config_json, HasSubstr(key));
  }
  absl::StatusOr<model::SafetensorsHeader> header = model::ReadSafetensorsHeader(Path("export/model.safetensors"));
  ASSERT_TRUE(header.ok()) << header.status();
  for (const auto& [name, entry] : header->tensors) {
    EXPECT_EQ(entry.dtype, name.find("e_score") != std::string::npos ? torch::kFloat32 : torch::kBFloat16) << name;
  }
  absl::StatusOr<model::CausalLm> reloaded = model::LoadModel(Path("export"));
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  // The export holds the trained weights rounded to bfloat16, the dtype the user's folder had.
  const auto reloaded_tensors = model::NamedTensors(**reloaded);
  ASSERT_EQ(reloaded_tensors.size(), after_tensors.size());
  for (size_t i = 0; i < after_tensors.size(); ++i) {
    const torch::Tensor want = after_tensors[i].second.to(torch::kBFloat16).to(torch::kFloat32);
    EXPECT_TRUE(torch::equal(reloaded_tensors[i].second.to(torch::kFloat32), want) ||
                after_tensors[i].first.find("e_score") != std::string::npos)
        << after_tensors[i].first;
  }
  if (GetParam() == "llama3") {
    // The run's template travelled into the checkpoint and the export (file
    // and tokenizer_config.json), so whoever loads the export prompts the
    // model as it was trained.
    EXPECT_EQ(ReadFile(trained + "/chat_template.jinja").value_or("missing"), kRunTemplate);
    EXPECT_EQ(ReadFile(Path("export/chat_template.jinja")).value_or("missing"), kRunTemplate);
    EXPECT_THAT(ReadFile(Path("export/tokenizer_config.json")).value_or(""), HasSubstr("<|system|>1 + 1 = 2."));
    ASSERT_TRUE(WriteFileAtomically(Path("messages.json"), R"([{"role": "user", "content": "3 + 4?"}])").ok());
    const Outcome chat = RunR1("chat", {"tokenizer", "chat", "--model", Path("export"), "--messages",
                                        Path("messages.json"), "--add_generation_prompt"});
    EXPECT_EQ(chat.exit_code, 0) << chat.stderr_text;
    EXPECT_EQ(chat.stdout_text, "<s><|system|>1 + 1 = 2.<|user|>3 + 4?<|assistant|>");
  }
  if (GetParam() != "qwen2") return;
  EXPECT_FALSE(fs::exists(Path("export/chat_template.jinja")));  // the model's own template, not the run's
  // The released tokenizer's files travel unchanged through the checkpoints
  // into the export, and nothing of r1's own takes their place.
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "generation_config.json"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(ReadFile(Path(absl::StrCat("export/", name))).value_or("export lacks it"),
              ReadFile(Path(absl::StrCat("init/", name))).value_or("init lacks it"));
  }
  EXPECT_FALSE(fs::exists(Path("export/tokenizer.model")));
  EXPECT_FALSE(fs::exists(Path("export/model.gguf")));
  EXPECT_THAT(exported.stderr_text, HasSubstr("tokenizer.json"));  // why no GGUF
  const Outcome eval = RunR1("eval", {"eval", "--ckpt", Path("export"), "--prompts", Path("test.jsonl"),
                                      "--reward_address", (*services)->reward_address()});
  EXPECT_EQ(eval.exit_code, 0) << eval.stderr_text;
  EXPECT_THAT(eval.stdout_text, HasSubstr("prompts"));

  // SFT from the export on imported chat data: the examples go through the
  // model's chat template, and the new checkpoint carries the same files.
  ASSERT_TRUE(WriteFileAtomically(Path("chat.jsonl"),
                                  "{\"messages\": [{\"role\": \"user\", \"content\": \"What is 2 + 2?\"}, "
                                  "{\"role\": \"assistant\", \"content\": \"4\"}]}\n"
                                  "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, "
                                  "{\"role\": \"user\", \"content\": \"3 + 3?\"}, "
                                  "{\"role\": \"assistant\", \"content\": \"6\"}, "
                                  "{\"role\": \"user\", \"content\": \"and 4 + 4?\"}, "
                                  "{\"role\": \"assistant\", \"content\": \"8\"}]}\n"
                                  "{\"messages\": [{\"role\": \"user\", \"content\": \"1 + 0?\"}, "
                                  "{\"role\": \"assistant\", \"content\": \"1\"}]}\n")
                  .ok());
  const Outcome chat = RunR1("import_chat", {"data", "import", "--format", "messages", "--in", Path("chat.jsonl"),
                                             "--out", Path("sft.jsonl")});
  ASSERT_EQ(chat.exit_code, 0) << chat.stderr_text;
  const Outcome sft = RunR1("sft", {"sft", Path("run.textproto"), "--init", Path("export"), "--run_dir", Path("run"),
                                    "--train", Path("sft.jsonl")});
  ASSERT_EQ(sft.exit_code, 0) << sft.stderr_text;
  EXPECT_THAT(sft.stderr_text, HasSubstr("sft: 2 steps in"));
  EXPECT_THAT(sft.stderr_text, HasSubstr("(0 truncated)"));
  const std::string sft_checkpoint(absl::StripTrailingAsciiWhitespace(sft.stdout_text));
  EXPECT_EQ(ReadFile(sft_checkpoint + "/tokenizer_config.json").value_or("missing"),
            ReadFile(Path("init/tokenizer_config.json")).value_or("init lacks it"));
  absl::StatusOr<model::CausalLm> tuned = model::LoadModel(sft_checkpoint);
  ASSERT_TRUE(tuned.ok()) << tuned.status();
  EXPECT_EQ((*tuned)->config().family(), "qwen2");

  // Distillation from the export: the same chat data through the teacher's
  // template, the teacher's top-k logprobs from a worker serving the
  // tokenizer.json teacher, and a student that carries its tokenizer files.
  const Outcome distill = RunR1("distill", {"distill", Path("run.textproto"), "--teacher", Path("export"),
                                            "--run_dir", Path("run"), "--train", Path("sft.jsonl")});
  ASSERT_EQ(distill.exit_code, 0) << distill.stderr_text;
  EXPECT_THAT(distill.stderr_text, HasSubstr("distill: 2 steps in"));
  EXPECT_THAT(distill.stderr_text, HasSubstr("chat template " + Path("export/tokenizer_config.json")));
  const std::string student(absl::StripTrailingAsciiWhitespace(distill.stdout_text));
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "generation_config.json"}) {
    EXPECT_EQ(ReadFile(absl::StrCat(student, "/", name)).value_or("student lacks it"),
              ReadFile(Path(absl::StrCat("init/", name))).value_or("init lacks it"))
        << name;
  }
  const std::string distill_metrics = ReadFile(Path("run/distill/metrics.jsonl")).value_or("");
  EXPECT_THAT(distill_metrics, HasSubstr("\"kl_loss\""));
  absl::StatusOr<model::CausalLm> distilled = model::LoadModel(student);
  ASSERT_TRUE(distilled.ok()) << distilled.status();
  EXPECT_EQ((*distilled)->config().vocab_size(), kHfVocab);
}

INSTANTIATE_TEST_SUITE_P(Families, RlImportedTest, ::testing::Values("qwen3_moe", "llama3", "qwen2"));

}  // namespace
}  // namespace r1
