// The one config loader. A config is a text-format protobuf (schema in
// proto/config.proto); loading reports errors as `file:line:column: message`,
// rejects unknown fields, applies `--set path.to.field=value` overrides and then
// runs Validate(), which checks cross-field invariants and names the field.
#ifndef R1_COMMON_CONFIG_H_
#define R1_COMMON_CONFIG_H_

#include <array>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/config.pb.h"

namespace google::protobuf {
class Message;
}

namespace r1 {

// The reward rules a config may name (reward.rules[].rule).
// The lowest non-zero sampling temperature accepted (configs and rollout
// requests alike). Below it the scaled logits overflow float32 (temperature
// 1e-40 gave inf and NaN probabilities), and sampling at 1e-4 is already
// greedy in all but exact ties. Temperature 0 is greedy.
inline constexpr double kMinTemperature = 1e-4;

inline constexpr std::array<absl::string_view, 7> kRewardRules = {"math",   "countdown",  "format", "language",
                                                                  "length", "repetition", "code"};

// Parses `text` into `message`. `source_name` (a file name) prefixes errors.
absl::Status ParseTextProto(absl::string_view text, const std::string& source_name,
                            google::protobuf::Message* message);

// Applies one override: `assignment` is `path.to.field=value`, where value is
// written as in a config file (strings may be left unquoted; a repeated field
// takes `[a, b]` or a single value and is replaced, not appended to).
absl::Status ApplyOverride(absl::string_view assignment, google::protobuf::Message* message);

// Text-format rendering of a config, as written to a run directory.
std::string ToTextProto(const google::protobuf::Message& message);

// Loads a run config file, applies the overrides in order, then validates.
absl::StatusOr<config::RunConfig> LoadRunConfig(const std::string& path,
                                                const std::vector<std::string>& overrides = {});

// data.chat_template resolved against `run_dir` (as data.train_prompts is),
// or "" when unset: the template a stage gives a model that has none
// (Tokenizer::Load's fallback).
std::string ChatTemplatePath(const config::DataConfig& data, const std::string& run_dir);

// Cross-field checks. Errors are INVALID_ARGUMENT and name the field by its
// path from the root, e.g. "policy.n_activated_experts".
absl::Status Validate(const config::RunConfig& run);
absl::Status ValidateModel(const config::ModelConfig& model, absl::string_view path);

}  // namespace r1

#endif  // R1_COMMON_CONFIG_H_
