// The renderer: walks the parsed template with jinja2's scoping (each for
// iteration and each macro call gets a fresh scope; if and set do not; a macro
// sees the scope it was defined in) and Python's operators.
#include <cmath>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/jinja.h"
#include "common/jinja_ast.h"
#include "common/status.h"
#include "common/utf8.h"

namespace r1::jinja {

// Marks an error that already names its template line, so that callers up
// the expression tree do not prefix it again.
constexpr absl::string_view kLocatedPayload = "r1.jinja.located";

struct Scope {
  std::shared_ptr<Scope> parent;
  std::vector<std::pair<std::string, Value>> variables;

  const Value* Lookup(absl::string_view name) const {
    for (const Scope* s = this; s != nullptr; s = s->parent.get()) {
      for (auto it = s->variables.rbegin(); it != s->variables.rend(); ++it) {
        if (it->first == name) return &it->second;
      }
    }
    return nullptr;
  }
  void Set(absl::string_view name, Value value) {
    for (auto& [k, v] : variables) {
      if (k == name) {
        v = std::move(value);
        return;
      }
    }
    variables.emplace_back(std::string(name), std::move(value));
  }
};
using ScopePtr = std::shared_ptr<Scope>;

ScopePtr ChildScope(const ScopePtr& parent) {
  auto scope = std::make_shared<Scope>();
  scope->parent = parent;
  return scope;
}

class Renderer {
 public:
  enum class Flow { kNormal, kBreak, kContinue };

  Renderer(const Program& program, const RenderOptions& options)
      : program_(program), options_(options) {}

  const RenderOptions& options() const { return options_; }

  absl::Status Error(int line, absl::string_view message,
                     absl::StatusCode code = absl::StatusCode::kInvalidArgument) const {
    absl::Status status(code, absl::StrCat(program_.name, ":", line, ": ", message));
    status.SetPayload(kLocatedPayload, absl::Cord());
    return status;
  }

  // Prefixes an error from a builtin with the template line it happened on.
  absl::Status Located(int line, const absl::Status& status) const {
    if (status.ok() || status.GetPayload(kLocatedPayload).has_value()) return status;
    return Error(line, status.message(), status.code());
  }

  absl::StatusOr<Flow> Exec(const Body& body, const ScopePtr& scope, std::string* out) {
    for (const auto& stmt : body) {
      R1_ASSIGN_OR_RETURN(Flow flow, ExecOne(*stmt, scope, out));
      if (flow != Flow::kNormal) return flow;
    }
    return Flow::kNormal;
  }

  absl::StatusOr<Value> Eval(const Expr& e, const ScopePtr& scope);

  absl::StatusOr<Value> CallMacro(const std::shared_ptr<const MacroDef>& macro,
                                  const ScopePtr& defined_in, CallArgs& args);

 private:
  absl::Status Step(int line) {
    if (++steps_ > options_.max_steps) {
      return Error(line, absl::StrCat("the template ran more than ", options_.max_steps, " steps"),
                   absl::StatusCode::kResourceExhausted);
    }
    return absl::OkStatus();
  }

  absl::Status Append(int line, absl::string_view text, std::string* out) {
    if (static_cast<int64_t>(out->size() + text.size()) > options_.max_output_bytes) {
      return Error(line, absl::StrCat("the output exceeds ", options_.max_output_bytes, " bytes"),
                   absl::StatusCode::kResourceExhausted);
    }
    absl::StrAppend(out, text);
    return absl::OkStatus();
  }

  absl::StatusOr<Flow> ExecOne(const Stmt& s, const ScopePtr& scope, std::string* out);
  absl::StatusOr<Flow> ExecFor(const Stmt& s, const ScopePtr& scope, std::string* out);
  absl::Status ExecSet(const Stmt& s, const ScopePtr& scope);
  absl::Status Assign(const Stmt& s, const std::vector<std::string>& targets, bool unpack,
                      const Value& value, Scope* scope);
  absl::StatusOr<CallArgs> EvalArgs(const ArgExprs& args, const ScopePtr& scope);
  absl::StatusOr<Value> EvalBinary(const Expr& e, const Value& a, const Value& b);
  absl::StatusOr<Value> GetAttr(const Expr& e, const Value& object, absl::string_view name);
  absl::StatusOr<Value> GetItem(const Expr& e, const Value& object, const Value& key);
  absl::StatusOr<Value> Slice(const Expr& e, const Value& object, const Value& start,
                              const Value& stop, const Value& step);
  absl::StatusOr<Value> Call(int line, const Value& callee, CallArgs& args);
  absl::Status UndefinedError(int line, const Value& undefined) const {
    return Error(line,
                 undefined.as_string().empty() ? "a value is undefined" : undefined.as_string());
  }

  const Program& program_;
  const RenderOptions& options_;
  int64_t steps_ = 0;
  int call_depth_ = 0;
};

namespace {

Value MakeLoop(const ValueList& items, size_t i) {
  const int64_t n = items.size();
  const int64_t index = i;
  auto loop = std::make_shared<Namespace>();
  loop->is_loop = true;
  auto add = [&](const char* key, Value v) { loop->attributes.emplace_back(key, std::move(v)); };
  add("index", Value::Int(index + 1));
  add("index0", Value::Int(index));
  add("revindex", Value::Int(n - index));
  add("revindex0", Value::Int(n - index - 1));
  add("first", Value::Bool(index == 0));
  add("last", Value::Bool(index == n - 1));
  add("length", Value::Int(n));
  add("depth", Value::Int(1));
  add("depth0", Value::Int(0));
  add("previtem", index > 0 ? items[i - 1] : Value::Undefined("there is no previous item"));
  add("nextitem", index + 1 < n ? items[i + 1] : Value::Undefined("there is no next item"));
  add("cycle", Value::MakeCallable("loop.cycle",
                                   [index](Renderer&, CallArgs& args) -> absl::StatusOr<Value> {
                                     if (args.positional.empty() || !args.keyword.empty()) {
                                       return absl::InvalidArgumentError(
                                           "loop.cycle() needs at least one positional argument");
                                     }
                                     return args.positional[index % args.positional.size()];
                                   }));
  return Value::MakeNamespace(std::move(loop));
}

bool CheckedAdd(int64_t a, int64_t b, int64_t* r) { return !__builtin_add_overflow(a, b, r); }
bool CheckedSub(int64_t a, int64_t b, int64_t* r) { return !__builtin_sub_overflow(a, b, r); }
bool CheckedMul(int64_t a, int64_t b, int64_t* r) { return !__builtin_mul_overflow(a, b, r); }

absl::Status TypeError(absl::string_view op, const Value& a, const Value& b) {
  return absl::InvalidArgumentError(absl::StrFormat(
      "unsupported operand type(s) for %s: '%s' and '%s'", op, a.TypeName(), b.TypeName()));
}

absl::Status Overflow() {
  return absl::UnimplementedError("integer result outside 64 bits (Python's ints are unbounded)");
}

// Python's floor division and modulo of ints.
int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
int64_t FloorMod(int64_t a, int64_t b) {
  int64_t m = a % b;
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

// Normalizes Python slice bounds for a sequence of `length` items.
absl::StatusOr<std::vector<int64_t>> SliceIndices(int64_t length, const Value& start,
                                                  const Value& stop, const Value& step) {
  auto as_index = [](const Value& v) -> absl::StatusOr<std::optional<int64_t>> {
    if (v.is_undefined() || v.is_none()) return std::optional<int64_t>();
    if (!v.is_integer()) {
      return absl::InvalidArgumentError("slice indices must be integers or None");
    }
    return std::optional<int64_t>(v.as_int());
  };
  R1_ASSIGN_OR_RETURN(std::optional<int64_t> step_v, as_index(step));
  const int64_t st = step_v.value_or(1);
  if (st == 0) return absl::InvalidArgumentError("slice step cannot be zero");
  R1_ASSIGN_OR_RETURN(std::optional<int64_t> start_v, as_index(start));
  R1_ASSIGN_OR_RETURN(std::optional<int64_t> stop_v, as_index(stop));
  auto clamp = [&](std::optional<int64_t> v, int64_t default_value) {
    if (!v) return default_value;
    int64_t x = *v;
    if (x < 0) x += length;
    if (st > 0) return std::clamp<int64_t>(x, 0, length);
    return std::clamp<int64_t>(x, -1, length - 1);
  };
  const int64_t lo = clamp(start_v, st > 0 ? 0 : length - 1);
  const int64_t hi = clamp(stop_v, st > 0 ? length : -1);
  std::vector<int64_t> indices;
  if (st > 0) {
    for (int64_t i = lo; i < hi; i += st) indices.push_back(i);
  } else {
    for (int64_t i = lo; i > hi; i += st) indices.push_back(i);
  }
  return indices;
}

}  // namespace

absl::StatusOr<Renderer::Flow> Renderer::ExecOne(const Stmt& s, const ScopePtr& scope,
                                                 std::string* out) {
  R1_RETURN_IF_ERROR(Step(s.line));
  switch (s.kind) {
    case Stmt::Kind::kText:
      R1_RETURN_IF_ERROR(Append(s.line, s.text, out));
      return Flow::kNormal;
    case Stmt::Kind::kOutput: {
      R1_ASSIGN_OR_RETURN(Value v, Eval(*s.expr, scope));
      absl::StatusOr<std::string> text = ToStr(v);
      if (!text.ok()) return Located(s.line, text.status());
      R1_RETURN_IF_ERROR(Append(s.line, *text, out));
      return Flow::kNormal;
    }
    case Stmt::Kind::kIf:
      for (size_t i = 0; i < s.conditions.size(); ++i) {
        R1_ASSIGN_OR_RETURN(Value condition, Eval(*s.conditions[i], scope));
        if (condition.Truthy()) return Exec(s.bodies[i], scope, out);
      }
      return Exec(s.else_body, scope, out);
    case Stmt::Kind::kFor:
      return ExecFor(s, scope, out);
    case Stmt::Kind::kSet:
      R1_RETURN_IF_ERROR(ExecSet(s, scope));
      return Flow::kNormal;
    case Stmt::Kind::kMacro: {
      std::shared_ptr<const MacroDef> macro = s.macro;
      // The macro sees the scope it is defined in, as it is when it is called.
      std::weak_ptr<Scope> weak_scope = scope;
      scope->Set(s.targets[0],
                 Value::MakeCallable(
                     macro->name,
                     [macro, weak_scope](Renderer& r, CallArgs& args) -> absl::StatusOr<Value> {
                       return r.CallMacro(macro, weak_scope.lock(), args);
                     }));
      return Flow::kNormal;
    }
    case Stmt::Kind::kCallBlock: {
      std::shared_ptr<const MacroDef> caller = s.macro;
      std::weak_ptr<Scope> weak_scope = scope;
      const Expr& call = *s.expr;
      R1_ASSIGN_OR_RETURN(Value callee, Eval(*call.object, scope));
      R1_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(call.args, scope));
      args.keyword.emplace_back(
          "caller",
          Value::MakeCallable(
              "caller", [caller, weak_scope](Renderer& r, CallArgs& a) -> absl::StatusOr<Value> {
                return r.CallMacro(caller, weak_scope.lock(), a);
              }));
      R1_ASSIGN_OR_RETURN(Value result, Call(s.line, callee, args));
      absl::StatusOr<std::string> text = ToStr(result);
      if (!text.ok()) return Located(s.line, text.status());
      R1_RETURN_IF_ERROR(Append(s.line, *text, out));
      return Flow::kNormal;
    }
    case Stmt::Kind::kBreak:
      return Flow::kBreak;
    case Stmt::Kind::kContinue:
      return Flow::kContinue;
    case Stmt::Kind::kGeneration: {
      // transformers makes it a call block: its own scope, output inline.
      R1_ASSIGN_OR_RETURN(Flow flow, Exec(s.body, ChildScope(scope), out));
      return flow;
    }
  }
  return Flow::kNormal;
}

absl::Status Renderer::Assign(const Stmt& s, const std::vector<std::string>& targets, bool unpack,
                              const Value& value, Scope* scope) {
  if (!unpack) {
    scope->Set(targets[0], value);
    return absl::OkStatus();
  }
  absl::StatusOr<ValueList> items = Iterate(value);
  if (!items.ok()) {
    return Error(s.line, absl::StrCat("cannot unpack: ", items.status().message()));
  }
  if (items->size() != targets.size()) {
    return Error(s.line,
                 items->size() > targets.size()
                     ? absl::StrFormat("too many values to unpack (expected %d)", targets.size())
                     : absl::StrFormat("not enough values to unpack (expected %d, got %d)",
                                       targets.size(), items->size()));
  }
  for (size_t i = 0; i < targets.size(); ++i) scope->Set(targets[i], (*items)[i]);
  return absl::OkStatus();
}

absl::StatusOr<Renderer::Flow> Renderer::ExecFor(const Stmt& s, const ScopePtr& scope,
                                                 std::string* out) {
  R1_ASSIGN_OR_RETURN(Value iterable, Eval(*s.expr, scope));
  absl::StatusOr<ValueList> all = Iterate(iterable);
  if (!all.ok()) return Located(s.expr->line, all.status());
  ValueList items;
  if (s.condition) {
    for (const Value& item : *all) {
      ScopePtr filter_scope = ChildScope(scope);
      R1_RETURN_IF_ERROR(Assign(s, s.targets, s.unpack, item, filter_scope.get()));
      R1_ASSIGN_OR_RETURN(Value keep, Eval(*s.condition, filter_scope));
      if (keep.Truthy()) items.push_back(item);
    }
  } else {
    items = std::move(*all);
  }
  if (items.empty()) {
    R1_ASSIGN_OR_RETURN(Flow flow, Exec(s.else_body, ChildScope(scope), out));
    return flow;
  }
  for (size_t i = 0; i < items.size(); ++i) {
    R1_RETURN_IF_ERROR(Step(s.line));
    ScopePtr iteration = ChildScope(scope);
    R1_RETURN_IF_ERROR(Assign(s, s.targets, s.unpack, items[i], iteration.get()));
    iteration->Set("loop", MakeLoop(items, i));
    R1_ASSIGN_OR_RETURN(Flow flow, Exec(s.body, iteration, out));
    if (flow == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

absl::Status Renderer::ExecSet(const Stmt& s, const ScopePtr& scope) {
  Value value;
  if (s.expr) {
    R1_ASSIGN_OR_RETURN(value, Eval(*s.expr, scope));
  } else {
    std::string captured;
    R1_RETURN_IF_ERROR(Exec(s.body, scope, &captured).status());
    value = Value::String(std::move(captured));
  }
  if (s.namespace_attribute.empty()) return Assign(s, s.targets, s.unpack, value, scope.get());
  const Value* target = scope->Lookup(s.targets[0]);
  if (target == nullptr || target->kind() != Value::Kind::kNamespace ||
      target->as_namespace()->is_loop) {
    return Error(s.line, "cannot assign attribute on non-namespace object");
  }
  Namespace& ns = *target->as_namespace();
  if (Value* existing = ns.Find(s.namespace_attribute)) {
    *existing = std::move(value);
  } else {
    ns.attributes.emplace_back(s.namespace_attribute, std::move(value));
  }
  return absl::OkStatus();
}

absl::StatusOr<CallArgs> Renderer::EvalArgs(const ArgExprs& args, const ScopePtr& scope) {
  CallArgs out;
  for (const auto& e : args.positional) {
    R1_ASSIGN_OR_RETURN(Value v, Eval(*e, scope));
    out.positional.push_back(std::move(v));
  }
  for (const auto& [name, e] : args.keyword) {
    R1_ASSIGN_OR_RETURN(Value v, Eval(*e, scope));
    out.keyword.emplace_back(name, std::move(v));
  }
  return out;
}

absl::StatusOr<Value> Renderer::Call(int line, const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) return UndefinedError(line, callee);
  if (callee.kind() != Value::Kind::kCallable) {
    return Error(line, absl::StrCat("'", callee.TypeName(), "' object is not callable"));
  }
  absl::StatusOr<Value> result = callee.as_callable().call(*this, args);
  if (!result.ok()) return Located(line, result.status());
  return result;
}

absl::StatusOr<Value> Renderer::CallMacro(const std::shared_ptr<const MacroDef>& macro,
                                          const ScopePtr& defined_in, CallArgs& args) {
  if (call_depth_ >= options_.max_call_depth) {
    return absl::ResourceExhaustedError(
        absl::StrCat("macro calls nested deeper than ", options_.max_call_depth));
  }
  if (defined_in == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat("macro '", macro->name, "' called after the block defining it ended"));
  }
  ScopePtr scope = ChildScope(defined_in);
  const size_t n = macro->params.size();
  std::vector<bool> given(n, false);
  ValueList extra;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < n) {
      scope->Set(macro->params[i], args.positional[i]);
      given[i] = true;
    } else if (macro->uses_varargs) {
      extra.push_back(args.positional[i]);
    } else {
      return absl::InvalidArgumentError(
          absl::StrFormat("macro '%s' takes not more than %d argument(s)", macro->name, n));
    }
  }
  Dict kwargs;
  for (auto& [key, value] : args.keyword) {
    auto it = std::find(macro->params.begin(), macro->params.end(), key);
    if (it != macro->params.end()) {
      const size_t index = it - macro->params.begin();
      if (given[index]) {
        return absl::InvalidArgumentError(
            absl::StrFormat("macro '%s' got multiple values for argument '%s'", macro->name, key));
      }
      scope->Set(key, value);
      given[index] = true;
    } else if (key == "caller" && macro->uses_caller) {
      scope->Set("caller", value);
    } else if (macro->uses_kwargs) {
      kwargs.entries.emplace_back(Value::String(key), value);
    } else {
      return absl::InvalidArgumentError(
          absl::StrFormat("macro '%s' takes no keyword argument '%s'", macro->name, key));
    }
  }
  const size_t first_default = n - macro->defaults.size();
  for (size_t i = 0; i < n; ++i) {
    if (given[i]) continue;
    if (i >= first_default) {
      R1_ASSIGN_OR_RETURN(Value v, Eval(*macro->defaults[i - first_default], scope));
      scope->Set(macro->params[i], std::move(v));
    } else {
      scope->Set(macro->params[i], Value::Undefined(absl::StrFormat(
                                       "parameter '%s' was not provided", macro->params[i])));
    }
  }
  if (macro->uses_varargs)
    scope->Set("varargs", Value::List(std::move(extra), Value::ListFlavor::kTuple));
  if (macro->uses_kwargs) scope->Set("kwargs", Value::MakeDict(std::move(kwargs)));
  std::string out;
  ++call_depth_;
  absl::StatusOr<Flow> flow = Exec(macro->body, scope, &out);
  --call_depth_;
  R1_RETURN_IF_ERROR(flow.status());
  return Value::String(std::move(out));
}

absl::StatusOr<Value> Renderer::GetAttr(const Expr& e, const Value& object,
                                        absl::string_view name) {
  absl::StatusOr<Value> v = GetAttribute(object, name);
  if (!v.ok()) return Located(e.line, v.status());
  return v;
}

absl::StatusOr<Value> Renderer::GetItem(const Expr& e, const Value& object, const Value& key) {
  absl::StatusOr<Value> v = jinja::GetItem(object, key);
  if (!v.ok()) return Located(e.line, v.status());
  return v;
}

absl::StatusOr<Value> Renderer::Slice(const Expr& e, const Value& object, const Value& start,
                                      const Value& stop, const Value& step) {
  if (object.is_undefined()) return UndefinedError(e.line, object);
  if (object.is_string()) {
    std::u32string cps = DecodeUtf8(object.as_string());
    absl::StatusOr<std::vector<int64_t>> indices = SliceIndices(cps.size(), start, stop, step);
    if (!indices.ok()) return Located(e.line, indices.status());
    std::u32string picked;
    for (int64_t i : *indices) picked.push_back(cps[i]);
    return Value::String(EncodeUtf8(picked));
  }
  if (object.is_list() && (object.list_flavor() == Value::ListFlavor::kList ||
                           object.list_flavor() == Value::ListFlavor::kTuple ||
                           object.list_flavor() == Value::ListFlavor::kRange)) {
    const ValueList& items = object.as_list();
    absl::StatusOr<std::vector<int64_t>> indices = SliceIndices(items.size(), start, stop, step);
    if (!indices.ok()) return Located(e.line, indices.status());
    ValueList picked;
    for (int64_t i : *indices) picked.push_back(items[i]);
    return Value::List(std::move(picked), object.list_flavor());
  }
  // jinja2 compiles a slice to a plain Python subscript: no undefined fallback.
  return Error(e.line, absl::StrFormat("'%s' object is not subscriptable", object.TypeName()));
}

absl::StatusOr<Value> Renderer::EvalBinary(const Expr& e, const Value& a, const Value& b) {
  const std::string& op = e.name;
  if (op == "~") {
    absl::StatusOr<std::string> x = ToStr(a);
    if (!x.ok()) return Located(e.line, x.status());
    absl::StatusOr<std::string> y = ToStr(b);
    if (!y.ok()) return Located(e.line, y.status());
    if (static_cast<int64_t>(x->size() + y->size()) > options_.max_output_bytes) {
      return Error(e.line, "a string exceeds the output limit",
                   absl::StatusCode::kResourceExhausted);
    }
    return Value::String(*x + *y);
  }
  if (a.is_undefined()) return UndefinedError(e.line, a);
  if (b.is_undefined()) return UndefinedError(e.line, b);
  auto fail = [&](absl::Status status) { return Located(e.line, status); };
  if (a.is_number() && b.is_number()) {
    const bool ints = a.is_integer() && b.is_integer();
    const int64_t x = a.as_int(), y = b.as_int();
    const double fx = a.as_double(), fy = b.as_double();
    int64_t r;
    if (op == "+") {
      if (!ints) return Value::Float(fx + fy);
      if (!CheckedAdd(x, y, &r)) return fail(Overflow());
      return Value::Int(r);
    }
    if (op == "-") {
      if (!ints) return Value::Float(fx - fy);
      if (!CheckedSub(x, y, &r)) return fail(Overflow());
      return Value::Int(r);
    }
    if (op == "*") {
      if (!ints) return Value::Float(fx * fy);
      if (!CheckedMul(x, y, &r)) return fail(Overflow());
      return Value::Int(r);
    }
    if (op == "/") {
      if (fy == 0) return fail(absl::InvalidArgumentError("division by zero"));
      return Value::Float(fx / fy);
    }
    if (op == "//" || op == "%") {
      if (fy == 0) return fail(absl::InvalidArgumentError("integer division or modulo by zero"));
      if (ints) {
        if (x == INT64_MIN && y == -1) return fail(Overflow());
        return Value::Int(op == "//" ? FloorDiv(x, y) : FloorMod(x, y));
      }
      // CPython's float_divmod.
      double mod = std::fmod(fx, fy);
      double div = (fx - mod) / fy;
      if (mod != 0) {
        if ((fy < 0) != (mod < 0)) {
          mod += fy;
          div -= 1.0;
        }
      } else {
        mod = std::copysign(0.0, fy);
      }
      if (op == "%") return Value::Float(mod);
      double floordiv;
      if (div != 0) {
        floordiv = std::floor(div);
        if (div - floordiv > 0.5) floordiv += 1.0;
      } else {
        floordiv = std::copysign(0.0, fx / fy);
      }
      return Value::Float(floordiv);
    }
    if (op == "**") {
      if (ints && y >= 0) {
        int64_t result = 1, base = x, exponent = y;
        while (exponent > 0) {
          if (exponent & 1) {
            if (!CheckedMul(result, base, &result)) return fail(Overflow());
          }
          exponent >>= 1;
          if (exponent > 0 && !CheckedMul(base, base, &base)) return fail(Overflow());
        }
        return Value::Int(result);
      }
      if (fx == 0 && fy < 0) {
        return fail(absl::InvalidArgumentError("0.0 cannot be raised to a negative power"));
      }
      return Value::Float(std::pow(fx, fy));
    }
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) return Value::String(a.as_string() + b.as_string());
    if (a.is_list() && b.is_list() && a.list_flavor() == b.list_flavor() &&
        (a.list_flavor() == Value::ListFlavor::kList ||
         a.list_flavor() == Value::ListFlavor::kTuple)) {
      ValueList joined = a.as_list();
      joined.insert(joined.end(), b.as_list().begin(), b.as_list().end());
      return Value::List(std::move(joined), a.list_flavor());
    }
    if (a.is_string()) {
      return fail(absl::InvalidArgumentError(
          absl::StrFormat("can only concatenate str (not \"%s\") to str", b.TypeName())));
    }
  }
  if (op == "*") {
    const Value* seq = a.is_integer() ? &b : &a;
    const Value* count = a.is_integer() ? &a : &b;
    if (count->is_integer() && (seq->is_string() || (seq->is_list() && !seq->is_generator()))) {
      const int64_t times = std::max<int64_t>(count->as_int(), 0);
      const int64_t unit = seq->is_string() ? seq->as_string().size() : seq->as_list().size();
      if (unit > 0 && times > options_.max_output_bytes / unit) {
        return Error(e.line, "a repeated sequence exceeds the output limit",
                     absl::StatusCode::kResourceExhausted);
      }
      if (seq->is_string()) {
        std::string repeated;
        for (int64_t i = 0; i < times; ++i) repeated += seq->as_string();
        return Value::String(std::move(repeated));
      }
      ValueList repeated;
      for (int64_t i = 0; i < times; ++i) {
        repeated.insert(repeated.end(), seq->as_list().begin(), seq->as_list().end());
      }
      return Value::List(std::move(repeated), seq->list_flavor());
    }
  }
  if (op == "%" && a.is_string()) {
    return fail(absl::UnimplementedError("printf-style string formatting ('...' % x)"));
  }
  return fail(TypeError(op, a, b));
}

absl::StatusOr<Value> Renderer::Eval(const Expr& e, const ScopePtr& scope) {
  using K = Expr::Kind;
  switch (e.kind) {
    case K::kLiteral:
      return e.value;
    case K::kName: {
      if (const Value* v = scope->Lookup(e.name)) return *v;
      return Value::Undefined(absl::StrCat("'", e.name, "' is undefined"));
    }
    case K::kList:
    case K::kTuple: {
      ValueList items;
      for (const auto& item : e.items) {
        R1_ASSIGN_OR_RETURN(Value v, Eval(*item, scope));
        items.push_back(std::move(v));
      }
      return Value::List(std::move(items),
                         e.kind == K::kList ? Value::ListFlavor::kList : Value::ListFlavor::kTuple);
    }
    case K::kDict: {
      Dict dict;
      for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
        R1_ASSIGN_OR_RETURN(Value key, Eval(*e.items[i], scope));
        R1_ASSIGN_OR_RETURN(Value value, Eval(*e.items[i + 1], scope));
        if (key.is_undefined() || key.is_list() || key.is_dict()) {
          return Error(e.line, absl::StrCat("unhashable dict key of type '", key.TypeName(), "'"));
        }
        bool replaced = false;
        for (auto& entry : dict.entries) {
          if (Equal(entry.first, key)) {
            entry.second = value;
            replaced = true;
          }
        }
        if (!replaced) dict.entries.emplace_back(std::move(key), std::move(value));
      }
      return Value::MakeDict(std::move(dict));
    }
    case K::kGetAttr: {
      R1_ASSIGN_OR_RETURN(Value object, Eval(*e.object, scope));
      return GetAttr(e, object, e.name);
    }
    case K::kGetItem: {
      R1_ASSIGN_OR_RETURN(Value object, Eval(*e.object, scope));
      R1_ASSIGN_OR_RETURN(Value key, Eval(*e.items[0], scope));
      return GetItem(e, object, key);
    }
    case K::kSlice: {
      R1_ASSIGN_OR_RETURN(Value object, Eval(*e.object, scope));
      Value bounds[3];
      for (int i = 0; i < 3; ++i) {
        if (e.items[i]) {
          R1_ASSIGN_OR_RETURN(bounds[i], Eval(*e.items[i], scope));
        } else {
          bounds[i] = Value::None();
        }
      }
      return Slice(e, object, bounds[0], bounds[1], bounds[2]);
    }
    case K::kCall: {
      R1_ASSIGN_OR_RETURN(Value callee, Eval(*e.object, scope));
      R1_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e.args, scope));
      return Call(e.line, callee, args);
    }
    case K::kFilter: {
      if (e.filter == nullptr) {
        return Error(e.line, absl::StrCat("the filter '", e.name, "' is not supported"),
                     absl::StatusCode::kUnimplemented);
      }
      R1_ASSIGN_OR_RETURN(Value input, Eval(*e.object, scope));
      R1_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e.args, scope));
      absl::StatusOr<Value> result = e.filter(*this, input, args);
      if (!result.ok()) {
        return Located(e.line, absl::Status(result.status().code(),
                                            absl::StrCat("filter '", e.name,
                                                         "': ", result.status().message())));
      }
      return result;
    }
    case K::kTest: {
      if (e.test == nullptr) {
        return Error(e.line, absl::StrCat("the test '", e.name, "' is not supported"),
                     absl::StatusCode::kUnimplemented);
      }
      R1_ASSIGN_OR_RETURN(Value input, Eval(*e.object, scope));
      R1_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e.args, scope));
      absl::StatusOr<bool> result = e.test(input, args);
      if (!result.ok()) {
        return Located(
            e.line, absl::Status(result.status().code(),
                                 absl::StrCat("test '", e.name, "': ", result.status().message())));
      }
      return Value::Bool(*result != e.negated);
    }
    case K::kNegate:
    case K::kPlus: {
      R1_ASSIGN_OR_RETURN(Value v, Eval(*e.object, scope));
      if (v.is_undefined()) return UndefinedError(e.line, v);
      if (!v.is_number()) {
        return Error(e.line, absl::StrFormat("bad operand type for unary %s: '%s'",
                                             e.kind == K::kNegate ? "-" : "+", v.TypeName()));
      }
      if (e.kind == K::kPlus) return v.kind() == Value::Kind::kBool ? Value::Int(v.as_int()) : v;
      if (v.kind() == Value::Kind::kFloat) return Value::Float(-v.as_double());
      if (v.as_int() == INT64_MIN) return Located(e.line, Overflow());
      return Value::Int(-v.as_int());
    }
    case K::kNot: {
      R1_ASSIGN_OR_RETURN(Value v, Eval(*e.object, scope));
      return Value::Bool(!v.Truthy());
    }
    case K::kBinary: {
      R1_ASSIGN_OR_RETURN(Value a, Eval(*e.items[0], scope));
      R1_ASSIGN_OR_RETURN(Value b, Eval(*e.items[1], scope));
      return EvalBinary(e, a, b);
    }
    case K::kAnd: {
      R1_ASSIGN_OR_RETURN(Value a, Eval(*e.items[0], scope));
      if (!a.Truthy()) return a;
      return Eval(*e.items[1], scope);
    }
    case K::kOr: {
      R1_ASSIGN_OR_RETURN(Value a, Eval(*e.items[0], scope));
      if (a.Truthy()) return a;
      return Eval(*e.items[1], scope);
    }
    case K::kCompare: {
      R1_ASSIGN_OR_RETURN(Value left, Eval(*e.items[0], scope));
      for (size_t i = 0; i < e.ops.size(); ++i) {
        R1_ASSIGN_OR_RETURN(Value right, Eval(*e.items[i + 1], scope));
        const std::string& op = e.ops[i];
        bool holds;
        if (op == "==") {
          holds = Equal(left, right);
        } else if (op == "!=") {
          holds = !Equal(left, right);
        } else if (op == "in" || op == "notin") {
          absl::StatusOr<bool> contained = Contains(right, left);
          if (!contained.ok()) return Located(e.line, contained.status());
          holds = *contained == (op == "in");
        } else {
          if (left.is_undefined()) return UndefinedError(e.line, left);
          if (right.is_undefined()) return UndefinedError(e.line, right);
          absl::StatusOr<bool> result;
          if (op == "<") result = Less(left, right);
          if (op == ">") result = Less(right, left);
          if (op == "<=") {
            result = Less(right, left);
            if (result.ok()) result = !*result;
          }
          if (op == ">=") {
            result = Less(left, right);
            if (result.ok()) result = !*result;
          }
          if (!result.ok()) return Located(e.line, result.status());
          holds = *result;
        }
        if (!holds) return Value::Bool(false);
        left = std::move(right);
      }
      return Value::Bool(true);
    }
    case K::kCondition: {
      R1_ASSIGN_OR_RETURN(Value test, Eval(*e.items[1], scope));
      if (test.Truthy()) return Eval(*e.items[0], scope);
      if (e.items[2]) return Eval(*e.items[2], scope);
      return Value::Undefined("the conditional expression had no else branch");
    }
  }
  return Error(e.line, "unknown expression");
}

// ------------------------------------------------------------- Template ---

namespace {

constexpr int kMaxJsonDepth = 500;

absl::StatusOr<Value> FromJson(const nlohmann::ordered_json& j, int depth) {
  if (depth > kMaxJsonDepth) {
    return absl::InvalidArgumentError(absl::StrCat("variables nested deeper than ", kMaxJsonDepth));
  }
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return Value::None();
    case nlohmann::json::value_t::boolean:
      return Value::Bool(j.get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value::Int(j.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) {
        return absl::UnimplementedError("an integer variable outside 64 bits");
      }
      return Value::Int(static_cast<int64_t>(u));
    }
    case nlohmann::json::value_t::number_float:
      return Value::Float(j.get<double>());
    case nlohmann::json::value_t::string: {
      const std::string& s = j.get_ref<const std::string&>();
      if (!utf8::IsValid(s))
        return absl::InvalidArgumentError("a string variable is not valid UTF-8");
      return Value::String(s);
    }
    case nlohmann::json::value_t::array: {
      ValueList items;
      items.reserve(j.size());
      for (const auto& item : j) {
        R1_ASSIGN_OR_RETURN(Value v, FromJson(item, depth + 1));
        items.push_back(std::move(v));
      }
      return Value::List(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Dict dict;
      for (const auto& [key, item] : j.items()) {
        if (!utf8::IsValid(key)) return absl::InvalidArgumentError("a key is not valid UTF-8");
        R1_ASSIGN_OR_RETURN(Value v, FromJson(item, depth + 1));
        dict.entries.emplace_back(Value::String(key), std::move(v));
      }
      return Value::MakeDict(std::move(dict));
    }
    default:
      return absl::InvalidArgumentError("variables hold a JSON value of an unsupported type");
  }
}

}  // namespace

absl::StatusOr<Template> Template::Parse(absl::string_view source, std::string name) {
  R1_ASSIGN_OR_RETURN(std::shared_ptr<const Program> program,
                      ParseProgram(source, std::move(name), ParseLimits{}));
  return Template(std::move(program));
}

const std::string& Template::name() const { return program_->name; }

absl::StatusOr<std::string> Template::Render(const nlohmann::ordered_json& variables,
                                             const RenderOptions& options) const {
  if (!variables.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(program_->name, ": the template variables must be a JSON object"));
  }
  auto globals = std::make_shared<Scope>();
  for (auto& [name, value] : BuiltinGlobals()) globals->Set(name, std::move(value));
  globals->Set("raise_exception",
               Value::MakeCallable(
                   "raise_exception", [](Renderer&, CallArgs& args) -> absl::StatusOr<Value> {
                     R1_ASSIGN_OR_RETURN(auto bound, args.Bind("raise_exception", {"message"}));
                     if (!bound[0])
                       return absl::InvalidArgumentError("raise_exception() needs a message");
                     R1_ASSIGN_OR_RETURN(std::string message, ToStr(*bound[0]));
                     return absl::InvalidArgumentError(message);
                   }));
  globals->Set(
      "strftime_now",
      Value::MakeCallable("strftime_now", [](Renderer& r, CallArgs& args) -> absl::StatusOr<Value> {
        R1_ASSIGN_OR_RETURN(auto bound, args.Bind("strftime_now", {"format"}));
        if (!bound[0] || !bound[0]->is_string()) {
          return absl::InvalidArgumentError("strftime_now() needs a format string");
        }
        return Value::String(
            absl::FormatTime(bound[0]->as_string(), r.options().now(), r.options().time_zone));
      }));
  for (const auto& [name, json_value] : variables.items()) {
    absl::StatusOr<Value> value = FromJson(json_value, 0);
    if (!value.ok()) {
      return absl::Status(value.status().code(), absl::StrCat(program_->name, ": variable '", name,
                                                              "': ", value.status().message()));
    }
    globals->Set(name, *std::move(value));
  }
  Renderer renderer(*program_, options);
  ScopePtr top = ChildScope(globals);
  std::string out;
  absl::StatusOr<Renderer::Flow> flow = renderer.Exec(program_->body, top, &out);
  if (!flow.ok()) {
    // Errors raised outside any template line (a macro's argument check)
    // still name the template.
    if (!flow.status().GetPayload(kLocatedPayload).has_value()) {
      return absl::Status(flow.status().code(),
                          absl::StrCat(program_->name, ": ", flow.status().message()));
    }
    absl::Status status = flow.status();
    status.ErasePayload(kLocatedPayload);
    return status;
  }
  return out;
}

}  // namespace r1::jinja
