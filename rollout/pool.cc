#include "rollout/pool.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "common/status.h"
#include "rollout/client.h"

namespace r1::rollout {

SamplingParams ToSamplingParams(const config::SamplingConfig& s, uint64_t seed) {
  SamplingParams p;
  p.set_temperature(s.temperature());
  p.set_top_p(s.top_p());
  p.set_top_k(s.top_k());
  p.set_min_p(s.min_p());
  p.set_max_new_tokens(s.max_new_tokens());
  for (const std::string& stop : s.stop()) p.add_stop(stop);
  p.set_seed(seed);
  return p;
}

struct RolloutPool::Worker {
  std::string address;
  std::unique_ptr<RolloutClient> client;
  std::mutex push_mu;   // one weight push at a time per worker
  // From the last Status: KV slots not busy. Atomic: a learner's eval and its
  // asynchronous producer call Generate at the same time.
  std::atomic<int> free_samples{1};
};

RolloutPool::~RolloutPool() = default;

namespace {

// "host:port" -> one "ip:port" per IPv4 address the host name resolves to
// (a Kubernetes headless Service name resolves to every ready worker). A
// numeric address, or a name that does not resolve, stays as it is.
std::vector<std::string> ExpandAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  const std::string host = address.substr(0, colon), port = address.substr(colon + 1);
  in_addr numeric;
  if (inet_pton(AF_INET, host.c_str(), &numeric) == 1 || host.empty() || host[0] == '[') return {address};
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) return {address};
  std::vector<std::string> out;
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    char ip[INET_ADDRSTRLEN];
    const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
    if (inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)) == nullptr) continue;
    const std::string expanded = absl::StrCat(ip, ":", port);
    if (std::find(out.begin(), out.end(), expanded) == out.end()) out.push_back(expanded);
  }
  freeaddrinfo(found);
  return out.empty() ? std::vector<std::string>{address} : out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RolloutPool>> RolloutPool::Create(const PoolOptions& options) {
  if (options.addresses.empty() && options.address_file.empty()) {
    return absl::InvalidArgumentError("a rollout pool needs worker addresses or an address file");
  }
  std::unique_ptr<RolloutPool> pool(new RolloutPool(options));
  if (absl::Status s = pool->SetAddresses(options.addresses); !s.ok()) return s;
  if (!options.address_file.empty()) {
    if (absl::Status s = pool->Reload(); !s.ok()) return s;
  }
  return pool;
}

absl::Status RolloutPool::SetAddresses(const std::vector<std::string>& addresses) {
  std::vector<std::string> expanded;
  for (const std::string& address : addresses) {
    if (address.find(':') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("worker address must be host:port, got \"", address, "\""));
    }
    for (std::string& a : ExpandAddress(address)) expanded.push_back(std::move(a));
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, std::shared_ptr<Worker>> next;
  for (const std::string& address : expanded) {
    if (auto it = workers_.find(address); it != workers_.end()) {
      next[address] = it->second;  // keep the connection
      continue;
    }
    auto worker = std::make_shared<Worker>();
    worker->address = address;
    absl::StatusOr<std::unique_ptr<RolloutClient>> client = RolloutClient::Connect(address, options_.client);
    if (!client.ok()) return client.status();
    worker->client = std::move(*client);
    next[address] = worker;
  }
  workers_.swap(next);
  return absl::OkStatus();
}

absl::Status RolloutPool::Reload() {
  struct stat info;
  if (stat(options_.address_file.c_str(), &info) != 0) {
    return absl::NotFoundError(absl::StrCat("worker address file ", options_.address_file, " does not exist"));
  }
  absl::StatusOr<std::string> text = ReadFile(options_.address_file);
  if (!text.ok()) return text.status();
  std::vector<std::string> addresses = options_.addresses;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    if (std::find(addresses.begin(), addresses.end(), line) == addresses.end()) addresses.emplace_back(line);
  }
  if (absl::Status s = SetAddresses(addresses); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(options_.address_file, ": ", s.message()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  address_file_mtime_ = static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
  return absl::OkStatus();
}

absl::Status RolloutPool::MaybeReload() {
  // Names are resolved again on every call: workers behind a DNS name come and go.
  if (options_.address_file.empty()) return SetAddresses(options_.addresses);
  struct stat info;
  if (stat(options_.address_file.c_str(), &info) != 0) return absl::OkStatus();  // keep the last list
  const int64_t mtime = static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (mtime == address_file_mtime_) return absl::OkStatus();
  }
  return Reload();
}

std::vector<std::string> RolloutPool::addresses() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [address, worker] : workers_) out.push_back(address);
  return out;
}

PoolStats RolloutPool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void RolloutPool::PublishWeights(std::vector<std::pair<std::string, torch::Tensor>> tensors, int64_t version) {
  std::lock_guard<std::mutex> lock(mu_);
  if (version <= latest_version_) return;
  latest_tensors_ = std::move(tensors);
  latest_version_ = version;
}

absl::StatusOr<int64_t> RolloutPool::MaxWorkerVersion() {
  R1_RETURN_IF_ERROR(MaybeReload());
  std::vector<std::shared_ptr<Worker>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [address, worker] : workers_) all.push_back(worker);
  }
  int64_t newest = -1;
  absl::Status last = absl::OkStatus();  // why the last worker that failed did
  for (const std::shared_ptr<Worker>& worker : all) {
    absl::StatusOr<WorkerStatus> status = worker->client->Status(options_.status_timeout);
    if (status.ok()) {
      newest = std::max(newest, status->weight_version());
    } else {
      last = status.status();
    }
  }
  if (newest < 0) {
    // A refused token is said as such: retrying cannot help, the caller's
    // credentials must change.
    const absl::StatusCode code =
        last.code() == absl::StatusCode::kUnauthenticated ? last.code() : absl::StatusCode::kUnavailable;
    return absl::Status(code, absl::StrCat("no rollout worker answers (", all.size(), " known)",
                                           last.ok() ? "" : absl::StrCat("; last: ", last.ToString())));
  }
  return newest;
}

std::vector<std::shared_ptr<RolloutPool::Worker>> RolloutPool::LiveWorkers() {
  std::vector<std::shared_ptr<Worker>> all;
  std::vector<std::pair<std::string, torch::Tensor>> latest;
  int64_t latest_version;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [address, worker] : workers_) all.push_back(worker);
    latest = latest_tensors_;
    latest_version = latest_version_;
  }
  std::vector<std::shared_ptr<Worker>> live;
  for (const std::shared_ptr<Worker>& worker : all) {
    absl::StatusOr<WorkerStatus> status = worker->client->Status(options_.status_timeout);
    if (!status.ok()) continue;
    if (latest_version >= 0 && status->weight_version() < latest_version) {
      // It missed a push (or joined since): bring it up to date first, unless
      // a PushWeights running meanwhile got there while we waited for the lock.
      std::lock_guard<std::mutex> push(worker->push_mu);
      absl::StatusOr<WorkerStatus> now = worker->client->Status(options_.status_timeout);
      if (!now.ok()) continue;
      if (now->weight_version() < latest_version) {
        if (!worker->client->UpdateWeights(latest, latest_version).ok()) continue;
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.catch_up_pushes;
      }
    }
    worker->free_samples = std::max(1, status->kv_slots() - status->active_sequences() - status->queued_sequences());
    live.push_back(worker);
  }
  return live;
}

absl::StatusOr<ScoreTokensResponse> RolloutPool::ScoreTokens(const ScoreTokensRequest& request) {
  if (absl::Status s = MaybeReload(); !s.ok()) return s;
  absl::Status last = absl::UnavailableError("no rollout worker answers");
  for (const std::shared_ptr<Worker>& worker : LiveWorkers()) {
    absl::StatusOr<ScoreTokensResponse> response = worker->client->ScoreTokens(request, options_.request_timeout);
    if (response.ok()) return response;
    // A bad request fails the same everywhere; only a worker fault moves on.
    if (response.status().code() == absl::StatusCode::kInvalidArgument) return response.status();
    last = absl::Status(response.status().code(), absl::StrCat(worker->address, ": ", response.status().message()));
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.worker_failures;
  }
  return last;
}

absl::Status RolloutPool::Generate(const std::vector<Prompt>& prompts, int samples_per_prompt,
                                   const SamplingParams& sampling,
                                   const std::function<void(int, std::vector<Completion>)>& on_prompt) {
  if (prompts.empty()) return absl::OkStatus();
  if (samples_per_prompt < 1) return absl::InvalidArgumentError("samples_per_prompt must be >= 1");
  if (absl::Status s = MaybeReload(); !s.ok()) return s;
  const std::vector<std::shared_ptr<Worker>> workers = LiveWorkers();
  if (workers.empty()) return absl::UnavailableError("no rollout worker answers");

  // Shared dispatch state.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<int> queue;
  for (int p = 0; p < static_cast<int>(prompts.size()); ++p) queue.push_back(p);
  std::vector<int> attempts(prompts.size(), 0);
  std::vector<bool> delivered(prompts.size(), false);
  int in_flight = 0;
  absl::Status fatal;
  std::mutex deliver_mu;

  const auto run_worker = [&](Worker& worker) {
    const int take = std::max(1, worker.free_samples / samples_per_prompt);
    while (true) {
      std::vector<int> batch;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return !queue.empty() || in_flight == 0 || !fatal.ok(); });
        if (!fatal.ok() || queue.empty()) return;  // done, or nothing left that could come back
        while (!queue.empty() && static_cast<int>(batch.size()) < take) {
          batch.push_back(queue.front());
          queue.pop_front();
        }
        in_flight += static_cast<int>(batch.size());
      }
      GenerateRequest request;
      request.set_samples_per_prompt(samples_per_prompt);
      *request.mutable_sampling() = sampling;
      for (int p : batch) {
        Prompt* prompt = request.add_prompts();
        *prompt = prompts[static_cast<size_t>(p)];
        // The same random streams however the batch is split: the caller's
        // stream (e.g. the learner's global prompt index), else the position.
        if (!prompt->has_stream_index()) prompt->set_stream_index(p);
      }
      // Samples gather per prompt; a prompt is delivered once all are in.
      std::map<int, std::vector<Completion>> groups;
      const absl::Status status = worker.client->Generate(
          request,
          [&](const Completion& c) {
            const int p = batch[static_cast<size_t>(c.prompt_index())];
            std::vector<Completion>& group = groups[p];
            group.push_back(c);
            group.back().set_prompt_index(p);
            if (static_cast<int>(group.size()) < samples_per_prompt) return;
            std::sort(group.begin(), group.end(),
                      [](const Completion& a, const Completion& b) { return a.sample_index() < b.sample_index(); });
            {
              std::lock_guard<std::mutex> lock(mu);
              if (delivered[static_cast<size_t>(p)]) return;
              delivered[static_cast<size_t>(p)] = true;
            }
            std::lock_guard<std::mutex> one_at_a_time(deliver_mu);
            on_prompt(p, std::move(group));
          },
          options_.request_timeout);
      std::lock_guard<std::mutex> lock(mu);
      in_flight -= static_cast<int>(batch.size());
      for (int p : batch) {
        if (delivered[static_cast<size_t>(p)]) continue;
        if (++attempts[static_cast<size_t>(p)] >= options_.max_attempts) {
          fatal = absl::UnavailableError(absl::StrCat("prompt ", p, " failed on ", attempts[static_cast<size_t>(p)],
                                                      " workers; last: ", status.message()));
        }
        queue.push_front(p);
        std::lock_guard<std::mutex> stats_lock(mu_);
        ++stats_.redispatched_prompts;
      }
      cv.notify_all();
      if (!status.ok()) {
        if (absl::IsInvalidArgument(status)) fatal = status;  // the request itself is bad: no retry helps
        std::lock_guard<std::mutex> stats_lock(mu_);
        ++stats_.worker_failures;
        return;  // this worker is out for the rest of the call
      }
    }
  };
  std::vector<std::thread> threads;
  for (const std::shared_ptr<Worker>& worker : workers) threads.emplace_back([&, worker] { run_worker(*worker); });
  for (std::thread& t : threads) t.join();
  if (!fatal.ok()) return fatal;
  const int64_t missing = std::count(delivered.begin(), delivered.end(), false);
  if (missing > 0) {
    return absl::UnavailableError(absl::StrCat(missing, " of ", prompts.size(),
                                               " prompts undone: every worker failed"));
  }
  return absl::OkStatus();
}

namespace {

// Whether `address` (host:port) is on this host's loopback interface.
bool IsLoopback(const std::string& address) {
  return absl::StartsWith(address, "127.") || absl::StartsWith(address, "localhost:") ||
         absl::StartsWith(address, "[::1]:");
}

}  // namespace

std::vector<PushResult> RolloutPool::PushWeights(std::vector<std::pair<std::string, torch::Tensor>> tensors,
                                                 int64_t version) {
  MaybeReload().IgnoreError();  // a bad file keeps the last list; Generate reports it
  PublishWeights(tensors, version);
  std::vector<std::shared_ptr<Worker>> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [address, worker] : workers_) workers.push_back(worker);
  }
  std::lock_guard<std::mutex> one_push(push_mu_);
  // Written once for every worker on this host (a loopback address), over
  // the last version when the tensors are the same.
  SharedWeights* shared = nullptr;
  if (options_.shared_memory_pushes &&
      std::any_of(workers.begin(), workers.end(), [](const auto& w) { return IsLoopback(w->address); })) {
    if (shared_ == nullptr || !shared_->Rewrite(tensors, version).ok()) {
      shared_.reset();  // removes the old file first: /dev/shm holds one version
      absl::StatusOr<std::unique_ptr<SharedWeights>> written = SharedWeights::Write(tensors, version);
      if (written.ok()) {
        shared_ = std::move(*written);
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.shared_memory_segments;
      } else {
        std::fprintf(stderr, "rollout pool: streaming weights instead of shared memory: %s\n",
                     std::string(written.status().message()).c_str());
      }
    }
    shared = shared_.get();
  }
  std::atomic<bool> segment_in_doubt{false};
  std::vector<PushResult> results(workers.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < workers.size(); ++i) {
    threads.emplace_back([&, i] {
      Worker& worker = *workers[i];
      std::lock_guard<std::mutex> push(worker.push_mu);
      results[i].address = worker.address;
      // A catch-up (LiveWorkers, from a Generate running meanwhile) may have
      // delivered this version already.
      if (absl::StatusOr<WorkerStatus> status = worker.client->Status(options_.status_timeout);
          status.ok() && status->weight_version() >= version) {
        results[i].version = status->weight_version();
        return;
      }
      if (shared != nullptr && IsLoopback(worker.address)) {
        absl::StatusOr<UpdateWeightsResponse> response = worker.client->UpdateWeights(*shared);
        if (response.ok()) {
          results[i].version = response->version();
          std::lock_guard<std::mutex> lock(mu_);
          ++stats_.shared_memory_pushes;
          return;
        }
        // A refusal comes after the worker read the file; a worker that
        // timed out or went away may still be reading it, so the next
        // version goes into a new one.
        const absl::Status& failed = response.status();
        if (!absl::IsInvalidArgument(failed) && !absl::IsFailedPrecondition(failed)) segment_in_doubt = true;
        // E.g. a worker of another user or in another container: the stream
        // reaches it (and refuses again what the segment's check refused).
      }
      absl::StatusOr<UpdateWeightsResponse> response = worker.client->UpdateWeights(tensors, version);
      results[i].status = response.status();
      if (response.ok()) results[i].version = response->version();
    });
  }
  for (std::thread& t : threads) t.join();
  if (segment_in_doubt) shared_.reset();
  return results;
}

}  // namespace r1::rollout
