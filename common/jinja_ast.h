// The parsed form of a Jinja template: statements and expressions, each with
// its source line for error messages. Private to the Jinja engine; built once
// by ParseProgram and only read afterwards, so renders may share it.
#ifndef R1_COMMON_JINJA_AST_H_
#define R1_COMMON_JINJA_AST_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/jinja_builtins.h"
#include "common/jinja_value.h"

namespace r1::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct ArgExprs {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
};

struct Expr {
  enum class Kind {
    kLiteral,    // value
    kName,       // name
    kList,       // items
    kTuple,      // items
    kDict,       // items: key, value, key, value...
    kGetAttr,    // object.name
    kGetItem,    // object[index]
    kSlice,      // object[start:stop:step]; items = {start, stop, step}, each may be null
    kCall,       // object(args)
    kFilter,     // object | name(args)
    kTest,       // object is [not] name(args)
    kNegate,     // -object
    kPlus,       // +object
    kNot,        // not object
    kBinary,     // items[0] op items[1], op one of + - * / // % ** ~
    kAnd,        // items[0] and items[1]
    kOr,         // items[0] or items[1]
    kCompare,    // items[0] ops[0] items[1] ops[1] items[2] ... (Python's chaining)
    kCondition,  // items[0] if items[1] else items[2] (items[2] may be null)
  };

  Kind kind;
  int line = 0;
  Value value;
  std::string name;  // variable, attribute, filter or test name; binary operator
  ExprPtr object;
  std::vector<ExprPtr> items;
  std::vector<std::string> ops;  // comparison operators: == != < <= > >= in notin
  ArgExprs args;
  bool negated = false;  // `is not`
  // Null for a name outside the supported set that jinja2 would only report
  // when reached: rendering it is an UNIMPLEMENTED error.
  FilterFn filter = nullptr;
  TestFn test = nullptr;
};

struct MacroDef {
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // aligned to the last params.size() - defaults.size() params
  Body body;
  bool uses_varargs = false;  // jinja2 accepts extra arguments only when the body reads them
  bool uses_kwargs = false;
  bool uses_caller = false;
};

struct Stmt {
  enum class Kind {
    kText,       // text
    kOutput,     // {{ expr }}
    kIf,         // conditions[i] -> bodies[i]; else_body
    kFor,        // for targets in expr [if condition]: body [else: else_body]
    kSet,        // targets = expr, or ns.attribute = expr, or a block set (body)
    kMacro,      // macro
    kCallBlock,  // {% call macro(args) %}body{% endcall %}: expr is the call
    kBreak,
    kContinue,
    kGeneration,  // transformers' {% generation %}: renders its body
  };

  Kind kind;
  int line = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr condition;  // for: the `if` filter
  std::vector<ExprPtr> conditions;
  std::vector<Body> bodies;
  Body body;
  Body else_body;
  std::vector<std::string> targets;  // for/set variable names
  bool unpack = false;               // targets written as a tuple
  std::string namespace_attribute;   // set targets[0].namespace_attribute = ...
  std::shared_ptr<const MacroDef> macro;
};

struct Program {
  std::string name;  // the template's file name (or a caller's label), for messages
  Body body;
};

struct ParseLimits {
  int max_nesting = 100;  // blocks and expression depth
};

// INVALID_ARGUMENT "name:line: message" for syntax errors, UNIMPLEMENTED for
// constructs outside the supported subset, naming them.
absl::StatusOr<std::shared_ptr<const Program>> ParseProgram(absl::string_view source,
                                                            std::string name,
                                                            const ParseLimits& limits);

}  // namespace r1::jinja

#endif  // R1_COMMON_JINJA_AST_H_
