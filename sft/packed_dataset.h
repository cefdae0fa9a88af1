// Token sequences packed into fixed-length rows for language-model training.
//
// Examples are laid end to end into rows of L tokens (greedily; a row ends
// when the next example does not fit), so little compute goes to padding.
// `segment_ids` keep them apart: in training each token attends only within
// its own example, and positions restart at each example's start, exactly as
// if the example had been run alone. An example's first token is never a
// target (nothing in its own example predicts it).
#ifndef R1_SFT_PACKED_DATASET_H_
#define R1_SFT_PACKED_DATASET_H_

#include <torch/types.h>

#include <utility>
#include <vector>

#include "common/chat_template.h"

namespace r1::sft {

struct PackedDataset {
  torch::Tensor tokens;     // [N, L] int64
  torch::Tensor loss_mask;  // [N, L] uint8: 1 where the token is a training target
  torch::Tensor segment_ids;  // [N, L] int32: 1, 2, ... per example in the row; 0 = padding
  // Where each example landed: (row, offset of its first token); row -1 for
  // an empty example. Per-token data of an example (a teacher's logprobs)
  // maps into the rows through it.
  std::vector<std::pair<int64_t, int64_t>> placement;
  int64_t truncated = 0;    // examples longer than L, cut to L
  int64_t examples = 0;

  int64_t rows() const { return tokens.defined() ? tokens.size(0) : 0; }
  int64_t target_tokens() const;
};

// `pad_id` fills the end of each row (never a target).
PackedDataset Pack(const std::vector<EncodedExample>& examples, int64_t length, int pad_id);

}  // namespace r1::sft

#endif  // R1_SFT_PACKED_DATASET_H_
