// tokenizer.json's Unigram model (SentencePiece's unigram language model):
// the segmentation of a pre-token whose pieces' log probabilities sum
// highest, found by Viterbi over byte positions, as the tokenizers library
// does it.
#include <algorithm>
#include <cstdio>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/hf_tokenizer_internal.h"
#include "common/utf8.h"

namespace r1::hf_internal {

namespace {
// What an uncovered character scores below the least likely piece.
constexpr double kUnknownPenalty = 10.0;
}  // namespace

absl::StatusOr<std::unique_ptr<UnigramModel>> UnigramModel::Create(UnigramOptions options,
                                                                   const std::string& where) {
  std::unique_ptr<UnigramModel> model(new UnigramModel());
  const int size = static_cast<int>(options.pieces.size());
  if (options.unk_id >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".unk_id: ", options.unk_id, " is not a piece of model.vocab"));
  }
  model->unk_id_ = options.unk_id;
  model->byte_fallback_ = options.byte_fallback;
  model->trie_ = std::make_unique<TokenTrie>();
  model->scores_.reserve(size);
  double min_score = std::numeric_limits<double>::infinity();
  for (int id = 0; id < size; ++id) {
    auto& [piece, score] = options.pieces[id];
    model->scores_.push_back(score);
    min_score = std::min(min_score, score);
    model->trie_->Add(piece, id);
    // A repeated piece answers with its last id, as the reference's map does.
    model->vocab_[piece] = id;
  }
  model->unk_score_ = (size > 0 ? min_score : 0.0) - kUnknownPenalty;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    auto it = model->vocab_.find(name);
    model->byte_ids_[b] = it == model->vocab_.end() ? -1 : it->second;
  }
  return model;
}

void UnigramModel::Encode(absl::string_view text, std::vector<int>* ids) const {
  if (text.empty()) return;
  const size_t size = text.size();
  // best[i]: the best segmentation of text[0, i): its score, last piece's id
  // and where that piece starts (-1: none found yet).
  struct Best {
    double score = 0;
    int id = -1;
    int64_t starts_at = -1;
  };
  std::vector<Best> best(size + 1);
  size_t pos = 0;
  while (pos < size) {
    const double score_here = best[pos].score;
    int char_length;
    utf8::NextCodePoint(text, pos, &char_length);
    bool has_single_character_piece = false;
    trie_->ForEachPrefixAt(text, pos, [&](int id, size_t length) {
      Best& target = best[pos + length];
      const double candidate = score_here + scores_[id];
      // Strictly greater: on equal scores the first path found stays.
      if (target.starts_at < 0 || candidate > target.score) {
        target = {candidate, id, static_cast<int64_t>(pos)};
      }
      if (length == static_cast<size_t>(char_length)) has_single_character_piece = true;
    });
    if (!has_single_character_piece) {
      Best& target = best[pos + char_length];
      const double candidate = score_here + unk_score_;
      if (target.starts_at < 0 || candidate > target.score) {
        // Without an unk id (which the reference refuses to encode with) the
        // character is dropped below.
        target = {candidate, unk_id_, static_cast<int64_t>(pos)};
      }
    }
    pos += char_length;
  }

  // Back from the end: the pieces, runs of unknown ones fused into one.
  struct Segment {
    size_t begin, end;
  };
  std::vector<Segment> segments;
  bool previous_unknown = false;
  for (size_t end = size; end > 0;) {
    const Best& node = best[end];
    const size_t begin = static_cast<size_t>(node.starts_at);
    const bool unknown = node.id == unk_id_;
    if (unknown && previous_unknown) {
      segments.back().begin = begin;
    } else {
      segments.push_back({begin, end});
    }
    previous_unknown = unknown;
    end = begin;
  }
  std::reverse(segments.begin(), segments.end());

  // Each piece by its text, as the reference looks them up.
  for (const Segment& segment : segments) {
    const absl::string_view piece = text.substr(segment.begin, segment.end - segment.begin);
    auto it = vocab_.find(std::string(piece));
    if (it != vocab_.end()) {
      ids->push_back(it->second);
      continue;
    }
    if (byte_fallback_) {
      bool all_bytes_known = true;
      for (char c : piece) all_bytes_known &= byte_ids_[static_cast<unsigned char>(c)] >= 0;
      if (all_bytes_known) {
        for (char c : piece) ids->push_back(byte_ids_[static_cast<unsigned char>(c)]);
        continue;
      }
    }
    if (unk_id_ >= 0) ids->push_back(unk_id_);
  }
}

}  // namespace r1::hf_internal
