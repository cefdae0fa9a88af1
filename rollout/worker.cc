#include "rollout/worker.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/crc32c.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "proto/rollout.grpc.pb.h"
#include "rpc/server.h"
#include "rpc/status.h"

namespace r1::rollout {
namespace {

grpc::Status Invalid(const std::string& message) { return grpc::Status(grpc::INVALID_ARGUMENT, message); }

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
    UpdateTimes times;
    const grpc::Status status = DoUpdateWeights(context, reader, response, times);
    std::fprintf(stderr, "rollout: UpdateWeights version=%lld bytes=%lld read_ms=%.1f install_ms=%.1f status=%d%s%s\n",
                 static_cast<long long>(response->version()), static_cast<long long>(response->bytes()),
                 times.read_ms, times.install_ms, status.error_code(), status.ok() ? "" : " message=",
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
  // What only the proto knows; the values themselves are checked by the
  // engine (CheckGenerationParams), so no caller of it can bypass them.
  grpc::Status CheckSampling(const SamplingParams& s) const {
    if (!s.GetReflection()->GetUnknownFields(s).empty()) {
      return Invalid("SamplingParams has a field this worker does not know (newer client?)");
    }
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
    absl::Status failure;  // set by the engine thread before on_done
    job->on_error = [&](const absl::Status& status) {
      std::lock_guard<std::mutex> lock(mu);
      failure = status;
    };
    if (absl::Status submitted = engine_.Submit(job); !submitted.ok()) return rpc::ToGrpc(submitted);

    bool client_gone = false;
    while (true) {
      std::deque<SampleResult> batch;
      bool finished, failed;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return !ready.empty() || done; });
        batch.swap(ready);
        finished = done;
        failed = !failure.ok();
      }
      for (SampleResult& r : batch) {
        if (client_gone) continue;
        // The samples a failure cut short are not results: the call's status
        // says what happened (on_error runs before they are reported).
        if (failed && r.cancelled) continue;
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
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!failure.ok()) return rpc::ToGrpc(failure);
    }
    return grpc::Status::OK;
  }

  // The tensors of one update as they arrive: every name the model has,
  // once, with its shape and a weight dtype. Each tensor's bytes are copied
  // into a tensor of this worker's own in blocks, and each block is
  // checksummed and scanned for NaN/inf while it is still in cache: one pass
  // over the bytes. The engine then adopts these tensors as its parameters
  // (no second copy).
  class Incoming {
   public:
    explicit Incoming(const model::CausalLmImpl& model) {
      for (const auto& [name, tensor] : model::NamedTensors(model)) expected_[name] = tensor.sizes().vec();
    }

    // A tensor starts: INVALID_ARGUMENT for an unknown or repeated name, a
    // wrong shape or dtype.
    grpc::Status Begin(const std::string& name, const std::vector<int64_t>& shape, const std::string& dtype_name) {
      auto it = expected_.find(name);
      if (it == expected_.end()) return Invalid(absl::StrCat("unknown tensor \"", name, "\""));
      if (tensors_.count(name)) return Invalid(absl::StrCat("tensor \"", name, "\" sent twice"));
      if (shape != it->second) {
        return Invalid(absl::StrCat("tensor \"", name, "\" has shape [", absl::StrJoin(shape, ", "),
                                    "]; the model's is [", absl::StrJoin(it->second, ", "), "]"));
      }
      absl::StatusOr<torch::Dtype> dtype = WeightDtype(dtype_name);
      if (!dtype.ok()) return Invalid(absl::StrCat("tensor \"", name, "\": ", dtype.status().message()));
      name_ = name;
      current_ = torch::empty(shape, *dtype);
      want_ = current_.numel() * current_.element_size();
      written_ = counted_ = non_finite_ = 0;
      crc_ = 0;
      return grpc::Status::OK;
    }

    // More bytes of the current tensor: INVALID_ARGUMENT past what its shape
    // and dtype need.
    grpc::Status Append(const char* data, int64_t size) {
      if (size > want_ - written_) {
        return Invalid(absl::StrCat("tensor \"", name_, "\" sends more than the ", want_,
                                    " bytes its shape and dtype need"));
      }
      char* out = static_cast<char*>(current_.data_ptr());
      const int64_t element = current_.element_size();
      constexpr int64_t kBlock = 256 << 10;  // stays in L2 between the copy and the checks
      while (size > 0) {
        const int64_t block = std::min(size, kBlock);
        std::memcpy(out + written_, data, static_cast<size_t>(block));
        crc_ = Crc32c(absl::string_view(out + written_, static_cast<size_t>(block)), crc_);
        written_ += block;
        data += block;
        size -= block;
        // The whole values written since the last count (a chunk may end
        // inside one).
        const int64_t whole = written_ / element;
        non_finite_ += model::CountNonFinite(out + counted_ * element, whole - counted_, current_.scalar_type());
        counted_ = whole;
      }
      return grpc::Status::OK;
    }

    // The current tensor ends: its size, then its CRC-32C, then its values
    // are checked.
    grpc::Status Finish(uint32_t crc32c) {
      const std::string name = std::move(name_);
      name_.clear();
      torch::Tensor tensor = std::move(current_);
      current_ = torch::Tensor();
      if (written_ != want_) {
        return Invalid(absl::StrCat("tensor \"", name, "\" has ", written_, " bytes; shape and dtype need ", want_));
      }
      if (crc_ != crc32c) return Invalid(absl::StrCat("tensor \"", name, "\" fails its CRC-32C"));
      if (non_finite_ > 0) return Invalid(absl::StrCat("tensor \"", name, "\" holds NaN or inf values"));
      bytes_ += want_;
      tensors_[name] = std::move(tensor);
      return grpc::Status::OK;
    }

    // The tensor begun and not finished ("" between tensors), and the bytes
    // its shape and dtype need.
    const std::string& current() const { return name_; }
    int64_t want() const { return want_; }

    // After the last tensor: INVALID_ARGUMENT naming one the update lacks.
    grpc::Status CheckComplete() const {
      for (const auto& [name, shape] : expected_) {
        if (!tensors_.count(name)) return Invalid(absl::StrCat("the update lacks tensor \"", name, "\""));
      }
      return grpc::Status::OK;
    }

    std::map<std::string, torch::Tensor> Take() { return std::move(tensors_); }
    int64_t bytes() const { return bytes_; }

   private:
    std::map<std::string, std::vector<int64_t>> expected_;
    std::map<std::string, torch::Tensor> tensors_;
    int64_t bytes_ = 0;
    // The tensor being received.
    std::string name_;
    torch::Tensor current_;
    int64_t want_ = 0, written_ = 0;
    int64_t counted_ = 0;     // values scanned for NaN/inf so far
    int64_t non_finite_ = 0;  // of those, NaN or inf
    uint32_t crc_ = 0;
  };

  // Where an update's time went, for the log: receiving and checking the
  // bytes, then the engine's swap (which waits for the current step).
  struct UpdateTimes {
    double read_ms = 0, install_ms = 0;
  };

  // Memory per update is bounded by the model: each tensor's bytes may not
  // exceed what its shape and dtype need (checked as chunks arrive), and each
  // name comes once.
  grpc::Status DoUpdateWeights(grpc::ServerContext*, grpc::ServerReader<WeightUpdate>* reader,
                               UpdateWeightsResponse* response, UpdateTimes& times) {
    const absl::Time start = absl::Now();
    Incoming incoming(engine_.model());
    int64_t version = -1;
    WeightUpdate message;
    bool first = true, segment = false;
    while (reader->Read(&message)) {
      if (segment) return Invalid("a shared-memory update is one message; more followed");
      if (first) {
        version = message.version();
        first = false;
        // Before any tensor is buffered: a stale or wild version costs nothing.
        if (absl::Status s = engine_.CheckNextVersion(version); !s.ok()) return rpc::ToGrpc(s);
        if (message.has_segment()) {
          if (grpc::Status s = ReadSegment(message.segment(), incoming); !s.ok()) return s;
          segment = true;
          continue;
        }
      } else if (message.has_segment()) {
        return Invalid("a shared-memory segment may only come as the first and only message");
      }
      const TensorChunk& chunk = message.chunk();
      if (incoming.current().empty()) {  // a tensor starts
        const std::vector<int64_t> shape(chunk.shape().begin(), chunk.shape().end());
        if (grpc::Status s = incoming.Begin(chunk.name(), shape, chunk.dtype()); !s.ok()) return s;
      } else if (chunk.name() != incoming.current()) {
        return Invalid(
            absl::StrCat("chunk of \"", chunk.name(), "\" arrived inside tensor \"", incoming.current(), "\""));
      }
      const std::string& data = chunk.data();
      if (grpc::Status s = incoming.Append(data.data(), static_cast<int64_t>(data.size())); !s.ok()) return s;
      if (!chunk.last()) continue;
      if (grpc::Status s = incoming.Finish(chunk.crc32c()); !s.ok()) return s;
    }
    if (first) return Invalid("empty weight update");
    if (!incoming.current().empty()) {
      return Invalid(absl::StrCat("the stream ended inside tensor \"", incoming.current(), "\""));
    }
    if (grpc::Status s = incoming.CheckComplete(); !s.ok()) return s;
    const int64_t bytes = incoming.bytes();
    std::map<std::string, torch::Tensor> tensors = incoming.Take();
    const int count = static_cast<int>(tensors.size());
    const absl::Time read = absl::Now();
    times.read_ms = absl::ToDoubleMilliseconds(read - start);
    // The tensors are this worker's own copies: the model takes them as they are.
    const absl::Status installed = engine_.UpdateWeights(std::move(tensors), version, /*adopt=*/true);
    times.install_ms = absl::ToDoubleMilliseconds(absl::Now() - read);
    if (!installed.ok()) return rpc::ToGrpc(installed);
    response->set_version(version);
    response->set_tensors(count);
    response->set_bytes(bytes);
    return grpc::Status::OK;
  }

  // A shared-memory segment mapped for reading. The sender rewrites the same
  // file for each version (SharedWeights::Rewrite), and mapping 100 MB again
  // costs about as much as copying it, so the last one stays mapped until a
  // different file comes (it keeps a removed file's memory until then).
  struct MappedSegment {
    dev_t device = 0;
    ino_t inode = 0;
    uint64_t size = 0;
    std::shared_ptr<const char> base;
  };

  // Reads a shared-memory segment (SharedWeights in rollout/client.h): each
  // tensor's bytes are copied out and checked like a streamed one's, so the
  // checks hold for what the model gets whatever the file holds later. The
  // path must name a file directly under /dev/shm/r1-weights-, not a link,
  // a regular file of this process's user that no other user can read or
  // write, and every tensor must lie inside it. Only this user's processes
  // can change the file, and they could change this process as well: the
  // checks are against other users and against mistakes, which they cover.
  grpc::Status ReadSegment(const SharedSegment& segment, Incoming& incoming) {
    static constexpr absl::string_view kPrefix = "/dev/shm/r1-weights-";
    const std::string& path = segment.path();
    if (!absl::StartsWith(path, kPrefix) || path.size() == kPrefix.size() ||
        path.find('/', kPrefix.size()) != std::string::npos) {
      return Invalid(absl::StrCat("shared weights must be a file ", kPrefix, "*, got \"", path, "\""));
    }
    const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      return Invalid(absl::StrCat("cannot open shared weights ", path, ": ", std::strerror(errno),
                                  " (is the sender on another host?)"));
    }
    struct Closer {
      int fd;
      ~Closer() { close(fd); }
    } closer{fd};
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
      return Invalid(absl::StrCat("shared weights ", path, " must be a regular file of this worker's user with "
                                  "mode 0600"));
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    MappedSegment mapped;
    {
      std::lock_guard<std::mutex> lock(segment_mu_);
      if (mapped_.device == st.st_dev && mapped_.inode == st.st_ino && mapped_.size == size) mapped = mapped_;
    }
    if (mapped.base == nullptr && size > 0) {
      // Populated at once: one pass of page-table work instead of a fault
      // per page as the copy walks it.
      void* base = mmap(nullptr, size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
      if (base == MAP_FAILED) return Invalid(absl::StrCat("cannot map ", path, ": ", std::strerror(errno)));
      mapped = {st.st_dev, st.st_ino, size,
                std::shared_ptr<const char>(static_cast<const char*>(base), [size](const char* p) {
                  munmap(const_cast<char*>(p), size);
                })};
      std::lock_guard<std::mutex> lock(segment_mu_);
      mapped_ = mapped;  // the previous one is unmapped once no update reads it
    }
    for (const SharedTensor& t : segment.tensors()) {
      const std::vector<int64_t> shape(t.shape().begin(), t.shape().end());
      if (grpc::Status s = incoming.Begin(t.name(), shape, t.dtype()); !s.ok()) return s;
      if (t.bytes() != static_cast<uint64_t>(incoming.want()) || t.offset() > size || t.bytes() > size - t.offset()) {
        return Invalid(absl::StrCat("tensor \"", t.name(), "\" in ", path, ": ", t.bytes(), " bytes at ", t.offset(),
                                    " do not fit its shape and dtype (", incoming.want(), " bytes) inside the file (",
                                    size, " bytes)"));
      }
      if (t.bytes() > 0) {
        if (grpc::Status s = incoming.Append(mapped.base.get() + t.offset(), static_cast<int64_t>(t.bytes()));
            !s.ok()) {
          return s;
        }
      }
      if (grpc::Status s = incoming.Finish(t.crc32c()); !s.ok()) return s;
    }
    return grpc::Status::OK;
  }

  Engine& engine_;
  const Tokenizer& tokenizer_;
  const WorkerOptions& options_;
  std::mutex segment_mu_;
  MappedSegment mapped_;  // guarded by segment_mu_
};

grpc::Status RolloutServiceImpl::ScoreTokens(grpc::ServerContext*, const ScoreTokensRequest* request,
                                             ScoreTokensResponse* response) {
  if (request->sequences().empty()) return Invalid("ScoreTokensRequest.sequences is empty");
  if (request->sequences_size() > options_.max_score_sequences) {
    return grpc::Status(grpc::RESOURCE_EXHAUSTED,
                        absl::StrCat("ScoreTokens has ", request->sequences_size(), " sequences; this worker takes at most ",
                                     options_.max_score_sequences, " per call (--max_score_sequences)"));
  }
  if (request->top_k() < 1) return Invalid("top_k must be >= 1");
  const int64_t context = engine_.model().config().max_seq_len();
  const int64_t vocab = engine_.model().config().vocab_size();
  if (request->top_k() > vocab) return Invalid(absl::StrCat("top_k exceeds the vocabulary (", vocab, ")"));
  const double t = request->temperature();
  if (!std::isfinite(t) || t < 0 || (t != 0 && t < kMinTemperature)) {
    return Invalid(absl::StrCat("temperature must be 0 (plain log_softmax) or a finite number >= ", kMinTemperature,
                                ", got ", t));
  }
  int64_t total_tokens = 0, scored_positions = 0;
  for (const Prompt& seq : request->sequences()) {
    total_tokens += seq.token_ids_size();
    if (total_tokens > options_.max_score_tokens) {
      return grpc::Status(grpc::RESOURCE_EXHAUSTED,
                          absl::StrCat("ScoreTokens carries more than ", options_.max_score_tokens,
                                       " tokens; this worker takes at most that many per call (--max_score_tokens)"));
    }
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
    scored_positions += seq.token_ids_size() - request->completion_start();
  }
  // The answer must fit one message: per position top_k ids (varints of at
  // most 5 bytes), top_k floats, the target's float and a few bytes of framing.
  const int64_t answer_bytes = scored_positions * (9 * static_cast<int64_t>(request->top_k()) + 16);
  if (answer_bytes > options_.max_message_bytes) {
    return grpc::Status(grpc::RESOURCE_EXHAUSTED,
                        absl::StrCat("the answer would take about ", answer_bytes, " bytes; at most ",
                                     options_.max_message_bytes, " fit one message (send fewer tokens or a smaller top_k)"));
  }
  const double temperature = t > 0 ? t : 1.0;
  const int top_k = request->top_k();
  const absl::Status ran = engine_.RunExclusive([&](model::CausalLmImpl& model, int64_t version) {
    torch::NoGradGuard no_grad;
    // Sequences run in groups of at most kScoreChunkTokens padded tokens, so
    // the logits held at once ([rows, longest, V]) stay small whatever the
    // call's size. Rows do not interact: the results are those of one batch.
    constexpr int64_t kScoreChunkTokens = 8192;
    const int batch_size = request->sequences_size();
    for (int first = 0; first < batch_size;) {
      int end = first;
      int64_t longest = 0;
      while (end < batch_size) {
        const int64_t length = std::max<int64_t>(longest, request->sequences(end).token_ids_size());
        if (end > first && length * (end - first + 1) > kScoreChunkTokens) break;
        longest = length;
        ++end;
      }
      const int64_t rows = end - first;
      // Right padding: position t predicts token t + 1 of its own row.
      torch::Tensor tokens = torch::zeros({rows, longest}, torch::kInt64);
      torch::Tensor valid = torch::zeros({rows, longest}, torch::kBool);
      auto token_at = tokens.accessor<int64_t, 2>();
      for (int64_t b = 0; b < rows; ++b) {
        const Prompt& seq = request->sequences(first + static_cast<int>(b));
        for (int i = 0; i < seq.token_ids_size(); ++i) token_at[b][i] = seq.token_ids(i);
        valid[b].narrow(0, 0, seq.token_ids_size()).fill_(true);
      }
      model::ForwardOptions options;
      options.token_valid = valid.to(model.device());
      const torch::Tensor logits =
          model.Forward(tokens.to(model.device()), nullptr, options).logits.to(torch::kCPU).to(torch::kFloat32);
      if (!torch::isfinite(logits.masked_select(valid.unsqueeze(-1))).all().item<bool>()) {
        throw std::runtime_error(absl::StrCat("the model produced non-finite logits (NaN or inf) under weight version ",
                                              version, ": the weights are broken"));
      }
      const torch::Tensor logprobs = torch::log_softmax(logits / temperature, -1);  // [rows, longest, V]
      const auto top = torch::topk(logprobs, top_k, -1);
      const auto top_values = std::get<0>(top).accessor<float, 3>();
      const auto top_ids = std::get<1>(top).accessor<int64_t, 3>();
      const auto logprob_at = logprobs.accessor<float, 3>();
      for (int64_t b = 0; b < rows; ++b) {
        const Prompt& seq = request->sequences(first + static_cast<int>(b));
        ScoredSequence* out = response->add_sequences();
        out->set_id(seq.id());
        // Position t - 1 predicts token t, for each scored token t.
        for (int i = request->completion_start(); i < seq.token_ids_size(); ++i) {
          TokenTopK* position = out->add_positions();
          for (int k = 0; k < top_k; ++k) {
            position->add_token_ids(static_cast<int>(top_ids[b][i - 1][k]));
            position->add_logprobs(top_values[b][i - 1][k]);
          }
          position->set_target_logprob(logprob_at[b][i - 1][seq.token_ids(i)]);
        }
      }
      first = end;
    }
    response->set_weight_version(version);
  });
  if (!ran.ok()) {
    response->Clear();
    return rpc::ToGrpc(ran);
  }
  return grpc::Status::OK;
}

namespace {

// A model whose weights hold NaN or inf produces nothing but NaN logits:
// refuse it up front, naming the first bad tensor.
absl::Status CheckFiniteWeights(const model::CausalLmImpl& model, const std::string& what) {
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : model::NamedTensors(model)) {
    if (tensor.is_floating_point() && model::CountNonFinite(tensor) > 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": tensor \"", name, "\" holds NaN or inf values; refusing to serve these weights"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

RolloutWorker::~RolloutWorker() {
  if (server_) Shutdown(0);
}

absl::StatusOr<std::unique_ptr<RolloutWorker>> RolloutWorker::Start(model::CausalLm model, const Tokenizer& tokenizer,
                                                                    int64_t version, const WorkerOptions& options) {
  if (absl::Status s = CheckFiniteWeights(*model, options.checkpoint.empty() ? "the model" : options.checkpoint);
      !s.ok()) {
    return s;
  }
  std::unique_ptr<RolloutWorker> worker(new RolloutWorker());
  worker->options_ = options;
  worker->engine_ = std::make_unique<Engine>(std::move(model), tokenizer, options.engine, version);
  worker->service_ = std::make_unique<RolloutServiceImpl>(*worker->engine_, tokenizer, worker->options_);
  rpc::ServerSettings settings;
  settings.address = options.address;
  settings.security = options.security;
  settings.max_message_bytes = options.max_message_bytes;
  settings.memory_quota_bytes = options.memory_quota_bytes;
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
