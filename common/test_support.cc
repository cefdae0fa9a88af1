#include "common/test_support.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/chat_template.h"
#include "common/file_util.h"
#include "common/status.h"
#include "common/tokenizer.h"
#include "proto/config.pb.h"

namespace r1::testing {

absl::StatusOr<std::string> TrainTinyTokenizer(const std::string& dir, int vocab_size) {
  R1_RETURN_IF_ERROR(MakeDirs(dir));
  std::string corpus;
  for (int i = 0; i < 300; ++i) {
    absl::StrAppend(&corpus, RenderExampleText(absl::StrCat("What is ", i, " + ", i % 7, "?"),
                                               RenderReasoningResponse("ok", absl::StrCat(i + i % 7))),
                    "\n");
  }
  const std::string corpus_path = absl::StrCat(dir, "/tiny_corpus.txt");
  R1_RETURN_IF_ERROR(WriteFileAtomically(corpus_path, corpus));
  config::TokenizerConfig config;
  config.set_vocab_size(vocab_size);
  config.set_model_type("bpe");
  const std::string model = absl::StrCat(dir, "/tiny_tokenizer.model");
  R1_RETURN_IF_ERROR(Tokenizer::Train(config, {corpus_path}, model));
  return model;
}

absl::StatusOr<Tokenizer> TinyTokenizer(const std::string& dir) {
  R1_ASSIGN_OR_RETURN(const std::string path, TrainTinyTokenizer(dir, 40));
  return Tokenizer::Load(path);
}

config::ModelConfig SmallModelConfig(config::ModelArch arch, int vocab_size) {
  config::ModelConfig c;
  c.set_arch(arch);
  c.set_vocab_size(vocab_size);
  c.set_dim(32);
  c.set_n_heads(4);
  c.set_max_seq_len(64);
  if (arch == config::LLAMA) {
    c.set_n_layers(2);
    c.set_n_kv_heads(2);
    c.set_ffn_hidden_dim(48);
    return c;
  }
  c.set_n_layers(3);
  c.set_q_lora_rank(16);
  c.set_kv_lora_rank(16);
  c.set_qk_nope_head_dim(8);
  c.set_qk_rope_head_dim(4);
  c.set_v_head_dim(8);
  c.set_n_dense_layers(1);
  c.set_inter_dim(48);
  c.set_moe_inter_dim(16);
  c.set_n_shared_experts(1);
  c.set_n_routed_experts(6);
  c.set_n_activated_experts(2);
  c.set_n_mtp_modules(1);
  return c;
}

const char kTinyQwenChatTemplate[] =
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

absl::Status WriteTinyHfTokenizerFolder(const std::string& dir) {
  std::filesystem::create_directories(dir);
  R1_ASSIGN_OR_RETURN(std::string json, ReadFile("tests/golden/tokenizers/qwen2.tokenizer.json"));
  R1_RETURN_IF_ERROR(WriteFileAtomically(dir + "/tokenizer.json", json));
  std::string escaped;
  for (char c : std::string(kTinyQwenChatTemplate)) {
    if (c == '\n') {
      escaped += "\\n";
    } else if (c == '"' || c == '\\') {
      escaped += std::string("\\") + c;
    } else {
      escaped += c;
    }
  }
  R1_RETURN_IF_ERROR(WriteFileAtomically(
      dir + "/tokenizer_config.json",
      absl::StrCat("{\n  \"bos_token\": null,\n  \"eos_token\": \"<|im_end|>\",\n  \"pad_token\": \"<|endoftext|>\",\n"
                   "  \"chat_template\": \"", escaped, "\"\n}\n")));
  return WriteFileAtomically(dir + "/generation_config.json",
                             "{\n  \"eos_token_id\": [758, 756],\n  \"do_sample\": true\n}\n");
}

}  // namespace r1::testing
