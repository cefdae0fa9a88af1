// Where a run keeps its outputs. Every command that reads or writes a run
// (the stages, the pipeline, the report) agrees on this one rule, so the
// folder a stage wrote is the folder the next one finds.
#ifndef R1_COMMON_RUN_DIR_H_
#define R1_COMMON_RUN_DIR_H_

#include <string>

#include "proto/config.pb.h"

namespace r1 {

// run.run_dir, or runs/<name> (relative to the working directory) when unset.
std::string RunDir(const config::RunConfig& run);

}  // namespace r1

#endif  // R1_COMMON_RUN_DIR_H_
