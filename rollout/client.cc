#include "rollout/client.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/mman.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "proto/rollout.grpc.pb.h"
#include "rpc/channel.h"
#include "rpc/status.h"

namespace r1::rollout {

struct RolloutClient::Channel {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<RolloutService::Stub> stub;
  rpc::ChannelOptions options;
};

RolloutClient::RolloutClient(std::unique_ptr<Channel> channel) : channel_(std::move(channel)) {}
RolloutClient::~RolloutClient() = default;

absl::StatusOr<std::unique_ptr<RolloutClient>> RolloutClient::Connect(const std::string& address,
                                                                      const ClientOptions& options) {
  auto channel = std::make_unique<Channel>();
  channel->options.token = options.token;
  channel->options.tls_root_cert_file = options.tls_root_cert_file;
  channel->options.tls_server_name = options.tls_server_name;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> made = rpc::MakeChannel(address, channel->options);
  if (!made.ok()) return made.status();
  channel->channel = *made;
  channel->stub = RolloutService::NewStub(channel->channel);
  return std::unique_ptr<RolloutClient>(new RolloutClient(std::move(channel)));
}

absl::Status RolloutClient::Generate(const GenerateRequest& request,
                                     const std::function<void(const Completion&)>& on_completion,
                                     absl::Duration timeout) {
  grpc::ClientContext context;
  rpc::PrepareContext(context, channel_->options, timeout);
  std::unique_ptr<grpc::ClientReader<Completion>> reader = channel_->stub->Generate(&context, request);
  Completion completion;
  while (reader->Read(&completion)) on_completion(completion);
  return rpc::FromGrpc(reader->Finish());
}

namespace {

// The wire name of a weight dtype (safetensors' names); nullptr for others.
const char* WireDtype(torch::ScalarType type) {
  return type == torch::kFloat32 ? "F32" : type == torch::kBFloat16 ? "BF16" : type == torch::kHalf ? "F16" : nullptr;
}

// Where SharedWeights::Write puts its files; the worker accepts no others.
constexpr char kSegmentDir[] = "/dev/shm";

}  // namespace

namespace {

// A tensor as the segment holds it: on the CPU, contiguous, a weight dtype.
absl::StatusOr<torch::Tensor> SegmentTensor(const std::string& name, const torch::Tensor& tensor) {
  torch::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();
  if (WireDtype(cpu.scalar_type()) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", name, ": unsupported dtype"));
  }
  return cpu;
}

// Copies `bytes` from `from` to `to` block by block, checksumming each block
// while it is in cache: one pass over the tensor, not two.
uint32_t CopyWithCrc(char* to, const char* from, uint64_t bytes) {
  constexpr uint64_t kBlock = 256 << 10;
  uint32_t crc = 0;
  for (uint64_t done = 0; done < bytes; done += kBlock) {
    const uint64_t block = std::min(kBlock, bytes - done);
    std::memcpy(to + done, from + done, block);
    crc = Crc32c(absl::string_view(to + done, block), crc);
  }
  return crc;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SharedWeights>> SharedWeights::Write(
    const std::vector<std::pair<std::string, torch::Tensor>>& tensors, int64_t version) {
  static std::atomic<int64_t> counter{0};
  std::unique_ptr<SharedWeights> weights(new SharedWeights());
  // The layout first: every tensor's place, so the file is sized once.
  std::vector<torch::Tensor> cpu;
  uint64_t size = 0;
  for (const auto& [name, tensor] : tensors) {
    absl::StatusOr<torch::Tensor> t = SegmentTensor(name, tensor);
    if (!t.ok()) return t.status();
    cpu.push_back(*t);
    SharedTensor* entry = weights->segment_.add_tensors();
    entry->set_name(name);
    for (int64_t d : t->sizes()) entry->add_shape(d);
    entry->set_dtype(WireDtype(t->scalar_type()));
    entry->set_offset(size);
    entry->set_bytes(static_cast<uint64_t>(t->numel()) * t->element_size());
    size = (size + entry->bytes() + 63) / 64 * 64;  // each tensor starts on a cache line
  }
  const std::string path = absl::StrCat(kSegmentDir, "/r1-weights-", getpid(), "-", counter++);
  // Exclusive and private: nothing else may have created it first, and no
  // other user may read or change it.
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  weights->segment_.set_path(path);  // from here on the destructor removes it
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  if (size > 0) {
    // Allocated up front: a full /dev/shm fails here with ENOSPC, not later
    // with SIGBUS when a store into the mapping finds no page.
    if (const int error = posix_fallocate(fd, 0, static_cast<off_t>(size)); error != 0) {
      return absl::InternalError(absl::StrCat("cannot allocate ", size, " bytes for ", path, ": ", std::strerror(error)));
    }
    void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) return absl::InternalError(absl::StrCat("cannot map ", path, ": ", std::strerror(errno)));
    weights->base_ = static_cast<char*>(base);
    weights->size_ = size;
  }
  weights->version_ = version;
  for (size_t i = 0; i < cpu.size(); ++i) {
    SharedTensor* entry = weights->segment_.mutable_tensors(static_cast<int>(i));
    entry->set_crc32c(CopyWithCrc(weights->base_ + entry->offset(), static_cast<const char*>(cpu[i].data_ptr()),
                                  entry->bytes()));
  }
  return weights;
}

absl::Status SharedWeights::Rewrite(const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                                    int64_t version) {
  if (tensors.size() != static_cast<size_t>(segment_.tensors_size())) {
    return absl::FailedPreconditionError(absl::StrCat("the segment holds ", segment_.tensors_size(), " tensors, not ",
                                                      tensors.size()));
  }
  // Every tensor is checked against the layout before any byte changes.
  std::vector<torch::Tensor> cpu;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, tensor] = tensors[i];
    const SharedTensor& entry = segment_.tensors(static_cast<int>(i));
    absl::StatusOr<torch::Tensor> t = SegmentTensor(name, tensor);
    if (!t.ok()) return t.status();
    const std::vector<int64_t> shape(entry.shape().begin(), entry.shape().end());
    if (entry.name() != name || t->sizes().vec() != shape || entry.dtype() != WireDtype(t->scalar_type())) {
      return absl::FailedPreconditionError(
          absl::StrCat("tensor ", i, " (", name, ") differs from the segment's (", entry.name(), ")"));
    }
    cpu.push_back(*t);
  }
  version_ = version;
  for (size_t i = 0; i < cpu.size(); ++i) {
    SharedTensor* entry = segment_.mutable_tensors(static_cast<int>(i));
    entry->set_crc32c(CopyWithCrc(base_ + entry->offset(), static_cast<const char*>(cpu[i].data_ptr()), entry->bytes()));
  }
  return absl::OkStatus();
}

SharedWeights::~SharedWeights() {
  if (base_ != nullptr) munmap(base_, size_);
  if (!segment_.path().empty()) unlink(segment_.path().c_str());
}

absl::StatusOr<UpdateWeightsResponse> RolloutClient::UpdateWeights(const SharedWeights& weights,
                                                                   absl::Duration timeout) {
  grpc::ClientContext context;
  rpc::PrepareContext(context, channel_->options, timeout);
  UpdateWeightsResponse response;
  std::unique_ptr<grpc::ClientWriter<WeightUpdate>> writer = channel_->stub->UpdateWeights(&context, &response);
  WeightUpdate message;
  message.set_version(weights.version());
  *message.mutable_segment() = weights.segment();
  writer->Write(message);  // when this fails, Finish says why
  writer->WritesDone();
  const absl::Status status = rpc::FromGrpc(writer->Finish());
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<UpdateWeightsResponse> RolloutClient::UpdateWeights(
    const std::vector<std::pair<std::string, torch::Tensor>>& tensors, int64_t version, int64_t chunk_bytes,
    absl::Duration timeout) {
  if (chunk_bytes <= 0) return absl::InvalidArgumentError("chunk_bytes must be > 0");
  grpc::ClientContext context;
  rpc::PrepareContext(context, channel_->options, timeout);
  UpdateWeightsResponse response;
  std::unique_ptr<grpc::ClientWriter<WeightUpdate>> writer = channel_->stub->UpdateWeights(&context, &response);
  bool first = true;
  for (const auto& [name, tensor] : tensors) {
    const torch::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();
    const char* dtype = WireDtype(cpu.scalar_type());
    if (dtype == nullptr) return absl::InvalidArgumentError(absl::StrCat("tensor ", name, ": unsupported dtype"));
    const absl::string_view bytes(static_cast<const char*>(cpu.data_ptr()), cpu.numel() * cpu.element_size());
    const uint32_t crc = Crc32c(bytes);
    size_t offset = 0;
    do {
      WeightUpdate message;
      if (first) message.set_version(version);
      first = false;
      TensorChunk* chunk = message.mutable_chunk();
      chunk->set_name(name);
      if (offset == 0) {
        for (int64_t d : cpu.sizes()) chunk->add_shape(d);
        chunk->set_dtype(dtype);
      }
      const size_t n = std::min<size_t>(static_cast<size_t>(chunk_bytes), bytes.size() - offset);
      chunk->set_data(bytes.data() + offset, n);
      offset += n;
      if (offset == bytes.size()) {
        chunk->set_last(true);
        chunk->set_crc32c(crc);
      }
      if (!writer->Write(message)) break;  // the worker stopped reading; Finish says why
    } while (offset < bytes.size());
  }
  writer->WritesDone();
  const absl::Status status = rpc::FromGrpc(writer->Finish());
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<ScoreTokensResponse> RolloutClient::ScoreTokens(const ScoreTokensRequest& request,
                                                               absl::Duration timeout) {
  grpc::ClientContext context;
  rpc::PrepareContext(context, channel_->options, timeout);
  ScoreTokensResponse response;
  const absl::Status status = rpc::FromGrpc(channel_->stub->ScoreTokens(&context, request, &response));
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<WorkerStatus> RolloutClient::Status(absl::Duration timeout) {
  grpc::ClientContext context;
  rpc::PrepareContext(context, channel_->options, timeout);
  WorkerStatus response;
  const absl::Status status = rpc::FromGrpc(channel_->stub->Status(&context, StatusRequest(), &response));
  if (!status.ok()) return status;
  return response;
}

absl::Status RolloutClient::WaitUntilServing(absl::Duration timeout) {
  return rpc::CheckHealth(*channel_->channel, "", timeout);
}

}  // namespace r1::rollout
