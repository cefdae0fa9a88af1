#include "sft/sft_stage.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "common/chat_template.h"
#include "common/file_util.h"
#include "common/jsonl.h"
#include "common/random.h"
#include "common/status.h"
#include "common/tokenizer.h"
#include "model/checkpoint.h"
#include "proto/records.pb.h"

namespace r1::sft {
namespace {

absl::StatusOr<EncodedExample> Encode(const Tokenizer& tokenizer, const data::SftRecord& record) {
  if (record.messages_size() == 0) return EncodeExample(tokenizer, record.prompt(), record.response());
  std::vector<ChatTurn> turns;
  for (const data::ChatMessage& m : record.messages()) turns.push_back({m.role(), m.content()});
  return EncodeConversation(tokenizer, turns);
}

// The highest token id of `examples` must fit the model's vocabulary: a
// dataset encoded with another tokenizer would index past the embedding.
absl::Status CheckIds(const std::vector<EncodedExample>& examples, int vocab_size, const std::string& what) {
  for (const EncodedExample& e : examples) {
    for (int id : e.ids) {
      if (id < 0 || id >= vocab_size) {
        return absl::FailedPreconditionError(
            absl::StrCat(what, ": token id ", id, " is outside the model's vocabulary of ", vocab_size));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SftStageResult> RunSft(const SftStageOptions& options) {
  const config::SftConfig& sft = options.sft;
  if (sft.train_file().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(options.stage, ": no train_file (set ", options.stage,
                                                   ".train_file or give --train)"));
  }
  if (sft.batch_size() < 1 || sft.seq_len() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.stage, ": batch_size must be >= 1 and seq_len >= 2"));
  }

  // The model and its tokenizer.
  model::CausalLm model{nullptr};
  std::string tokenizer_path = options.tokenizer_path;
  if (!options.init_checkpoint.empty()) {
    R1_ASSIGN_OR_RETURN(model, model::LoadModel(options.init_checkpoint));
    tokenizer_path = options.init_checkpoint;  // tokenizer.json or tokenizer.model
  } else if (options.fresh_model != nullptr) {
    torch::manual_seed(options.seed);
    R1_ASSIGN_OR_RETURN(model, model::MakeModel(*options.fresh_model));
  } else {
    return absl::InvalidArgumentError(absl::StrCat(options.stage, ": no starting checkpoint"));
  }
  R1_ASSIGN_OR_RETURN(Tokenizer tokenizer, Tokenizer::Load(tokenizer_path, options.chat_template));
  std::fprintf(stderr, "%s: chat template %s\n", options.stage.c_str(), DescribeChatTemplate(tokenizer).c_str());
  // Released models pad their embedding past the tokenizer (Qwen2.5:
  // 151665 tokens, vocab_size 151936); r1's own match exactly.
  if (tokenizer.vocab_size() > model->config().vocab_size()) {
    return absl::FailedPreconditionError(absl::StrCat(tokenizer_path, " has ", tokenizer.vocab_size(),
                                                      " pieces but the model's vocab_size is ",
                                                      model->config().vocab_size()));
  }

  // The data: train records, and eval records from eval_file or held out.
  const std::string train_path = ResolvePath(options.base_dir, sft.train_file());
  R1_ASSIGN_OR_RETURN(std::vector<data::SftRecord> records, ReadJsonl<data::SftRecord>(train_path));
  if (records.empty()) return absl::InvalidArgumentError(absl::StrCat(train_path, ": no records"));
  if (options.held_out.size() > 0) {
    const size_t before = records.size();
    std::erase_if(records, [&](const data::SftRecord& r) { return options.held_out.Contains(tasks::TrainingPrompt(r)); });
    if (records.size() < before) {
      std::fprintf(stderr, "%s: %zu records of %s have a held-out eval prompt; they are not trained on\n",
                   options.stage.c_str(), before - records.size(), train_path.c_str());
    }
    if (records.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(train_path, ": every record's prompt is a held-out eval prompt"));
    }
  }
  std::vector<data::SftRecord> eval_records;
  if (!sft.eval_file().empty()) {
    const std::string eval_path = ResolvePath(options.base_dir, sft.eval_file());
    R1_ASSIGN_OR_RETURN(eval_records, ReadJsonl<data::SftRecord>(eval_path));
  } else if (sft.eval_fraction() > 0 && records.size() >= 2) {
    // A seeded choice, so a resumed stage holds out the same records.
    std::vector<size_t> order(records.size());
    std::iota(order.begin(), order.end(), 0);
    Rng rng(StreamSeed(options.seed, 0x5F7));
    rng.Shuffle(order);
    const size_t n_eval = std::clamp<size_t>(static_cast<size_t>(sft.eval_fraction() * records.size()), 1,
                                             records.size() - 1);
    std::vector<bool> held(records.size(), false);
    for (size_t i = 0; i < n_eval; ++i) held[order[i]] = true;
    std::vector<data::SftRecord> train;
    for (size_t i = 0; i < records.size(); ++i) (held[i] ? eval_records : train).push_back(std::move(records[i]));
    records = std::move(train);
  }
  std::vector<EncodedExample> train_examples, eval_examples;
  for (const data::SftRecord& r : records) {
    R1_ASSIGN_OR_RETURN(EncodedExample e, Encode(tokenizer, r));
    train_examples.push_back(std::move(e));
  }
  for (const data::SftRecord& r : eval_records) {
    R1_ASSIGN_OR_RETURN(EncodedExample e, Encode(tokenizer, r));
    eval_examples.push_back(std::move(e));
  }
  R1_RETURN_IF_ERROR(CheckIds(train_examples, model->config().vocab_size(), train_path));
  const PackedDataset train = Pack(train_examples, sft.seq_len(), tokenizer.pad_id());
  const PackedDataset held_out = Pack(eval_examples, sft.seq_len(), tokenizer.pad_id());

  TrainerOptions trainer;
  trainer.stage = options.stage;
  trainer.stage_dir = options.stage_dir;
  trainer.tokenizer = tokenizer;
  trainer.batch_size = sft.batch_size();
  // Epochs decide the length unless max_steps does; max_seconds caps either.
  const int64_t steps_per_epoch = (train.rows() + sft.batch_size() - 1) / sft.batch_size();
  trainer.max_steps = sft.max_steps() > 0 ? sft.max_steps() : std::max(1, sft.epochs()) * steps_per_epoch;
  trainer.max_seconds = sft.max_seconds();
  trainer.eval_every = sft.eval_every();
  trainer.optimizer = sft.optimizer();
  trainer.checkpoint = sft.checkpoint();
  trainer.resume = options.resume;
  trainer.seed = options.seed;
  if (options.before_training) R1_RETURN_IF_ERROR(options.before_training(*model, train, trainer));

  std::fprintf(stderr,
               "%s: %lld train examples in %lld rows of %d tokens (%lld truncated), %zu eval examples; "
               "%lld steps of %d rows\n",
               options.stage.c_str(), static_cast<long long>(train.examples), static_cast<long long>(train.rows()),
               sft.seq_len(), static_cast<long long>(train.truncated), eval_examples.size(),
               static_cast<long long>(trainer.max_steps), sft.batch_size());
  SftStageResult result;
  R1_ASSIGN_OR_RETURN(result.training, TrainLm(*model, train, held_out, trainer));
  result.train_examples = train.examples;
  result.eval_examples = static_cast<int64_t>(eval_examples.size());
  result.truncated = train.truncated;
  std::fprintf(stderr, "%s: %lld steps in %.0f s, train loss %.4f, eval loss %.4f -> %s\n", options.stage.c_str(),
               static_cast<long long>(result.training.steps), result.training.seconds, result.training.train_loss,
               result.training.eval_loss, result.training.checkpoint.c_str());
  return result;
}

}  // namespace r1::sft
