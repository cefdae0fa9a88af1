// Continuous batching for a rollout worker: one model, a fixed pool of KV
// slots, and a loop thread that decodes every active sequence one token per
// step. A sequence that finishes frees its slot at once and the next queued
// sample joins at the next step, so one long completion never holds a batch.
//
// The n samples of a prompt share one prefill: the prompt runs once in a
// small cache whose entries are then copied into each sample's slot. Slots
// share one position axis (KvCache.length); a joining sample's prompt is
// written at the current end and everything else in its row is marked
// invalid. When the axis fills, Compact() moves each row's valid entries to
// the front (keys carry their RoPE already, so moving them changes nothing).
//
// Sample k of prompt p draws from its own stream, model::SampleSeed(seed,
// s_p * n + k) with s_p the prompt's stream index (its position unless the
// job says otherwise): results do not depend on which samples share a step,
// and they match model::Generate over the prompts repeated n times.
//
// Nothing a request carries may stop the loop: sampling parameters are
// checked at Submit, and a LibTorch exception on the engine thread (or
// non-finite logits) fails the jobs it touched with INTERNAL while the
// engine goes on with the next ones.
#ifndef R1_ROLLOUT_ENGINE_H_
#define R1_ROLLOUT_ENGINE_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"  // kMinTemperature
#include "absl/status/status.h"
#include "common/tokenizer.h"
#include "model/causal_lm.h"
#include "model/generate.h"

namespace r1::rollout {

struct EngineOptions {
  int kv_slots = 64;                // sequences decoded together
  int max_queued_samples = 4096;    // samples waiting for a slot; beyond: RESOURCE_EXHAUSTED
  // What happens to sequences in flight when new weights arrive: false = they
  // finish under the old weights (no sample joins until they have; then the
  // swap), true = they restart from their prompt under the new weights.
  bool restart_on_update = false;
  bool absorbed_attention = true;   // MLA decode in the absorbed form
  // Prompts joining together are prefilled in one forward of at most this
  // many padded tokens (rows x longest prompt), so its attention scores take
  // no more memory than one prompt of that many tokens alone would.
  int64_t max_prefill_tokens = 4096;
  int64_t max_new_tokens = 0;       // per sample; 0 = the model's context
  // The most a weight update may raise the version by: a typo or a hostile
  // 2^63-1 would otherwise lock out every later legitimate update.
  int64_t max_version_step = 1'000'000;
  // MTP speculative decoding: the policy's first multi-token prediction
  // module drafts the next token and each decode step verifies it, emitting
  // one or two tokens (see Step). Sampled tokens follow exactly the model's
  // distribution and greedy output is unchanged, but which random draws a
  // sample makes differs, so sampled results differ from runs without it.
  // Needs a model that CanDraft(); `r1 rollout serve` refuses others.
  bool speculative = false;
};

// INVALID_ARGUMENT naming the field for sampling parameters the engine cannot
// honour: non-finite values, temperature not 0 and below kMinTemperature,
// top_p outside (0, 1], min_p outside [0, 1), top_k < 0, max_new_tokens
// outside [1, max_new_tokens].
absl::Status CheckGenerationParams(const model::GenerationParams& params, int64_t max_new_tokens);

struct SampleResult {
  int prompt_index = 0;
  int sample_index = 0;
  model::Completion completion;
  int64_t weight_version = 0;
  bool cancelled = false;  // the request was cancelled before the sample ended
};

struct EngineStats {
  int active = 0;            // samples in slots
  int queued = 0;            // samples waiting
  int64_t prefills = 0;          // prompts prefilled since start
  int64_t prefill_forwards = 0;  // forward passes that did it (prompts joining together share one)
  int64_t compactions = 0;
  int64_t decode_steps = 0;
  int64_t weight_version = 0;
  int64_t drafted = 0;   // speculative drafts verified
  int64_t accepted = 0;  // of those, kept
  // Where the engine thread's time went (wall seconds): admitting samples
  // (prompt forwards, cache copies, first tokens), of which the prompt
  // forwards; decode steps, of which the model's forward (the rest is the
  // host's work: sampling, checks, stop strings, bookkeeping; finishing a
  // sample, its text and the row move, is not counted in either).
  double admit_seconds = 0;
  double prefill_forward_seconds = 0;
  double decode_seconds = 0;
  double decode_forward_seconds = 0;
};

// One Generate call's worth of work. Callbacks run on the engine thread.
struct GenerationJob {
  std::vector<std::vector<int>> prompts;  // token ids, each non-empty
  // Stream index of each prompt (see SampleSeed below); empty = positions.
  std::vector<int64_t> stream_index;
  int samples_per_prompt = 1;
  model::GenerationParams params;
  std::function<void(SampleResult)> on_sample;  // each sample, as it ends
  std::function<void()> on_done;                // after the last sample
  // When the job fails (a LibTorch error, non-finite logits): called once,
  // before on_done; the samples not reported yet come back cancelled.
  std::function<void(const absl::Status&)> on_error;
  std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
};

class Engine {
 public:
  Engine(model::CausalLm model, const Tokenizer& tokenizer, const EngineOptions& options, int64_t weight_version);
  ~Engine();  // stops the loop; samples still queued or running are reported cancelled

  // Queues a job. INVALID_ARGUMENT for an empty or over-long prompt, a bad
  // sample count or bad sampling parameters (CheckGenerationParams);
  // RESOURCE_EXHAUSTED when the queue cannot take its samples.
  absl::Status Submit(std::shared_ptr<GenerationJob> job);

  // Installs `tensors` (every parameter and buffer, by name) as `version`
  // between decode steps and returns once they serve. FAILED_PRECONDITION
  // for a version not newer than the current one; INVALID_ARGUMENT for a
  // version more than max_version_step ahead, or a wrong name or shape (the
  // old weights stay); INTERNAL when LibTorch fails while copying. With
  // `adopt` the tensors are handed over (model::AdoptTensors): those already
  // in a parameter's dtype and device become its storage instead of being
  // copied, so the caller must hold no other reference that could change them.
  absl::Status UpdateWeights(std::map<std::string, torch::Tensor> tensors, int64_t version, bool adopt = false);

  // Runs `work` on the engine thread between steps, with the model, and
  // returns when it has run (teacher scoring uses this). INTERNAL with the
  // message when `work` throws; UNAVAILABLE when the engine stopped first.
  absl::Status RunExclusive(const std::function<void(model::CausalLmImpl& model, int64_t version)>& work);

  // INVALID_ARGUMENT or FAILED_PRECONDITION when `version` may not follow the
  // version serving (see UpdateWeights).
  absl::Status CheckNextVersion(int64_t version) const;

  EngineStats stats() const;
  int64_t weight_version() const;
  const model::CausalLmImpl& model() const { return *model_; }

 private:
  struct Group;
  struct Exclusive {
    std::function<void(model::CausalLmImpl&, int64_t)> work;
    absl::Status result;
    bool ran = false;
  };
  struct Pending {  // a sample waiting for a slot
    std::shared_ptr<Group> group;
    int prompt_index;
    int sample_index;
  };
  struct Slot {  // row i is active when i < n_active_
    Pending sample;
    std::unique_ptr<model::CompletionBuilder> builder;
    at::Generator generator;
    int64_t last_token = 0;
    int64_t version = 0;
    // Speculation: the drafted token after last_token and the distribution
    // it was drawn from, [V] float32 (undefined when greedy).
    int64_t draft = 0;
    torch::Tensor draft_probs;
  };
  struct Update {
    std::map<std::string, torch::Tensor> tensors;
    int64_t version;
    bool adopt;
    absl::Status result;
    bool done = false;
  };

  void Loop();
  bool ApplyPendingWork();                 // weight update, exclusive work; true if anything ran
  void Admit();                            // fills free slots from the queue
  // Before Admit's samples join: the prompts of the next samples in the
  // queue (as many as there are free slots) that have no prefill under the
  // current weights, prefilled together in one forward; returns its seconds.
  double PrefillTogether();
  void Step();                             // one decode step for every active slot
  void SpeculativeStep();                  // Step with a draft verified in every row
  // After a step's forward: fails the row's job when its logits are not
  // finite (broken weights; the sampler would throw or argmax return
  // garbage), and says whether the row stops here, cancelled.
  bool RowStops(Slot& slot, bool logits_finite);
  // RowStops for each of a step's rows, logits [n, ...] on the CPU: the rows
  // that stop go to `ended` as (row, cancelled = true); returns the others.
  std::vector<int64_t> RowsGoingOn(const torch::Tensor& logits, std::vector<std::pair<int, bool>>& ended);
  // `rows` grouped by their job's sampling parameters, as positions in
  // `rows`: each group is sampled in one call (model::SampleRows and kin).
  std::map<const model::SamplingParams*, std::vector<size_t>> BySampling(const std::vector<int64_t>& rows) const;
  // Draws the next draft of each of `rows` from the draft module's logits
  // for them, [rows, V], each from its slot's generator.
  void SetDrafts(const std::vector<int64_t>& rows, const torch::Tensor& draft_logits);
  // Reports the sample in `slot` and frees it, moving the last active row
  // into its place.
  void FinishSlot(int slot, bool cancelled);
  void Report(const Pending& sample, SampleResult result);
  void ReportCancelled(const Pending& sample);  // a sample that never ran
  void Compact();
  model::ForwardOptions DecodeOptions() const;  // for every forward the engine runs
  int64_t ActiveCount() const;
  absl::Status CheckNextVersionLocked(int64_t version) const;
  // Marks the job failed (once): on_error, then its other samples are dropped.
  void FailJob(Group& group, const absl::Status& status);
  // After an exception in Admit or Step: fails every job with a sample in a
  // slot or being admitted, reports those samples cancelled and starts over
  // with an empty KV cache (the failed step may have left it half written).
  void FailInFlight(const absl::Status& status);

  model::CausalLm model_;
  const Tokenizer& tokenizer_;
  const EngineOptions options_;
  const int64_t max_seq_len_;
  const bool speculative_;  // options_.speculative, and the model can draft

  // Engine-thread state.
  model::KvCache cache_;
  std::vector<Slot> slots_;  // rows [0, n_active_) are active, the rest free
  int n_active_ = 0;
  int64_t version_;
  std::optional<Pending> admitting_;  // taken from the queue, not yet in a slot or reported

  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<Pending> queue_;
  std::shared_ptr<Update> update_;
  std::deque<std::shared_ptr<Exclusive>> exclusive_;
  EngineStats stats_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace r1::rollout

#endif  // R1_ROLLOUT_ENGINE_H_
