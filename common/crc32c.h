// CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected), the checksum of
// checkpoint manifests and of TensorBoard's record framing.
#ifndef R1_COMMON_CRC32C_H_
#define R1_COMMON_CRC32C_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace r1 {

// Continues `crc` (0 for a fresh checksum) over `data`. Uses the CPU's crc32
// instruction (x86-64 SSE4.2) where it has one: weight updates checksum every
// tensor on both sides, and the tables run at about a fifth of memcpy's speed.
uint32_t Crc32c(absl::string_view data, uint32_t crc = 0);

namespace crc32c_internal {
// The two implementations Crc32c chooses from, for tests and benchmarks.
uint32_t WithTables(absl::string_view data, uint32_t crc);
bool HaveInstruction();
uint32_t WithInstruction(absl::string_view data, uint32_t crc);  // only if HaveInstruction()
}  // namespace crc32c_internal

}  // namespace r1

#endif  // R1_COMMON_CRC32C_H_
