// Checkpoints and Hugging Face interchange.
//
// A checkpoint is a folder:
//   config.json                  Hugging Face config of the layout, plus
//                                "r1_model_config" (the exact ModelConfig)
//                                and "r1_format_version" (see below)
//   model.safetensors            weights under Hugging Face names
//   tokenizer.model              the SentencePiece model it was trained with
//   training_state.safetensors   optimizer moments, step, RNG, data position
//                                (absent in exported models)
//   manifest.json                byte size and CRC-32C of every file above
// It is written under a temporary name and renamed into place, so a folder
// with the final name is always complete; loading re-checks every checksum
// and refuses a truncated or corrupted file. An r1 checkpoint (config.json
// carries "r1_model_config") without its manifest is refused: nothing would
// check its weights.
//
// Export writes the same folder without training state, plus
// tokenizer_config.json and generation_config.json, which is the layout
// transformers, vLLM and llama.cpp's converters read; it has a manifest too,
// so an export loads back as an r1 checkpoint. Import reads such a folder
// (also sharded: model.safetensors.index.json) from the standard keys; a
// folder without "r1_model_config" needs no manifest.
//
// Every load, with a manifest or without, refuses: shard names in the index
// that are not plain file names in the folder; a config.json that describes
// more values than the weight files' headers hold (checked before the model
// is allocated); and NaN or infinite weights, naming the tensor. Magnitudes
// are not judged: a finite 1e30 is a weight like any other. A tensor the
// model does not have is refused by name, except the copies of the
// embedding and head that DeepSeek's releases store with each MTP layer
// (model.layers.{n_layers + k - 1}.embed_tokens.weight and
// .shared_head.head.weight, MtpSharedCopies), which r1's MTP modules share:
// each must equal its main tensor (compared in the files' bytes, a chunk at
// a time), else it is refused by name.
//
// "r1_format_version" (kCheckpointFormatVersion) says how r1 laid out the
// folder: its own keys, tensor names, training state and manifest. Save and
// export write it; every load (LoadModel, LoadTrainingState, RestoreWeights)
// refuses a folder that declares another version, naming the folder, the
// version found and the one supported, instead of misreading it. A folder
// without the key loads as before: an r1 checkpoint written before the key
// existed is version 1, and a Hugging Face folder (no r1 keys at all) is
// read from the standard keys, where no r1 version applies.
//
// RoPE layouts need no permutation either way: the Llama student rotates
// halves like Hugging Face Llama weights; the DeepSeek policy rotates adjacent
// pairs like DeepSeek-V3's published weights (config.json says
// "rope_interleave": true).
#ifndef R1_MODEL_CHECKPOINT_H_
#define R1_MODEL_CHECKPOINT_H_

#include <torch/types.h>

#include <map>
#include <optional>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/causal_lm.h"
#include "common/tokenizer.h"
#include "model/families.h"  // ModelConfigFromJson, ModelConfigToJson
#include "proto/config.pb.h"

namespace r1::model {

// The checkpoint layout this build writes and the only one it reads. Bump it
// when a change would make an older r1 misread a new checkpoint (or this one
// an old checkpoint), and say in the commit what changed.
inline constexpr int kCheckpointFormatVersion = 1;

struct TrainingState {
  int64_t step = 0;                // optimizer steps taken
  int64_t tokens_seen = 0;
  int64_t data_cursor = 0;         // index of the next training item
  torch::Tensor rng_state;         // torch's CPU generator state (uint8)
  std::map<std::string, torch::Tensor> optimizer;  // OptimizerStateTensors()
  std::map<std::string, std::string> extra;        // stage-specific strings
  std::map<std::string, torch::Tensor> extra_tensors;  // stage-specific tensors (e.g. RL's reference weights)

  // extra[key] as a number, or `fallback` when absent or not a number.
  double ExtraNumber(const std::string& key, double fallback) const;
};

// Writes `dir` atomically (see above), with the files of `tokenizer` (may be
// null) so that the folder loads the same tokenizer and chat template.
absl::Status SaveCheckpoint(const std::string& dir, CausalLmImpl& model, const Tokenizer* tokenizer,
                            const TrainingState* state);

struct LoadOptions {
  std::string device;  // overrides the saved device when not empty
  std::optional<config::DType> dtype;
};

// Loads a checkpoint or an imported Hugging Face folder (see above). A folder
// with manifest.json has every file verified first (read through a bounded
// buffer); an r1 checkpoint without one is DATA_LOSS; another
// r1_format_version is FAILED_PRECONDITION. The weight files are mapped, not
// read: each tensor is copied from the mapping into the model (converted to
// the run dtype: float32, bfloat16 or float16 files load into either) and the
// file's pages released behind it, so resident memory peaks near the model's
// own bytes, not two or three times them.
absl::StatusOr<CausalLm> LoadModel(const std::string& dir, const LoadOptions& options = {});
// Requires the manifest (only r1 checkpoints have a training state).
absl::StatusOr<TrainingState> LoadTrainingState(const std::string& dir);

// Verifies `dir` (the manifest is required) and copies its weights into an
// existing model of the same config (how a stage resumes in place), the way
// LoadModel does. Missing, extra and misshapen tensors are refused before
// anything is copied; a NaN is found as its tensor is copied, so that refusal
// leaves the model partly overwritten: a caller then drops the model (as a
// stage does when it fails to resume).
absl::Status RestoreWeights(const std::string& dir, CausalLmImpl& model);

// How many values (every tensor NamedTensors lists) a model of this config
// holds, computed without building it: how LoadModel refuses a config.json
// its weight files cannot fill before allocating anything. A double because
// configs within ValidateModel's bounds can exceed 2^63.
double ModelTensorElements(const config::ModelConfig& config);

// How many values of `tensor` are NaN or infinite: on the CPU one pass over
// the bits with no temporaries (about 5x torch::isfinite(t).all() on 100 MB).
int64_t CountNonFinite(const torch::Tensor& tensor);
// The same over `count` values of `type` in CPU memory at `data` (0 for a
// type that is not floating point): for checking bytes in blocks as they are
// copied, while each block is still in cache.
int64_t CountNonFinite(const void* data, int64_t count, torch::ScalarType type);

// A model folder for other tools (no training state; HF extras included).
// An imported family's weights are written in the dtype it was released in
// (ReleasedWeightDtype; e_score_correction_bias stays float32, as DeepSeek
// stores it), r1's own models' in the run dtype. A DEEPSEEK_V3 model with
// MTP modules also gets each module's copy of the embedding and head
// (MtpSharedCopies), under the names DeepSeek's releases give them, so an
// imported release goes back with its own tensor names (and a folder that
// lacked the copies gains them). The tokenizer's files go along (an r1
// SentencePiece model also gets a tokenizer_config.json with its chat
// template: the tokenizer's, else r1's, and a generation_config.json). An own model whose config.json cannot
// express it is FAILED_PRECONDITION (CheckHuggingFaceExportable), before
// anything is written.
// `extra_files(folder)` may add files (a model card, GGUF files) to the
// folder before it appears under its final name.
absl::Status ExportHuggingFace(const std::string& dir, CausalLmImpl& model, const Tokenizer& tokenizer,
                               const std::function<absl::Status(const std::string&)>& extra_files = nullptr);

// Checkpoints of a stage live in `parent/step_<8 digits>`.
std::string CheckpointDir(const std::string& parent, int64_t step);
// The newest complete one, or NOT_FOUND.
absl::StatusOr<std::string> LatestCheckpoint(const std::string& parent);
// Deletes all but the newest `keep`.
absl::Status PruneCheckpoints(const std::string& parent, int keep);

}  // namespace r1::model

#endif  // R1_MODEL_CHECKPOINT_H_
