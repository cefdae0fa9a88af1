#include "tasks/countdown.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "tasks/expression.h"

namespace r1::tasks {
namespace {

struct Shape {
  int count;
  int64_t max_value;
};

Shape ShapeFor(int difficulty) {
  static constexpr Shape kShapes[] = {{3, 10}, {3, 25}, {4, 25}, {4, 50}, {5, 100}};
  return kShapes[difficulty - 1];
}

constexpr int64_t kMaxTarget = 1000;
constexpr int64_t kMaxIntermediate = 100000;

// A value in the pool with the expression that produced it.
struct Term {
  int64_t value;
  std::string text;
  bool compound;
};

struct Step {
  int64_t a;
  char op;
  int64_t b;
  int64_t result;
};

struct Chain {
  std::vector<Step> steps;
  std::string expression;
  int64_t value = 0;
};

// a op b when it stays a positive integer within bounds.
bool Combine(int64_t a, char op, int64_t b, int64_t& out) {
  switch (op) {
    case '+': out = a + b; break;
    case '-': if (a <= b) return false; out = a - b; break;
    case '*': out = a * b; break;
    case '/': if (b <= 1 || a % b != 0) return false; out = a / b; break;
    default: return false;
  }
  return out > 0 && out <= kMaxIntermediate;
}

Term Join(const Term& a, char op, const Term& b, int64_t value) {
  const auto wrap = [](const Term& t) { return t.compound ? absl::StrCat("(", t.text, ")") : t.text; };
  return Term{value, absl::StrCat(wrap(a), " ", std::string(1, op), " ", wrap(b)), true};
}

std::vector<Term> Leaves(const std::vector<int64_t>& numbers) {
  std::vector<Term> pool;
  for (int64_t n : numbers) pool.push_back(Term{n, absl::StrCat(n), false});
  return pool;
}

// Combines random pairs until one value is left. Fails (returns false) only if
// no valid operation exists for some pool, which retrying usually fixes.
bool RandomChain(std::vector<Term> pool, Rng& rng, Chain& chain) {
  chain.steps.clear();
  while (pool.size() > 1) {
    bool done = false;
    for (int attempt = 0; attempt < 32 && !done; ++attempt) {
      const size_t i = static_cast<size_t>(rng.UniformInt(0, static_cast<int64_t>(pool.size()) - 1));
      size_t j = static_cast<size_t>(rng.UniformInt(0, static_cast<int64_t>(pool.size()) - 2));
      if (j >= i) ++j;
      static constexpr char kOps[] = {'+', '-', '*', '/'};
      const char op = kOps[rng.UniformInt(0, 3)];
      int64_t value;
      if (!Combine(pool[i].value, op, pool[j].value, value)) continue;
      chain.steps.push_back(Step{pool[i].value, op, pool[j].value, value});
      Term joined = Join(pool[i], op, pool[j], value);
      pool.erase(pool.begin() + std::max(i, j));
      pool.erase(pool.begin() + std::min(i, j));
      pool.push_back(std::move(joined));
      done = true;
    }
    if (!done) return false;
  }
  chain.expression = pool[0].text;
  chain.value = pool[0].value;
  return true;
}

// Depth-first search for a chain reaching `target`, trying pairs and
// operators in a random order so solutions vary between samples.
bool Search(std::vector<Term>& pool, int64_t target, Rng& rng, std::vector<Step>& steps,
            std::string& expression) {
  if (pool.size() == 1) {
    if (pool[0].value != target) return false;
    expression = pool[0].text;
    return true;
  }
  std::vector<std::pair<size_t, size_t>> pairs;
  for (size_t i = 0; i < pool.size(); ++i) {
    for (size_t j = 0; j < pool.size(); ++j) {
      if (i != j) pairs.emplace_back(i, j);
    }
  }
  rng.Shuffle(pairs);
  std::vector<char> ops = {'+', '-', '*', '/'};
  for (auto [i, j] : pairs) {
    rng.Shuffle(ops);
    for (char op : ops) {
      // + and * are symmetric: try each unordered pair once.
      if ((op == '+' || op == '*') && i > j) continue;
      int64_t value;
      if (!Combine(pool[i].value, op, pool[j].value, value)) continue;
      std::vector<Term> next;
      for (size_t k = 0; k < pool.size(); ++k) {
        if (k != i && k != j) next.push_back(pool[k]);
      }
      next.push_back(Join(pool[i], op, pool[j], value));
      steps.push_back(Step{pool[i].value, op, pool[j].value, value});
      if (Search(next, target, rng, steps, expression)) return true;
      steps.pop_back();
    }
  }
  return false;
}

std::string DescribeSteps(const std::vector<Step>& steps, int64_t last_result) {
  std::vector<std::string> parts;
  for (size_t k = 0; k < steps.size(); ++k) {
    const Step& s = steps[k];
    const int64_t shown = k + 1 == steps.size() ? last_result : s.result;
    parts.push_back(absl::StrCat(s.a, " ", std::string(1, s.op), " ", s.b, " = ", shown));
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace

data::PromptRecord CountdownTask::Generate(uint64_t seed, uint64_t index) const {
  const Shape shape = ShapeFor(difficulty_);
  Rng rng(StreamSeed(seed, index));
  std::vector<int64_t> numbers;
  Chain chain;
  while (true) {
    numbers.clear();
    for (int i = 0; i < shape.count; ++i) numbers.push_back(rng.UniformInt(1, shape.max_value));
    if (!RandomChain(Leaves(numbers), rng, chain)) continue;
    // A target equal to one of the numbers invites a degenerate answer.
    if (chain.value > kMaxTarget ||
        std::find(numbers.begin(), numbers.end(), chain.value) != numbers.end()) {
      continue;
    }
    break;
  }
  data::PromptRecord record;
  record.set_id(absl::StrCat("countdown-d", difficulty_, "-s", seed, "-", index));
  record.set_task(std::string(name()));
  record.set_prompt(absl::StrCat("Using the numbers ", absl::StrJoin(numbers, ", "), ", make ",
                                 chain.value,
                                 ". Use each number exactly once with + - * / and parentheses."));
  record.set_answer(absl::StrCat(chain.value));
  for (int64_t n : numbers) record.add_numbers(static_cast<int32_t>(n));
  return record;
}

WorkedSolution CountdownTask::Solve(const data::PromptRecord& item, double error_rate, Rng& rng) const {
  WorkedSolution solution;
  const std::optional<int64_t> target = ParseIntegerAnswer(item.answer());
  const std::vector<int64_t> numbers(item.numbers().begin(), item.numbers().end());
  if (!target.has_value() || numbers.empty()) return solution;
  const std::string goal = absl::StrCat(*target);

  std::vector<std::string> attempts;
  // Failed attempts: random chains that miss the target.
  const int64_t failures = rng.UniformInt(0, difficulty_ - 1);
  for (int64_t f = 0, tries = 0; f < failures && tries < 50; ++tries) {
    Chain chain;
    if (!RandomChain(Leaves(numbers), rng, chain) || chain.value == *target) continue;
    attempts.push_back(absl::StrCat("Try ", DescribeSteps(chain.steps, chain.value), ". ",
                                    chain.value, " is not ", goal, "."));
    ++f;
  }

  if (rng.Bernoulli(error_rate)) {
    // A slip: a chain that misses, whose last step is miscalculated as the target.
    for (int tries = 0; tries < 50; ++tries) {
      Chain chain;
      if (!RandomChain(Leaves(numbers), rng, chain) || chain.value == *target) continue;
      attempts.push_back(absl::StrCat("Try ", DescribeSteps(chain.steps, *target), ". That is ", goal, "."));
      solution.reasoning = absl::StrJoin(attempts, " ");
      solution.answer = chain.expression;
      solution.has_error = true;
      return solution;
    }
  }

  std::vector<Term> pool = Leaves(numbers);
  std::vector<Step> steps;
  std::string expression;
  if (!Search(pool, *target, rng, steps, expression)) {
    attempts.push_back(absl::StrCat("No combination reaches ", goal, "."));
    solution.reasoning = absl::StrJoin(attempts, " ");
    solution.answer = "none";
    return solution;
  }
  attempts.push_back(steps.empty() ? absl::StrCat(expression, " is already ", goal, ".")
                                  : absl::StrCat("Try ", DescribeSteps(steps, steps.back().result), ". That is ", goal, "."));
  solution.reasoning = absl::StrJoin(attempts, " ");
  solution.answer = expression;
  return solution;
}

bool CountdownTask::IsCorrect(const data::PromptRecord& item, absl::string_view answer) const {
  const std::optional<int64_t> target = ParseIntegerAnswer(item.answer());
  if (!target.has_value()) return false;
  answer = absl::StripAsciiWhitespace(answer);
  // "expr = target" is accepted when the right side is the target.
  if (const size_t eq = answer.find('='); eq != absl::string_view::npos) {
    const std::optional<int64_t> claimed = ParseIntegerAnswer(answer.substr(eq + 1));
    if (!claimed.has_value() || *claimed != *target) return false;
    answer = answer.substr(0, eq);
  }
  absl::StatusOr<Evaluation> evaluation = EvaluateExpression(answer);
  if (!evaluation.ok()) return false;
  if (!(evaluation->value == Rational{*target, 1})) return false;
  std::vector<int64_t> used = evaluation->literals;
  std::vector<int64_t> given(item.numbers().begin(), item.numbers().end());
  std::sort(used.begin(), used.end());
  std::sort(given.begin(), given.end());
  return used == given;
}

}  // namespace r1::tasks
