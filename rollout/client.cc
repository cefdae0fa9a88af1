#include "rollout/client.h"

#include <grpcpp/grpcpp.h>
#include <torch/torch.h>

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
    const char* dtype = cpu.scalar_type() == torch::kFloat32 ? "F32"
                        : cpu.scalar_type() == torch::kBFloat16 ? "BF16"
                        : cpu.scalar_type() == torch::kHalf ? "F16" : nullptr;
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
