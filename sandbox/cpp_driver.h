// The C++ function-call driver (sandbox/judge.h): the code that goes before
// the program in the one translation unit g++ compiles. Its templates come
// first, so no macro of the program can reach them; then LeetCode's preamble
// (`using namespace std;`, with <bits/stdc++.h> included above); then `main`
// is renamed so a program's own main() is just a function. judge.cc appends
// the program and a main() that calls r1_harness::Main(name, &entry point).
//
// The protocol with judge.cc:
// - stdin: the JSON array of arguments, read before the program's static
//   initializers run; the real stdout is kept (close-on-exec) for the result,
//   and fd 1 becomes stderr, so the program's prints cannot reach the result.
// - exit 0 and the result's JSON on the kept stdout: compared by the judge.
// - exit 5 and a message on stderr: the arguments do not fit the declared
//   parameters (count, kind, range): the program's runtime error.
// - exit 6 and "R1_HARNESS_REFUSED: <why>" on the kept stdout: the entry
//   point has a parameter or return type the driver does not support, or the
//   driver could not read the arguments: the item cannot be judged.
#ifndef R1_SANDBOX_CPP_DRIVER_H_
#define R1_SANDBOX_CPP_DRIVER_H_

namespace r1::sandbox {

inline constexpr char kCppDriverPrefix[] = R"r1cpp(// r1's function-call driver (sandbox/cpp_driver.h in r1): reads a JSON
// array of arguments on stdin, calls the entry point, writes the JSON of its
// result on the original stdout. The program's own stdout goes to stderr.
#include <bits/stdc++.h>
#include <fcntl.h>
#include <unistd.h>

namespace r1_harness {

int result_fd = -1;
std::string* input = nullptr;  // stdin: the JSON arguments

// Before any of the program's static initializers: read the arguments, keep
// the real stdout for the result, send everything else the process writes
// there to stderr.
__attribute__((constructor(101))) void TakeStdio() {
  input = new std::string;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    input->append(buf, static_cast<size_t>(n));
  }
  result_fd = ::fcntl(1, F_DUPFD_CLOEXEC, 3);
  ::dup2(2, 1);
}

struct Json {
  enum Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = kNull;
  bool boolean = false;
  bool integer = false;  // a number without fraction or exponent
  std::string text;      // number: its literal; string: its bytes
  std::vector<Json> items;
};

class Parser {
 public:
  explicit Parser(const std::string& in) : in_(in) {}
  bool Document(Json* out, std::string* error) {
    if (!Value(out, 0) || (Space(), pos_ != in_.size())) {
      *error = error_.empty() ? "trailing characters" : error_;
      *error += " at offset " + std::to_string(pos_);
      return false;
    }
    return true;
  }

 private:
  bool Fail(const char* what) {
    if (error_.empty()) error_ = what;
    return false;
  }
  void Space() {
    while (pos_ < in_.size() && (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' || in_[pos_] == '\r')) ++pos_;
  }
  bool Word(const char* w) {
    const size_t n = std::strlen(w);
    if (in_.compare(pos_, n, w) != 0) return false;
    pos_ += n;
    return true;
  }
  static bool Digit(char c) { return c >= '0' && c <= '9'; }
  size_t Digits() {
    const size_t from = pos_;
    while (pos_ < in_.size() && Digit(in_[pos_])) ++pos_;
    return pos_ - from;
  }
  bool Value(Json* out, int depth) {
    if (depth > 600) return Fail("nesting too deep");
    Space();
    if (pos_ >= in_.size()) return Fail("unexpected end");
    const char c = in_[pos_];
    start_of_word_ = pos_;
    if (c == '[' || c == '{') {
      const bool object = c == '{';
      out->kind = object ? Json::kObject : Json::kArray;
      ++pos_;
      Space();
      if (pos_ < in_.size() && in_[pos_] == (object ? '}' : ']')) return ++pos_, true;
      while (true) {
        if (object) {
          Space();
          std::string key;
          if (pos_ >= in_.size() || in_[pos_] != '"' || !String(&key)) return Fail("object key expected");
          Space();
          if (!Word(":")) return Fail("':' expected");
        }
        out->items.emplace_back();
        if (!Value(&out->items.back(), depth + 1)) return false;
        Space();
        if (Word(object ? "}" : "]")) return true;
        if (!Word(",")) return Fail("',' expected");
      }
    }
    if (c == '"') {
      out->kind = Json::kString;
      return String(&out->text);
    }
    if (Word("null")) return true;
    if (Word("true") || Word("false")) {
      out->kind = Json::kBool;
      out->boolean = in_[start_of_word_] == 't';
      return true;
    }
    out->kind = Json::kNumber;
    const size_t start = pos_;
    if (Word("NaN") || Word("Infinity") || Word("-Infinity")) {
      out->text = in_.substr(start, pos_ - start);
      return true;
    }
    if (pos_ < in_.size() && in_[pos_] == '-') ++pos_;
    if (Digits() == 0) return Fail("not a JSON value");
    out->integer = true;
    if (pos_ < in_.size() && in_[pos_] == '.') {
      ++pos_;
      out->integer = false;
      if (Digits() == 0) return Fail("digits expected after '.'");
    }
    if (pos_ < in_.size() && (in_[pos_] == 'e' || in_[pos_] == 'E')) {
      ++pos_;
      out->integer = false;
      if (pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-')) ++pos_;
      if (Digits() == 0) return Fail("digits expected in exponent");
    }
    out->text = in_.substr(start, pos_ - start);
    return true;
  }
  bool Hex4(unsigned* value) {
    if (pos_ + 4 > in_.size()) return Fail("short \\u escape");
    *value = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = in_[pos_++];
      int d;
      if (Digit(h)) d = h - '0';
      else if (h >= 'a' && h <= 'f') d = h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') d = h - 'A' + 10;
      else return Fail("bad \\u escape");
      *value = (*value << 4) | static_cast<unsigned>(d);
    }
    return true;
  }
  static void Utf8(unsigned cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  bool String(std::string* out) {
    ++pos_;
    while (true) {
      if (pos_ >= in_.size()) return Fail("unterminated string");
      const char c = in_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return Fail("control character in string");
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= in_.size()) return Fail("unterminated escape");
      switch (in_[pos_++]) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          unsigned cp;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00 && in_.compare(pos_, 2, "\\u") == 0) {
            const size_t save = pos_;
            pos_ += 2;
            unsigned low;
            if (Hex4(&low) && low >= 0xDC00 && low < 0xE000) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else {
              pos_ = save;
              error_.clear();
            }
          }
          Utf8(cp, out);
          break;
        }
        default:
          return Fail("bad escape");
      }
    }
  }

  const std::string& in_;
  size_t pos_ = 0;
  size_t start_of_word_ = 0;
  std::string error_;
};

template <class T> struct IsVector : std::false_type {};
template <class T> struct IsVector<std::vector<T>> : std::true_type {};

template <class T>
constexpr bool Supported() {
  if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, char> || std::is_same_v<T, std::string>) {
    return true;
  } else if constexpr (std::is_integral_v<T>) {
    return sizeof(T) <= 8 && !std::is_same_v<T, wchar_t> && !std::is_same_v<T, char16_t> &&
           !std::is_same_v<T, char32_t>;
  } else if constexpr (std::is_floating_point_v<T>) {
    return true;
  } else if constexpr (IsVector<T>::value) {
    return Supported<typename T::value_type>();
  } else {
    return false;
  }
}

// The type as the compiler spells it ("TreeNode*").
template <class T>
std::string TypeName() {
  const std::string f = __PRETTY_FUNCTION__;
  const size_t at = f.find("T = ");
  if (at == std::string::npos) return "?";
  const size_t end = f.find_first_of(";]", at);
  return f.substr(at + 4, end == std::string::npos ? std::string::npos : end - at - 4);
}

const char* KindName(const Json& j) {
  switch (j.kind) {
    case Json::kNull: return "null";
    case Json::kBool: return "a boolean";
    case Json::kNumber: return j.integer ? "an integer" : "a number";
    case Json::kString: return "a string";
    case Json::kArray: return "an array";
    case Json::kObject: return "an object";
  }
  return "?";
}

template <class T>
bool FromJson(const Json& j, T* out, std::string* why) {
  auto mismatch = [&](const char* wanted) {
    *why = std::string(KindName(j)) + " (" + (j.kind == Json::kNumber ? j.text : std::string("...")) +
           ") does not fit " + wanted;
    return false;
  };
  if constexpr (std::is_same_v<T, bool>) {
    if (j.kind != Json::kBool) return mismatch("bool");
    *out = j.boolean;
    return true;
  } else if constexpr (std::is_same_v<T, char>) {
    if (j.kind != Json::kString || j.text.size() != 1) return mismatch("char (a one-byte string)");
    *out = j.text[0];
    return true;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (j.kind != Json::kString) return mismatch("std::string");
    *out = j.text;
    return true;
  } else if constexpr (std::is_integral_v<T>) {
    if (j.kind != Json::kNumber || !j.integer) return mismatch(TypeName<T>().c_str());
    errno = 0;
    char* end = nullptr;
    if constexpr (std::is_signed_v<T>) {
      const long long v = std::strtoll(j.text.c_str(), &end, 10);
      if (errno != 0 || v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) {
        return mismatch(TypeName<T>().c_str());
      }
      *out = static_cast<T>(v);
    } else {
      if (j.text[0] == '-' && j.text != "-0") return mismatch(TypeName<T>().c_str());
      const unsigned long long v = std::strtoull(j.text.c_str(), &end, 10);
      if (errno != 0 || v > std::numeric_limits<T>::max()) return mismatch(TypeName<T>().c_str());
      *out = static_cast<T>(v);
    }
    return true;
  } else if constexpr (std::is_floating_point_v<T>) {
    if (j.kind != Json::kNumber) return mismatch(TypeName<T>().c_str());
    if (j.text == "NaN") {
      *out = std::numeric_limits<T>::quiet_NaN();
    } else if (j.text == "Infinity" || j.text == "-Infinity") {
      *out = j.text[0] == '-' ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
    } else {
      const char* begin = j.text.c_str();
      const std::from_chars_result r = std::from_chars(begin, begin + j.text.size(), *out);
      if (r.ec == std::errc::result_out_of_range) {
        *out = j.text[0] == '-' ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
      } else if (r.ec != std::errc() || r.ptr != begin + j.text.size()) {
        return mismatch(TypeName<T>().c_str());
      }
    }
    return true;
  } else {
    static_assert(IsVector<T>::value);
    if (j.kind != Json::kArray) return mismatch(TypeName<T>().c_str());
    out->clear();
    out->reserve(j.items.size());
    for (size_t i = 0; i < j.items.size(); ++i) {
      typename T::value_type item{};
      if (!FromJson(j.items[i], &item, why)) {
        *why = "element " + std::to_string(i) + ": " + *why;
        return false;
      }
      out->push_back(std::move(item));
    }
    return true;
  }
}

template <class T>
void ToJson(const T& value, std::string* out) {
  if constexpr (std::is_same_v<T, bool>) {
    *out += value ? "true" : "false";
  } else if constexpr (std::is_same_v<T, char> || std::is_same_v<T, std::string>) {
    std::string text;
    if constexpr (std::is_same_v<T, char>) {
      text.assign(1, value);
    } else {
      text = value;
    }
    out->push_back('"');
    for (const char c : text) {
      const unsigned char u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out->push_back('\\');
        out->push_back(c);
      } else if (u < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", u);
        *out += buf;
      } else {
        out->push_back(c);
      }
    }
    out->push_back('"');
  } else if constexpr (std::is_integral_v<T>) {
    *out += std::to_string(value);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(value)) {
      *out += "NaN";
    } else if (std::isinf(value)) {
      *out += value < 0 ? "-Infinity" : "Infinity";
    } else {
      char buf[128];
      const std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, value);
      out->append(buf, r.ptr);
    }
  } else {
    static_assert(IsVector<T>::value);
    out->push_back('[');
    bool first = true;
    for (const auto& item : value) {
      if (!first) out->push_back(',');
      first = false;
      ToJson<typename T::value_type>(item, out);
    }
    out->push_back(']');
  }
}

constexpr char kRefused[] = "R1_HARNESS_REFUSED: ";
constexpr int kRefusedExit = 6;
constexpr int kBadArgumentsExit = 5;

bool WriteResult(const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(result_fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// The judge's cue that this entry point cannot be driven: the marker on the
// result channel and the exit code together.
int Refuse(const std::string& why) {
  std::fprintf(stderr, "r1 harness: %s\n", why.c_str());
  WriteResult(kRefused + why);
  return kRefusedExit;
}

template <class... A, class Values, size_t... I>
bool ConvertAll(const Json& args, Values& values, std::string* why, std::index_sequence<I...>) {
  return ((FromJson(args.items[I], &std::get<I>(values), why) ||
           (*why = "argument " + std::to_string(I + 1) + " (" + TypeName<A>() + "): " + *why, false)) &&
          ...);
}

template <class R, class... A, class Invoke>
int Run(const char* name, Invoke invoke) {
  if (result_fd < 0) return Refuse("cannot keep the result channel");
  constexpr bool kSupported = (Supported<std::decay_t<A>>() && ... && true) &&
                              (std::is_void_v<R> || Supported<std::decay_t<R>>());
  if constexpr (!kSupported) {
    const bool ok[] = {true, Supported<std::decay_t<A>>()...};
    const std::string names[] = {"", TypeName<A>()...};
    for (size_t i = 1; i < std::size(ok); ++i) {
      if (!ok[i]) {
        return Refuse(std::string("parameter ") + std::to_string(i) + " of " + name + " has type " + names[i] +
                      ", which the C++ function-call driver does not support");
      }
    }
    return Refuse(std::string(name) + " returns " + TypeName<R>() +
                  ", which the C++ function-call driver does not support");
  } else {
    Json args;
    std::string why;
    if (!Parser(*input).Document(&args, &why) || args.kind != Json::kArray) {
      return Refuse("cannot read the arguments as a JSON array: " + why);
    }
    if (args.items.size() != sizeof...(A)) {
      std::fprintf(stderr, "r1 harness: %s takes %zu arguments, the test gives %zu\n", name, sizeof...(A),
                   args.items.size());
      return kBadArgumentsExit;
    }
    std::tuple<std::decay_t<A>...> values;
    if (!ConvertAll<A...>(args, values, &why, std::index_sequence_for<A...>{})) {
      std::fprintf(stderr, "r1 harness: %s: %s\n", name, why.c_str());
      return kBadArgumentsExit;
    }
    std::string out;
    if constexpr (std::is_void_v<R>) {
      invoke(values);
      out = "null";
    } else {
      decltype(auto) result = invoke(values);
      ToJson<std::decay_t<R>>(result, &out);
    }
    std::fflush(nullptr);
    if (!WriteResult(out)) return Refuse("cannot write the result");
    return 0;
  }
}

template <class R, class... A, class Fn, class Values, size_t... I>
R Call(Fn&& fn, Values& values, std::index_sequence<I...>) {
  return fn(static_cast<A&&>(std::get<I>(values))...);
}

template <class R, class... A>
int Main(const char* name, R (*fn)(A...)) {
  return Run<R, A...>(name, [fn](auto& values) -> R {
    return Call<R, A...>(fn, values, std::index_sequence_for<A...>{});
  });
}

template <class C, class R, class... A, class Method>
int MainMethod(const char* name, Method method) {
  return Run<R, A...>(name, [method](auto& values) -> R {
    C* object = new C();
    return Call<R, A...>([&](auto&&... a) -> R { return (object->*method)(static_cast<decltype(a)&&>(a)...); },
                         values, std::index_sequence_for<A...>{});
  });
}

template <class C, class R, class... A>
int Main(const char* name, R (C::*method)(A...)) {
  return MainMethod<C, R, A...>(name, method);
}

template <class C, class R, class... A>
int Main(const char* name, R (C::*method)(A...) const) {
  return MainMethod<C, R, A...>(name, method);
}

}  // namespace r1_harness

using namespace std;
#define main r1_program_main
)r1cpp";

}  // namespace r1::sandbox

#endif  // R1_SANDBOX_CPP_DRIVER_H_
