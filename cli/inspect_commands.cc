// r1 logits / r1 model info: looking inside a checkpoint or a Hugging Face
// folder (parity checks against other implementations, sizes before a run).
#include <torch/torch.h>

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "common/status.h"
#include "model/causal_lm.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"

namespace r1::cli {
namespace {

// --dtype as LoadOptions takes it: empty = as the folder says.
std::optional<std::optional<config::DType>> ParseDtype(const std::string& text) {
  if (text.empty()) return std::optional<config::DType>();
  if (text == "float32") return std::optional<config::DType>(config::FLOAT32);
  if (text == "bfloat16") return std::optional<config::DType>(config::BFLOAT16);
  return std::nullopt;
}

// A float32 [rows, columns] tensor as a NumPy .npy file, format version 1.0:
// the magic, the version, a little-endian uint16 header length and a Python
// dict literal padded with spaces to a 64-byte boundary (as NumPy writes it),
// then the values in C order. Written to a temporary file and renamed.
absl::Status WriteNpy(const std::string& path, const torch::Tensor& values) {
  const torch::Tensor data = values.to(torch::kCPU, torch::kFloat32).contiguous();
  std::string header = absl::StrFormat("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }",
                                       data.size(0), data.size(1));
  const size_t prefix = 10;  // magic (6) + version (2) + header length (2)
  header.append(63 - (prefix + header.size()) % 64, ' ');
  header.push_back('\n');
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  bytes.push_back(static_cast<char>(header.size() & 0xFF));
  bytes.push_back(static_cast<char>(header.size() >> 8));
  bytes += header;
  AtomicFileWriter writer;
  R1_RETURN_IF_ERROR(writer.Open(path));
  R1_RETURN_IF_ERROR(writer.Write(bytes));
  R1_RETURN_IF_ERROR(writer.Write(absl::string_view(static_cast<const char*>(data.data_ptr()),
                                                    static_cast<size_t>(data.numel()) * sizeof(float))));
  return writer.Commit();
}

std::string JsonQuote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", c);
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

}  // namespace

int Logits(const Args& args) {
  std::string ckpt, ids_text, out, device, dtype_text;
  int64_t threads = 0;
  FlagSet flags("r1 logits",
                "Runs one forward pass of a checkpoint or Hugging Face folder over the token\n"
                "ids of --ids (a single sequence from position 0, no padding, no cache) and\n"
                "writes its float32 logits [T, V] to --out: a NumPy .npy file (format 1.0,\n"
                "'<f4', C order) or a .safetensors file with one tensor \"logits\". Compare\n"
                "them with transformers' logits of the same ids to check that r1 runs a\n"
                "model the way its family is defined.");
  flags.AddString("ckpt", &ckpt, "checkpoint or model folder");
  flags.AddString("ids", &ids_text, "token ids, space-separated, e.g. \"1 2 3\"");
  flags.AddString("out", &out, "output file: .npy or .safetensors");
  flags.AddString("device", &device, "cpu or cuda (default: as saved)");
  flags.AddString("dtype", &dtype_text, "float32 or bfloat16 (default: as saved)");
  flags.AddInt("threads", &threads, "intra-op threads; 0 = all cores");
  flags.Require("ckpt");
  flags.Require("ids");
  flags.Require("out");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  const std::optional<std::optional<config::DType>> dtype = ParseDtype(dtype_text);
  if (!dtype.has_value()) {
    std::fprintf(stderr, "r1 logits: --dtype must be float32 or bfloat16, not \"%s\"\n", dtype_text.c_str());
    return kExitUsage;
  }
  const bool npy = absl::EndsWith(out, ".npy"), safetensors = absl::EndsWith(out, ".safetensors");
  if (!npy && !safetensors) {
    std::fprintf(stderr, "r1 logits: --out %s: the file name must end in .npy or .safetensors\n", out.c_str());
    return kExitUsage;
  }
  std::vector<int64_t> ids;
  for (absl::string_view word : absl::StrSplit(ids_text, absl::ByAnyChar(" \t\n,"), absl::SkipEmpty())) {
    int64_t id;
    if (!absl::SimpleAtoi(word, &id)) {
      std::fprintf(stderr, "r1 logits: --ids: \"%s\" is not a token id\n", std::string(word).c_str());
      return kExitUsage;
    }
    ids.push_back(id);
  }
  if (ids.empty()) {
    std::fprintf(stderr, "r1 logits: --ids holds no token ids\n");
    return kExitUsage;
  }
  model::ConfigureRuntime(static_cast<int>(threads));
  absl::StatusOr<model::CausalLm> model = model::LoadModel(ckpt, {device, *dtype});
  if (!model.ok()) return Fail(model.status());
  const int64_t vocab = (*model)->config().vocab_size();
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      return Fail(absl::InvalidArgumentError(absl::StrCat("--ids: token id ", ids[i], " at position ", i,
                                                          " is outside the vocabulary [0, ", vocab, ") of ", ckpt)));
    }
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor tokens =
      torch::tensor(ids, torch::kInt64).view({1, static_cast<int64_t>(ids.size())}).to((*model)->device());
  const torch::Tensor logits = (*model)->Forward(tokens, nullptr, {}).logits[0].to(torch::kCPU, torch::kFloat32);
  const absl::Status written =
      npy ? WriteNpy(out, logits) : model::WriteSafetensors(out, {{"logits", logits}}, {{"format", "pt"}});
  if (!written.ok()) return Fail(written);
  std::fprintf(stderr, "wrote logits [%lld, %lld] to %s\n", static_cast<long long>(logits.size(0)),
               static_cast<long long>(logits.size(1)), out.c_str());
  return kExitOk;
}

int ModelInfo(const Args& args) {
  std::vector<std::string> positional;
  bool json = false;
  FlagSet flags("r1 model info",
                "Loads a checkpoint or Hugging Face folder and prints what it is: family,\n"
                "parameters, active parameters per token, layers, experts, dtype, context\n"
                "length, vocabulary and KV-cache bytes per token.\n"
                "  parameters: every parameter the weights hold (MTP modules included).\n"
                "  active parameters: the same less, in every layer with routed experts,\n"
                "    the experts a token is not routed to (all but experts-per-token of them).\n"
                "  KV cache per token: the bytes one token adds to the cache of every layer,\n"
                "    in the run dtype (MLA: latent + RoPE key; GQA: keys + values).");
  flags.Positional("DIR", 1, 1, &positional, "checkpoint or model folder");
  flags.AddBool("json", &json, "print one JSON object instead of a table");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  model::ConfigureRuntime(0);
  absl::StatusOr<model::CausalLm> loaded = model::LoadModel(positional[0]);
  if (!loaded.ok()) return Fail(loaded.status());
  const model::CausalLmImpl& model = **loaded;
  const config::ModelConfig& c = model.config();

  // Parameters under "<layer>.mlp.experts.<j>." by layer: a token uses
  // n_activated of each layer's n_routed (equal-sized) experts.
  int64_t total = 0;
  std::map<std::string, int64_t> routed;
  for (const auto& item : model.named_parameters()) {
    total += item.value().numel();
    const size_t at = item.key().find(".mlp.experts.");
    if (at != std::string::npos) routed[item.key().substr(0, at)] += item.value().numel();
  }
  int64_t active = total;
  if (c.n_routed_experts() > 0) {
    for (const auto& [layer, count] : routed) {
      active -= count - count * c.n_activated_experts() / c.n_routed_experts();
    }
  }
  const model::KvCache cache = model.NewCache(1, 1);
  const int64_t kv_bytes = cache.Bytes();
  const std::string arch = config::ModelArch_Name(c.arch());
  const std::string family = c.family().empty() ? arch : c.family();
  const std::string dtype = model.dtype() == torch::kBFloat16 ? "bfloat16" : "float32";
  const bool moe = c.n_routed_experts() > 0;
  if (json) {
    std::string text = absl::StrCat("{\"family\": ", JsonQuote(family), ", \"arch\": ", JsonQuote(arch),
                                    ", \"parameters\": ", total, ", \"active_parameters\": ", active,
                                    ", \"layers\": ", c.n_layers());
    if (moe) {
      absl::StrAppend(&text, ", \"routed_experts\": ", c.n_routed_experts(), ", \"experts_per_token\": ",
                      c.n_activated_experts(), ", \"shared_experts\": ", c.n_shared_experts());
    }
    absl::StrAppend(&text, ", \"dtype\": ", JsonQuote(dtype), ", \"max_seq_len\": ", c.max_seq_len(),
                    ", \"vocab_size\": ", c.vocab_size(), ", \"kv_cache_bytes_per_token\": ", kv_bytes, "}");
    std::printf("%s\n", text.c_str());
    return kExitOk;
  }
  const auto row = [](const char* label, const std::string& value) {
    std::printf("%-20s %s\n", label, value.c_str());
  };
  const auto count = [](int64_t n) {
    return n >= 1000000 ? absl::StrFormat("%d (%.2f B)", n, static_cast<double>(n) / 1e9) : absl::StrCat(n);
  };
  row("family", c.family().empty() ? absl::StrCat(arch, " (r1's own layout)") : family);
  row("parameters", count(total));
  row("active parameters", count(active));
  row("layers", absl::StrCat(c.n_layers()));
  if (moe) {
    row("routed experts", absl::StrCat(c.n_routed_experts()));
    row("experts per token", absl::StrCat(c.n_activated_experts()));
    row("shared experts", absl::StrCat(c.n_shared_experts()));
  }
  row("dtype", dtype);
  row("max_seq_len", absl::StrCat(c.max_seq_len()));
  row("vocab", absl::StrCat(c.vocab_size()));
  row("kv cache per token", absl::StrCat(kv_bytes, " bytes"));
  return kExitOk;
}

}  // namespace r1::cli
