#include "sft/pretrain.h"

#include <torch/torch.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/chat_template.h"
#include "common/config.h"
#include "common/file_util.h"
#include "common/status.h"
#include "common/tokenizer.h"
#include "tasks/held_out.h"
#include "tasks/task.h"

namespace r1::sft {
namespace {

namespace fs = std::filesystem;

// With loss_on_prompts every token is a target (the base model learns the
// whole text); without it, only the response and its EOS are.
absl::StatusOr<EncodedExample> EncodeText(const Tokenizer& tokenizer, const data::SftRecord& example,
                                          bool loss_on_prompts) {
  R1_ASSIGN_OR_RETURN(EncodedExample encoded, EncodeExample(tokenizer, example.prompt(), example.response()));
  if (loss_on_prompts) std::fill(encoded.loss_mask.begin(), encoded.loss_mask.end(), 1);
  return encoded;
}

}  // namespace

absl::StatusOr<PretrainResult> RunPretrain(const config::RunConfig& run, const std::string& run_dir,
                                           const PretrainOptions& options) {
  const config::PretrainConfig& pc = run.pretrain();
  const std::string stage_dir = absl::StrCat(run_dir, "/pretrain");
  R1_RETURN_IF_ERROR(MakeDirs(stage_dir));
  const std::vector<config::TaskConfig> task_configs(run.data().tasks().begin(), run.data().tasks().end());
  R1_ASSIGN_OR_RETURN(tasks::TaskMix mix, tasks::TaskMix::Create(task_configs));

  // The held-out prompts every eval of the run uses (tasks/held_out.h): the
  // corpus never contains one.
  R1_ASSIGN_OR_RETURN(std::vector<data::PromptRecord> eval_prompts, tasks::LoadEvalPrompts(run.data(), run_dir));
  const tasks::HeldOutPrompts held_out_prompts(eval_prompts);

  // The corpus: worked solutions of data.seed's items from 0 on, held-out
  // prompts skipped.
  std::fprintf(stderr, "pretrain: generating %d worked solutions\n", pc.corpus_examples());
  R1_ASSIGN_OR_RETURN(std::vector<data::SftRecord> corpus,
                      tasks::WorkedExamplesApartFrom(mix, run.data().seed(), pc.corpus_examples(), held_out_prompts));
  std::set<std::string> seen_prompts;
  std::string corpus_text;
  for (const data::SftRecord& example : corpus) {
    seen_prompts.insert(example.prompt());
    absl::StrAppend(&corpus_text, RenderExampleText(example.prompt(), example.response()), "\n");
  }
  const std::string corpus_path = absl::StrCat(stage_dir, "/corpus.txt");
  R1_RETURN_IF_ERROR(WriteFileAtomically(corpus_path, corpus_text));

  PretrainResult result;
  result.tokenizer_path = ResolvePath(run_dir, run.tokenizer().model_path().empty() ? "tokenizer.model"
                                                                                     : run.tokenizer().model_path());
  if (!fs::exists(result.tokenizer_path)) {
    std::fprintf(stderr, "pretrain: training the tokenizer (%d pieces) on %s\n", run.tokenizer().vocab_size(),
                 corpus_path.c_str());
    R1_RETURN_IF_ERROR(Tokenizer::Train(run.tokenizer(), {corpus_path}, result.tokenizer_path));
  }
  R1_ASSIGN_OR_RETURN(Tokenizer tokenizer, Tokenizer::Load(result.tokenizer_path, ChatTemplatePath(run.data(), run_dir)));
  if (tokenizer.vocab_size() != run.policy().vocab_size()) {
    return absl::FailedPreconditionError(absl::StrCat("tokenizer ", result.tokenizer_path, " has ",
                                                      tokenizer.vocab_size(), " pieces but policy.vocab_size is ",
                                                      run.policy().vocab_size()));
  }

  // Held-out text for the eval loss: data.eval_seed's items whose prompts
  // are not in the corpus.
  std::vector<EncodedExample> train_examples, eval_examples;
  for (const auto& example : corpus) {
    R1_ASSIGN_OR_RETURN(EncodedExample e, EncodeText(tokenizer, example, pc.loss_on_prompts()));
    train_examples.push_back(std::move(e));
  }
  const int64_t eval_texts = std::max<int64_t>(64, pc.corpus_examples() / 50);
  for (uint64_t i = 0; static_cast<int64_t>(eval_examples.size()) < eval_texts; ++i) {
    if (i > 100u * static_cast<uint64_t>(eval_texts)) break;  // tiny problem spaces
    const data::SftRecord example = mix.WorkedExample(run.data().eval_seed(), i);
    if (!seen_prompts.count(example.prompt())) {
      R1_ASSIGN_OR_RETURN(EncodedExample e, EncodeText(tokenizer, example, pc.loss_on_prompts()));
      eval_examples.push_back(std::move(e));
    }
  }
  const PackedDataset train = Pack(train_examples, pc.seq_len(), tokenizer.pad_id());
  const PackedDataset held_out = Pack(eval_examples, pc.seq_len(), tokenizer.pad_id());
  std::fprintf(stderr, "pretrain: %lld examples in %lld rows of %d tokens (%lld truncated); %zu held-out prompts\n",
               static_cast<long long>(train.examples), static_cast<long long>(train.rows()), pc.seq_len(),
               static_cast<long long>(train.truncated), eval_prompts.size());

  torch::manual_seed(run.seed());
  R1_ASSIGN_OR_RETURN(model::CausalLm policy, model::MakeModel(run.policy()));
  std::fprintf(stderr, "pretrain: policy with %lld parameters on %s\n",
               static_cast<long long>(model::CountParameters(*policy)), run.policy().device().c_str());
  TrainerOptions trainer;
  trainer.stage = "pretrain";
  trainer.stage_dir = stage_dir;
  trainer.tokenizer = tokenizer;
  trainer.batch_size = pc.batch_size();
  trainer.max_steps = pc.max_steps();
  trainer.max_seconds = pc.max_seconds();
  trainer.eval_every = pc.eval_every();
  trainer.optimizer = pc.optimizer();
  trainer.checkpoint = pc.checkpoint();
  trainer.resume = options.resume;
  trainer.seed = run.seed();
  const auto quality = [&](model::CausalLmImpl& model, const std::string& checkpoint, const std::string& dir,
                           const char* name) -> absl::StatusOr<eval::TaskEvalResult> {
    eval::TaskEvalOptions eo = eval::TaskEvalOptionsFromConfig(run.eval(), 96);
    eo.seed = run.seed();
    const eval::TaskEvalResult q = eval::EvaluateOnTasks(model, tokenizer, eval_prompts, mix, eo);
    R1_RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(dir, "/quality.json"), eval::TaskEvalJson(q, checkpoint, eo.greedy)));
    std::fprintf(stderr,
                 "%s: held-out %d prompts x %d samples: avg@%d %.3f, pass@%d %.3f, maj@%d %.3f, greedy %.3f, "
                 "format %.3f\n",
                 name, q.prompts, q.samples, q.samples, q.avg_at_k, q.samples, q.pass_at_k, q.samples, q.maj_at_k,
                 q.greedy, q.format_rate);
    return q;
  };

  // The student's base, on the same corpus (distillation starts from it). It
  // trains on a thread of its own beside the policy: each uses one core, and
  // on a 2-core machine the stage then takes the longer of the two budgets,
  // not their sum. Both budgets are steps, so the bases do not depend on the
  // machine's speed (TrainLm touches no shared random state).
  std::thread student_thread;
  std::atomic<bool> stop_student{false};
  absl::Status student_status = absl::OkStatus();
  // Every way out of this function, an exception included, stops and joins
  // the thread (a joinable std::thread destroyed would call std::terminate).
  absl::Cleanup join_student = [&] {
    stop_student = true;
    if (student_thread.joinable()) student_thread.join();
  };
  if ((pc.student_max_steps() > 0 || pc.student_max_seconds() > 0) && run.has_student()) {
    torch::manual_seed(run.seed());
    R1_ASSIGN_OR_RETURN(model::CausalLm student, model::MakeModel(run.student()));
    std::fprintf(stderr, "pretrain: student base with %lld parameters, %lld steps, beside the policy\n",
                 static_cast<long long>(model::CountParameters(*student)),
                 static_cast<long long>(pc.student_max_steps()));
    TrainerOptions st = trainer;
    st.stage = "pretrain_student";
    st.stage_dir = absl::StrCat(run_dir, "/pretrain_student");
    st.max_steps = pc.student_max_steps();
    st.max_seconds = pc.student_max_seconds();
    st.stop = &stop_student;
    if (pc.has_student_optimizer()) st.optimizer = pc.student_optimizer();
    student_thread = std::thread([&, student, st]() mutable {
      // LibTorch throws; an exception escaping a thread would end the process
      // without a word.
      try {
        absl::StatusOr<TrainerResult> trained = TrainLm(*student, train, held_out, st);
        if (!trained.ok()) {
          student_status = trained.status();
          return;
        }
        result.student = *trained;
        std::fprintf(stderr, "pretrain: student %lld steps in %.0f s, eval loss %.4f -> %s\n",
                     static_cast<long long>(result.student.steps), result.student.seconds, result.student.eval_loss,
                     result.student.checkpoint.c_str());
        if (options.quality_eval && !eval_prompts.empty()) {
          student_status = quality(*student, result.student.checkpoint, st.stage_dir, "pretrain_student").status();
        }
      } catch (const std::exception& e) {
        student_status = absl::InternalError(absl::StrCat("pretrain_student: ", e.what()));
      }
    });
  }
  absl::StatusOr<TrainerResult> policy_trained = TrainLm(*policy, train, held_out, trainer);
  absl::Status policy_status = policy_trained.status();
  if (policy_trained.ok()) {
    result.training = *policy_trained;
    std::fprintf(stderr, "pretrain: %lld steps in %.0f s, train loss %.4f, eval loss %.4f, %.0f tokens/s -> %s\n",
                 static_cast<long long>(result.training.steps), result.training.seconds, result.training.train_loss,
                 result.training.eval_loss, result.training.tokens_per_second, result.training.checkpoint.c_str());
    if (options.quality_eval && !eval_prompts.empty()) {
      absl::StatusOr<eval::TaskEvalResult> q = quality(*policy, result.training.checkpoint, stage_dir, "pretrain");
      if (q.ok()) result.quality = *q;
      policy_status = q.status();
    }
  }
  // A failed policy does not wait out the student's budget.
  if (policy_status.ok() && student_thread.joinable()) student_thread.join();
  std::move(join_student).Invoke();
  R1_RETURN_IF_ERROR(policy_status);
  R1_RETURN_IF_ERROR(student_status);
  return result;
}

}  // namespace r1::sft
