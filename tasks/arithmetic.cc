#include "tasks/arithmetic.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace r1::tasks {
namespace {

struct Shape {
  int operands;
  int64_t max_value;
  bool multiply;
};

Shape ShapeFor(int difficulty) {
  static constexpr Shape kShapes[] = {
      {2, 99, false}, {3, 99, false}, {4, 99, false}, {4, 999, true}, {5, 999, true}};
  return kShapes[difficulty - 1];
}

int64_t Apply(int64_t a, char op, int64_t b) {
  switch (op) {
    case '+': return a + b;
    case '-': return a - b;
    default: return a * b;
  }
}

// The problem's expression, e.g. "23 + 45 - 12", is the prompt after "What is ".
constexpr absl::string_view kPromptPrefix = "What is ";

struct Expression {
  std::vector<int64_t> values;
  std::vector<char> ops;  // ops[i] sits between values[i] and values[i + 1]
};

// Reads back the expression from the prompt text (the prompt is the record of
// truth: a JSONL file edited by hand is solved as written).
bool ParsePrompt(absl::string_view prompt, Expression& e) {
  if (!absl::ConsumePrefix(&prompt, kPromptPrefix) || !absl::ConsumeSuffix(&prompt, "?")) return false;
  std::vector<absl::string_view> tokens = absl::StrSplit(prompt, ' ', absl::SkipEmpty());
  if (tokens.empty() || tokens.size() % 2 == 0) return false;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i % 2 == 1) {
      if (tokens[i] != "+" && tokens[i] != "-" && tokens[i] != "*") return false;
      e.ops.push_back(tokens[i][0]);
    } else {
      int64_t v;
      if (!absl::SimpleAtoi(tokens[i], &v)) return false;
      e.values.push_back(v);
    }
  }
  return true;
}

std::string Render(const Expression& e) {
  std::string out = absl::StrCat(e.values[0]);
  for (size_t i = 0; i < e.ops.size(); ++i) absl::StrAppend(&out, " ", std::string(1, e.ops[i]), " ", e.values[i + 1]);
  return out;
}

int64_t Evaluate(Expression e) {
  for (size_t i = 0; i < e.ops.size();) {
    if (e.ops[i] == '*') {
      e.values[i] *= e.values[i + 1];
      e.values.erase(e.values.begin() + i + 1);
      e.ops.erase(e.ops.begin() + i);
    } else {
      ++i;
    }
  }
  int64_t value = e.values[0];
  for (size_t i = 0; i < e.ops.size(); ++i) value = Apply(value, e.ops[i], e.values[i + 1]);
  return value;
}


// Column names for the written-out sums; beyond these, "digit k".
std::string ColumnName(int index) {
  static constexpr absl::string_view kNames[] = {"ones", "tens", "hundreds", "thousands", "ten-thousands",
                                                 "hundred-thousands"};
  return index < 6 ? std::string(kNames[index]) : absl::StrCat("digit ", index + 1);
}

// Decimal digits of x >= 0, least significant first; at least `width` of them.
std::vector<int64_t> Digits(int64_t x, size_t width) {
  std::vector<int64_t> digits;
  do {
    digits.push_back(x % 10);
    x /= 10;
  } while (x > 0);
  while (digits.size() < width) digits.push_back(0);
  return digits;
}

// A slip for one column: a nonzero change that keeps `value` within [lo, hi].
int64_t ColumnSlip(int64_t value, int64_t lo, int64_t hi, Rng& rng) {
  std::vector<int64_t> options;
  for (int64_t d : {-2, -1, 1, 2}) {
    if (value + d >= lo && value + d <= hi) options.push_back(d);
  }
  return options[static_cast<size_t>(rng.UniformInt(0, static_cast<int64_t>(options.size()) - 1))];
}

// x + y by columns, x, y >= 0: "ones 9 + 8 = 17, tens 3 + 4 + 1 = 8". The last
// column's sum is written whole. With `slip_rng`, one column's sum is off.
int64_t AddColumns(int64_t x, int64_t y, std::vector<std::string>& parts, Rng* slip_rng) {
  const size_t width = std::max(Digits(x, 1).size(), Digits(y, 1).size());
  const std::vector<int64_t> xd = Digits(x, width), yd = Digits(y, width);
  const size_t slipped = slip_rng ? static_cast<size_t>(slip_rng->UniformInt(0, static_cast<int64_t>(width) - 1)) : width;
  int64_t carry = 0, value = 0, scale = 1;
  for (size_t i = 0; i < width; ++i) {
    int64_t sum = xd[i] + yd[i] + carry;
    if (i == slipped) sum += ColumnSlip(sum, 0, 19, *slip_rng);
    parts.push_back(i == 0 ? absl::StrCat(ColumnName(0), " ", xd[0], " + ", yd[0], " = ", sum)
                           : absl::StrCat(ColumnName(static_cast<int>(i)), " ", xd[i], " + ", yd[i], " + ", carry,
                                          " = ", sum));
    if (i + 1 == width) {
      value += sum * scale;
    } else {
      value += (sum % 10) * scale;
      carry = sum / 10;
    }
    scale *= 10;
  }
  return value;
}

// x - y by columns, x >= y >= 0, borrowing: "ones 13 - 5 = 8, tens 7 - 3 - 1 = 3"
// (a column that borrows shows its digit plus 10, the next one subtracts the
// borrow). With `slip_rng`, one column's digit is off.
int64_t SubtractColumns(int64_t x, int64_t y, std::vector<std::string>& parts, Rng* slip_rng) {
  const size_t width = Digits(x, 1).size();
  const std::vector<int64_t> xd = Digits(x, width), yd = Digits(y, width);
  const size_t slipped = slip_rng ? static_cast<size_t>(slip_rng->UniformInt(0, static_cast<int64_t>(width) - 1)) : width;
  int64_t borrow = 0, value = 0, scale = 1;
  for (size_t i = 0; i < width; ++i) {
    const int64_t borrow_out = xd[i] < yd[i] + borrow ? 1 : 0;
    const int64_t top = xd[i] + 10 * borrow_out;
    int64_t digit = top - yd[i] - borrow;
    if (i == slipped) digit += ColumnSlip(digit, 0, 9, *slip_rng);
    parts.push_back(i == 0 ? absl::StrCat(ColumnName(0), " ", top, " - ", yd[0], " = ", digit)
                           : absl::StrCat(ColumnName(static_cast<int>(i)), " ", top, " - ", yd[i], " - ", borrow,
                                          " = ", digit));
    value += digit * scale;
    borrow = borrow_out;
    scale *= 10;
  }
  return value;
}

}  // namespace

ColumnStep AddOrSubtractByColumns(int64_t a, char op, int64_t b, Rng* slip_rng) {
  // Reduce to column work on magnitudes, and say how: "35 - 73 = -(73 - 35)".
  const int64_t abs_a = a < 0 ? -a : a;
  std::string head = absl::StrCat(a, " ", std::string(1, op), " ", b);
  bool add = op == '+', negate = false;
  int64_t x = abs_a, y = b;
  if (a >= 0 && op == '-' && a < b) {
    x = b, y = a, negate = true;
    absl::StrAppend(&head, " = -(", x, " - ", y, ")");
  } else if (a < 0 && op == '+') {
    add = false;
    if (b >= abs_a) {
      x = b, y = abs_a;
      absl::StrAppend(&head, " = ", x, " - ", y);
    } else {
      x = abs_a, y = b, negate = true;
      absl::StrAppend(&head, " = -(", x, " - ", y, ")");
    }
  } else if (a < 0 && op == '-') {
    add = true, negate = true;
    absl::StrAppend(&head, " = -(", x, " + ", y, ")");
  }
  std::vector<std::string> parts;
  int64_t value = add ? AddColumns(x, y, parts, slip_rng) : SubtractColumns(x, y, parts, slip_rng);
  if (negate) value = -value;
  return {absl::StrCat(head, ": ", absl::StrJoin(parts, ", "), ", so ", value, "."), value};
}

namespace {
}  // namespace

data::PromptRecord ArithmeticTask::Generate(uint64_t seed, uint64_t index) const {
  const Shape shape = ShapeFor(difficulty_);
  Rng rng(StreamSeed(seed, index));
  Expression e;
  e.values.push_back(rng.UniformInt(1, shape.max_value));
  for (int i = 1; i < shape.operands; ++i) {
    const int64_t pick = rng.UniformInt(0, shape.multiply ? 2 : 1);
    const char op = pick == 0 ? '+' : pick == 1 ? '-' : '*';
    e.ops.push_back(op);
    e.values.push_back(op == '*' ? rng.UniformInt(2, 12) : rng.UniformInt(1, shape.max_value));
  }
  data::PromptRecord record;
  record.set_id(absl::StrCat("arithmetic-d", difficulty_, "-s", seed, "-", index));
  record.set_task(std::string(name()));
  record.set_prompt(absl::StrCat(kPromptPrefix, Render(e), "?"));
  record.set_answer(absl::StrCat(Evaluate(e)));
  return record;
}

WorkedSolution ArithmeticTask::Solve(const data::PromptRecord& item, double error_rate, Rng& rng) const {
  WorkedSolution solution;
  Expression e;
  if (!ParsePrompt(item.prompt(), e)) {
    solution.answer = item.answer();
    return solution;
  }
  const int steps = static_cast<int>(e.ops.size());
  const int wrong_step = rng.Bernoulli(error_rate) ? static_cast<int>(rng.UniformInt(0, steps - 1)) : -1;
  std::vector<std::string> lines;
  int step = 0;
  const auto do_step = [&](int64_t a, char op, int64_t b) {
    const bool slip = step++ == wrong_step;
    solution.has_error |= slip;
    if (op == '*') {
      // Products stay one line: the multiplier is small (2..12).
      const int64_t result = Apply(a, op, b) + (slip ? ArithmeticSlip(rng) : 0);
      lines.push_back(absl::StrCat(a, " * ", b, " = ", result, "."));
      return result;
    }
    const ColumnStep worked = AddOrSubtractByColumns(a, op, b, slip ? &rng : nullptr);
    lines.push_back(worked.text);
    return worked.value;
  };
  // Multiplications first, then left to right.
  for (size_t i = 0; i < e.ops.size();) {
    if (e.ops[i] == '*') {
      e.values[i] = do_step(e.values[i], '*', e.values[i + 1]);
      e.values.erase(e.values.begin() + i + 1);
      e.ops.erase(e.ops.begin() + i);
    } else {
      ++i;
    }
  }
  int64_t value = e.values[0];
  for (size_t i = 0; i < e.ops.size(); ++i) value = do_step(value, e.ops[i], e.values[i + 1]);
  solution.reasoning = absl::StrJoin(lines, " ");
  solution.answer = absl::StrCat(value);
  return solution;
}

bool ArithmeticTask::IsCorrect(const data::PromptRecord& item, absl::string_view answer) const {
  return IntegerAnswerMatches(item, answer);
}

}  // namespace r1::tasks
