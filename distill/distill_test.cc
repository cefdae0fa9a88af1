#include "distill/distill.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace r1::distill {
namespace {

// Golden values computed independently with Debian's python3-torch, element by
// element in float64 (the script is in the commit that added this test):
// p = softmax of the teacher's top-k logprobs, q = softmax(student logits),
// forward sum p (log p - log q), reverse over q renormalised on the k tokens.
TEST(TopKDistillationLoss, MatchesAnIndependentComputation) {
  const torch::Tensor logits =
      torch::tensor({0.1, 0.2, 0.3, 0.4, 1.0, 0.0, -1.0, 0.5, 0.3, 0.3, 0.1, -0.2}).reshape({1, 3, 4});
  // Position 0 is never a target; its contents must not matter.
  const torch::Tensor ids = torch::tensor({3, 3, 2, 0, 1, 3}, torch::kInt64).reshape({1, 3, 2});
  const torch::Tensor logprobs = torch::tensor({-9.0f, -9.0f, -0.5f, -1.5f, -0.2f, -2.0f}).reshape({1, 3, 2});
  const torch::Tensor mask = torch::tensor({1, 1, 1}, torch::kUInt8).reshape({1, 3});
  EXPECT_NEAR(TopKDistillationLoss(logits, ids, logprobs, mask, "forward").item<double>(), 1.0407264571087693, 1e-5);
  EXPECT_NEAR(TopKDistillationLoss(logits, ids, logprobs, mask, "reverse").item<double>(), 0.34290635419844073, 1e-5);
  EXPECT_NEAR(TopKDistillationLoss(logits, ids, logprobs, mask, "mix").item<double>(), 0.6918164056536051, 1e-5);
}

TEST(TopKDistillationLoss, MaskedPositionsDoNotCount) {
  const torch::Tensor logits = torch::randn({2, 5, 6});
  const torch::Tensor ids = torch::randint(0, 6, {2, 5, 3}, torch::kInt64);
  const torch::Tensor logprobs = -torch::rand({2, 5, 3});
  torch::Tensor mask = torch::ones({2, 5}, torch::kUInt8);
  mask[1] = 0;
  const double only_first = TopKDistillationLoss(logits, ids, logprobs, mask, "forward").item<double>();
  const double first_alone = TopKDistillationLoss(logits.narrow(0, 0, 1), ids.narrow(0, 0, 1),
                                                  logprobs.narrow(0, 0, 1), mask.narrow(0, 0, 1), "forward")
                                 .item<double>();
  EXPECT_NEAR(only_first, first_alone, 1e-6);
}

TEST(TopKDistillationLoss, ZeroWhenTheStudentIsTheTeacher) {
  // Top-k over the whole vocabulary: the student's own distribution gives KL 0.
  const torch::Tensor logits = torch::randn({1, 4, 5});
  const torch::Tensor logq = torch::log_softmax(logits, -1);
  const auto top = torch::topk(logq, 5, -1);
  // Teacher's entry at t is the distribution for token t: the student's at t - 1.
  const torch::Tensor ids = torch::cat({std::get<1>(top).narrow(1, 0, 1), std::get<1>(top).narrow(1, 0, 3)}, 1);
  const torch::Tensor lp = torch::cat({std::get<0>(top).narrow(1, 0, 1), std::get<0>(top).narrow(1, 0, 3)}, 1);
  const torch::Tensor mask = torch::ones({1, 4}, torch::kUInt8);
  for (const char* d : {"forward", "reverse", "mix"}) {
    EXPECT_NEAR(TopKDistillationLoss(logits, ids, lp, mask, d).item<double>(), 0.0, 1e-5) << d;
  }
}

}  // namespace
}  // namespace r1::distill
