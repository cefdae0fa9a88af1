// Flag parsing shared by the bench programs: one place for what a bench's
// main does with --help and with a bad flag.
#ifndef R1_BENCH_BENCH_FLAGS_H_
#define R1_BENCH_BENCH_FLAGS_H_

#include <cstdio>
#include <optional>
#include <string>

#include "common/flags.h"

namespace r1::bench {

// Parses argv[1..]: nullopt to run the bench, else the exit code main
// returns (0 after printing --help, 2 after printing a bad flag's message).
inline std::optional<int> ParseBenchFlags(FlagSet& flags, int argc, char** argv) {
  if (absl::Status s = flags.Parse(argc - 1, argv + 1); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  return std::nullopt;
}

}  // namespace r1::bench

#endif  // R1_BENCH_BENCH_FLAGS_H_
