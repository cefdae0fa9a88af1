// Helpers shared by tests (linked into test binaries only).
#ifndef R1_COMMON_TEST_SUPPORT_H_
#define R1_COMMON_TEST_SUPPORT_H_

#include <string>

#include "absl/status/statusor.h"
#include "proto/config.pb.h"

namespace r1::testing {

// Trains a small BPE tokenizer with r1's special tokens on generated
// chat-formatted arithmetic text, in `dir`; returns the model path.
// vocab_size up to about 44 works on this corpus.
absl::StatusOr<std::string> TrainTinyTokenizer(const std::string& dir, int vocab_size);

// A small model of either layout for tests (a few thousand parameters):
// dim 32, 4 heads, max_seq_len 64. DeepSeek-V3: 3 layers (1 dense), MLA with
// a low-rank query path, 6 routed experts (top 2) + 1 shared, 1 MTP module.
// Llama: 2 layers, 2 kv heads.
config::ModelConfig SmallModelConfig(config::ModelArch arch, int vocab_size);

}  // namespace r1::testing

#endif  // R1_COMMON_TEST_SUPPORT_H_
