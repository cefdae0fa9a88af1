// r1: the command-line front end. `r1 --help` lists the commands; each
// command has its own --help.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include <c10/util/Exception.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "common/flags.h"

namespace r1::cli {
namespace {

struct Command {
  absl::string_view words;  // e.g. "data gen"
  absl::string_view summary;
  int (*run)(const Args&);
};

constexpr Command kCommands[] = {
    {"data gen", "generate a seeded dataset of an embedded task (prompts, SFT or text)", DataGen},
    {"data check", "validate a JSONL dataset and count its records", DataCheck},
    {"data import", "convert GSM8K, MATH, chat-messages or code-contest JSONL into r1 prompts or SFT records", DataImport},
    {"tokenizer train", "train a SentencePiece tokenizer with r1's special tokens", TokenizerTrain},
    {"tokenizer encode", "print the token ids of text", TokenizerEncode},
    {"tokenizer decode", "print the text of token ids", TokenizerDecode},
    {"tokenizer chat", "print the text the chat template makes of a conversation", TokenizerChat},
    {"config check", "load and validate a config file", ConfigCheck},
    {"config show", "print a config after overrides, as text proto", ConfigShow},
    {"pretrain", "pretrain the policy of a run config on its tasks' worked solutions", Pretrain},
    {"generate", "print completions of a prompt by a checkpoint", GenerateText},
    {"rollout serve", "serve a checkpoint as a rollout worker over gRPC", RolloutServe},
    {"rl", "GRPO on a checkpoint with rollout workers and the reward service (R1-Zero from a base)", Rl},
    {"sft", "supervised fine-tuning on JSONL: cold-start SFT, or SFT on rejection-sampled data", Sft},
    {"reject-sample", "K samples per prompt, keep the correct and well-formed ones as an SFT dataset", RejectSample},
    {"distill", "train a dense student on teacher traces (and optionally the teacher's top-k logprobs)", Distill},
    {"export", "a checkpoint as a Hugging Face folder with a model card, plus GGUF files for llama.cpp", Export},
    {"pipeline", "the staged run from one config: pretrain, SFT, RL, rejection sampling, distill, export, eval", Pipeline},
    {"logits", "float32 logits of one token sequence as .npy or .safetensors (parity checks)", Logits},
    {"model info", "what a checkpoint or Hugging Face folder is: parameters, experts, KV cache per token", ModelInfo},
    {"eval", "accuracy of a checkpoint on task prompts: avg@k, pass@k, maj@k, greedy, format, length", Eval},
};

// Commands whose process shares the cores with other LibTorch processes (the
// learner with its workers). OpenMP threads that spin while waiting for work
// take the cores from the other process and slowed both several-fold on 2
// cores; OMP_WAIT_POLICY=PASSIVE makes them sleep. libgomp reads it when it
// loads, so the process sets it and starts itself again.
void SharePolitely(int argc, char** argv) {
  if (argc < 2 || std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  const std::string first = argv[1];
  if (first != "rl" && first != "rollout" && first != "reject-sample" && first != "distill") return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then run as is
}

void PrintUsage(std::FILE* out, absl::string_view group) {
  std::fprintf(out, "usage: r1 <command> [flags]   (r1 <command> --help for its flags)\n\ncommands:\n");
  for (const Command& command : kCommands) {
    if (!group.empty() && !absl::StartsWith(command.words, absl::StrCat(group, " "))) continue;
    std::fprintf(out, "  %-20s %s\n", std::string(command.words).c_str(),
                 std::string(command.summary).c_str());
  }
}

int Main(int argc, char** argv) {
  SharePolitely(argc, argv);
  const std::vector<std::string> all(argv + 1, argv + argc);
  if (all.empty() || all[0] == "--help" || all[0] == "-h" || all[0] == "help") {
    PrintUsage(all.empty() ? stderr : stdout, "");
    return all.empty() ? kExitUsage : kExitOk;
  }
  // Longest match of the leading words against the command table.
  for (const Command& command : kCommands) {
    const std::vector<absl::string_view> words = absl::StrSplit(command.words, ' ');
    if (all.size() < words.size()) continue;
    bool match = true;
    for (size_t i = 0; i < words.size(); ++i) match = match && all[i] == words[i];
    if (match) return command.run(Args(all.begin() + static_cast<long>(words.size()), all.end()));
  }
  // A group word alone ("r1 data") or with --help lists its commands.
  for (const Command& command : kCommands) {
    if (absl::StartsWith(command.words, absl::StrCat(all[0], " "))) {
      const bool asked = all.size() > 1 && (all[1] == "--help" || all[1] == "-h");
      if (all.size() == 1 || asked) {
        PrintUsage(asked ? stdout : stderr, all[0]);
        return asked ? kExitOk : kExitUsage;
      }
      std::fprintf(stderr, "r1: unknown command '%s %s' (see r1 %s --help)\n", all[0].c_str(),
                   all[1].c_str(), all[0].c_str());
      return kExitUsage;
    }
  }
  std::fprintf(stderr, "r1: unknown command '%s' (see r1 --help)\n", all[0].c_str());
  return kExitUsage;
}

}  // namespace

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "r1: %s\n", std::string(status.message()).c_str());
  return kExitFailure;
}

}  // namespace r1::cli

int main(int argc, char** argv) {
  // LibTorch and protobuf report some failures by throwing: one line, not a trace.
  try {
    return r1::cli::Main(argc, argv);
  } catch (const c10::Error& e) {
    // what() carries a C++ backtrace in Debian's LibTorch; users get one line.
    std::fprintf(stderr, "r1: %s\n", e.what_without_backtrace());
    return r1::cli::kExitFailure;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "r1: %s\n", e.what());
    return r1::cli::kExitFailure;
  }
}
