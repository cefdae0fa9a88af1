// Loading a released checkpoint (issue 14, "Files and memory"): seconds and
// peak resident memory of model::LoadModel on a synthetic bfloat16 Hugging
// Face Llama folder of Llama-3.2-1B's shape (hidden 2048, 16 layers, 32 heads,
// 8 kv heads, SwiGLU 8192, vocab 128256, tied embeddings: 1.236e9 parameters,
// 2.47 GB of weights), in one file and in two shards with an index.
//
//   build/bin/load_bench [--repeats 3] [--threads 0] [--tmp /tmp] [--old]
//
// Each load runs in a fresh child process (this program started again with
// --child), so the parent's writing and earlier loads do not count toward the
// child's peak: VmHWM of /proc/self/status after the load, against the bytes
// the loaded model's tensors hold in the run dtype. Every layout is loaded
// with run dtype bfloat16 and float32; --old loads each the way LoadModel did
// before it mapped files (ReadSafetensors of every file, a finiteness check of
// each tensor, LoadTensors), and "make" rows build the model alone
// (MakeModel for weights that follow: the floor under LoadModel), and
// "random" rows build a randomly initialized model (what a run from scratch
// does, and what LoadModel built before it passed ModelInit::kWeightsFollow).
// Medians of --repeats. The folder is written under --tmp (about 2.5 GB) and removed
// afterwards. On a machine shared with other work, run it with
// OMP_WAIT_POLICY=PASSIVE (as r1 does for its co-scheduled commands), or
// spinning OpenMP workers measure the contention instead of the loader.
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "common/status.h"
#include "common/subprocess.h"
#include "model/causal_lm.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"

namespace r1 {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int64_t kHidden = 2048, kLayers = 16, kHeads = 32, kKvHeads = 8, kFfn = 8192, kVocab = 128256;
constexpr int64_t kHeadDim = kHidden / kHeads;

// config.json as transformers writes it for Llama-3.2-1B, less rope_scaling
// (the bench measured the loader before the families importer took it; RoPE
// scaling changes no tensor, so loading costs the same either way).
constexpr char kConfigJson[] = R"({
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": 128001,
  "head_dim": 64,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 16,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
}
)";

// Every tensor of the folder, in Hugging Face's order and names.
std::vector<std::pair<std::string, std::vector<int64_t>>> LlamaTensors() {
  std::vector<std::pair<std::string, std::vector<int64_t>>> tensors = {{"model.embed_tokens.weight", {kVocab, kHidden}}};
  for (int64_t i = 0; i < kLayers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    tensors.push_back({p + "input_layernorm.weight", {kHidden}});
    tensors.push_back({p + "self_attn.q_proj.weight", {kHeads * kHeadDim, kHidden}});
    tensors.push_back({p + "self_attn.k_proj.weight", {kKvHeads * kHeadDim, kHidden}});
    tensors.push_back({p + "self_attn.v_proj.weight", {kKvHeads * kHeadDim, kHidden}});
    tensors.push_back({p + "self_attn.o_proj.weight", {kHidden, kHeads * kHeadDim}});
    tensors.push_back({p + "post_attention_layernorm.weight", {kHidden}});
    tensors.push_back({p + "mlp.gate_proj.weight", {kFfn, kHidden}});
    tensors.push_back({p + "mlp.up_proj.weight", {kFfn, kHidden}});
    tensors.push_back({p + "mlp.down_proj.weight", {kHidden, kFfn}});
  }
  tensors.push_back({"model.norm.weight", {kHidden}});
  return tensors;
}

// Writes one safetensors file of random bfloat16 tensors a tensor at a time
// (header first, then each tensor's bytes), so the writer never holds the
// file's 2.5 GB.
absl::Status WriteShard(const std::string& path, const std::vector<std::pair<std::string, std::vector<int64_t>>>& tensors) {
  std::vector<std::string> entries;
  uint64_t offset = 0;
  for (const auto& [name, shape] : tensors) {
    int64_t numel = 1;
    for (int64_t d : shape) numel *= d;
    const uint64_t bytes = static_cast<uint64_t>(numel) * 2;
    entries.push_back(absl::StrCat("\"", name, "\":{\"dtype\":\"BF16\",\"shape\":[", absl::StrJoin(shape, ","),
                                   "],\"data_offsets\":[", offset, ",", offset + bytes, "]}"));
    offset += bytes;
  }
  std::string header = absl::StrCat("{\"__metadata__\":{\"format\":\"pt\"},", absl::StrJoin(entries, ","), "}");
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string prefix(8, '\0');
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  AtomicFileWriter writer;
  R1_RETURN_IF_ERROR(writer.Open(path));
  R1_RETURN_IF_ERROR(writer.Write(prefix + header));
  for (const auto& [name, shape] : tensors) {
    // Norm gains near 1, matrices std 0.02, as a trained model's roughly are.
    const bool norm = absl::EndsWith(name, "norm.weight");
    const torch::Tensor t = (norm ? torch::ones(shape) + 0.1 * torch::randn(shape) : 0.02 * torch::randn(shape))
                                .to(torch::kBFloat16);
    R1_RETURN_IF_ERROR(writer.Write(absl::string_view(static_cast<const char*>(t.data_ptr()), t.numel() * 2)));
  }
  return writer.Commit();
}

// The folder: config.json and one file, or two shards and their index.
absl::Status WriteFolder(const std::string& dir, int shards) {
  R1_RETURN_IF_ERROR(MakeDirs(dir));
  R1_RETURN_IF_ERROR(WriteFileAtomically(dir + "/config.json", kConfigJson));
  const auto tensors = LlamaTensors();
  if (shards == 1) return WriteShard(dir + "/model.safetensors", tensors);
  const size_t half = tensors.size() / 2;
  const std::vector<std::vector<std::pair<std::string, std::vector<int64_t>>>> parts = {
      {tensors.begin(), tensors.begin() + static_cast<long>(half)}, {tensors.begin() + static_cast<long>(half), tensors.end()}};
  std::vector<std::string> map;
  for (size_t s = 0; s < parts.size(); ++s) {
    const std::string file = absl::StrFormat("model-%05d-of-%05d.safetensors", s + 1, parts.size());
    R1_RETURN_IF_ERROR(WriteShard(dir + "/" + file, parts[s]));
    for (const auto& [name, shape] : parts[s]) map.push_back(absl::StrCat("\"", name, "\": \"", file, "\""));
  }
  return WriteFileAtomically(dir + "/model.safetensors.index.json",
                             absl::StrCat("{\"metadata\": {}, \"weight_map\": {", absl::StrJoin(map, ", "), "}}\n"));
}

// VmHWM (peak resident set) of this process, bytes.
int64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (!absl::StartsWith(line, "VmHWM:")) continue;
    const absl::string_view value = absl::StripSuffix(absl::StripAsciiWhitespace(absl::string_view(line).substr(6)), " kB");
    int64_t kb;
    return absl::SimpleAtoi(value, &kb) ? kb * 1024 : -1;
  }
  return -1;
}

// The loader as it was before it mapped files: every file read whole, each
// tensor checked finite in full, then copied into the model.
absl::StatusOr<model::CausalLm> OldLoad(const std::string& dir, config::DType dtype) {
  R1_ASSIGN_OR_RETURN(std::string json, ReadFile(dir + "/config.json"));
  R1_ASSIGN_OR_RETURN(config::ModelConfig config, model::ModelConfigFromJson(json, dir + "/config.json"));
  config.set_dtype(dtype);
  R1_ASSIGN_OR_RETURN(model::CausalLm model, model::MakeModel(config));
  std::vector<std::string> files;
  if (fs::exists(dir + "/model.safetensors")) {
    files.push_back(dir + "/model.safetensors");
  } else {
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() == ".safetensors") files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
  }
  std::map<std::string, torch::Tensor> tensors;
  for (const std::string& file : files) {
    R1_ASSIGN_OR_RETURN(model::SafetensorsFile weights, model::ReadSafetensors(file));
    for (const auto& [name, tensor] : weights.tensors) {
      if (tensor.is_floating_point() && torch::isfinite(tensor).logical_not_().any().item<bool>()) {
        return absl::InvalidArgumentError(absl::StrCat(file, ": tensor ", name, " is not finite"));
      }
    }
    tensors.merge(weights.tensors);
  }
  R1_RETURN_IF_ERROR(model::LoadTensors(*model, tensors, dir));
  return model;
}

// One load in this (fresh) process; prints one JSON line.
int Child(const std::string& dir, const std::string& loader, const std::string& dtype_name, int threads) {
  model::ConfigureRuntime(threads);
  const config::DType dtype = dtype_name == "bfloat16" ? config::BFLOAT16 : config::FLOAT32;
  const auto start = Clock::now();
  absl::StatusOr<model::CausalLm> model;
  if (loader == "new") {
    model = model::LoadModel(dir, {"", dtype});
  } else if (loader == "old") {
    model = OldLoad(dir, dtype);
  } else {  // "make" / "random": the model alone, from the same config
    absl::StatusOr<std::string> json = ReadFile(dir + "/config.json");
    absl::StatusOr<config::ModelConfig> config =
        json.ok() ? model::ModelConfigFromJson(*json, dir) : absl::StatusOr<config::ModelConfig>(json.status());
    if (config.ok()) config->set_dtype(dtype);
    const model::ModelInit init = loader == "random" ? model::ModelInit::kRandom : model::ModelInit::kWeightsFollow;
    model = config.ok() ? model::MakeModel(*config, init) : absl::StatusOr<model::CausalLm>(config.status());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!model.ok()) {
    std::fprintf(stderr, "load_bench: %s\n", std::string(model.status().message()).c_str());
    return 1;
  }
  int64_t weight_bytes = 0, elements = 0;
  for (const auto& [name, tensor] : model::NamedTensors(**model)) {
    weight_bytes += tensor.numel() * tensor.element_size();
    elements += tensor.numel();
  }
  std::printf("{\"seconds\": %.3f, \"peak_rss_bytes\": %lld, \"weight_bytes\": %lld, \"elements\": %lld}\n", seconds,
              static_cast<long long>(PeakRssBytes()), static_cast<long long>(weight_bytes),
              static_cast<long long>(elements));
  return 0;
}

double JsonNumber(const std::string& json, const std::string& key) {
  const size_t at = json.find(absl::StrCat("\"", key, "\": "));
  return at == std::string::npos ? -1 : std::strtod(json.c_str() + at + key.size() + 4, nullptr);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int Main(int argc, char** argv) {
  int64_t repeats = 3, threads = 0;
  std::string tmp = "/tmp", child_dir, loader = "new", dtype = "bfloat16";
  bool old = false;
  FlagSet flags("load_bench", "Checkpoint loading: seconds and peak RSS; see the comment at the top of bench/load_bench.cc.");
  flags.AddInt("repeats", &repeats, "loads per row (the median is reported)");
  flags.AddInt("threads", &threads, "intra-op threads in the loading process; 0 = all cores");
  flags.AddString("tmp", &tmp, "where the synthetic folder is written (about 2.5 GB)");
  flags.AddBool("old", &old, "also load the way LoadModel did before it mapped files");
  flags.AddString("child", &child_dir, "(internal) load this folder in this process and print one JSON line");
  flags.AddString("loader", &loader, "(internal, with --child) new, old, make or random");
  flags.AddString("dtype", &dtype, "(internal, with --child) float32 or bfloat16");
  if (std::optional<int> exit_code = ParseCommandLine(flags, {argv + 1, argv + argc})) return *exit_code;
  if (!child_dir.empty()) return Child(child_dir, loader, dtype, static_cast<int>(threads));

  const std::string self = fs::read_symlink("/proc/self/exe").string();
  const std::string dir = absl::StrCat(tmp, "/r1_load_bench_", getpid());
  std::vector<std::string> table;
  int failures = 0;
  for (int shards : {1, 2}) {
    fs::remove_all(dir);
    torch::manual_seed(0);
    const auto write_start = Clock::now();
    if (absl::Status s = WriteFolder(dir, shards); !s.ok()) {
      std::fprintf(stderr, "load_bench: %s\n", std::string(s.message()).c_str());
      fs::remove_all(dir);
      return 1;
    }
    std::fprintf(stderr, "wrote %s (%d file%s) in %.1f s\n", dir.c_str(), shards, shards == 1 ? "" : "s",
                 std::chrono::duration<double>(Clock::now() - write_start).count());
    std::vector<std::string> loaders = {"random", "make", "new"};
    if (old) loaders.push_back("old");
    for (const std::string run_dtype : {"bfloat16", "float32"}) {
      for (const std::string& how : loaders) {
        std::vector<double> seconds, peaks;
        double weight_bytes = 0;
        for (int64_t r = 0; r < repeats; ++r) {
          const std::string out = dir + ".child.json";
          absl::StatusOr<std::unique_ptr<Subprocess>> child =
              Subprocess::Start({self, "--child", dir, "--loader", how, "--dtype", run_dtype, "--threads",
                                 absl::StrCat(threads)},
                                {.stdout_path = out});
          const absl::StatusOr<int> code = child.ok() ? (*child)->Wait() : absl::StatusOr<int>(child.status());
          const std::string json = ReadFile(out).value_or("");
          fs::remove(out);
          if (!code.ok() || *code != 0) {
            std::fprintf(stderr, "load_bench: %s %s load failed (%s)\n", how.c_str(), run_dtype.c_str(),
                         code.ok() ? absl::StrCat("exit ", *code).c_str() : std::string(code.status().message()).c_str());
            ++failures;
            break;
          }
          std::printf("{\"bench\": \"load\", \"loader\": \"%s\", \"dtype\": \"%s\", \"files\": %d, %s", how.c_str(),
                      run_dtype.c_str(), shards, json.substr(1).c_str());
          std::fflush(stdout);
          seconds.push_back(JsonNumber(json, "seconds"));
          peaks.push_back(JsonNumber(json, "peak_rss_bytes"));
          weight_bytes = JsonNumber(json, "weight_bytes");
        }
        if (seconds.empty()) continue;
        const double peak = Median(peaks);
        table.push_back(absl::StrFormat("| %s | %s | %d | %.2f GB | %.2f GB | %.2f | %.1f s |",
                                        how == "new"      ? "LoadModel"
                                        : how == "old"    ? "before (read whole)"
                                        : how == "random" ? "MakeModel, random init"
                                                          : "MakeModel, weights follow",
                                        run_dtype, shards, weight_bytes / 1e9, peak / 1e9, peak / weight_bytes,
                                        Median(seconds)));
      }
    }
  }
  fs::remove_all(dir);
  std::printf("\n| loader | run dtype | files | weight bytes | peak RSS | ratio | seconds (median of %lld) |\n"
              "|---|---|---|---|---|---|---|\n%s\n",
              static_cast<long long>(repeats), absl::StrJoin(table, "\n").c_str());
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace r1

int main(int argc, char** argv) { return r1::Main(argc, argv); }
