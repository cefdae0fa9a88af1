// A real `r1 rollout serve` process on loopback, driven through the client
// library: generation agrees with the in-process generator, weight updates
// reach every later completion, bad requests get INVALID_ARGUMENT, and no
// request (hostile sampling values, poisoned or oversized weight updates,
// huge calls without the token) crashes the worker or makes it hold memory.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/chat_template.h"
#include "common/crc32c.h"
#include "common/file_util.h"
#include "common/subprocess.h"
#include "common/test_support.h"
#include "model/checkpoint.h"
#include "model/generate.h"
#include "proto/rollout.grpc.pb.h"
#include "rollout/client.h"
#include "rollout/pool.h"

namespace r1::rollout {
namespace {

using ::testing::HasSubstr;

// A field of /proc/<pid>/status ("VmRSS", "VmHWM"), in bytes; -1 if absent.
int64_t ProcessMemory(pid_t pid, const std::string& field) {
  const std::string status = ReadFile(absl::StrCat("/proc/", pid, "/status")).value_or("");
  const size_t at = status.find(field + ":");
  if (at == std::string::npos) return -1;
  return std::strtoll(status.c_str() + at + field.size() + 1, nullptr, 10) * 1024;  // the file says kB
}

class RolloutServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / absl::StrCat("r1_rollout_test_", getpid());
    std::filesystem::create_directories(dir_);
    absl::StatusOr<std::string> tokenizer_path = testing::TrainTinyTokenizer(dir_.string(), 40);
    ASSERT_TRUE(tokenizer_path.ok()) << tokenizer_path.status();
    tokenizer_ = new Tokenizer(*Tokenizer::Load(*tokenizer_path));
    for (uint64_t seed : {1, 2}) {
      torch::manual_seed(seed);
      absl::StatusOr<model::CausalLm> model =
          model::MakeModel(testing::SmallModelConfig(config::DEEPSEEK_V3, tokenizer_->vocab_size()));
      ASSERT_TRUE(model.ok());
      const std::string ckpt = (dir_ / absl::StrCat("ckpt", seed)).string();
      ASSERT_TRUE(model::SaveCheckpoint(ckpt, **model, tokenizer_, nullptr).ok());
    }
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    std::filesystem::remove_all(dir_);
  }

  // Starts `r1 rollout serve` (with `flags` besides the usual ones) on a free
  // port; returns its address.
  static std::string StartWorker(const std::string& ckpt, int version, int kv_slots,
                                 std::unique_ptr<Subprocess>& process, const std::vector<std::string>& flags = {}) {
    const char* bin = std::getenv("R1_BIN_DIR");
    const std::string r1 = absl::StrCat(bin != nullptr ? bin : "build/bin", "/r1");
    static int counter = 0;
    const std::string tag = absl::StrCat(getpid(), "_", counter++);
    const std::string port_file = (dir_ / absl::StrCat("port_", tag)).string();
    SubprocessOptions options;
    options.stderr_path = (dir_ / absl::StrCat("worker_", tag, ".err")).string();
    options.stdout_path = (dir_ / absl::StrCat("worker_", tag, ".out")).string();
    std::vector<std::string> argv = {r1, "rollout", "serve", "--ckpt", ckpt, "--port_file", port_file, "--kv_slots",
                                     absl::StrCat(kv_slots), "--version", absl::StrCat(version), "--threads", "1"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto worker = Subprocess::Start(argv, options);
    EXPECT_TRUE(worker.ok()) << worker.status();
    process = std::move(*worker);
    for (int i = 0; i < 1000 && !std::filesystem::exists(port_file) && process->Running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    int port = 0;
    EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFile(port_file).value_or("")), &port))
        << ReadFile(options.stderr_path).value_or("");
    return absl::StrCat("127.0.0.1:", port);
  }

  void SetUp() override {
    address_ = StartWorker(Ckpt(1), 1, 4, worker_);
    auto client = RolloutClient::Connect(address_);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
    ASSERT_TRUE(client_->WaitUntilServing(absl::Seconds(20)).ok());
  }
  void TearDown() override { worker_.reset(); }

  static std::string Ckpt(int seed) { return (dir_ / absl::StrCat("ckpt", seed)).string(); }

  static GenerateRequest Request(int n, int max_new_tokens, double temperature) {
    GenerateRequest request;
    for (const char* text : {"What is 1 + 2?", "What is 30 - 4?"}) {
      Prompt* prompt = request.add_prompts();
      prompt->set_id(text);
      const std::vector<int> prompt_ids = *EncodePrompt(*tokenizer_, text);  // a named copy: the StatusOr is a temporary
      for (int id : prompt_ids) prompt->add_token_ids(id);
    }
    request.set_samples_per_prompt(n);
    request.mutable_sampling()->set_temperature(temperature);
    request.mutable_sampling()->set_max_new_tokens(max_new_tokens);
    request.mutable_sampling()->set_seed(5);
    return request;
  }

  std::vector<Completion> Run(const GenerateRequest& request, absl::Status* status = nullptr) {
    std::vector<Completion> completions;
    const absl::Status s = client_->Generate(request, [&](const Completion& c) { completions.push_back(c); });
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s;
    }
    std::sort(completions.begin(), completions.end(), [](const Completion& a, const Completion& b) {
      return std::pair(a.prompt_index(), a.sample_index()) < std::pair(b.prompt_index(), b.sample_index());
    });
    return completions;
  }

  // What the in-process generator makes of the same request with `ckpt`.
  static std::vector<model::Completion> Expected(const std::string& ckpt, const GenerateRequest& request) {
    absl::StatusOr<model::CausalLm> model = model::LoadModel(ckpt);
    EXPECT_TRUE(model.ok());
    std::vector<std::vector<int>> rows;
    for (const Prompt& p : request.prompts()) {
      for (int k = 0; k < request.samples_per_prompt(); ++k) rows.emplace_back(p.token_ids().begin(), p.token_ids().end());
    }
    model::GenerationParams params;
    params.max_new_tokens = request.sampling().max_new_tokens();
    params.sampling.temperature = request.sampling().temperature();
    params.seed = request.sampling().seed();
    return model::Generate(**model, *tokenizer_, rows, params);
  }

  // Greedy completions now come from checkpoint `seed`'s weights, as
  // version `seed`.
  // Greedy completions equal checkpoint `seed`'s, served as `version`
  // (default: the seed).
  void ExpectGreedyOutputOf(int seed, int version = -1) {
    const GenerateRequest request = Request(2, 12, 0.0);
    const std::vector<Completion> got = Run(request);
    const std::vector<model::Completion> want = Expected(Ckpt(seed), request);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].weight_version(), version < 0 ? seed : version);
      EXPECT_EQ(std::vector<int>(got[i].token_ids().begin(), got[i].token_ids().end()), want[i].tokens);
    }
  }

  // Clones of the tensors of checkpoint `seed`, to tamper with.
  static std::vector<std::pair<std::string, torch::Tensor>> Tensors(int seed) {
    absl::StatusOr<model::CausalLm> model = model::LoadModel(Ckpt(seed));
    EXPECT_TRUE(model.ok()) << model.status();
    std::vector<std::pair<std::string, torch::Tensor>> tensors = model::NamedTensors(**model);
    for (auto& [name, tensor] : tensors) tensor = tensor.detach().clone();
    return tensors;
  }

  static torch::Tensor& Find(std::vector<std::pair<std::string, torch::Tensor>>& tensors, const std::string& name) {
    for (auto& [n, t] : tensors) {
      if (n == name) return t;
    }
    ADD_FAILURE() << "no tensor " << name;
    return tensors[0].second;
  }

  static inline std::filesystem::path dir_;
  static inline Tokenizer* tokenizer_ = nullptr;
  std::string address_;
  std::unique_ptr<Subprocess> worker_;
  std::unique_ptr<RolloutClient> client_;
};

TEST_F(RolloutServiceTest, GenerationAgreesWithTheInProcessGenerator) {
  const GenerateRequest request = Request(3, 16, 1.0);
  const std::vector<Completion> got = Run(request);
  const std::vector<model::Completion> want = Expected(Ckpt(1), request);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(std::vector<int>(got[i].token_ids().begin(), got[i].token_ids().end()), want[i].tokens) << i;
    ASSERT_EQ(got[i].logprobs_size(), static_cast<int>(want[i].logprobs.size()));
    for (int t = 0; t < got[i].logprobs_size(); ++t) EXPECT_NEAR(got[i].logprobs(t), want[i].logprobs[t], 1e-4);
    EXPECT_EQ(got[i].text(), want[i].text);
    EXPECT_EQ(got[i].weight_version(), 1);
    EXPECT_EQ(got[i].prompt_id(), request.prompts(got[i].prompt_index()).id());
  }
}

TEST_F(RolloutServiceTest, WeightUpdateIsSeenByEveryLaterCompletion) {
  absl::StatusOr<model::CausalLm> other = model::LoadModel(Ckpt(2));
  ASSERT_TRUE(other.ok());
  absl::StatusOr<UpdateWeightsResponse> updated =
      client_->UpdateWeights(model::NamedTensors(**other), 2, /*chunk_bytes=*/997);  // chunks end inside values
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->version(), 2);
  ExpectGreedyOutputOf(2);
  EXPECT_EQ(client_->Status()->weight_version(), 2);
  // An older version is refused.
  absl::StatusOr<UpdateWeightsResponse> stale = client_->UpdateWeights(model::NamedTensors(**other), 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(stale.status())) << stale.status();
}

TEST_F(RolloutServiceTest, BadRequestsGetInvalidArgument) {
  absl::Status status;
  GenerateRequest empty = Request(1, 8, 1.0);
  empty.clear_prompts();
  Run(empty, &status);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;

  for (int max_tokens : {0, 100000}) {
    Run(Request(1, max_tokens, 1.0), &status);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << max_tokens << ": " << status;
  }
  // A sampling field this worker does not know (a newer client's).
  GenerateRequest unknown = Request(1, 8, 1.0);
  unknown.mutable_sampling()->GetReflection()->MutableUnknownFields(unknown.mutable_sampling())->AddVarint(99, 1);
  Run(unknown, &status);
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("does not know"));

  // A tensor of the wrong shape in an update: refused, old weights stay.
  absl::StatusOr<model::CausalLm> other = model::LoadModel(Ckpt(2));
  auto tensors = model::NamedTensors(**other);
  tensors[0].second = torch::zeros({3, 3});
  absl::StatusOr<UpdateWeightsResponse> bad = client_->UpdateWeights(tensors, 7);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr(tensors[0].first));
  EXPECT_EQ(client_->Status()->weight_version(), 1);
  // The worker still serves.
  EXPECT_EQ(Run(Request(1, 4, 1.0)).size(), 2u);
}

TEST_F(RolloutServiceTest, ScoreTokensGivesTheTeachersTopK) {
  ScoreTokensRequest request;
  Prompt* seq = request.add_sequences();
  seq->set_id("s");
  const std::vector<int> ids = EncodeExample(*tokenizer_, "What is 2 + 2?", "<think>4</think><answer>4</answer>")->ids;
  for (int id : ids) seq->add_token_ids(id);
  request.set_completion_start(5);
  request.set_top_k(3);
  absl::StatusOr<ScoreTokensResponse> scored = client_->ScoreTokens(request);
  ASSERT_TRUE(scored.ok()) << scored.status();
  ASSERT_EQ(scored->sequences_size(), 1);
  const ScoredSequence& out = scored->sequences(0);
  ASSERT_EQ(out.positions_size(), static_cast<int>(ids.size()) - 5);
  // Against an in-process forward pass of the same weights.
  absl::StatusOr<model::CausalLm> model = model::LoadModel(Ckpt(1));
  torch::NoGradGuard no_grad;
  const torch::Tensor tokens = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end())).unsqueeze(0);
  const torch::Tensor logprobs = torch::log_softmax((*model)->Forward(tokens, nullptr, {}).logits[0], -1);
  for (int i = 0; i < out.positions_size(); ++i) {
    const int t = 5 + i;
    EXPECT_NEAR(out.positions(i).target_logprob(), logprobs[t - 1][ids[t]].item<float>(), 1e-4);
    const auto top = torch::topk(logprobs[t - 1], 3);
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(out.positions(i).logprobs(k), std::get<0>(top)[k].item<float>(), 1e-4);
  }
}

TEST_F(RolloutServiceTest, SigtermStopsTheWorker) {
  worker_->Signal(SIGTERM);
  absl::StatusOr<int> code = worker_->Wait(absl::Seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
}

TEST_F(RolloutServiceTest, HostileSamplingValuesAreRefusedAndTheWorkerServesOn) {
  // Each of these once aborted the worker or was silently taken as "unset".
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const std::vector<std::pair<std::string, std::function<void(SamplingParams&)>>> cases = {
      {"temperature", [](SamplingParams& s) { s.set_temperature(1e-40); }},
      {"temperature", [&](SamplingParams& s) { s.set_temperature(nan); }},
      {"temperature", [&](SamplingParams& s) { s.set_temperature(inf); }},
      {"temperature", [](SamplingParams& s) { s.set_temperature(-1); }},
      {"top_p", [&](SamplingParams& s) { s.set_top_p(nan); }},
      {"top_p", [](SamplingParams& s) { s.set_top_p(1.5); }},
      {"top_p", [](SamplingParams& s) { s.set_top_p(-0.5); }},
      {"min_p", [&](SamplingParams& s) { s.set_min_p(nan); }},
      {"min_p", [&](SamplingParams& s) { s.set_min_p(inf); }},
      {"min_p", [](SamplingParams& s) { s.set_min_p(1.0); }},
      {"top_k", [](SamplingParams& s) { s.set_top_k(-1); }},
      {"max_new_tokens", [](SamplingParams& s) { s.set_max_new_tokens(-3); }},
      {"stop", [](SamplingParams& s) { s.add_stop(std::string(100'000, 'x')); }},
  };
  for (const auto& [field, set] : cases) {
    GenerateRequest request = Request(2, 8, 1.0);
    set(*request.mutable_sampling());
    absl::Status status;
    Run(request, &status);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << request.sampling().ShortDebugString() << ": " << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr(field)) << request.sampling().ShortDebugString();
  }
  EXPECT_TRUE(worker_->Running());
  // The floor itself and greedy are fine.
  EXPECT_EQ(Run(Request(1, 8, 1e-4)).size(), 2u);
  EXPECT_EQ(Run(Request(1, 8, 0.0)).size(), 2u);
}

TEST_F(RolloutServiceTest, PoisonedWeightUpdatesAreRefusedAndTheOldWeightsServe) {
  const std::string name = Tensors(2)[3].first;
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    auto tensors = Tensors(2);
    tensors[3].second.view(-1)[0] = bad;
    absl::StatusOr<UpdateWeightsResponse> refused = client_->UpdateWeights(tensors, 2);
    EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr(name));
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr("NaN or inf"));
  }
  // A NaN split across two chunks is found too: tensor 3 alone, in chunks of
  // 3 bytes, its value 1 (bytes 4-7) poisoned.
  {
    auto stub = RolloutService::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
    auto tensors = Tensors(2);
    const torch::Tensor poisoned = tensors[3].second.contiguous();
    poisoned.view(-1)[1] = std::numeric_limits<float>::quiet_NaN();
    const std::string bytes(static_cast<const char*>(poisoned.data_ptr()), poisoned.numel() * poisoned.element_size());
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(1)));
    UpdateWeightsResponse response;
    std::unique_ptr<grpc::ClientWriter<WeightUpdate>> writer = stub->UpdateWeights(&context, &response);
    for (size_t at = 0; at < bytes.size(); at += 3) {
      WeightUpdate message;
      if (at == 0) message.set_version(2);
      TensorChunk* chunk = message.mutable_chunk();
      chunk->set_name(name);
      for (int64_t d : poisoned.sizes()) chunk->add_shape(d);
      chunk->set_dtype("F32");
      chunk->set_data(bytes.substr(at, 3));
      chunk->set_last(at + 3 >= bytes.size());
      if (chunk->last()) chunk->set_crc32c(Crc32c(bytes));
      if (!writer->Write(message)) break;
    }
    writer->WritesDone();
    const grpc::Status status = writer->Finish();
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(name));
    EXPECT_THAT(status.error_message(), HasSubstr("NaN or inf"));
  }
  // A version far ahead would lock out every later update: refused.
  for (int64_t version : {std::numeric_limits<int64_t>::max(), int64_t{1} + 1'000'001}) {
    absl::StatusOr<UpdateWeightsResponse> refused = client_->UpdateWeights(Tensors(2), version);
    EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << version << ": " << refused.status();
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr("max_version_step"));
  }
  // A tensor sent twice.
  auto twice = Tensors(2);
  twice.push_back(twice[0]);
  absl::StatusOr<UpdateWeightsResponse> doubled = client_->UpdateWeights(twice, 2);
  EXPECT_TRUE(absl::IsInvalidArgument(doubled.status())) << doubled.status();
  EXPECT_THAT(std::string(doubled.status().message()), HasSubstr("twice"));
  EXPECT_EQ(client_->Status()->weight_version(), 1);
  // The largest allowed step is taken.
  absl::StatusOr<UpdateWeightsResponse> far = client_->UpdateWeights(Tensors(2), 1 + 1'000'000);
  ASSERT_TRUE(far.ok()) << far.status();
  EXPECT_EQ(client_->Status()->weight_version(), 1'000'001);
}

TEST_F(RolloutServiceTest, AnUpdateSendingMoreBytesThanATensorHoldsIsCutOff) {
  // Chunks of the first tensor without `last`, far past its size: the worker
  // refuses as soon as they pass it, instead of buffering them all (2 GiB of
  // such chunks once took a worker to 4.9 GB).
  auto stub = RolloutService::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  ASSERT_TRUE(client_->WaitUntilServing(absl::Seconds(20)).ok());
  const int64_t peak_before = ProcessMemory(worker_->pid(), "VmHWM");
  const auto tensors = Tensors(2);
  constexpr int64_t kChunk = 1 << 20, kChunks = 256;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(5)));
  UpdateWeightsResponse response;
  std::unique_ptr<grpc::ClientWriter<WeightUpdate>> writer = stub->UpdateWeights(&context, &response);
  int64_t sent = 0;
  for (int64_t i = 0; i < kChunks; ++i) {
    WeightUpdate message;
    if (i == 0) message.set_version(2);
    TensorChunk* chunk = message.mutable_chunk();
    chunk->set_name(tensors[0].first);
    for (int64_t d : tensors[0].second.sizes()) chunk->add_shape(d);
    chunk->set_dtype("F32");
    chunk->set_data(std::string(kChunk, '\0'));
    if (!writer->Write(message)) break;  // the worker has answered
    sent += kChunk;
  }
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr(tensors[0].first));
  const int64_t peak_after = ProcessMemory(worker_->pid(), "VmHWM");
  std::printf("oversized update: %lld MiB offered, %lld MiB written before the refusal; worker peak RSS %lld -> %lld MiB\n",
              static_cast<long long>(kChunks * kChunk >> 20), static_cast<long long>(sent >> 20),
              static_cast<long long>(peak_before >> 20), static_cast<long long>(peak_after >> 20));
  EXPECT_LT(peak_after - peak_before, 64 << 20);
  EXPECT_EQ(client_->Status()->weight_version(), 1);
  EXPECT_EQ(Run(Request(1, 4, 1.0)).size(), 2u);
}

// Weights through a shared-memory segment: written once, read by the worker,
// removed by the sender; what serves afterwards is the new model.
TEST_F(RolloutServiceTest, ASharedMemoryUpdateServesTheNewWeights) {
  std::string path;
  {
    absl::StatusOr<std::unique_ptr<SharedWeights>> shared = SharedWeights::Write(Tensors(2), 2);
    ASSERT_TRUE(shared.ok()) << shared.status();
    path = (*shared)->segment().path();
    EXPECT_TRUE(std::filesystem::exists(path));
    EXPECT_EQ(std::filesystem::status(path).permissions(),
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    absl::StatusOr<UpdateWeightsResponse> updated = client_->UpdateWeights(**shared);
    ASSERT_TRUE(updated.ok()) << updated.status();
    EXPECT_EQ(updated->version(), 2);
    EXPECT_EQ(updated->tensors(), static_cast<int>(Tensors(2).size()));
    ExpectGreedyOutputOf(2);
    // Later versions written over the same file: the worker, which keeps
    // the file mapped, reads the new bytes each time.
    for (const auto& [seed, version] : {std::pair{1, 3}, std::pair{2, 4}}) {
      ASSERT_TRUE((*shared)->Rewrite(Tensors(seed), version).ok());
      EXPECT_EQ((*shared)->segment().path(), path);
      updated = client_->UpdateWeights(**shared);
      ASSERT_TRUE(updated.ok()) << updated.status();
      ExpectGreedyOutputOf(seed, version);
    }
    // Tensors of another layout do not fit the file, and change nothing.
    auto fewer = Tensors(1);
    fewer.pop_back();
    EXPECT_TRUE(absl::IsFailedPrecondition((*shared)->Rewrite(fewer, 5)));
    auto reshaped = Tensors(1);
    reshaped[0].second = reshaped[0].second.reshape({-1});
    EXPECT_TRUE(absl::IsFailedPrecondition((*shared)->Rewrite(reshaped, 5)));
    auto halved = Tensors(1);
    halved[1].second = halved[1].second.to(torch::kBFloat16);
    EXPECT_TRUE(absl::IsFailedPrecondition((*shared)->Rewrite(halved, 5)));
    EXPECT_EQ((*shared)->version(), 4);
    updated = client_->UpdateWeights(**shared);
    EXPECT_TRUE(absl::IsFailedPrecondition(updated.status())) << updated.status();  // version 4 serves already
  }
  EXPECT_FALSE(std::filesystem::exists(path));  // the sender removed it
  ExpectGreedyOutputOf(2, 4);
}

// A segment update is refused, naming what is wrong, unless the file is
// where and what the worker accepts and every tensor checks out; the old
// weights serve meanwhile.
TEST_F(RolloutServiceTest, SharedMemoryUpdatesAreRefusedUnlessTheSegmentChecksOut) {
  auto stub = RolloutService::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  ASSERT_TRUE(client_->WaitUntilServing(absl::Seconds(20)).ok());
  absl::StatusOr<std::unique_ptr<SharedWeights>> shared = SharedWeights::Write(Tensors(2), 2);
  ASSERT_TRUE(shared.ok()) << shared.status();
  const SharedSegment& good = (*shared)->segment();
  // Sends `segment` (then `extra` more messages) and returns the status.
  auto send = [&](const SharedSegment& segment, int extra = 0) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(1)));
    UpdateWeightsResponse response;
    std::unique_ptr<grpc::ClientWriter<WeightUpdate>> writer = stub->UpdateWeights(&context, &response);
    WeightUpdate message;
    message.set_version(2);
    *message.mutable_segment() = segment;
    writer->Write(message);
    for (int i = 0; i < extra; ++i) writer->Write(WeightUpdate());
    writer->WritesDone();
    return writer->Finish();
  };
  auto expect_refused = [&](const SharedSegment& segment, const std::string& why, int extra = 0) {
    const grpc::Status status = send(segment, extra);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << why << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(why));
  };
  SharedSegment other = good;
  for (const char* path : {"/tmp/r1-weights-x", "/dev/shm/r1-weights-a/../../etc/passwd", "/dev/shm/r1-weights-"}) {
    other.set_path(path);
    expect_refused(other, "must be a file /dev/shm/r1-weights-*");
  }
  other.set_path("/dev/shm/r1-weights-missing-file");
  expect_refused(other, "cannot open");
  // A link to a good segment is not followed.
  const std::string link = absl::StrCat("/dev/shm/r1-weights-link-", getpid());
  std::filesystem::create_symlink(good.path(), link);
  other.set_path(link);
  expect_refused(other, "cannot open");
  std::filesystem::remove(link);
  // Readable by others.
  std::filesystem::permissions(good.path(), std::filesystem::perms::group_read, std::filesystem::perm_options::add);
  expect_refused(good, "mode 0600");
  std::filesystem::permissions(good.path(), std::filesystem::perms::group_read, std::filesystem::perm_options::remove);
  // A tensor past the end of the file, or a byte count its shape does not need.
  other = good;
  other.mutable_tensors(0)->set_offset(std::filesystem::file_size(good.path()));
  expect_refused(other, "do not fit");
  other = good;
  other.mutable_tensors(0)->set_bytes(good.tensors(0).bytes() + 4);
  expect_refused(other, "do not fit");
  // A tensor missing, or a message after the segment.
  other = good;
  other.mutable_tensors()->RemoveLast();
  expect_refused(other, "lacks tensor");
  expect_refused(good, "one message", /*extra=*/1);
  // A byte changed after the sender's checksum.
  {
    std::FILE* f = std::fopen(good.path().c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, static_cast<long>(good.tensors(1).offset()), SEEK_SET);
    const int byte = std::fgetc(f);
    std::fseek(f, static_cast<long>(good.tensors(1).offset()), SEEK_SET);
    std::fputc(byte ^ 0x40, f);
    std::fclose(f);
    expect_refused(good, absl::StrCat("tensor \"", good.tensors(1).name(), "\" fails its CRC-32C"));
  }
  EXPECT_EQ(client_->Status()->weight_version(), 1);
  EXPECT_EQ(Run(Request(1, 4, 1.0)).size(), 2u);
  // A good segment after all that is taken.
  absl::StatusOr<std::unique_ptr<SharedWeights>> fresh = SharedWeights::Write(Tensors(2), 2);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  absl::StatusOr<UpdateWeightsResponse> updated = client_->UpdateWeights(**fresh);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(client_->Status()->weight_version(), 2);
}

TEST_F(RolloutServiceTest, AnEngineFailureFailsThatCallAndTheWorkerServesOn) {
  // Finite weights whose forward pass overflows: the final norm's output
  // reaches float32's limit, so the logits are inf and NaN.
  auto overflowing = Tensors(2);
  Find(overflowing, "model.norm.weight").fill_(3.3e38);
  ASSERT_TRUE(client_->UpdateWeights(overflowing, 2).ok());
  for (double temperature : {1.0, 0.0}) {
    absl::Status status;
    Run(Request(2, 8, temperature), &status);
    EXPECT_TRUE(absl::IsInternal(status)) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("non-finite logits"));
  }
  ScoreTokensRequest score;
  Prompt* seq = score.add_sequences();
  const std::vector<int> prompt_ids = *EncodePrompt(*tokenizer_, "What is 2 + 2?");
  for (int id : prompt_ids) seq->add_token_ids(id);
  score.set_completion_start(1);
  score.set_top_k(2);
  absl::StatusOr<ScoreTokensResponse> scored = client_->ScoreTokens(score);
  EXPECT_TRUE(absl::IsInternal(scored.status())) << scored.status();
  // The worker is alive and takes the next update; generation works again.
  EXPECT_TRUE(worker_->Running());
  ASSERT_TRUE(client_->UpdateWeights(Tensors(2), 3).ok());
  const GenerateRequest request = Request(2, 8, 0.0);
  const std::vector<Completion> got = Run(request);
  const std::vector<model::Completion> want = Expected(Ckpt(2), request);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(std::vector<int>(got[i].token_ids().begin(), got[i].token_ids().end()), want[i].tokens);
    EXPECT_EQ(got[i].weight_version(), 3);
  }
  EXPECT_TRUE(client_->ScoreTokens(score).ok());
}

TEST_F(RolloutServiceTest, ScoreTokensIsCappedPerCall) {
  ScoreTokensRequest request;
  request.set_completion_start(1);
  request.set_top_k(2);
  for (int i = 0; i < 65; ++i) {
    Prompt* seq = request.add_sequences();
    seq->set_id(absl::StrCat(i));
    const std::vector<int> prompt_ids = *EncodePrompt(*tokenizer_, "What is 2 + 2?");
    for (int id : prompt_ids) seq->add_token_ids(id);
  }
  absl::StatusOr<ScoreTokensResponse> many = client_->ScoreTokens(request);  // the default is 64 sequences
  EXPECT_TRUE(absl::IsResourceExhausted(many.status())) << many.status();
  EXPECT_THAT(std::string(many.status().message()), HasSubstr("--max_score_sequences"));
  request.mutable_sequences()->DeleteSubrange(2, 63);
  request.set_temperature(std::numeric_limits<double>::quiet_NaN());
  EXPECT_TRUE(absl::IsInvalidArgument(client_->ScoreTokens(request).status()));
  request.set_temperature(0);
  ASSERT_TRUE(client_->ScoreTokens(request).ok());

  // A worker that takes one of these sequences per call, not two.
  const int tokens = request.sequences(0).token_ids_size();
  std::unique_ptr<Subprocess> small;
  const std::string address =
      StartWorker(Ckpt(1), 1, 2, small, {"--max_score_tokens", absl::StrCat(tokens + 1)});
  auto client = RolloutClient::Connect(address);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->WaitUntilServing(absl::Seconds(20)).ok());
  absl::StatusOr<ScoreTokensResponse> long_call = (*client)->ScoreTokens(request);
  EXPECT_TRUE(absl::IsResourceExhausted(long_call.status())) << long_call.status();
  EXPECT_THAT(std::string(long_call.status().message()), HasSubstr("--max_score_tokens"));
  request.mutable_sequences()->DeleteSubrange(1, 1);
  EXPECT_TRUE((*client)->ScoreTokens(request).ok());
}


// Workers started by the test itself, with their own flags.
class RolloutSecurityTest : public RolloutServiceTest {
 protected:
  void SetUp() override {}

  // A request of about `bytes` bytes: one prompt whose id is that long.
  static GenerateRequest Huge(int64_t bytes) {
    GenerateRequest request = Request(1, 4, 1.0);
    request.mutable_prompts(0)->set_id(std::string(static_cast<size_t>(bytes), 'x'));
    return request;
  }
};

TEST_F(RolloutSecurityTest, ATokenIsCheckedBeforeTheRequestIsRead) {
  const std::string token_file = (dir_ / absl::StrCat("token_", getpid())).string();
  ASSERT_TRUE(WriteFileAtomically(token_file, "s3cret\n").ok());
  std::unique_ptr<Subprocess> worker;
  const std::string address = StartWorker(Ckpt(1), 1, 2, worker, {"--token_file", token_file});
  // Health checks need no token (probes carry no secrets).
  auto anonymous = RolloutClient::Connect(address);
  ASSERT_TRUE(anonymous.ok());
  ASSERT_TRUE((*anonymous)->WaitUntilServing(absl::Seconds(20)).ok());

  // Large calls without the token or with a wrong one: refused from their
  // headers, so the worker never holds their 200 MiB.
  constexpr int64_t kBytes = 200 << 20;
  const GenerateRequest huge = Huge(kBytes);
  auto wrong = RolloutClient::Connect(address, {.token = "guess"});
  ASSERT_TRUE(wrong.ok());
  const int64_t rss_before = ProcessMemory(worker->pid(), "VmRSS");
  const int64_t peak_before = ProcessMemory(worker->pid(), "VmHWM");
  for (RolloutClient* client : {anonymous->get(), wrong->get(), anonymous->get(), wrong->get()}) {
    const absl::Status status = client->Generate(huge, [](const Completion&) {});
    EXPECT_TRUE(absl::IsUnauthenticated(status)) << status;
  }
  const int64_t rss_after = ProcessMemory(worker->pid(), "VmRSS");
  const int64_t peak_after = ProcessMemory(worker->pid(), "VmHWM");
  std::printf("4 tokenless/wrong-token Generate calls of %lld MiB: worker RSS %lld -> %lld MiB, peak %lld -> %lld MiB\n",
              static_cast<long long>(kBytes >> 20), static_cast<long long>(rss_before >> 20),
              static_cast<long long>(rss_after >> 20), static_cast<long long>(peak_before >> 20),
              static_cast<long long>(peak_after >> 20));
  EXPECT_LT(peak_after - peak_before, kBytes / 4);
  // Every method needs the token, not only Generate.
  EXPECT_TRUE(absl::IsUnauthenticated((*anonymous)->Status().status()));
  EXPECT_TRUE(absl::IsUnauthenticated((*wrong)->UpdateWeights(Tensors(2), 2).status()));
  EXPECT_TRUE(absl::IsUnauthenticated((*anonymous)->ScoreTokens(ScoreTokensRequest()).status()));

  // The right token works, through a client and through a pool.
  auto right = RolloutClient::Connect(address, {.token = "s3cret"});
  ASSERT_TRUE(right.ok());
  std::vector<Completion> completions;
  ASSERT_TRUE((*right)->Generate(Request(1, 4, 1.0), [&](const Completion& c) { completions.push_back(c); }).ok());
  EXPECT_EQ(completions.size(), 2u);
  ASSERT_TRUE((*right)->UpdateWeights(Tensors(2), 2).ok());
  EXPECT_EQ((*right)->Status()->weight_version(), 2);
  PoolOptions options;
  options.addresses = {address};
  options.client.token = "s3cret";
  auto pool = RolloutPool::Create(options);
  ASSERT_TRUE(pool.ok()) << pool.status();
  const GenerateRequest small = Request(1, 4, 1.0);
  int delivered = 0;
  ASSERT_TRUE((*pool)->Generate({small.prompts().begin(), small.prompts().end()}, 1, small.sampling(),
                                [&](int, std::vector<Completion>) { ++delivered; }).ok());
  EXPECT_EQ(delivered, 2);
}

TEST_F(RolloutSecurityTest, ServesTlsWithAToken) {
  const std::string key = (dir_ / absl::StrCat("key_", getpid(), ".pem")).string();
  const std::string cert = (dir_ / absl::StrCat("cert_", getpid(), ".pem")).string();
  const std::string command =
      absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost ",
                   "-addext subjectAltName=DNS:localhost -keyout ", key, " -out ", cert, " >/dev/null 2>&1");
  ASSERT_EQ(std::system(command.c_str()), 0) << "openssl failed";
  const std::string token_file = (dir_ / absl::StrCat("tls_token_", getpid())).string();
  ASSERT_TRUE(WriteFileAtomically(token_file, "t0ken").ok());
  std::unique_ptr<Subprocess> worker;
  const std::string address =
      StartWorker(Ckpt(1), 1, 2, worker, {"--tls_cert", cert, "--tls_key", key, "--token_file", token_file});
  const ClientOptions tls = {.token = "t0ken", .tls_root_cert_file = cert, .tls_server_name = "localhost"};
  auto client = RolloutClient::Connect(address, tls);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->WaitUntilServing(absl::Seconds(20)).ok());
  int got = 0;
  ASSERT_TRUE((*client)->Generate(Request(1, 4, 1.0), [&](const Completion&) { ++got; }).ok());
  EXPECT_EQ(got, 2);
  PoolOptions options;
  options.addresses = {address};
  options.client = tls;
  auto pool = RolloutPool::Create(options);
  ASSERT_TRUE(pool.ok());
  const std::vector<PushResult> pushed = (*pool)->PushWeights(Tensors(2), 2);
  ASSERT_EQ(pushed.size(), 1u);
  EXPECT_TRUE(pushed[0].status.ok()) << pushed[0].status;
  // TLS without the token, and plaintext, are refused.
  auto tokenless = RolloutClient::Connect(address, {.tls_root_cert_file = cert, .tls_server_name = "localhost"});
  EXPECT_TRUE(absl::IsUnauthenticated((*tokenless)->Status().status()));
  auto plain = RolloutClient::Connect(address, {.token = "t0ken"});
  EXPECT_FALSE((*plain)->Status(absl::Seconds(3)).ok());
}

TEST_F(RolloutSecurityTest, ACheckpointWithNonFiniteWeightsIsRefusedAtStart) {
  absl::StatusOr<model::CausalLm> model = model::LoadModel(Ckpt(1));
  ASSERT_TRUE(model.ok());
  auto tensors = model::NamedTensors(**model);
  {
    torch::NoGradGuard no_grad;
    tensors[2].second.view(-1)[1] = std::numeric_limits<float>::quiet_NaN();
  }
  const std::string ckpt = (dir_ / absl::StrCat("nan_ckpt_", getpid())).string();
  ASSERT_TRUE(model::SaveCheckpoint(ckpt, **model, tokenizer_, nullptr).ok());
  const char* bin = std::getenv("R1_BIN_DIR");
  const std::string err = (dir_ / absl::StrCat("nan_worker_", getpid(), ".err")).string();
  auto worker = Subprocess::Start({absl::StrCat(bin != nullptr ? bin : "build/bin", "/r1"), "rollout", "serve",
                                   "--ckpt", ckpt, "--threads", "1"},
                                  {.stdout_path = err + ".out", .stderr_path = err});
  ASSERT_TRUE(worker.ok()) << worker.status();
  EXPECT_EQ((*worker)->Wait(absl::Seconds(60)).value_or(-1), 1);
  const std::string message = ReadFile(err).value_or("");
  EXPECT_THAT(message, HasSubstr(tensors[2].first));
  EXPECT_THAT(message, HasSubstr("NaN or inf"));
}


// The pool over several worker processes.
class RolloutPoolTest : public RolloutServiceTest {
 protected:
  void SetUp() override {
    // 8 slots: a request carries 4 prompts of 2 samples, so a worker killed
    // while another prompt is delivered still has prompts in flight.
    for (int i = 0; i < 2; ++i) addresses_.push_back(StartWorker(Ckpt(1), 1, 8, workers_[i]));
    address_file_ = (dir_ / absl::StrCat("workers_", getpid())).string();
    ASSERT_TRUE(WriteFileAtomically(address_file_, absl::StrCat(addresses_[0], "\n", addresses_[1], "\n")).ok());
    PoolOptions options;
    options.address_file = address_file_;
    auto pool = RolloutPool::Create(options);
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
    for (const std::string& a : addresses_) ASSERT_TRUE(RolloutClient::Connect(a).value()->WaitUntilServing(absl::Seconds(20)).ok());
  }
  void TearDown() override {
    for (auto& w : workers_) w.reset();
  }

  static std::vector<Prompt> Prompts(int count) {
    std::vector<Prompt> prompts;
    for (int i = 0; i < count; ++i) {
      Prompt p;
      p.set_id(absl::StrCat("p", i));
      const std::vector<int> prompt_ids = *EncodePrompt(*tokenizer_, absl::StrCat("What is ", i, " + ", i * 3, "?"));
      for (int id : prompt_ids) p.add_token_ids(id);
      prompts.push_back(p);
    }
    return prompts;
  }

  static SamplingParams Sampling(int max_new_tokens) {
    SamplingParams s;
    s.set_temperature(1.0);
    s.set_max_new_tokens(max_new_tokens);
    s.set_seed(9);
    return s;
  }

  std::vector<std::string> addresses_;
  std::unique_ptr<Subprocess> workers_[3];
  std::string address_file_;
  std::unique_ptr<RolloutPool> pool_;
};

TEST_F(RolloutPoolTest, EveryPromptOnceAndTheSameAsOneGeneratorWhateverTheSplit) {
  const std::vector<Prompt> prompts = Prompts(8);
  std::map<int, std::vector<Completion>> got;
  std::mutex mu;
  ASSERT_TRUE(pool_->Generate(prompts, 2, Sampling(12), [&](int p, std::vector<Completion> c) {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_FALSE(got.count(p)) << "prompt " << p << " delivered twice";
    got[p] = std::move(c);
  }).ok());
  ASSERT_EQ(got.size(), 8u);
  // In-process: every sample a row, in (prompt, sample) order.
  absl::StatusOr<model::CausalLm> model = model::LoadModel(Ckpt(1));
  std::vector<std::vector<int>> rows;
  for (const Prompt& p : prompts) rows.insert(rows.end(), 2, std::vector<int>(p.token_ids().begin(), p.token_ids().end()));
  model::GenerationParams params;
  params.max_new_tokens = 12;
  params.seed = 9;
  const auto want = model::Generate(**model, *tokenizer_, rows, params);
  for (int p = 0; p < 8; ++p) {
    ASSERT_EQ(got[p].size(), 2u);
    for (int k = 0; k < 2; ++k) {
      EXPECT_EQ(got[p][k].sample_index(), k);
      EXPECT_EQ(std::vector<int>(got[p][k].token_ids().begin(), got[p][k].token_ids().end()),
                want[static_cast<size_t>(p * 2 + k)].tokens);
    }
  }
}

TEST_F(RolloutPoolTest, AWorkerKilledMidBatchLosesNoPrompt) {
  const std::vector<Prompt> prompts = Prompts(12);
  std::map<int, int> deliveries;
  std::mutex mu;
  bool killed = false;
  const absl::Status status = pool_->Generate(prompts, 2, Sampling(48), [&](int p, std::vector<Completion> c) {
    std::lock_guard<std::mutex> lock(mu);
    ++deliveries[p];
    EXPECT_EQ(c.size(), 2u);
    if (!killed) {
      workers_[0]->Signal(SIGKILL);  // mid-batch: the other prompts are still running
      killed = true;
    }
  });
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(deliveries.size(), 12u);
  for (const auto& [p, n] : deliveries) EXPECT_EQ(n, 1) << "prompt " << p;
  EXPECT_GE(pool_->stats().worker_failures, 1);
  EXPECT_GE(pool_->stats().redispatched_prompts, 1);
}

TEST_F(RolloutPoolTest, AHostNameStandsForEveryAddressItResolvesTo) {
  // As a Kubernetes headless Service name would: "localhost" -> 127.0.0.1.
  const std::string port = addresses_[0].substr(addresses_[0].rfind(':') + 1);
  PoolOptions options;
  options.addresses = {absl::StrCat("localhost:", port)};
  auto pool = RolloutPool::Create(options);
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ((*pool)->addresses(), std::vector<std::string>{addresses_[0]});
  int delivered = 0;
  ASSERT_TRUE((*pool)->Generate(Prompts(2), 1, Sampling(4), [&](int, std::vector<Completion>) { ++delivered; }).ok());
  EXPECT_EQ(delivered, 2);
}

TEST_F(RolloutPoolTest, WeightsReachEveryWorkerAndALateWorkerCatchesUp) {
  absl::StatusOr<model::CausalLm> other = model::LoadModel(Ckpt(2));
  ASSERT_TRUE(other.ok());
  const std::vector<PushResult> pushed = pool_->PushWeights(model::NamedTensors(**other), 2);
  ASSERT_EQ(pushed.size(), 2u);
  for (const PushResult& r : pushed) {
    EXPECT_TRUE(r.status.ok()) << r.address << ": " << r.status;
    EXPECT_EQ(r.version, 2);
  }
  // Both workers are on loopback: one segment, read by both.
  auto segments = [] {
    std::vector<std::string> ours;
    for (const auto& entry : std::filesystem::directory_iterator("/dev/shm")) {
      const std::string name = entry.path().filename().string();
      if (absl::StartsWith(name, absl::StrCat("r1-weights-", getpid(), "-"))) ours.push_back(name);
    }
    return ours;
  };
  EXPECT_EQ(pool_->stats().shared_memory_pushes, 2);
  EXPECT_EQ(pool_->stats().shared_memory_segments, 1);
  const std::vector<std::string> first_segment = segments();
  EXPECT_EQ(first_segment.size(), 1u);
  // The next version goes over the same file; both workers serve it.
  for (const PushResult& r : pool_->PushWeights(Tensors(1), 3)) {
    EXPECT_TRUE(r.status.ok()) << r.address << ": " << r.status;
    EXPECT_EQ(r.version, 3);
  }
  EXPECT_EQ(pool_->stats().shared_memory_pushes, 4);
  EXPECT_EQ(pool_->stats().shared_memory_segments, 1);
  EXPECT_EQ(segments(), first_segment);
  for (int w = 0; w < 2; ++w) {
    const GenerateRequest request = Request(2, 8, 0.0);
    std::vector<Completion> got;
    ASSERT_TRUE(RolloutClient::Connect(addresses_[static_cast<size_t>(w)])
                    .value()
                    ->Generate(request, [&](const Completion& c) { got.push_back(c); })
                    .ok());
    const std::vector<model::Completion> want = Expected(Ckpt(1), request);
    ASSERT_EQ(got.size(), want.size());
    for (const Completion& c : got) {  // in the order they finished
      EXPECT_EQ(c.weight_version(), 3);
      const int row = c.prompt_index() * request.samples_per_prompt() + c.sample_index();
      EXPECT_EQ(std::vector<int>(c.token_ids().begin(), c.token_ids().end()), want[static_cast<size_t>(row)].tokens);
    }
  }
  // Back to checkpoint 2 as version 4, so the rest of this test reads as before.
  for (const PushResult& r : pool_->PushWeights(model::NamedTensors(**other), 4)) {
    EXPECT_TRUE(r.status.ok()) << r.address << ": " << r.status;
  }
  // A third worker joins on the old weights, through the address file.
  addresses_.push_back(StartWorker(Ckpt(1), 1, 2, workers_[2]));
  ASSERT_TRUE(RolloutClient::Connect(addresses_[2]).value()->WaitUntilServing(absl::Seconds(20)).ok());
  ASSERT_TRUE(WriteFileAtomically(address_file_, absl::StrCat(addresses_[0], "\n", addresses_[1], "\n",
                                                              addresses_[2], "\n")).ok());
  std::vector<Completion> all;
  std::mutex mu;
  ASSERT_TRUE(pool_->Generate(Prompts(6), 1, Sampling(8), [&](int, std::vector<Completion> c) {
    std::lock_guard<std::mutex> lock(mu);
    all.insert(all.end(), c.begin(), c.end());
  }).ok());
  EXPECT_EQ(pool_->addresses().size(), 3u);
  EXPECT_EQ(all.size(), 6u);
  for (const Completion& c : all) EXPECT_EQ(c.weight_version(), 4);
  EXPECT_EQ(RolloutClient::Connect(addresses_[2]).value()->Status()->weight_version(), 4);
  EXPECT_GE(pool_->stats().catch_up_pushes, 1);
  // The pool removes its segment when it goes.
  pool_.reset();
  EXPECT_TRUE(segments().empty());
}

}  // namespace
}  // namespace r1::rollout
