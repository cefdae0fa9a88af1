// The flags every stage command shares: the run config (positional CONFIG or
// --config), `--set` overrides and `--run_dir`. One definition, so `r1
// pretrain`, `r1 rl`, `r1 sft`, ... read a config the same way.
#ifndef R1_CLI_RUN_FLAGS_H_
#define R1_CLI_RUN_FLAGS_H_

#include <optional>
#include <string>
#include <vector>

#include "proto/config.pb.h"

namespace r1 {

class FlagSet;

namespace cli {

class RunFlags {
 public:
  // Registers CONFIG, --config, --set (with `set_example`, e.g.
  // "rl.max_steps=50") and, when `with_run_dir`, --run_dir.
  void Add(FlagSet& flags, const std::string& set_example, bool with_run_dir = true);

  // After parsing: loads and validates the config into `run`. Returns the
  // exit code when the command must stop (no config given: usage, 2; a bad
  // config: the error, 1), nullopt to go on.
  std::optional<int> Load(const std::string& command, config::RunConfig* run);

  // Whether a config was named (for commands where it is optional).
  bool given() const { return !config_flag_.empty() || !files_.empty(); }
  const std::string& config_path() const { return config_path_; }
  const std::vector<std::string>& overrides() const { return overrides_; }
  // --run_dir, else the config's run_dir, else runs/<name>. After Load.
  const std::string& run_dir() const { return run_dir_; }

 private:
  std::vector<std::string> files_, overrides_;
  std::string config_flag_, run_dir_flag_, config_path_, run_dir_;
};

}  // namespace cli
}  // namespace r1

#endif  // R1_CLI_RUN_FLAGS_H_
