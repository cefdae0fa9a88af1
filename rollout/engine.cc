#include "rollout/engine.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <exception>
#include <limits>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/checkpoint.h"
#include "model/sampler.h"

namespace r1::rollout {

// A job in flight, with the prompt prefills its samples share.
struct Engine::Group {
  std::shared_ptr<GenerationJob> job;
  int unreported = 0;  // samples not yet reported
  bool failed = false;  // on_error has run
  struct Prefill {
    model::KvCache cache;  // [1, P]
    torch::Tensor logits;  // [1, V] at the prompt's last token
    torch::Tensor hidden;  // [1, 1, D] at the prompt's last token (speculation)
    int64_t version = -1;
    int waiting = 0;       // samples of this prompt not yet in a slot
  };
  std::map<int, Prefill> prefills;
};

namespace {

// Stop strings are matched against the whole text after every token: bound
// how much matching one request can ask for.
constexpr size_t kMaxStopStrings = 64;
constexpr size_t kMaxStopBytes = 1024;

// INTERNAL with the exception's message (LibTorch's without its backtrace).
absl::Status EngineError(const std::exception& e) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
  return absl::InternalError(
      absl::StrCat("the rollout engine failed: ", torch_error != nullptr ? torch_error->what_without_backtrace() : e.what()));
}

}  // namespace

absl::Status CheckGenerationParams(const model::GenerationParams& params, int64_t max_new_tokens) {
  const model::SamplingParams& s = params.sampling;
  if (!std::isfinite(s.temperature) || s.temperature < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("sampling.temperature must be a finite number >= 0 (0 = greedy), got ", s.temperature));
  }
  if (s.temperature != 0 && s.temperature < kMinTemperature) {
    return absl::InvalidArgumentError(absl::StrCat("sampling.temperature ", s.temperature, " is below ",
                                                   kMinTemperature, "; use 0 for greedy decoding"));
  }
  if (!std::isfinite(s.top_p) || s.top_p <= 0 || s.top_p > 1) {
    return absl::InvalidArgumentError(absl::StrCat("sampling.top_p must be in (0, 1], got ", s.top_p));
  }
  if (!std::isfinite(s.min_p) || s.min_p < 0 || s.min_p >= 1) {
    return absl::InvalidArgumentError(absl::StrCat("sampling.min_p must be in [0, 1), got ", s.min_p));
  }
  if (s.top_k < 0) return absl::InvalidArgumentError(absl::StrCat("sampling.top_k must be >= 0, got ", s.top_k));
  if (params.max_new_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("sampling.max_new_tokens must be > 0, got ", params.max_new_tokens));
  }
  if (params.max_new_tokens > max_new_tokens) {
    return absl::InvalidArgumentError(absl::StrCat("sampling.max_new_tokens is ", params.max_new_tokens,
                                                   "; this worker generates at most ", max_new_tokens,
                                                   " tokens per sample"));
  }
  if (params.stop.size() > kMaxStopStrings) {
    return absl::InvalidArgumentError(
        absl::StrCat("sampling.stop has ", params.stop.size(), " strings; at most ", kMaxStopStrings));
  }
  for (const std::string& stop : params.stop) {
    if (stop.size() > kMaxStopBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("a sampling.stop string has ", stop.size(), " bytes; at most ", kMaxStopBytes));
    }
  }
  return absl::OkStatus();
}

Engine::Engine(model::CausalLm model, const Tokenizer& tokenizer, const EngineOptions& options,
               int64_t weight_version)
    : model_(std::move(model)),
      tokenizer_(tokenizer),
      options_(options),
      max_seq_len_(model_->config().max_seq_len()),
      speculative_(options.speculative && model_->CanDraft()),
      version_(weight_version) {
  // Twice the context: room to append joining prompts before compacting.
  cache_ = model_->NewCache(options_.kv_slots, 2 * max_seq_len_, speculative_);
  slots_.resize(static_cast<size_t>(options_.kv_slots));
  stats_.weight_version = weight_version;
  thread_ = std::thread([this] { Loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
  // Whatever is left is reported cancelled, so no caller waits forever.
  while (n_active_ > 0) FinishSlot(n_active_ - 1, /*cancelled=*/true);
  std::deque<Pending> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(queue_);
  }
  for (const Pending& p : left) ReportCancelled(p);
}

absl::Status Engine::Submit(std::shared_ptr<GenerationJob> job) {
  if (job->prompts.empty()) return absl::InvalidArgumentError("no prompts");
  if (!job->stream_index.empty() && job->stream_index.size() != job->prompts.size()) {
    return absl::InvalidArgumentError("stream_index must be empty or one per prompt");
  }
  if (job->samples_per_prompt < 1) {
    return absl::InvalidArgumentError(absl::StrCat("samples_per_prompt must be >= 1, got ", job->samples_per_prompt));
  }
  const int64_t max_new_tokens =
      options_.max_new_tokens > 0 ? std::min(options_.max_new_tokens, max_seq_len_) : max_seq_len_;
  if (absl::Status s = CheckGenerationParams(job->params, max_new_tokens); !s.ok()) return s;
  for (size_t i = 0; i < job->prompts.size(); ++i) {
    const auto& prompt = job->prompts[i];
    if (prompt.empty()) return absl::InvalidArgumentError(absl::StrCat("prompt ", i, " is empty"));
    if (static_cast<int64_t>(prompt.size()) >= max_seq_len_) {
      return absl::InvalidArgumentError(absl::StrCat("prompt ", i, " has ", prompt.size(),
                                                     " tokens; the model's context is ", max_seq_len_));
    }
    for (int id : prompt) {
      if (id < 0 || id >= model_->config().vocab_size()) {
        return absl::InvalidArgumentError(absl::StrCat("prompt ", i, " has token id ", id, " outside the vocabulary [0, ",
                                                       model_->config().vocab_size(), ")"));
      }
    }
  }
  auto group = std::make_shared<Group>();
  group->job = std::move(job);
  const int n = group->job->samples_per_prompt;
  const int64_t total = static_cast<int64_t>(group->job->prompts.size()) * n;
  group->unreported = static_cast<int>(total);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (static_cast<int64_t>(queue_.size()) + total > options_.max_queued_samples) {
      return absl::ResourceExhaustedError(absl::StrCat("the worker's queue holds ", queue_.size(), " of at most ",
                                                       options_.max_queued_samples, " samples; this request adds ",
                                                       total));
    }
    for (int p = 0; p < static_cast<int>(group->job->prompts.size()); ++p) {
      group->prefills[p].waiting = n;
      for (int k = 0; k < n; ++k) queue_.push_back({group, p, k});
    }
    stats_.queued = static_cast<int>(queue_.size());
  }
  work_cv_.notify_all();
  return absl::OkStatus();
}

absl::Status Engine::UpdateWeights(std::map<std::string, torch::Tensor> tensors, int64_t version, bool adopt) {
  auto update = std::make_shared<Update>();
  update->tensors = std::move(tensors);
  update->version = version;
  update->adopt = adopt;
  std::unique_lock<std::mutex> lock(mu_);
  // One update at a time; a second caller waits for the first.
  done_cv_.wait(lock, [&] { return update_ == nullptr || stop_; });
  if (stop_) return absl::UnavailableError("the worker is shutting down");
  if (absl::Status s = CheckNextVersionLocked(version); !s.ok()) return s;
  update_ = update;
  work_cv_.notify_all();
  done_cv_.wait(lock, [&] { return update->done || stop_; });
  if (!update->done) return absl::UnavailableError("the worker shut down before the update");
  return update->result;
}

absl::Status Engine::CheckNextVersion(int64_t version) const {
  std::lock_guard<std::mutex> lock(mu_);
  return CheckNextVersionLocked(version);
}

absl::Status Engine::CheckNextVersionLocked(int64_t version) const {
  if (version <= version_) {
    return absl::FailedPreconditionError(
        absl::StrCat("weight version ", version, " is not newer than the version serving (", version_, ")"));
  }
  // version > version_ here, so the difference is positive; in unsigned
  // arithmetic it cannot overflow.
  const uint64_t step = static_cast<uint64_t>(version) - static_cast<uint64_t>(version_);
  if (step > static_cast<uint64_t>(options_.max_version_step)) {
    return absl::InvalidArgumentError(absl::StrCat("weight version ", version, " jumps ", step,
                                                   " past the version serving (", version_, "); at most ",
                                                   options_.max_version_step, " (--max_version_step)"));
  }
  return absl::OkStatus();
}

absl::Status Engine::RunExclusive(const std::function<void(model::CausalLmImpl&, int64_t)>& work) {
  auto exclusive = std::make_shared<Exclusive>();
  exclusive->work = work;
  std::unique_lock<std::mutex> lock(mu_);
  if (stop_) return absl::UnavailableError("the worker is shutting down");
  exclusive_.push_back(exclusive);
  work_cv_.notify_all();
  done_cv_.wait(lock, [&] { return exclusive->ran || stop_; });
  if (!exclusive->ran) return absl::UnavailableError("the worker shut down before the work ran");
  return exclusive->result;
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

int64_t Engine::weight_version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_.weight_version;
}

int64_t Engine::ActiveCount() const { return n_active_; }

model::ForwardOptions Engine::DecodeOptions() const {
  model::ForwardOptions options;
  options.absorbed_attention = options_.absorbed_attention;
  return options;
}

void Engine::Loop() {
  // Named so that top -H, gdb and perf tell the decode thread apart.
  pthread_setname_np(pthread_self(), "r1-engine");
  // Nothing the engine computes is trained on: no autograd bookkeeping
  // (version counters, view records) on the tensors it makes.
  c10::InferenceMode inference;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] {
        return stop_ || !queue_.empty() || update_ != nullptr || !exclusive_.empty() || ActiveCount() > 0;
      });
      if (stop_) return;
    }
    ApplyPendingWork();
    try {
      Admit();
      if (ActiveCount() > 0) speculative_ ? SpeculativeStep() : Step();
    } catch (const std::exception& e) {
      // A LibTorch error (bad weights, out of memory, ...) fails the jobs in
      // flight, not the worker.
      FailInFlight(EngineError(e));
    }
    std::lock_guard<std::mutex> lock(mu_);
    stats_.active = static_cast<int>(ActiveCount());
    stats_.queued = static_cast<int>(queue_.size());
  }
}

bool Engine::ApplyPendingWork() {
  std::shared_ptr<Update> update;
  std::deque<std::shared_ptr<Exclusive>> exclusive;
  {
    std::lock_guard<std::mutex> lock(mu_);
    exclusive.swap(exclusive_);
    update = update_;
  }
  for (const std::shared_ptr<Exclusive>& e : exclusive) {
    absl::Status result;
    try {
      e->work(*model_, version_);
    } catch (const std::exception& error) {
      result = EngineError(error);
    }
    std::lock_guard<std::mutex> lock(mu_);
    e->result = std::move(result);
    e->ran = true;
  }
  if (!exclusive.empty()) done_cv_.notify_all();
  if (update == nullptr) return !exclusive.empty();
  // Drain policy: the swap waits until the sequences in flight have ended.
  if (!options_.restart_on_update && ActiveCount() > 0) return !exclusive.empty();

  absl::Status loaded;
  try {
    const std::string source = absl::StrCat("weight update ", update->version);
    loaded = update->adopt ? model::AdoptTensors(*model_, update->tensors, source)
                           : model::LoadTensors(*model_, update->tensors, source);
    update->tensors.clear();  // adopted storage now belongs to the model alone
  } catch (const std::exception& e) {
    loaded = EngineError(e);
  }
  if (loaded.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      version_ = update->version;
    }
    if (options_.restart_on_update) {
      // Sequences in flight start over from their prompts under the new weights.
      std::vector<Pending> restart;
      for (int i = 0; i < n_active_; ++i) {
        Slot& slot = slots_[static_cast<size_t>(i)];
        restart.push_back(slot.sample);
        slot.builder.reset();
        cache_.ClearRow(i);
      }
      n_active_ = 0;
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = restart.rbegin(); it != restart.rend(); ++it) {
        ++it->group->prefills[it->prompt_index].waiting;
        queue_.push_front(*it);
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    update->result = loaded;
    update->done = true;
    update_ = nullptr;
    stats_.weight_version = version_;
  }
  done_cv_.notify_all();
  return true;
}

namespace {

// Whether each row of `logits` [n, ...] (on the CPU) is all finite: one pass
// over the bits per row, no temporaries (a step used to build isfinite's
// [n, V] masks for this).
std::vector<bool> RowsFinite(const torch::Tensor& logits) {
  const int64_t n = logits.size(0);
  const torch::Tensor rows = logits.contiguous().view({n, -1});  // [n, values per row]
  const int64_t per_row = rows.size(1);
  const char* data = static_cast<const char*>(rows.data_ptr());
  std::vector<bool> finite(static_cast<size_t>(n));
  for (int64_t s = 0; s < n; ++s) {
    finite[static_cast<size_t>(s)] =
        model::CountNonFinite(data + s * per_row * rows.element_size(), per_row, rows.scalar_type()) == 0;
  }
  return finite;
}

using Clock = std::chrono::steady_clock;
double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

void Engine::Admit() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Draining for a weight update: nothing joins until the swap.
    if (update_ != nullptr && !options_.restart_on_update) return;
  }
  const Clock::time_point admit_start = Clock::now();
  double prefill_forward = 0;
  const torch::Device device = model_->device();
  // With no sequence in a slot every row is empty (FinishSlot clears them):
  // the axis starts over, or each job would attend over the stale positions
  // of every job before it until the axis filled and compacted.
  if (n_active_ == 0) cache_.length = 0;
  if (!speculative_) prefill_forward += PrefillTogether();
  // Joining prompts are written side by side at the end of the position axis.
  int64_t widest = 0;  // longest prompt written at the current end
  // Active rows stay packed at the front: a sample joins at row n_active_.
  while (n_active_ < static_cast<int>(slots_.size())) {
    const size_t s = static_cast<size_t>(n_active_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) break;
      admitting_ = queue_.front();
      queue_.pop_front();
    }
    const Pending next = *admitting_;
    GenerationJob& job = *next.group->job;
    Group::Prefill& prefill = next.group->prefills[next.prompt_index];
    --prefill.waiting;
    if (job.cancelled->load()) {
      admitting_.reset();
      ReportCancelled(next);
      continue;
    }
    const std::vector<int>& prompt = job.prompts[static_cast<size_t>(next.prompt_index)];
    const int64_t length = static_cast<int64_t>(prompt.size());
    if (!prefill.logits.defined() || prefill.version != version_) {
      // One prefill per prompt, shared by its samples.
      prefill.cache = model_->NewCache(1, length, speculative_);
      const model::ForwardOptions options = DecodeOptions();
      const torch::Tensor tokens =
          torch::tensor(std::vector<int64_t>(prompt.begin(), prompt.end()), torch::kInt64).unsqueeze(0).to(device);
      const Clock::time_point forward_start = Clock::now();
      const model::ForwardResult out = model_->Forward(tokens, &prefill.cache, options);  // [1, P, ...]
      prefill.logits = out.logits.select(1, length - 1).to(torch::kCPU);
      prefill_forward += SecondsSince(forward_start);
      if (speculative_) {
        // The draft module's entries for positions [0, P-1) pair h_i with
        // prompt token i+1; the last one waits for each sample's first token.
        prefill.hidden = out.hidden.narrow(1, length - 1, 1);
        if (length > 1) {
          model_->Draft(out.hidden.narrow(1, 0, length - 1), tokens.narrow(1, 1, length - 1), {}, &prefill.cache, 0,
                        options);
        }
      }
      prefill.version = version_;
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.prefills;
      ++stats_.prefill_forwards;
    }
    if (model::CountNonFinite(prefill.logits) > 0) {
      FailJob(*next.group, absl::InternalError(absl::StrCat(
                               "the model produced non-finite logits (NaN or inf) for prompt ", next.prompt_index,
                               " under weight version ", version_, ": the weights are broken")));
      admitting_.reset();
      ReportCancelled(next);
      continue;
    }
    // Positions the prompt takes on the axis: its length, plus the left
    // padding of a prefill it shared with longer prompts.
    const int64_t span = prefill.cache.length;
    if (cache_.length + std::max(widest, span) > cache_.capacity) {
      // Rows joined earlier in this pass are valid entries: compaction moves
      // them too, and the new end covers them.
      Compact();
      widest = 0;
    }
    Slot& slot = slots_[s];
    slot.sample = next;
    slot.version = version_;
    const int64_t budget = std::min<int64_t>(job.params.max_new_tokens, max_seq_len_ - length);
    slot.builder = std::make_unique<model::CompletionBuilder>(tokenizer_, job.params.stop, budget);
    ++n_active_;  // from here on the sample is in its slot: FinishSlot reports it
    admitting_.reset();
    const uint64_t prompt_stream = job.stream_index.empty()
                                       ? static_cast<uint64_t>(next.prompt_index)
                                       : static_cast<uint64_t>(job.stream_index[static_cast<size_t>(next.prompt_index)]);
    const uint64_t stream = prompt_stream * job.samples_per_prompt + next.sample_index;
    slot.generator = at::make_generator<at::CPUGeneratorImpl>(model::SampleSeed(job.params.seed, stream));
    // The prompt's keys go into this row at the shared end, [cache_.length, cache_.length + P).
    cache_.CopySequence(prefill.cache, /*from_row=*/0, static_cast<int64_t>(s), /*at=*/cache_.length);
    widest = std::max(widest, span);
    // The first token comes from the prefill's logits.
    const model::Sampled first = model::SampleTokens(prefill.logits, job.params.sampling, slot.generator);
    slot.last_token = first.tokens.item<int64_t>();
    const bool ended = slot.builder->Append(static_cast<int>(slot.last_token), first.logprobs.item<float>());
    if (speculative_ && !ended) {
      // The draft module's entry at the prompt's last position pairs its
      // hidden state with this sample's first token, and drafts the second.
      model::KvCache row = cache_.Rows(static_cast<int64_t>(s), 1);
      row.length = cache_.length + length;
      const model::ForwardOptions options = DecodeOptions();
      const torch::Tensor first_token = first.tokens.view({1, 1}).to(device);
      const torch::Tensor draft_logits =
          model_->Draft(prefill.hidden, first_token, {}, &row, cache_.length + length - 1, options).logits;
      SetDrafts({static_cast<int64_t>(s)}, draft_logits.reshape({1, -1}).to(torch::kCPU));
    }
    if (prefill.waiting == 0) next.group->prefills.erase(next.prompt_index);
    if (ended) {
      cache_.length += widest;  // keep the written prompt out of later joins
      widest = 0;
      FinishSlot(static_cast<int>(s), /*cancelled=*/false);
    }
  }
  cache_.length += widest;
  std::lock_guard<std::mutex> lock(mu_);
  stats_.admit_seconds += SecondsSince(admit_start);
  stats_.prefill_forward_seconds += prefill_forward;
}

double Engine::PrefillTogether() {
  std::vector<Pending> next;  // the samples that will take the free slots, in order
  {
    std::lock_guard<std::mutex> lock(mu_);
    const size_t free_slots = slots_.size() - static_cast<size_t>(n_active_);
    for (size_t i = 0; i < queue_.size() && next.size() < free_slots; ++i) next.push_back(queue_[i]);
  }
  std::vector<Group::Prefill*> prefills;
  std::vector<std::vector<int>> prompts;
  int64_t longest = 0;
  for (const Pending& sample : next) {
    if (sample.group->job->cancelled->load()) continue;
    Group::Prefill& prefill = sample.group->prefills[sample.prompt_index];
    if (prefill.logits.defined() && prefill.version == version_) continue;
    if (std::find(prefills.begin(), prefills.end(), &prefill) != prefills.end()) continue;
    const std::vector<int>& prompt = sample.group->job->prompts[static_cast<size_t>(sample.prompt_index)];
    const int64_t wider = std::max<int64_t>(longest, static_cast<int64_t>(prompt.size()));
    // Over the budget: this prompt is prefilled alone when Admit reaches it.
    if (static_cast<int64_t>(prompts.size() + 1) * wider > options_.max_prefill_tokens) continue;
    longest = wider;
    prefills.push_back(&prefill);
    prompts.push_back(prompt);
  }
  if (prefills.size() < 2) return 0;  // a lone prompt is prefilled as Admit reaches it
  const int64_t rows = static_cast<int64_t>(prompts.size());
  // Padded positions are invalid keys, and RoPE positions count valid tokens only.
  const auto [tokens, valid] = model::LeftPadded(prompts, /*pad=*/0);
  const torch::Device device = model_->device();
  model::KvCache cache = model_->NewCache(rows, longest);
  model::ForwardOptions options = DecodeOptions();
  options.token_valid = valid.to(device);
  const Clock::time_point forward_start = Clock::now();
  const torch::Tensor logits =
      model_->Forward(tokens.to(device), &cache, options).logits.select(1, longest - 1).to(torch::kCPU);  // [rows, V]
  const double seconds = SecondsSince(forward_start);
  for (int64_t r = 0; r < rows; ++r) {
    Group::Prefill& prefill = *prefills[static_cast<size_t>(r)];
    prefill.cache = cache.Rows(r, 1);  // a view: the rows share the forward's cache
    prefill.logits = logits.narrow(0, r, 1);
    prefill.version = version_;
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.prefills += rows;
  ++stats_.prefill_forwards;
  return seconds;
}

void Engine::Step() {
  const Clock::time_point step_start = Clock::now();
  const torch::Device device = model_->device();
  if (cache_.length + 1 > cache_.capacity) Compact();
  // Only the active rows (packed at the front) run: views of the cache, so
  // the model writes straight into it.
  const int64_t n = n_active_;
  model::KvCache view = cache_.Rows(0, n);
  torch::Tensor tokens = torch::empty({n, 1}, torch::kInt64);
  auto tokens_a = tokens.accessor<int64_t, 2>();  // no ops per row, unlike tokens[s][0]
  for (int64_t s = 0; s < n; ++s) tokens_a[s][0] = slots_[static_cast<size_t>(s)].last_token;
  const model::ForwardOptions options = DecodeOptions();
  const Clock::time_point forward_start = Clock::now();
  const torch::Tensor logits =
      model_->Forward(tokens.to(device), &view, options).logits.select(1, 0).to(torch::kCPU);  // [n, V]
  const double forward_seconds = SecondsSince(forward_start);
  cache_.length = view.length;
  std::vector<std::pair<int, bool>> ended;  // (row, cancelled)
  // The rows that go on, by their job's sampling parameters: each job's rows
  // are sampled in one call, each row from its own generator
  // (model::SampleRows), so a row's token does not depend on its batch.
  const std::vector<int64_t> live = RowsGoingOn(logits, ended);
  for (const auto& [sampling, positions] : BySampling(live)) {
    std::vector<int64_t> rows;
    std::vector<at::Generator*> generators;
    for (size_t p : positions) {
      rows.push_back(live[p]);
      generators.push_back(&slots_[static_cast<size_t>(live[p])].generator);
    }
    const torch::Tensor job_logits =
        static_cast<int64_t>(rows.size()) == n ? logits : logits.index_select(0, torch::tensor(rows));  // [rows, V]
    const model::Sampled sampled = model::SampleRows(job_logits, *sampling, generators);
    const auto token_a = sampled.tokens.accessor<int64_t, 1>();
    const auto logprob_a = sampled.logprobs.accessor<float, 1>();
    for (size_t i = 0; i < rows.size(); ++i) {
      Slot& slot = slots_[static_cast<size_t>(rows[i])];
      slot.last_token = token_a[static_cast<int64_t>(i)];
      if (slot.builder->Append(static_cast<int>(slot.last_token), logprob_a[static_cast<int64_t>(i)])) {
        ended.emplace_back(static_cast<int>(rows[i]), false);
      }
    }
  }
  std::sort(ended.begin(), ended.end());  // by row: finished below from the highest
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.decode_steps;
    stats_.decode_seconds += SecondsSince(step_start);
    stats_.decode_forward_seconds += forward_seconds;
  }
  // Highest row first: FinishSlot moves the last active row into the freed
  // one, and that row has had its turn already.
  for (auto it = ended.rbegin(); it != ended.rend(); ++it) FinishSlot(it->first, it->second);
}

bool Engine::RowStops(Slot& slot, bool logits_finite) {
  if (!logits_finite) {
    FailJob(*slot.sample.group,
            absl::InternalError(absl::StrCat("the model produced non-finite logits (NaN or inf) at token ",
                                             slot.builder->size(), " of prompt ", slot.sample.prompt_index,
                                             " under weight version ", slot.version, ": the weights are broken")));
  }
  return slot.sample.group->job->cancelled->load();
}

std::vector<int64_t> Engine::RowsGoingOn(const torch::Tensor& logits, std::vector<std::pair<int, bool>>& ended) {
  const std::vector<bool> finite = RowsFinite(logits);
  std::vector<int64_t> live;
  for (int64_t s = 0; s < static_cast<int64_t>(finite.size()); ++s) {
    if (RowStops(slots_[static_cast<size_t>(s)], finite[static_cast<size_t>(s)])) {
      ended.emplace_back(static_cast<int>(s), true);
    } else {
      live.push_back(s);
    }
  }
  return live;
}

std::map<const model::SamplingParams*, std::vector<size_t>> Engine::BySampling(
    const std::vector<int64_t>& rows) const {
  std::map<const model::SamplingParams*, std::vector<size_t>> groups;
  for (size_t i = 0; i < rows.size(); ++i) {
    groups[&slots_[static_cast<size_t>(rows[i])].sample.group->job->params.sampling].push_back(i);
  }
  return groups;
}

void Engine::SetDrafts(const std::vector<int64_t>& rows, const torch::Tensor& draft_logits) {
  for (const auto& [sampling, positions] : BySampling(rows)) {
    std::vector<int64_t> index;
    std::vector<at::Generator*> generators;
    for (size_t p : positions) {
      index.push_back(static_cast<int64_t>(p));
      generators.push_back(&slots_[static_cast<size_t>(rows[p])].generator);
    }
    const torch::Tensor logits =
        positions.size() == rows.size() ? draft_logits : draft_logits.index_select(0, torch::tensor(index));  // [R, V]
    torch::Tensor probs, drafts;  // [R, V] (undefined when greedy), [R]
    if (sampling->temperature <= 0) {
      drafts = logits.argmax(-1);
    } else {
      probs = model::SamplingDistribution(logits, *sampling);
      drafts = model::DrawRows(probs, generators);
    }
    const auto drafts_a = drafts.accessor<int64_t, 1>();
    for (size_t i = 0; i < positions.size(); ++i) {
      Slot& slot = slots_[static_cast<size_t>(rows[positions[i]])];
      slot.draft = drafts_a[static_cast<int64_t>(i)];
      slot.draft_probs = probs.defined() ? probs[static_cast<int64_t>(i)] : torch::Tensor();
    }
  }
}

// Each row feeds its last token and its draft (positions L and L+1 of the
// axis); the logits at L verify the draft (model::VerifyDrafts). A kept draft
// also yields a bonus token from the logits at L+1, so the row gains two
// tokens; a rejected one leaves position L+1 invalid and the row gains the
// token VerifyDrafts drew instead. The draft module then writes its entries
// for the positions kept and drafts each row's next token.
void Engine::SpeculativeStep() {
  const Clock::time_point step_start = Clock::now();
  const torch::Device device = model_->device();
  if (cache_.length + 2 > cache_.capacity) Compact();
  const int64_t n = n_active_;
  model::KvCache view = cache_.Rows(0, n);
  const int64_t at = view.length;
  torch::Tensor tokens = torch::empty({n, 2}, torch::kInt64);
  auto tokens_a = tokens.accessor<int64_t, 2>();
  for (int64_t s = 0; s < n; ++s) {
    tokens_a[s][0] = slots_[static_cast<size_t>(s)].last_token;
    tokens_a[s][1] = slots_[static_cast<size_t>(s)].draft;
  }
  const model::ForwardOptions options = DecodeOptions();
  Clock::time_point forward_start = Clock::now();
  const model::ForwardResult out = model_->Forward(tokens.to(device), &view, options);
  const torch::Tensor logits = out.logits.to(torch::kCPU);  // [n, 2, V]
  double forward_seconds = SecondsSince(forward_start);
  cache_.length = view.length;

  torch::Tensor kept = torch::zeros({n}, torch::kBool);          // draft accepted, per row
  torch::Tensor next_tokens = torch::zeros({n, 2}, torch::kInt64);  // the token after each position
  auto kept_a = kept.accessor<bool, 1>();
  auto next_a = next_tokens.accessor<int64_t, 2>();
  std::vector<std::pair<int, bool>> ended;  // (row, cancelled)
  const std::vector<int64_t> live = RowsGoingOn(logits, ended);  // rows that verify their draft
  const int64_t drafted = static_cast<int64_t>(live.size());
  int64_t accepted = 0;
  const torch::Tensor target_logits = logits.select(1, 0);      // [n, V]: verify the drafts
  const torch::Tensor after_draft_logits = logits.select(1, 1);  // [n, V]: a kept draft's bonus token
  // Each job's rows verify together (model::VerifyDrafts), then the rows
  // whose draft was kept draw their bonus token together; each row's
  // generator gives its draws in the order verifying it alone would.
  for (const auto& [sampling, positions] : BySampling(live)) {
    std::vector<int64_t> rows, drafts;
    std::vector<at::Generator*> generators;
    std::vector<torch::Tensor> draft_probs;
    for (size_t p : positions) {
      Slot& slot = slots_[static_cast<size_t>(live[p])];
      rows.push_back(live[p]);
      drafts.push_back(slot.draft);
      generators.push_back(&slot.generator);
      if (sampling->temperature > 0) draft_probs.push_back(slot.draft_probs);
    }
    const model::VerifiedRows verified =
        model::VerifyDrafts(target_logits.index_select(0, torch::tensor(rows)),
                            draft_probs.empty() ? torch::Tensor() : torch::stack(draft_probs), torch::tensor(drafts),
                            *sampling, generators);
    const auto token_a = verified.tokens.accessor<int64_t, 1>();
    const auto logprob_a = verified.logprobs.accessor<float, 1>();
    const auto accepted_a = verified.accepted.accessor<bool, 1>();
    std::vector<int64_t> bonus_rows;
    std::vector<at::Generator*> bonus_generators;
    for (size_t i = 0; i < rows.size(); ++i) {
      const int64_t s = rows[i];
      Slot& slot = slots_[static_cast<size_t>(s)];
      const int64_t token = token_a[static_cast<int64_t>(i)];
      const bool done = slot.builder->Append(static_cast<int>(token), logprob_a[static_cast<int64_t>(i)]);
      next_a[s][0] = token;
      slot.last_token = token;
      if (accepted_a[static_cast<int64_t>(i)]) {
        ++accepted;
        kept_a[s] = true;
        if (!done) {
          bonus_rows.push_back(s);
          bonus_generators.push_back(&slot.generator);
        }
      }
      if (done) ended.emplace_back(static_cast<int>(s), false);
    }
    if (bonus_rows.empty()) continue;
    const model::Sampled bonus = model::SampleRows(after_draft_logits.index_select(0, torch::tensor(bonus_rows)),
                                                   *sampling, bonus_generators);
    const auto bonus_token_a = bonus.tokens.accessor<int64_t, 1>();
    const auto bonus_logprob_a = bonus.logprobs.accessor<float, 1>();
    for (size_t i = 0; i < bonus_rows.size(); ++i) {
      const int64_t s = bonus_rows[i];
      Slot& slot = slots_[static_cast<size_t>(s)];
      slot.last_token = bonus_token_a[static_cast<int64_t>(i)];
      next_a[s][1] = slot.last_token;
      if (slot.builder->Append(static_cast<int>(slot.last_token), bonus_logprob_a[static_cast<int64_t>(i)])) {
        ended.emplace_back(static_cast<int>(s), false);
      }
    }
  }
  std::sort(ended.begin(), ended.end());  // by row: finished below from the highest
  // A rejected draft's position (L+1) leaves the row: invalid, and the row's
  // next RoPE position steps back over it.
  const torch::Tensor kept_device = kept.to(device);
  view.key_valid.select(1, at + 1).copy_(kept_device);
  view.next_position.sub_(kept_device.logical_not().to(torch::kInt64));
  const torch::Tensor token_valid = torch::stack({torch::ones_like(kept_device), kept_device}, 1);  // [n, 2]
  forward_start = Clock::now();
  const torch::Tensor draft_logits =
      model_->Draft(out.hidden, next_tokens.to(device), token_valid, &view, at, options).logits.to(torch::kCPU);  // [n, 2, V]
  forward_seconds += SecondsSince(forward_start);
  // Each row that goes on drafts from the position after its last token:
  // L+1 when its draft was kept, else L.
  std::vector<int64_t> drafting, draft_positions;
  for (int64_t s = 0; s < n; ++s) {
    Slot& slot = slots_[static_cast<size_t>(s)];
    if (slot.builder->done() || slot.sample.group->job->cancelled->load()) continue;
    drafting.push_back(s);
    draft_positions.push_back(2 * s + (kept_a[s] ? 1 : 0));
  }
  if (!drafting.empty()) {
    SetDrafts(drafting, draft_logits.reshape({2 * n, -1}).index_select(0, torch::tensor(draft_positions)));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.decode_steps;
    stats_.drafted += drafted;
    stats_.accepted += accepted;
    stats_.decode_seconds += SecondsSince(step_start);
    stats_.decode_forward_seconds += forward_seconds;
  }
  // Highest row first, as in Step.
  for (auto it = ended.rbegin(); it != ended.rend(); ++it) FinishSlot(it->first, it->second);
}

void Engine::FinishSlot(int index, bool cancelled) {
  Slot& slot = slots_[static_cast<size_t>(index)];
  SampleResult result;
  result.prompt_index = slot.sample.prompt_index;
  result.sample_index = slot.sample.sample_index;
  result.completion = slot.builder->Build();
  result.weight_version = slot.version;
  result.cancelled = cancelled;
  const Pending sample = slot.sample;
  slot.builder.reset();
  slot.sample = Pending{};
  // Keep the active rows packed: the last one moves into the freed row.
  const int last = n_active_ - 1;
  if (index != last) {
    cache_.MoveRow(last, index);  // leaves row `last` empty
    slots_[static_cast<size_t>(index)] = std::move(slots_[static_cast<size_t>(last)]);
    slots_[static_cast<size_t>(last)] = Slot{};
  } else {
    cache_.ClearRow(last);
  }
  --n_active_;
  Report(sample, std::move(result));
}

void Engine::FailJob(Group& group, const absl::Status& status) {
  if (group.failed) return;
  group.failed = true;
  std::fprintf(stderr, "rollout: a generation job failed: %s\n", std::string(status.message()).c_str());
  if (group.job->on_error) group.job->on_error(status);
  group.job->cancelled->store(true);  // its other samples are dropped as they come up
}

void Engine::FailInFlight(const absl::Status& status) {
  if (admitting_.has_value()) {
    const Pending sample = *admitting_;
    admitting_.reset();
    FailJob(*sample.group, status);
    ReportCancelled(sample);
  }
  for (int i = 0; i < n_active_; ++i) FailJob(*slots_[static_cast<size_t>(i)].sample.group, status);
  // Report each sample without touching the cache (FinishSlot would move
  // rows of a cache the failed step may have left half written).
  const int active = n_active_;
  n_active_ = 0;
  for (int i = 0; i < active; ++i) {
    Slot& slot = slots_[static_cast<size_t>(i)];
    SampleResult result;
    result.prompt_index = slot.sample.prompt_index;
    result.sample_index = slot.sample.sample_index;
    if (slot.builder) result.completion = slot.builder->Build();
    result.weight_version = slot.version;
    result.cancelled = true;
    const Pending sample = slot.sample;
    slot = Slot{};
    Report(sample, std::move(result));
  }
  // A fresh cache: whatever the failed step wrote is gone.
  cache_ = model_->NewCache(options_.kv_slots, 2 * max_seq_len_, speculative_);
}

void Engine::ReportCancelled(const Pending& sample) {
  SampleResult result;
  result.prompt_index = sample.prompt_index;
  result.sample_index = sample.sample_index;
  result.cancelled = true;
  result.weight_version = version_;
  Report(sample, std::move(result));
}

void Engine::Report(const Pending& sample, SampleResult result) {
  GenerationJob& job = *sample.group->job;
  if (job.on_sample) job.on_sample(std::move(result));
  if (--sample.group->unreported == 0 && job.on_done) job.on_done();
}

void Engine::Compact() {
  cache_.Compact();
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.compactions;
}

}  // namespace r1::rollout
