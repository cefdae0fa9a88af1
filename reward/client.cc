#include "reward/client.h"

#include <grpcpp/grpcpp.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "proto/reward.grpc.pb.h"
#include "rpc/channel.h"
#include "rpc/status.h"

namespace r1::reward {

struct RewardClient::Channel {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<RewardService::Stub> stub;
  rpc::ChannelOptions options;
};

RewardClient::RewardClient(std::unique_ptr<Channel> channel, ClientOptions options)
    : channel_(std::move(channel)), options_(std::move(options)) {}
RewardClient::~RewardClient() = default;

absl::StatusOr<std::unique_ptr<RewardClient>> RewardClient::Connect(const std::string& address,
                                                                    const ClientOptions& options) {
  auto channel = std::make_unique<Channel>();
  channel->options.tls_root_cert_file = options.tls_root_cert_file;
  channel->options.tls_server_name = options.tls_server_name;
  channel->options.token = options.token;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> made = rpc::MakeChannel(address, channel->options);
  if (!made.ok()) return made.status();
  channel->channel = std::move(*made);
  channel->stub = RewardService::NewStub(channel->channel);
  return std::unique_ptr<RewardClient>(new RewardClient(std::move(channel), options));
}

absl::StatusOr<std::vector<ScoreResult>> RewardClient::Score(const std::vector<ScoreItem>& items) {
  ScoreRequest request;
  for (const ScoreItem& item : items) *request.add_items() = item;
  absl::Duration backoff = options_.initial_backoff;
  absl::Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    grpc::ClientContext context;
    rpc::PrepareContext(context, channel_->options, options_.timeout);
    ScoreResponse response;
    const grpc::Status status = channel_->stub->Score(&context, request, &response);
    if (status.ok()) {
      if (response.results_size() != request.items_size()) {
        return absl::InternalError(absl::StrCat("reward service returned ", response.results_size(),
                                                " results for ", request.items_size(), " items"));
      }
      return std::vector<ScoreResult>(response.results().begin(), response.results().end());
    }
    last = rpc::FromGrpc(status);
    if (status.error_code() != grpc::UNAVAILABLE) break;
    if (attempt < options_.max_attempts) {
      std::this_thread::sleep_for(absl::ToChronoMilliseconds(backoff));
      backoff *= 2;
    }
  }
  return absl::Status(last.code(), absl::StrCat("reward service: ", last.message()));
}

absl::Status RewardClient::WaitUntilServing(absl::Duration timeout) {
  return rpc::CheckHealth(*channel_->channel, "", timeout);
}

ScoreItem ScoreItemFor(const data::PromptRecord& prompt, const std::string& completion, int completion_tokens,
                       bool truncated) {
  ScoreItem item;
  item.set_prompt(prompt.prompt());
  item.set_completion(completion);
  item.set_reference(prompt.answer());
  item.set_task(prompt.task());
  item.mutable_numbers()->Add(prompt.numbers().begin(), prompt.numbers().end());
  for (const data::TestCase& test : prompt.tests()) {
    CodeTest* code_test = item.add_tests();
    code_test->set_input(test.input());
    code_test->set_output(test.output());
  }
  item.set_entry_point(prompt.entry_point());
  if (!prompt.compare().empty()) item.set_compare(prompt.compare());
  item.set_completion_tokens(completion_tokens);
  item.set_truncated(truncated);
  return item;
}

}  // namespace r1::reward
