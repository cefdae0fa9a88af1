#include "reward/server.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "proto/reward.grpc.pb.h"
#include "reward/scorer.h"
#include "rpc/server.h"

namespace r1::reward {

// How long a request may run when the client set no deadline.
constexpr absl::Duration kDefaultDeadline = absl::Minutes(10);

class RewardServiceImpl final : public RewardService::Service {
 public:
  RewardServiceImpl(const Scorer& scorer, const ServerOptions& options) : scorer_(scorer), options_(options) {}

  grpc::Status Score(grpc::ServerContext* context, const ScoreRequest* request, ScoreResponse* response) override {
    const absl::Time start = absl::Now();
    const grpc::Status status = DoScore(context, request, response);
    if (options_.log_requests) {
      // One line per request: who, how much, how long, how it ended.
      std::fprintf(stderr, "%s reward: Score peer=%s items=%d latency_ms=%.1f status=%s%s%s\n",
                   absl::FormatTime("%Y-%m-%dT%H:%M:%E3S", absl::Now(), absl::UTCTimeZone()).c_str(),
                   context->peer().c_str(), request->items_size(), absl::ToDoubleMilliseconds(absl::Now() - start),
                   StatusName(status.error_code()), status.ok() ? "" : " message=",
                   status.error_message().c_str());
    }
    return status;
  }

 private:
  static const char* StatusName(grpc::StatusCode code) {
    switch (code) {
      case grpc::OK: return "OK";
      case grpc::CANCELLED: return "CANCELLED";
      case grpc::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
      case grpc::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
      case grpc::UNAUTHENTICATED: return "UNAUTHENTICATED";
      case grpc::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
      default: return "ERROR";
    }
  }

  grpc::Status DoScore(grpc::ServerContext* context, const ScoreRequest* request, ScoreResponse* response) {
    // The bearer token (when configured) was checked before the request was
    // read: rpc/auth.h.
    const int max_items = scorer_.config().max_batch_items();
    if (request->items().empty()) return grpc::Status(grpc::INVALID_ARGUMENT, "ScoreRequest.items is empty");
    if (request->items_size() > max_items) {
      return grpc::Status(grpc::INVALID_ARGUMENT, absl::StrCat("ScoreRequest has ", request->items_size(),
                                                               " items; this server takes at most ", max_items,
                                                               " per call (reward.max_batch_items)"));
    }
    absl::Time deadline = absl::FromChrono(context->deadline());
    if (deadline > absl::Now() + kDefaultDeadline) deadline = absl::Now() + kDefaultDeadline;

    // The sync API has no cancellation callback: a watcher polls the call and
    // raises the flag that running sandboxes check.
    std::atomic<bool> cancelled{false}, done{false};
    std::thread watcher([&] {
      while (!done.load()) {
        if (context->IsCancelled() || absl::Now() > deadline) {
          cancelled = true;
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
    std::vector<const ScoreItem*> items;
    items.reserve(request->items_size());
    for (const ScoreItem& item : request->items()) items.push_back(&item);
    std::vector<ScoreResult> results = scorer_.ScoreBatch(items, deadline, &cancelled);
    done = true;
    watcher.join();
    if (context->IsCancelled()) return grpc::Status(grpc::CANCELLED, "the client cancelled the call");
    if (absl::Now() > deadline) return grpc::Status(grpc::DEADLINE_EXCEEDED, "deadline passed while scoring");
    for (ScoreResult& result : results) *response->add_results() = std::move(result);
    return grpc::Status::OK;
  }

  const Scorer& scorer_;
  const ServerOptions& options_;
};

RewardServer::~RewardServer() {
  if (server_) Shutdown(0);
}

absl::StatusOr<std::unique_ptr<RewardServer>> RewardServer::Start(const config::RewardServiceConfig& config,
                                                                  const ServerOptions& options) {
  std::unique_ptr<RewardServer> server(new RewardServer());
  absl::StatusOr<std::unique_ptr<Scorer>> scorer = Scorer::Create(config, options.scorer);
  if (!scorer.ok()) return scorer.status();
  server->scorer_ = std::move(*scorer);
  server->options_ = options;
  server->service_ = std::make_unique<RewardServiceImpl>(*server->scorer_, server->options_);

  rpc::ServerSettings settings;
  settings.address = options.address;
  settings.security.tls_cert_file = options.tls_cert_file;
  settings.security.tls_key_file = options.tls_key_file;
  settings.security.token = options.token;
  settings.max_message_bytes = options.max_message_bytes;
  absl::StatusOr<rpc::StartedServer> started = rpc::StartServer(settings, {server->service_.get()});
  if (!started.ok()) return started.status();
  server->server_ = std::move(started->server);
  server->port_ = started->port;
  return server;
}

void RewardServer::Wait() { server_->Wait(); }

void RewardServer::Shutdown(double grace_seconds) {
  if (server_) rpc::ShutdownServer(*server_, grace_seconds);
}

}  // namespace r1::reward
