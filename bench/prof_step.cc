#include <torch/torch.h>
#include <chrono>
#include <cstdio>
#include "common/config.h"
#include "model/causal_lm.h"
#include "model/lm_loss.h"
using namespace r1;
#include <malloc.h>
int main(int argc, char** argv) {
  auto run = LoadRunConfig("configs/tiny.textproto");
  model::ConfigureRuntime(2);
  auto m = *model::MakeModel(run->policy());
  auto tokens = torch::randint(0, 128, {32, 256}, torch::kInt64);
  auto opt = torch::optim::AdamW(m->parameters(), torch::optim::AdamWOptions(1e-3));
  for (int mtp = 0; mtp < 2; ++mtp) {
    for (int i = 0; i < 4; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      model::ForwardOptions o; o.compute_mtp = mtp; o.compute_aux_loss = true; o.record_expert_load = true;
      auto f = m->Forward(tokens, nullptr, o);
      auto l = model::ComputeLmLoss(f, tokens, 0.3);
      auto t1 = std::chrono::steady_clock::now();
      l.total.backward();
      auto t2 = std::chrono::steady_clock::now();
      opt.step(); opt.zero_grad();
      auto t3 = std::chrono::steady_clock::now();
      auto d = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
      std::printf("mtp=%d fwd %.3f bwd %.3f opt %.3f\n", mtp, d(t0,t1), d(t1,t2), d(t2,t3));
    }
  }
  {
    torch::NoGradGuard ng;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) m->Forward(tokens, nullptr, {});
    std::printf("nograd fwd %.3f\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 3);
  }
  torch::autograd::profiler::RecordProfile guard("/tmp/prof.json");
  model::ForwardOptions o; o.compute_mtp = true;
  auto f = m->Forward(tokens, nullptr, o);
  model::ComputeLmLoss(f, tokens, 0.3).total.backward();
}
