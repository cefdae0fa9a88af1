#!/usr/bin/env python3
"""Golden values for rl/grpo_step_test.cc: one GRPO policy update.

Written from the published formulas, not from r1's C++:
  * GRPO (DeepSeekMath, Shao et al. 2024, eq. 3; DeepSeek-R1): per completion
    token t of sequence i, with ratio r = pi(o_t) / pi_old(o_t),
        L_t = -min(r * A_i, clip(r, 1 - eps_low, 1 + eps_high) * A_i)
              + beta * KL_t - entropy_coef * H_t
    where the clip range may be asymmetric (DAPO "clip-higher", Yu et al. 2025)
    and KL_t is Schulman's k3 estimator of KL(pi || pi_ref):
        KL_t = pi_ref/pi - log(pi_ref/pi) - 1.
    Every probability is of softmax(logits / temperature) (the sampling
    distribution), and H_t is that distribution's entropy.
  * Aggregation of L_t over one mini-batch of sequences:
      TOKEN_MEAN    sum over all counted tokens / number of counted tokens
                    (DAPO's token-level loss);
      SEQUENCE_MEAN mean over sequences (with counted tokens) of each
                    sequence's token mean (the original GRPO 1/G sum 1/|o_i|);
      SUM_NORM      sum over all counted tokens / (sum_norm_tokens * number of
                    sequences in the mini-batch, counted or not) (Dr. GRPO,
                    Liu et al. 2025: a constant normaliser instead of |o_i|).
    A sequence "not in the loss" (an overlong completion masked out) counts no
    tokens.
  * Advantages: GROUP_STD (r - mean) / (std + 1e-6) with the unbiased std of
    the group (GRPO's outcome supervision); GROUP_MEAN r - mean (Dr. GRPO).
  * Optimisation: the batch is cut into `updates` consecutive mini-batches of
    ceil(N / updates) sequences, one optimizer step each: the gradient of the
    mini-batch's aggregated loss, its global L2 norm (reported before
    clipping), clipped to `grad_clip` (torch.nn.utils.clip_grad_norm_), then
    torch.optim.AdamW with weight decay on matrices only (vectors, the RMSNorm
    gains, undecayed).

The policy is a tiny Llama (tests/golden/model_reference.py's float64
llama_forward, itself checked against a naive implementation there); the
reference policy is the policy plus small noise. Each sequence is run on its
own, unpadded: the C++ side pads micro-batches on the right and splits
mini-batches into micro-batches, and must give the same result.

Regenerate (from the repository root; deterministic, a few seconds on CPU):

    /usr/bin/python3 tests/golden/grpo_step_reference.py

It rewrites tests/golden/grpo_step.safetensors, reads it back, and prints how
far a float32 run of this same program lands from the float64 values (the
basis of the C++ test's tolerances). It refuses inputs where float32 rounding
could flip a discrete choice: a ratio within GUARD_RATIO of a clip bound.

File contents (safetensors; metadata: config = the model config JSON,
cases = the case names in order, case.<name>.aggregation = the enum name):
  policy.<weight> F32, reference.<weight> F32      the two models
  seq.tokens I64 [N, Lmax] (right-padded with 0, never a real token),
  seq.length I64 [N], seq.completion_start I64 [N], seq.in_loss I64 [N],
  seq.old_logprobs F32 [N, Lmax] (completion token j at column j)
  <case>.advantages F32 [N]
  <case>.opt.<name> F64 [1]: temperature, clip_eps_low, clip_eps_high,
      kl_coef, entropy_coef, sum_norm_tokens, updates, micro_batch_size, lr,
      beta1, beta2, eps, weight_decay, grad_clip
  <case>.objective F64 [1]       sum over mini-batches of the aggregated loss
  <case>.grad_norms F64 [updates] before clipping, one per optimizer step
  <case>.tokens F64 [1]          counted tokens over all mini-batches
  <case>.kl, .clip_fraction, .ratio_mean, .entropy F64 [1]: token means over
      the counted tokens of every mini-batch (each at its own forward);
      clip_fraction = share of tokens where the clipped term was the smaller
  <case>.after.<weight> F32      the policy after the update
"""
import collections
import json
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import model_reference as mr  # noqa: E402  (sets deterministic algorithms, 1 thread)

OUT = os.path.join(HERE, "grpo_step.safetensors")
SEED = 5001

CONFIG = collections.OrderedDict(
    arch="LLAMA", vocab_size=32, dim=16, n_layers=2, n_heads=2,
    max_seq_len=32, rope_theta=10000.0, rms_norm_eps=1e-5,
    n_kv_heads=1, ffn_hidden_dim=24, tie_embeddings=False)

# (prompt tokens, completion tokens, in the loss) per sequence; groups of
# GROUP_SIZE consecutive sequences. Lengths differ so micro-batches pad.
SEQUENCES = [(3, 4, True), (3, 6, True), (3, 2, True),
             (4, 5, True), (4, 3, False), (4, 6, True)]
GROUP_SIZE = 3
REWARDS = [1.0, 0.0, 0.5, 0.0, 1.0, 1.0]
OLD_LOGPROB_OFFSET = 0.5    # old = policy logprob + U(-0.5, 0.5): many ratios clip
REFERENCE_NOISE = 0.05      # reference weights = policy + N(0, 0.05^2)
GUARD_RATIO = 2e-3          # no ratio this close to a clip bound

# AdamW's first step moves each weight by lr * g / (|g| + eps) (plus weight
# decay). With the usual eps = 1e-8 that is lr * sign(g): it hides the
# gradient's size, and among a few thousand elements some are always small
# enough (1e-7 here) for float32 rounding to flip them. With eps = 1 the step
# is lr * g / (1 + |g|): the weights after it carry every gradient element, so
# comparing them checks the whole gradient of the aggregated loss, and a
# gradient error d moves a weight by at most lr * d. The two-update case keeps
# a small eps (1e-4: still smooth for |g| < 1e-4, sign-like above) for
# AdamW's usual regime and its second step's moments.
ADAM_EPS = 1.0

COMMON = collections.OrderedDict(
    temperature=0.9, clip_eps_low=0.2, clip_eps_high=0.28, kl_coef=0.05,
    entropy_coef=0.0, sum_norm_tokens=0.0, updates=1, micro_batch_size=4,
    lr=0.1, beta1=0.9, beta2=0.95, eps=ADAM_EPS, weight_decay=0.1, grad_clip=1.0)

CASES = collections.OrderedDict(
    token_mean=dict(aggregation="TOKEN_MEAN", advantage="GROUP_STD",
                    entropy_coef=0.01),
    sequence_mean=dict(aggregation="SEQUENCE_MEAN", advantage="GROUP_STD"),
    sum_norm=dict(aggregation="SUM_NORM", advantage="GROUP_MEAN",
                  sum_norm_tokens=8.0),
    # Two optimizer steps, each mini-batch of 3 cut into micro-batches of 2 + 1;
    # the second step's forward sees the first step's weights.
    sequence_mean_two_updates=dict(aggregation="SEQUENCE_MEAN",
                                   advantage="GROUP_STD", updates=2,
                                   micro_batch_size=2, lr=1e-2, eps=1e-4),
)


def case_options(name):
    o = collections.OrderedDict(COMMON)
    o.update({k: v for k, v in CASES[name].items() if k in COMMON})
    return o


def advantages(kind):
    r = torch.tensor(REWARDS, dtype=torch.float64).view(-1, GROUP_SIZE)
    a = r - r.mean(1, keepdim=True)
    if kind == "GROUP_STD":
        a = a / (r.std(1, unbiased=True, keepdim=True) + 1e-6)
    return a.view(-1).float().double()  # as stored (float32)


def token_logprobs(c, W, tokens, start, temperature):
    """log pi(token p | tokens[:p]) and the entropy of pi(. | tokens[:p]) for
    every completion position p >= start, under softmax(logits / temperature)."""
    t = torch.tensor(tokens, dtype=torch.int64)[None]
    logits = mr.llama_forward(c, W, t, None)["logits"][0]  # [T, V]
    logp = torch.log_softmax(logits / temperature, dim=-1)
    at = torch.arange(start - 1, len(tokens) - 1)  # logits at p - 1 predict token p
    lp = logp[at, t[0, at + 1]]
    entropy = -(logp.exp() * logp).sum(-1)[at]
    return lp, entropy


def grpo_update(c, W, R, seqs, old, adv, o, aggregation, dtype):
    """One update; returns (weights after, results dict, min |nonzero grad|)."""
    params = collections.OrderedDict(
        (n, w.to(dtype).clone().requires_grad_(True)) for n, w in W.items())
    ref = {n: w.to(dtype) for n, w in R.items()}
    opt = torch.optim.AdamW(
        [dict(params=[p for p in params.values() if p.dim() >= 2], weight_decay=o["weight_decay"]),
         dict(params=[p for p in params.values() if p.dim() < 2], weight_decay=0.0)],
        lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"])
    n = len(seqs)
    per = math.ceil(n / int(o["updates"]))
    minis = [list(range(i, min(n, i + per))) for i in range(0, n, per)]
    res = dict(objective=0.0, grad_norms=[], tokens=0.0, kl=0.0,
               clip_fraction=0.0, ratio_mean=0.0, entropy=0.0)
    min_grad = float("inf")
    lo, hi = 1.0 - o["clip_eps_low"], 1.0 + o["clip_eps_high"]
    for mini in minis:
        opt.zero_grad(set_to_none=True)
        per_sequence = []  # token losses of each counted sequence
        for i in mini:
            tokens, start, in_loss = seqs[i]
            if not in_loss:
                continue
            lp, entropy = token_logprobs(c, params, tokens, start, o["temperature"])
            with torch.no_grad():
                ref_lp, _ = token_logprobs(c, ref, tokens, start, o["temperature"])
            a = adv[i]
            ratio = torch.exp(lp - old[i].to(dtype))
            assert float(torch.min(torch.abs(ratio - lo))) > GUARD_RATIO, "ratio at the low clip bound"
            assert float(torch.min(torch.abs(ratio - hi))) > GUARD_RATIO, "ratio at the high clip bound"
            unclipped = ratio * a
            clipped = torch.clamp(ratio, lo, hi) * a
            surrogate = -torch.min(unclipped, clipped)
            log_ref_ratio = ref_lp - lp  # log(pi_ref / pi)
            k3 = torch.exp(log_ref_ratio) - log_ref_ratio - 1.0
            per_sequence.append(surrogate + o["kl_coef"] * k3 - o["entropy_coef"] * entropy)
            with torch.no_grad():
                res["tokens"] += lp.numel()
                res["kl"] += float(k3.sum())
                res["clip_fraction"] += float((clipped < unclipped).sum())
                res["ratio_mean"] += float(ratio.sum())
                res["entropy"] += float(entropy.sum())
        every = torch.cat(per_sequence)
        if aggregation == "TOKEN_MEAN":
            loss = every.sum() / every.numel()
        elif aggregation == "SEQUENCE_MEAN":
            loss = torch.stack([s.mean() for s in per_sequence]).mean()
        elif aggregation == "SUM_NORM":
            loss = every.sum() / (o["sum_norm_tokens"] * len(mini))
        else:
            raise ValueError(aggregation)
        loss.backward()
        grads = [p.grad for p in params.values() if p.grad is not None]
        norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))
        for g in grads:
            nz = g.abs()[g != 0]
            if nz.numel():
                min_grad = min(min_grad, float(nz.min()))
        torch.nn.utils.clip_grad_norm_(list(params.values()), o["grad_clip"])
        opt.step()
        res["objective"] += float(loss)
        res["grad_norms"].append(norm)
    for k in ("kl", "clip_fraction", "ratio_mean", "entropy"):
        res[k] /= res["tokens"]
    after = collections.OrderedDict((k, p.detach()) for k, p in params.items())
    return after, res, min_grad


def main():
    c = CONFIG
    gen = torch.Generator().manual_seed(SEED)
    W = mr.init_weights(mr.llama_specs(c), gen)  # float32 values held as float64
    R = collections.OrderedDict(
        (k, (w + REFERENCE_NOISE * torch.randn(w.shape, generator=gen, dtype=torch.float64)).float().double())
        for k, w in W.items())
    seqs, old = [], []
    for prompt, completion, in_loss in SEQUENCES:
        tokens = torch.randint(1, c["vocab_size"], (prompt + completion,), generator=gen).tolist()
        seqs.append((tokens, prompt, in_loss))
    for tokens, start, _ in seqs:
        with torch.no_grad():
            lp, _ = token_logprobs(c, W, tokens, start, COMMON["temperature"])
        offset = (torch.rand(lp.shape, generator=gen, dtype=torch.float64) * 2 - 1) * OLD_LOGPROB_OFFSET
        old.append((lp + offset).float().double())

    n, lmax = len(seqs), max(len(t) for t, _, _ in seqs)
    out = collections.OrderedDict()
    for k, w in W.items():
        out["policy." + k] = w.float().numpy()
        out["reference." + k] = R[k].float().numpy()
    tok = np.zeros((n, lmax), np.int64)
    old_np = np.zeros((n, lmax), np.float32)
    for i, (tokens, start, _) in enumerate(seqs):
        tok[i, :len(tokens)] = tokens
        old_np[i, :len(old[i])] = old[i].float().numpy()
    out["seq.tokens"] = tok
    out["seq.length"] = np.array([len(t) for t, _, _ in seqs], np.int64)
    out["seq.completion_start"] = np.array([s for _, s, _ in seqs], np.int64)
    out["seq.in_loss"] = np.array([1 if f else 0 for _, _, f in seqs], np.int64)
    out["seq.old_logprobs"] = old_np

    meta = collections.OrderedDict(
        config=json.dumps(c), cases=",".join(CASES),
        generator="tests/golden/grpo_step_reference.py", seed=str(SEED))
    report = []
    objectives = {}
    for name, case in CASES.items():
        o = case_options(name)
        adv = advantages(case["advantage"])
        after, res, min_grad = grpo_update(c, W, R, seqs, old, adv, o, case["aggregation"], torch.float64)
        after32, res32, _ = grpo_update(c, W, R, seqs, old, adv, o, case["aggregation"], torch.float32)
        meta["case.%s.aggregation" % name] = case["aggregation"]
        out[name + ".advantages"] = adv.float().numpy()
        for k, v in o.items():
            out["%s.opt.%s" % (name, k)] = np.array([v], np.float64)
        for k in ("objective", "tokens", "kl", "clip_fraction", "ratio_mean", "entropy"):
            out["%s.%s" % (name, k)] = np.array([res[k]], np.float64)
        out[name + ".grad_norms"] = np.array(res["grad_norms"], np.float64)
        for k, w in after.items():
            out["%s.after.%s" % (name, k)] = w.float().numpy()
        moved = max(float((after[k] - W[k]).abs().max()) for k in W)
        f32 = dict(
            objective=abs(res32["objective"] - res["objective"]),
            grad_norm=max(abs(a - b) / b for a, b in zip(res32["grad_norms"], res["grad_norms"])),
            metrics=max(abs(res32[k] - res[k]) for k in ("kl", "clip_fraction", "ratio_mean", "entropy")),
            weights=max(float((after32[k].double() - after[k]).abs().max()) for k in W))
        objectives[name] = res["objective"]
        report.append("%-26s objective %.6f  grad norms %s  tokens %d  kl %.5f  clip %.3f  ratio %.4f  "
                      "entropy %.4f\n%26s largest weight change %.4f, smallest nonzero |grad| %.1e\n"
                      "%26s float32 rerun: objective %.1e, grad norm %.1e (relative), metrics %.1e, weights %.1e" % (
                          name + ":", res["objective"], ["%.6f" % g for g in res["grad_norms"]], res["tokens"],
                          res["kl"], res["clip_fraction"], res["ratio_mean"], res["entropy"], "", moved, min_grad,
                          "", f32["objective"], f32["grad_norm"], f32["metrics"], f32["weights"]))
    # The aggregations must be told apart well beyond the test's tolerances,
    # by the objective and by the weights after the step.
    aggregations = ("token_mean", "sequence_mean", "sum_norm")
    for i, a in enumerate(aggregations):
        for b in aggregations[i + 1:]:
            assert abs(objectives[a] - objectives[b]) > 1e-3, (a, b)
            apart = max(abs(out["%s.after.%s" % (a, k)] - out["%s.after.%s" % (b, k)]).max() for k in W)
            assert apart > 1e-4, (a, b, apart)
            report.append("weights after %s and after %s differ by up to %.1e" % (a, b, apart))

    mr.write_safetensors(OUT, out, meta)
    back, bmeta = mr.read_safetensors(OUT)
    assert set(back) == set(out) and bmeta == dict(meta)
    for k, a in out.items():
        assert back[k].dtype == a.dtype and np.array_equal(back[k], a), k
    print("\n".join(report))
    print("wrote %s (%d bytes)" % (os.path.relpath(OUT), os.path.getsize(OUT)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
