// A Jinja template engine for Hugging Face chat templates: the subset of
// jinja2 that released `chat_template`s use, rendered byte for byte as
// transformers renders them (jinja2's ImmutableSandboxedEnvironment with
// trim_blocks, lstrip_blocks and loop controls, plus transformers' tojson,
// raise_exception and strftime_now).
//
//   R1_ASSIGN_OR_RETURN(auto t, jinja::Template::Parse(text, "chat_template.jinja"));
//   R1_ASSIGN_OR_RETURN(std::string prompt, t.Render(variables));
//
// Parse once, render many times: a Template is immutable and Render is const
// and thread-safe. Anything outside the subset is an error naming the template,
// the line and the construct, never a different rendering: parse time for
// unknown tags, filters and tests, render time for unsupported methods and
// operations.
//
// Supported: {{ }}, {% %}, {# #}, whitespace control (-, +); for (loop.*,
// else, unpacking, `if` filter), break/continue, if/elif/else, set (also
// `set ns.x` and block set), macro (defaults, varargs/kwargs, call blocks),
// generation; literals, arithmetic, ~, comparisons, and/or/not, in, is tests,
// `a if c else b`, subscripts and slices, attribute and method access. Filters,
// tests, methods and globals: see jinja_builtins.cc.
#ifndef R1_COMMON_JINJA_H_
#define R1_COMMON_JINJA_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace r1::jinja {

struct Program;

struct RenderOptions {
  // strftime_now(format) formats now() in time_zone; tests fix both.
  std::function<absl::Time()> now = [] { return absl::Now(); };
  absl::TimeZone time_zone = absl::LocalTimeZone();
  // Bounds that turn a runaway template into RESOURCE_EXHAUSTED instead of a
  // hung or crashed process.
  int64_t max_output_bytes = int64_t{64} << 20;
  int64_t max_steps = 10'000'000;  // statements run plus loop iterations
  int max_call_depth = 100;        // nested macro calls
};

class Template {
 public:
  // `name` (a file name) prefixes every error: "chat_template.jinja:12: ...".
  // INVALID_ARGUMENT for syntax errors, UNIMPLEMENTED for constructs outside
  // the subset.
  static absl::StatusOr<Template> Parse(absl::string_view source, std::string name);

  // Renders with `variables` (a JSON object; key order is kept, as Python's
  // json.loads keeps it) as the template's context. Errors are
  // INVALID_ARGUMENT "name:line: message" (raise_exception's message verbatim
  // after the prefix), UNIMPLEMENTED for unsupported operations,
  // RESOURCE_EXHAUSTED past the limits in `options`.
  absl::StatusOr<std::string> Render(const nlohmann::ordered_json& variables,
                                     const RenderOptions& options = {}) const;

  const std::string& name() const;

 private:
  explicit Template(std::shared_ptr<const Program> program) : program_(std::move(program)) {}
  std::shared_ptr<const Program> program_;
};

}  // namespace r1::jinja

#endif  // R1_COMMON_JINJA_H_
