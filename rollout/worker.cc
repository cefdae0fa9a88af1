#include "rollout/worker.h"

#include <grpcpp/grpcpp.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/crc32c.h"
#include "model/safetensors.h"
#include "proto/rollout.grpc.pb.h"
#include "rpc/server.h"

namespace r1::rollout {
namespace {

grpc::Status Invalid(const std::string& message) { return grpc::Status(grpc::INVALID_ARGUMENT, message); }

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

FinishReason ToProto(model::FinishReason reason) {
  switch (reason) {
    case model::FinishReason::kEos: return EOS;
    case model::FinishReason::kStop: return STOP;
    case model::FinishReason::kLength: return LENGTH;
  }
  return FINISH_UNSPECIFIED;
}

// Weights come as F32, BF16 or F16 (safetensors names).
absl::StatusOr<torch::Dtype> WeightDtype(const std::string& name) {
  const std::optional<torch::Dtype> dtype = model::DtypeFromSafetensorsName(name);
  if (!dtype.has_value() || !(*dtype == torch::kFloat32 || *dtype == torch::kBFloat16 || *dtype == torch::kHalf)) {
    return absl::InvalidArgumentError(absl::StrCat("dtype must be F32, BF16 or F16, got \"", name, "\""));
  }
  return *dtype;
}

}  // namespace

class RolloutServiceImpl final : public RolloutService::Service {
 public:
  RolloutServiceImpl(Engine& engine, const Tokenizer& tokenizer, const WorkerOptions& options)
      : engine_(engine), tokenizer_(tokenizer), options_(options) {}

  grpc::Status Generate(grpc::ServerContext* context, const GenerateRequest* request,
                        grpc::ServerWriter<Completion>* writer) override {
    const absl::Time start = absl::Now();
    const grpc::Status status = DoGenerate(context, *request, writer);
    std::fprintf(stderr, "rollout: Generate prompts=%d samples=%d latency_ms=%.1f status=%d%s%s\n",
                 request->prompts_size(), request->samples_per_prompt(),
                 absl::ToDoubleMilliseconds(absl::Now() - start), status.error_code(),
                 status.ok() ? "" : " message=", status.error_message().c_str());
    return status;
  }

  grpc::Status UpdateWeights(grpc::ServerContext* context, grpc::ServerReader<WeightUpdate>* reader,
                             UpdateWeightsResponse* response) override {
    const grpc::Status status = DoUpdateWeights(context, reader, response);
    std::fprintf(stderr, "rollout: UpdateWeights version=%lld status=%d%s%s\n",
                 static_cast<long long>(response->version()), status.error_code(), status.ok() ? "" : " message=",
                 status.error_message().c_str());
    return status;
  }

  grpc::Status ScoreTokens(grpc::ServerContext*, const ScoreTokensRequest* request,
                           ScoreTokensResponse* response) override;

  grpc::Status Status(grpc::ServerContext*, const StatusRequest*, WorkerStatus* response) override {
    const EngineStats stats = engine_.stats();
    response->set_weight_version(stats.weight_version);
    response->set_kv_slots(options_.engine.kv_slots);
    response->set_active_sequences(stats.active);
    response->set_queued_sequences(stats.queued);
    response->set_max_queued_sequences(options_.engine.max_queued_samples);
    response->set_checkpoint(options_.checkpoint);
    return grpc::Status::OK;
  }

 private:
  grpc::Status CheckSampling(const SamplingParams& s) const {
    if (!s.GetReflection()->GetUnknownFields(s).empty()) {
      return Invalid("SamplingParams has a field this worker does not know (newer client?)");
    }
    const int64_t context = engine_.model().config().max_seq_len();
    if (s.max_new_tokens() <= 0) return Invalid("sampling.max_new_tokens must be > 0");
    if (s.max_new_tokens() > context) {
      return Invalid(absl::StrCat("sampling.max_new_tokens is ", s.max_new_tokens(), "; the model's context is ",
                                  context, " tokens"));
    }
    if (s.temperature() < 0) return Invalid("sampling.temperature must be >= 0");
    if (s.top_p() < 0 || s.top_p() > 1) return Invalid("sampling.top_p must be in [0, 1]");
    if (s.top_k() < 0) return Invalid("sampling.top_k must be >= 0");
    if (s.min_p() < 0 || s.min_p() > 1) return Invalid("sampling.min_p must be in [0, 1]");
    return grpc::Status::OK;
  }

  grpc::Status DoGenerate(grpc::ServerContext* context, const GenerateRequest& request,
                          grpc::ServerWriter<Completion>* writer) {
    if (!request.GetReflection()->GetUnknownFields(request).empty()) {
      return Invalid("GenerateRequest has a field this worker does not know");
    }
    if (request.prompts().empty()) return Invalid("GenerateRequest.prompts is empty");
    if (request.samples_per_prompt() < 1) return Invalid("samples_per_prompt must be >= 1");
    const int64_t total = static_cast<int64_t>(request.prompts_size()) * request.samples_per_prompt();
    if (total > options_.max_samples_per_request) {
      return Invalid(absl::StrCat("the request asks for ", total, " samples; a worker takes at most ",
                                  options_.max_samples_per_request, " per call"));
    }
    if (grpc::Status s = CheckSampling(request.sampling()); !s.ok()) return s;

    auto job = std::make_shared<GenerationJob>();
    bool any_stream = false;
    for (const Prompt& prompt : request.prompts()) any_stream |= prompt.has_stream_index();
    for (int p = 0; p < request.prompts_size(); ++p) {
      const Prompt& prompt = request.prompts(p);
      job->prompts.emplace_back(prompt.token_ids().begin(), prompt.token_ids().end());
      if (any_stream) job->stream_index.push_back(prompt.has_stream_index() ? prompt.stream_index() : p);
    }
    job->samples_per_prompt = request.samples_per_prompt();
    const SamplingParams& s = request.sampling();
    job->params.sampling.temperature = s.temperature();
    job->params.sampling.top_p = s.top_p() == 0 ? 1.0 : s.top_p();
    job->params.sampling.top_k = s.top_k();
    job->params.sampling.min_p = s.min_p();
    job->params.max_new_tokens = s.max_new_tokens();
    job->params.stop.assign(s.stop().begin(), s.stop().end());
    job->params.seed = s.seed();

    // Completions travel from the engine thread to this handler thread.
    std::mutex mu;
    std::condition_variable cv;
    std::deque<SampleResult> ready;
    bool done = false;
    job->on_sample = [&](SampleResult r) {
      std::lock_guard<std::mutex> lock(mu);
      ready.push_back(std::move(r));
      cv.notify_all();
    };
    job->on_done = [&] {
      std::lock_guard<std::mutex> lock(mu);
      done = true;
      cv.notify_all();
    };
    if (absl::Status submitted = engine_.Submit(job); !submitted.ok()) return ToGrpc(submitted);

    bool client_gone = false;
    while (true) {
      std::deque<SampleResult> batch;
      bool finished;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return !ready.empty() || done; });
        batch.swap(ready);
        finished = done;
      }
      for (SampleResult& r : batch) {
        if (client_gone) continue;
        Completion c;
        c.set_prompt_id(request.prompts(r.prompt_index).id());
        c.set_prompt_index(r.prompt_index);
        c.set_sample_index(r.sample_index);
        for (int id : r.completion.tokens) c.add_token_ids(id);
        for (float lp : r.completion.logprobs) c.add_logprobs(lp);
        c.set_finish_reason(r.cancelled ? CANCELLED : ToProto(r.completion.finish_reason));
        c.set_text(r.completion.text);
        c.set_weight_version(r.weight_version);
        if (!writer->Write(c)) client_gone = true;
      }
      if (finished) break;
      if (!client_gone && context->IsCancelled()) client_gone = true;
      // The engine drops the rest of a cancelled job at its next step.
      if (client_gone) job->cancelled->store(true);
    }
    if (client_gone) return grpc::Status(grpc::CANCELLED, "the client went away");
    return grpc::Status::OK;
  }

  grpc::Status DoUpdateWeights(grpc::ServerContext*, grpc::ServerReader<WeightUpdate>* reader,
                               UpdateWeightsResponse* response) {
    // The model's own tensors say which names, shapes and dtypes are allowed.
    std::map<std::string, std::vector<int64_t>> expected;
    for (const auto& [name, tensor] : model::NamedTensors(engine_.model())) expected[name] = tensor.sizes().vec();

    std::map<std::string, torch::Tensor> tensors;
    int64_t version = -1, bytes = 0;
    std::string name, data, dtype;
    std::vector<int64_t> shape;
    WeightUpdate message;
    bool first = true;
    while (reader->Read(&message)) {
      if (first) {
        version = message.version();
        first = false;
        if (version <= engine_.weight_version()) {
          return grpc::Status(grpc::FAILED_PRECONDITION,
                              absl::StrCat("weight version ", version, " is not newer than the version serving (",
                                           engine_.weight_version(), ")"));
        }
      }
      const TensorChunk& chunk = message.chunk();
      if (name.empty()) {  // a tensor starts
        name = chunk.name();
        auto it = expected.find(name);
        if (it == expected.end()) return Invalid(absl::StrCat("unknown tensor \"", name, "\""));
        shape.assign(chunk.shape().begin(), chunk.shape().end());
        if (shape != it->second) {
          return Invalid(absl::StrCat("tensor \"", name, "\" has shape [", absl::StrJoin(shape, ", "),
                                      "]; the model's is [", absl::StrJoin(it->second, ", "), "]"));
        }
        dtype = chunk.dtype();
        data.clear();
      } else if (chunk.name() != name) {
        return Invalid(absl::StrCat("chunk of \"", chunk.name(), "\" arrived inside tensor \"", name, "\""));
      }
      data += chunk.data();
      if (!chunk.last()) continue;
      absl::StatusOr<torch::Dtype> type = WeightDtype(dtype);
      if (!type.ok()) return Invalid(absl::StrCat("tensor \"", name, "\": ", type.status().message()));
      int64_t elements = 1;
      for (int64_t d : shape) elements *= d;
      const int64_t want = elements * static_cast<int64_t>(torch::elementSize(*type));
      if (static_cast<int64_t>(data.size()) != want) {
        return Invalid(absl::StrCat("tensor \"", name, "\" has ", data.size(), " bytes; shape and dtype need ", want));
      }
      if (Crc32c(data) != chunk.crc32c()) return Invalid(absl::StrCat("tensor \"", name, "\" fails its CRC-32C"));
      tensors[name] = torch::from_blob(data.data(), shape, *type).clone();
      bytes += static_cast<int64_t>(data.size());
      name.clear();
    }
    if (first) return Invalid("empty weight update");
    if (!name.empty()) return Invalid(absl::StrCat("the stream ended inside tensor \"", name, "\""));
    if (tensors.size() != expected.size()) {
      for (const auto& [n, s] : expected) {
        if (!tensors.count(n)) return Invalid(absl::StrCat("the update lacks tensor \"", n, "\""));
      }
    }
    const int count = static_cast<int>(tensors.size());
    if (absl::Status s = engine_.UpdateWeights(std::move(tensors), version); !s.ok()) return ToGrpc(s);
    response->set_version(version);
    response->set_tensors(count);
    response->set_bytes(bytes);
    return grpc::Status::OK;
  }

  Engine& engine_;
  const Tokenizer& tokenizer_;
  const WorkerOptions& options_;
};

grpc::Status RolloutServiceImpl::ScoreTokens(grpc::ServerContext*, const ScoreTokensRequest* request,
                                             ScoreTokensResponse* response) {
  if (request->sequences().empty()) return Invalid("ScoreTokensRequest.sequences is empty");
  if (request->top_k() < 1) return Invalid("top_k must be >= 1");
  const int64_t context = engine_.model().config().max_seq_len();
  const int64_t vocab = engine_.model().config().vocab_size();
  if (request->top_k() > vocab) return Invalid(absl::StrCat("top_k exceeds the vocabulary (", vocab, ")"));
  int64_t longest = 0;
  for (const Prompt& seq : request->sequences()) {
    if (seq.token_ids_size() < 2) return Invalid(absl::StrCat("sequence \"", seq.id(), "\" has fewer than 2 tokens"));
    if (seq.token_ids_size() > context) {
      return Invalid(absl::StrCat("sequence \"", seq.id(), "\" is longer than the context (", context, ")"));
    }
    if (request->completion_start() < 1 || request->completion_start() >= seq.token_ids_size()) {
      return Invalid(absl::StrCat("completion_start must be in [1, ", seq.token_ids_size() - 1, "] for sequence \"",
                                  seq.id(), "\""));
    }
    for (int id : seq.token_ids()) {
      if (id < 0 || id >= vocab) return Invalid(absl::StrCat("token id ", id, " outside the vocabulary"));
    }
    longest = std::max<int64_t>(longest, seq.token_ids_size());
  }
  engine_.RunExclusive([&](model::CausalLmImpl& model, int64_t version) {
    torch::NoGradGuard no_grad;
    const int64_t batch = request->sequences_size();
    // Right padding: position t predicts token t + 1 of its own row.
    torch::Tensor tokens = torch::zeros({batch, longest}, torch::kInt64);
    torch::Tensor valid = torch::zeros({batch, longest}, torch::kBool);
    for (int64_t b = 0; b < batch; ++b) {
      const Prompt& seq = request->sequences(static_cast<int>(b));
      for (int t = 0; t < seq.token_ids_size(); ++t) tokens[b][t] = seq.token_ids(t);
      valid[b].narrow(0, 0, seq.token_ids_size()).fill_(true);
    }
    model::ForwardOptions options;
    options.token_valid = valid.to(model.device());
    torch::Tensor logits = model.Forward(tokens.to(model.device()), nullptr, options).logits.to(torch::kCPU).to(torch::kFloat32);
    const double temperature = request->temperature() > 0 ? request->temperature() : 1.0;
    const torch::Tensor logprobs = torch::log_softmax(logits / temperature, -1);  // [B, T, V]
    const auto top = torch::topk(logprobs, request->top_k(), -1);
    const torch::Tensor top_values = std::get<0>(top), top_ids = std::get<1>(top);
    for (int64_t b = 0; b < batch; ++b) {
      const Prompt& seq = request->sequences(static_cast<int>(b));
      ScoredSequence* out = response->add_sequences();
      out->set_id(seq.id());
      // Position t - 1 predicts token t, for each scored token t.
      for (int t = request->completion_start(); t < seq.token_ids_size(); ++t) {
        TokenTopK* position = out->add_positions();
        for (int64_t k = 0; k < request->top_k(); ++k) {
          position->add_token_ids(static_cast<int>(top_ids[b][t - 1][k].item<int64_t>()));
          position->add_logprobs(top_values[b][t - 1][k].item<float>());
        }
        position->set_target_logprob(logprobs[b][t - 1][seq.token_ids(t)].item<float>());
      }
    }
    response->set_weight_version(version);
  });
  return grpc::Status::OK;
}

RolloutWorker::~RolloutWorker() {
  if (server_) Shutdown(0);
}

absl::StatusOr<std::unique_ptr<RolloutWorker>> RolloutWorker::Start(model::CausalLm model, const Tokenizer& tokenizer,
                                                                    int64_t version, const WorkerOptions& options) {
  std::unique_ptr<RolloutWorker> worker(new RolloutWorker());
  worker->options_ = options;
  worker->engine_ = std::make_unique<Engine>(std::move(model), tokenizer, options.engine, version);
  worker->service_ = std::make_unique<RolloutServiceImpl>(*worker->engine_, tokenizer, worker->options_);
  rpc::ServerSettings settings;
  settings.address = options.address;
  settings.max_message_bytes = options.max_message_bytes;
  absl::StatusOr<rpc::StartedServer> started = rpc::StartServer(settings, {worker->service_.get()});
  if (!started.ok()) return started.status();
  worker->server_ = std::move(started->server);
  worker->port_ = started->port;
  return worker;
}

void RolloutWorker::Wait() { server_->Wait(); }

void RolloutWorker::Shutdown(double grace_seconds) {
  if (server_) rpc::ShutdownServer(*server_, grace_seconds);
}

}  // namespace r1::rollout
