#!/usr/bin/python3
"""PyTorch eager-mode reference for the training-step benchmark.

What it is for
--------------
This is the side-by-side Python reference for bench/train_bench: it runs the
same training step as the C++ implementation -- the "tiny" DeepSeek-V3-layout
policy of configs/tiny.textproto, forward + backward + gradient clipping +
AdamW step -- written the way a competent PyTorch user would write it in plain
eager mode (float32, vectorized tensor code, no torch.compile, no per-token
Python loops), so the two step times can be compared on the same machine with
the same number of threads.

The model is the architecture of tests/golden/model_reference.py (which is a
float64 correctness reference); this file is a separate, speed-oriented
float32 implementation of it:

  * embedding [V, D]; n_layers blocks  h += attn(RMSNorm(h)); h += ffn(RMSNorm(h));
    final RMSNorm; untied lm_head [V, D]; linear layers have no bias.
  * attention: MLA with q_proj (q_lora_rank 0), kv_a_proj_with_mqa -> latent
    c_kv (RMSNorm'd) + one shared rope key, kv_b_proj -> per-head k_nope and v,
    interleaved-pair RoPE (theta 10000), causal softmax, o_proj.
  * FFN: layer 0 dense SwiGLU; other layers MoE (sigmoid router, top-k on
    score + e_score_correction_bias buffer, weights normalised over the chosen
    k times routed_scaling_factor, one shared expert + routed SwiGLU experts;
    tokens are grouped per expert with a sort and written back with index_add).
  * one MTP module (own MoE block) predicting token t+2.
  * loss = CE(main) + 0.3 * CE(MTP); AdamW(lr 1e-3, betas (0.9, 0.95),
    weight_decay 0.1), clip_grad_norm_ 1.0, zero_grad.

The same fixed batch of random tokens (B x T, ids in [0, V)) is used for every
step, so the loss printed to stderr must go down: a sanity check that the
model actually trains.

How to run
----------
From the repository root, with Debian's interpreter (it has torch 1.13 and
numpy; a `python3` earlier on PATH may lack torch):

    /usr/bin/python3 bench/python_eager_step.py --threads 2 --steps 12 --warmup 3 \
        [--batch 32 --seq 256]

`--warmup` untimed steps run first, then `--steps` timed steps. Each timed step
is one full step (forward, backward, clip, optimizer step, zero_grad) measured
with time.perf_counter. One JSON line goes to stdout:

    {"impl": "pytorch-eager", "threads": 2, "batch": 32, "seq": 256,
     "params": ..., "step_seconds_median": ..., "step_seconds_all": [...],
     "tokens_per_second": B*T/median, "torch": "1.13..."}

Progress and the per-step loss go to stderr.
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# ----------------------------------------------------------------------------
# Configuration: the "tiny" policy of configs/tiny.textproto.
# ----------------------------------------------------------------------------
TINY = dict(
    vocab_size=128, dim=128, n_layers=4, n_heads=4,
    q_lora_rank=0, kv_lora_rank=32,
    qk_nope_head_dim=16, qk_rope_head_dim=16, v_head_dim=16,
    n_dense_layers=1, inter_dim=384, moe_inter_dim=64,
    n_shared_experts=1, n_routed_experts=8, n_activated_experts=2,
    routed_scaling_factor=1.0, n_mtp_modules=1, mtp_loss_weight=0.3,
    rope_theta=10000.0, rms_norm_eps=1e-6,
)
INIT_STD = 0.02                       # every weight N(0, 0.02^2); norms 1
ADAMW = dict(lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
CLIP_NORM = 1.0
INIT_SEED, TOKEN_SEED = 0, 1234


# ----------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------
class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def linear(i, o):
    return nn.Linear(i, o, bias=False)


class SwiGLU(nn.Module):
    """down(silu(gate(x)) * up(x)); HF names gate_proj / up_proj / down_proj."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.gate_proj = linear(dim, hidden)
        self.up_proj = linear(dim, hidden)
        self.down_proj = linear(hidden, dim)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def rope_tables(T, Dr, theta):
    """cos, sin [T, Dr/2]: the pair (u[2j], u[2j+1]) at position t is rotated
    by t * theta^(-2j/Dr). Computed once per sequence length."""
    j = torch.arange(Dr // 2, dtype=torch.float64)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * theta ** (-2.0 * j / Dr)
    return ang.cos().float(), ang.sin().float()


def apply_rope(u, cos, sin):
    """Interleaved-pair RoPE. u [B, heads, T, Dr]; cos/sin [T, Dr/2]."""
    a, b = u[..., 0::2], u[..., 1::2]
    return torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)


class MLA(nn.Module):
    """Multi-head latent attention (q_lora_rank 0)."""

    def __init__(self, c):
        super().__init__()
        D, H = c["dim"], c["n_heads"]
        self.H, self.R = H, c["kv_lora_rank"]
        self.Dn, self.Dr, self.Dv = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]
        self.scale = 1.0 / math.sqrt(self.Dn + self.Dr)
        self.q_proj = linear(D, H * (self.Dn + self.Dr))
        self.kv_a_proj_with_mqa = linear(D, self.R + self.Dr)
        self.kv_a_layernorm = RMSNorm(self.R, c["rms_norm_eps"])
        self.kv_b_proj = linear(self.R, H * (self.Dn + self.Dv))
        self.o_proj = linear(H * self.Dv, D)

    def forward(self, x, rope):
        B, T, _ = x.shape
        H, Dn, Dr, Dv = self.H, self.Dn, self.Dr, self.Dv
        cos, sin, mask = rope
        # Queries: [B, H, T, Dn + Dr].
        q = self.q_proj(x).view(B, T, H, Dn + Dr).transpose(1, 2)
        q_nope, q_pe = q.split([Dn, Dr], dim=-1)
        # Latent KV + one rope key shared by all heads.
        c_kv, k_pe = self.kv_a_proj_with_mqa(x).split([self.R, Dr], dim=-1)
        kv = self.kv_b_proj(self.kv_a_layernorm(c_kv)).view(B, T, H, Dn + Dv).transpose(1, 2)
        k_nope, v = kv.split([Dn, Dv], dim=-1)                  # [B, H, T, Dn], [B, H, T, Dv]
        q_pe = apply_rope(q_pe, cos, sin)                       # [B, H, T, Dr]
        k_pe = apply_rope(k_pe.unsqueeze(1), cos, sin)          # [B, 1, T, Dr]
        # scores = q_nope.k_nope + q_pe.k_pe, one matmul on the concatenation.
        qf = torch.cat([q_nope, q_pe], dim=-1)
        kf = torch.cat([k_nope, k_pe.expand(B, H, T, Dr)], dim=-1)
        scores = torch.matmul(qf, kf.transpose(-1, -2)) * self.scale  # [B, H, T, T]
        probs = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
        out = torch.matmul(probs, v)                            # [B, H, T, Dv]
        return self.o_proj(out.transpose(1, 2).reshape(B, T, H * Dv))


class MoE(nn.Module):
    """DeepSeek-V3 MoE: sigmoid router with a (not trained) correction bias
    used only for the choice, 1 shared SwiGLU expert + E routed ones, k per token."""

    def __init__(self, c):
        super().__init__()
        D, E, I = c["dim"], c["n_routed_experts"], c["moe_inter_dim"]
        self.E, self.K = E, c["n_activated_experts"]
        self.scaling = c["routed_scaling_factor"]
        self.gate = linear(D, E)                                # HF: mlp.gate.weight [E, D]
        self.register_buffer("e_score_correction_bias", torch.zeros(E))
        self.experts = nn.ModuleList(SwiGLU(D, I) for _ in range(E))
        self.shared_experts = SwiGLU(D, c["n_shared_experts"] * I)

    def forward(self, x):
        B, T, D = x.shape
        E, K = self.E, self.K
        xf = x.reshape(B * T, D)
        s = torch.sigmoid(self.gate(xf))                        # [N, E]
        idx = torch.topk(s.detach() + self.e_score_correction_bias, K, dim=-1).indices  # [N, K]
        w = s.gather(1, idx)
        w = w / w.sum(-1, keepdim=True) * self.scaling          # [N, K], differentiable via s
        # Group the N*K (token, expert) pairs by expert.
        flat = idx.reshape(-1)
        order = torch.argsort(flat)
        counts = torch.bincount(flat, minlength=E).tolist()
        tok = order // K                                        # token of each sorted pair
        xs = xf.index_select(0, tok)                            # [N*K, D], grouped by expert
        ys = [self.experts[e](chunk)
              for e, chunk in enumerate(xs.split(counts)) if counts[e] > 0]
        ys = torch.cat(ys) * w.reshape(-1).index_select(0, order).unsqueeze(1)
        out = self.shared_experts(xf).index_add(0, tok, ys)     # scatter back, summing the k
        return out.view(B, T, D)


class Block(nn.Module):
    def __init__(self, c, dense):
        super().__init__()
        eps = c["rms_norm_eps"]
        self.input_layernorm = RMSNorm(c["dim"], eps)
        self.self_attn = MLA(c)
        self.post_attention_layernorm = RMSNorm(c["dim"], eps)
        self.mlp = SwiGLU(c["dim"], c["inter_dim"]) if dense else MoE(c)

    def forward(self, h, rope):
        h = h + self.self_attn(self.input_layernorm(h), rope)
        return h + self.mlp(self.post_attention_layernorm(h))


class MTPModule(nn.Module):
    """h1 = block(eh_proj(cat[enorm(embed(tokens[:, k:])), hnorm(h_prev[:, :T-k])]))."""

    def __init__(self, c):
        super().__init__()
        D, eps = c["dim"], c["rms_norm_eps"]
        self.enorm = RMSNorm(D, eps)
        self.hnorm = RMSNorm(D, eps)
        self.eh_proj = linear(2 * D, D)
        self.block = Block(c, dense=False)
        self.shared_head_norm = RMSNorm(D, eps)


class DeepSeekV3(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        D, V = c["dim"], c["vocab_size"]
        self.embed_tokens = nn.Embedding(V, D)
        self.layers = nn.ModuleList(Block(c, dense=i < c["n_dense_layers"])
                                    for i in range(c["n_layers"]))
        self.mtp = nn.ModuleList(MTPModule(c) for _ in range(c["n_mtp_modules"]))
        self.norm = RMSNorm(D, c["rms_norm_eps"])
        self.lm_head = linear(D, V)                             # untied
        for name, p in self.named_parameters():                 # N(0, 0.02); norms stay 1
            if not name.endswith("norm.weight"):
                nn.init.normal_(p, std=INIT_STD)
        self._rope = {}

    def rope(self, T):
        """(cos, sin, causal mask) for length T, cached."""
        if T not in self._rope:
            cos, sin = rope_tables(T, self.c["qk_rope_head_dim"], self.c["rope_theta"])
            mask = torch.ones(T, T, dtype=torch.bool).triu(1)   # key s > query t
            self._rope[T] = (cos, sin, mask)
        return self._rope[T]

    def loss(self, tokens):
        B, T = tokens.shape
        V, c = self.c["vocab_size"], self.c
        emb = self.embed_tokens(tokens)
        h = emb
        rope = self.rope(T)
        for layer in self.layers:
            h = layer(h, rope)
        logits = self.lm_head(self.norm(h))                     # [B, T, V]
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), tokens[:, 1:].reshape(-1))
        mtp_ce = []
        for k, m in enumerate(self.mtp, start=1):               # module k predicts t + k + 1
            Tk = T - k
            x = m.eh_proj(torch.cat([m.enorm(emb[:, k:]), m.hnorm(h[:, :Tk])], dim=-1))
            h = m.block(x, self.rope(Tk))
            lk = self.lm_head(m.shared_head_norm(h))            # [B, T-k, V]
            mtp_ce.append(F.cross_entropy(lk[:, :Tk - 1].reshape(-1, V),
                                          tokens[:, k + 1:].reshape(-1)))
        if mtp_ce:
            loss = loss + c["mtp_loss_weight"] * torch.stack(mtp_ce).mean()
        return loss


# ----------------------------------------------------------------------------
# Benchmark
# ----------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--steps", type=int, default=12, help="timed steps (after warmup)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=256)
    args = ap.parse_args()
    if args.steps < 1 or args.warmup < 0 or args.batch < 1 or args.seq < 3:
        ap.error("need --steps >= 1, --warmup >= 0, --batch >= 1, --seq >= 3")

    torch.set_num_threads(args.threads)
    torch.manual_seed(INIT_SEED)
    model = DeepSeekV3(TINY)
    params = [p for p in model.parameters() if p.requires_grad]
    n_params = sum(p.numel() for p in params)
    opt = torch.optim.AdamW(params, **ADAMW)
    gen = torch.Generator().manual_seed(TOKEN_SEED)
    tokens = torch.randint(0, TINY["vocab_size"], (args.batch, args.seq), generator=gen)

    print("pytorch-eager: torch %s, %d threads, B=%d T=%d, %d params, %d warmup + %d timed steps"
          % (torch.__version__, torch.get_num_threads(), args.batch, args.seq, n_params,
             args.warmup, args.steps), file=sys.stderr)

    def step():
        loss = model.loss(tokens)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP_NORM)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    times, losses = [], []
    for i in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        loss = step()
        dt = time.perf_counter() - t0
        losses.append(loss)
        timed = i >= args.warmup
        if timed:
            times.append(dt)
        print("step %3d %s loss %.5f  %.3f s" % (i, "timed " if timed else "warmup", loss, dt),
              file=sys.stderr)

    # Sanity check: the same batch every step, so the loss must go down.
    if not losses[-1] < losses[0]:
        print("WARNING: loss did not decrease (%.5f -> %.5f)" % (losses[0], losses[-1]),
              file=sys.stderr)
    else:
        print("loss %.5f -> %.5f (decreased)" % (losses[0], losses[-1]), file=sys.stderr)

    med = statistics.median(times)
    print(json.dumps({
        "impl": "pytorch-eager", "threads": args.threads,
        "batch": args.batch, "seq": args.seq, "params": n_params,
        "step_seconds_median": med, "step_seconds_all": times,
        "tokens_per_second": args.batch * args.seq / med,
        "torch": torch.__version__,
    }))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
