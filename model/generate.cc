#include "model/generate.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>

namespace r1::model {

const char* FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kEos: return "eos";
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
  }
  return "unknown";
}

std::vector<Completion> Generate(CausalLmImpl& model, const Tokenizer& tokenizer,
                                 const std::vector<std::vector<int>>& prompts, const GenerationParams& params) {
  torch::NoGradGuard no_grad;
  const int64_t batch = static_cast<int64_t>(prompts.size());
  std::vector<Completion> completions(prompts.size());
  if (batch == 0) return completions;
  int64_t prompt_len = 0;
  for (const auto& p : prompts) {
    TORCH_CHECK(!p.empty(), "Generate: empty prompt");
    prompt_len = std::max<int64_t>(prompt_len, static_cast<int64_t>(p.size()));
  }
  const int64_t max_len = model.config().max_seq_len();
  TORCH_CHECK(prompt_len < max_len, "Generate: a prompt of ", prompt_len, " tokens leaves no room under max_seq_len ",
              max_len);
  const int64_t budget = std::min<int64_t>(params.max_new_tokens, max_len - prompt_len);

  // Left padding keeps every row's last prompt token in the last column.
  const int pad = tokenizer.pad_id() >= 0 ? tokenizer.pad_id() : tokenizer.eos_id();
  torch::Tensor tokens = torch::full({batch, prompt_len}, pad, torch::kInt64);
  torch::Tensor valid = torch::zeros({batch, prompt_len}, torch::kBool);
  for (int64_t b = 0; b < batch; ++b) {
    const auto& p = prompts[static_cast<size_t>(b)];
    const int64_t offset = prompt_len - static_cast<int64_t>(p.size());
    for (size_t i = 0; i < p.size(); ++i) tokens[b][offset + static_cast<int64_t>(i)] = p[i];
    valid.narrow(1, offset, static_cast<int64_t>(p.size()))[b].fill_(true);
  }
  const torch::Device device = model.device();
  KvCache cache = model.NewCache(batch, prompt_len + std::max<int64_t>(budget, 1));
  ForwardOptions options;
  options.absorbed_attention = params.absorbed_attention;
  options.token_valid = valid.to(device);
  torch::Tensor logits = model.Forward(tokens.to(device), &cache, options).logits.select(1, prompt_len - 1);

  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(params.seed);
  std::vector<bool> done(prompts.size(), budget == 0);
  for (int64_t step = 0; step < budget; ++step) {
    const Sampled sampled = SampleTokens(logits.to(torch::kCPU), params.sampling, generator);
    const auto* ids = sampled.tokens.data_ptr<int64_t>();
    const auto* logprobs = sampled.logprobs.data_ptr<float>();
    torch::Tensor step_valid = torch::zeros({batch, 1}, torch::kBool);
    for (int64_t b = 0; b < batch; ++b) {
      if (done[b]) continue;
      Completion& c = completions[b];
      const int id = static_cast<int>(ids[b]);
      c.tokens.push_back(id);
      c.logprobs.push_back(logprobs[b]);
      step_valid[b][0] = true;
      if (id == tokenizer.eos_id()) {
        c.finish_reason = FinishReason::kEos;
        done[b] = true;
        continue;
      }
      if (!params.stop.empty()) {
        const std::string text = tokenizer.Decode(c.tokens).value_or("");
        for (const std::string& stop : params.stop) {
          if (!stop.empty() && text.find(stop) != std::string::npos) {
            c.finish_reason = FinishReason::kStop;
            done[b] = true;
          }
        }
      }
    }
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; }) || step + 1 == budget) break;
    options.token_valid = step_valid.to(device);
    logits = model.Forward(sampled.tokens.unsqueeze(1).to(device), &cache, options).logits.select(1, 0);
  }

  for (Completion& c : completions) {
    std::vector<int> body = c.tokens;
    if (c.finish_reason == FinishReason::kEos) body.pop_back();
    c.text = tokenizer.Decode(body).value_or("");
    if (c.finish_reason == FinishReason::kStop) {
      size_t cut = c.text.size();
      for (const std::string& stop : params.stop) cut = std::min(cut, c.text.find(stop));
      c.text.resize(cut);
    }
  }
  return completions;
}

}  // namespace r1::model
