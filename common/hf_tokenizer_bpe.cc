// tokenizer.json's BPE model: a pre-token's characters become symbols, then
// the lowest-ranked adjacent pair that has a merge is merged (leftmost first
// on equal rank) until no pair has one, as the tokenizers library does.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/hf_tokenizer_internal.h"
#include "common/utf8.h"

namespace r1::hf_internal {

namespace {

// Per-thread memory of encoded pieces, one table per model (by serial, never
// reused, so a destroyed model's entries can never answer for a new one).
constexpr size_t kMaxCachedPieceBytes = 256;
constexpr size_t kMaxCachedPieces = 1 << 17;  // per thread, all models together

std::atomic<uint64_t> next_model_serial{1};

struct PieceCache {
  uint64_t serial = 0;
  absl::flat_hash_map<std::string, std::vector<int>> pieces;
};

struct ThreadCaches {
  std::vector<PieceCache> tables;
  size_t total = 0;
  PieceCache* last = nullptr;

  PieceCache& For(uint64_t serial) {
    if (last != nullptr && last->serial == serial) return *last;
    for (PieceCache& table : tables) {
      if (table.serial == serial) return *(last = &table);
    }
    tables.emplace_back();
    tables.back().serial = serial;
    // emplace_back may move the tables; `last` is reset to the new one.
    return *(last = &tables.back());
  }
};

ThreadCaches& Caches() {
  thread_local ThreadCaches caches;
  return caches;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::Create(BpeOptions options,
                                                           const std::string& where) {
  std::unique_ptr<BpeModel> model(new BpeModel());
  model->serial_ = next_model_serial.fetch_add(1);
  model->vocab_ = std::move(options.vocab);
  model->fuse_unk_ = options.fuse_unk;
  model->byte_fallback_ = options.byte_fallback;
  model->ignore_merges_ = options.ignore_merges;
  if (!options.unk_token.empty()) {
    auto it = model->vocab_.find(options.unk_token);
    if (it == model->vocab_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".unk_token: \"", options.unk_token, "\" is not in model.vocab"));
    }
    model->unk_id_ = it->second;
  }
  model->ascii_ids_.assign(128, -1);
  for (const auto& [token, id] : model->vocab_) {
    int len;
    if (token.empty()) continue;
    const int32_t cp = utf8::NextCodePoint(token, 0, &len);
    if (static_cast<size_t>(len) != token.size() || cp < 0) continue;
    if (cp < 128) {
      model->ascii_ids_[cp] = id;
    } else {
      model->char_ids_[cp] = id;
    }
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    auto it = model->vocab_.find(name);
    model->byte_ids_[b] = it == model->vocab_.end() ? -1 : it->second;
  }
  model->merges_.reserve(options.merges.size());
  for (size_t rank = 0; rank < options.merges.size(); ++rank) {
    const auto& [left, right] = options.merges[rank];
    const auto left_it = model->vocab_.find(left);
    const auto right_it = model->vocab_.find(right);
    const auto merged_it = model->vocab_.find(left + right);
    if (left_it == model->vocab_.end() || right_it == model->vocab_.end() ||
        merged_it == model->vocab_.end()) {
      const std::string& missing = left_it == model->vocab_.end()    ? left
                                   : right_it == model->vocab_.end() ? right
                                                                     : left + right;
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".merges[", rank, "]: \"", missing, "\" is not in model.vocab"));
    }
    // A repeated pair keeps its first (lowest) rank, as a map built in order
    // and never overwritten would.
    model->merges_.emplace(PairKey(left_it->second, right_it->second),
                           MergeResult{static_cast<int>(rank), merged_it->second});
  }
  return model;
}

int BpeModel::CharId(int32_t cp) const {
  if (cp >= 0 && cp < 128) return ascii_ids_[cp];
  if (cp >= 0) {
    auto it = char_ids_.find(cp);
    return it == char_ids_.end() ? -1 : it->second;
  }
  // An invalid byte: the vocabulary (valid JSON text) cannot hold it alone.
  return -1;
}

void BpeModel::Encode(absl::string_view piece, std::vector<int>* ids) const {
  if (piece.empty()) return;
  if (piece.size() > kMaxCachedPieceBytes) {
    EncodeUncached(piece, ids);
    return;
  }
  ThreadCaches& caches = Caches();
  PieceCache& cache = caches.For(serial_);
  auto hit = cache.pieces.find(piece);
  if (hit != cache.pieces.end()) {
    ids->insert(ids->end(), hit->second.begin(), hit->second.end());
    return;
  }
  const size_t first = ids->size();
  EncodeUncached(piece, ids);
  std::vector<int> encoded(ids->begin() + first, ids->end());
  if (caches.total >= kMaxCachedPieces) {
    // Start over, dropping the tables of models this thread no longer uses.
    caches.tables.clear();
    caches.last = nullptr;
    caches.total = 0;
    caches.For(serial_).pieces.emplace(std::string(piece), std::move(encoded));
  } else {
    cache.pieces.emplace(std::string(piece), std::move(encoded));
  }
  ++caches.total;
}

void BpeModel::EncodeUncached(absl::string_view piece, std::vector<int>* ids) const {
  if (ignore_merges_) {
    auto it = vocab_.find(std::string(piece));
    if (it != vocab_.end()) {
      ids->push_back(it->second);
      return;
    }
  }

  // Symbols as a doubly linked list over an array; merging keeps the left one.
  struct Symbol {
    int id;
    int prev;
    int next;
    bool alive;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(piece.size());
  auto add = [&](int id) {
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({id, index - 1, -1, true});
    if (index > 0) symbols[index - 1].next = index;
  };
  // A run of unknown characters waiting to become one unk (fuse_unk) or one
  // unk each.
  bool pending_unk = false;
  size_t pos = 0;
  while (pos < piece.size()) {
    int len;
    const int32_t cp = utf8::NextCodePoint(piece, pos, &len);
    const absl::string_view character = piece.substr(pos, len);
    pos += len;
    const int id = CharId(cp);
    if (id >= 0) {
      if (pending_unk) add(unk_id_), pending_unk = false;
      add(id);
      continue;
    }
    if (byte_fallback_) {
      bool all_bytes_known = true;
      for (char c : character) all_bytes_known &= byte_ids_[static_cast<unsigned char>(c)] >= 0;
      if (all_bytes_known) {
        // As the reference: byte tokens do not flush a pending unk first.
        for (char c : character) add(byte_ids_[static_cast<unsigned char>(c)]);
        continue;
      }
    }
    if (unk_id_ >= 0) {
      if (pending_unk && !fuse_unk_) add(unk_id_);
      pending_unk = true;
    }
    // Without an unk token the character is dropped, as the reference does.
  }
  if (pending_unk) add(unk_id_);

  if (symbols.size() > 1 && !merges_.empty()) {
    // Min-heap on (rank, position of the left symbol).
    struct Candidate {
      int rank;
      int left;
      bool operator>(const Candidate& other) const {
        return rank != other.rank ? rank > other.rank : left > other.left;
      }
    };
    std::vector<Candidate> heap;
    heap.reserve(symbols.size());
    auto push_pair = [&](int left) {
      const int right = symbols[left].next;
      if (right < 0) return;
      auto it = merges_.find(PairKey(symbols[left].id, symbols[right].id));
      if (it == merges_.end()) return;
      heap.push_back({it->second.rank, left});
      std::push_heap(heap.begin(), heap.end(), std::greater<Candidate>());
    };
    for (int i = 0; i + 1 < static_cast<int>(symbols.size()); ++i) push_pair(i);
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), std::greater<Candidate>());
      const Candidate top = heap.back();
      heap.pop_back();
      Symbol& left = symbols[top.left];
      if (!left.alive || left.next < 0) continue;
      // Stale if either side changed since the candidate was pushed.
      auto it = merges_.find(PairKey(left.id, symbols[left.next].id));
      if (it == merges_.end() || it->second.rank != top.rank) continue;
      Symbol& right = symbols[left.next];
      left.id = it->second.merged_id;
      right.alive = false;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = top.left;
      if (left.prev >= 0) push_pair(left.prev);
      push_pair(top.left);
    }
  }
  for (int i = 0; i >= 0 && i < static_cast<int>(symbols.size()); i = symbols[i].next) {
    ids->push_back(symbols[i].id);
  }
}

}  // namespace r1::hf_internal
