#include "distill/distill.h"

#include <torch/torch.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "rollout/pool.h"

namespace r1::distill {
namespace {

// Sequences per ScoreTokens call.
constexpr int64_t kScoreBatch = 64;

struct TeacherTargets {
  torch::Tensor ids;       // [B, L, K] int64
  torch::Tensor logprobs;  // [B, L, K] float
};

// The teacher's top-k at every position of the packed rows `row_ids` [B]
// int64: each example (a segment of a row) is scored alone, as the student
// sees it. Fetched per training batch, so memory holds one batch's targets,
// not the whole set's (20k rows x 1024 tokens x top-20 would be 5 GB).
absl::StatusOr<TeacherTargets> FetchTeacherTargets(rollout::RolloutPool& pool, const sft::PackedDataset& rows,
                                                   const torch::Tensor& row_ids, int top_k) {
  const int64_t n = row_ids.size(0), length = rows.tokens.size(1);
  TeacherTargets targets;
  targets.ids = torch::zeros({n, length, top_k}, torch::kInt64);
  targets.logprobs = torch::zeros({n, length, top_k}, torch::kFloat32);
  // (batch row, offset) of each pending sequence, in request order.
  std::vector<std::pair<int64_t, int64_t>> pending;
  rollout::ScoreTokensRequest request;
  request.set_top_k(top_k);
  request.set_completion_start(1);
  const auto flush = [&]() -> absl::Status {
    if (pending.empty()) return absl::OkStatus();
    R1_ASSIGN_OR_RETURN(rollout::ScoreTokensResponse response, pool.ScoreTokens(request));
    if (response.sequences_size() != static_cast<int>(pending.size())) {
      return absl::InternalError(absl::StrCat("teacher scored ", response.sequences_size(), " sequences, not ",
                                              pending.size()));
    }
    auto ids = targets.ids.accessor<int64_t, 3>();
    auto logprobs = targets.logprobs.accessor<float, 3>();
    for (size_t s = 0; s < pending.size(); ++s) {
      const auto [row, offset] = pending[s];
      const rollout::ScoredSequence& scored = response.sequences(static_cast<int>(s));
      // positions[i] is the top-k for token i + 1 of the sequence.
      for (int i = 0; i < scored.positions_size(); ++i) {
        const rollout::TokenTopK& top = scored.positions(i);
        if (top.token_ids_size() != top_k || top.logprobs_size() != top_k) {
          return absl::InternalError("teacher returned a top-k of the wrong size");
        }
        for (int j = 0; j < top_k; ++j) {
          ids[row][offset + i + 1][j] = top.token_ids(j);
          logprobs[row][offset + i + 1][j] = top.logprobs(j);
        }
      }
    }
    pending.clear();
    request.clear_sequences();
    return absl::OkStatus();
  };
  auto tokens = rows.tokens.accessor<int64_t, 2>();
  auto segments = rows.segment_ids.accessor<int32_t, 2>();
  auto wanted = row_ids.accessor<int64_t, 1>();
  for (int64_t b = 0; b < n; ++b) {
    const int64_t r = wanted[b];
    int64_t start = 0;
    while (start < length && segments[r][start] != 0) {
      int64_t end = start;
      while (end < length && segments[r][end] == segments[r][start]) ++end;
      if (end - start >= 2) {
        rollout::Prompt* seq = request.add_sequences();
        seq->set_id(absl::StrCat(r, "/", start));
        for (int64_t t = start; t < end; ++t) seq->add_token_ids(static_cast<int>(tokens[r][t]));
        pending.emplace_back(b, start);
        if (static_cast<int64_t>(pending.size()) >= kScoreBatch) R1_RETURN_IF_ERROR(flush());
      }
      start = end;
    }
  }
  R1_RETURN_IF_ERROR(flush());
  return targets;
}

}  // namespace

torch::Tensor TopKDistillationLoss(const torch::Tensor& student_logits, const torch::Tensor& teacher_ids,
                                   const torch::Tensor& teacher_logprobs, const torch::Tensor& mask,
                                   const std::string& direction) {
  const int64_t t = student_logits.size(1);
  // Logits at t - 1 predict token t: align them with the targets 1 .. T-1.
  const torch::Tensor log_q_full = torch::log_softmax(student_logits.narrow(1, 0, t - 1).to(torch::kFloat32), -1);
  const torch::Tensor ids = teacher_ids.narrow(1, 1, t - 1);                     // [B, T-1, K]
  const torch::Tensor log_p = torch::log_softmax(teacher_logprobs.narrow(1, 1, t - 1), -1);  // renormalised
  const torch::Tensor log_q = log_q_full.gather(-1, ids);                        // [B, T-1, K]
  const torch::Tensor weights = mask.narrow(1, 1, t - 1).to(torch::kFloat32);    // [B, T-1]
  torch::Tensor forward, reverse;
  if (direction != "reverse") forward = (log_p.exp() * (log_p - log_q)).sum(-1);
  if (direction != "forward") {
    const torch::Tensor log_q_k = torch::log_softmax(log_q, -1);
    reverse = (log_q_k.exp() * (log_q_k - log_p)).sum(-1);
  }
  const torch::Tensor per_token = direction == "forward"   ? forward
                                  : direction == "reverse" ? reverse
                                                           : 0.5 * (forward + reverse);
  return (per_token * weights).sum() / weights.sum().clamp_min(1.0);
}

absl::StatusOr<sft::SftStageResult> RunDistill(const DistillOptions& options) {
  const config::DistillConfig& d = options.config;
  sft::SftStageOptions sft;
  sft.stage = "distill";
  sft.stage_dir = options.stage_dir;
  sft.sft = d.sft();
  sft.base_dir = options.base_dir;
  sft.held_out = options.held_out;
  if (!options.student_init.empty()) {
    sft.init_checkpoint = options.student_init;
  } else {
    sft.fresh_model = &options.student;
    sft.tokenizer_path = options.teacher_checkpoint;  // tokenizer.json or tokenizer.model
  }
  sft.chat_template = options.chat_template;
  sft.seed = options.seed;
  sft.resume = options.resume;
  if (d.kl_weight() > 0) {
    if (options.teacher_pool == nullptr) {
      return absl::InvalidArgumentError("distill: kl_weight > 0 needs a rollout worker serving the teacher");
    }
    sft.before_training = [&options, &d](model::CausalLmImpl& model, const sft::PackedDataset& rows,
                                         sft::TrainerOptions& trainer) -> absl::Status {
      std::fprintf(stderr, "distill: the teacher's top-%d logprobs for each batch of %lld rows from its worker\n",
                   d.teacher_top_k(), static_cast<long long>(rows.rows()));
      const double weight = d.kl_weight();
      const std::string direction = d.kl_direction();
      const torch::Device device = model.device();
      rollout::RolloutPool* pool = options.teacher_pool;
      const int top_k = d.teacher_top_k();
      // `rows` outlives training: RunSft holds it until TrainLm returns.
      trainer.extra_loss = [pool, &rows, top_k, weight, direction, device](
                               const torch::Tensor& batch_rows, const torch::Tensor& logits,
                               const torch::Tensor& mask) -> absl::StatusOr<torch::Tensor> {
        R1_ASSIGN_OR_RETURN(TeacherTargets targets, FetchTeacherTargets(*pool, rows, batch_rows, top_k));
        return weight * TopKDistillationLoss(logits, targets.ids.to(device), targets.logprobs.to(device), mask,
                                             direction);
      };
      trainer.extra_loss_name = "kl_loss";  // kl_weight * KL
      return absl::OkStatus();
    };
  }
  return sft::RunSft(sft);
}

}  // namespace r1::distill
