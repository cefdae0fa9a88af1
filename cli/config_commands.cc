// r1 config check / show.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/config.h"
#include "common/flags.h"

namespace r1::cli {
namespace {

int Run(const Args& args, bool show) {
  std::vector<std::string> overrides;
  std::vector<std::string> files;
  FlagSet flags(show ? "r1 config show" : "r1 config check",
                show ? "Prints a run config after --set overrides, as text proto. Fields left at\n"
                       "their defaults are not printed; proto/config.proto lists the defaults."
                     : "Loads a run config, applies --set overrides and validates it.");
  flags.AddList("set", &overrides, "override a field: --set rl.group_size=16");
  flags.Positional("CONFIG", 1, 1, &files, "a .textproto run config");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  absl::StatusOr<config::RunConfig> run = LoadRunConfig(files[0], overrides);
  if (!run.ok()) return Fail(run.status());
  if (show) {
    std::fputs(ToTextProto(*run).c_str(), stdout);
  } else {
    std::printf("%s: ok\n", files[0].c_str());
  }
  return kExitOk;
}

}  // namespace

int ConfigCheck(const Args& args) { return Run(args, false); }
int ConfigShow(const Args& args) { return Run(args, true); }

}  // namespace r1::cli
