#include "eval/task_eval.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "c10/util/Exception.h"
#include "common/chat_template.h"
#include "common/status.h"
#include "eval/accuracy.h"
#include "model/generate.h"

namespace r1::eval {
namespace {

// Times an unscored item that may score on another try is judged again.
constexpr int kJudgeRetries = 2;

struct Sample {
  Judgement judgement;
  tasks::ParsedCompletion parsed;
  model::Completion completion;
};

// `judge` on `items`, judging again the items left unscored for a passing
// reason (reward/scorer.h's error codes other than invalid_item).
absl::StatusOr<std::vector<Judgement>> JudgeWithRetries(const Judge& judge,
                                                       const std::vector<CompletionToJudge>& items) {
  absl::StatusOr<std::vector<Judgement>> judged = judge(items);
  for (int attempt = 1; judged.ok() && attempt <= kJudgeRetries; ++attempt) {
    std::vector<size_t> again;
    for (size_t i = 0; i < judged->size(); ++i) {
      const Judgement& j = (*judged)[i];
      if (j.verdict == Verdict::kUnscored && j.error_code != kInvalidItem) again.push_back(i);
    }
    if (again.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));  // let a busy sandbox pool drain
    std::vector<CompletionToJudge> retry;
    for (size_t i : again) retry.push_back(items[i]);
    absl::StatusOr<std::vector<Judgement>> rejudged = judge(retry);
    if (!rejudged.ok()) return rejudged.status();
    if (rejudged->size() != retry.size()) break;  // reported by the caller's size check
    for (size_t k = 0; k < again.size(); ++k) (*judged)[again[k]] = std::move((*rejudged)[k]);
  }
  if (judged.ok() && judged->size() != items.size()) {
    return absl::InternalError(
        absl::StrCat("the judge returned ", judged->size(), " verdicts for ", items.size(), " completions"));
  }
  return judged;
}

absl::Status NoCorrectnessRule(const std::string& source, const std::string& task, const std::string& judge_name) {
  return absl::FailedPreconditionError(absl::StrCat(
      source, ": task \"", task, "\" has no correctness rule in ", judge_name,
      " (its \"math\", \"countdown\" or \"code\" rule judges an answer); r1 eval refuses it rather than count "
      "every answer wrong"));
}

// Generates `copies` completions of every prompt, in batches, and judges
// each batch as it is done.
absl::StatusOr<std::vector<std::vector<Sample>>> SampleAndJudge(model::CausalLmImpl& model, const Tokenizer& tokenizer,
                                                                const std::vector<data::PromptRecord>& prompts,
                                                                const Judge& judge, int copies,
                                                                const model::SamplingParams& sampling,
                                                                const TaskEvalOptions& options) {
  std::vector<std::vector<Sample>> sampled(prompts.size());
  std::vector<std::pair<size_t, std::vector<int>>> jobs;  // (prompt index, ids)
  for (size_t i = 0; i < prompts.size(); ++i) {
    R1_ASSIGN_OR_RETURN(const std::vector<int> ids, EncodePrompt(tokenizer, prompts[i].prompt()));
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
    std::vector<model::Completion> completions = model::Generate(model, tokenizer, batch, params);
    std::vector<CompletionToJudge> items(completions.size());
    for (size_t j = start; j < end; ++j) {
      const model::Completion& completion = completions[j - start];
      CompletionToJudge& item = items[j - start];
      item.prompt = &prompts[jobs[j].first];
      item.completion = completion.text;
      item.completion_tokens = static_cast<int>(completion.tokens.size());
      item.truncated = completion.finish_reason == model::FinishReason::kLength;
    }
    absl::StatusOr<std::vector<Judgement>> judged = JudgeWithRetries(judge, items);
    if (!judged.ok()) return judged.status();
    for (size_t j = start; j < end; ++j) {
      Sample& sample = sampled[jobs[j].first].emplace_back();
      sample.judgement = std::move((*judged)[j - start]);
      if (sample.judgement.verdict != Verdict::kUnscored && !sample.judgement.has_correctness_rule) {
        return NoCorrectnessRule("eval prompts", prompts[jobs[j].first].task(), "the judge's rules");
      }
      sample.completion = std::move(completions[j - start]);
      sample.parsed = tasks::ParseCompletion(sample.completion.text);
    }
  }
  return sampled;
}

std::vector<std::vector<SampleVerdict>> VerdictsOf(const std::vector<std::vector<Sample>>& sampled) {
  std::vector<std::vector<SampleVerdict>> verdicts(sampled.size());
  for (size_t i = 0; i < sampled.size(); ++i) {
    for (const Sample& s : sampled[i]) verdicts[i].push_back({s.judgement.verdict, s.parsed.answer.value_or("")});
  }
  return verdicts;
}

data::SampleRecord ExampleOf(const data::PromptRecord& prompt, const Sample& s) {
  data::SampleRecord example;
  example.set_id(prompt.id());
  example.set_prompt(prompt.prompt());
  example.set_completion(s.completion.text);
  example.set_answer(prompt.answer());
  example.set_task(prompt.task());
  example.set_reward(s.judgement.reward);
  for (const auto& [rule, score] : s.judgement.rule_scores) (*example.mutable_reward_breakdown())[rule] = score;
  switch (s.judgement.verdict) {
    case Verdict::kCorrect: example.set_reason("correct"); break;
    case Verdict::kWrong: example.set_reason(s.parsed.well_formed ? "wrong_answer" : "bad_format"); break;
    case Verdict::kUnscored: example.set_reason(s.judgement.error_code); break;
  }
  example.set_finish_reason(model::FinishReasonName(s.completion.finish_reason));
  example.set_completion_tokens(static_cast<int>(s.completion.tokens.size()));
  return example;
}

std::vector<data::SampleRecord> ExamplesOf(const std::vector<data::PromptRecord>& prompts,
                                           const std::vector<std::vector<Sample>>& sampled,
                                           const TaskEvalOptions& options) {
  std::vector<data::SampleRecord> examples;
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (options.keep_all_samples) {
      for (const Sample& s : sampled[i]) examples.push_back(ExampleOf(prompts[i], s));
    } else if (static_cast<int>(i) < options.keep_examples && !sampled[i].empty()) {
      examples.push_back(ExampleOf(prompts[i], sampled[i][0]));
    }
  }
  return examples;
}

}  // namespace

absl::Status CheckJudgeKnowsTasks(const std::vector<data::PromptRecord>& prompts, const Judge& judge,
                                  const std::string& source, const std::string& judge_name) {
  std::set<std::string> seen;
  std::vector<CompletionToJudge> probes;
  for (const data::PromptRecord& record : prompts) {
    if (!seen.insert(record.task()).second) continue;
    CompletionToJudge& probe = probes.emplace_back();
    probe.prompt = &record;
  }
  absl::StatusOr<std::vector<Judgement>> judged = JudgeWithRetries(judge, probes);
  if (!judged.ok()) return judged.status();
  for (size_t i = 0; i < probes.size(); ++i) {
    // An unscored probe (e.g. an invalid item) tells nothing about the rules;
    // its samples will be counted as unscored.
    const Judgement& j = (*judged)[i];
    if (j.verdict != Verdict::kUnscored && !j.has_correctness_rule) {
      return NoCorrectnessRule(source, probes[i].prompt->task(), judge_name);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TaskEvalResult> EvaluateOnTasks(model::CausalLmImpl& model, const Tokenizer& tokenizer,
                                               const std::vector<data::PromptRecord>& prompts, const Judge& judge,
                                               const TaskEvalOptions& options) {
  TaskEvalResult result;
  result.prompts = static_cast<int>(prompts.size());
  result.samples = options.samples;
  if (prompts.empty()) return result;
  absl::StatusOr<std::vector<std::vector<Sample>>> sampled =
      SampleAndJudge(model, tokenizer, prompts, judge, options.samples, options.sampling, options);
  if (!sampled.ok()) return sampled.status();
  std::vector<SampleVerdict> greedy_verdicts;
  if (options.greedy) {
    model::SamplingParams greedy;
    greedy.temperature = 0;
    absl::StatusOr<std::vector<std::vector<Sample>>> greedy_sampled =
        SampleAndJudge(model, tokenizer, prompts, judge, 1, greedy, options);
    if (!greedy_sampled.ok()) return greedy_sampled.status();
    for (const std::vector<SampleVerdict>& one : VerdictsOf(*greedy_sampled)) greedy_verdicts.push_back(one.at(0));
  }
  const Accuracy accuracy = AggregateAccuracy(VerdictsOf(*sampled), greedy_verdicts);
  result.avg_at_k = accuracy.avg_at_k;
  result.pass_at_k = accuracy.pass_at_k;
  result.maj_at_k = accuracy.maj_at_k;
  result.greedy = accuracy.greedy;
  result.unscored = accuracy.unscored;
  double formatted = 0, tokens = 0, total = 0;
  for (const std::vector<Sample>& samples : *sampled) {
    for (const Sample& s : samples) {
      formatted += s.parsed.well_formed ? 1 : 0;
      tokens += static_cast<double>(s.completion.tokens.size());
      ++total;
    }
  }
  result.format_rate = total > 0 ? formatted / total : 0;
  result.mean_completion_tokens = total > 0 ? tokens / total : 0;
  result.examples = ExamplesOf(prompts, *sampled, options);
  return result;
}

Judge TaskVerifierJudge(const tasks::TaskMix& verifier) {
  return [&verifier](const std::vector<CompletionToJudge>& items) -> absl::StatusOr<std::vector<Judgement>> {
    std::vector<Judgement> judged;
    for (const CompletionToJudge& item : items) {
      const tasks::Task* task = verifier.Find(item.prompt->task());
      const tasks::ParsedCompletion parsed = tasks::ParseCompletion(item.completion);
      const bool correct = task != nullptr && parsed.answer.has_value() && task->IsCorrect(*item.prompt, *parsed.answer);
      Judgement& j = judged.emplace_back();
      j.verdict = correct ? Verdict::kCorrect : Verdict::kWrong;
      // VerifierForPrompts refuses unknown tasks up front; one that slips
      // through counts wrong, as it always has here.
      j.has_correctness_rule = true;
      j.reward = correct ? 1.0 : 0.0;
    }
    return judged;
  };
}

TaskEvalResult EvaluateOnTasks(model::CausalLmImpl& model, const Tokenizer& tokenizer,
                               const std::vector<data::PromptRecord>& prompts, const tasks::TaskMix& verifier,
                               const TaskEvalOptions& options) {
  absl::StatusOr<TaskEvalResult> result = EvaluateOnTasks(model, tokenizer, prompts, TaskVerifierJudge(verifier), options);
  TORCH_CHECK(result.ok(), "the task verifiers cannot fail: ", result.status().ToString());
  return *std::move(result);
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
            source, ": task \"", name, "\" has no in-process verifier (the embedded verifiers check arithmetic, ",
            "countdown and linear_equation)"));
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
      "\"maj_at_k\": %.4f, \"greedy\": %s, \"format_rate\": %.4f, \"mean_completion_tokens\": %.1f, "
      "\"unscored\": %d}\n",
      checkpoint, r.prompts, r.samples, r.avg_at_k, r.pass_at_k, r.maj_at_k,
      greedy_measured ? absl::StrFormat("%.4f", r.greedy) : "null", r.format_rate, r.mean_completion_tokens,
      r.unscored);
}

}  // namespace r1::eval
