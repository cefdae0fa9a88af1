// Rollout-worker benchmarks (results go to BENCHMARKS.md with this command):
//   build/bin/rollout_bench [--config configs/tiny.textproto] [--repeats 5] [--weight_sync_only]
// For the config's policy and student (random weights, the config's sizes):
// 1. generated tokens/s at batch 1, 16 and 64 through the full gRPC path (a
//    real `r1 rollout serve` process on loopback) against model::Generate in
//    this process, same prompts, seeds and thread count, side by side;
// 2. weight sync: UpdateWeights of every tensor, bytes/s on loopback through
//    gRPC and through a shared-memory segment (and for a ~100 MB model), against
//    a memcpy of the same bytes;
// 3. time from the end of a weight update to the first completion under the
//    new version (a one-token generation);
// 4. with --speculation_ckpt (a policy pretrained with MTP, e.g. a PRETRAIN
//    stage's checkpoint): the worker's engine in this process with and
//    without MTP speculative decoding, side by side, on the embedded
//    arithmetic task's prompts at batch 1 and 64: tokens/s and the share of
//    drafts kept.
// Medians of repeated runs; the process is idle while the worker works.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <future>
#include <thread>

#include <torch/torch.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/chat_template.h"
#include "common/config.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "common/subprocess.h"
#include "common/test_support.h"
#include "model/checkpoint.h"
#include "model/generate.h"
#include "rollout/client.h"
#include "rollout/engine.h"
#include "tasks/task.h"

namespace r1 {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// CPU seconds (user + system) process `pid` has used so far.
double ProcessCpuSeconds(pid_t pid) {
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat")).value_or("");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  const std::vector<std::string> fields = absl::StrSplit(stat.substr(close + 2), ' ');
  // After "pid (comm) ": state is field 0, utime 11, stime 12 (clock ticks).
  double utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtod(fields[11], &utime) || !absl::SimpleAtod(fields[12], &stime)) return 0;
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Minor page faults process `pid` has taken so far (pages it touched for the
// first time, or mapped again).
double ProcessMinorFaults(pid_t pid) {
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat")).value_or("");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  const std::vector<std::string> fields = absl::StrSplit(stat.substr(close + 2), ' ');
  double faults = 0;  // field 7 after "pid (comm) ": minflt
  if (fields.size() < 8 || !absl::SimpleAtod(fields[7], &faults)) return 0;
  return faults;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Worker {
  std::unique_ptr<Subprocess> process;
  std::unique_ptr<rollout::RolloutClient> client;
  std::string log_path;  // its stderr
};

// The worker's own times for weight updates, from its log lines
// ("rollout: UpdateWeights version=V bytes=B read_ms=R install_ms=I ..."):
// {read_ms, install_ms} of each version `keep` accepts.
std::vector<std::pair<double, double>> WorkerUpdateTimes(const std::string& log_path,
                                                         const std::function<bool(int64_t)>& keep) {
  std::vector<std::pair<double, double>> times;
  for (absl::string_view line : absl::StrSplit(ReadFile(log_path).value_or(""), '\n')) {
    if (!absl::StrContains(line, "UpdateWeights version=") || !absl::StrContains(line, "status=0")) continue;
    auto field = [&](absl::string_view key) {
      const size_t at = line.find(key);
      double value = -1;
      if (at != absl::string_view::npos) {
        absl::string_view rest = line.substr(at + key.size());
        (void)absl::SimpleAtod(rest.substr(0, rest.find(' ')), &value);
      }
      return value;
    };
    if (keep(static_cast<int64_t>(field("version=")))) times.emplace_back(field("read_ms="), field("install_ms="));
  }
  return times;
}

absl::StatusOr<Worker> StartWorker(const std::string& ckpt, const std::string& dir) {
  const std::string port_file = dir + "/port";
  std::filesystem::remove(port_file);
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start({ExecutableDir() + "/r1", "rollout", "serve", "--ckpt", ckpt, "--port_file", port_file,
                         "--kv_slots", "64", "--threads", "2"},
                        {.stdout_path = dir + "/worker.out", .stderr_path = dir + "/worker.err"});
  if (!process.ok()) return process.status();
  for (int i = 0; i < 1500 && !std::filesystem::exists(port_file); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int port = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFile(port_file).value_or("")), &port)) {
    return absl::InternalError("worker did not start: " + ReadFile(dir + "/worker.err").value_or(""));
  }
  absl::StatusOr<std::unique_ptr<rollout::RolloutClient>> client =
      rollout::RolloutClient::Connect(absl::StrCat("127.0.0.1:", port));
  if (!client.ok()) return client.status();
  if (absl::Status s = (*client)->WaitUntilServing(absl::Seconds(30)); !s.ok()) return s;
  return Worker{std::move(*process), std::move(*client), dir + "/worker.err"};
}

void BenchWeightSync(const char* label, const model::CausalLmImpl& model, const Tokenizer& tokenizer, Worker& worker,
                     int repeats);

void BenchModel(const char* label, config::ModelConfig config, const Tokenizer& tokenizer, const std::string& dir,
                int repeats) {
  config.set_vocab_size(tokenizer.vocab_size());
  torch::manual_seed(1);
  absl::StatusOr<model::CausalLm> model = model::MakeModel(config);
  if (!model.ok()) return;
  const std::string ckpt = dir + "/" + label;
  if (!model::SaveCheckpoint(ckpt, **model, &tokenizer, nullptr).ok()) return;
  absl::StatusOr<Worker> worker = StartWorker(ckpt, dir);
  if (!worker.ok()) {
    std::fprintf(stderr, "%s\n", std::string(worker.status().message()).c_str());
    return;
  }
  const int64_t new_tokens = 64;
  rollout::EngineOptions engine_options;
  engine_options.kv_slots = 64;
  auto engine_in_process = std::make_unique<rollout::Engine>(*model, tokenizer, engine_options, /*weight_version=*/0);
  {
    // Warm-up: the engine thread's first forward passes, as the worker's
    // WaitUntilServing and earlier calls warm its thread.
    auto warm = std::make_shared<rollout::GenerationJob>();
    warm->prompts = {{tokenizer.bos_id(), tokenizer.bos_id()}};
    warm->params.max_new_tokens = 4;
    std::promise<void> finished;
    warm->on_sample = [](rollout::SampleResult) {};
    warm->on_done = [&] { finished.set_value(); };
    if (engine_in_process->Submit(warm).ok()) finished.get_future().wait();
  }
  for (int batch : {1, 16, 64}) {
    // Random 16-token prompts (BOS first); the same in both paths.
    std::vector<std::vector<int>> prompts;
    torch::manual_seed(batch);
    for (int b = 0; b < batch; ++b) {
      std::vector<int> p = {tokenizer.bos_id()};
      for (int t = 0; t < 15; ++t) p.push_back(static_cast<int>(torch::randint(11, tokenizer.vocab_size(), {1}).item<int64_t>()));
      prompts.push_back(p);
    }
    model::GenerationParams params;
    params.max_new_tokens = new_tokens;
    params.seed = 3;
    rollout::GenerateRequest request;
    request.set_samples_per_prompt(1);
    request.mutable_sampling()->set_temperature(1.0);
    request.mutable_sampling()->set_max_new_tokens(static_cast<int>(new_tokens));
    request.mutable_sampling()->set_seed(3);
    for (const auto& p : prompts) {
      rollout::Prompt* prompt = request.add_prompts();
      for (int id : p) prompt->add_token_ids(id);
    }
    std::vector<double> local, engine, remote, remote_cpu;
    // The in-process engine's own account of its time, summed over repeats.
    struct {
      double admit = 0, prefill_forward = 0, decode = 0, decode_forward = 0;
      int64_t steps = 0;
    } engine_profile;
    int64_t local_tokens = 0, engine_tokens = 0, remote_tokens = 0;
    for (int r = 0; r < repeats; ++r) {
      auto start = std::chrono::steady_clock::now();
      local_tokens = 0;
      for (const model::Completion& c : model::Generate(**model, tokenizer, prompts, params)) local_tokens += c.tokens.size();
      local.push_back(Seconds(start));
      // The worker's engine in this process: what the engine costs apart
      // from gRPC and the second process. One engine for all repeats, as a
      // worker keeps one: its thread's first calls set up per-thread state
      // (BLAS buffers, the OpenMP team) that a worker pays once.
      {
        rollout::Engine& in_process = *engine_in_process;
        const rollout::EngineStats before = in_process.stats();
        auto job = std::make_shared<rollout::GenerationJob>();
        job->prompts = prompts;
        job->params = params;
        job->params.sampling.temperature = 1.0;
        std::promise<void> finished;
        engine_tokens = 0;
        job->on_sample = [&](rollout::SampleResult result) { engine_tokens += result.completion.tokens.size(); };
        job->on_done = [&] { finished.set_value(); };
        start = std::chrono::steady_clock::now();
        if (absl::Status s = in_process.Submit(job); !s.ok()) {
          std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
          return;
        }
        finished.get_future().wait();
        engine.push_back(Seconds(start));
        const rollout::EngineStats stats = in_process.stats();
        engine_profile.admit += stats.admit_seconds - before.admit_seconds;
        engine_profile.prefill_forward += stats.prefill_forward_seconds - before.prefill_forward_seconds;
        engine_profile.decode += stats.decode_seconds - before.decode_seconds;
        engine_profile.decode_forward += stats.decode_forward_seconds - before.decode_forward_seconds;
        engine_profile.steps += stats.decode_steps - before.decode_steps;
      }
      start = std::chrono::steady_clock::now();
      const double worker_cpu_before = ProcessCpuSeconds(worker->process->pid());
      remote_tokens = 0;
      const absl::Status s = worker->client->Generate(
          request, [&](const rollout::Completion& c) { remote_tokens += c.token_ids_size(); });
      remote.push_back(Seconds(start));
      remote_cpu.push_back(ProcessCpuSeconds(worker->process->pid()) - worker_cpu_before);
      if (!s.ok()) {
        std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
        return;
      }
    }
    const double local_rate = local_tokens / Median(local), remote_rate = remote_tokens / Median(remote);
    const double engine_rate = engine_tokens / Median(engine);
    std::printf("{\"bench\": \"decode\", \"model\": \"%s\", \"batch\": %d, \"in_process_tokens_per_second\": %.0f, "
                "\"engine_in_process_tokens_per_second\": %.0f, "
                "\"grpc_tokens_per_second\": %.0f, \"grpc_over_in_process\": %.3f, \"worker_cpu_over_wall\": %.2f, "
                "\"in_process_ms_per_call\": %.2f, \"engine_ms_per_call\": %.2f, \"engine_admit_ms_per_call\": %.2f, "
                "\"engine_prefill_forward_ms_per_call\": %.2f, \"engine_steps_per_call\": %.1f, "
                "\"engine_step_us\": %.0f, \"engine_step_forward_us\": %.0f, "
                "\"tokens\": [%lld, %lld, %lld]}\n",
                label, batch, local_rate, engine_rate, remote_rate, remote_rate / local_rate,
                Median(remote_cpu) / Median(remote), Median(local) * 1e3, Median(engine) * 1e3,
                engine_profile.admit * 1e3 / repeats, engine_profile.prefill_forward * 1e3 / repeats,
                static_cast<double>(engine_profile.steps) / repeats,
                engine_profile.decode * 1e6 / std::max<int64_t>(engine_profile.steps, 1),
                engine_profile.decode_forward * 1e6 / std::max<int64_t>(engine_profile.steps, 1),
                static_cast<long long>(local_tokens), static_cast<long long>(engine_tokens),
                static_cast<long long>(remote_tokens));
    std::fflush(stdout);
  }

  // What a call costs beyond its tokens: one 16-token prompt, one new token,
  // through gRPC and through the same engine in this process, alternating.
  {
    std::vector<int> prompt = {tokenizer.bos_id()};
    for (int t = 0; t < 15; ++t) prompt.push_back(11 + t % (tokenizer.vocab_size() - 11));
    rollout::GenerateRequest request;
    request.set_samples_per_prompt(1);
    request.mutable_sampling()->set_temperature(1.0);
    request.mutable_sampling()->set_max_new_tokens(1);
    request.mutable_sampling()->set_seed(3);
    rollout::Prompt* request_prompt = request.add_prompts();
    for (int id : prompt) request_prompt->add_token_ids(id);
    std::vector<double> in_process, grpc;
    for (int r = 0; r < 10 * repeats; ++r) {
      auto job = std::make_shared<rollout::GenerationJob>();
      job->prompts = {prompt};
      job->params.max_new_tokens = 1;
      job->params.seed = 3;
      std::promise<void> finished;
      job->on_sample = [](rollout::SampleResult) {};
      job->on_done = [&] { finished.set_value(); };
      auto start = std::chrono::steady_clock::now();
      if (!engine_in_process->Submit(job).ok()) return;
      finished.get_future().wait();
      in_process.push_back(Seconds(start));
      start = std::chrono::steady_clock::now();
      if (!worker->client->Generate(request, [](const rollout::Completion&) {}).ok()) return;
      grpc.push_back(Seconds(start));
    }
    std::printf("{\"bench\": \"call_overhead\", \"model\": \"%s\", \"one_token_call_in_process_ms\": %.3f, "
                "\"one_token_call_grpc_ms\": %.3f, \"grpc_extra_ms\": %.3f}\n",
                label, Median(in_process) * 1e3, Median(grpc) * 1e3, (Median(grpc) - Median(in_process)) * 1e3);
    std::fflush(stdout);
  }

  BenchWeightSync(label, **model, tokenizer, *worker, repeats);
}

// Weight sync against memcpy of the same bytes: through gRPC, and through a
// shared-memory segment.
void BenchWeightSync(const char* label, const model::CausalLmImpl& model, const Tokenizer& tokenizer, Worker& worker,
                     int repeats) {
  const auto tensors = model::NamedTensors(model);
  int64_t bytes = 0;
  for (const auto& [name, t] : tensors) bytes += t.numel() * t.element_size();
  std::vector<double> sync, shared_sync, shared_write, shared_first, shared_faults, copy, first;
  std::unique_ptr<rollout::SharedWeights> shared;
  std::vector<char> source(static_cast<size_t>(bytes), 1), target(static_cast<size_t>(bytes));
  rollout::GenerateRequest one;
  one.set_samples_per_prompt(1);
  one.mutable_sampling()->set_max_new_tokens(1);
  one.add_prompts()->add_token_ids(tokenizer.bos_id());
  for (int r = 0; r < std::max(repeats, 5) + 1; ++r) {
    auto start = std::chrono::steady_clock::now();
    // Versions: odd through gRPC, even through a shared-memory segment.
    const int64_t version = 2 * r + 1;
    absl::StatusOr<rollout::UpdateWeightsResponse> updated = worker.client->UpdateWeights(tensors, version);
    sync.push_back(Seconds(start));
    if (!updated.ok()) {
      std::fprintf(stderr, "%s\n", std::string(updated.status().message()).c_str());
      return;
    }
    // The update returns once the new weights serve: first completion after it.
    start = std::chrono::steady_clock::now();
    int64_t served = -1;
    (void)worker.client->Generate(one, [&](const rollout::Completion& c) { served = c.weight_version(); });
    first.push_back(Seconds(start));
    if (served != version) std::fprintf(stderr, "completion came from version %lld\n", static_cast<long long>(served));
    // The same tensors through /dev/shm, written over the last version as
    // the pool does (the first repeat creates the segment: shared_first_ms).
    start = std::chrono::steady_clock::now();
    absl::Status status;
    if (shared == nullptr) {
      absl::StatusOr<std::unique_ptr<rollout::SharedWeights>> written =
          rollout::SharedWeights::Write(tensors, version + 1);
      status = written.status();
      if (written.ok()) shared = std::move(*written);
    } else {
      status = shared->Rewrite(tensors, version + 1);
    }
    const double written_seconds = Seconds(start);
    const double faults_before = ProcessMinorFaults(worker.process->pid());
    if (status.ok()) status = worker.client->UpdateWeights(*shared).status();
    if (r > 0) shared_faults.push_back(ProcessMinorFaults(worker.process->pid()) - faults_before);
    if (!status.ok()) {
      std::fprintf(stderr, "%s\n", std::string(status.message()).c_str());
      return;
    }
    (r == 0 ? shared_first : shared_sync).push_back(Seconds(start));
    if (r > 0) shared_write.push_back(written_seconds);
    start = std::chrono::steady_clock::now();
    std::memcpy(target.data(), source.data(), source.size());
    copy.push_back(Seconds(start));
  }
  // The worker's side of the steady shared-memory updates (even versions
  // after the first) and of the gRPC ones (odd).
  std::vector<double> shared_read, shared_install, grpc_read, grpc_install;
  for (const auto& [read, install] : WorkerUpdateTimes(worker.log_path, [](int64_t v) { return v % 2 == 0 && v > 2; })) {
    shared_read.push_back(read);
    shared_install.push_back(install);
  }
  for (const auto& [read, install] : WorkerUpdateTimes(worker.log_path, [](int64_t v) { return v % 2 == 1; })) {
    grpc_read.push_back(read);
    grpc_install.push_back(install);
  }
  auto median_or = [](const std::vector<double>& v) { return v.empty() ? -1.0 : Median(v); };
  std::printf("{\"bench\": \"weight_sync\", \"model\": \"%s\", \"bytes\": %lld, \"grpc_bytes_per_second\": %.3e, "
              "\"shared_memory_bytes_per_second\": %.3e, \"memcpy_bytes_per_second\": %.3e, "
              "\"shared_memory_over_memcpy\": %.3f, \"shared_memory_write_ms\": %.2f, \"shared_memory_total_ms\": %.2f, "
              "\"shared_memory_first_version_ms\": %.2f, \"worker_shared_read_ms\": %.2f, "
              "\"worker_shared_install_ms\": %.2f, \"worker_grpc_read_ms\": %.2f, \"worker_grpc_install_ms\": %.2f, "
              "\"worker_shared_minor_faults\": %.0f, "
              "\"update_seconds_median\": %.4f, \"update_end_to_first_new_completion_ms_median\": %.2f}\n",
              label, static_cast<long long>(bytes), bytes / Median(sync), bytes / Median(shared_sync),
              bytes / Median(copy), Median(copy) / Median(shared_sync), Median(shared_write) * 1000,
              Median(shared_sync) * 1000, shared_first[0] * 1000,
              median_or(shared_read), median_or(shared_install), median_or(grpc_read), median_or(grpc_install),
              Median(shared_faults), Median(sync), Median(first) * 1000);
  std::fflush(stdout);
}

// Weight sync alone for a ~100 MB model (Llama layout, float32: 25.2M
// parameters), the size the target names.
void BenchWeightSync100MB(const Tokenizer& tokenizer, const std::string& dir, int repeats) {
  config::ModelConfig c;
  c.set_arch(config::LLAMA);
  c.set_vocab_size(tokenizer.vocab_size());
  c.set_dim(768);
  c.set_n_layers(4);
  c.set_n_heads(12);
  c.set_n_kv_heads(4);
  c.set_ffn_hidden_dim(2048);
  c.set_max_seq_len(256);
  torch::manual_seed(1);
  absl::StatusOr<model::CausalLm> model = model::MakeModel(c);
  if (!model.ok()) return;
  const std::string ckpt = dir + "/llama_100mb";
  if (!model::SaveCheckpoint(ckpt, **model, &tokenizer, nullptr).ok()) return;
  absl::StatusOr<Worker> worker = StartWorker(ckpt, dir);
  if (!worker.ok()) {
    std::fprintf(stderr, "%s\n", std::string(worker.status().message()).c_str());
    return;
  }
  BenchWeightSync("llama_100mb", **model, tokenizer, *worker, repeats);
}

// FNV-1a over every completion's token ids, in prompt order.
uint64_t HashTokens(const std::map<int, std::vector<int>>& completions) {
  uint64_t hash = 14695981039346656037ull;
  auto mix = [&](uint64_t value) {
    hash ^= value;
    hash *= 1099511628211ull;
  };
  for (const auto& [prompt, tokens] : completions) {
    mix(static_cast<uint64_t>(prompt));
    for (int id : tokens) mix(static_cast<uint64_t>(id));
  }
  return hash;
}

// Section 4: speculation on and off, alternating, on the same prompts.
void BenchSpeculation(const std::string& ckpt, int repeats, int64_t new_tokens) {
  absl::StatusOr<model::CausalLm> model = model::LoadModel(ckpt);
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(ckpt);
  if (!model.ok() || !tokenizer.ok()) {
    std::fprintf(stderr, "--speculation_ckpt %s: %s\n", ckpt.c_str(),
                 std::string((model.ok() ? tokenizer.status() : model.status()).message()).c_str());
    return;
  }
  if (!(*model)->CanDraft()) {
    std::fprintf(stderr, "--speculation_ckpt %s: the model has no MTP module\n", ckpt.c_str());
    return;
  }
  config::TaskConfig task_config;
  task_config.set_kind(config::ARITHMETIC);
  task_config.set_difficulty(1);
  absl::StatusOr<std::unique_ptr<tasks::Task>> task = tasks::MakeTask(task_config);
  if (!task.ok()) return;
  for (int batch : {1, 64}) {
    // Batch 1 decodes 16 prompts one after another (one ends in about 50
    // tokens); batch 64 decodes 64 prompts at once.
    const int rounds = batch == 1 ? 16 : 1;
    std::vector<std::vector<int>> prompts;
    for (int b = 0; b < batch * rounds; ++b) {
      // Held-out items (a seed the pretraining corpus does not use).
      absl::StatusOr<std::vector<int>> ids = EncodePrompt(*tokenizer, (*task)->Generate(977, b).prompt());
      if (!ids.ok()) return;
      prompts.push_back(*ids);
    }
    std::vector<double> seconds[2];
    int64_t tokens[2] = {0, 0};
    rollout::EngineStats stats;
    // Per decode step, both modes, summed over repeats: all of it, and its forward passes.
    double step_seconds[2] = {0, 0}, forward_seconds[2] = {0, 0}, admit_seconds[2] = {0, 0};
    int64_t steps[2] = {0, 0};
    // The speculative run's completions by prompt (first repeat): their hash
    // tells whether a change to the engine changed what it samples.
    std::map<int, std::vector<int>> speculative_text;
    for (int r = 0; r < repeats; ++r) {
      for (int speculative = 0; speculative < 2; ++speculative) {
        rollout::EngineOptions options;
        options.kv_slots = 64;
        options.speculative = speculative == 1;
        rollout::Engine engine(*model, *tokenizer, options, /*weight_version=*/0);
        tokens[speculative] = 0;
        const auto start = std::chrono::steady_clock::now();
        for (int round = 0; round < rounds; ++round) {
          auto job = std::make_shared<rollout::GenerationJob>();
          job->prompts.assign(prompts.begin() + round * batch, prompts.begin() + (round + 1) * batch);
          job->stream_index.resize(static_cast<size_t>(batch));
          for (int b = 0; b < batch; ++b) job->stream_index[static_cast<size_t>(b)] = round * batch + b;
          job->params.max_new_tokens = new_tokens;
          job->params.sampling.temperature = 1.0;
          job->params.seed = 3 + static_cast<uint64_t>(r);
          std::promise<void> finished;
          job->on_sample = [&](rollout::SampleResult result) {
            tokens[speculative] += result.completion.tokens.size();
            if (speculative == 1 && r == 0) speculative_text[round * batch + result.prompt_index] = result.completion.tokens;
          };
          job->on_done = [&] { finished.set_value(); };
          if (absl::Status s = engine.Submit(job); !s.ok()) {
            std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
            return;
          }
          finished.get_future().wait();
        }
        // Per-token rate of each run: the two modes sample different texts.
        seconds[speculative].push_back(Seconds(start) / static_cast<double>(tokens[speculative]));
        const rollout::EngineStats run_stats = engine.stats();
        step_seconds[speculative] += run_stats.decode_seconds;
        forward_seconds[speculative] += run_stats.decode_forward_seconds;
        steps[speculative] += run_stats.decode_steps;
        admit_seconds[speculative] += run_stats.admit_seconds;
        if (speculative == 1) stats = run_stats;
      }
    }
    const double plain_rate = 1 / Median(seconds[0]), speculative_rate = 1 / Median(seconds[1]);
    std::printf("{\"bench\": \"mtp_speculation\", \"batch\": %d, \"plain_tokens_per_second\": %.0f, "
                "\"speculative_tokens_per_second\": %.0f, \"speculative_over_plain\": %.3f, "
                "\"draft_acceptance\": %.3f, \"plain_step_us\": %.0f, \"plain_step_forward_us\": %.0f, "
                "\"speculative_step_us\": %.0f, \"speculative_step_forward_us\": %.0f, "
                "\"plain_run_ms\": %.1f, \"plain_admit_ms\": %.1f, \"plain_steps\": %.1f, "
                "\"speculative_run_ms\": %.1f, \"speculative_admit_ms\": %.1f, \"speculative_steps\": %.1f, "
                "\"tokens\": [%lld, %lld], \"speculative_text_hash\": \"%016llx\"}\n",
                batch, plain_rate, speculative_rate, speculative_rate / plain_rate,
                stats.drafted > 0 ? static_cast<double>(stats.accepted) / static_cast<double>(stats.drafted) : 0.0,
                step_seconds[0] * 1e6 / std::max<int64_t>(steps[0], 1),
                forward_seconds[0] * 1e6 / std::max<int64_t>(steps[0], 1),
                step_seconds[1] * 1e6 / std::max<int64_t>(steps[1], 1),
                forward_seconds[1] * 1e6 / std::max<int64_t>(steps[1], 1),
                Median(seconds[0]) * static_cast<double>(tokens[0]) * 1e3, admit_seconds[0] * 1e3 / repeats,
                static_cast<double>(steps[0]) / repeats,
                Median(seconds[1]) * static_cast<double>(tokens[1]) * 1e3, admit_seconds[1] * 1e3 / repeats,
                static_cast<double>(steps[1]) / repeats,
                static_cast<long long>(tokens[0]), static_cast<long long>(tokens[1]),
                static_cast<unsigned long long>(HashTokens(speculative_text)));
    std::fflush(stdout);
  }
}

// Stop-string checks over a long completion: CompletionBuilder::Append
// (which decodes only the newest tokens) against decoding the whole
// completion after every token, as it did before. Random pieces of the
// benchmark's tokenizer, no stop string ever matching.
void BenchStopStrings(const Tokenizer& tokenizer) {
  const std::vector<std::string> stops = {"</answer>", "\u00a7\u00a7"};
  for (int64_t length : {512, 2048, 8192}) {
    std::vector<int> ids;
    torch::manual_seed(length);
    while (static_cast<int64_t>(ids.size()) < length) {
      const int id = static_cast<int>(torch::randint(11, tokenizer.vocab_size(), {1}).item<int64_t>());
      if (!tokenizer.IsStop(id)) ids.push_back(id);
    }
    auto start = std::chrono::steady_clock::now();
    model::CompletionBuilder builder(tokenizer, stops, length);
    for (int id : ids) builder.Append(id, 0.0f);
    const double windowed = Seconds(start);
    start = std::chrono::steady_clock::now();
    int64_t found = 0;
    for (size_t k = 1; k <= ids.size(); ++k) {
      const std::string text = tokenizer.Decode(std::vector<int>(ids.begin(), ids.begin() + k)).value_or("");
      for (const std::string& stop : stops) found += text.find(stop) != std::string::npos;
    }
    const double whole = Seconds(start);
    std::printf("{\"bench\": \"stop_strings\", \"tokens\": %lld, \"windowed_us_per_token\": %.2f, "
                "\"whole_text_us_per_token\": %.2f, \"whole_over_windowed\": %.1f, \"found\": %lld}\n",
                static_cast<long long>(length), windowed * 1e6 / length, whole * 1e6 / length, whole / windowed,
                static_cast<long long>(found));
    std::fflush(stdout);
  }
}

}  // namespace
}  // namespace r1

int main(int argc, char** argv) {
  // Two LibTorch processes take turns on the same cores here (this one and
  // the worker, which inherits the environment): idle OpenMP threads must
  // sleep, not spin, or each slows the other several-fold.
  // libgomp reads it when it loads, before main: set, then start over.
  if (getenv("OMP_WAIT_POLICY") == nullptr) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", /*overwrite=*/0);
    execv("/proc/self/exe", argv);
    std::perror("rollout_bench: re-exec with OMP_WAIT_POLICY=PASSIVE");
    return 1;
  }
  std::string config_path = "configs/tiny.textproto";
  int64_t repeats = 5, speculation_tokens = 128;
  std::string speculation_ckpt;
  r1::FlagSet flags("rollout_bench", "Rollout worker benchmarks: decode through gRPC vs in-process, weight sync.");
  flags.AddString("config", &config_path, "run config whose policy and student sizes to use");
  flags.AddInt("repeats", &repeats, "timed runs per measurement (median)");
  flags.AddString("speculation_ckpt", &speculation_ckpt,
                  "a policy pretrained with MTP: measure MTP speculative decoding on it (and only that)");
  flags.AddInt("speculation_tokens", &speculation_tokens, "tokens per sample in the speculation measurement");
  bool weight_sync_only = false;
  flags.AddBool("weight_sync_only", &weight_sync_only, "measure only the 100 MB weight sync");
  if (auto code = r1::ParseCommandLine(flags, std::vector<std::string>(argv + 1, argv + argc))) return *code;
  absl::StatusOr<r1::config::RunConfig> run = r1::LoadRunConfig(config_path, {});
  if (!run.ok()) {
    std::fprintf(stderr, "%s\n", std::string(run.status().message()).c_str());
    return 1;
  }
  r1::model::ConfigureRuntime(2);
  if (!speculation_ckpt.empty()) {
    r1::BenchSpeculation(speculation_ckpt, static_cast<int>(repeats), speculation_tokens);
    return 0;
  }
  const std::string dir = std::filesystem::temp_directory_path() / absl::StrCat("r1_rollout_bench_", getpid());
  std::filesystem::create_directories(dir);
  // A small tokenizer (the test helper's): only its special ids matter here.
  absl::StatusOr<std::string> tokenizer_path = r1::testing::TrainTinyTokenizer(dir, 40);
  if (!tokenizer_path.ok()) return 1;
  absl::StatusOr<r1::Tokenizer> tokenizer = r1::Tokenizer::Load(*tokenizer_path);
  if (!tokenizer.ok()) return 1;
  if (!weight_sync_only) {
    r1::BenchStopStrings(*tokenizer);
    r1::BenchModel("policy", run->policy(), *tokenizer, dir, static_cast<int>(repeats));
    r1::BenchModel("student", run->student(), *tokenizer, dir, static_cast<int>(repeats));
  }
  r1::BenchWeightSync100MB(*tokenizer, dir, static_cast<int>(repeats));
  std::filesystem::remove_all(dir);
  return 0;
}
