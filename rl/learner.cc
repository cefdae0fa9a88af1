#include "rl/learner.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/chat_template.h"
#include "common/config.h"
#include "common/file_util.h"
#include "common/metrics.h"
#include "common/random.h"
#include "common/status.h"
#include "common/tokenizer.h"
#include "eval/accuracy.h"
#include "eval/verdict.h"
#include "model/checkpoint.h"
#include "model/optimizer.h"
#include "reward/client.h"
#include "rl/distributed.h"
#include "rl/grpo_loss.h"
#include "rl/grpo_step.h"
#include "rl/prompts.h"
#include "rl/rollout_collector.h"
#include "rl/step_stats.h"
#include "rollout/pool.h"
#include "tasks/task.h"
#include "train/training_run.h"

namespace r1::rl {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Eval samples draw from streams of their own, the same at every eval, so
// two evals differ by the policy only (common random numbers).
constexpr uint64_t kEvalStream = 0xE7A1;

std::vector<std::pair<std::string, torch::Tensor>> SnapshotWeights(const model::CausalLmImpl& model) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (auto& [name, tensor] : model::NamedTensors(model)) tensors.emplace_back(name, tensor.detach().to(torch::kCPU).clone());
  return tensors;
}

// The pass@1-over-k eval through the same workers and reward service.
absl::StatusOr<EvalResult> Evaluate(const LearnerOptions& options, RolloutCollector& sampler) {
  EvalResult result;
  if (options.eval_prompts.empty()) return result;
  const config::RlConfig& rl = options.rl;
  const int k = rl.eval_samples();
  std::vector<Group> groups(options.eval_prompts.size());
  for (size_t i = 0; i < groups.size(); ++i) {
    groups[i].prompt_index = static_cast<int64_t>(i);
    groups[i].record = options.eval_prompts[i];
  }
  double unused_a = 0, unused_b = 0;
  R1_RETURN_IF_ERROR(sampler.GenerateAndScore(groups, k, rollout::ToSamplingParams(rl.sampling(), StreamSeed(options.seed, kEvalStream)),
                                              &unused_a, &unused_b));
  result.samples = k;
  // The verdicts and answers, aggregated by eval/accuracy.h as `r1 eval` does.
  std::vector<std::vector<eval::SampleVerdict>> verdicts(groups.size());
  int64_t completions = 0, well_formed = 0, tokens = 0;
  for (size_t i = 0; i < groups.size(); ++i) {
    for (size_t j = 0; j < groups[i].completions.size(); ++j) {
      const tasks::ParsedCompletion parsed = tasks::ParseCompletion(groups[i].completions[j].text());
      well_formed += parsed.well_formed ? 1 : 0;
      tokens += groups[i].completions[j].token_ids_size();
      ++completions;
      verdicts[i].push_back({eval::VerdictOf(groups[i].scores[j]), parsed.answer.value_or("")});
    }
  }
  std::vector<eval::SampleVerdict> greedy;
  if (rl.eval_greedy()) {
    config::SamplingConfig greedy_config = rl.sampling();
    greedy_config.set_temperature(0);
    R1_RETURN_IF_ERROR(sampler.GenerateAndScore(groups, 1, rollout::ToSamplingParams(greedy_config, 0), &unused_a, &unused_b));
    for (const Group& group : groups) {
      greedy.push_back({eval::VerdictOf(group.scores[0]), tasks::ParseCompletion(group.completions[0].text()).answer.value_or("")});
    }
  }
  const eval::Accuracy accuracy = eval::AggregateAccuracy(verdicts, greedy);
  result.prompts = accuracy.prompts;
  result.avg_at_k = accuracy.avg_at_k;
  result.pass_at_k = accuracy.pass_at_k;
  result.maj_at_k = accuracy.maj_at_k;
  if (rl.eval_greedy()) result.greedy = accuracy.greedy;
  result.unscored = accuracy.unscored;
  result.format_rate = static_cast<double>(well_formed) / std::max<int64_t>(1, completions);
  result.mean_length = static_cast<double>(tokens) / std::max<int64_t>(1, completions);
  return result;
}

void AddEvalScalars(const EvalResult& eval, Scalars& scalars) {
  scalars["eval/avg_at_k"] = eval.avg_at_k;
  scalars["eval/pass_at_k"] = eval.pass_at_k;
  scalars["eval/maj_at_k"] = eval.maj_at_k;
  if (eval.greedy >= 0) scalars["eval/greedy"] = eval.greedy;
  scalars["eval/format_rate"] = eval.format_rate;
  scalars["eval/mean_length"] = eval.mean_length;
  scalars["eval/unscored"] = static_cast<double>(eval.unscored);
}

std::string DescribeEval(const EvalResult& eval) {
  return absl::StrFormat("avg@%d %.3f pass@%d %.3f greedy %s format %.3f length %.1f", eval.samples, eval.avg_at_k,
                         eval.samples, eval.pass_at_k, eval.greedy >= 0 ? absl::StrFormat("%.3f", eval.greedy) : "-",
                         eval.format_rate, eval.mean_length) +
         (eval.unscored > 0 ? absl::StrFormat(" (%d samples unscored: reward service faults)", eval.unscored) : "");
}

absl::Status CheckOptions(const LearnerOptions& options) {
  const config::RlConfig& rl = options.rl;
  if (options.prompts == nullptr || options.pool == nullptr || options.reward == nullptr) {
    return absl::InvalidArgumentError("RunGrpo needs prompts, a rollout pool and a reward client");
  }
  if (rl.max_steps() <= 0 && rl.max_seconds() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(options.stage, ": needs rl.max_steps or rl.max_seconds"));
  }
  if (rl.min_base_pass_at_k() > 0 && options.eval_prompts.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(options.stage, ": rl.min_base_pass_at_k needs eval prompts"));
  }
  return absl::OkStatus();
}

// Allowed (a user may want it), but worth a line in every log.
void WarnIfSamplingTruncates(const std::string& stage, const config::SamplingConfig& sampling) {
  if (sampling.top_p() < 1 || sampling.top_k() > 0 || sampling.min_p() > 0) {
    std::fprintf(stderr,
                 "%s: warning: rl.sampling truncates the distribution (top_p %g, top_k %d, min_p %g): samples come "
                 "from the truncated distribution but every logprob (worker's and learner's) is of the full one, so "
                 "the importance ratio and the KL estimate are biased; RL usually samples with top_p 1, top_k 0, "
                 "min_p 0\n",
                 stage.c_str(), sampling.top_p(), sampling.top_k(), sampling.min_p());
  }
}

struct Models {
  model::CausalLm policy;
  model::CausalLm reference;  // empty when the KL term is off
  std::unique_ptr<torch::optim::AdamW> optimizer;
};

absl::StatusOr<Models> LoadModels(const LearnerOptions& options, const Tokenizer& tokenizer) {
  Models models;
  R1_ASSIGN_OR_RETURN(models.policy, model::LoadModel(options.init_checkpoint));
  // Released models pad their embedding past the tokenizer (Qwen2.5:
  // 151665 tokens, vocab_size 151936); r1's own match exactly.
  if (tokenizer.vocab_size() > models.policy->config().vocab_size()) {
    return absl::FailedPreconditionError(absl::StrCat(options.init_checkpoint, ": tokenizer has ", tokenizer.vocab_size(),
                                                      " pieces but the model's vocab_size is ",
                                                      models.policy->config().vocab_size()));
  }
  // No reference model at all when the KL term is off.
  if (options.rl.kl_coef() > 0) {
    R1_ASSIGN_OR_RETURN(models.reference, model::LoadModel(options.init_checkpoint));
    models.reference->eval();
    for (auto& p : models.reference->parameters()) p.set_requires_grad(false);
  }
  models.optimizer = model::MakeAdamW(*models.policy, options.rl.optimizer());
  return models;
}

// Where a run stands besides its step (train::TrainingRun keeps that): what
// a checkpoint carries for the learner alone.
struct RunPosition {
  int64_t cursor = 0;  // this rank's prompt cursor
  // Weight versions: the policy after `step` steps is version
  // version_base + step.
  int64_t version_base = 0;
};

// Continues from the newest checkpoint when options.resume asks and there is
// one: TrainingRun restores the weights, AdamW's state, the RNG and the
// step; the learner checks the checkpoint is this run's and takes back its
// prompt cursor, version base and reference (when it moved away from the
// starting checkpoint).
absl::StatusOr<RunPosition> ResumeIfAsked(const LearnerOptions& options, train::TrainingRun& run, int rank, int world,
                                          Models& models) {
  RunPosition position;
  R1_ASSIGN_OR_RETURN(std::optional<train::ResumePoint> point, run.FindResumePoint());
  if (!point.has_value()) return position;
  const model::TrainingState& state = point->state;
  const std::string& latest = point->dir;
  // Every rank refuses the same mismatches, before any collective call.
  const int saved_world = static_cast<int>(state.ExtraNumber("world_size", 1));
  if (saved_world != world) {
    return absl::FailedPreconditionError(absl::StrCat(
        latest, " was written by ", saved_world, " learner rank(s); resume it with as many (this run has ", world,
        "): each rank's prompt cursor is its own"));
  }
  const auto saved_init = state.extra.find("init_checkpoint");
  if (saved_init != state.extra.end() && saved_init->second != options.init_checkpoint) {
    return absl::FailedPreconditionError(absl::StrCat(
        latest, " continues a run that started from ", saved_init->second, ", not ", options.init_checkpoint,
        ": give --init ", saved_init->second, " (the reference policy and tokenizer come from it)"));
  }
  position.cursor = static_cast<int64_t>(state.ExtraNumber(absl::StrCat("prompt_cursor.rank", rank), -1));
  if (position.cursor < 0) {
    return absl::FailedPreconditionError(absl::StrCat(latest, ": no prompt cursor for rank ", rank,
                                                      " (was it written by a run with another world size?)"));
  }
  R1_RETURN_IF_ERROR(run.RestoreFrom(*point));
  position.version_base = static_cast<int64_t>(state.ExtraNumber("version_base", 0));
  if (models.reference && !state.extra_tensors.empty()) {
    std::map<std::string, torch::Tensor> ref;
    for (auto& [name, tensor] : state.extra_tensors) {
      if (name.rfind("reference.", 0) == 0) ref[name.substr(10)] = tensor;
    }
    if (!ref.empty()) R1_RETURN_IF_ERROR(model::LoadTensors(*models.reference, ref, latest));
  }
  return position;
}

// The version base every rank uses. A restarted learner numbers above what
// the workers already serve (they refuse an older version); rank 0 asks them.
absl::StatusOr<int64_t> AgreeVersionBase(rollout::RolloutPool& pool, const RunPosition& position, int64_t step,
                                         DataParallel& dp) {
  int64_t version_base = position.version_base;
  if (dp.rank() == 0) {
    R1_ASSIGN_OR_RETURN(int64_t serving, pool.MaxWorkerVersion());
    version_base = std::max(version_base, serving + 1 - step);
  }
  std::vector<double> shared = {dp.rank() == 0 ? static_cast<double>(version_base) : 0.0};
  dp.AllReduceSum(shared);
  return static_cast<int64_t>(shared[0]);
}

// Rank 0 pushes the policy to every worker as a new version. Synchronous mode
// waits for the push (and the other ranks) before the next rollouts;
// asynchronous mode pushes in the background: a worker finishing its
// sequences in flight on the old weights (drain) must not hold up training.
// The next push waits for the previous one. The version is published before
// the background push starts, so a batch that starts meanwhile first brings
// its worker up to date.
class WeightPublisher {
 public:
  WeightPublisher(rollout::RolloutPool& pool, DataParallel& dp, std::string stage)
      : pool_(pool), dp_(dp), stage_(std::move(stage)) {}
  ~WeightPublisher() { Wait(); }

  void Push(const model::CausalLmImpl& policy, int64_t version, bool in_background) {
    Wait();
    if (dp_.rank() == 0) {
      std::vector<std::pair<std::string, torch::Tensor>> snapshot = SnapshotWeights(policy);
      if (in_background) pool_.PublishWeights(snapshot, version);
      auto push = [pool = &pool_, tensors = std::move(snapshot), version, stage = stage_]() mutable {
        for (const rollout::PushResult& r : pool->PushWeights(std::move(tensors), version)) {
          if (!r.status.ok()) {
            std::fprintf(stderr, "%s: weight push of version %lld to %s failed: %s (it catches up before its next batch)\n",
                         stage.c_str(), static_cast<long long>(version), r.address.c_str(),
                         std::string(r.status.message()).c_str());
          }
        }
      };
      if (in_background) {
        thread_ = std::thread(std::move(push));
      } else {
        push();
      }
    }
    if (!in_background) dp_.Barrier();  // no rank generates with the old weights
  }

  // Until a push in the background is done.
  void Wait() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  rollout::RolloutPool& pool_;
  DataParallel& dp_;
  const std::string stage_;
  std::thread thread_;
};

RolloutCollectorOptions CollectorOptions(const LearnerOptions& options, const DataParallel& dp) {
  RolloutCollectorOptions collector = RolloutCollectorOptionsFor(options.rl);
  collector.prompts = options.prompts;
  collector.pool = options.pool;
  collector.reward = options.reward;
  collector.seed = options.seed;
  collector.rank = dp.rank();
  collector.world = dp.world_size();
  return collector;
}

// The eval of the newest weights, on rank 0 (the others get an empty result).
absl::StatusOr<EvalResult> EvaluateNewest(const LearnerOptions& options, WeightPublisher& publisher,
                                          RolloutCollector& collector, bool leader, Scalars& scalars) {
  EvalResult eval;
  publisher.Wait();  // the eval is of the newest weights
  if (leader) {
    R1_ASSIGN_OR_RETURN(eval, Evaluate(options, collector));
    if (eval.prompts > 0) AddEvalScalars(eval, scalars);
  }
  return eval;
}

// The quality gate: every rank refuses to start a fresh run from a policy
// rank 0 found below rl.min_base_pass_at_k.
absl::Status CheckBaseQuality(const LearnerOptions& options, const EvalResult& first_eval, int64_t step,
                              DataParallel& dp) {
  const config::RlConfig& rl = options.rl;
  const bool leader = dp.rank() == 0;
  std::vector<double> gate = {
      leader && step == 0 && rl.min_base_pass_at_k() > 0 && first_eval.pass_at_k < rl.min_base_pass_at_k() ? 1.0
                                                                                                         : 0.0};
  dp.AllReduceSum(gate);
  if (gate[0] > 0 && !leader) {
    return absl::FailedPreconditionError(absl::StrCat(options.stage, ": rank 0 found the starting policy below "
                                                      "rl.min_base_pass_at_k (its log says by how much)"));
  }
  if (gate[0] > 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: the starting policy %s has pass@%d %.3f on the eval set, below rl.min_base_pass_at_k %.3f: "
        "RL needs a base whose samples already contain correct answers (train the base longer)",
        options.stage, options.init_checkpoint, first_eval.samples, first_eval.pass_at_k, rl.min_base_pass_at_k()));
  }
  return absl::OkStatus();
}

// The run's skeleton: budgets and schedule from the rl section; rank 0's
// clock decides for every rank (so ranks agree on when to stop and on the
// learning rate); a checkpoint carries, besides the weights, AdamW and the
// RNG, every rank's prompt cursor (gathered from all ranks), the version
// base, the world size, the starting checkpoint and a reference that moved.
train::TrainingRunOptions TrainingRunOptionsFor(const LearnerOptions& options, const Tokenizer& tokenizer,
                                                DataParallel& dp, const RunPosition& position, const Models& models) {
  const config::RlConfig& rl = options.rl;
  train::TrainingRunOptions run;
  run.stage = options.stage;
  run.stage_dir = options.stage_dir;
  run.tokenizer = tokenizer;
  run.max_steps = rl.max_steps();
  run.max_seconds = rl.max_seconds();
  run.optimizer = rl.optimizer();
  run.checkpoint = rl.checkpoint();
  run.resume = options.resume;
  run.leader = dp.rank() == 0;
  run.global_rng = true;  // the learner's sampling draws from it
  run.shared_clock = [&dp](double own) {
    std::vector<double> clock = {dp.rank() == 0 ? own : 0.0};
    dp.AllReduceSum(clock);
    return clock[0];
  };
  run.fill_state = [&options, &dp, &position, &models](model::TrainingState& state) {
    const int world = dp.world_size();
    std::vector<double> cursors(static_cast<size_t>(world), 0.0);
    cursors[static_cast<size_t>(dp.rank())] = static_cast<double>(position.cursor);
    dp.AllReduceSum(cursors);
    state.data_cursor = position.cursor;
    for (int r = 0; r < world; ++r) {
      state.extra[absl::StrCat("prompt_cursor.rank", r)] =
          absl::StrCat(static_cast<int64_t>(cursors[static_cast<size_t>(r)]));
    }
    state.extra["version_base"] = absl::StrCat(position.version_base);
    state.extra["world_size"] = absl::StrCat(world);
    state.extra["init_checkpoint"] = options.init_checkpoint;
    if (models.reference && options.rl.ref_reset_every() > 0) {
      // The reference has moved away from the starting checkpoint.
      for (auto& [name, tensor] : model::NamedTensors(*models.reference)) {
        state.extra_tensors["reference." + name] = tensor;
      }
    }
  };
  return run;
}

struct Staleness {
  int64_t dropped = 0;  // completions
  double sum = 0;       // versions behind, over the completions kept
  double max = 0;
};

// Drops the groups with a completion more than `max_staleness` versions
// older than `version`.
Staleness DropStaleGroups(RolloutBatch& batch, int64_t version, int max_staleness) {
  Staleness staleness;
  std::vector<Group> fresh;
  for (Group& group : batch.groups) {
    int64_t oldest = version;
    for (const rollout::Completion& c : group.completions) oldest = std::min(oldest, c.weight_version());
    if (version - oldest > max_staleness) {
      staleness.dropped += static_cast<int64_t>(group.completions.size());
      continue;
    }
    for (const rollout::Completion& c : group.completions) {
      staleness.sum += static_cast<double>(version - c.weight_version());
      staleness.max = std::max(staleness.max, static_cast<double>(version - c.weight_version()));
    }
    fresh.push_back(std::move(group));
  }
  batch.groups = std::move(fresh);
  return staleness;
}

// The batch's completions in training form, with their group advantages.
std::vector<Sequence> MakeSequences(const RolloutBatch& batch, const config::RlConfig& rl) {
  std::vector<Sequence> sequences;
  std::vector<float> rewards;
  for (const Group& group : batch.groups) {
    for (size_t j = 0; j < group.completions.size(); ++j) {
      const rollout::Completion& c = group.completions[j];
      Sequence& s = sequences.emplace_back();
      s.tokens.assign(group.prompt_tokens.begin(), group.prompt_tokens.end());
      s.completion_start = static_cast<int64_t>(s.tokens.size());
      s.tokens.insert(s.tokens.end(), c.token_ids().begin(), c.token_ids().end());
      s.old_logprobs.assign(c.logprobs().begin(), c.logprobs().end());
      s.in_loss = !(rl.mask_truncated() && c.finish_reason() == rollout::LENGTH) && c.token_ids_size() > 0;
      rewards.push_back(static_cast<float>(group.scores[j].total()));
    }
  }
  if (!sequences.empty()) {
    const torch::Tensor advantages = GroupAdvantages(torch::tensor(rewards), rl.group_size(), rl.advantage_norm());  // [N]
    for (size_t i = 0; i < sequences.size(); ++i) sequences[i].advantage = advantages[static_cast<int64_t>(i)].item<float>();
  }
  return sequences;
}

// The batch's side of the step's stats (this rank's).
void RecordBatch(const RolloutBatch& batch, const Staleness& staleness, StepStats& stats) {
  for (const Group& group : batch.groups) {
    for (size_t j = 0; j < group.completions.size(); ++j) {
      const rollout::Completion& c = group.completions[j];
      const reward::ScoreResult& score = group.scores[j];
      stats.completions += 1;
      stats.reward_sum += static_cast<float>(score.total());  // as trained on
      stats.correct += score.correct() ? 1 : 0;
      stats.well_formed += tasks::ParseCompletion(c.text()).well_formed ? 1 : 0;
      stats.truncated += c.finish_reason() == rollout::LENGTH ? 1 : 0;
      stats.length_sum += c.token_ids_size();
      stats.length_max = std::max<double>(stats.length_max, c.token_ids_size());
      for (const reward::RuleScore& rule : score.rules()) {
        StepStats::RuleSum& sum = stats.rules[rule.rule()];
        sum.score_sum += rule.score();
        sum.items += 1;
      }
    }
  }
  stats.groups = static_cast<double>(batch.groups.size());
  stats.staleness_sum = staleness.sum;
  stats.staleness_max = staleness.max;
  stats.stale_dropped = static_cast<double>(staleness.dropped);
  stats.sampled = static_cast<double>(batch.sampled);
  stats.sampled_correct = static_cast<double>(batch.sampled_correct);
  stats.generated_tokens = static_cast<double>(batch.generated_tokens);
  stats.uniform_groups_dropped = static_cast<double>(batch.uniform_groups);
  stats.reward_errors = static_cast<double>(batch.reward_errors);
  stats.reward_error_groups = static_cast<double>(batch.error_groups);
  stats.draws = batch.draws;
  stats.rollout_seconds = batch.rollout_seconds;
  stats.reward_seconds = batch.reward_seconds;
}

// Copies the policy into the reference (rl.ref_reset_every).
absl::Status ResetReference(model::CausalLmImpl& policy, model::CausalLmImpl& reference) {
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> weights;
  for (auto& [name, tensor] : model::NamedTensors(policy)) weights[name] = tensor;
  return model::LoadTensors(reference, weights, "the policy");
}

// Counters over this process's steps (a resumed run starts them at 0).
struct RunTotals {
  int64_t stale_dropped = 0;
  int64_t skipped = 0;        // optimizer steps skipped for a non-finite loss or gradient
  int64_t empty_batches = 0;  // steps with no group to train on

  void Count(const StepStats& reduced) {
    stale_dropped += static_cast<int64_t>(reduced.stale_dropped);
    skipped += static_cast<int64_t>(reduced.rounds_skipped);
    // Every group dropped: nothing was trained (no gradient, so AdamW and the
    // bias update left the weights alone).
    if (reduced.completions <= 0) ++empty_batches;
  }
  void AddTo(Scalars& scalars) const {
    scalars.insert({{"empty_batches_total", static_cast<double>(empty_batches)},
                    {"stale_completions_dropped_total", static_cast<double>(stale_dropped)},
                    {"skipped_nonfinite_steps_total", static_cast<double>(skipped)}});
  }
};

std::string ProgressDetail(const Scalars& scalars) {
  const auto get = [&](const char* name) {
    const auto it = scalars.find(name);
    return it == scalars.end() ? 0.0 : it->second;
  };
  return absl::StrFormat("reward %.3f acc %.3f fmt %.2f len %.0f kl %.4f ent %.3f%s", get("reward_mean"),
                         get("accuracy"), get("format_rate"), get("response_length_mean"), get("kl"), get("entropy"),
                         scalars.count("eval/avg_at_k") ? absl::StrFormat(" eval avg@k %.3f", get("eval/avg_at_k"))
                                                        : "");
}

}  // namespace

absl::StatusOr<LearnerResult> RunGrpo(const LearnerOptions& options) {
  const config::RlConfig& rl = options.rl;
  R1_RETURN_IF_ERROR(CheckOptions(options));
  std::unique_ptr<DataParallel> single;
  DataParallel* dp = options.data_parallel;
  if (dp == nullptr) {
    R1_ASSIGN_OR_RETURN(single, DataParallel::Connect(DistributedEnv{}));
    dp = single.get();
  }
  const bool leader = dp->rank() == 0;
  if (leader) WarnIfSamplingTruncates(options.stage, rl.sampling());

  // The policy, the reference, AdamW, and where a resumed run stands.
  R1_ASSIGN_OR_RETURN(Tokenizer tokenizer, Tokenizer::Load(options.init_checkpoint, options.chat_template));
  if (leader) std::fprintf(stderr, "%s: chat template %s\n", options.stage.c_str(), DescribeChatTemplate(tokenizer).c_str());
  R1_ASSIGN_OR_RETURN(Models models, LoadModels(options, tokenizer));
  RunPosition position;
  train::TrainingRun run(*models.policy, *models.optimizer,
                         TrainingRunOptionsFor(options, tokenizer, *dp, position, models));
  R1_ASSIGN_OR_RETURN(position, ResumeIfAsked(options, run, dp->rank(), dp->world_size(), models));
  dp->BroadcastWeights(*models.policy);  // one starting point on every rank
  R1_RETURN_IF_ERROR(run.Begin());
  R1_ASSIGN_OR_RETURN(position.version_base, AgreeVersionBase(*options.pool, position, run.step(), *dp));
  WeightPublisher publisher(*options.pool, *dp, options.stage);
  publisher.Push(*models.policy, position.version_base + run.step(), /*in_background=*/false);

  RolloutCollector collector(CollectorOptions(options, *dp), tokenizer);

  // The quality gate and the starting point of the curve.
  LearnerResult result;
  {
    Scalars scalars;
    R1_ASSIGN_OR_RETURN(result.first_eval, EvaluateNewest(options, publisher, collector, leader, scalars));
    if (leader && result.first_eval.prompts > 0) {
      std::fprintf(stderr, "%s: eval at step %lld: %s\n", options.stage.c_str(), static_cast<long long>(run.step()),
                   DescribeEval(result.first_eval).c_str());
      R1_RETURN_IF_ERROR(run.WriteMetrics(scalars));
    }
    R1_RETURN_IF_ERROR(CheckBaseQuality(options, result.first_eval, run.step(), *dp));
    result.last_eval = result.first_eval;
  }

  std::unique_ptr<RolloutProducer> producer;
  if (rl.max_staleness() > 0) producer = std::make_unique<RolloutProducer>(collector, position.cursor, rl.max_staleness());
  GrpoUpdateOptions update_options = GrpoUpdateOptionsFor(rl);
  update_options.pad_id = tokenizer.pad_id();
  model::CausalLmImpl* reference = models.reference ? models.reference.get() : nullptr;
  const int64_t first_step = run.step();
  RunTotals totals;
  while (!run.BudgetSpent()) {
    update_options.lr = run.LearningRate();
    update_options.log_prefix = absl::StrCat(options.stage, ": step ", run.step() + 1);

    // 1. Rollouts and rewards.
    const Clock::time_point wait_start = Clock::now();
    absl::StatusOr<RolloutBatch> collected = producer ? producer->Next() : collector.Collect(position.cursor);
    if (!collected.ok()) return collected.status();
    RolloutBatch batch = std::move(*collected);
    const double wait_seconds = SecondsSince(wait_start);
    position.cursor = batch.cursor_after;

    // 2. Staleness: drop groups with a completion older than the bound.
    const Staleness staleness = DropStaleGroups(batch, position.version_base + run.step(), rl.max_staleness());

    // 3. Sequences, rewards and advantages.
    std::vector<Sequence> sequences = MakeSequences(batch, rl);

    // 4. The policy update, then the reference's reset when it is due.
    const Clock::time_point train_start = Clock::now();
    StepStats stats = GrpoUpdate(*models.policy, reference, *models.optimizer, sequences, update_options, dp);
    stats.train_seconds = SecondsSince(train_start);
    run.CompleteStep();
    const int64_t step = run.step();
    if (reference && rl.ref_reset_every() > 0 && step % rl.ref_reset_every() == 0) {
      R1_RETURN_IF_ERROR(ResetReference(*models.policy, *reference));
    }

    // 5. The new weights to every worker, once every rank's producer is
    // idle (see WaitUntilIdle).
    double idle_wait_seconds = 0;  // counted as waiting for rollouts
    if (producer) {
      const Clock::time_point idle_start = Clock::now();
      producer->WaitUntilIdle();
      dp->Barrier();
      idle_wait_seconds = SecondsSince(idle_start);
    }
    const Clock::time_point sync_start = Clock::now();
    publisher.Push(*models.policy, position.version_base + step, /*in_background=*/producer != nullptr);
    stats.sync_seconds = SecondsSince(sync_start);
    stats.wait_seconds = wait_seconds + idle_wait_seconds;
    const double divergence = options.check_weight_sync ? dp->MaxWeightDivergence(*models.policy) : 0.0;

    // 6. Metrics over all ranks; rank 0 writes them and the progress line,
    // and every checkpoint.every_steps steps the run saves.
    RecordBatch(batch, staleness, stats);
    stats.AllReduce(*dp);
    totals.Count(stats);
    if (stats.completions <= 0 && leader) {
      std::fprintf(stderr, "%s: step %lld had no group to train on\n", options.stage.c_str(),
                   static_cast<long long>(step));
    }
    Scalars scalars = stats.ToScalars();
    totals.AddTo(scalars);
    if (options.check_weight_sync) scalars["weight_divergence"] = divergence;
    scalars["lr"] = update_options.lr;
    scalars["weight_version"] = static_cast<double>(position.version_base + step);
    scalars["elapsed_seconds"] = run.elapsed();
    if (rl.eval_every() > 0 && step % rl.eval_every() == 0) {
      R1_ASSIGN_OR_RETURN(result.last_eval, EvaluateNewest(options, publisher, collector, leader, scalars));
    }
    R1_RETURN_IF_ERROR(run.Log(scalars, ProgressDetail(scalars)));
  }
  producer.reset();  // stop generating before the final eval and save
  publisher.Wait();
  run.FinishProgress();
  if (run.step() != first_step && (rl.eval_every() == 0 || run.step() % rl.eval_every() != 0)) {
    Scalars scalars;
    R1_ASSIGN_OR_RETURN(EvalResult eval, EvaluateNewest(options, publisher, collector, leader, scalars));
    if (leader && eval.prompts > 0) {
      result.last_eval = eval;
      R1_RETURN_IF_ERROR(run.WriteMetrics(scalars));
    }
  }
  if (leader && result.last_eval.prompts > 0) {
    std::fprintf(stderr, "%s: eval at step %lld: %s\n", options.stage.c_str(), static_cast<long long>(run.step()),
                 DescribeEval(result.last_eval).c_str());
  }
  R1_ASSIGN_OR_RETURN(result.checkpoint, run.Finish());
  result.steps = run.step();
  result.seconds = run.elapsed();
  return result;
}

}  // namespace r1::rl
