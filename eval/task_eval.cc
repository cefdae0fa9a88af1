#include "eval/task_eval.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"

#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/chat_template.h"
#include "model/generate.h"

namespace r1::eval {
namespace {

struct Scored {
  bool correct = false;
  bool well_formed = false;
  std::string answer;
  size_t tokens = 0;
  std::string text;
  std::string finish_reason;
};

// Generates `copies` completions of every prompt, in batches.
std::vector<std::vector<Scored>> Sample(model::CausalLmImpl& model, const Tokenizer& tokenizer,
                                        const std::vector<data::PromptRecord>& prompts, const tasks::TaskMix& verifier,
                                        int copies, const model::SamplingParams& sampling, const TaskEvalOptions& options) {
  std::vector<std::vector<Scored>> scored(prompts.size());
  std::vector<std::pair<size_t, std::vector<int>>> jobs;  // (prompt index, ids)
  for (size_t i = 0; i < prompts.size(); ++i) {
    const std::vector<int> ids = EncodePrompt(tokenizer, prompts[i].prompt());
    for (int c = 0; c < copies; ++c) jobs.emplace_back(i, ids);
  }
  uint64_t batch_index = 0;
  for (size_t start = 0; start < jobs.size(); start += static_cast<size_t>(options.batch_size)) {
    const size_t end = std::min(jobs.size(), start + static_cast<size_t>(options.batch_size));
    std::vector<std::vector<int>> batch;
    for (size_t j = start; j < end; ++j) batch.push_back(jobs[j].second);
    model::GenerationParams params;
    params.sampling = sampling;
    params.max_new_tokens = options.max_new_tokens;
    params.seed = options.seed * 1000003u + batch_index++;
    const std::vector<model::Completion> completions = model::Generate(model, tokenizer, batch, params);
    for (size_t j = start; j < end; ++j) {
      const data::PromptRecord& record = prompts[jobs[j].first];
      const model::Completion& completion = completions[j - start];
      const tasks::ParsedCompletion parsed = tasks::ParseCompletion(completion.text);
      const tasks::Task* task = verifier.Find(record.task());
      Scored s;
      s.well_formed = parsed.well_formed;
      s.answer = parsed.answer.value_or("");
      s.correct = task != nullptr && parsed.answer.has_value() && task->IsCorrect(record, *parsed.answer);
      s.tokens = completion.tokens.size();
      s.text = completion.text;
      s.finish_reason = model::FinishReasonName(completion.finish_reason);
      scored[jobs[j].first].push_back(std::move(s));
    }
  }
  return scored;
}

}  // namespace

TaskEvalResult EvaluateOnTasks(model::CausalLmImpl& model, const Tokenizer& tokenizer,
                               const std::vector<data::PromptRecord>& prompts, const tasks::TaskMix& verifier,
                               const TaskEvalOptions& options) {
  TaskEvalResult result;
  result.prompts = static_cast<int>(prompts.size());
  result.samples = options.samples;
  if (prompts.empty()) return result;
  const auto sampled = Sample(model, tokenizer, prompts, verifier, options.samples, options.sampling, options);
  double correct_share = 0, any = 0, majority = 0, formatted = 0, tokens = 0, total = 0;
  for (const auto& samples : sampled) {
    int correct = 0;
    std::map<std::string, std::pair<int, bool>> votes;  // answer -> (count, correct)
    for (const Scored& s : samples) {
      correct += s.correct;
      formatted += s.well_formed;
      tokens += static_cast<double>(s.tokens);
      ++total;
      if (!s.answer.empty()) {
        // Equivalent answers must pool their votes: every correct answer is
        // one answer (countdown has many correct expressions); others vote by
        // their trimmed text.
        auto& vote = votes[s.correct ? std::string("\x01correct") : std::string(absl::StripAsciiWhitespace(s.answer))];
        ++vote.first;
        vote.second = s.correct;
      }
    }
    correct_share += samples.empty() ? 0 : static_cast<double>(correct) / static_cast<double>(samples.size());
    any += correct > 0;
    int best = 0;
    bool best_correct = false;
    for (const auto& [answer, vote] : votes) {
      if (vote.first > best) {
        best = vote.first;
        best_correct = vote.second;
      }
    }
    majority += best_correct;
  }
  for (size_t i = 0; i < prompts.size() && static_cast<int>(i) < options.keep_examples; ++i) {
    if (sampled[i].empty()) continue;
    const Scored& s = sampled[i][0];
    data::SampleRecord& example = result.examples.emplace_back();
    example.set_id(prompts[i].id());
    example.set_prompt(prompts[i].prompt());
    example.set_completion(s.text);
    example.set_answer(prompts[i].answer());
    example.set_task(prompts[i].task());
    example.set_reward(s.correct ? 1.0 : 0.0);
    example.set_reason(s.correct ? "correct" : !s.well_formed ? "bad_format" : "wrong_answer");
    example.set_finish_reason(s.finish_reason);
    example.set_completion_tokens(static_cast<int>(s.tokens));
  }
  const double n = static_cast<double>(prompts.size());
  result.avg_at_k = correct_share / n;
  result.pass_at_k = any / n;
  result.maj_at_k = majority / n;
  result.format_rate = total > 0 ? formatted / total : 0;
  result.mean_completion_tokens = total > 0 ? tokens / total : 0;
  if (options.greedy) {
    model::SamplingParams greedy;
    greedy.temperature = 0;
    const auto greedy_scored = Sample(model, tokenizer, prompts, verifier, 1, greedy, options);
    double right = 0;
    for (const auto& s : greedy_scored) right += s[0].correct;
    result.greedy = right / n;
  }
  return result;
}

absl::StatusOr<tasks::TaskMix> VerifierForPrompts(const std::vector<data::PromptRecord>& prompts,
                                                  const config::DataConfig* data, const std::string& source) {
  std::vector<config::TaskConfig> configs;
  if (data != nullptr && data->tasks_size() > 0) {
    configs.assign(data->tasks().begin(), data->tasks().end());
  } else {
    std::set<std::string> names;
    for (const data::PromptRecord& record : prompts) names.insert(record.task());
    for (const std::string& name : names) {
      absl::StatusOr<config::TaskKind> kind = tasks::ParseTaskKind(name);
      if (!kind.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ": task \"", name, "\" has no in-process verifier (r1 eval checks arithmetic, countdown and ",
            "linear_equation)"));
      }
      config::TaskConfig& config = configs.emplace_back();
      config.set_kind(*kind);
    }
  }
  absl::StatusOr<tasks::TaskMix> mix = tasks::TaskMix::Create(configs);
  if (!mix.ok()) return mix.status();
  for (const data::PromptRecord& record : prompts) {
    if (mix->Find(record.task()) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": prompt ", record.id(), " is of task \"", record.task(),
                                                     "\", which the config's data.tasks do not include"));
    }
  }
  return mix;
}

TaskEvalOptions TaskEvalOptionsFromConfig(const config::EvalConfig& config, int64_t default_max_new_tokens) {
  TaskEvalOptions options;
  options.samples = config.samples();
  options.sampling.temperature = config.sampling().temperature();
  options.sampling.top_p = config.sampling().top_p();
  options.sampling.top_k = config.sampling().top_k();
  options.sampling.min_p = config.sampling().min_p();
  options.max_new_tokens =
      config.sampling().max_new_tokens() > 0 ? config.sampling().max_new_tokens() : default_max_new_tokens;
  return options;
}

std::string TaskEvalJson(const TaskEvalResult& r, const std::string& checkpoint, bool greedy_measured) {
  return absl::StrFormat(
      "{\"checkpoint\": \"%s\", \"prompts\": %d, \"samples\": %d, \"avg_at_k\": %.4f, \"pass_at_k\": %.4f, "
      "\"maj_at_k\": %.4f, \"greedy\": %s, \"format_rate\": %.4f, \"mean_completion_tokens\": %.1f}\n",
      checkpoint, r.prompts, r.samples, r.avg_at_k, r.pass_at_k, r.maj_at_k,
      greedy_measured ? absl::StrFormat("%.4f", r.greedy) : "null", r.format_rate, r.mean_completion_tokens);
}

}  // namespace r1::eval
