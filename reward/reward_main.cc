// r1-reward: the reward service (`serve`) and offline scoring (`score`).
// It links no LibTorch, so it deploys on hosts without the model stack.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/config.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "common/jsonl.h"
#include "common/progress.h"
#include "proto/reward.pb.h"
#include "reward/client.h"
#include "reward/scorer.h"
#include "reward/server.h"
#include "rpc/auth.h"
#include "rpc/server.h"

namespace r1::reward {
namespace {

constexpr int kExitOk = 0, kExitFailure = 1, kExitUsage = 2;

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "r1-reward: %s\n", std::string(status.message()).c_str());
  return kExitFailure;
}

// The reward section of a run config (the same file every r1 command reads),
// or the built-in default mix when no config is given.
absl::StatusOr<config::RewardServiceConfig> LoadRewardConfig(const std::string& path,
                                                             const std::vector<std::string>& overrides) {
  if (path.empty()) {
    config::RewardServiceConfig defaults;
    for (const char* rule : {"math", "countdown", "code"}) defaults.add_rules()->set_rule(rule);
    config::RewardRuleConfig* format = defaults.add_rules();
    format->set_rule("format");
    format->set_weight(0.2);
    return defaults;
  }
  absl::StatusOr<config::RunConfig> run = LoadRunConfig(path, overrides);
  if (!run.ok()) return run.status();
  if (!run->has_reward() || run->reward().rules().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": reward.rules is empty: nothing to score with"));
  }
  return run->reward();
}

int Serve(const std::vector<std::string>& args) {
  std::vector<std::string> config_path, overrides;
  std::string address, tls_cert, tls_key, token_file, port_file;
  bool quiet = false, allow_no_cgroup = false;
  FlagSet flags("r1-reward serve",
                "Serves r1.reward.RewardService with gRPC health checking and reflection. The rule mix\n"
                "is the `reward` section of a run config (default: math, countdown, code, format).\n"
                "SIGINT or SIGTERM stops it after running calls finish.");
  flags.Positional("CONFIG", 0, 1, &config_path, "run config whose `reward` section to serve");
  flags.AddList("set", &overrides, "override a config field, e.g. --set reward.max_concurrent_sandboxes=4");
  flags.AddString("address", &address, "host:port to listen on (default: reward.address, 127.0.0.1:0)");
  flags.AddString("tls_cert", &tls_cert, "PEM certificate chain; with --tls_key, serve TLS only");
  flags.AddString("tls_key", &tls_key, "PEM private key");
  flags.AddString("token_file", &token_file, "file holding a bearer token that every call but health checks must carry");
  flags.AddString("port_file", &port_file, "write the bound port here once serving (for scripts)");
  flags.AddBool("quiet", &quiet, "no per-request log lines");
  flags.AddBool("sandbox_allow_no_cgroup", &allow_no_cgroup,
                "run code rules where no cgroup per run can be made (memory then bound per process only, "
                "shmget/memfd_create denied); default: refuse to start there");
  if (auto code = ParseCommandLine(flags, args)) return *code;

  rpc::StopSignals stop_signals;  // before gRPC starts its threads

  absl::StatusOr<config::RewardServiceConfig> config =
      LoadRewardConfig(config_path.empty() ? "" : config_path[0], overrides);
  if (!config.ok()) return Fail(config.status());
  absl::StatusOr<std::string> token = rpc::ReadTokenFile(token_file);
  if (!token.ok()) return Fail(token.status());
  ServerOptions options;
  options.address = address.empty() ? config->address() : address;
  options.tls_cert_file = tls_cert;
  options.tls_key_file = tls_key;
  options.token = *token;
  options.log_requests = !quiet;
  options.scorer.sandbox.allow_no_cgroup = allow_no_cgroup;
  absl::StatusOr<std::unique_ptr<RewardServer>> server = RewardServer::Start(*config, options);
  if (!server.ok()) return Fail(server.status());
  const std::string host = options.address.substr(0, options.address.rfind(':'));
  std::printf("r1-reward: serving on %s:%d (%d rules%s%s)\n", host.c_str(), (*server)->port(),
              config->rules_size(), tls_cert.empty() ? "" : ", TLS", options.token.empty() ? "" : ", token");
  std::fflush(stdout);
  if (!port_file.empty()) {
    if (absl::Status s = WriteFileAtomically(port_file, absl::StrCat((*server)->port(), "\n")); !s.ok()) {
      return Fail(s);
    }
  }
  stop_signals.OnSignal([&](int signal_number) {
    std::fprintf(stderr, "r1-reward: signal %d, shutting down\n", signal_number);
    (*server)->Shutdown(5);
  });
  (*server)->Wait();
  return kExitOk;
}

int Score(const std::vector<std::string>& args) {
  std::vector<std::string> config_path, overrides;
  std::string file, out, server_address, token_file, tls_root;
  int64_t batch = 256;
  bool allow_no_cgroup = false;
  FlagSet flags("r1-reward score",
                "Scores a JSONL file of completions (one ScoreItem per line: id, prompt, completion,\n"
                "reference, task, numbers, tests, ...), in this process or on a running server, and\n"
                "prints the mean reward, accuracy, each rule's mean and the commonest reasons.");
  flags.Positional("CONFIG", 0, 1, &config_path, "run config whose `reward` section to use (local scoring)");
  flags.AddList("set", &overrides, "override a config field");
  flags.AddString("file", &file, "JSONL of ScoreItem records");
  flags.AddString("out", &out, "write one ScoreResult per line here");
  flags.AddString("server", &server_address, "score on this server instead of in-process");
  flags.AddString("token_file", &token_file, "bearer token for --server");
  flags.AddString("tls_root", &tls_root, "CA certificate (PEM) of a TLS --server");
  flags.AddBool("sandbox_allow_no_cgroup", &allow_no_cgroup,
                "in-process scoring: run code rules without a cgroup per run (see serve --help)");
  flags.AddInt("batch", &batch, "items per Score call with --server");
  flags.Require("file");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  if (batch <= 0) return Fail(absl::InvalidArgumentError("--batch must be > 0"));

  JsonlStats stats;
  absl::StatusOr<std::vector<ScoreItem>> items = ReadJsonl<ScoreItem>(file, {}, &stats);
  if (!items.ok()) return Fail(items.status());
  std::vector<ScoreResult> results;
  ProgressLine progress("scoring");
  if (!server_address.empty()) {
    absl::StatusOr<std::string> token = rpc::ReadTokenFile(token_file);
    if (!token.ok()) return Fail(token.status());
    ClientOptions options;
    options.token = *token;
    options.tls_root_cert_file = tls_root;
    absl::StatusOr<std::unique_ptr<RewardClient>> client = RewardClient::Connect(server_address, options);
    if (!client.ok()) return Fail(client.status());
    for (size_t start = 0; start < items->size(); start += static_cast<size_t>(batch)) {
      const size_t end = std::min(items->size(), start + static_cast<size_t>(batch));
      absl::StatusOr<std::vector<ScoreResult>> scored =
          (*client)->Score(std::vector<ScoreItem>(items->begin() + start, items->begin() + end));
      if (!scored.ok()) return Fail(scored.status());
      results.insert(results.end(), scored->begin(), scored->end());
      progress.Update(static_cast<int64_t>(end), static_cast<int64_t>(items->size()));
    }
  } else {
    absl::StatusOr<config::RewardServiceConfig> config =
        LoadRewardConfig(config_path.empty() ? "" : config_path[0], overrides);
    if (!config.ok()) return Fail(config.status());
    ScorerOptions scorer_options;
    scorer_options.sandbox.allow_no_cgroup = allow_no_cgroup;
    absl::StatusOr<std::unique_ptr<Scorer>> scorer = Scorer::Create(*config, scorer_options);
    if (!scorer.ok()) return Fail(scorer.status());
    for (size_t i = 0; i < items->size(); ++i) {
      results.push_back((*scorer)->Score((*items)[i], absl::InfiniteFuture(), nullptr));
      progress.Update(static_cast<int64_t>(i + 1), static_cast<int64_t>(items->size()));
    }
  }
  progress.Finish();

  if (!out.empty()) {
    JsonlWriter writer;
    if (absl::Status s = writer.Open(out); !s.ok()) return Fail(s);
    for (const ScoreResult& result : results) {
      if (absl::Status s = writer.Write(result); !s.ok()) return Fail(s);
    }
    if (absl::Status s = writer.Commit(); !s.ok()) return Fail(s);
  }

  // Summary: mean total, accuracy, per-rule means and reason counts.
  double total = 0;
  int64_t correct = 0, errors = 0;
  std::map<std::string, std::pair<double, int64_t>> rule_means;
  std::map<std::string, int64_t> reasons;
  for (const ScoreResult& result : results) {
    if (!result.error().empty()) {
      ++errors;
      ++reasons[absl::StrCat("error: ", result.error())];
      continue;
    }
    total += result.total();
    correct += result.correct();
    for (const RuleScore& rule : result.rules()) {
      rule_means[rule.rule()].first += rule.score();
      ++rule_means[rule.rule()].second;
      ++reasons[absl::StrCat(rule.rule(), ": ", rule.reason())];
    }
  }
  const int64_t scored = static_cast<int64_t>(results.size()) - errors;
  std::printf("%lld items (%lld invalid): mean reward %.4f, accuracy %.4f\n", static_cast<long long>(results.size()),
              static_cast<long long>(errors), scored > 0 ? total / scored : 0.0,
              scored > 0 ? static_cast<double>(correct) / scored : 0.0);
  for (const auto& [rule, sum_count] : rule_means) {
    std::printf("  %-12s mean %.4f over %lld items\n", rule.c_str(), sum_count.first / sum_count.second,
                static_cast<long long>(sum_count.second));
  }
  std::printf("reasons:\n");
  for (const auto& [reason, count] : reasons) std::printf("  %6lld  %s\n", static_cast<long long>(count), reason.c_str());
  return kExitOk;
}

void PrintUsage(std::FILE* out) {
  std::fprintf(out,
               "usage: r1-reward <command> [flags]   (r1-reward <command> --help for its flags)\n\n"
               "commands:\n"
               "  serve   serve the reward service over gRPC\n"
               "  score   score a JSONL file of completions\n");
}

}  // namespace
}  // namespace r1::reward

int main(int argc, char** argv) {
  using namespace r1::reward;
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintUsage(args.empty() ? stderr : stdout);
    return args.empty() ? kExitUsage : kExitOk;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "serve") return Serve(rest);
  if (args[0] == "score") return Score(rest);
  std::fprintf(stderr, "r1-reward: unknown command \"%s\"\n", args[0].c_str());
  PrintUsage(stderr);
  return kExitUsage;
}
