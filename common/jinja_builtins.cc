#include "common/jinja_builtins.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/status.h"
#include "common/utf8.h"

namespace r1::jinja {
namespace {

using Bound = std::vector<std::optional<Value>>;

absl::Status TypeError(absl::string_view message) { return absl::InvalidArgumentError(message); }

absl::Status NeedsString(absl::string_view what, const Value& v) {
  return TypeError(absl::StrFormat("%s needs a string, got '%s'", what, v.TypeName()));
}

// ------------------------------------------------------------ strings ---

// Characters whose case mapping is the identity: ASCII non-letters and the
// blocks chat text is full of (punctuation, CJK, kana, Hangul, full-width
// forms other than letters, symbols, emoji). Other non-ASCII letters are
// refused by the case functions: Python's full Unicode mapping (ß -> SS) is
// not reproduced here.
bool IsCaseless(char32_t cp) {
  if (cp < 0x80) return !std::isalpha(static_cast<int>(cp));
  return (cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x2190 && cp <= 0x23FF) ||
         (cp >= 0x2500 && cp <= 0x27BF) || (cp >= 0x2900 && cp <= 0x2BFF) ||
         (cp >= 0x3000 && cp <= 0x9FFF) || (cp >= 0xAC00 && cp <= 0xD7AF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE00 && cp <= 0xFE6F) ||
         (cp >= 0xFF00 && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40) ||
         (cp >= 0xFF5B && cp <= 0xFFEF) || (cp >= 0x1F000 && cp <= 0x1FAFF) ||
         (cp >= 0x20000 && cp <= 0x3FFFF) || (cp >= 0xE0000 && cp <= 0xE007F);
}

enum class CaseMode { kUpper, kLower };

absl::StatusOr<char32_t> MapCase(char32_t cp, CaseMode mode, absl::string_view function) {
  if (cp < 0x80) {
    return static_cast<char32_t>(mode == CaseMode::kUpper ? std::toupper(static_cast<int>(cp))
                                                          : std::tolower(static_cast<int>(cp)));
  }
  if (IsCaseless(cp)) return cp;
  return absl::UnimplementedError(absl::StrFormat(
      "%s of the non-ASCII letter U+%04X (Python's Unicode case mapping is not implemented)",
      function, static_cast<unsigned>(cp)));
}

absl::StatusOr<std::string> ChangeCase(absl::string_view s, CaseMode mode,
                                       absl::string_view function) {
  std::string out;
  out.reserve(s.size());
  for (char32_t cp : DecodeUtf8(s)) {
    R1_ASSIGN_OR_RETURN(char32_t mapped, MapCase(cp, mode, function));
    utf8::AppendCodePoint(mapped, &out);
  }
  return out;
}

bool IsCased(char32_t cp) { return cp < 0x80 && std::isalpha(static_cast<int>(cp)); }

// str.title(): a letter after a cased letter is lowered, any other raised.
absl::StatusOr<std::string> PythonTitle(absl::string_view s) {
  std::string out;
  bool previous_cased = false;
  for (char32_t cp : DecodeUtf8(s)) {
    R1_ASSIGN_OR_RETURN(
        char32_t mapped,
        MapCase(cp, previous_cased ? CaseMode::kLower : CaseMode::kUpper, "title()"));
    utf8::AppendCodePoint(mapped, &out);
    previous_cased = IsCased(cp);
  }
  return out;
}

// str.capitalize(): the first character raised, the rest lowered.
absl::StatusOr<std::string> PythonCapitalize(absl::string_view s) {
  std::string out;
  bool first = true;
  for (char32_t cp : DecodeUtf8(s)) {
    R1_ASSIGN_OR_RETURN(char32_t mapped,
                        MapCase(cp, first ? CaseMode::kUpper : CaseMode::kLower, "capitalize()"));
    utf8::AppendCodePoint(mapped, &out);
    first = false;
  }
  return out;
}

// jinja2's title filter: words start after runs of whitespace, '-', and
// opening brackets; each word's first character raised, the rest lowered.
absl::StatusOr<std::string> JinjaTitle(absl::string_view s) {
  std::string out;
  bool word_start = true;
  for (char32_t cp : DecodeUtf8(s)) {
    const bool separator =
        IsPythonSpace(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
    if (separator) {
      utf8::AppendCodePoint(cp, &out);
      word_start = true;
      continue;
    }
    R1_ASSIGN_OR_RETURN(char32_t mapped,
                        MapCase(cp, word_start ? CaseMode::kUpper : CaseMode::kLower, "title"));
    utf8::AppendCodePoint(mapped, &out);
    word_start = false;
  }
  return out;
}

enum class StripSide { kLeft, kRight, kBoth };

// str.strip([chars]): Unicode whitespace, or any code point of `chars`.
std::string Strip(absl::string_view s, const std::optional<std::u32string>& chars, StripSide side) {
  std::u32string cps = DecodeUtf8(s);
  auto strip_it = [&](char32_t cp) {
    return chars ? chars->find(cp) != std::u32string::npos : IsPythonSpace(cp);
  };
  size_t begin = 0, end = cps.size();
  if (side != StripSide::kRight) {
    while (begin < end && strip_it(cps[begin])) ++begin;
  }
  if (side != StripSide::kLeft) {
    while (end > begin && strip_it(cps[end - 1])) --end;
  }
  return EncodeUtf8(std::u32string_view(cps).substr(begin, end - begin));
}

absl::StatusOr<std::optional<std::u32string>> StripChars(const std::optional<Value>& arg,
                                                         absl::string_view function) {
  if (!arg || arg->is_none()) return std::optional<std::u32string>();
  if (!arg->is_string()) return NeedsString(function, *arg);
  return std::optional<std::u32string>(DecodeUtf8(arg->as_string()));
}

// str.split / str.rsplit with Python's rules for sep=None (runs of
// whitespace, no empty strings) and an explicit separator.
absl::StatusOr<ValueList> Split(absl::string_view s, const std::optional<Value>& sep_arg,
                                const std::optional<Value>& maxsplit_arg, bool from_right) {
  int64_t maxsplit = -1;
  if (maxsplit_arg && !maxsplit_arg->is_none()) {
    if (!maxsplit_arg->is_integer()) return TypeError("maxsplit must be an integer");
    maxsplit = maxsplit_arg->as_int();
  }
  std::vector<std::string> parts;
  if (!sep_arg || sep_arg->is_none()) {
    std::u32string cps = DecodeUtf8(s);
    if (from_right) std::reverse(cps.begin(), cps.end());
    size_t i = 0;
    int64_t splits = 0;
    while (true) {
      while (i < cps.size() && IsPythonSpace(cps[i])) ++i;
      if (i >= cps.size()) break;
      if (maxsplit >= 0 && splits >= maxsplit) {
        parts.push_back(EncodeUtf8(cps.substr(i)));
        break;
      }
      size_t j = i;
      while (j < cps.size() && !IsPythonSpace(cps[j])) ++j;
      parts.push_back(EncodeUtf8(cps.substr(i, j - i)));
      ++splits;
      i = j;
    }
    if (from_right) {
      for (std::string& part : parts) {
        std::u32string p = DecodeUtf8(part);
        std::reverse(p.begin(), p.end());
        part = EncodeUtf8(p);
      }
      std::reverse(parts.begin(), parts.end());
    }
  } else {
    if (!sep_arg->is_string()) return NeedsString("split()'s separator", *sep_arg);
    const std::string& sep = sep_arg->as_string();
    if (sep.empty()) return absl::InvalidArgumentError("empty separator");
    if (!from_right) {
      size_t start = 0;
      int64_t splits = 0;
      while (true) {
        size_t hit =
            (maxsplit >= 0 && splits >= maxsplit) ? absl::string_view::npos : s.find(sep, start);
        if (hit == absl::string_view::npos) {
          parts.emplace_back(s.substr(start));
          break;
        }
        parts.emplace_back(s.substr(start, hit - start));
        start = hit + sep.size();
        ++splits;
      }
    } else {
      size_t end = s.size();
      int64_t splits = 0;
      while (true) {
        size_t hit = absl::string_view::npos;
        if ((maxsplit < 0 || splits < maxsplit) && end >= sep.size()) {
          hit = s.rfind(sep, end - sep.size());
        }
        if (hit == absl::string_view::npos) {
          parts.emplace_back(s.substr(0, end));
          break;
        }
        parts.emplace_back(s.substr(hit + sep.size(), end - hit - sep.size()));
        end = hit;
        ++splits;
      }
      std::reverse(parts.begin(), parts.end());
    }
  }
  ValueList out;
  for (std::string& part : parts) out.push_back(Value::String(std::move(part)));
  return out;
}

// str.replace(old, new[, count]); an empty `old` inserts between characters.
std::string Replace(absl::string_view s, absl::string_view old_text, absl::string_view new_text,
                    int64_t count) {
  std::string out;
  int64_t done = 0;
  if (old_text.empty()) {
    std::u32string cps = DecodeUtf8(s);
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || done < count) {
        absl::StrAppend(&out, new_text);
        ++done;
      }
      if (i < cps.size()) utf8::AppendCodePoint(cps[i], &out);
    }
    return out;
  }
  size_t start = 0;
  while (true) {
    size_t hit = (count >= 0 && done >= count) ? absl::string_view::npos : s.find(old_text, start);
    if (hit == absl::string_view::npos) break;
    absl::StrAppend(&out, s.substr(start, hit - start), new_text);
    start = hit + old_text.size();
    ++done;
  }
  absl::StrAppend(&out, s.substr(start));
  return out;
}

absl::StatusOr<std::vector<std::string>> Affixes(const Value& arg, absl::string_view function) {
  std::vector<std::string> out;
  if (arg.is_string()) {
    out.push_back(arg.as_string());
  } else if (arg.is_list() && arg.list_flavor() == Value::ListFlavor::kTuple) {
    for (const Value& item : arg.as_list()) {
      if (!item.is_string()) return NeedsString(function, item);
      out.push_back(item.as_string());
    }
  } else {
    return TypeError(absl::StrCat(function, " needs a str or a tuple of str"));
  }
  return out;
}

// str.format with automatic ({}), positional ({0}) and named ({name})
// fields; format specs and conversions are refused.
absl::StatusOr<std::string> Format(absl::string_view s, const CallArgs& args) {
  std::string out;
  size_t next_auto = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '}') {
      if (i + 1 < s.size() && s[i + 1] == '}') {
        out.push_back('}');
        ++i;
        continue;
      }
      return absl::InvalidArgumentError("Single '}' encountered in format string");
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < s.size() && s[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    const size_t close = s.find('}', i);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError("Single '{' encountered in format string");
    }
    const absl::string_view field = s.substr(i + 1, close - i - 1);
    if (field.find_first_of(":!.[") != absl::string_view::npos) {
      return absl::UnimplementedError("str.format() fields with specs, conversions or lookups");
    }
    const Value* value = nullptr;
    if (field.empty() || std::all_of(field.begin(), field.end(), ::isdigit)) {
      const size_t index = field.empty() ? next_auto++ : std::stoul(std::string(field));
      if (index >= args.positional.size()) {
        return absl::InvalidArgumentError("Replacement index out of range for positional args");
      }
      value = &args.positional[index];
    } else {
      for (const auto& [k, v] : args.keyword) {
        if (k == field) value = &v;
      }
      if (value == nullptr)
        return absl::InvalidArgumentError(absl::StrCat("KeyError: '", field, "'"));
    }
    R1_ASSIGN_OR_RETURN(std::string text, ToStr(*value));
    out += text;
    i = close;
  }
  return out;
}

// Finds `sub` in `s` and returns Python's code point index, or -1.
int64_t FindIndex(absl::string_view s, absl::string_view sub, bool from_right) {
  const size_t hit = from_right ? s.rfind(sub) : s.find(sub);
  if (hit == absl::string_view::npos) return -1;
  return CodePointCount(s.substr(0, hit));
}

// ------------------------------------------------------------ methods ---

using MethodFn = absl::StatusOr<Value> (*)(const Value& self, CallArgs& args);

absl::Status NoArgs(absl::string_view function, const CallArgs& args) {
  if (!args.positional.empty() || !args.keyword.empty()) {
    return TypeError(absl::StrCat(function, " takes no arguments"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Value> StrStrip(const Value& self, CallArgs& args, StripSide side,
                               absl::string_view function) {
  R1_ASSIGN_OR_RETURN(Bound b, args.Bind(function, {"chars"}));
  R1_ASSIGN_OR_RETURN(auto chars, StripChars(b[0], function));
  return Value::String(Strip(self.as_string(), chars, side));
}

const std::map<std::string, MethodFn, std::less<>>& StrMethods() {
  static const auto* methods = new std::map<std::string, MethodFn, std::less<>>{
      {"strip",
       [](const Value& self, CallArgs& args) {
         return StrStrip(self, args, StripSide::kBoth, "str.strip()");
       }},
      {"lstrip",
       [](const Value& self, CallArgs& args) {
         return StrStrip(self, args, StripSide::kLeft, "str.lstrip()");
       }},
      {"rstrip",
       [](const Value& self, CallArgs& args) {
         return StrStrip(self, args, StripSide::kRight, "str.rstrip()");
       }},
      {"split",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         R1_ASSIGN_OR_RETURN(Bound b, args.Bind("str.split()", {"sep", "maxsplit"}));
         R1_ASSIGN_OR_RETURN(ValueList parts, Split(self.as_string(), b[0], b[1], false));
         return Value::List(std::move(parts));
       }},
      {"rsplit",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         R1_ASSIGN_OR_RETURN(Bound b, args.Bind("str.rsplit()", {"sep", "maxsplit"}));
         R1_ASSIGN_OR_RETURN(ValueList parts, Split(self.as_string(), b[0], b[1], true));
         return Value::List(std::move(parts));
       }},
      {"startswith",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         if (args.positional.size() != 1 || !args.keyword.empty()) {
           return absl::UnimplementedError("str.startswith() with other than one argument");
         }
         R1_ASSIGN_OR_RETURN(auto prefixes, Affixes(args.positional[0], "str.startswith()"));
         for (const std::string& p : prefixes) {
           if (self.as_string().compare(0, p.size(), p) == 0) return Value::Bool(true);
         }
         return Value::Bool(false);
       }},
      {"endswith",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         if (args.positional.size() != 1 || !args.keyword.empty()) {
           return absl::UnimplementedError("str.endswith() with other than one argument");
         }
         R1_ASSIGN_OR_RETURN(auto suffixes, Affixes(args.positional[0], "str.endswith()"));
         const std::string& s = self.as_string();
         for (const std::string& p : suffixes) {
           if (s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0) {
             return Value::Bool(true);
           }
         }
         return Value::Bool(false);
       }},
      {"replace",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         R1_ASSIGN_OR_RETURN(Bound b, args.Bind("str.replace()", {"old", "new", "count"}));
         if (!b[0] || !b[1]) return TypeError("str.replace() needs old and new");
         if (!b[0]->is_string()) return NeedsString("str.replace()", *b[0]);
         if (!b[1]->is_string()) return NeedsString("str.replace()", *b[1]);
         int64_t count = -1;
         if (b[2]) {
           if (!b[2]->is_integer()) return TypeError("str.replace()'s count must be an integer");
           count = b[2]->as_int();
         }
         return Value::String(
             Replace(self.as_string(), b[0]->as_string(), b[1]->as_string(), count));
       }},
      {"upper",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         R1_RETURN_IF_ERROR(NoArgs("str.upper()", args));
         R1_ASSIGN_OR_RETURN(std::string s,
                             ChangeCase(self.as_string(), CaseMode::kUpper, "str.upper()"));
         return Value::String(std::move(s));
       }},
      {"lower",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         R1_RETURN_IF_ERROR(NoArgs("str.lower()", args));
         R1_ASSIGN_OR_RETURN(std::string s,
                             ChangeCase(self.as_string(), CaseMode::kLower, "str.lower()"));
         return Value::String(std::move(s));
       }},
      {"title",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         R1_RETURN_IF_ERROR(NoArgs("str.title()", args));
         R1_ASSIGN_OR_RETURN(std::string s, PythonTitle(self.as_string()));
         return Value::String(std::move(s));
       }},
      {"capitalize",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         R1_RETURN_IF_ERROR(NoArgs("str.capitalize()", args));
         R1_ASSIGN_OR_RETURN(std::string s, PythonCapitalize(self.as_string()));
         return Value::String(std::move(s));
       }},
      {"find",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         if (args.positional.size() != 1 || !args.keyword.empty() ||
             !args.positional[0].is_string()) {
           return absl::UnimplementedError("str.find() with other than one string argument");
         }
         return Value::Int(FindIndex(self.as_string(), args.positional[0].as_string(), false));
       }},
      {"rfind",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         if (args.positional.size() != 1 || !args.keyword.empty() ||
             !args.positional[0].is_string()) {
           return absl::UnimplementedError("str.rfind() with other than one string argument");
         }
         return Value::Int(FindIndex(self.as_string(), args.positional[0].as_string(), true));
       }},
      {"count",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         if (args.positional.size() != 1 || !args.keyword.empty() ||
             !args.positional[0].is_string()) {
           return absl::UnimplementedError("str.count() with other than one string argument");
         }
         const std::string& s = self.as_string();
         const std::string& sub = args.positional[0].as_string();
         if (sub.empty()) return Value::Int(CodePointCount(s) + 1);
         int64_t n = 0;
         for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) {
           ++n;
         }
         return Value::Int(n);
       }},
      {"join",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         if (args.positional.size() != 1 || !args.keyword.empty()) {
           return TypeError("str.join() takes exactly one argument");
         }
         R1_ASSIGN_OR_RETURN(ValueList items, Iterate(args.positional[0]));
         std::string out;
         for (size_t i = 0; i < items.size(); ++i) {
           if (!items[i].is_string()) {
             return TypeError(absl::StrFormat("sequence item %d: expected str instance, %s found",
                                              i, items[i].TypeName()));
           }
           if (i > 0) out += self.as_string();
           out += items[i].as_string();
         }
         return Value::String(std::move(out));
       }},
      {"format",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         R1_ASSIGN_OR_RETURN(std::string s, Format(self.as_string(), args));
         return Value::String(std::move(s));
       }},
  };
  return *methods;
}

const std::map<std::string, MethodFn, std::less<>>& DictMethods() {
  static const auto* methods = new std::map<std::string, MethodFn, std::less<>>{
      {"items",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         R1_RETURN_IF_ERROR(NoArgs("dict.items()", args));
         ValueList pairs;
         for (const auto& [k, v] : self.as_dict().entries) {
           pairs.push_back(Value::List({k, v}, Value::ListFlavor::kTuple));
         }
         return Value::List(std::move(pairs), Value::ListFlavor::kDictItems);
       }},
      {"keys",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         R1_RETURN_IF_ERROR(NoArgs("dict.keys()", args));
         ValueList keys;
         for (const auto& entry : self.as_dict().entries) keys.push_back(entry.first);
         return Value::List(std::move(keys), Value::ListFlavor::kDictKeys);
       }},
      {"values",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         R1_RETURN_IF_ERROR(NoArgs("dict.values()", args));
         ValueList values;
         for (const auto& entry : self.as_dict().entries) values.push_back(entry.second);
         return Value::List(std::move(values), Value::ListFlavor::kDictValues);
       }},
      {"get",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         if (!args.keyword.empty() || args.positional.empty() || args.positional.size() > 2) {
           return TypeError("dict.get() takes a key and an optional default");
         }
         if (const Value* v = self.as_dict().Find(args.positional[0])) return *v;
         return args.positional.size() == 2 ? args.positional[1] : Value::None();
       }},
  };
  return *methods;
}

const std::map<std::string, MethodFn, std::less<>>& ListMethods() {
  static const auto* methods = new std::map<std::string, MethodFn, std::less<>>{
      {"count",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         if (args.positional.size() != 1 || !args.keyword.empty()) {
           return TypeError("list.count() takes exactly one argument");
         }
         int64_t n = 0;
         for (const Value& item : self.as_list()) n += Equal(item, args.positional[0]) ? 1 : 0;
         return Value::Int(n);
       }},
      {"index",
       [](const Value& self, CallArgs& args) -> absl::StatusOr<Value> {
         if (args.positional.size() != 1 || !args.keyword.empty()) {
           return absl::UnimplementedError("list.index() with other than one argument");
         }
         const ValueList& items = self.as_list();
         for (size_t i = 0; i < items.size(); ++i) {
           if (Equal(items[i], args.positional[0])) return Value::Int(i);
         }
         return absl::InvalidArgumentError("list.index(x): x not in list");
       }},
  };
  return *methods;
}

// Every attribute Python's str, dict and list have: the ones not implemented
// above still exist (so jinja2 would call them) and must fail, not be undefined.
const std::set<std::string, std::less<>>& PythonAttributes(Value::Kind kind) {
  static const auto* str_attrs = new std::set<std::string, std::less<>>{
      "capitalize",   "casefold",    "center",    "count",      "encode",       "endswith",
      "expandtabs",   "find",        "format",    "format_map", "index",        "isalnum",
      "isalpha",      "isascii",     "isdecimal", "isdigit",    "isidentifier", "islower",
      "isnumeric",    "isprintable", "isspace",   "istitle",    "isupper",      "join",
      "ljust",        "lower",       "lstrip",    "maketrans",  "partition",    "removeprefix",
      "removesuffix", "replace",     "rfind",     "rindex",     "rjust",        "rpartition",
      "rsplit",       "rstrip",      "split",     "splitlines", "startswith",   "strip",
      "swapcase",     "title",       "translate", "upper",      "zfill"};
  static const auto* dict_attrs = new std::set<std::string, std::less<>>{
      "clear", "copy",    "fromkeys",   "get",    "items", "keys",
      "pop",   "popitem", "setdefault", "update", "values"};
  static const auto* list_attrs = new std::set<std::string, std::less<>>{
      "append", "clear", "copy",   "count",   "extend", "index",
      "insert", "pop",   "remove", "reverse", "sort"};
  static const auto* none = new std::set<std::string, std::less<>>{};
  switch (kind) {
    case Value::Kind::kString:
      return *str_attrs;
    case Value::Kind::kDict:
      return *dict_attrs;
    case Value::Kind::kList:
      return *list_attrs;
    default:
      return *none;
  }
}

std::optional<Value> GetMethod(const Value& object, absl::string_view name) {
  if (PythonAttributes(object.kind()).count(name) == 0) return std::nullopt;
  const bool plain_list = object.is_list() && (object.list_flavor() == Value::ListFlavor::kList ||
                                               object.list_flavor() == Value::ListFlavor::kTuple);
  if (object.is_list() && !plain_list) return std::nullopt;  // views and generators
  const auto* table = object.is_string() ? &StrMethods()
                      : object.is_dict() ? &DictMethods()
                                         : &ListMethods();
  const std::string qualified = absl::StrCat(object.TypeName(), ".", name);
  if (table != nullptr) {
    auto it = table->find(name);
    if (it != table->end()) {
      MethodFn fn = it->second;
      return Value::MakeCallable(
          qualified, [fn, object](Renderer&, CallArgs& args) { return fn(object, args); });
    }
  }
  return Value::MakeCallable(qualified, [qualified](Renderer&, CallArgs&) -> absl::StatusOr<Value> {
    return absl::UnimplementedError(absl::StrCat(qualified, "() is not supported"));
  });
}

// jinja2's attribute getter for filters (map, selectattr, join):
// "a.b.0" looks up each part, digits as integers.
absl::StatusOr<Value> GetPath(const Value& item, absl::string_view path) {
  Value current = item;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const absl::string_view part =
        path.substr(start, dot == absl::string_view::npos ? absl::string_view::npos : dot - start);
    Value key = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit)
                    ? Value::Int(std::atoll(std::string(part).c_str()))
                    : Value::String(std::string(part));
    R1_ASSIGN_OR_RETURN(current, GetItem(current, key));
    if (dot == absl::string_view::npos) return current;
    start = dot + 1;
  }
}

// ------------------------------------------------------------ filters ---

absl::StatusOr<std::string> SoftStr(const Value& v) { return ToStr(v); }

absl::StatusOr<Value> FilterLength(Renderer&, const Value& v, CallArgs& args) {
  R1_RETURN_IF_ERROR(NoArgs("length", args));
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return Value::Int(0);
    case Value::Kind::kString:
      return Value::Int(CodePointCount(v.as_string()));
    case Value::Kind::kDict:
      return Value::Int(v.as_dict().entries.size());
    case Value::Kind::kList:
      if (!v.is_generator()) return Value::Int(v.as_list().size());
      break;
    default:
      break;
  }
  return TypeError(absl::StrFormat("object of type '%s' has no len()", v.TypeName()));
}

absl::StatusOr<Value> FilterDefault(Renderer&, const Value& v, CallArgs& args) {
  R1_ASSIGN_OR_RETURN(Bound b, args.Bind("default", {"default_value", "boolean"}));
  const bool boolean = b[1] && b[1]->Truthy();
  if (v.is_undefined() || (boolean && !v.Truthy())) {
    return b[0] ? *b[0] : Value::String("");
  }
  return v;
}

absl::StatusOr<Value> FilterFirst(Renderer&, const Value& v, CallArgs& args) {
  R1_RETURN_IF_ERROR(NoArgs("first", args));
  R1_ASSIGN_OR_RETURN(ValueList items, Iterate(v));
  if (items.empty()) return Value::Undefined("No first item, sequence was empty.");
  return items.front();
}

absl::StatusOr<Value> FilterLast(Renderer&, const Value& v, CallArgs& args) {
  R1_RETURN_IF_ERROR(NoArgs("last", args));
  if (!(v.is_string() || v.is_dict() || (v.is_list() && !v.is_generator()))) {
    return TypeError(absl::StrFormat("'%s' object is not reversible", v.TypeName()));
  }
  R1_ASSIGN_OR_RETURN(ValueList items, Iterate(v));
  if (items.empty()) return Value::Undefined("No last item, sequence was empty.");
  return items.back();
}

absl::StatusOr<Value> FilterJoin(Renderer&, const Value& v, CallArgs& args) {
  R1_ASSIGN_OR_RETURN(Bound b, args.Bind("join", {"d", "attribute"}));
  std::string separator;
  if (b[0]) {
    R1_ASSIGN_OR_RETURN(separator, SoftStr(*b[0]));
  }
  R1_ASSIGN_OR_RETURN(ValueList items, Iterate(v));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    Value item = items[i];
    if (b[1] && !b[1]->is_none()) {
      R1_ASSIGN_OR_RETURN(std::string path, SoftStr(*b[1]));
      R1_ASSIGN_OR_RETURN(item, GetPath(item, path));
    }
    R1_ASSIGN_OR_RETURN(std::string text, SoftStr(item));
    if (i > 0) out += separator;
    out += text;
  }
  return Value::String(std::move(out));
}

absl::StatusOr<Value> FilterCase(const Value& v, CallArgs& args, absl::string_view name,
                                 absl::StatusOr<std::string> (*fn)(absl::string_view)) {
  R1_RETURN_IF_ERROR(NoArgs(name, args));
  R1_ASSIGN_OR_RETURN(std::string s, SoftStr(v));
  R1_ASSIGN_OR_RETURN(std::string mapped, fn(s));
  return Value::String(std::move(mapped));
}

absl::StatusOr<Value> FilterReplace(Renderer&, const Value& v, CallArgs& args) {
  R1_ASSIGN_OR_RETURN(Bound b, args.Bind("replace", {"old", "new", "count"}));
  if (!b[0] || !b[1]) return TypeError("replace needs old and new");
  R1_ASSIGN_OR_RETURN(std::string s, SoftStr(v));
  R1_ASSIGN_OR_RETURN(std::string old_text, SoftStr(*b[0]));
  R1_ASSIGN_OR_RETURN(std::string new_text, SoftStr(*b[1]));
  int64_t count = -1;
  if (b[2] && !b[2]->is_none()) {
    if (!b[2]->is_integer()) return TypeError("replace's count must be an integer");
    count = b[2]->as_int();
  }
  return Value::String(Replace(s, old_text, new_text, count));
}

absl::StatusOr<Value> FilterTrim(Renderer&, const Value& v, CallArgs& args) {
  R1_ASSIGN_OR_RETURN(Bound b, args.Bind("trim", {"chars"}));
  R1_ASSIGN_OR_RETURN(std::string s, SoftStr(v));
  R1_ASSIGN_OR_RETURN(auto chars, StripChars(b[0], "trim"));
  return Value::String(Strip(s, chars, StripSide::kBoth));
}

absl::StatusOr<Value> FilterString(Renderer&, const Value& v, CallArgs& args) {
  R1_RETURN_IF_ERROR(NoArgs("string", args));
  R1_ASSIGN_OR_RETURN(std::string s, SoftStr(v));
  return Value::String(std::move(s));
}

// Python's int(str): optional sign, digits with single underscores between
// them, surrounding whitespace.
std::optional<int64_t> ParsePythonInt(absl::string_view text, int base) {
  std::string s = Strip(text, std::nullopt, StripSide::kBoth);
  if (s.empty()) return std::nullopt;
  size_t i = 0;
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    ++i;
  }
  std::string digits;
  bool previous_underscore = true;
  for (; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (previous_underscore) return std::nullopt;
      previous_underscore = true;
      continue;
    }
    const int d = std::isdigit(static_cast<unsigned char>(s[i]))   ? s[i] - '0'
                  : std::isalpha(static_cast<unsigned char>(s[i])) ? std::tolower(s[i]) - 'a' + 10
                                                                   : 99;
    if (d >= base) return std::nullopt;
    digits.push_back(s[i]);
    previous_underscore = false;
  }
  if (digits.empty() || previous_underscore) return std::nullopt;
  errno = 0;
  const long long v = std::strtoll(digits.c_str(), nullptr, base);
  if (errno != 0) return std::nullopt;
  return negative ? -v : v;
}

// Python's float(str): decimal or "inf"/"nan" spellings, with whitespace.
std::optional<double> ParsePythonFloat(absl::string_view text) {
  std::string s = Strip(text, std::nullopt, StripSide::kBoth);
  if (s.empty() || s.find('_') != std::string::npos) return std::nullopt;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '+' && c != '-') {
      return std::nullopt;
    }
  }
  if (s.find_first_of("xXpP") != std::string::npos) return std::nullopt;  // no C hex floats
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

absl::StatusOr<Value> FilterInt(Renderer&, const Value& v, CallArgs& args) {
  R1_ASSIGN_OR_RETURN(Bound b, args.Bind("int", {"default", "base"}));
  const Value fallback = b[0] ? *b[0] : Value::Int(0);
  int base = 10;
  if (b[1]) {
    if (!b[1]->is_integer()) return TypeError("int's base must be an integer");
    base = static_cast<int>(b[1]->as_int());
  }
  if (v.is_undefined()) return absl::InvalidArgumentError(v.as_string());
  if (v.is_integer()) return Value::Int(v.as_int());
  if (v.kind() == Value::Kind::kFloat) {
    const double d = v.as_double();
    if (std::isnan(d) || std::isinf(d)) return fallback;
    if (std::fabs(d) >= 9.2e18) return absl::UnimplementedError("an int outside 64 bits");
    return Value::Int(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    if (std::optional<int64_t> i = ParsePythonInt(v.as_string(), base)) return Value::Int(*i);
    if (std::optional<double> d = ParsePythonFloat(v.as_string())) {
      if (std::isnan(*d) || std::isinf(*d)) return fallback;
      if (std::fabs(*d) >= 9.2e18) return absl::UnimplementedError("an int outside 64 bits");
      return Value::Int(static_cast<int64_t>(*d));
    }
  }
  return fallback;
}

absl::StatusOr<Value> FilterFloat(Renderer&, const Value& v, CallArgs& args) {
  R1_ASSIGN_OR_RETURN(Bound b, args.Bind("float", {"default"}));
  const Value fallback = b[0] ? *b[0] : Value::Float(0.0);
  if (v.is_undefined()) return absl::InvalidArgumentError(v.as_string());
  if (v.is_number()) return Value::Float(v.as_double());
  if (v.is_string()) {
    if (std::optional<double> d = ParsePythonFloat(v.as_string())) return Value::Float(*d);
  }
  return fallback;
}

absl::StatusOr<Value> FilterAbs(Renderer&, const Value& v, CallArgs& args) {
  R1_RETURN_IF_ERROR(NoArgs("abs", args));
  if (v.kind() == Value::Kind::kFloat) return Value::Float(std::fabs(v.as_double()));
  if (v.is_integer()) {
    if (v.as_int() == INT64_MIN) return absl::UnimplementedError("an int outside 64 bits");
    return Value::Int(std::llabs(v.as_int()));
  }
  return TypeError(absl::StrFormat("bad operand type for abs(): '%s'", v.TypeName()));
}

absl::StatusOr<Value> FilterList(Renderer&, const Value& v, CallArgs& args) {
  R1_RETURN_IF_ERROR(NoArgs("list", args));
  if (v.is_undefined()) return absl::InvalidArgumentError(v.as_string());
  R1_ASSIGN_OR_RETURN(ValueList items, Iterate(v));
  return Value::List(std::move(items));
}

absl::StatusOr<Value> FilterItems(Renderer&, const Value& v, CallArgs& args) {
  R1_RETURN_IF_ERROR(NoArgs("items", args));
  if (v.is_undefined()) return Value::Generator({});
  if (!v.is_dict()) return TypeError("Can only get item pairs from a mapping.");
  ValueList pairs;
  for (const auto& [k, item] : v.as_dict().entries) {
    pairs.push_back(Value::List({k, item}, Value::ListFlavor::kTuple));
  }
  return Value::Generator(std::move(pairs));
}

absl::StatusOr<Value> FilterReverse(Renderer&, const Value& v, CallArgs& args) {
  R1_RETURN_IF_ERROR(NoArgs("reverse", args));
  if (v.is_string()) {
    std::u32string cps = DecodeUtf8(v.as_string());
    std::reverse(cps.begin(), cps.end());
    return Value::String(EncodeUtf8(cps));
  }
  if (v.is_undefined()) return Value::List({});
  if (v.is_generator()) return TypeError("'generator' object is not reversible");
  R1_ASSIGN_OR_RETURN(ValueList items, Iterate(v));
  std::reverse(items.begin(), items.end());
  return Value::Generator(std::move(items));
}

absl::StatusOr<Value> FilterTojson(Renderer&, const Value& v, CallArgs& args) {
  // transformers' tojson: json.dumps(x, ensure_ascii=False, indent=None,
  // separators=None, sort_keys=False); no HTML escaping, key order kept.
  R1_ASSIGN_OR_RETURN(Bound b,
                      args.Bind("tojson", {"ensure_ascii", "indent", "separators", "sort_keys"}));
  JsonDumpOptions options;
  options.ensure_ascii = b[0] && b[0]->Truthy();
  if (b[1] && !b[1]->is_none()) {
    if (b[1]->is_integer()) {
      options.indent = std::string(std::max<int64_t>(b[1]->as_int(), 0), ' ');
    } else if (b[1]->is_string()) {
      options.indent = b[1]->as_string();
    } else {
      return TypeError("indent must be an int or a string");
    }
  }
  if (options.indent) options.item_separator = ",";
  if (b[2] && !b[2]->is_none()) {
    const Value& seps = *b[2];
    if (!seps.is_list() || seps.as_list().size() != 2 || !seps.as_list()[0].is_string() ||
        !seps.as_list()[1].is_string()) {
      return TypeError("separators must be a pair of strings");
    }
    options.item_separator = seps.as_list()[0].as_string();
    options.key_separator = seps.as_list()[1].as_string();
  }
  options.sort_keys = b[3] && b[3]->Truthy();
  R1_ASSIGN_OR_RETURN(std::string json, JsonDump(v, options));
  return Value::String(std::move(json));
}

absl::StatusOr<Value> FilterSafe(Renderer&, const Value& v, CallArgs& args) {
  R1_RETURN_IF_ERROR(NoArgs("safe", args));
  R1_ASSIGN_OR_RETURN(std::string s, SoftStr(v));
  return Value::String(std::move(s));
}

// Applies the test named by args[first] (with the arguments after it) or,
// without a name, truthiness. Shared by select, reject, selectattr, rejectattr.
absl::StatusOr<bool> RunTest(const Value& v, const CallArgs& args, size_t first) {
  if (args.positional.size() <= first) return v.Truthy();
  const Value& name = args.positional[first];
  if (!name.is_string()) return TypeError("the test name must be a string");
  TestFn test = FindTest(name.as_string());
  if (test == nullptr) {
    return absl::UnimplementedError(absl::StrCat("the test '", name.as_string(), "'"));
  }
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + first + 1, args.positional.end());
  rest.keyword = args.keyword;
  return test(v, rest);
}

absl::StatusOr<Value> SelectOrReject(const Value& v, CallArgs& args, bool by_attribute,
                                     bool keep_when) {
  if (by_attribute && (args.positional.empty() || !args.positional[0].is_string())) {
    return TypeError("needs an attribute name");
  }
  R1_ASSIGN_OR_RETURN(ValueList items, Iterate(v));
  ValueList kept;
  for (const Value& item : items) {
    Value tested = item;
    if (by_attribute) {
      R1_ASSIGN_OR_RETURN(tested, GetPath(item, args.positional[0].as_string()));
    }
    R1_ASSIGN_OR_RETURN(bool passed, RunTest(tested, args, by_attribute ? 1 : 0));
    if (passed == keep_when) kept.push_back(item);
  }
  return Value::Generator(std::move(kept));
}

absl::StatusOr<Value> FilterMap(Renderer& renderer, const Value& v, CallArgs& args) {
  R1_ASSIGN_OR_RETURN(ValueList items, Iterate(v));
  ValueList mapped;
  std::optional<Value> attribute, fallback;
  for (const auto& [k, value] : args.keyword) {
    if (k == "attribute") {
      attribute = value;
    } else if (k == "default") {
      fallback = value;
    } else if (args.positional.empty()) {
      return TypeError(absl::StrCat("map() got an unexpected keyword argument '", k, "'"));
    }
  }
  if (attribute) {
    if (!args.positional.empty())
      return TypeError("map(attribute=...) takes no positional arguments");
    R1_ASSIGN_OR_RETURN(std::string path, SoftStr(*attribute));
    for (const Value& item : items) {
      R1_ASSIGN_OR_RETURN(Value got, GetPath(item, path));
      if (got.is_undefined() && fallback) got = *fallback;
      mapped.push_back(std::move(got));
    }
    return Value::Generator(std::move(mapped));
  }
  if (args.positional.empty() || !args.positional[0].is_string()) {
    return TypeError("map() needs a filter name or attribute=");
  }
  FilterFn filter = FindFilter(args.positional[0].as_string());
  if (filter == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat("the filter '", args.positional[0].as_string(), "'"));
  }
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (const Value& item : items) {
    CallArgs call = rest;
    R1_ASSIGN_OR_RETURN(Value got, filter(renderer, item, call));
    mapped.push_back(std::move(got));
  }
  return Value::Generator(std::move(mapped));
}

const std::map<std::string, FilterFn, std::less<>>& Filters() {
  static const auto* filters = new std::map<std::string, FilterFn, std::less<>>{
      {"abs", FilterAbs},
      {"capitalize", [](Renderer&, const Value& v,
                        CallArgs& a) { return FilterCase(v, a, "capitalize", PythonCapitalize); }},
      {"count", FilterLength},
      {"d", FilterDefault},
      {"default", FilterDefault},
      {"first", FilterFirst},
      {"float", FilterFloat},
      {"int", FilterInt},
      {"items", FilterItems},
      {"join", FilterJoin},
      {"last", FilterLast},
      {"length", FilterLength},
      {"list", FilterList},
      {"lower",
       [](Renderer&, const Value& v, CallArgs& a) {
         return FilterCase(v, a, "lower", [](absl::string_view s) {
           return ChangeCase(s, CaseMode::kLower, "lower");
         });
       }},
      {"map", FilterMap},
      {"reject",
       [](Renderer&, const Value& v, CallArgs& a) { return SelectOrReject(v, a, false, false); }},
      {"rejectattr",
       [](Renderer&, const Value& v, CallArgs& a) { return SelectOrReject(v, a, true, false); }},
      {"replace", FilterReplace},
      {"reverse", FilterReverse},
      {"safe", FilterSafe},
      {"select",
       [](Renderer&, const Value& v, CallArgs& a) { return SelectOrReject(v, a, false, true); }},
      {"selectattr",
       [](Renderer&, const Value& v, CallArgs& a) { return SelectOrReject(v, a, true, true); }},
      {"string", FilterString},
      {"title", [](Renderer&, const Value& v,
                   CallArgs& a) { return FilterCase(v, a, "title", JinjaTitle); }},
      {"tojson", FilterTojson},
      {"trim", FilterTrim},
      {"upper",
       [](Renderer&, const Value& v, CallArgs& a) {
         return FilterCase(v, a, "upper", [](absl::string_view s) {
           return ChangeCase(s, CaseMode::kUpper, "upper");
         });
       }},
  };
  return *filters;
}

// -------------------------------------------------------------- tests ---

absl::StatusOr<Value> OneArg(absl::string_view test, const CallArgs& args) {
  if (args.positional.size() != 1 || !args.keyword.empty()) {
    return TypeError(absl::StrCat(test, " takes one argument"));
  }
  return args.positional[0];
}

absl::StatusOr<bool> Compare(const Value& v, const CallArgs& args, absl::string_view op) {
  R1_ASSIGN_OR_RETURN(Value other, OneArg(op, args));
  if (op == "==") return Equal(v, other);
  if (op == "!=") return !Equal(v, other);
  if (v.is_undefined()) return absl::InvalidArgumentError(v.as_string());
  if (other.is_undefined()) return absl::InvalidArgumentError(other.as_string());
  if (op == "<") return Less(v, other);
  if (op == ">") return Less(other, v);
  R1_ASSIGN_OR_RETURN(bool less, op == "<=" ? Less(other, v) : Less(v, other));
  return !less;
}

absl::StatusOr<int64_t> IntForTest(const Value& v, absl::string_view test) {
  if (v.is_undefined()) return absl::InvalidArgumentError(v.as_string());
  if (!v.is_integer()) {
    return absl::UnimplementedError(absl::StrCat("the test '", test, "' on a ", v.TypeName()));
  }
  return v.as_int();
}

absl::StatusOr<bool> CaseTest(const Value& v, bool want_lower) {
  R1_ASSIGN_OR_RETURN(std::string s, ToStr(v));
  bool any_cased = false;
  for (char32_t cp : DecodeUtf8(s)) {
    if (!IsCaseless(cp) && cp >= 0x80) {
      return absl::UnimplementedError("lower/upper tests on non-ASCII letters");
    }
    if (!IsCased(cp)) continue;
    any_cased = true;
    if (want_lower ? std::isupper(static_cast<int>(cp)) : std::islower(static_cast<int>(cp))) {
      return false;
    }
  }
  return any_cased;
}

#define R1_JINJA_TEST(expr) [](const Value& v, CallArgs& args) -> absl::StatusOr<bool> { expr }

const std::map<std::string, TestFn, std::less<>>& Tests() {
  static const auto* tests = new std::map<std::string, TestFn, std::less<>>{
      {"defined",
       R1_JINJA_TEST(R1_RETURN_IF_ERROR(NoArgs("defined", args)); return !v.is_undefined();)},
      {"undefined",
       R1_JINJA_TEST(R1_RETURN_IF_ERROR(NoArgs("undefined", args)); return v.is_undefined();)},
      {"none", R1_JINJA_TEST(R1_RETURN_IF_ERROR(NoArgs("none", args)); return v.is_none();)},
      {"boolean", R1_JINJA_TEST(R1_RETURN_IF_ERROR(NoArgs("boolean", args));
                                return v.kind() == Value::Kind::kBool;)},
      {"true", R1_JINJA_TEST(R1_RETURN_IF_ERROR(NoArgs("true", args));
                             return v.kind() == Value::Kind::kBool && v.as_bool();)},
      {"false", R1_JINJA_TEST(R1_RETURN_IF_ERROR(NoArgs("false", args));
                              return v.kind() == Value::Kind::kBool && !v.as_bool();)},
      {"integer", R1_JINJA_TEST(R1_RETURN_IF_ERROR(NoArgs("integer", args));
                                return v.kind() == Value::Kind::kInt;)},
      {"float", R1_JINJA_TEST(R1_RETURN_IF_ERROR(NoArgs("float", args));
                              return v.kind() == Value::Kind::kFloat;)},
      {"number", R1_JINJA_TEST(R1_RETURN_IF_ERROR(NoArgs("number", args)); return v.is_number();)},
      {"string", R1_JINJA_TEST(R1_RETURN_IF_ERROR(NoArgs("string", args)); return v.is_string();)},
      {"mapping", R1_JINJA_TEST(R1_RETURN_IF_ERROR(NoArgs("mapping", args)); return v.is_dict();)},
      {"iterable",
       R1_JINJA_TEST(R1_RETURN_IF_ERROR(NoArgs("iterable", args));
                     return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict();)},
      {"sequence", R1_JINJA_TEST(R1_RETURN_IF_ERROR(NoArgs("sequence", args));
                                 return v.is_undefined() || v.is_string() || v.is_dict() ||
                                        (v.is_list() && !v.is_generator());)},
      {"callable", R1_JINJA_TEST(R1_RETURN_IF_ERROR(NoArgs("callable", args));
                                 return v.kind() == Value::Kind::kCallable;)},
      {"odd",
       R1_JINJA_TEST(R1_RETURN_IF_ERROR(NoArgs("odd", args));
                     R1_ASSIGN_OR_RETURN(int64_t i, IntForTest(v, "odd")); return i % 2 != 0;)},
      {"even",
       R1_JINJA_TEST(R1_RETURN_IF_ERROR(NoArgs("even", args));
                     R1_ASSIGN_OR_RETURN(int64_t i, IntForTest(v, "even")); return i % 2 == 0;)},
      {"divisibleby",
       R1_JINJA_TEST(R1_ASSIGN_OR_RETURN(Value n, OneArg("divisibleby", args));
                     R1_ASSIGN_OR_RETURN(int64_t i, IntForTest(v, "divisibleby"));
                     R1_ASSIGN_OR_RETURN(int64_t d, IntForTest(n, "divisibleby"));
                     if (d == 0) return TypeError("integer modulo by zero"); return i % d == 0;)},
      {"eq", R1_JINJA_TEST(return Compare(v, args, "==");)},
      {"equalto", R1_JINJA_TEST(return Compare(v, args, "==");)},
      {"==", R1_JINJA_TEST(return Compare(v, args, "==");)},
      {"ne", R1_JINJA_TEST(return Compare(v, args, "!=");)},
      {"!=", R1_JINJA_TEST(return Compare(v, args, "!=");)},
      {"lt", R1_JINJA_TEST(return Compare(v, args, "<");)},
      {"lessthan", R1_JINJA_TEST(return Compare(v, args, "<");)},
      {"<", R1_JINJA_TEST(return Compare(v, args, "<");)},
      {"le", R1_JINJA_TEST(return Compare(v, args, "<=");)},
      {"<=", R1_JINJA_TEST(return Compare(v, args, "<=");)},
      {"gt", R1_JINJA_TEST(return Compare(v, args, ">");)},
      {"greaterthan", R1_JINJA_TEST(return Compare(v, args, ">");)},
      {">", R1_JINJA_TEST(return Compare(v, args, ">");)},
      {"ge", R1_JINJA_TEST(return Compare(v, args, ">=");)},
      {">=", R1_JINJA_TEST(return Compare(v, args, ">=");)},
      {"in", R1_JINJA_TEST(R1_ASSIGN_OR_RETURN(Value container, OneArg("in", args));
                           return Contains(container, v);)},
      {"lower",
       R1_JINJA_TEST(R1_RETURN_IF_ERROR(NoArgs("lower", args)); return CaseTest(v, true);)},
      {"upper",
       R1_JINJA_TEST(R1_RETURN_IF_ERROR(NoArgs("upper", args)); return CaseTest(v, false);)},
      {"sameas",
       R1_JINJA_TEST(
           R1_ASSIGN_OR_RETURN(Value other, OneArg("sameas", args));
           // Python's `is`: exact for the singletons None, True, False.
           auto singleton =
               [](const Value& x) { return x.is_none() || x.kind() == Value::Kind::kBool; };
           if (singleton(v) || singleton(other)) {
             return v.kind() == other.kind() && Equal(v, other);
           } return absl::
               UnimplementedError("'sameas' on values other than None, True and False");)},
  };
  return *tests;
}

#undef R1_JINJA_TEST

}  // namespace

FilterFn FindFilter(absl::string_view name) {
  auto it = Filters().find(name);
  return it == Filters().end() ? nullptr : it->second;
}

TestFn FindTest(absl::string_view name) {
  auto it = Tests().find(name);
  return it == Tests().end() ? nullptr : it->second;
}

absl::StatusOr<Value> GetAttribute(const Value& object, absl::string_view name) {
  using Kind = Value::Kind;
  switch (object.kind()) {
    case Kind::kUndefined:
      return absl::InvalidArgumentError(object.as_string());
    case Kind::kNamespace:
      if (Value* v = object.as_namespace()->Find(name)) return *v;
      break;
    case Kind::kDict:
      // Python attributes first: `d.items` is the method even when d has an
      // "items" key (templates write d['items'] for that).
      if (std::optional<Value> method = GetMethod(object, name)) return *method;
      if (const Value* v = object.as_dict().Find(name)) return *v;
      break;
    case Kind::kString:
    case Kind::kList:
      if (std::optional<Value> method = GetMethod(object, name)) return *method;
      break;
    default:
      break;
  }
  return Value::Undefined(
      absl::StrFormat("'%s object' has no attribute '%s'", object.TypeName(), name));
}

absl::StatusOr<Value> GetItem(const Value& object, const Value& key) {
  using Kind = Value::Kind;
  if (object.is_undefined()) return absl::InvalidArgumentError(object.as_string());
  auto missing = [&]() -> absl::StatusOr<Value> {
    if (key.is_string()) return GetAttribute(object, key.as_string());
    absl::StatusOr<std::string> shown = Repr(key);
    return Value::Undefined(absl::StrFormat("'%s object' has no element %s", object.TypeName(),
                                            shown.ok() ? *shown : "?"));
  };
  switch (object.kind()) {
    case Kind::kDict:
      if (const Value* v = object.as_dict().Find(key)) return *v;
      return missing();
    case Kind::kList: {
      if (!key.is_integer() || object.is_generator() ||
          object.list_flavor() == Value::ListFlavor::kDictItems ||
          object.list_flavor() == Value::ListFlavor::kDictKeys ||
          object.list_flavor() == Value::ListFlavor::kDictValues) {
        return missing();
      }
      const ValueList& items = object.as_list();
      int64_t i = key.as_int();
      if (i < 0) i += items.size();
      if (i < 0 || i >= static_cast<int64_t>(items.size())) return missing();
      return items[i];
    }
    case Kind::kString: {
      if (!key.is_integer()) return missing();
      std::u32string cps = DecodeUtf8(object.as_string());
      int64_t i = key.as_int();
      if (i < 0) i += cps.size();
      if (i < 0 || i >= static_cast<int64_t>(cps.size())) return missing();
      return Value::String(EncodeUtf8(cps.substr(i, 1)));
    }
    default:
      return missing();
  }
}

absl::StatusOr<bool> Contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) {
      return TypeError(absl::StrFormat("'in <string>' requires string as left operand, not %s",
                                       item.TypeName()));
    }
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_dict()) return container.as_dict().Find(item) != nullptr;
  R1_ASSIGN_OR_RETURN(ValueList items, Iterate(container));
  for (const Value& v : items) {
    if (Equal(v, item)) return true;
  }
  return false;
}

std::vector<std::pair<std::string, Value>> BuiltinGlobals() {
  std::vector<std::pair<std::string, Value>> globals;
  globals.emplace_back(
      "range", Value::MakeCallable("range", [](Renderer&, CallArgs& args) -> absl::StatusOr<Value> {
        if (!args.keyword.empty() || args.positional.empty() || args.positional.size() > 3) {
          return TypeError("range() takes 1 to 3 positional arguments");
        }
        for (const Value& v : args.positional) {
          if (!v.is_integer()) {
            return TypeError(
                absl::StrFormat("'%s' object cannot be interpreted as an integer", v.TypeName()));
          }
        }
        const auto& p = args.positional;
        const int64_t start = p.size() == 1 ? 0 : p[0].as_int();
        const int64_t stop = p.size() == 1 ? p[0].as_int() : p[1].as_int();
        const int64_t step = p.size() == 3 ? p[2].as_int() : 1;
        if (step == 0) return absl::InvalidArgumentError("range() arg 3 must not be zero");
        // jinja2's sandbox refuses ranges over MAX_RANGE items.
        constexpr int64_t kMaxRange = 100000;
        const double count = std::ceil((static_cast<double>(stop) - start) / step);
        if (count > kMaxRange) {
          return absl::InvalidArgumentError(
              "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        }
        ValueList items;
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
          items.push_back(Value::Int(i));
        return Value::List(std::move(items), Value::ListFlavor::kRange);
      }));
  globals.emplace_back(
      "namespace",
      Value::MakeCallable("namespace", [](Renderer&, CallArgs& args) -> absl::StatusOr<Value> {
        auto ns = std::make_shared<Namespace>();
        auto set = [&](const std::string& k, const Value& v) {
          if (Value* existing = ns->Find(k)) {
            *existing = v;
          } else {
            ns->attributes.emplace_back(k, v);
          }
        };
        for (const Value& p : args.positional) {
          if (!p.is_dict()) return TypeError("namespace() takes a dict or keyword arguments");
          for (const auto& [k, v] : p.as_dict().entries) {
            if (!k.is_string()) return TypeError("namespace() keys must be strings");
            set(k.as_string(), v);
          }
        }
        for (const auto& [k, v] : args.keyword) set(k, v);
        return Value::MakeNamespace(std::move(ns));
      }));
  globals.emplace_back(
      "dict", Value::MakeCallable("dict", [](Renderer&, CallArgs& args) -> absl::StatusOr<Value> {
        if (!args.positional.empty()) {
          return absl::UnimplementedError("dict() with positional arguments");
        }
        Dict dict;
        for (const auto& [k, v] : args.keyword) dict.entries.emplace_back(Value::String(k), v);
        return Value::MakeDict(std::move(dict));
      }));
  return globals;
}

}  // namespace r1::jinja
