// Helpers shared by tests (linked into test binaries only).
#ifndef R1_COMMON_TEST_SUPPORT_H_
#define R1_COMMON_TEST_SUPPORT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/tokenizer.h"
#include "proto/config.pb.h"

namespace r1::testing {

// Trains a small BPE tokenizer with r1's special tokens on generated
// chat-formatted arithmetic text, in `dir`; returns the model path.
// vocab_size up to about 44 works on this corpus.
absl::StatusOr<std::string> TrainTinyTokenizer(const std::string& dir, int vocab_size);
// The same with vocab_size 40, loaded.
absl::StatusOr<Tokenizer> TinyTokenizer(const std::string& dir);

// A small model of either layout for tests (a few thousand parameters):
// dim 32, 4 heads, max_seq_len 64. DeepSeek-V3: 3 layers (1 dense), MLA with
// a low-rank query path, 6 routed experts (top 2) + 1 shared, 1 MTP module.
// Llama: 2 layers, 2 kv heads.
config::ModelConfig SmallModelConfig(config::ModelArch arch, int vocab_size);

// A released-model-style tokenizer in `dir`: tests/golden/tokenizers'
// byte-level Qwen2-pattern tokenizer.json (761 tokens: <|endoftext|> 756,
// <|im_start|> 757, <|im_end|> 758, <think> 759, </think> 760),
// tokenizer_config.json with a Qwen-style chat template (eos <|im_end|>, pad
// <|endoftext|>, no BOS) and generation_config.json stopping at 758 and 756.
// Paths are relative to the repository root (tests run there).
absl::Status WriteTinyHfTokenizerFolder(const std::string& dir);

// Its chat template.
extern const char kTinyQwenChatTemplate[];

}  // namespace r1::testing

#endif  // R1_COMMON_TEST_SUPPORT_H_
