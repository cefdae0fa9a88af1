#include "cli/local_services.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status.h"

namespace r1::cli {
namespace {

// The last `bytes` of a log, for an error message.
std::string LogTail(const std::string& path, size_t bytes = 600) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return "";
  return text->size() > bytes ? text->substr(text->size() - bytes) : *text;
}

// Starts `argv` and waits for the port it writes to `port_file`.
absl::StatusOr<int> StartAndWaitForPort(std::vector<std::unique_ptr<Subprocess>>& processes,
                                        const std::vector<std::string>& argv, const std::string& name,
                                        const std::string& log_path, const std::string& port_file,
                                        absl::Duration timeout) {
  std::error_code ec;
  std::filesystem::remove(port_file, ec);
  SubprocessOptions options;
  options.stdout_path = log_path;
  options.stderr_path = log_path;
  R1_ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> process, Subprocess::Start(argv, options));
  Subprocess& started = *process;
  processes.push_back(std::move(process));
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (std::filesystem::exists(port_file)) {
      int port = 0;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFile(port_file).value_or("")), &port) && port > 0) {
        return port;
      }
    }
    if (!started.Running()) {
      return absl::UnavailableError(absl::StrCat(name, " exited before serving (log ", log_path, "):\n", LogTail(log_path)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::UnavailableError(absl::StrCat(name, " did not start serving within ", absl::FormatDuration(timeout),
                                             " (log ", log_path, ")"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalServices>> LocalServices::Start(const LocalServicesOptions& options) {
  std::unique_ptr<LocalServices> services(new LocalServices());
  if (!options.start_reward && options.workers == 0) return services;
  R1_RETURN_IF_ERROR(MakeDirs(options.log_dir));
  if (options.start_reward) {
    std::vector<std::string> argv = {absl::StrCat(options.bin_dir, "/r1-reward"), "serve", options.config_path,
                                     "--address", "127.0.0.1:0", "--quiet", "--port_file",
                                     absl::StrCat(options.log_dir, "/reward.port")};
    for (const std::string& o : options.config_overrides) argv.insert(argv.end(), {"--set", o});
    R1_ASSIGN_OR_RETURN(int port, StartAndWaitForPort(services->processes_, argv, "reward service",
                                                      absl::StrCat(options.log_dir, "/reward.log"),
                                                      absl::StrCat(options.log_dir, "/reward.port"),
                                                      options.start_timeout));
    services->reward_address_ = absl::StrCat("127.0.0.1:", port);
  }
  for (int i = 0; i < options.workers; ++i) {
    const std::string port_file = absl::StrCat(options.log_dir, "/worker_", i, ".port");
    std::vector<std::string> argv = {absl::StrCat(options.bin_dir, "/r1"), "rollout", "serve", "--ckpt",
                                     options.checkpoint, "--port_file", port_file, "--kv_slots",
                                     absl::StrCat(options.kv_slots), "--threads", absl::StrCat(options.worker_threads)};
    if (options.speculative) argv.push_back("--speculative");
    R1_ASSIGN_OR_RETURN(int port, StartAndWaitForPort(services->processes_, argv, absl::StrCat("rollout worker ", i),
                                                      absl::StrCat(options.log_dir, "/worker_", i, ".log"), port_file,
                                                      options.start_timeout));
    services->worker_addresses_.push_back(absl::StrCat("127.0.0.1:", port));
  }
  return services;
}

void LocalServices::Stop() {
  for (auto it = processes_.rbegin(); it != processes_.rend(); ++it) (*it)->Stop();
  processes_.clear();
}

}  // namespace r1::cli
