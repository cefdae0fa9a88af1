// Test-only helpers shared by jinja_test.cc and hf_chat_template_test.cc (both
// in the jinja_test binary): where make_goldens.py's files are and the clock
// it renders with. Header-only so jinja_test keeps linking r1_jinja alone.
#ifndef R1_COMMON_JINJA_GOLDEN_TEST_UTIL_H_
#define R1_COMMON_JINJA_GOLDEN_TEST_UTIL_H_

#include <fstream>
#include <sstream>
#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/jinja.h"

namespace r1::jinja_golden {

// Relative: the tests run from the repository root.
inline constexpr char kGoldenDir[] = "tests/golden/chat_templates/";

// The file's bytes; "" when it cannot be read.
inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The clock make_goldens.py gives strftime_now.
inline jinja::RenderOptions FixedClock() {
  jinja::RenderOptions options;
  options.time_zone = absl::UTCTimeZone();
  options.now = [] {
    return absl::FromCivil(absl::CivilSecond(2024, 7, 26, 14, 5, 9), absl::UTCTimeZone());
  };
  return options;
}

}  // namespace r1::jinja_golden

#endif  // R1_COMMON_JINJA_GOLDEN_TEST_UTIL_H_
