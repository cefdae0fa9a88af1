// Helpers shared by tests (linked into test binaries only).
#ifndef R1_COMMON_TEST_SUPPORT_H_
#define R1_COMMON_TEST_SUPPORT_H_

#include <string>

#include "absl/status/statusor.h"

namespace r1::testing {

// Trains a small BPE tokenizer with r1's special tokens on generated
// chat-formatted arithmetic text, in `dir`; returns the model path.
// vocab_size up to about 44 works on this corpus.
absl::StatusOr<std::string> TrainTinyTokenizer(const std::string& dir, int vocab_size);

}  // namespace r1::testing

#endif  // R1_COMMON_TEST_SUPPORT_H_
