// `r1 export`: a checkpoint as a model folder other tools load — Hugging Face
// layout, a model card with its training provenance, and GGUF files for
// llama.cpp — appearing all at once under its final name.
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "cli/run_flags.h"
#include "common/config.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "common/jsonl.h"
#include "common/status.h"
#include "common/tokenizer.h"
#include "model/causal_lm.h"
#include "model/checkpoint.h"
#include "model/gguf_export.h"
#include "proto/records.pb.h"

namespace r1::cli {
namespace {

namespace fs = std::filesystem;

std::string Architecture(const config::ModelConfig& c) {
  const std::string family =
      c.family().empty() ? "" : absl::StrCat(" (imported Hugging Face family ", c.family(), ")");
  if (c.arch() == config::LLAMA) {
    const std::string experts =
        c.n_routed_experts() > 0
            ? absl::StrFormat(", %d routed experts (top %d) in the layers that route", c.n_routed_experts(),
                              c.n_activated_experts())
            : "";
    return absl::StrFormat("Llama layout (GQA, SwiGLU, RMSNorm, RoPE): %d layers, width %d, %d heads (%d KV), "
                           "FFN %d%s%s%s",
                           c.n_layers(), c.dim(), c.n_heads(), c.n_kv_heads(), c.ffn_hidden_dim(), experts,
                           c.tie_embeddings() ? ", tied embeddings" : "", family);
  }
  return absl::StrFormat("DeepSeek-V3 layout (MLA, DeepSeekMoE): %d layers, width %d, %d heads, %d routed experts "
                         "(top %d) + %d shared%s",
                         c.n_layers(), c.dim(), c.n_heads(), c.n_routed_experts(), c.n_activated_experts(),
                         c.n_shared_experts(), family);
}

// The model card: what the model is, how to run it, and where it came from.
std::string ModelCard(const std::string& ckpt, model::CausalLmImpl& model, const Tokenizer& tokenizer,
                      const std::string& run_dir, const std::vector<std::string>& gguf_files) {
  const config::ModelConfig& c = model.config();
  const bool own = tokenizer.kind() == "sentencepiece";
  std::vector<std::string> tokenizer_files;
  for (const auto& [source, name] : tokenizer.files()) tokenizer_files.push_back(absl::StrCat("`", name, "`"));
  if (own) tokenizer_files.insert(tokenizer_files.end(), {"`tokenizer_config.json`", "`generation_config.json`"});
  std::string card = absl::StrCat("# ", fs::path(ckpt).filename().string(), " (exported by r1cpp)\n\n",
                                  "| | |\n|---|---|\n",
                                  "| architecture | ", Architecture(c), " |\n",
                                  "| parameters | ", model::CountParameters(model), " |\n",
                                  "| vocabulary | ", tokenizer.vocab_size(),
                                  own ? " SentencePiece pieces (`tokenizer.model`)" : " tokens (`tokenizer.json`)",
                                  c.vocab_size() > tokenizer.vocab_size()
                                      ? absl::StrCat("; embedding rows ", c.vocab_size())
                                      : std::string(),
                                  " |\n",
                                  "| context | ", c.max_seq_len(), " tokens |\n\n");
  absl::StrAppend(&card, "## Files\n\n",
                  "- `config.json`, `model.safetensors`, ", absl::StrJoin(tokenizer_files, ", "),
                  ": Hugging Face layout (transformers, vLLM).\n");
  for (const std::string& f : gguf_files) absl::StrAppend(&card, "- `", f, "`: GGUF for llama.cpp.\n");
  if (tokenizer.chat_template() != nullptr) {
    absl::StrAppend(&card, "\n## Prompt format\n\n", "The chat template it was trained with (",
                    own ? "`chat_template.jinja`, also in `tokenizer_config.json`" : "carried unchanged",
                    "), as `r1 tokenizer chat --model <this folder>` shows it.\n\n");
  } else if (own) {
    absl::StrAppend(&card, "\n## Prompt format\n\n",
                    "`<s><|user|>{prompt}<|assistant|>`; the model answers `<think>{reasoning}</think>"
                    "<answer>{answer}</answer></s>` (the chat template is in `tokenizer_config.json`).\n\n");
  } else {
    absl::StrAppend(&card, "\n## Prompt format\n\n",
                    "No chat template of its own: prompts were r1's `<|user|>{prompt}<|assistant|>` as plain text, "
                    "as `r1 tokenizer chat --model <this folder>` shows it.\n\n");
  }
  absl::StrAppend(&card, "## Training provenance\n\n", "- exported from `", ckpt, "` on ");
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%d", std::gmtime(&now));
  absl::StrAppend(&card, date, "\n");
  if (absl::StatusOr<model::TrainingState> state = model::LoadTrainingState(ckpt); state.ok()) {
    const auto stage = state->extra.find("stage");
    absl::StrAppend(&card, "- stage `", stage != state->extra.end() ? stage->second : "?", "`, step ", state->step,
                    ", ", state->tokens_seen, " target tokens seen\n");
  }
  const std::string manifest_path = absl::StrCat(run_dir, "/manifest.json");
  if (!run_dir.empty() && fs::exists(manifest_path)) {
    absl::StatusOr<std::string> text = ReadFile(manifest_path);
    data::RunManifest manifest;
    if (text.ok() && ParseJsonRecord(*text, &manifest).ok()) {
      absl::StrAppend(&card, "- pipeline run `", run_dir, "` from `", manifest.config(), "`:\n\n",
                      "| stage | status | seconds | output |\n|---|---|---|---|\n");
      for (const data::StageRecord& s : manifest.stages()) {
        absl::StrAppend(&card, "| ", s.name(), " | ", s.status(), " | ", absl::StrFormat("%.0f", s.seconds()),
                        " | `", s.output(), "` |\n");
      }
    }
  }
  return card;
}

}  // namespace

int Export(const Args& args) {
  RunFlags run_flags;
  std::string ckpt, out, gguf_types;
  bool gguf = true;
  FlagSet flags("r1 export",
                "Exports a checkpoint (default: the newest distilled student in run_dir) as a model\n"
                "folder: Hugging Face layout plus README.md (a model card with the training\n"
                "provenance) and GGUF files (llama.cpp's format, f32 and/or f16) written directly.\n"
                "The folder appears complete or not at all. Prints its path.");
  run_flags.Add(flags, "export.gguf_types=f16");
  flags.AddString("ckpt", &ckpt, "checkpoint to export (default: the newest in run_dir/distill)");
  flags.AddString("out", &out, "output folder (default: run_dir/export)");
  flags.AddBool("gguf", &gguf, "also write GGUF files (default: the config's export.gguf)");
  flags.AddString("gguf_types", &gguf_types, "f32, f16 or f32,f16 (default: export.gguf_types)");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  config::RunConfig run;
  std::string run_dir;
  if (run_flags.given()) {
    if (auto code = run_flags.Load("r1 export", &run)) return *code;
    run_dir = run_flags.run_dir();
    if (!flags.WasSet("gguf")) gguf = run.export_().gguf();
  } else if (ckpt.empty() || out.empty()) {
    std::fprintf(stderr, "r1 export: give a config, or --ckpt and --out (see r1 export --help)\n");
    return kExitUsage;
  }
  if (gguf_types.empty()) gguf_types = run.export_().gguf_types();
  std::vector<GgufTensorType> types;
  std::vector<std::string> type_names;
  for (absl::string_view t : absl::StrSplit(gguf_types, ',', absl::SkipEmpty())) {
    if (t == "f32") {
      types.push_back(GgufTensorType::kF32);
    } else if (t == "f16") {
      types.push_back(GgufTensorType::kF16);
    } else {
      std::fprintf(stderr, "r1 export: --gguf_types takes f32, f16 or both, got \"%s\"\n", gguf_types.c_str());
      return kExitUsage;
    }
    type_names.emplace_back(t);
  }
  if (ckpt.empty()) {
    absl::StatusOr<std::string> latest = model::LatestCheckpoint(absl::StrCat(run_dir, "/distill/checkpoints"));
    if (!latest.ok()) {
      return Fail(absl::NotFoundError(absl::StrCat("no student checkpoint in ", run_dir,
                                                   "/distill/checkpoints: run `r1 distill` or give --ckpt")));
    }
    ckpt = *latest;
  }
  if (out.empty()) out = absl::StrCat(run_dir, "/export");
  model::LoadOptions load;
  load.dtype = run.export_().dtype();
  absl::StatusOr<model::CausalLm> model = model::LoadModel(ckpt, load);
  if (!model.ok()) return Fail(model.status());
  // The folder's tokenizer.json or tokenizer.model, and its chat template.
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(ckpt, ChatTemplatePath(run.data(), run_dir));
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  absl::Status exportable = model::CheckGgufExportable((*model)->config());
  if (exportable.ok() && tokenizer->kind() != "sentencepiece") {
    exportable = absl::UnimplementedError(absl::StrCat("GGUF export writes SentencePiece vocabularies; this model's "
                                                       "tokenizer is a ", tokenizer->kind()));
  }
  if (gguf && !exportable.ok()) {
    std::fprintf(stderr, "export: no GGUF for %s (%s); exporting the Hugging Face folder only\n", ckpt.c_str(),
                 std::string(exportable.message()).c_str());
    gguf = false;
  }
  std::vector<std::string> gguf_files;
  if (gguf) {
    for (const std::string& t : type_names) gguf_files.push_back(absl::StrCat("model-", t, ".gguf"));
  }
  absl::Status status = model::ExportHuggingFace(out, **model, *tokenizer, [&](const std::string& folder) {
    for (size_t i = 0; i < gguf_files.size(); ++i) {
      R1_RETURN_IF_ERROR(model::ExportGguf(absl::StrCat(folder, "/", gguf_files[i]), **model, *tokenizer, types[i]));
    }
    return WriteFileAtomically(absl::StrCat(folder, "/README.md"), ModelCard(ckpt, **model, *tokenizer, run_dir, gguf_files));
  });
  if (!status.ok()) return Fail(status);
  std::fprintf(stderr, "export: %s -> %s (Hugging Face%s)\n", ckpt.c_str(), out.c_str(),
               gguf_files.empty() ? "" : absl::StrCat(" + ", absl::StrJoin(gguf_files, ", ")).c_str());
  std::printf("%s\n", out.c_str());
  return kExitOk;
}

}  // namespace r1::cli
