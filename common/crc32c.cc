#include "common/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace r1 {
namespace {

// Slicing-by-8 tables for the reflected polynomial 0x82F63B78.
std::array<std::array<uint32_t, 256>, 8> MakeTables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
  return t;
}

const std::array<std::array<uint32_t, 256>, 8>& Tables() {
  static const auto* tables = new std::array<std::array<uint32_t, 256>, 8>(MakeTables());
  return *tables;
}

}  // namespace

namespace crc32c_internal {

uint32_t WithTables(absl::string_view data, uint32_t crc) {
  const auto& t = Tables();
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  crc = ~crc;
  while (n >= 8) {
    const uint32_t lo = crc ^ (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24);
    crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^ t[3][p[4]] ^
          t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFF];
  return ~crc;
}

#if defined(__x86_64__)
bool HaveInstruction() {
  static const bool have = __builtin_cpu_supports("sse4.2");
  return have;
}

namespace {

// The crc32 instruction gives its result 3 cycles after it starts but can
// start one every cycle: a single chain of them runs at a third of what the
// unit does (about 10 GB/s here, as slow as the copy it guards). So long
// inputs go as three runs of kRun bytes checksummed side by side, then
// joined. The raw state (no inversions) is linear over GF(2): the state after
// A then B is Shift(state after A) ^ (B's state started from 0), where Shift
// runs a state through |B| zero bytes. Shift is linear too, so a table per
// byte of the state, built from the 32 single-bit states, gives it in four
// lookups.
constexpr size_t kRun = 8192;  // bytes per run; 3 runs per round

struct ShiftTables {
  uint32_t byte[4][256];  // byte[k][b]: Shift of the state b << 8k
};

__attribute__((target("sse4.2"))) ShiftTables MakeShiftTables() {
  uint32_t bit[32];  // Shift of each single-bit state
  for (int i = 0; i < 32; ++i) {
    uint64_t c = uint64_t{1} << i;
    for (size_t done = 0; done < kRun; done += 8) c = _mm_crc32_u64(c, 0);
    bit[i] = static_cast<uint32_t>(c);
  }
  ShiftTables tables;
  for (int k = 0; k < 4; ++k) {
    for (int b = 0; b < 256; ++b) {
      uint32_t shifted = 0;
      for (int j = 0; j < 8; ++j) {
        if (b & (1 << j)) shifted ^= bit[8 * k + j];
      }
      tables.byte[k][b] = shifted;
    }
  }
  return tables;
}

uint64_t Shift(const ShiftTables& t, uint64_t state) {
  return t.byte[0][state & 0xFF] ^ t.byte[1][(state >> 8) & 0xFF] ^ t.byte[2][(state >> 16) & 0xFF] ^
         t.byte[3][(state >> 24) & 0xFF];
}

uint64_t Load64(const unsigned char* p) {
  uint64_t word;
  std::memcpy(&word, p, 8);  // unaligned load
  return word;
}

}  // namespace

// The crc32 instruction computes this same reflected CRC-32C step, 8 bytes at
// a time; the pre- and post-inversion are the caller's, as with the tables.
__attribute__((target("sse4.2"))) uint32_t WithInstruction(absl::string_view data, uint32_t crc) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  uint64_t c = ~crc;
  if (n >= 3 * kRun) {
    static const ShiftTables* const tables = new ShiftTables(MakeShiftTables());
    for (; n >= 3 * kRun; p += 3 * kRun, n -= 3 * kRun) {
      uint64_t a = c, b = 0, d = 0;
      for (size_t i = 0; i < kRun; i += 8) {
        a = _mm_crc32_u64(a, Load64(p + i));
        b = _mm_crc32_u64(b, Load64(p + kRun + i));
        d = _mm_crc32_u64(d, Load64(p + 2 * kRun + i));
      }
      c = Shift(*tables, Shift(*tables, a) ^ b) ^ d;
    }
  }
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);  // unaligned load
    c = _mm_crc32_u64(c, word);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}
#else
bool HaveInstruction() { return false; }
uint32_t WithInstruction(absl::string_view data, uint32_t crc) { return WithTables(data, crc); }
#endif

}  // namespace crc32c_internal

uint32_t Crc32c(absl::string_view data, uint32_t crc) {
  return crc32c_internal::HaveInstruction() ? crc32c_internal::WithInstruction(data, crc)
                                            : crc32c_internal::WithTables(data, crc);
}

}  // namespace r1
