#include "common/run_dir.h"

#include "absl/strings/str_cat.h"

namespace r1 {

std::string RunDir(const config::RunConfig& run) {
  return run.run_dir().empty() ? absl::StrCat("runs/", run.name()) : run.run_dir();
}

}  // namespace r1
