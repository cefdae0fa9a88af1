// CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected), the checksum of
// checkpoint manifests and of TensorBoard's record framing.
#ifndef R1_COMMON_CRC32C_H_
#define R1_COMMON_CRC32C_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace r1 {

// Continues `crc` (0 for a fresh checksum) over `data`.
uint32_t Crc32c(absl::string_view data, uint32_t crc = 0);

}  // namespace r1

#endif  // R1_COMMON_CRC32C_H_
