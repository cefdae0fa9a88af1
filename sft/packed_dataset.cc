#include "sft/packed_dataset.h"

#include <torch/torch.h>

namespace r1::sft {

int64_t PackedDataset::target_tokens() const {
  return loss_mask.defined() ? loss_mask.sum().item<int64_t>() : 0;
}

PackedDataset Pack(const std::vector<EncodedExample>& examples, int64_t length, int pad_id) {
  PackedDataset out;
  out.examples = static_cast<int64_t>(examples.size());
  std::vector<std::vector<int64_t>> rows;
  std::vector<std::vector<uint8_t>> masks;
  std::vector<std::vector<int32_t>> segment_rows;
  std::vector<int64_t> row;
  std::vector<uint8_t> mask;
  std::vector<int32_t> segments;
  int32_t segment = 0;
  const auto flush = [&]() {
    if (row.empty()) return;
    row.resize(static_cast<size_t>(length), pad_id);
    mask.resize(static_cast<size_t>(length), 0);
    segments.resize(static_cast<size_t>(length), 0);
    rows.push_back(std::move(row));
    masks.push_back(std::move(mask));
    segment_rows.push_back(std::move(segments));
    row.clear();
    mask.clear();
    segments.clear();
    segment = 0;
  };
  for (const EncodedExample& example : examples) {
    size_t n = example.ids.size();
    if (static_cast<int64_t>(n) > length) {
      n = static_cast<size_t>(length);
      ++out.truncated;
    }
    if (static_cast<int64_t>(row.size() + n) > length) flush();
    if (n == 0) {
      out.placement.emplace_back(-1, 0);
      continue;
    }
    const size_t first = row.size();
    out.placement.emplace_back(static_cast<int64_t>(rows.size()), static_cast<int64_t>(first));
    row.insert(row.end(), example.ids.begin(), example.ids.begin() + static_cast<long>(n));
    mask.insert(mask.end(), example.loss_mask.begin(), example.loss_mask.begin() + static_cast<long>(n));
    mask[first] = 0;
    segments.insert(segments.end(), n, ++segment);
  }
  flush();
  const int64_t n_rows = static_cast<int64_t>(rows.size());
  out.tokens = torch::empty({n_rows, length}, torch::kInt64);
  out.loss_mask = torch::empty({n_rows, length}, torch::kUInt8);
  out.segment_ids = torch::empty({n_rows, length}, torch::kInt32);
  for (int64_t r = 0; r < n_rows; ++r) {
    std::memcpy(out.tokens[r].data_ptr<int64_t>(), rows[r].data(), sizeof(int64_t) * length);
    std::memcpy(out.loss_mask[r].data_ptr<uint8_t>(), masks[r].data(), length);
    std::memcpy(out.segment_ids[r].data_ptr<int32_t>(), segment_rows[r].data(), sizeof(int32_t) * length);
  }
  return out;
}

}  // namespace r1::sft
