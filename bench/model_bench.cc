// Model benchmarks (issue: policy and student models). Prints one JSON object
// per measurement and a Markdown table for BENCHMARKS.md.
//
//   build/bin/model_bench [--config configs/tiny.textproto] [--threads 2] [--python]
//   build/bin/model_bench --decode_limit [--threads 2] [--decode_context 32] [--decode_steps_only]   (issue 17; only this)
//
// 1. matmul peak: a 1024^3 float32 matmul, the ceiling the others are judged by;
// 2. a training step of the policy (forward with MTP, backward, clip, AdamW,
//    MoE bias update) on [32, 256] tokens: tokens/s and achieved FLOP/s as a
//    share of the peak, FLOPs counted analytically (below);
// 3. with --python, the same step in PyTorch eager (bench/python_eager_step.py
//    under Debian's python3-torch, same LibTorch version) run right after, and
//    the ratio of the two medians;
// 4. decode tokens/s at batch 1, 16 and 64 for the policy (absorbed MLA) and
//    the student;
// 5. KV-cache bytes per token: MLA's measured cache against the formula, and
//    against an MHA layer of the same width.
// With --decode_limit, instead: batch-1 decode of a ~100M-parameter
// Llama-3-shaped model (random weights) against the weight-streaming limit
// (each token reads every weight once: measured memcpy bandwidth over a
// buffer of the weights' size / the weights' bytes), batch 64's aggregate
// against batch 1, and for the config's tiny models the microseconds and
// the ATen ops (RecordFunction callbacks) of one decode step at batch 1;
// for the policy also a speculative step's two parts: the forward over two
// tokens that verifies a draft, and the draft module over those positions.
// Medians of repeated runs; the machines are shared, so compare within a run.
#include <ATen/record_function.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/config.h"
#include "common/flags.h"
#include "model/causal_lm.h"
#include "model/lm_loss.h"
#include "model/optimizer.h"
#include "model/sampler.h"

namespace r1 {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Forward FLOPs per token of a training step on sequences of `seq` tokens:
// 2 x (weights each token multiplies) + attention scores and values over all
// `seq` keys (the full score matrix is computed, masked afterwards).
double ForwardFlopsPerToken(const config::ModelConfig& c, int64_t seq, bool mtp) {
  const double d = c.dim(), h = c.n_heads();
  double per_layer_attention, attention_math;
  if (c.arch() == config::DEEPSEEK_V3) {
    const double qk = c.qk_nope_head_dim() + c.qk_rope_head_dim();
    const double q = c.q_lora_rank() > 0 ? d * c.q_lora_rank() + c.q_lora_rank() * h * qk : d * h * qk;
    per_layer_attention = q + d * (c.kv_lora_rank() + c.qk_rope_head_dim()) +
                          c.kv_lora_rank() * h * (c.qk_nope_head_dim() + c.v_head_dim()) + h * c.v_head_dim() * d;
    attention_math = h * seq * (qk + c.v_head_dim());
  } else {
    const double head = d / h;
    per_layer_attention = d * d + 2 * d * c.n_kv_heads() * head + d * d;
    attention_math = h * seq * 2 * head;
  }
  const double dense_ffn = c.arch() == config::DEEPSEEK_V3 ? 3 * d * c.inter_dim() : 3 * d * c.ffn_hidden_dim();
  const double moe_ffn = d * c.n_routed_experts() +
                         3 * d * c.moe_inter_dim() * (c.n_shared_experts() + c.n_activated_experts());
  const auto ffn = [&](int layer) {
    return c.arch() == config::DEEPSEEK_V3 && layer >= c.n_dense_layers() ? moe_ffn : dense_ffn;
  };
  double weights = d * c.vocab_size(), math = 0;
  for (int layer = 0; layer < c.n_layers(); ++layer) {
    weights += per_layer_attention + ffn(layer);
    math += attention_math;
  }
  if (mtp && c.arch() == config::DEEPSEEK_V3) {
    for (int k = 0; k < c.n_mtp_modules(); ++k) {
      weights += 2 * d * d + per_layer_attention + ffn(c.n_layers() + k) + d * c.vocab_size();
      math += attention_math;
    }
  }
  return 2 * weights + 2 * math;
}

double MatmulPeak() {
  const torch::Tensor a = torch::randn({1024, 1024}), b = torch::randn({1024, 1024});
  torch::mm(a, b);
  std::vector<double> times;
  for (int i = 0; i < 7; ++i) {
    const auto t0 = Clock::now();
    torch::mm(a, b);
    times.push_back(Seconds(t0, Clock::now()));
  }
  return 2.0 * 1024 * 1024 * 1024 / Median(times);
}

struct StepTiming {
  double median_seconds;
  std::vector<double> all;
};

StepTiming TrainStep(model::CausalLmImpl& m, int64_t batch, int64_t seq, int warmup, int steps) {
  torch::manual_seed(1234);
  const torch::Tensor tokens = torch::randint(0, m.config().vocab_size(), {batch, seq}, torch::kInt64);
  config::OptimizerConfig oc;
  oc.set_lr(1e-3);
  oc.set_weight_decay(0.1);
  auto optimizer = model::MakeAdamW(m, oc);
  StepTiming timing;
  for (int i = 0; i < warmup + steps; ++i) {
    const auto t0 = Clock::now();
    model::ClearGradients(m);
    model::ForwardOptions options;
    options.compute_mtp = m.config().arch() == config::DEEPSEEK_V3 && m.config().n_mtp_modules() > 0;
    options.record_expert_load = true;
    model::ComputeLmLoss(m.Forward(tokens, nullptr, options), tokens, m.config().mtp_loss_weight()).total.backward();
    model::ClipGradients(m, 1.0);
    optimizer->step();
    m.AfterOptimizerStep();
    if (i >= warmup) timing.all.push_back(Seconds(t0, Clock::now()));
  }
  timing.median_seconds = Median(timing.all);
  return timing;
}

// Tokens per second of `new_tokens` greedy decode steps after a `prompt`-token
// prefill, at `batch` rows (the prefill is not timed).
double DecodeTokensPerSecond(model::CausalLmImpl& m, int64_t batch, int64_t prompt, int64_t new_tokens) {
  c10::InferenceMode inference;  // as the rollout engine and model::Generate decode
  std::vector<double> rates;
  for (int repeat = 0; repeat < 3; ++repeat) {
    model::KvCache cache = m.NewCache(batch, prompt + new_tokens);
    model::ForwardOptions options;
    options.absorbed_attention = true;
    torch::Tensor logits = m.Forward(torch::randint(4, m.config().vocab_size(), {batch, prompt}, torch::kInt64),
                                     &cache, options).logits.select(1, prompt - 1);
    const auto t0 = Clock::now();
    for (int64_t t = 0; t < new_tokens; ++t) {
      const torch::Tensor next = logits.argmax(-1, true);  // [B, 1]
      logits = m.Forward(next, &cache, options).logits.select(1, 0);
    }
    rates.push_back(static_cast<double>(batch * new_tokens) / Seconds(t0, Clock::now()));
  }
  return Median(rates);
}

// memcpy bytes/s between two buffers of `bytes` (far beyond the caches for a
// model's weights), median of 5 after one untimed pass.
double MemcpyBandwidth(int64_t bytes) {
  std::vector<char> from(static_cast<size_t>(bytes), 1), to(static_cast<size_t>(bytes), 0);
  std::memcpy(to.data(), from.data(), from.size());
  std::vector<double> rates;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = Clock::now();
    std::memcpy(to.data(), from.data(), from.size());
    rates.push_back(static_cast<double>(bytes) / Seconds(t0, Clock::now()));
  }
  return Median(rates);
}

struct StepCost {
  double micros = 0;                       // median of 64 steps
  int64_t ops = 0;                         // ATen ops dispatched, nested ones included
  std::vector<std::pair<int64_t, std::string>> top;  // the most frequent op names, by count
};

// What one batch-1 decode step runs.
enum class StepKind {
  kPlain,   // Forward of one token
  kVerify,  // Forward of two tokens (a speculative step's last token and draft)
  kDraft,   // the draft module over those two positions (model::Draft)
};

// One batch-1 step of `kind` on `m` after a 32-token prefill: median
// microseconds of 64 steps, and the ATen ops one step dispatches.
StepCost DecodeStepCost(model::CausalLmImpl& m, StepKind kind = StepKind::kPlain, int64_t context = 32) {
  c10::InferenceMode inference;  // as the rollout engine and model::Generate decode
  const int64_t width = kind == StepKind::kPlain ? 1 : 2;  // tokens per step
  const bool draft = kind == StepKind::kDraft;
  model::KvCache cache = m.NewCache(1, context + 65 * width, draft);
  model::ForwardOptions options;
  options.absorbed_attention = true;
  model::ForwardResult out =
      m.Forward(torch::randint(4, m.config().vocab_size(), {1, context}, torch::kInt64), &cache, options);
  torch::Tensor logits = out.logits;
  // One step: the timed part is the forward (or the draft after it).
  auto step = [&]() -> double {
    const torch::Tensor next = logits.select(1, -1).argmax(-1, true).expand({1, width}).contiguous();
    auto t0 = Clock::now();
    out = m.Forward(next, &cache, options);
    logits = out.logits;
    if (draft) {
      t0 = Clock::now();
      m.Draft(out.hidden, next, {}, &cache, cache.length - width, options);
    }
    return Seconds(t0, Clock::now()) * 1e6;
  };
  std::vector<double> micros;
  for (int t = 0; t < 64; ++t) micros.push_back(step());
  // Thread-local callback: only this thread's dispatches, counted by name.
  // The draft kind counts the draft module alone, after a forward that is
  // not counted.
  static std::map<std::string, int64_t>* counts = new std::map<std::string, int64_t>();
  if (draft) out = m.Forward(logits.select(1, -1).argmax(-1, true).expand({1, width}).contiguous(), &cache, options);
  counts->clear();
  const at::CallbackHandle handle = at::addThreadLocalCallback(
      at::RecordFunctionCallback([](const at::RecordFunction& fn) -> std::unique_ptr<at::ObserverContext> {
        ++(*counts)[fn.name()];
        return nullptr;
      }).scopes({at::RecordScope::FUNCTION}));
  if (draft) {
    m.Draft(out.hidden, out.logits.argmax(-1), {}, &cache, cache.length - width, options);
  } else {
    step();
  }
  at::removeCallback(handle);
  StepCost cost;
  cost.micros = Median(micros);
  for (const auto& [name, n] : *counts) {
    cost.ops += n;
    cost.top.emplace_back(n, name);
  }
  std::sort(cost.top.rbegin(), cost.top.rend());
  if (cost.top.size() > 8) cost.top.resize(8);
  return cost;
}

int DecodeLimit(const config::RunConfig& run, int64_t context, bool steps_only) {
  if (!steps_only) {
    // Llama-3's shape at ~100M parameters: GQA 12/4 heads, SwiGLU, untied
    // embeddings, a 32,000-token vocabulary.
    config::ModelConfig c;
    c.set_arch(config::LLAMA);
    c.set_vocab_size(32000);
    c.set_dim(768);
    c.set_n_layers(12);
    c.set_n_heads(12);
    c.set_n_kv_heads(4);
    c.set_ffn_hidden_dim(2048);
    c.set_max_seq_len(256);
    c.set_rope_theta(500000);
    c.set_tie_embeddings(false);
    torch::manual_seed(0);
    absl::StatusOr<model::CausalLm> made = model::MakeModel(c);
    if (!made.ok()) {
      std::fprintf(stderr, "model_bench: %s\n", std::string(made.status().message()).c_str());
      return 1;
    }
    model::CausalLm llama = *made;
    int64_t weight_bytes = 0;
    for (const auto& p : llama->parameters()) weight_bytes += p.numel() * p.element_size();
    const double bandwidth = MemcpyBandwidth(weight_bytes);
    const double limit = bandwidth / static_cast<double>(weight_bytes);  // tokens/s at batch 1
    const double batch1 = DecodeTokensPerSecond(*llama, 1, 32, 64);
    const double batch64 = DecodeTokensPerSecond(*llama, 64, 32, 64);
    std::printf("{\"bench\": \"decode_limit\", \"params\": %lld, \"weight_bytes\": %lld, "
                "\"memcpy_bytes_per_second\": %.3e, \"limit_tokens_per_second\": %.2f, "
                "\"batch1_tokens_per_second\": %.2f, \"batch1_over_limit\": %.3f, "
                "\"batch64_tokens_per_second\": %.1f, \"batch64_over_batch1\": %.1f}\n",
                static_cast<long long>(model::CountParameters(*llama)), static_cast<long long>(weight_bytes),
                bandwidth, limit, batch1, batch1 / limit, batch64, batch64 / batch1);
  }
  struct Row {
    const char* label;
    config::ModelConfig config;
    StepKind kind;
  };
  for (const Row& row : {Row{"policy", run.policy(), StepKind::kPlain}, Row{"student", run.student(), StepKind::kPlain},
                         Row{"policy_verify_2_tokens", run.policy(), StepKind::kVerify},
                         Row{"policy_draft_2_positions", run.policy(), StepKind::kDraft}}) {
    const char* label = row.label;
    torch::manual_seed(0);
    config::ModelConfig sized = row.config;
    sized.set_max_seq_len(std::max<int64_t>(sized.max_seq_len(), context + 2 * 65));
    model::CausalLm tiny = *model::MakeModel(sized);
    const StepCost cost = DecodeStepCost(*tiny, row.kind, context);
    std::string top;
    for (const auto& [n, name] : cost.top) absl::StrAppend(&top, top.empty() ? "" : ", ", "\"", name, "\": ", n);
    std::printf("{\"bench\": \"decode_step\", \"model\": \"%s\", \"context\": %lld, \"microseconds_median\": %.0f, "
                "\"aten_ops\": %lld, \"microseconds_per_op\": %.2f, \"most_frequent\": {%s}}\n",
                label, static_cast<long long>(context), cost.micros, static_cast<long long>(cost.ops), cost.micros / static_cast<double>(cost.ops),
                top.c_str());
  }
  return 0;
}

std::string RunPython(int threads, int64_t batch, int64_t seq) {
  const std::string command = absl::StrFormat(
      "/usr/bin/python3 bench/python_eager_step.py --threads %d --steps 12 --warmup 3 --batch %d --seq %d 2>/dev/null",
      threads, batch, seq);
  std::FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buffer[4096];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) out += buffer;
  pclose(pipe);
  return out;
}

double JsonNumber(const std::string& json, const std::string& key) {
  const size_t at = json.find(absl::StrCat("\"", key, "\":"));
  if (at == std::string::npos) return 0;
  return std::strtod(json.c_str() + at + key.size() + 3, nullptr);
}

int Main(int argc, char** argv) {
  std::string config_path = "configs/tiny.textproto";
  int64_t threads = 2, batch = 32, seq = 256;
  bool python = false, decode_limit = false, decode_steps_only = false;
  int64_t decode_context = 32;
  std::vector<std::string> rest;
  FlagSet flags("model_bench", "Model benchmarks; see the comment at the top of bench/model_bench.cc.");
  flags.AddString("config", &config_path, "run config whose policy and student are measured");
  flags.AddInt("threads", &threads, "intra-op threads (both implementations)");
  flags.AddInt("batch", &batch, "training batch, sequences");
  flags.AddInt("seq", &seq, "training sequence length, tokens");
  flags.AddBool("python", &python, "also run the PyTorch eager step side by side");
  flags.AddBool("decode_limit", &decode_limit,
                "only: ~100M Llama batch-1 decode against the weight-streaming limit, and tiny decode-step costs");
  flags.AddInt("decode_context", &decode_context, "with --decode_limit: tokens in the cache before the timed steps");
  flags.AddBool("decode_steps_only", &decode_steps_only, "with --decode_limit: only the tiny decode-step rows");
  if (std::optional<int> exit_code = ParseCommandLine(flags, {argv + 1, argv + argc})) return *exit_code;
  absl::StatusOr<config::RunConfig> run = LoadRunConfig(config_path);
  if (!run.ok()) {
    std::fprintf(stderr, "model_bench: %s\n", std::string(run.status().message()).c_str());
    return 1;
  }
  model::ConfigureRuntime(static_cast<int>(threads));
  if (decode_context < 1) {
    std::fprintf(stderr, "model_bench: --decode_context must be >= 1\n");
    return 1;
  }
  if (decode_limit) return DecodeLimit(*run, decode_context, decode_steps_only);
  const double peak = MatmulPeak();
  std::printf("{\"bench\": \"matmul_peak\", \"gflops\": %.1f}\n", peak / 1e9);

  torch::manual_seed(0);
  model::CausalLm policy = *model::MakeModel(run->policy());
  const StepTiming step = TrainStep(*policy, batch, seq, 3, 12);
  const double tokens = static_cast<double>(batch * seq);
  const double flops = 3 * ForwardFlopsPerToken(run->policy(), seq, true) * tokens;
  std::printf("{\"bench\": \"train_step\", \"impl\": \"r1\", \"params\": %lld, \"step_seconds_median\": %.4f, "
              "\"tokens_per_second\": %.0f, \"gflops\": %.1f, \"share_of_matmul_peak\": %.3f}\n",
              static_cast<long long>(model::CountParameters(*policy)), step.median_seconds,
              tokens / step.median_seconds, flops / step.median_seconds / 1e9, flops / step.median_seconds / peak);
  double python_median = 0;
  if (python) {
    const std::string json = RunPython(static_cast<int>(threads), batch, seq);
    python_median = JsonNumber(json, "step_seconds_median");
    std::printf("{\"bench\": \"train_step\", \"impl\": \"pytorch-eager\", \"raw\": %s}\n",
                json.empty() ? "null" : std::string(absl::StripTrailingAsciiWhitespace(json)).c_str());
    if (python_median > 0) {
      std::printf("{\"bench\": \"train_step_ratio\", \"pytorch_over_r1\": %.3f}\n", python_median / step.median_seconds);
    }
  }

  model::CausalLm student = *model::MakeModel(run->student());
  std::vector<std::array<double, 3>> decode;  // batch, policy, student
  for (int64_t b : {1, 16, 64}) {
    decode.push_back({static_cast<double>(b), DecodeTokensPerSecond(*policy, b, 32, 64),
                      DecodeTokensPerSecond(*student, b, 32, 64)});
    std::printf("{\"bench\": \"decode\", \"batch\": %lld, \"policy_tokens_per_second\": %.0f, "
                "\"student_tokens_per_second\": %.0f}\n",
                static_cast<long long>(b), decode.back()[1], decode.back()[2]);
  }

  const config::ModelConfig& c = run->policy();
  const int64_t cache_tokens = 100;
  const model::KvCache cache = policy->NewCache(1, cache_tokens);
  const double measured = static_cast<double>(cache.Bytes()) / cache_tokens / c.n_layers();
  const double formula = 4.0 * (c.kv_lora_rank() + c.qk_rope_head_dim());
  const double mha = 4.0 * c.n_heads() * (c.qk_nope_head_dim() + c.qk_rope_head_dim() + c.v_head_dim());
  std::printf("{\"bench\": \"kv_cache\", \"mla_bytes_per_token_per_layer\": %.0f, \"formula\": %.0f, "
              "\"mha_same_width\": %.0f, \"mha_over_mla\": %.2f}\n",
              measured, formula, mha, mha / measured);

  // The Markdown rows for BENCHMARKS.md.
  std::printf("\n| measurement | value |\n|---|---|\n");
  std::printf("| float32 matmul peak (1024^3) | %.1f GFLOP/s |\n", peak / 1e9);
  std::printf("| policy training step [%lld x %lld] | %.3f s median, %.0f tokens/s, %.1f GFLOP/s = %.0f%% of peak |\n",
              static_cast<long long>(batch), static_cast<long long>(seq), step.median_seconds,
              tokens / step.median_seconds, flops / step.median_seconds / 1e9, 100 * flops / step.median_seconds / peak);
  if (python_median > 0) {
    std::printf("| same step, PyTorch eager (python3-torch) | %.3f s median: r1 is %.2fx faster |\n", python_median,
                python_median / step.median_seconds);
  }
  for (const auto& row : decode) {
    std::printf("| decode, batch %.0f | policy %.0f tokens/s, student %.0f tokens/s |\n", row[0], row[1], row[2]);
  }
  std::printf("| KV cache per token per layer | MLA %.0f B (formula 4 x (%d + %d) = %.0f B); MHA same width %.0f B (%.1fx) |\n",
              measured, c.kv_lora_rank(), c.qk_rope_head_dim(), formula, mha, mha / measured);
  return 0;
}

}  // namespace
}  // namespace r1

int main(int argc, char** argv) { return r1::Main(argc, argv); }
