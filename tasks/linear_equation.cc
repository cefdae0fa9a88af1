#include "tasks/linear_equation.h"

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "tasks/expression.h"

namespace r1::tasks {
namespace {

constexpr absl::string_view kPromptPrefix = "Solve for x: ";

// k x + m
struct Linear {
  int64_t k = 0;
  int64_t m = 0;
};

std::string Coefficient(int64_t k) {
  if (k == 1) return "x";
  if (k == -1) return "-x";
  return absl::StrCat(k, "x");
}

std::string Render(const Linear& e) {
  if (e.k == 0) return absl::StrCat(e.m);
  std::string out = Coefficient(e.k);
  if (e.m > 0) absl::StrAppend(&out, " + ", e.m);
  if (e.m < 0) absl::StrAppend(&out, " - ", -e.m);
  return out;
}

// Parses one side: terms like 3x, -x, 7, 2(x - 3), joined by + and -.
class LinearParser {
 public:
  explicit LinearParser(absl::string_view text) : text_(text) {}

  std::optional<Linear> ParseAll() {
    std::optional<Linear> value = Side(0);
    Skip();
    if (!value.has_value() || pos_ != text_.size()) return std::nullopt;
    return value;
  }

 private:
  void Skip() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }
  bool Accept(char c) {
    Skip();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  static bool Bounded(const Linear& e) {
    constexpr int64_t kLimit = int64_t{1} << 40;
    return std::llabs(e.k) < kLimit && std::llabs(e.m) < kLimit;
  }

  std::optional<Linear> Side(int depth) {
    if (depth > 8) return std::nullopt;
    Linear total;
    int sign = Accept('-') ? -1 : 1;
    while (true) {
      std::optional<Linear> term = Term(depth);
      if (!term.has_value()) return std::nullopt;
      total.k += sign * term->k;
      total.m += sign * term->m;
      if (!Bounded(total)) return std::nullopt;
      if (Accept('+')) {
        sign = 1;
      } else if (Accept('-')) {
        sign = -1;
      } else {
        return total;
      }
    }
  }

  std::optional<Linear> Term(int depth) {
    Skip();
    int64_t factor = 1;
    bool has_number = false;
    if (pos_ < text_.size() && absl::ascii_isdigit(static_cast<unsigned char>(text_[pos_]))) {
      factor = 0;
      while (pos_ < text_.size() && absl::ascii_isdigit(static_cast<unsigned char>(text_[pos_]))) {
        factor = factor * 10 + (text_[pos_++] - '0');
        if (factor > (int64_t{1} << 40)) return std::nullopt;
      }
      has_number = true;
    }
    if (pos_ < text_.size() && text_[pos_] == 'x') {
      ++pos_;
      return Linear{factor, 0};
    }
    if (Accept('(')) {
      std::optional<Linear> inner = Side(depth + 1);
      if (!inner.has_value() || !Accept(')')) return std::nullopt;
      // Both are below 2^40 here; their product is checked before it is formed.
      constexpr int64_t kLimit = int64_t{1} << 40;
      if (factor != 0 && (std::llabs(inner->k) > kLimit / factor || std::llabs(inner->m) > kLimit / factor)) {
        return std::nullopt;
      }
      return Linear{inner->k * factor, inner->m * factor};
    }
    if (!has_number) return std::nullopt;
    return Linear{0, factor};
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

struct Equation {
  Linear left, right;
  bool has_parentheses = false;
};

std::optional<Equation> ParsePrompt(absl::string_view prompt) {
  if (!absl::ConsumePrefix(&prompt, kPromptPrefix) || !absl::ConsumeSuffix(&prompt, ".")) return std::nullopt;
  const size_t eq = prompt.find('=');
  if (eq == absl::string_view::npos) return std::nullopt;
  std::optional<Linear> left = LinearParser(prompt.substr(0, eq)).ParseAll();
  std::optional<Linear> right = LinearParser(prompt.substr(eq + 1)).ParseAll();
  if (!left.has_value() || !right.has_value()) return std::nullopt;
  return Equation{*left, *right, prompt.find('(') != absl::string_view::npos};
}

}  // namespace

data::PromptRecord LinearEquationTask::Generate(uint64_t seed, uint64_t index) const {
  Rng rng(StreamSeed(seed, index));
  const int64_t max_coef = difficulty_ == 3 || difficulty_ == 5 ? 20 : 9;
  const int64_t max_x = difficulty_ <= 2 ? 10 : difficulty_ <= 4 ? 20 : 50;
  const int64_t x = rng.UniformInt(-max_x, max_x);
  const auto nonzero = [&](int64_t lo, int64_t hi) {
    int64_t v;
    do {
      v = rng.UniformInt(lo, hi);
    } while (v == 0);
    return v;
  };
  std::string left_text, right_text;
  if (difficulty_ == 1) {
    const int64_t a = rng.UniformInt(2, max_coef), b = nonzero(-20, 20);
    left_text = Render({a, b});
    right_text = absl::StrCat(a * x + b);
  } else {
    int64_t a, c;
    do {
      a = rng.UniformInt(1, max_coef);
      c = rng.UniformInt(1, max_coef);
    } while (a == c);
    if (difficulty_ >= 4) {
      a = std::max<int64_t>(a, 2);
      if (a == c) c = a - 1;
      const int64_t b = nonzero(-max_coef, max_coef);
      // a(x + b) = c x + d with d chosen so that x solves it.
      const int64_t d = a * (x + b) - c * x;
      left_text = absl::StrCat(a, "(", Render({1, b}), ")");
      right_text = Render({c, d});
    } else {
      const int64_t b = nonzero(-50, 50);
      const int64_t d = a * x + b - c * x;
      left_text = Render({a, b});
      right_text = Render({c, d});
    }
  }
  data::PromptRecord record;
  record.set_id(absl::StrCat("linear_equation-d", difficulty_, "-s", seed, "-", index));
  record.set_task(std::string(name()));
  record.set_prompt(absl::StrCat(kPromptPrefix, left_text, " = ", right_text, "."));
  record.set_answer(absl::StrCat(x));
  return record;
}

WorkedSolution LinearEquationTask::Solve(const data::PromptRecord& item, double error_rate, Rng& rng) const {
  WorkedSolution solution;
  std::optional<Equation> parsed = ParsePrompt(item.prompt());
  if (!parsed.has_value() || parsed->left.k == parsed->right.k) {
    solution.answer = item.answer();
    return solution;
  }
  Linear left = parsed->left, right = parsed->right;
  std::vector<std::string> lines;
  const bool slip = rng.Bernoulli(error_rate);
  if (parsed->has_parentheses) {
    lines.push_back(absl::StrCat("Expand: ", Render(left), " = ", Render(right), "."));
  }
  // Collect x on the left.
  if (right.k != 0) {
    const int64_t c = right.k;
    left.k -= c;
    right.k = 0;
    lines.push_back(absl::StrCat(c > 0 ? "Subtract " : "Add ", Coefficient(std::llabs(c)),
                                 c > 0 ? " from" : " to", " both sides: ", Render(left), " = ",
                                 Render(right), "."));
  }
  // Constants to the right; a slip here (an off-by-a-little sum) is the error.
  if (left.m != 0) {
    const int64_t b = left.m;
    left.m = 0;
    right.m -= b;
    if (slip) {
      right.m += ArithmeticSlip(rng);
      solution.has_error = true;
    }
    lines.push_back(absl::StrCat(b > 0 ? "Subtract " : "Add ", std::llabs(b),
                                 b > 0 ? " from" : " to", " both sides: ", Render(left), " = ",
                                 Render(right), "."));
  }
  if (left.k != 1) {
    // Exact unless a slip made it inexact; then the answer is a fraction.
    absl::StatusOr<Evaluation> x = EvaluateExpression(absl::StrCat(right.m, " / (", left.k, ")"));
    solution.answer = x.ok() ? ToString(x->value) : "none";
    lines.push_back(absl::StrCat("Divide both sides by ", left.k, ": x = ", solution.answer, "."));
  } else {
    solution.answer = absl::StrCat(right.m);
  }
  solution.reasoning = absl::StrJoin(lines, " ");
  return solution;
}

bool LinearEquationTask::IsCorrect(const data::PromptRecord& item, absl::string_view answer) const {
  return IntegerAnswerMatches(item, answer);
}

}  // namespace r1::tasks
