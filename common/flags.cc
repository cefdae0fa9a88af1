#include "common/flags.h"

#include <cstdio>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace r1 {

FlagSet::FlagSet(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

void FlagSet::Add(const std::string& name, Kind kind, void* value, const std::string& help,
                  std::string default_text) {
  flags_.push_back(Flag{name, kind, value, help, std::move(default_text)});
}

void FlagSet::AddString(const std::string& name, std::string* value, const std::string& help) {
  Add(name, Kind::kString, value, help, value->empty() ? "" : absl::StrCat("\"", *value, "\""));
}
void FlagSet::AddInt(const std::string& name, int64_t* value, const std::string& help) {
  Add(name, Kind::kInt, value, help, absl::StrCat(*value));
}
void FlagSet::AddDouble(const std::string& name, double* value, const std::string& help) {
  Add(name, Kind::kDouble, value, help, absl::StrCat(*value));
}
void FlagSet::AddBool(const std::string& name, bool* value, const std::string& help) {
  Add(name, Kind::kBool, value, help, *value ? "true" : "false");
}
void FlagSet::AddList(const std::string& name, std::vector<std::string>* values,
                      const std::string& help) {
  Add(name, Kind::kList, values, help, "");
}

void FlagSet::Require(const std::string& name) {
  if (Flag* flag = Find(name)) flag->required = true;
}

void FlagSet::Positional(const std::string& name, int min, int max,
                         std::vector<std::string>* values, const std::string& help) {
  positional_name_ = name;
  positional_help_ = help;
  positional_min_ = min;
  positional_max_ = max;
  positional_ = values;
}

FlagSet::Flag* FlagSet::Find(const std::string& name) {
  for (Flag& flag : flags_) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

const FlagSet::Flag* FlagSet::Find(const std::string& name) const {
  return const_cast<FlagSet*>(this)->Find(name);
}

bool FlagSet::WasSet(const std::string& name) const {
  const Flag* flag = Find(name);
  return flag != nullptr && flag->set;
}

absl::Status FlagSet::Assign(Flag& flag, const std::string& text) {
  const auto bad = [&](absl::string_view expected) {
    return absl::InvalidArgumentError(
        absl::StrCat(command_, ": --", flag.name, " expects ", expected, ", got \"", text, "\""));
  };
  switch (flag.kind) {
    case Kind::kString:
      *static_cast<std::string*>(flag.value) = text;
      break;
    case Kind::kInt:
      if (!absl::SimpleAtoi(text, static_cast<int64_t*>(flag.value))) return bad("an integer");
      break;
    case Kind::kDouble:
      if (!absl::SimpleAtod(text, static_cast<double*>(flag.value))) return bad("a number");
      break;
    case Kind::kBool:
      if (!absl::SimpleAtob(text, static_cast<bool*>(flag.value))) return bad("true or false");
      break;
    case Kind::kList:
      static_cast<std::vector<std::string>*>(flag.value)->push_back(text);
      break;
  }
  flag.set = true;
  return absl::OkStatus();
}

absl::Status FlagSet::Parse(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  argv.reserve(args.size());
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return Parse(static_cast<int>(argv.size()), argv.data());
}

absl::Status FlagSet::Parse(int argc, const char* const* argv) {
  const std::string hint = absl::StrCat(" (see ", command_, " --help)");
  std::vector<std::string> positional;
  bool flags_ended = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (flags_ended || arg.size() < 2 || arg[0] != '-') {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_ended = true;
      continue;
    }
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      help_requested_ = true;
      return absl::OkStatus();
    }
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat(command_, ": flags are spelled --name, got ", arg, hint));
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    Flag* flag = Find(name);
    if (flag == nullptr && !has_value && absl::StartsWith(name, "no")) {
      Flag* negated = Find(name.substr(2));
      if (negated != nullptr && negated->kind == Kind::kBool) {
        *static_cast<bool*>(negated->value) = false;
        negated->set = true;
        continue;
      }
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(command_, ": unknown flag --", name, hint));
    }
    if (!has_value) {
      if (flag->kind == Kind::kBool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat(command_, ": --", name, " needs a value", hint));
      }
    }
    if (absl::Status s = Assign(*flag, value); !s.ok()) return s;
  }
  for (const Flag& flag : flags_) {
    if (flag.required && !flag.set) {
      return absl::InvalidArgumentError(
          absl::StrCat(command_, ": missing required flag --", flag.name, hint));
    }
  }
  const int n = static_cast<int>(positional.size());
  if (positional_ == nullptr && n > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(command_, ": unexpected argument \"", positional[0], "\"", hint));
  }
  if (positional_ != nullptr) {
    if (n < positional_min_) {
      return absl::InvalidArgumentError(
          absl::StrCat(command_, ": missing argument ", positional_name_, hint));
    }
    if (n > positional_max_) {
      return absl::InvalidArgumentError(absl::StrCat(
          command_, ": unexpected argument \"", positional[positional_max_], "\"", hint));
    }
    *positional_ = std::move(positional);
  }
  return absl::OkStatus();
}

std::string FlagSet::Usage() const {
  std::string out = absl::StrCat("usage: ", command_);
  if (!flags_.empty()) absl::StrAppend(&out, " [flags]");
  if (positional_ != nullptr) {
    absl::StrAppend(&out, positional_min_ > 0 ? " " : " [", positional_name_,
                    positional_max_ > 1 ? "..." : "", positional_min_ > 0 ? "" : "]");
  }
  absl::StrAppend(&out, "\n\n", summary_, "\n");
  if (positional_ != nullptr) {
    absl::StrAppend(&out, "\n  ", positional_name_, "  ", positional_help_, "\n");
  }
  if (!flags_.empty()) absl::StrAppend(&out, "\nflags:\n");
  for (const Flag& flag : flags_) {
    std::string left = absl::StrCat("  --", flag.name);
    absl::StrAppend(&out, absl::StrFormat("%-26s %s", left, flag.help));
    if (flag.required) {
      absl::StrAppend(&out, " (required)");
    } else if (!flag.default_text.empty()) {
      absl::StrAppend(&out, " (default ", flag.default_text, ")");
    }
    if (flag.kind == Kind::kList) absl::StrAppend(&out, " (repeatable)");
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, absl::StrFormat("%-26s %s\n", "  --help", "show this help"));
  return out;
}

std::optional<int> ParseCommandLine(FlagSet& flags, const std::vector<std::string>& args) {
  if (absl::Status s = flags.Parse(args); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  return std::nullopt;
}

}  // namespace r1
