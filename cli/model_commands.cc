// r1 pretrain / r1 generate.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/run_flags.h"
#include "common/chat_template.h"
#include "common/config.h"
#include "common/flags.h"
#include "common/tokenizer.h"
#include "model/checkpoint.h"
#include "model/generate.h"
#include "sft/pretrain.h"

namespace r1::cli {

int Pretrain(const Args& args) {
  RunFlags run_flags;
  bool resume = false, quality_eval = true;
  FlagSet flags("r1 pretrain",
                "Pretrains the policy of a run config from scratch on worked solutions of its\n"
                "tasks (the embedded default has no downloadable base model). Trains the\n"
                "tokenizer first when run_dir has none. Writes checkpoints, metrics.jsonl and,\n"
                "at the end, accuracy on held-out prompts (quality.json) under run_dir/pretrain.");
  run_flags.Add(flags, "pretrain.max_seconds=60");
  flags.AddBool("resume", &resume, "continue from the newest checkpoint in run_dir");
  flags.AddBool("quality_eval", &quality_eval, "measure held-out accuracy at the end");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  config::RunConfig run;
  if (auto code = run_flags.Load("r1 pretrain", &run)) return *code;
  if (!run.has_pretrain() || !run.has_policy()) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(run_flags.config_path(), " has no pretrain or policy section")));
  }
  model::ConfigureRuntime(run.threads());
  absl::StatusOr<sft::PretrainResult> result = sft::RunPretrain(run, run_flags.run_dir(), {resume, quality_eval});
  if (!result.ok()) return Fail(result.status());
  std::printf("%s\n", result->training.checkpoint.c_str());
  return kExitOk;
}

int GenerateText(const Args& args) {
  std::string ckpt, prompt, device;
  int64_t n = 1, max_new_tokens = 128, top_k = 0, seed = 0, threads = 0;
  double temperature = 1.0, top_p = 1.0, min_p = 0.0;
  bool interactive = false, raw = false;
  std::vector<std::string> stop;
  FlagSet flags("r1 generate",
                "Prints completions of a prompt by a checkpoint (or exported model folder).\n"
                "The prompt goes through the chat template unless --raw.");
  flags.AddString("ckpt", &ckpt, "checkpoint or model folder");
  flags.AddString("prompt", &prompt, "the user prompt");
  flags.AddBool("interactive", &interactive, "read prompts from stdin, one per line");
  flags.AddInt("n", &n, "completions per prompt");
  flags.AddInt("max_new_tokens", &max_new_tokens, "token budget per completion");
  flags.AddDouble("temperature", &temperature, "sampling temperature; 0 = greedy");
  flags.AddDouble("top_p", &top_p, "nucleus sampling mass; 1 = off");
  flags.AddInt("top_k", &top_k, "keep the k most likely tokens; 0 = off");
  flags.AddDouble("min_p", &min_p, "keep tokens with p >= min_p * p_max; 0 = off");
  flags.AddList("stop", &stop, "stop string");
  flags.AddInt("seed", &seed, "sampling seed");
  flags.AddBool("raw", &raw, "encode the prompt as is: BOS + text, no chat template");
  flags.AddString("device", &device, "cpu or cuda (default: as saved)");
  flags.AddInt("threads", &threads, "intra-op threads; 0 = all cores");
  flags.Require("ckpt");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  if (!interactive && !flags.WasSet("prompt")) {
    std::fprintf(stderr, "r1 generate: give --prompt or --interactive (see r1 generate --help)\n");
    return kExitUsage;
  }
  if (n < 1 || max_new_tokens < 1) {
    std::fprintf(stderr, "r1 generate: --n and --max_new_tokens must be >= 1\n");
    return kExitUsage;
  }
  if (!(temperature >= 0) || !(top_p > 0 && top_p <= 1) || top_k < 0 || !(min_p >= 0 && min_p < 1)) {
    std::fprintf(stderr, "r1 generate: need --temperature >= 0, 0 < --top_p <= 1, --top_k >= 0, 0 <= --min_p < 1\n");
    return kExitUsage;
  }
  model::ConfigureRuntime(static_cast<int>(threads));
  absl::StatusOr<model::CausalLm> model = model::LoadModel(ckpt, {device, std::nullopt});
  if (!model.ok()) return Fail(model.status());
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(ckpt);
  if (!tokenizer.ok()) return Fail(tokenizer.status());

  model::GenerationParams params;
  params.sampling = {temperature, top_p, top_k, min_p};
  params.max_new_tokens = max_new_tokens;
  params.stop = stop;
  params.seed = static_cast<uint64_t>(seed);
  const auto run_one = [&](const std::string& text) -> absl::Status {
    std::vector<int> ids;
    if (raw) {
      if (tokenizer->bos_id() >= 0) ids.push_back(tokenizer->bos_id());
      const std::vector<int> body = tokenizer->Encode(text);
      ids.insert(ids.end(), body.begin(), body.end());
    } else {
      absl::StatusOr<std::vector<int>> prompt = EncodePrompt(*tokenizer, text);
      if (!prompt.ok()) return prompt.status();
      ids = *std::move(prompt);
    }
    const std::vector<model::Completion> completions =
        model::Generate(**model, *tokenizer, std::vector<std::vector<int>>(static_cast<size_t>(n), ids), params);
    for (const model::Completion& c : completions) {
      std::printf("%s\n", c.text.c_str());
      std::fprintf(stderr, "[%zu tokens, %s]\n", c.tokens.size(), model::FinishReasonName(c.finish_reason));
    }
    std::fflush(stdout);
    ++params.seed;
    return absl::OkStatus();
  };
  if (!interactive) {
    if (absl::Status s = run_one(prompt); !s.ok()) return Fail(s);
    return kExitOk;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    if (absl::Status s = run_one(line); !s.ok()) return Fail(s);
  }
  return kExitOk;
}

}  // namespace r1::cli
