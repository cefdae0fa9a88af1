#include "cli/run_flags.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "common/config.h"
#include "common/flags.h"
#include "common/run_dir.h"

namespace r1::cli {

void RunFlags::Add(FlagSet& flags, const std::string& set_example, bool with_run_dir) {
  flags.Positional("CONFIG", 0, 1, &files_, "run config (or --config)");
  flags.AddString("config", &config_flag_, "run config, e.g. configs/tiny.textproto");
  flags.AddList("set", &overrides_, absl::StrCat("override a config field: --set ", set_example));
  if (with_run_dir) {
    flags.AddString("run_dir", &run_dir_flag_, "run directory (default: the config's run_dir, or runs/<name>)");
  }
}

std::optional<int> RunFlags::Load(const std::string& command, config::RunConfig* run) {
  config_path_ = !config_flag_.empty() ? config_flag_ : files_.empty() ? "" : files_[0];
  if (config_path_.empty()) {
    std::fprintf(stderr, "%s: give a config (see %s --help)\n", command.c_str(), command.c_str());
    return kExitUsage;
  }
  absl::StatusOr<config::RunConfig> loaded = LoadRunConfig(config_path_, overrides_);
  if (!loaded.ok()) return Fail(loaded.status());
  *run = std::move(*loaded);
  run_dir_ = run_dir_flag_.empty() ? RunDir(*run) : run_dir_flag_;
  return std::nullopt;
}

}  // namespace r1::cli
