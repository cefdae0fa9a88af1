#include "common/random.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace r1 {
namespace {

// Golden values from tests/golden/random_golden.py, an independent Python
// implementation of SplitMix64 seeding + xoshiro256**.
TEST(Rng, MatchesIndependentReference) {
  Rng rng(42);
  EXPECT_EQ(rng.NextU64(), 0x15780b2e0c2ec716ull);
  EXPECT_EQ(rng.NextU64(), 0x6104d9866d113a7eull);
  EXPECT_EQ(rng.NextU64(), 0xae17533239e499a1ull);
}

TEST(Rng, SameSeedSameStreamDifferentSeedDifferentStream) {
  Rng a(7), b(7), c(8);
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.NextU64();
    EXPECT_EQ(x, b.NextU64());
    EXPECT_NE(x, c.NextU64());
  }
}

TEST(Rng, UniformIntStaysInRangeAndHitsEveryValue) {
  Rng rng(1);
  std::map<int64_t, int> counts;
  for (int i = 0; i < 60000; ++i) {
    const int64_t v = rng.UniformInt(-3, 2);
    ASSERT_GE(v, -3);
    ASSERT_LE(v, 2);
    ++counts[v];
  }
  ASSERT_EQ(counts.size(), 6u);
  // 10000 expected per value; 5 sigma is about 460.
  for (const auto& [value, count] : counts) EXPECT_NEAR(count, 10000, 500) << value;
  EXPECT_EQ(rng.UniformInt(5, 5), 5);
}

TEST(Rng, UniformDoubleInUnitInterval) {
  Rng rng(3);
  double sum = 0;
  for (int i = 0; i < 10000; ++i) {
    const double u = rng.UniformDouble();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 10000, 0.5, 0.02);
}

TEST(Rng, BernoulliMatchesProbability) {
  Rng rng(5);
  int hits = 0;
  for (int i = 0; i < 20000; ++i) hits += rng.Bernoulli(0.3);
  EXPECT_NEAR(hits / 20000.0, 0.3, 0.02);
  EXPECT_FALSE(Rng(5).Bernoulli(0.0));
}

TEST(Rng, ShuffleIsAPermutation) {
  Rng rng(9);
  std::vector<int> items = {1, 2, 3, 4, 5, 6, 7, 8};
  rng.Shuffle(items);
  EXPECT_EQ(std::multiset<int>(items.begin(), items.end()),
            std::multiset<int>({1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(StreamSeed, DependsOnSeedAndIndex) {
  std::set<uint64_t> seen;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    for (uint64_t index = 0; index < 100; ++index) seen.insert(StreamSeed(seed, index));
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(StreamSeed(3, 4), StreamSeed(3, 4));
}

}  // namespace
}  // namespace r1
