// A small, seedable random generator whose output is fixed by this file alone
// (std::uniform_int_distribution differs between standard libraries), so a
// generated dataset is the same on every machine for the same seed.
#ifndef R1_COMMON_RANDOM_H_
#define R1_COMMON_RANDOM_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace r1 {

// SplitMix64 step: a bijective mixer, used to seed and to derive stream seeds.
inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Seed of the independent stream number `index` under `seed`: item i of a
// generated dataset depends on (seed, i) only, not on how many came before.
inline uint64_t StreamSeed(uint64_t seed, uint64_t index) {
  uint64_t state = seed;
  uint64_t a = SplitMix64(state);
  state = a ^ (index * 0xD1B54A32D192ED03ull);
  return SplitMix64(state);
}

// xoshiro256** (Blackman and Vigna, 2018).
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t state = seed;
    for (uint64_t& word : s_) word = SplitMix64(state);
  }

  uint64_t NextU64() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [lo, hi], both ends included; unbiased (rejection sampling).
  int64_t UniformInt(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    if (span == 0) return static_cast<int64_t>(NextU64());  // the full 64-bit range
    const uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    uint64_t x;
    do {
      x = NextU64();
    } while (x >= limit);
    return lo + static_cast<int64_t>(x % span);
  }

  // Uniform in [0, 1) with 53 random bits.
  double UniformDouble() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }

  bool Bernoulli(double p) { return UniformDouble() < p; }

  template <typename T>
  void Shuffle(std::vector<T>& items) {
    for (size_t i = items.size(); i > 1; --i) {
      std::swap(items[i - 1], items[static_cast<size_t>(UniformInt(0, static_cast<int64_t>(i) - 1))]);
    }
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace r1

#endif  // R1_COMMON_RANDOM_H_
