#include "common/jinja_value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/status.h"
#include "common/utf8.h"

namespace r1::jinja {

// --- Dict, Namespace ---

const Value* Dict::Find(const Value& key) const {
  for (const auto& [k, v] : entries) {
    if (Equal(k, key)) return &v;
  }
  return nullptr;
}

const Value* Dict::Find(absl::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k.is_string() && k.as_string() == key) return &v;
  }
  return nullptr;
}

Value* Namespace::Find(absl::string_view name) {
  for (auto& [k, v] : attributes) {
    if (k == name) return &v;
  }
  return nullptr;
}

// --- Value ---

Value Value::Undefined(std::string hint) {
  Value v;
  v.string_ = std::move(hint);
  return v;
}

Value Value::None() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}

Value Value::Bool(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.int_ = b ? 1 : 0;
  return v;
}

Value Value::Int(int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.int_ = i;
  return v;
}

Value Value::Float(double d) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.float_ = d;
  return v;
}

Value Value::String(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.string_ = std::move(s);
  return v;
}

Value Value::List(ValueList items, ListFlavor flavor) {
  Value v;
  v.kind_ = Kind::kList;
  v.list_ = std::make_shared<const ValueList>(std::move(items));
  v.flavor_ = flavor;
  return v;
}

Value Value::Generator(ValueList items) {
  Value v = List(std::move(items), ListFlavor::kGenerator);
  v.consumed_ = std::make_shared<bool>(false);
  return v;
}

absl::StatusOr<ValueList> Iterate(const Value& value) {
  using Kind = Value::Kind;
  switch (value.kind()) {
    case Kind::kUndefined:
      return ValueList();
    case Kind::kString: {
      ValueList chars;
      std::string piece;
      for (char32_t cp : DecodeUtf8(value.as_string())) {
        piece.clear();
        utf8::AppendCodePoint(cp, &piece);
        chars.push_back(Value::String(piece));
      }
      return chars;
    }
    case Kind::kList:
      if (value.is_generator()) {
        if (*value.consumed_) {
          return absl::UnimplementedError(
              "a generator (the result of map, select, reject or reverse) iterated twice: "
              "jinja2 would see it empty; apply |list first");
        }
        *value.consumed_ = true;
      }
      return value.as_list();
    case Kind::kDict: {
      ValueList keys;
      for (const auto& entry : value.as_dict().entries) keys.push_back(entry.first);
      return keys;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("'", value.TypeName(), "' object is not iterable"));
  }
}

Value Value::MakeDict(Dict dict) {
  Value v;
  v.kind_ = Kind::kDict;
  v.dict_ = std::make_shared<const Dict>(std::move(dict));
  return v;
}

Value Value::MakeNamespace(std::shared_ptr<Namespace> ns) {
  Value v;
  v.kind_ = Kind::kNamespace;
  v.namespace_ = std::move(ns);
  return v;
}

Value Value::MakeCallable(std::string name,
                          std::function<absl::StatusOr<Value>(Renderer&, CallArgs&)> call) {
  Value v;
  v.kind_ = Kind::kCallable;
  v.callable_ = std::make_shared<const Callable>(Callable{std::move(name), std::move(call)});
  return v;
}

bool Value::Truthy() const {
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone:
      return false;
    case Kind::kBool:
    case Kind::kInt:
      return int_ != 0;
    case Kind::kFloat:
      return float_ != 0;
    case Kind::kString:
      return !string_.empty();
    case Kind::kList:
      return flavor_ == ListFlavor::kGenerator || !list_->empty();
    case Kind::kDict:
      return !dict_->entries.empty();
    case Kind::kNamespace:
    case Kind::kCallable:
      return true;
  }
  return false;
}

std::string Value::TypeName() const {
  switch (kind_) {
    case Kind::kUndefined:
      return "Undefined";
    case Kind::kNone:
      return "NoneType";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kList:
      switch (flavor_) {
        case ListFlavor::kList:
          return "list";
        case ListFlavor::kTuple:
          return "tuple";
        case ListFlavor::kDictItems:
          return "dict_items";
        case ListFlavor::kDictKeys:
          return "dict_keys";
        case ListFlavor::kDictValues:
          return "dict_values";
        case ListFlavor::kGenerator:
          return "generator";
        case ListFlavor::kRange:
          return "range";
      }
      return "list";
    case Kind::kDict:
      return "dict";
    case Kind::kNamespace:
      return namespace_->is_loop ? "LoopContext" : "Namespace";
    case Kind::kCallable:
      return "function";
  }
  return "object";
}

// --- CallArgs ---

absl::StatusOr<std::vector<std::optional<Value>>> CallArgs::Bind(
    absl::string_view function, const std::vector<absl::string_view>& names) const {
  if (positional.size() > names.size()) {
    return absl::InvalidArgumentError(absl::StrFormat("%s() takes at most %d arguments (%d given)",
                                                      function, names.size(), positional.size()));
  }
  std::vector<std::optional<Value>> bound(names.size());
  for (size_t i = 0; i < positional.size(); ++i) bound[i] = positional[i];
  for (const auto& [name, value] : keyword) {
    auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s() got an unexpected keyword argument '%s'", function, name));
    }
    size_t index = it - names.begin();
    if (bound[index].has_value()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s() got multiple values for argument '%s'", function, name));
    }
    bound[index] = value;
  }
  return bound;
}

// --- Comparison ---

bool Equal(const Value& a, const Value& b) {
  using Kind = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.is_integer() && b.is_integer()) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kUndefined:
    case Kind::kNone:
      return true;
    case Kind::kString:
      return a.as_string() == b.as_string();
    case Kind::kList: {
      if (a.list_flavor() != b.list_flavor()) return false;
      const ValueList& x = a.as_list();
      const ValueList& y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!Equal(x[i], y[i])) return false;
      }
      return true;
    }
    case Kind::kDict: {
      const Dict& x = a.as_dict();
      const Dict& y = b.as_dict();
      if (x.entries.size() != y.entries.size()) return false;
      for (const auto& [k, v] : x.entries) {
        const Value* other = y.Find(k);
        if (other == nullptr || !Equal(v, *other)) return false;
      }
      return true;
    }
    case Kind::kNamespace:
      return a.as_namespace() == b.as_namespace();
    case Kind::kCallable:
      return &a.as_callable() == &b.as_callable();
    default:
      return false;
  }
}

absl::StatusOr<bool> Less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_integer() && b.is_integer()) return a.as_int() < b.as_int();
    return a.as_double() < b.as_double();
  }
  if (a.is_string() && b.is_string()) {
    // UTF-8 byte order is code point order, which is Python's str order.
    return a.as_string() < b.as_string();
  }
  if (a.is_list() && b.is_list() && a.list_flavor() == b.list_flavor()) {
    const ValueList& x = a.as_list();
    const ValueList& y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (Equal(x[i], y[i])) continue;
      return Less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  return absl::InvalidArgumentError(absl::StrFormat(
      "'<' not supported between instances of '%s' and '%s'", a.TypeName(), b.TypeName()));
}

// --- Unicode ---

std::u32string DecodeUtf8(absl::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = text[i];
    int length = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    char32_t cp = length == 1   ? c
                  : length == 2 ? (c & 0x1F)
                  : length == 3 ? (c & 0x0F)
                                : (c & 0x07);
    for (int k = 1; k < length && i + k < text.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    }
    out.push_back(cp);
    i += length;
  }
  return out;
}

std::string EncodeUtf8(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (char32_t cp : code_points) utf8::AppendCodePoint(cp, &out);
  return out;
}

bool IsPythonSpace(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

int64_t CodePointCount(absl::string_view utf8) {
  int64_t count = 0;
  for (char c : utf8) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

// --- Printing ---

std::string FloatRepr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  // The shortest round-trip digits, then Python's layout: positional for
  // decimal exponents in [-4, 16), scientific otherwise.
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof(buffer), d, std::chars_format::scientific);
  std::string sci(buffer, result.ptr);
  bool negative = false;
  if (!sci.empty() && sci[0] == '-') {
    negative = true;
    sci.erase(0, 1);
  }
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (size_t i = 0; i < e_pos; ++i) {
    if (sci[i] != '.') digits.push_back(sci[i]);
  }
  const int exponent = std::stoi(sci.substr(e_pos + 1));
  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0.";
      out.append(-exponent - 1, '0');
      out += digits;
    } else if (static_cast<int>(digits.size()) <= exponent + 1) {
      out += digits;
      out.append(exponent + 1 - digits.size(), '0');
      out += ".0";
    } else {
      out += digits.substr(0, exponent + 1);
      out += ".";
      out += digits.substr(exponent + 1);
    }
  } else {
    out += digits.substr(0, 1);
    if (digits.size() > 1) {
      out += ".";
      out += digits.substr(1);
    }
    out += absl::StrFormat("e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  }
  return out;
}

namespace {

// Python's str.isprintable(), close enough for the characters text carries:
// controls, the C1 block, format characters and separators other than the
// ASCII space print escaped in a repr.
bool IsPrintable(char32_t cp) {
  if (cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) return false;
  if (cp == 0x061C || cp == 0x1680 || cp == 0x180E || (cp >= 0x2000 && cp <= 0x200F) ||
      (cp >= 0x2028 && cp <= 0x202F) || (cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 ||
      (cp >= 0xD800 && cp <= 0xF8FF) || cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFB) ||
      cp >= 0xF0000) {
    return false;
  }
  return true;
}

std::string StringRepr(absl::string_view s) {
  const bool has_single = s.find('\'') != absl::string_view::npos;
  const bool has_double = s.find('"') != absl::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t cp : DecodeUtf8(s)) {
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(cp));
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (IsPrintable(cp)) {
      utf8::AppendCodePoint(cp, &out);
    } else if (cp <= 0xFF) {
      out += absl::StrFormat("\\x%02x", static_cast<unsigned>(cp));
    } else if (cp <= 0xFFFF) {
      out += absl::StrFormat("\\u%04x", static_cast<unsigned>(cp));
    } else {
      out += absl::StrFormat("\\U%08x", static_cast<unsigned>(cp));
    }
  }
  out.push_back(quote);
  return out;
}

absl::StatusOr<std::string> JoinRepr(const ValueList& items, absl::string_view separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) absl::StrAppend(&out, separator);
    R1_ASSIGN_OR_RETURN(std::string item, Repr(items[i]));
    out += item;
  }
  return out;
}

absl::StatusOr<std::string> DictRepr(const Dict& dict) {
  std::string out = "{";
  for (size_t i = 0; i < dict.entries.size(); ++i) {
    if (i > 0) out += ", ";
    R1_ASSIGN_OR_RETURN(std::string key, Repr(dict.entries[i].first));
    R1_ASSIGN_OR_RETURN(std::string value, Repr(dict.entries[i].second));
    absl::StrAppend(&out, key, ": ", value);
  }
  return out + "}";
}

}  // namespace

absl::StatusOr<std::string> Repr(const Value& value) {
  using Kind = Value::Kind;
  using Flavor = Value::ListFlavor;
  switch (value.kind()) {
    case Kind::kUndefined:
      return std::string("Undefined");
    case Kind::kString:
      return StringRepr(value.as_string());
    case Kind::kList: {
      if (value.is_generator()) {
        return absl::UnimplementedError(
            "printing a generator (the result of map, select, reject or reverse): apply |list");
      }
      const ValueList& items = value.as_list();
      R1_ASSIGN_OR_RETURN(std::string inner, JoinRepr(items, ", "));
      switch (value.list_flavor()) {
        case Flavor::kList:
          return absl::StrCat("[", inner, "]");
        case Flavor::kTuple:
          return absl::StrCat("(", inner, items.size() == 1 ? ",)" : ")");
        case Flavor::kDictItems:
          return absl::StrCat("dict_items([", inner, "])");
        case Flavor::kDictKeys:
          return absl::StrCat("dict_keys([", inner, "])");
        case Flavor::kDictValues:
          return absl::StrCat("dict_values([", inner, "])");
        case Flavor::kGenerator:
          break;
        case Flavor::kRange:
          return absl::UnimplementedError("printing a range object: apply |list");
      }
      return inner;
    }
    default:
      return ToStr(value);
  }
}

absl::StatusOr<std::string> ToStr(const Value& value) {
  using Kind = Value::Kind;
  switch (value.kind()) {
    case Kind::kUndefined:
      return std::string();
    case Kind::kNone:
      return std::string("None");
    case Kind::kBool:
      return std::string(value.as_bool() ? "True" : "False");
    case Kind::kInt:
      return absl::StrCat(value.as_int());
    case Kind::kFloat:
      return FloatRepr(value.as_double());
    case Kind::kString:
      return value.as_string();
    case Kind::kList:
      return Repr(value);
    case Kind::kDict:
      return DictRepr(value.as_dict());
    case Kind::kNamespace: {
      if (value.as_namespace()->is_loop) {
        return absl::UnimplementedError("printing a loop object");
      }
      Dict attributes;
      for (const auto& [k, v] : value.as_namespace()->attributes) {
        attributes.entries.emplace_back(Value::String(k), v);
      }
      R1_ASSIGN_OR_RETURN(std::string inner, DictRepr(attributes));
      return absl::StrCat("<Namespace ", inner, ">");
    }
    case Kind::kCallable:
      return absl::InvalidArgumentError(
          absl::StrCat("cannot print the function '", value.as_callable().name, "'"));
  }
  return std::string();
}

// --- JSON ---

namespace {

constexpr int kMaxJsonDepth = 500;

void JsonString(absl::string_view s, bool ensure_ascii, std::string* out) {
  out->push_back('"');
  for (char32_t cp : DecodeUtf8(s)) {
    switch (cp) {
      case '"':
        *out += "\\\"";
        continue;
      case '\\':
        *out += "\\\\";
        continue;
      case '\n':
        *out += "\\n";
        continue;
      case '\r':
        *out += "\\r";
        continue;
      case '\t':
        *out += "\\t";
        continue;
      case '\b':
        *out += "\\b";
        continue;
      case '\f':
        *out += "\\f";
        continue;
      default:
        break;
    }
    if (cp < 0x20 || (ensure_ascii && cp >= 0x7F)) {
      if (cp >= 0x10000) {
        const char32_t v = cp - 0x10000;
        *out += absl::StrFormat("\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                                static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
      } else {
        *out += absl::StrFormat("\\u%04x", static_cast<unsigned>(cp));
      }
    } else {
      utf8::AppendCodePoint(cp, out);
    }
  }
  out->push_back('"');
}

std::string JsonFloat(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return FloatRepr(d);
}

// json.dumps turns these keys into strings; anything else is a TypeError.
absl::StatusOr<std::string> JsonKey(const Value& key) {
  using Kind = Value::Kind;
  switch (key.kind()) {
    case Kind::kString:
      return key.as_string();
    case Kind::kBool:
      return std::string(key.as_bool() ? "true" : "false");
    case Kind::kNone:
      return std::string("null");
    case Kind::kInt:
      return absl::StrCat(key.as_int());
    case Kind::kFloat:
      return JsonFloat(key.as_double());
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("keys must be str, int, float, bool or None, not ", key.TypeName()));
  }
}

absl::Status JsonDumpTo(const Value& value, const JsonDumpOptions& options, int level,
                        std::string* out) {
  using Kind = Value::Kind;
  if (level > kMaxJsonDepth) {
    return absl::InvalidArgumentError(absl::StrCat("tojson: nesting deeper than ", kMaxJsonDepth));
  }
  auto newline = [&](int depth) {
    if (!options.indent) return;
    out->push_back('\n');
    for (int i = 0; i < depth; ++i) *out += *options.indent;
  };
  switch (value.kind()) {
    case Kind::kNone:
      *out += "null";
      return absl::OkStatus();
    case Kind::kBool:
      *out += value.as_bool() ? "true" : "false";
      return absl::OkStatus();
    case Kind::kInt:
      absl::StrAppend(out, value.as_int());
      return absl::OkStatus();
    case Kind::kFloat:
      *out += JsonFloat(value.as_double());
      return absl::OkStatus();
    case Kind::kString:
      JsonString(value.as_string(), options.ensure_ascii, out);
      return absl::OkStatus();
    case Kind::kList: {
      if (value.list_flavor() != Value::ListFlavor::kList &&
          value.list_flavor() != Value::ListFlavor::kTuple) {
        break;
      }
      const ValueList& items = value.as_list();
      if (items.empty()) {
        *out += "[]";
        return absl::OkStatus();
      }
      out->push_back('[');
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) *out += options.item_separator;
        newline(level + 1);
        R1_RETURN_IF_ERROR(JsonDumpTo(items[i], options, level + 1, out));
      }
      newline(level);
      out->push_back(']');
      return absl::OkStatus();
    }
    case Kind::kDict: {
      const Dict& dict = value.as_dict();
      if (dict.entries.empty()) {
        *out += "{}";
        return absl::OkStatus();
      }
      std::vector<std::pair<std::string, const Value*>> entries;
      for (const auto& [k, v] : dict.entries) {
        if (options.sort_keys && !k.is_string()) {
          return absl::InvalidArgumentError("sort_keys needs string keys");
        }
        R1_ASSIGN_OR_RETURN(std::string key, JsonKey(k));
        entries.emplace_back(std::move(key), &v);
      }
      if (options.sort_keys) {
        std::stable_sort(entries.begin(), entries.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
      }
      out->push_back('{');
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i > 0) *out += options.item_separator;
        newline(level + 1);
        JsonString(entries[i].first, options.ensure_ascii, out);
        *out += options.key_separator;
        R1_RETURN_IF_ERROR(JsonDumpTo(*entries[i].second, options, level + 1, out));
      }
      newline(level);
      out->push_back('}');
      return absl::OkStatus();
    }
    default:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("Object of type ", value.TypeName(), " is not JSON serializable"));
}

}  // namespace

absl::StatusOr<std::string> JsonDump(const Value& value, const JsonDumpOptions& options) {
  std::string out;
  R1_RETURN_IF_ERROR(JsonDumpTo(value, options, 0, &out));
  return out;
}

}  // namespace r1::jinja
