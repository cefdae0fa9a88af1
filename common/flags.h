// Command-line flags of one r1 subcommand. Each subcommand declares its flags
// on a FlagSet, which parses `--name=value` / `--name value`, generates the
// --help text, and turns unknown flags, missing values and bad numbers into
// one-line errors (never an abort).
#ifndef R1_COMMON_FLAGS_H_
#define R1_COMMON_FLAGS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace r1 {

class FlagSet {
 public:
  // `command` is the full spelling users type, e.g. "r1 data gen".
  FlagSet(std::string command, std::string summary);

  // The current value of each variable is its default and is shown in --help.
  void AddString(const std::string& name, std::string* value, const std::string& help);
  void AddInt(const std::string& name, int64_t* value, const std::string& help);
  void AddDouble(const std::string& name, double* value, const std::string& help);
  // `--name`, `--name=true|false`, `--noname`.
  void AddBool(const std::string& name, bool* value, const std::string& help);
  // May be given many times; each occurrence appends.
  void AddList(const std::string& name, std::vector<std::string>* values, const std::string& help);
  // A flag Parse() insists on.
  void Require(const std::string& name);
  // Positional arguments: between `min` and `max` of them, described as `name`.
  void Positional(const std::string& name, int min, int max, std::vector<std::string>* values,
                  const std::string& help);

  // argv[0] is the first argument after the subcommand words. `--` ends flags.
  absl::Status Parse(int argc, const char* const* argv);
  absl::Status Parse(const std::vector<std::string>& args);

  bool help_requested() const { return help_requested_; }
  bool WasSet(const std::string& name) const;
  std::string Usage() const;
  const std::string& command() const { return command_; }

 private:
  enum class Kind { kString, kInt, kDouble, kBool, kList };
  struct Flag {
    std::string name;
    Kind kind;
    void* value;
    std::string help;
    std::string default_text;
    bool required = false;
    bool set = false;
  };
  Flag* Find(const std::string& name);
  const Flag* Find(const std::string& name) const;
  absl::Status Assign(Flag& flag, const std::string& text);
  void Add(const std::string& name, Kind kind, void* value, const std::string& help,
           std::string default_text);

  std::string command_;
  std::string summary_;
  std::vector<Flag> flags_;
  std::string positional_name_;
  std::string positional_help_;
  int positional_min_ = 0;
  int positional_max_ = 0;
  std::vector<std::string>* positional_ = nullptr;
  bool help_requested_ = false;
};

// Parses `args` into `flags`. Returns the exit code when the command should
// stop here (--help printed on stdout: 0; bad flags, message printed on
// stderr: 2), nullopt to go on.
std::optional<int> ParseCommandLine(FlagSet& flags, const std::vector<std::string>& args);

}  // namespace r1

#endif  // R1_COMMON_FLAGS_H_
