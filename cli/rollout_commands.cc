// `r1 rollout serve`: a rollout worker on one host.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "common/tokenizer.h"
#include "model/checkpoint.h"
#include "rollout/worker.h"
#include "rpc/auth.h"
#include "rpc/server.h"

namespace r1::cli {

int RolloutServe(const Args& args) {
  std::string ckpt, address = "127.0.0.1", port_file, device, tls_cert, tls_key, token_file;
  int64_t port = 0, kv_slots = 64, max_queued = 4096, threads = 0, version = 0;
  rollout::WorkerOptions options;
  int64_t max_new_tokens = 0, max_score_sequences = options.max_score_sequences,
          max_score_tokens = options.max_score_tokens, max_version_step = options.engine.max_version_step;
  bool restart_on_update = false, speculative = false;
  FlagSet flags("r1 rollout serve",
                "Serves r1.rollout.RolloutService for a checkpoint: Generate (continuous batching over\n"
                "--kv_slots KV slots, completions streamed as they finish), UpdateWeights, ScoreTokens,\n"
                "Status, plus gRPC health checking and reflection. SIGINT/SIGTERM stop it.");
  flags.AddString("ckpt", &ckpt, "checkpoint (or Hugging Face folder) to serve");
  flags.AddString("address", &address, "interface to listen on");
  flags.AddInt("port", &port, "port; 0 = any free port (see --port_file)");
  flags.AddString("port_file", &port_file, "write the bound port here once serving");
  flags.AddInt("kv_slots", &kv_slots, "sequences decoded together");
  flags.AddInt("max_queued", &max_queued, "samples waiting for a slot before RESOURCE_EXHAUSTED");
  flags.AddBool("restart_on_update", &restart_on_update,
                "on a weight update, restart sequences in flight (default: they finish on the old weights)");
  flags.AddBool("speculative", &speculative,
                "MTP speculative decoding: the model's first multi-token prediction module drafts a token that each "
                "decode step verifies (same distribution; needs a model with an MTP module)");
  flags.AddInt("version", &version, "weight version of the checkpoint's weights");
  flags.AddString("device", &device, "cpu or cuda (default: as saved)");
  flags.AddInt("threads", &threads, "intra-op threads; 0 = all cores");
  flags.AddString("tls_cert", &tls_cert, "PEM certificate chain; with --tls_key, serve TLS only");
  flags.AddString("tls_key", &tls_key, "PEM private key");
  flags.AddString("token_file", &token_file,
                  "file holding a bearer token that every call but health checks must carry");
  flags.AddInt("max_new_tokens", &max_new_tokens, "most tokens a sample may generate; 0 = the model's context");
  flags.AddInt("max_score_sequences", &max_score_sequences, "most sequences in one ScoreTokens call");
  flags.AddInt("max_score_tokens", &max_score_tokens, "most tokens (summed over sequences) in one ScoreTokens call");
  flags.AddInt("max_version_step", &max_version_step, "most a weight update may raise the weight version by");
  flags.Require("ckpt");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  if (kv_slots < 1 || max_queued < 1 || port < 0 || port > 65535 || max_new_tokens < 0 || max_score_sequences < 1 ||
      max_score_sequences > (1 << 30) || max_score_tokens < 2 || max_version_step < 1) {
    std::fprintf(stderr,
                 "r1 rollout serve: need --kv_slots >= 1, --max_queued >= 1, 0 <= --port <= 65535, "
                 "--max_new_tokens >= 0, --max_score_sequences >= 1, --max_score_tokens >= 2, "
                 "--max_version_step >= 1\n");
    return kExitUsage;
  }
  absl::StatusOr<std::string> token = rpc::ReadTokenFile(token_file);
  if (!token.ok()) return Fail(token.status());
  rpc::StopSignals stop_signals;  // before LibTorch or gRPC start threads

  model::ConfigureRuntime(static_cast<int>(threads));
  absl::StatusOr<model::CausalLm> model = model::LoadModel(ckpt, {device, std::nullopt});
  if (!model.ok()) return Fail(model.status());
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(ckpt);
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  if (speculative && !(*model)->CanDraft()) {
    // A run's config asks for speculation for every local worker, and the
    // same workers may serve a dense student: decode normally then.
    std::fprintf(stderr, "r1 rollout: --speculative: %s has no MTP module to draft with; decoding without "
                 "speculation\n", ckpt.c_str());
  }
  options.address = absl::StrCat(address, ":", port);
  options.security = {tls_cert, tls_key, *token};
  options.engine.max_new_tokens = max_new_tokens;
  options.engine.max_version_step = max_version_step;
  options.max_score_sequences = static_cast<int>(max_score_sequences);
  options.max_score_tokens = max_score_tokens;
  options.engine.kv_slots = static_cast<int>(kv_slots);
  options.engine.max_queued_samples = static_cast<int>(max_queued);
  options.engine.restart_on_update = restart_on_update;
  options.engine.speculative = speculative;
  options.checkpoint = ckpt;
  absl::StatusOr<std::unique_ptr<rollout::RolloutWorker>> worker =
      rollout::RolloutWorker::Start(*model, *tokenizer, version, options);
  if (!worker.ok()) return Fail(worker.status());
  std::printf("r1 rollout: serving %s on %s:%d (%lld KV slots, weight version %lld%s%s%s)\n", ckpt.c_str(),
              address.c_str(), (*worker)->port(), static_cast<long long>(kv_slots), static_cast<long long>(version),
              speculative && (*model)->CanDraft() ? ", MTP speculation" : "", tls_cert.empty() ? "" : ", TLS", token->empty() ? "" : ", token");
  if (token->empty() && address != "127.0.0.1" && address != "localhost" && address != "::1") {
    std::fprintf(stderr, "r1 rollout: warning: %s is reachable from other hosts and no --token_file is set: anyone "
                 "who reaches the port can generate and replace the weights\n", address.c_str());
  }
  std::fflush(stdout);
  if (!port_file.empty()) {
    if (absl::Status s = WriteFileAtomically(port_file, absl::StrCat((*worker)->port(), "\n")); !s.ok()) return Fail(s);
  }
  stop_signals.OnSignal([&](int signal_number) {
    std::fprintf(stderr, "r1 rollout: signal %d, shutting down\n", signal_number);
    (*worker)->Shutdown(5);
  });
  (*worker)->Wait();
  return kExitOk;
}

}  // namespace r1::cli
