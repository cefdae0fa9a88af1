// Filters, tests, methods and global functions of the Jinja engine, with
// jinja2's and Python's semantics. Private to the engine.
//
// Filters: abs, capitalize, count, d, default, first, float, int, items, join,
//   last, length, list, lower, map, reject, rejectattr, replace, reverse,
//   safe, select, selectattr, string, title, tojson (transformers' version),
//   trim, upper.
// Tests: boolean, callable, defined, divisibleby, eq, equalto, even, false,
//   float, ge, gt, in, integer, iterable, le, lower, lt, mapping, ne, none,
//   number, odd, sameas (on None and booleans), sequence, string, true,
//   undefined, upper, and the operator spellings ==, !=, <, <=, >, >=.
// str methods: capitalize, count, endswith, find, format ({} and {name}
//   fields without format specs), join, lower, lstrip, replace, rfind,
//   rsplit, rstrip, split, startswith, strip, title, upper.
// dict methods: get, items, keys, values. Globals: dict, namespace, range.
// Case mappings cover ASCII and characters without case (CJK, symbols,
// emoji); other letters are refused rather than mapped differently from
// Python.
#ifndef R1_COMMON_JINJA_BUILTINS_H_
#define R1_COMMON_JINJA_BUILTINS_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/jinja_value.h"

namespace r1::jinja {

// A filter or test implementation: `input` is the value left of `|` or `is`.
using FilterFn = absl::StatusOr<Value> (*)(Renderer&, const Value& input, CallArgs& args);
using TestFn = absl::StatusOr<bool> (*)(const Value& input, CallArgs& args);

// Null for names outside the tables above.
FilterFn FindFilter(absl::string_view name);
TestFn FindTest(absl::string_view name);

// jinja2's `object.name`: the Python attribute (a bound method of str, dict
// or list; unsupported ones fail when called), else the item; undefined when
// neither exists. An undefined `object` is an error carrying its message.
absl::StatusOr<Value> GetAttribute(const Value& object, absl::string_view name);
// jinja2's `object[key]`: the item, else for string keys the attribute.
absl::StatusOr<Value> GetItem(const Value& object, const Value& key);

// Python's `item in container`.
absl::StatusOr<bool> Contains(const Value& container, const Value& item);

// range, namespace and dict.
std::vector<std::pair<std::string, Value>> BuiltinGlobals();

}  // namespace r1::jinja

#endif  // R1_COMMON_JINJA_BUILTINS_H_
