// The math rule against an independent corpus of answer-equivalence cases
// (results go to BENCHMARKS.md with this command; run from the repo root):
//   build/bin/math_corpus_bench [--corpus bench/data/math_equivalence_corpus.jsonl]
//                               [--verbose]
// Each corpus line is one JSON object {"gold", "prediction", "equivalent",
// "category", "source"}: the gold is a dataset's answer text, the prediction a
// model completion as the reward service sees it. Every case is scored by a
// Scorer whose mix is the math rule alone, with the config's defaults, on
// task "math": the path r1-reward takes. Printed: accuracy (cases judged as
// labelled / total), every false accept (labelled not equivalent, scored
// correct), false rejects per category (each listed with --verbose), and one
// JSON summary line. A malformed line is an error naming its line number
// (exit 1); so is a corpus without cases. Any false accept exits 3: ctest
// runs this as MathCorpus.NoFalseAccepts (zero false accepts is the math
// rule's first requirement; false rejects are measured, not gated).
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "reward/scorer.h"

namespace r1::reward {
namespace {

struct Case {
  int line = 0;
  std::string gold;
  std::string prediction;
  bool equivalent = false;
  std::string category;
  std::string source;
};

// The string field `name` of `object`, or an error message.
std::string StringField(const nlohmann::json& object, const char* name, std::string* out) {
  auto it = object.find(name);
  if (it == object.end()) return std::string("missing field \"") + name + "\"";
  if (!it->is_string()) return std::string("field \"") + name + "\" is not a string";
  *out = it->get<std::string>();
  return "";
}

// Parses the corpus; false (with `error` naming the line) on the first bad line.
bool ParseCorpus(const std::string& text, std::vector<Case>* cases, std::string* error) {
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == absl::string_view::npos) continue;
    const nlohmann::json object = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
    std::string problem;
    Case c;
    c.line = line_number;
    if (object.is_discarded()) {
      problem = "not valid JSON";
    } else if (!object.is_object()) {
      problem = "not a JSON object";
    } else {
      problem = StringField(object, "gold", &c.gold);
      if (problem.empty()) problem = StringField(object, "prediction", &c.prediction);
      if (problem.empty()) problem = StringField(object, "category", &c.category);
      if (problem.empty()) problem = StringField(object, "source", &c.source);
      if (problem.empty()) {
        auto it = object.find("equivalent");
        if (it == object.end()) {
          problem = "missing field \"equivalent\"";
        } else if (!it->is_boolean()) {
          problem = "field \"equivalent\" is not true or false";
        } else {
          c.equivalent = it->get<bool>();
        }
      }
      if (problem.empty() && c.category.empty()) problem = "empty \"category\"";
    }
    if (!problem.empty()) {
      *error = "line " + std::to_string(line_number) + ": " + problem;
      return false;
    }
    cases->push_back(std::move(c));
  }
  if (cases->empty()) {
    *error = "no cases";
    return false;
  }
  return true;
}

// One line of a listing: the strings as JSON, so newlines and backslashes show.
std::string Shown(const Case& c, const std::string& reason) {
  return "  line " + std::to_string(c.line) + " [" + c.category + "] gold=" + nlohmann::json(c.gold).dump() +
         " prediction=" + nlohmann::json(c.prediction).dump() + " reason=" + reason;
}

struct Tally {
  int total = 0;
  int positives = 0;
  int negatives = 0;
  int false_rejects = 0;
  int false_accepts = 0;
};

int Run(const std::string& corpus_path, bool verbose) {
  absl::StatusOr<std::string> text = ReadFile(corpus_path);
  if (!text.ok()) {
    std::fprintf(stderr, "math_corpus_bench: %s\n", std::string(text.status().message()).c_str());
    return 1;
  }
  std::vector<Case> cases;
  std::string error;
  if (!ParseCorpus(*text, &cases, &error)) {
    std::fprintf(stderr, "math_corpus_bench: %s: %s\n", corpus_path.c_str(), error.c_str());
    return 1;
  }

  // The math rule alone, every option at its config default.
  config::RewardServiceConfig config;
  config.add_rules()->set_rule("math");
  absl::StatusOr<std::unique_ptr<Scorer>> scorer = Scorer::Create(config);
  if (!scorer.ok()) {
    std::fprintf(stderr, "math_corpus_bench: %s\n", std::string(scorer.status().message()).c_str());
    return 1;
  }

  Tally all;
  std::map<std::string, Tally> by_category;
  std::vector<std::string> false_accepts;
  std::map<std::string, std::vector<std::string>> false_rejects;
  for (const Case& c : cases) {
    ScoreItem item;
    item.set_task("math");
    item.set_completion(c.prediction);
    item.set_reference(c.gold);
    const ScoreResult result = (*scorer)->Score(item, absl::InfiniteFuture(), nullptr);
    std::string reason = result.error();
    for (const RuleScore& rule : result.rules()) {
      if (rule.rule() == "math") reason = rule.reason();
    }
    const bool accepted = result.error().empty() && result.correct();
    Tally& category = by_category[c.category];
    for (Tally* t : {&all, &category}) {
      ++t->total;
      ++(c.equivalent ? t->positives : t->negatives);
      if (c.equivalent && !accepted) ++t->false_rejects;
      if (!c.equivalent && accepted) ++t->false_accepts;
    }
    if (c.equivalent && !accepted) false_rejects[c.category].push_back(Shown(c, reason));
    if (!c.equivalent && accepted) false_accepts.push_back(Shown(c, reason));
  }

  const int right = all.total - all.false_rejects - all.false_accepts;
  const double accuracy = static_cast<double>(right) / all.total;
  std::printf("corpus: %s (%d cases: %d equivalent, %d not)\n", corpus_path.c_str(), all.total, all.positives,
              all.negatives);
  std::printf("accuracy: %d/%d = %.1f%%\n", right, all.total, 100.0 * accuracy);
  std::printf("false accepts: %d of %d non-equivalent cases\n", all.false_accepts, all.negatives);
  for (const std::string& line : false_accepts) std::printf("%s\n", line.c_str());
  std::printf("false rejects: %d of %d equivalent cases\n", all.false_rejects, all.positives);
  std::printf("  %-22s %6s %8s %8s %8s\n", "category", "cases", "equiv", "rejects", "accepts");
  nlohmann::ordered_json categories = nlohmann::ordered_json::object();
  for (const auto& [name, t] : by_category) {
    std::printf("  %-22s %6d %8d %8d %8d\n", name.c_str(), t.total, t.positives, t.false_rejects, t.false_accepts);
    categories[name] = {{"cases", t.total},
                        {"equivalent", t.positives},
                        {"false_rejects", t.false_rejects},
                        {"false_accepts", t.false_accepts}};
  }
  if (verbose) {
    for (const auto& [name, lines] : false_rejects) {
      for (const std::string& line : lines) std::printf("%s\n", line.c_str());
    }
  }
  nlohmann::ordered_json summary = {{"corpus", corpus_path},
                                    {"cases", all.total},
                                    {"equivalent", all.positives},
                                    {"not_equivalent", all.negatives},
                                    {"judged_as_labelled", right},
                                    {"accuracy", accuracy},
                                    {"false_accepts", all.false_accepts},
                                    {"false_rejects", all.false_rejects},
                                    {"categories", categories}};
  std::printf("%s\n", summary.dump().c_str());
  return all.false_accepts > 0 ? 3 : 0;
}

}  // namespace
}  // namespace r1::reward

int main(int argc, char** argv) {
  std::string corpus = "bench/data/math_equivalence_corpus.jsonl";
  bool verbose = false;
  r1::FlagSet flags("math_corpus_bench",
                    "The math reward rule against a labelled corpus of answer-equivalence cases.");
  flags.AddString("corpus", &corpus, "JSONL corpus: gold, prediction, equivalent, category, source");
  flags.AddBool("verbose", &verbose, "list every false reject too (false accepts are always listed)");
  if (auto code = r1::ParseCommandLine(flags, std::vector<std::string>(argv + 1, argv + argc))) return *code;
  return r1::reward::Run(corpus, verbose);
}
