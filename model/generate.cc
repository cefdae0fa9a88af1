#include "model/generate.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstddef>

#include "absl/strings/string_view.h"
#include "common/random.h"

namespace r1::model {

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kEos: return "eos";
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
  }
  return "unknown";
}

CompletionBuilder::CompletionBuilder(const Tokenizer& tokenizer, const std::vector<std::string>& stop,
                                     int64_t budget)
    : tokenizer_(&tokenizer), stop_(&stop), budget_(budget), done_(budget <= 0) {}

bool CompletionBuilder::Append(int id, float logprob) {
  if (done_) return true;
  completion_.tokens.push_back(id);
  completion_.logprobs.push_back(logprob);
  if (tokenizer_->IsStop(id)) {
    End(FinishReason::kEos);
  } else if (!stop_->empty() && NewestTextHoldsStop()) {
    End(FinishReason::kStop);
  }
  if (!done_ && size() >= budget_) End(FinishReason::kLength);
  return done_;
}

// Every token was checked as it came, so a stop string can only be new: it
// ends in what the newest token added to the text, or changed (a character
// whose first bytes came earlier, shown until now as U+FFFD). It lies in the
// text's last `need` bytes. Decoding only the newest tokens gives those
// bytes as the whole text has them once the window's text is `kMargin`
// longer: a window decodes differently only at its start (a leading space a
// tokenizer drops, a character cut in half). Decoding the whole completion
// for every token instead cost O(n^2) over a long chain of thought.
bool CompletionBuilder::NewestTextHoldsStop() const {
  constexpr size_t kMargin = 16;  // bytes: U+FFFD runs at either end, a dropped space, a stripped character
  const std::vector<int>& tokens = completion_.tokens;
  size_t longest = 0;
  for (const std::string& stop : *stop_) longest = std::max(longest, stop.size());
  const size_t need = longest + kMargin + tokenizer_->Decode({tokens.back()}).value_or("").size();
  // Tokens usually add a byte or more; special ones add none, so the window
  // doubles until its text is long enough.
  size_t window = std::min(tokens.size(), need + kMargin);
  std::string text;
  while (true) {
    text = tokenizer_->Decode(std::vector<int>(tokens.end() - static_cast<std::ptrdiff_t>(window), tokens.end()))
               .value_or("");
    if (window == tokens.size() || text.size() >= need + kMargin) break;
    window = std::min(tokens.size(), 2 * window);
  }
  // The whole completion, or the window's last `need` bytes (its start may
  // differ from the whole text's).
  const absl::string_view tail =
      window == tokens.size() ? absl::string_view(text) : absl::string_view(text).substr(text.size() - need);
  for (const std::string& stop : *stop_) {
    if (!stop.empty() && tail.find(stop) != absl::string_view::npos) return true;
  }
  return false;
}

void CompletionBuilder::End(FinishReason reason) {
  if (done_) return;  // the first reason stands
  completion_.finish_reason = reason;
  done_ = true;
}

Completion CompletionBuilder::Build() const {
  Completion c = completion_;
  std::vector<int> body = c.tokens;
  if (c.finish_reason == FinishReason::kEos && !body.empty()) body.pop_back();
  c.text = tokenizer_->Decode(body).value_or("");
  if (c.finish_reason == FinishReason::kStop) {
    size_t cut = c.text.size();
    for (const std::string& stop : *stop_) {
      if (!stop.empty()) cut = std::min(cut, c.text.find(stop));
    }
    c.text.resize(cut);
  }
  return c;
}

uint64_t SampleSeed(uint64_t seed, uint64_t index) { return StreamSeed(seed, index); }

PaddedPrompts LeftPadded(const std::vector<std::vector<int>>& prompts, int pad) {
  const int64_t batch = static_cast<int64_t>(prompts.size());
  int64_t longest = 0;
  for (const auto& p : prompts) longest = std::max<int64_t>(longest, static_cast<int64_t>(p.size()));
  PaddedPrompts out{torch::full({batch, longest}, pad, torch::kInt64), torch::zeros({batch, longest}, torch::kBool)};
  auto tokens_a = out.tokens.accessor<int64_t, 2>();  // element writes without an op each
  auto valid_a = out.valid.accessor<bool, 2>();
  for (int64_t b = 0; b < batch; ++b) {
    const auto& p = prompts[static_cast<size_t>(b)];
    const int64_t offset = longest - static_cast<int64_t>(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
      tokens_a[b][offset + static_cast<int64_t>(i)] = p[i];
      valid_a[b][offset + static_cast<int64_t>(i)] = true;
    }
  }
  return out;
}

std::vector<Completion> Generate(CausalLmImpl& model, const Tokenizer& tokenizer,
                                 const std::vector<std::vector<int>>& prompts, const GenerationParams& params) {
  // Not only no gradients: no autograd bookkeeping on any tensor made here
  // (version counters, view records), a share of every op's cost in decoding.
  c10::InferenceMode inference;
  const int64_t batch = static_cast<int64_t>(prompts.size());
  if (batch == 0) return {};
  int64_t prompt_len = 0;
  for (const auto& p : prompts) {
    TORCH_CHECK(!p.empty(), "Generate: empty prompt");
    prompt_len = std::max<int64_t>(prompt_len, static_cast<int64_t>(p.size()));
  }
  const int64_t max_len = model.config().max_seq_len();
  TORCH_CHECK(prompt_len < max_len, "Generate: a prompt of ", prompt_len, " tokens leaves no room under max_seq_len ",
              max_len);
  const int64_t budget = std::min<int64_t>(params.max_new_tokens, max_len - prompt_len);

  const auto [tokens, valid] = LeftPadded(prompts, tokenizer.pad_id() >= 0 ? tokenizer.pad_id() : tokenizer.eos_id());
  const torch::Device device = model.device();
  KvCache cache = model.NewCache(batch, prompt_len + std::max<int64_t>(budget, 1));
  ForwardOptions options;
  options.absorbed_attention = params.absorbed_attention;
  options.token_valid = valid.to(device);
  torch::Tensor logits = model.Forward(tokens.to(device), &cache, options).logits.select(1, prompt_len - 1);

  std::vector<CompletionBuilder> builders;
  std::vector<at::Generator> generators;
  for (int64_t b = 0; b < batch; ++b) {
    builders.emplace_back(tokenizer, params.stop, budget);
    generators.push_back(at::make_generator<at::CPUGeneratorImpl>(SampleSeed(params.seed, static_cast<uint64_t>(b))));
  }
  while (true) {
    const torch::Tensor cpu_logits = logits.to(torch::kCPU);
    torch::Tensor next = torch::zeros({batch, 1}, torch::kInt64);
    torch::Tensor step_valid = torch::zeros({batch, 1}, torch::kBool);
    auto next_a = next.accessor<int64_t, 2>();
    auto step_valid_a = step_valid.accessor<bool, 2>();
    // The rows still going, sampled in one call, each from its own stream.
    std::vector<int64_t> live;
    std::vector<at::Generator*> live_generators;
    for (int64_t b = 0; b < batch; ++b) {
      if (builders[b].done()) continue;
      live.push_back(b);
      live_generators.push_back(&generators[b]);
    }
    bool all_done = true;
    if (!live.empty()) {
      const torch::Tensor live_logits = static_cast<int64_t>(live.size()) == batch
                                            ? cpu_logits
                                            : cpu_logits.index_select(0, torch::tensor(live));  // [live, V]
      const Sampled sampled = SampleRows(live_logits, params.sampling, live_generators);
      const auto token_a = sampled.tokens.accessor<int64_t, 1>();
      const auto logprob_a = sampled.logprobs.accessor<float, 1>();
      for (size_t i = 0; i < live.size(); ++i) {
        const int64_t b = live[i];
        const int id = static_cast<int>(token_a[static_cast<int64_t>(i)]);
        next_a[b][0] = id;
        step_valid_a[b][0] = true;
        all_done &= builders[b].Append(id, logprob_a[static_cast<int64_t>(i)]);
      }
    }
    if (all_done) break;
    options.token_valid = step_valid.to(device);
    logits = model.Forward(next.to(device), &cache, options).logits.select(1, 0);
  }
  std::vector<Completion> completions;
  for (const CompletionBuilder& builder : builders) completions.push_back(builder.Build());
  return completions;
}

}  // namespace r1::model
