// The values a Jinja template computes with, and Python's rules for printing
// them. Private to the Jinja engine (jinja.h is the public header).
//
// Chat templates are Python programs in disguise: `{{ x }}` prints str(x),
// `{{ [1, 'a'] }}` prints the list's repr, `1 / 2` is 0.5, `tojson` is
// json.dumps. Matching Python byte for byte is the point of this file.
#ifndef R1_COMMON_JINJA_VALUE_H_
#define R1_COMMON_JINJA_VALUE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace r1::jinja {

class Value;
struct CallArgs;
class Renderer;

using ValueList = std::vector<Value>;

// A Python dict: keys in insertion order (JSON input order), looked up by
// equality. Chat-template dicts are small (a message, a tool schema), so a
// linear scan beats hashing.
struct Dict {
  std::vector<std::pair<Value, Value>> entries;
  const Value* Find(const Value& key) const;
  const Value* Find(absl::string_view key) const;
};

// namespace(): the one mutable object the immutable sandbox allows
// (`{% set ns.x = ... %}`), shared by reference like in Python. A for loop's
// `loop` is one too, read-only and unprintable like jinja2's LoopContext.
struct Namespace {
  std::vector<std::pair<std::string, Value>> attributes;
  bool is_loop = false;
  Value* Find(absl::string_view name);
};

// A global function, a bound method or a macro. Arguments are evaluated by the
// caller; the renderer is passed so that macros can render their bodies.
struct Callable {
  std::string name;  // for error messages: "raise_exception", "str.split"
  std::function<absl::StatusOr<Value>(Renderer&, CallArgs&)> call;
};

class Value {
 public:
  // kUndefined is jinja2's default Undefined: prints as "", is falsy, iterates
  // as empty; most other uses are errors.
  enum class Kind {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,
    kDict,
    kNamespace,
    kCallable
  };
  // How a list prints: Python's list, tuple and dict views differ only there.
  // kGenerator is what jinja2's map/select/reverse return: iterable once,
  // always truthy, without len() or a printable form. kRange is range():
  // indexable, but neither printable here nor JSON.
  enum class ListFlavor { kList, kTuple, kDictItems, kDictKeys, kDictValues, kGenerator, kRange };

  Value() = default;  // undefined
  static Value Undefined(std::string hint = "");
  static Value None();
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Float(double d);
  static Value String(std::string s);
  static Value List(ValueList items, ListFlavor flavor = ListFlavor::kList);
  static Value Generator(ValueList items);
  static Value MakeDict(Dict dict);
  static Value MakeNamespace(std::shared_ptr<Namespace> ns);
  static Value MakeCallable(std::string name,
                            std::function<absl::StatusOr<Value>(Renderer&, CallArgs&)> call);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  // bool is an int in Python (True + 1 == 2).
  bool is_number() const {
    return kind_ == Kind::kBool || kind_ == Kind::kInt || kind_ == Kind::kFloat;
  }
  bool is_integer() const { return kind_ == Kind::kBool || kind_ == Kind::kInt; }

  bool as_bool() const { return int_ != 0; }
  int64_t as_int() const { return int_; }  // also for bool
  double as_double() const { return kind_ == Kind::kFloat ? float_ : static_cast<double>(int_); }
  const std::string& as_string() const { return string_; }  // also the undefined hint
  const ValueList& as_list() const { return *list_; }
  ListFlavor list_flavor() const { return flavor_; }
  const Dict& as_dict() const { return *dict_; }
  const std::shared_ptr<Namespace>& as_namespace() const { return namespace_; }
  const Callable& as_callable() const { return *callable_; }
  bool is_generator() const { return kind_ == Kind::kList && flavor_ == ListFlavor::kGenerator; }

  // Python's truthiness.
  bool Truthy() const;
  // Python's type name, for messages in jinja2's words ("dict object").
  std::string TypeName() const;

 private:
  Kind kind_ = Kind::kUndefined;
  int64_t int_ = 0;
  double float_ = 0;
  std::string string_;
  std::shared_ptr<const ValueList> list_;
  ListFlavor flavor_ = ListFlavor::kList;
  std::shared_ptr<const Dict> dict_;
  std::shared_ptr<Namespace> namespace_;
  std::shared_ptr<const Callable> callable_;
  std::shared_ptr<bool> consumed_;  // generators only

  friend absl::StatusOr<ValueList> Iterate(const Value& value);
};

// Arguments of a call, evaluated.
struct CallArgs {
  ValueList positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // Binds the arguments to `names` like a Python signature without *args;
  // arguments not given are nullopt. INVALID_ARGUMENT naming `function` for
  // too many, unknown or repeated arguments.
  absl::StatusOr<std::vector<std::optional<Value>>> Bind(
      absl::string_view function, const std::vector<absl::string_view>& names) const;
};

// The items `for` visits: a list's items, a dict's keys, a string's
// characters, nothing for undefined. Errors for non-iterables and for a
// generator iterated a second time (Python would silently see it empty).
absl::StatusOr<ValueList> Iterate(const Value& value);

// Python's ==, which never fails (1 == 1.0 == True; 'a' != 1).
bool Equal(const Value& a, const Value& b);
// Python's <; TypeError-like INVALID_ARGUMENT for unorderable types.
absl::StatusOr<bool> Less(const Value& a, const Value& b);

// str(value) as jinja2 prints it: undefined prints as "".
absl::StatusOr<std::string> ToStr(const Value& value);
// repr(value): how a value looks inside a printed list or dict.
absl::StatusOr<std::string> Repr(const Value& value);
// float.__repr__: the shortest string that reads back the same double.
std::string FloatRepr(double d);

struct JsonDumpOptions {
  bool ensure_ascii = false;
  std::optional<std::string> indent;  // json.dumps' indent, as the string per level
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};
// json.dumps(value, ...) with Python's formatting; errors for values JSON
// cannot hold (undefined, namespaces, callables).
absl::StatusOr<std::string> JsonDump(const Value& value, const JsonDumpOptions& options);

// --- Unicode: Python strings are code point sequences; ours are UTF-8. ---

// Validation and single code points: common/utf8.h.

// Code points of valid UTF-8 (what parsing and rendering accept). Invalid
// input is not refused: it decodes to some code points without reading past
// the end.
std::u32string DecodeUtf8(absl::string_view text);
std::string EncodeUtf8(std::u32string_view code_points);
// Python's str.isspace() for one code point.
bool IsPythonSpace(char32_t code_point);
// Number of code points (Python's len of a str).
int64_t CodePointCount(absl::string_view utf8);

}  // namespace r1::jinja

#endif  // R1_COMMON_JINJA_VALUE_H_
