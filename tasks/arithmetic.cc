#include "tasks/arithmetic.h"

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
    int64_t result = Apply(a, op, b);
    if (step++ == wrong_step) {
      result += ArithmeticSlip(rng);
      solution.has_error = true;
    }
    lines.push_back(absl::StrCat(a, " ", std::string(1, op), " ", b, " = ", result, "."));
    return result;
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
