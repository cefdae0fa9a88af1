#!/usr/bin/python3
"""Independent float64 reference for the Hugging Face model families r1 imports
(Llama, Mistral, Qwen2, Qwen3, Qwen3-MoE, DeepSeek-V3), and the tiny random
checkpoints plus golden logits and gradients the C++ importer tests use.

Written from the published semantics of each family (the Hugging Face
`modeling_*.py` files, `modeling_rope_utils.py`, DeepSeek's own
`inference/model.py` and its remote `modeling_deepseek.py`), not from the C++
sources. Run from the repository root with Debian's interpreter:

    /usr/bin/python3 tests/golden/hf_families_reference.py

It (re)writes, deterministically (byte for byte), for every case below

    tests/golden/families/<case>/config.json         keys as the family's released configs spell them
    tests/golden/families/<case>/model.safetensors   every weight under its HF name, in config.torch_dtype
    tests/golden/families/<case>/golden.safetensors  input_ids, logits, loss, grad.<hf name>

golden.safetensors holds `input_ids` int64 [2, 12] (random ids, no padding),
`logits` float32 [2, 12, V], `loss` float32 scalar (shape []) = mean
cross-entropy of logits[:, :-1] against input_ids[:, 1:] over both rows, and
`grad.<hf name>` float32 for every trainable weight (everything in
model.safetensors except DeepSeek's `mlp.gate.e_score_correction_bias`, a
fixed buffer). Every golden value is computed in float64 from the weights as
stored (rounded to bfloat16 / float16 / float32 first), then rounded to
float32.

Before it finishes the script prints, as the evidence that the C++ tests can
fail: per case, the max |delta logits| when each special feature is switched
off or altered (each must exceed MIN_SENSITIVITY, else the run fails); which
MoE layers a wrong placement rule would pick (the importer then misses
tensors); the max difference of a float32 rerun of this same program against
the float64 goldens (the basis of the C++ tolerance 1e-4); central finite
differences against a few stored gradient entries; and it reads every written
file back and compares it exactly, and recomputes the logits from the files.

Semantics, per family (HF = Hugging Face transformers):
- RMSNorm: x * rsqrt(mean(x^2) + eps) * weight.
- SwiGLU MLP: down(silu(gate(x)) * up(x)) (+ biases when Llama mlp_bias).
- Attention: causal, softmax scale head_dim^-0.5, GQA with query head h using
  kv head h // (n_heads / n_kv_heads). head_dim from config (default
  hidden_size / num_attention_heads).
- Llama: q/k/v/o biases when attention_bias; gate/up/down biases when
  mlp_bias. Qwen2: q/k/v biases always, no o_proj bias, no attention_bias key.
  Qwen3 / Qwen3-MoE: q/k/v/o biases when attention_bias (false here); q_norm
  and k_norm are RMSNorms over each head's head_dim, applied after the
  projection and before RoPE. Mistral: no biases.
- RoPE (Llama family): "rotate halves" layout; inv_freq[j] = 1 / theta^(2j/d),
  cos/sin of position * concat(inv_freq, inv_freq), times attention_factor.
  rope_scaling (key "rope_type", or the old "type"):
    linear: inv_freq / factor.
    llama3: wavelen = 2 pi / inv_freq; wavelen < orig/high_freq_factor: kept;
      wavelen > orig/low_freq_factor: / factor; between: smooth =
      (orig/wavelen - low) / (high - low), (1 - smooth) inv/factor + smooth inv.
    yarn: see DeepSeek-V3.
- Qwen3-MoE: router probabilities softmax(x W_gate^T) over all experts (HF does
  this in float32; float64 here), top-k of the probabilities, renormalised over
  the k when norm_topk_prob; no shared experts. Layer i is MoE iff i is not in
  mlp_only_layers and (i + 1) % decoder_sparse_step == 0 (else a dense MLP of
  intermediate_size). The loss is the plain cross-entropy
  (output_router_logits false: no router aux loss).
- DeepSeek-V3: MLA (q_proj, or q_a_proj -> q_a_layernorm -> q_b_proj;
  kv_a_proj_with_mqa -> [kv_lora | k_rope]; kv_a_layernorm; kv_b_proj ->
  per head [k_nope | v]; one k_rope shared by all heads). RoPE only on the
  qk_rope_head_dim part, in DeepSeek's interleaved-pair layout: the pair
  (u[2j], u[2j+1]) is rotated by position * inv_freq[j] (rope_interleave
  true: HF de-interleaves q_pe/k_pe and rotates halves, which gives the same
  attention scores; checked below). Softmax scale (qk_nope + qk_rope)^-0.5,
  times m(factor, mscale_all_dim)^2 under YaRN.
  YaRN (modeling_rope_utils._compute_yarn_parameters), d = qk_rope_head_dim:
    correction dim(r) = d ln(orig / (2 pi r)) / (2 ln theta);
    low = max(floor(dim(beta_fast)), 0), high = min(ceil(dim(beta_slow)), d-1);
    ramp[j] = clamp((j - low) / (high - low), 0, 1) (high += 0.001 if equal);
    inv_freq = inv/factor * ramp + inv * (1 - ramp);
    cos/sin times attention_factor = m(factor, mscale) / m(factor, mscale_all_dim)
    with m(s, k) = 0.1 k ln s + 1 for s > 1, else 1.
  Some transformers versions (4.4x-4.5x) replace `factor` by
  max_position_embeddings / original_max_position_embeddings whenever the
  latter is present, newer ones keep the explicit factor (and only warn); the
  yarn case sets max_position_embeddings = factor * original, so both readings
  agree. (HF's softmax scale uses rope_scaling["factor"] as written.) Older
  transformers (before original_max_position_embeddings was read) took the
  correction range from max_position_embeddings and had no mscale/
  mscale_all_dim; DeepSeek's inference/model.py rounds the correction dims
  instead of floor/ceil and applies no cos/sin factor. The yarn case uses
  original_max_position_embeddings 128 (not 16): with d = 8 and theta 10000,
  16 gives the ramp [0, 1, 1, 1] (a pure step, the same under round), 128
  gives [0, 0.5, 1, 1], so one frequency is blended and floor/ceil differs
  from round.
  Routing (topk_method noaux_tc, scoring_func sigmoid): s = sigmoid(x W^T);
  choice = s + e_score_correction_bias; group score = sum of the group's two
  best choice scores; the topk_group best groups are kept; top-k experts by
  choice score among the kept groups only, the others set to -inf as
  DeepSeek's own inference code (and vLLM/SGLang) do. Transformers'
  DeepseekV3TopkRouter fills 0.0 instead: that picks a masked expert over a
  kept one whose choice score is negative. deepseek_v3_a is built so that this
  happens (its bias has a constant negative offset, which does not change the
  -inf routing at all), so an implementation that fills 0.0 fails the test;
  deepseek_v3_b has n_group 1, where nothing is masked and both agree.
  Gate weights = s (no bias) at the chosen experts, divided by their sum
  (+1e-20) when norm_topk_prob, times routed_scaling_factor; shared experts
  (width n_shared_experts * moe_intermediate_size) added to every token.
  Layer i is MoE iff i >= first_k_dense_replace and i % moe_layer_freq == 0
  (DeepSeek's remote modeling_deepseek.py; transformers' native DeepseekV3
  ignores moe_layer_freq and makes every layer >= first_k_dense_replace MoE -
  deepseek_v3_b, with moe_layer_freq 2, is only right under the former).

Routing guards (the script moves to the next seed until they hold, so a
float32 implementation picks the same experts): in every MoE layer the k-th
and (k+1)-th selection scores differ by more than MIN_TOPK_GAP for every
token, as do the topk_group-th and next group scores, and every expert gets at
least one token (so no gradient is zero only for lack of tokens).

Weights: embeddings N(0, 0.3^2); linear weights N(0, 1/in); biases
N(0, 0.2^2); RMSNorm weights 1 + N(0, 0.1^2); q_norm/k_norm 1 + N(0, 0.2^2);
router weights N(0, (ROUTER_GAIN/sqrt(in))^2) so that routing varies from
token to token; e_score_correction_bias N(0, 0.1^2) plus the case's offset
(-0.7 in deepseek_v3_a, see above; 0 in deepseek_v3_b). Weights are drawn in
float32 and then rounded to the storage dtype.

Cross-check: model_reference.py's four golden files (another independent
implementation of plain Llama and of DeepSeek-V3 without YaRN, biases or
group routing) are read as HF folders and this file's forward must reproduce
their logits.

Safetensors I/O (no safetensors package) comes from model_reference.py in
this folder; nothing else of it is used.
"""
import collections
import hashlib
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model_reference import read_safetensors, to_bf16_bits  # noqa: E402  (I/O only)

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

OUT_ROOT = os.path.join(HERE, "families")
BATCH, SEQ = 2, 12
MIN_TOPK_GAP = 1e-3       # routing guard, see the docstring
MIN_SENSITIVITY = 1e-3    # every feature check must move the logits by more
MAX_SEED_TRIES = 500
VOCAB = 96

EMBED_STD, BIAS_STD, NORM_STD, QKNORM_STD = 0.3, 0.2, 0.1, 0.2
ROUTER_GAIN = 3.0
ESCB_STD = 0.1


# ----------------------------------------------------------------------------
# Configurations, keys as the released config.json files spell them (written
# with sort_keys, as save_pretrained does).
# ----------------------------------------------------------------------------
def llama_config(**kw):
    c = collections.OrderedDict(
        architectures=["LlamaForCausalLM"], attention_bias=False, attention_dropout=0.0,
        bos_token_id=1, eos_token_id=2, hidden_act="silu", hidden_size=32,
        initializer_range=0.02, intermediate_size=64, max_position_embeddings=256,
        mlp_bias=False, model_type="llama", num_attention_heads=4, num_hidden_layers=2,
        num_key_value_heads=2, pretraining_tp=1, rms_norm_eps=1e-05, rope_scaling=None,
        rope_theta=10000.0, tie_word_embeddings=False, torch_dtype="float32",
        transformers_version="4.45.2", use_cache=True, vocab_size=VOCAB)
    c.update(kw)
    return c


def mistral_config(**kw):
    c = collections.OrderedDict(
        architectures=["MistralForCausalLM"], attention_dropout=0.0, bos_token_id=1,
        eos_token_id=2, hidden_act="silu", hidden_size=32, initializer_range=0.02,
        intermediate_size=64, max_position_embeddings=256, model_type="mistral",
        num_attention_heads=4, num_hidden_layers=2, num_key_value_heads=1,
        rms_norm_eps=1e-05, rope_theta=10000.0, sliding_window=None,
        tie_word_embeddings=False, torch_dtype="float16",
        transformers_version="4.42.0.dev0", use_cache=True, vocab_size=VOCAB)
    c.update(kw)
    return c


def qwen2_config(**kw):
    c = collections.OrderedDict(
        architectures=["Qwen2ForCausalLM"], attention_dropout=0.0, bos_token_id=0,
        eos_token_id=0, hidden_act="silu", hidden_size=32, initializer_range=0.02,
        intermediate_size=64, max_position_embeddings=256, max_window_layers=2,
        model_type="qwen2", num_attention_heads=4, num_hidden_layers=2,
        num_key_value_heads=2, rms_norm_eps=1e-06, rope_theta=10000.0,
        sliding_window=256, tie_word_embeddings=True, torch_dtype="float32",
        transformers_version="4.43.1", use_cache=True, use_mrope=False,
        use_sliding_window=False, vocab_size=VOCAB)
    c.update(kw)
    return c


def qwen3_config(**kw):
    c = collections.OrderedDict(
        architectures=["Qwen3ForCausalLM"], attention_bias=False, attention_dropout=0.0,
        bos_token_id=0, eos_token_id=1, head_dim=16, hidden_act="silu", hidden_size=48,
        initializer_range=0.02, intermediate_size=64, max_position_embeddings=256,
        max_window_layers=2, model_type="qwen3", num_attention_heads=4,
        num_hidden_layers=2, num_key_value_heads=2, rms_norm_eps=1e-06,
        rope_scaling=None, rope_theta=10000, sliding_window=None,
        tie_word_embeddings=True, torch_dtype="float32", transformers_version="4.51.0",
        use_cache=True, use_sliding_window=False, vocab_size=VOCAB)
    c.update(kw)
    return c


def qwen3_moe_config(**kw):
    c = collections.OrderedDict(
        architectures=["Qwen3MoeForCausalLM"], attention_bias=False, attention_dropout=0.0,
        bos_token_id=0, decoder_sparse_step=1, eos_token_id=1, head_dim=16,
        hidden_act="silu", hidden_size=48, initializer_range=0.02, intermediate_size=64,
        max_position_embeddings=256, max_window_layers=3, mlp_only_layers=[0],
        model_type="qwen3_moe", moe_intermediate_size=16, norm_topk_prob=True,
        num_attention_heads=4, num_experts=8, num_experts_per_tok=2,
        num_hidden_layers=3, num_key_value_heads=2, output_router_logits=False,
        rms_norm_eps=1e-06, rope_scaling=None, rope_theta=10000, router_aux_loss_coef=0.001,
        sliding_window=None, tie_word_embeddings=False, torch_dtype="float32",
        transformers_version="4.51.0", use_cache=True, use_sliding_window=False,
        vocab_size=VOCAB)
    c.update(kw)
    return c


def deepseek_v3_config(**kw):
    c = collections.OrderedDict(
        architectures=["DeepseekV3ForCausalLM"], attention_bias=False, attention_dropout=0.0,
        aux_loss_alpha=0.001, bos_token_id=0, eos_token_id=1, ep_size=1,
        first_k_dense_replace=1, hidden_act="silu", hidden_size=64,
        initializer_range=0.02, intermediate_size=96, kv_lora_rank=16,
        max_position_embeddings=512, model_type="deepseek_v3", moe_intermediate_size=16,
        moe_layer_freq=1, n_group=4, n_routed_experts=16, n_shared_experts=1,
        norm_topk_prob=True, num_attention_heads=4, num_experts_per_tok=4,
        num_hidden_layers=3, num_key_value_heads=4, num_nextn_predict_layers=0,
        pretraining_tp=1, q_lora_rank=24, qk_nope_head_dim=8, qk_rope_head_dim=8,
        rms_norm_eps=1e-06,
        rope_interleave=True,
        rope_scaling=collections.OrderedDict(
            beta_fast=32, beta_slow=1, factor=4.0, mscale=1.0, mscale_all_dim=0.8,
            original_max_position_embeddings=128, type="yarn"),
        rope_theta=10000, routed_scaling_factor=2.5, scoring_func="sigmoid", seq_aux=True,
        tie_word_embeddings=False, topk_group=2, topk_method="noaux_tc",
        torch_dtype="float32", transformers_version="4.33.1", use_cache=True,
        v_head_dim=8, vocab_size=VOCAB)
    c.update(kw)
    return c


# name -> (config, storage dtype, first seed, e_score_correction_bias offset)
CASES = collections.OrderedDict()
CASES["llama3"] = (llama_config(
    attention_bias=True, mlp_bias=True, head_dim=16, hidden_size=48, intermediate_size=96,
    eos_token_id=[2, 3], rope_theta=100.0, max_position_embeddings=512,
    rope_scaling=collections.OrderedDict(
        factor=8.0, high_freq_factor=4.0, low_freq_factor=1.0,
        original_max_position_embeddings=64, rope_type="llama3")), "float32", 101, 0.0)
CASES["llama_linear"] = (llama_config(
    tie_word_embeddings=True, torch_dtype="bfloat16", transformers_version="4.40.0",
    rope_scaling=collections.OrderedDict(factor=4.0, type="linear")), "bfloat16", 201, 0.0)
CASES["mistral"] = (mistral_config(), "float16", 301, 0.0)
CASES["qwen2"] = (qwen2_config(), "float32", 401, 0.0)
CASES["qwen3"] = (qwen3_config(), "float32", 501, 0.0)
CASES["qwen3_moe_a"] = (qwen3_moe_config(), "float32", 601, 0.0)
CASES["qwen3_moe_b"] = (qwen3_moe_config(
    num_hidden_layers=4, max_window_layers=4, norm_topk_prob=False, decoder_sparse_step=2,
    mlp_only_layers=[]), "float32", 701, 0.0)
CASES["deepseek_v3_a"] = (deepseek_v3_config(), "float32", 801, -0.7)
CASES["deepseek_v3_b"] = (deepseek_v3_config(
    q_lora_rank=None, n_group=1, topk_group=1, num_hidden_layers=4, first_k_dense_replace=1,
    moe_layer_freq=2, norm_topk_prob=False, rope_scaling=None, n_shared_experts=0,
    intermediate_size=64, max_position_embeddings=256), "float32", 901, 0.0)


# ----------------------------------------------------------------------------
# Reading a config (the reference interprets the same dict it writes).
# ----------------------------------------------------------------------------
def family(c):
    return c["model_type"]


def head_dim(c):
    return c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]


def attn_biases(c):
    """(q/k/v bias, o bias) of the Llama-like families."""
    t = family(c)
    if t == "qwen2":
        return True, False
    if t in ("llama", "qwen3", "qwen3_moe"):
        b = bool(c.get("attention_bias", False))
        return b, b
    return False, False  # mistral


def has_qk_norm(c):
    return family(c) in ("qwen3", "qwen3_moe")


def is_moe_layer(c, i, placement=None):
    """placement None = the family's own rule; else a named wrong rule (used
    only to show which layers a mistaken importer would expect)."""
    t = family(c)
    if t == "qwen3_moe":
        if placement == "ignore_mlp_only":
            return c["num_experts"] > 0 and (i + 1) % c["decoder_sparse_step"] == 0
        if placement == "step_from_0":
            return i not in c["mlp_only_layers"] and i % c["decoder_sparse_step"] == 0
        return (i not in c["mlp_only_layers"] and c["num_experts"] > 0
                and (i + 1) % c["decoder_sparse_step"] == 0)
    if t == "deepseek_v3":
        if placement == "ignore_freq":  # transformers' native DeepseekV3DecoderLayer
            return i >= c["first_k_dense_replace"]
        return (c["n_routed_experts"] is not None and i >= c["first_k_dense_replace"]
                and i % c["moe_layer_freq"] == 0)
    return False


def rope_type(c):
    rs = c.get("rope_scaling")
    if not rs:
        return "default"
    return rs.get("rope_type", rs.get("type"))


# ----------------------------------------------------------------------------
# Weight names, shapes and init kinds.
# ----------------------------------------------------------------------------
def mlp_specs(s, p, D, I, bias=False):
    s[p + "gate_proj.weight"] = ([I, D], "linear")
    s[p + "up_proj.weight"] = ([I, D], "linear")
    s[p + "down_proj.weight"] = ([D, I], "linear")
    if bias:
        s[p + "gate_proj.bias"] = ([I], "bias")
        s[p + "up_proj.bias"] = ([I], "bias")
        s[p + "down_proj.bias"] = ([D], "bias")


def weight_specs(c):
    D, V = c["hidden_size"], c["vocab_size"]
    s = collections.OrderedDict()
    s["model.embed_tokens.weight"] = ([V, D], "embed")
    for i in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % i
        a = p + "self_attn."
        s[p + "input_layernorm.weight"] = ([D], "norm")
        if family(c) == "deepseek_v3":
            H = c["num_attention_heads"]
            Dn, Dr, Dv = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]
            Rq, R = c["q_lora_rank"], c["kv_lora_rank"]
            if Rq is None:
                s[a + "q_proj.weight"] = ([H * (Dn + Dr), D], "linear")
            else:
                s[a + "q_a_proj.weight"] = ([Rq, D], "linear")
                s[a + "q_a_layernorm.weight"] = ([Rq], "norm")
                s[a + "q_b_proj.weight"] = ([H * (Dn + Dr), Rq], "linear")
            s[a + "kv_a_proj_with_mqa.weight"] = ([R + Dr, D], "linear")
            s[a + "kv_a_layernorm.weight"] = ([R], "norm")
            s[a + "kv_b_proj.weight"] = ([H * (Dn + Dv), R], "linear")
            s[a + "o_proj.weight"] = ([D, H * Dv], "linear")
        else:
            H, Hkv, Dh = c["num_attention_heads"], c["num_key_value_heads"], head_dim(c)
            qkv_b, o_b = attn_biases(c)
            s[a + "q_proj.weight"] = ([H * Dh, D], "linear")
            s[a + "k_proj.weight"] = ([Hkv * Dh, D], "linear")
            s[a + "v_proj.weight"] = ([Hkv * Dh, D], "linear")
            s[a + "o_proj.weight"] = ([D, H * Dh], "linear")
            if qkv_b:
                s[a + "q_proj.bias"] = ([H * Dh], "bias")
                s[a + "k_proj.bias"] = ([Hkv * Dh], "bias")
                s[a + "v_proj.bias"] = ([Hkv * Dh], "bias")
            if o_b:
                s[a + "o_proj.bias"] = ([D], "bias")
            if has_qk_norm(c):
                s[a + "q_norm.weight"] = ([Dh], "qknorm")
                s[a + "k_norm.weight"] = ([Dh], "qknorm")
        s[p + "post_attention_layernorm.weight"] = ([D], "norm")
        m = p + "mlp."
        if not is_moe_layer(c, i):
            mlp_specs(s, m, D, c["intermediate_size"], bias=bool(c.get("mlp_bias", False)))
        elif family(c) == "qwen3_moe":
            E = c["num_experts"]
            s[m + "gate.weight"] = ([E, D], "router")
            for e in range(E):
                mlp_specs(s, m + "experts.%d." % e, D, c["moe_intermediate_size"])
        else:  # deepseek_v3
            E = c["n_routed_experts"]
            s[m + "gate.weight"] = ([E, D], "router")
            s[m + "gate.e_score_correction_bias"] = ([E], "escb")
            for e in range(E):
                mlp_specs(s, m + "experts.%d." % e, D, c["moe_intermediate_size"])
            if c.get("n_shared_experts"):
                mlp_specs(s, m + "shared_experts.", D,
                          c["n_shared_experts"] * c["moe_intermediate_size"])
    s["model.norm.weight"] = ([D], "norm")
    if not c["tie_word_embeddings"]:
        s["lm_head.weight"] = ([V, D], "linear")
    return s


def is_trainable(name):
    return not name.endswith("e_score_correction_bias")


def round_to(t, dtype_name, name):
    """float64 tensor -> float64 tensor holding the value as stored."""
    if name.endswith("e_score_correction_bias") or dtype_name == "float32":
        return t.float().double()
    if dtype_name == "bfloat16":
        return t.to(torch.bfloat16).double()
    if dtype_name == "float16":
        return t.half().double()
    raise ValueError(dtype_name)


def init_weights(c, dtype_name, gen, escb_offset):
    W = collections.OrderedDict()
    for name, (shape, kind) in weight_specs(c).items():
        z = torch.randn(shape, generator=gen, dtype=torch.float64)
        if kind == "embed":
            t = EMBED_STD * z
        elif kind == "linear":
            t = z / math.sqrt(shape[1])
        elif kind == "router":
            t = ROUTER_GAIN * z / math.sqrt(shape[1])
        elif kind == "bias":
            t = BIAS_STD * z
        elif kind == "norm":
            t = 1.0 + NORM_STD * z
        elif kind == "qknorm":
            t = 1.0 + QKNORM_STD * z
        elif kind == "escb":
            t = escb_offset + ESCB_STD * z
        else:
            raise ValueError(kind)
        W[name] = round_to(t, dtype_name, name)
    return W


# ----------------------------------------------------------------------------
# RoPE
# ----------------------------------------------------------------------------
def yarn_m(scale, k):
    return 1.0 if scale <= 1 else 0.1 * k * math.log(scale) + 1.0


def rope_params(c, d, opts):
    """(inv_freq float64 [d/2], attention_factor) of the config's RoPE."""
    theta = float(c["rope_theta"])
    inv = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    t = "default" if opts.get("no_rope_scaling") else rope_type(c)
    rs = c.get("rope_scaling") or {}
    if t == "default":
        return inv, 1.0
    if t == "linear":
        return inv / rs["factor"], 1.0
    if t == "llama3":
        f, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        orig = rs["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv
        smooth = (orig / wavelen - lo) / (hi - lo)
        out = torch.where(wavelen > orig / lo, inv / f, inv)
        mid = (wavelen >= orig / hi) & (wavelen <= orig / lo)
        out = torch.where(mid, (1 - smooth) * inv / f + smooth * inv, out)
        return out, 1.0
    if t == "yarn":
        f = rs["factor"]
        orig = rs.get("original_max_position_embeddings") or c["max_position_embeddings"]
        bf, bs = rs.get("beta_fast") or 32, rs.get("beta_slow") or 1

        def cdim(r):
            return d * math.log(orig / (r * 2 * math.pi)) / (2 * math.log(theta))
        if opts.get("yarn_round"):  # DeepSeek inference/model.py rounds instead
            low, high = max(round(cdim(bf)), 0), min(round(cdim(bs)), d - 1)
        else:
            low, high = max(math.floor(cdim(bf)), 0), min(math.ceil(cdim(bs)), d - 1)
        if low == high:
            high += 0.001
        ramp = ((torch.arange(d // 2, dtype=torch.float64) - low) / (high - low)).clamp(0, 1)
        out = inv if opts.get("yarn_inv_off") else inv / f * ramp + inv * (1 - ramp)
        if rs.get("attention_factor"):
            af = rs["attention_factor"]
        elif rs.get("mscale") and rs.get("mscale_all_dim"):
            af = yarn_m(f, rs["mscale"]) / yarn_m(f, rs["mscale_all_dim"])
        else:
            af = yarn_m(f, 1.0)
        if opts.get("yarn_attn_factor_off"):
            af = 1.0
        return out, af
    raise ValueError("rope type " + str(t))


def cos_sin(c, d, T, dt, opts):
    inv, af = rope_params(c, d, opts)
    if dt == torch.float32:
        inv = inv.float()  # as HF holds inv_freq
    ang = torch.arange(T, dtype=dt)[:, None] * inv.to(dt)[None, :]  # [T, d/2]
    return ang.cos() * af, ang.sin() * af


def rope_halves(u, cs):
    """u [B, T, heads, d]; HF rotate_half layout."""
    cos, sin = cs
    cos = torch.cat([cos, cos], -1)[None, :, None, :]
    sin = torch.cat([sin, sin], -1)[None, :, None, :]
    d = u.shape[-1]
    rot = torch.cat([-u[..., d // 2:], u[..., :d // 2]], dim=-1)
    return u * cos + rot * sin


def rope_pairs(u, cs):
    """u [B, T, heads, d]; the pair (u[2j], u[2j+1]) rotated by angle j."""
    cos, sin = cs
    cos, sin = cos[None, :, None, :], sin[None, :, None, :]
    a, b = u[..., 0::2], u[..., 1::2]
    return torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1).flatten(-2)


def rope_hf_interleave(u, cs):
    """HF apply_rotary_pos_emb_interleave, literally: de-interleave, then
    rotate halves (result in the de-interleaved order). Self-check only."""
    B, T, Hh, d = u.shape
    u = u.view(B, T, Hh, d // 2, 2).transpose(4, 3).reshape(B, T, Hh, d)
    return rope_halves(u, cs)


# ----------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------
def lin(x, W, name):
    y = x @ W[name + ".weight"].t()
    b = W.get(name + ".bias")
    if b is not None:
        y = y + b
    return y


def rms(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def mlp(W, p, x):
    return lin(F.silu(lin(x, W, p + "gate_proj")) * lin(x, W, p + "up_proj"), W, p + "down_proj")


def attend(q, k, v, scale):
    """q, k [B, T, H, dk], v [B, T, H, dv]; causal."""
    T = q.shape[1]
    s = torch.einsum("bthd,bshd->bhts", q, k) * scale
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    p = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
    return torch.einsum("bhts,bshd->bthd", p, v)


class Stats:
    """Routing facts of one forward: guards and the chosen experts."""

    def __init__(self):
        self.min_gap = float("inf")
        self.min_group_gap = float("inf")
        self.unused = []                 # (layer, expert)
        self.chosen = collections.OrderedDict()   # layer -> sorted expert ids [N, K]
        self.zero_fill_changed = {}      # layer -> tokens whose choice 0.0-fill would change
        self.bias_changed = {}           # layer -> tokens whose choice the bias changes

    def ok(self):
        return (self.min_gap > MIN_TOPK_GAP and self.min_group_gap > MIN_TOPK_GAP
                and not self.unused)


def topk_gap(key, K):
    v = torch.topk(key, K + 1, dim=-1).values
    return (v[:, K - 1] - v[:, K]).min().item()


def grouped_choice(c, choice, fill, n_group, topk_group, stats):
    """DeepSeek noaux_tc group limiting: keep the topk_group groups with the
    best sum-of-top-2 choice scores, set the rest to `fill`."""
    N, E = choice.shape
    if n_group <= 1:
        return choice
    g = choice.view(N, n_group, E // n_group)
    gs = g.topk(2, dim=-1).values.sum(-1)                       # [N, n_group]
    if stats is not None and topk_group < n_group:
        stats.min_group_gap = min(stats.min_group_gap, topk_gap(gs, topk_group))
    keep = torch.zeros(N, n_group, dtype=torch.bool)
    keep.scatter_(1, gs.topk(topk_group, dim=-1).indices, True)
    return g.masked_fill(~keep[:, :, None], fill).flatten(1)


def moe(c, W, m, x, layer, opts, stats):
    B, T, D = x.shape
    xf = x.reshape(B * T, D)
    N = xf.shape[0]
    K = c["num_experts_per_tok"]
    logits = lin(xf, W, m + "gate")
    norm_topk = bool(c["norm_topk_prob"]) != bool(opts.get("norm_topk_flip"))
    if family(c) == "qwen3_moe":
        E = c["num_experts"]
        probs = torch.softmax(logits, dim=-1)
        key = probs.detach()
        if stats is not None:
            stats.min_gap = min(stats.min_gap, topk_gap(key, K))
        idx = torch.topk(key, K, dim=-1).indices
        w = probs.gather(1, idx)
        if norm_topk:
            w = w / w.sum(-1, keepdim=True)
        out = torch.zeros_like(xf)
    else:
        E = c["n_routed_experts"]
        s = torch.sigmoid(logits)
        bias = W[m + "gate.e_score_correction_bias"]
        choice = (s + bias).detach()
        n_group, topk_group = c["n_group"], c["topk_group"]
        if opts.get("n_group_1"):
            n_group, topk_group = 1, 1
        fill = 0.0 if opts.get("mask_fill_zero") else float("-inf")
        masked = grouped_choice(c, choice, fill, n_group, topk_group, stats)
        if stats is not None:
            stats.min_gap = min(stats.min_gap, topk_gap(masked, K))
        idx = torch.topk(masked, K, dim=-1).indices
        if stats is not None:
            z = grouped_choice(c, choice, 0.0, n_group, topk_group, None)
            iz = torch.topk(z, K, dim=-1).indices
            stats.zero_fill_changed[layer] = int(
                (iz.sort(-1).values != idx.sort(-1).values).any(-1).sum())
            nb = grouped_choice(c, s.detach(), float("-inf"), n_group, topk_group, None)
            ib = torch.topk(nb, K, dim=-1).indices
            stats.bias_changed[layer] = int(
                (ib.sort(-1).values != idx.sort(-1).values).any(-1).sum())
        w = s.gather(1, idx)                      # s without the bias
        if norm_topk:
            w = w / (w.sum(-1, keepdim=True) + 1e-20)
        rsf = 1.0 if opts.get("routed_scale_1") else c["routed_scaling_factor"]
        w = w * rsf
        if c.get("n_shared_experts"):
            out = mlp(W, m + "shared_experts.", xf)
        else:
            out = torch.zeros_like(xf)
    coef = torch.zeros(N, E, dtype=xf.dtype).scatter(1, idx, w)   # 0 where not chosen
    for e in range(E):
        # Every expert runs on every token; unchosen tokens get an exact 0
        # coefficient, so values and gradients equal the sparse computation.
        out = out + coef[:, e:e + 1] * mlp(W, m + "experts.%d." % e, xf)
    if stats is not None:
        stats.chosen[layer] = idx.sort(-1).values.clone()
        counts = torch.bincount(idx.flatten(), minlength=E)
        stats.unused += [(layer, e) for e in range(E) if counts[e] == 0]
    return out.view(B, T, D)


def llama_like_attention(c, W, a, x, cs, opts):
    B, T, _ = x.shape
    H, Hkv, Dh = c["num_attention_heads"], c["num_key_value_heads"], head_dim(c)
    eps = c["rms_norm_eps"]
    q = lin(x, W, a + "q_proj").view(B, T, H, Dh)
    k = lin(x, W, a + "k_proj").view(B, T, Hkv, Dh)
    v = lin(x, W, a + "v_proj").view(B, T, Hkv, Dh)
    if has_qk_norm(c) and not opts.get("qk_norm_off"):
        q = rms(q, W[a + "q_norm.weight"], eps)
        k = rms(k, W[a + "k_norm.weight"], eps)
    rope = rope_pairs if opts.get("rope_layout_swap") else rope_halves
    q, k = rope(q, cs), rope(k, cs)
    if opts.get("gqa_tile"):  # wrong mapping: head h uses kv head h % Hkv
        k, v = k.repeat(1, 1, H // Hkv, 1), v.repeat(1, 1, H // Hkv, 1)
    else:
        k, v = k.repeat_interleave(H // Hkv, dim=2), v.repeat_interleave(H // Hkv, dim=2)
    out = attend(q, k, v, Dh ** -0.5).reshape(B, T, H * Dh)
    return lin(out, W, a + "o_proj")


def mla_attention(c, W, a, x, cs, opts):
    B, T, _ = x.shape
    H, Rq, R = c["num_attention_heads"], c["q_lora_rank"], c["kv_lora_rank"]
    Dn, Dr, Dv = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]
    eps = c["rms_norm_eps"]
    if Rq is None:
        q = lin(x, W, a + "q_proj")
    else:
        q = lin(rms(lin(x, W, a + "q_a_proj"), W[a + "q_a_layernorm.weight"], eps),
                W, a + "q_b_proj")
    q = q.view(B, T, H, Dn + Dr)
    q_nope, q_pe = q[..., :Dn], q[..., Dn:]
    kv = lin(x, W, a + "kv_a_proj_with_mqa")
    c_kv, k_pe = kv[..., :R], kv[..., R:].reshape(B, T, 1, Dr)
    kvb = lin(rms(c_kv, W[a + "kv_a_layernorm.weight"], eps), W, a + "kv_b_proj")
    kvb = kvb.view(B, T, H, Dn + Dv)
    k_nope, v = kvb[..., :Dn], kvb[..., Dn:]
    rope = {None: rope_pairs, "halves": rope_halves, "hf": rope_hf_interleave}[
        opts.get("mla_rope")]
    q_pe, k_pe = rope(q_pe, cs), rope(k_pe, cs)
    qq = torch.cat([q_nope, q_pe], -1)
    kk = torch.cat([k_nope, k_pe.expand(B, T, H, Dr)], -1)
    scale = (Dn + Dr) ** -0.5
    rs = c.get("rope_scaling")
    if rs and not opts.get("no_rope_scaling") and not opts.get("softmax_mscale_off"):
        if rs.get("mscale_all_dim"):
            scale = scale * yarn_m(rs["factor"], rs["mscale_all_dim"]) ** 2
    out = attend(qq, kk, v, scale).reshape(B, T, H * Dv)
    return lin(out, W, a + "o_proj")


def forward(c, W, ids, dt=torch.float64, opts=None, stats=None):
    """Returns (logits [B, T, V], loss)."""
    opts = opts or {}
    B, T = ids.shape
    V, eps = c["vocab_size"], c["rms_norm_eps"]
    ds = family(c) == "deepseek_v3"
    d_rope = c["qk_rope_head_dim"] if ds else head_dim(c)
    cs = cos_sin(c, d_rope, T, dt, opts)
    h = W["model.embed_tokens.weight"][ids]
    for i in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % i
        x = rms(h, W[p + "input_layernorm.weight"], eps)
        attn = mla_attention if ds else llama_like_attention
        h = h + attn(c, W, p + "self_attn.", x, cs, opts)
        x = rms(h, W[p + "post_attention_layernorm.weight"], eps)
        if is_moe_layer(c, i):
            h = h + moe(c, W, p + "mlp.", x, i, opts, stats)
        else:
            h = h + mlp(W, p + "mlp.", x)
    head = W["model.embed_tokens.weight"] if c["tie_word_embeddings"] else W["lm_head.weight"]
    logits = rms(h, W["model.norm.weight"], eps) @ head.t()
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
    return logits, loss


def golden(c, W0, ids, dt=torch.float64, stats=None):
    W = collections.OrderedDict(
        (n, t.to(dt).clone().requires_grad_(is_trainable(n))) for n, t in W0.items())
    logits, loss = forward(c, W, ids, dt, None, stats)
    loss.backward()
    grads = collections.OrderedDict(
        (n, t.grad.detach().clone()) for n, t in W.items() if is_trainable(n))
    return logits.detach(), loss.detach(), grads


# ----------------------------------------------------------------------------
# Sensitivity checks: each entry (label, opts or None, weight transform or
# None). The logits must move by more than MIN_SENSITIVITY.
# ----------------------------------------------------------------------------
def zero_where(pred):
    def f(W):
        return collections.OrderedDict(
            (n, torch.zeros_like(t) if pred(n) else t) for n, t in W.items())
    return f


def unrounded(W_f32):
    return lambda W: W_f32


def sensitivity_checks(name, c, W_unrounded):
    t = family(c)
    out = []
    rt = rope_type(c)
    if rt == "llama3":
        out.append(("llama3 rope scaling off", dict(no_rope_scaling=True), None))
    if rt == "linear":
        out.append(("linear rope scaling off", dict(no_rope_scaling=True), None))
    if rt == "yarn":
        out += [("YaRN off entirely (plain RoPE, no mscale)", dict(no_rope_scaling=True), None),
                ("YaRN inv_freq blend off", dict(yarn_inv_off=True), None),
                ("YaRN cos/sin mscale ratio off", dict(yarn_attn_factor_off=True), None),
                ("softmax scale mscale^2 off", dict(softmax_mscale_off=True), None),
                ("YaRN ramp rounded (DeepSeek inference) instead of floor/ceil",
                 dict(yarn_round=True), None)]
    if t != "deepseek_v3":
        out.append(("RoPE layout pairs instead of halves", dict(rope_layout_swap=True), None))
        if c["num_key_value_heads"] not in (1, c["num_attention_heads"]):
            out.append(("GQA kv head h % n_kv instead of h // group", dict(gqa_tile=True), None))
    else:
        out.append(("RoPE halves instead of interleaved pairs", dict(mla_rope="halves"), None))
    qkv_b, o_b = attn_biases(c)
    if qkv_b:
        out.append(("q/k/v biases zeroed", None,
                    zero_where(lambda n: any(n.endswith(s + ".bias") for s in ("q_proj", "k_proj", "v_proj")))))
        out.append(("k_proj bias zeroed", None, zero_where(lambda n: n.endswith("k_proj.bias"))))
    if o_b:
        out.append(("o_proj bias zeroed", None, zero_where(lambda n: n.endswith("o_proj.bias"))))
    if c.get("mlp_bias"):
        out.append(("mlp biases zeroed", None,
                    zero_where(lambda n: ".mlp." in n and n.endswith(".bias"))))
    if has_qk_norm(c):
        out.append(("q_norm/k_norm off", dict(qk_norm_off=True), None))
    if t == "qwen3_moe" or t == "deepseek_v3":
        out.append(("norm_topk_prob flipped", dict(norm_topk_flip=True), None))
    if t == "deepseek_v3":
        if c["n_group"] > 1:
            out.append(("group routing off (n_group 1)", dict(n_group_1=True), None))
            out.append(("masked experts 0.0 (transformers) instead of -inf",
                        dict(mask_fill_zero=True), None))
        out.append(("routed_scaling_factor 1", dict(routed_scale_1=True), None))
        out.append(("e_score_correction_bias zeroed", None,
                    zero_where(lambda n: n.endswith("e_score_correction_bias"))))
    if c["torch_dtype"] != "float32":
        out.append(("weights not rounded to %s (float32 originals)" % c["torch_dtype"],
                    None, unrounded(W_unrounded)))
    return out


def placement_checks(c):
    """Wrong MoE layer rules -> the layers they would make MoE (structural:
    the importer would look for tensors the file does not have)."""
    t = family(c)
    L = c["num_hidden_layers"]
    right = [i for i in range(L) if is_moe_layer(c, i)]
    rules = []
    if t == "qwen3_moe":
        rules = []
        if c["mlp_only_layers"]:
            rules.append(("mlp_only_layers ignored", "ignore_mlp_only"))
        if c["decoder_sparse_step"] > 1:
            rules.append(("decoder_sparse_step counted from layer 0 (i % step)", "step_from_0"))
    elif t == "deepseek_v3":
        rules = [("moe_layer_freq ignored (transformers' native rule)", "ignore_freq")]
    res = []
    for label, rule in rules:
        wrong = [i for i in range(L) if is_moe_layer(c, i, rule)]
        if wrong != right:  # a rule that agrees on this config shows nothing
            res.append((label, right, wrong))
    return res


# ----------------------------------------------------------------------------
# One case
# ----------------------------------------------------------------------------
def build_case(name, c, dtype_name, first_seed, escb_offset):
    for seed in range(first_seed, first_seed + MAX_SEED_TRIES):
        gen = torch.Generator().manual_seed(seed)
        W0 = init_weights(c, "float32", gen, escb_offset)   # float32-rounded originals
        ids = torch.randint(0, c["vocab_size"], (BATCH, SEQ), generator=gen, dtype=torch.int64)
        W = collections.OrderedDict((n, round_to(t, dtype_name, n)) for n, t in W0.items())
        st = Stats()
        with torch.no_grad():
            forward(c, W, ids, torch.float64, None, st)
        fam = family(c)
        if fam in ("qwen3_moe", "deepseek_v3"):
            if not st.ok():
                continue
            if fam == "deepseek_v3":
                if sum(st.bias_changed.values()) == 0:
                    continue
                if c["n_group"] > 1 and sum(st.zero_fill_changed.values()) == 0:
                    continue
        if seed != first_seed:
            print("  %s: seeds %d..%d rejected by the routing guards" % (name, first_seed, seed - 1))
        return seed, W0, W, ids, st
    raise RuntimeError("no acceptable seed for " + name)


ST_DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16",
             np.dtype(np.int64): "I64", np.dtype(np.uint16): "BF16"}


def write_safetensors(path, tensors, metadata):
    """Standard safetensors, tensors in name order: 8-byte little-endian
    header length, JSON header padded with spaces to a multiple of 8, raw
    little-endian data. A uint16 array is BF16 bits (see to_bf16_bits);
    0-d arrays are written with shape []."""
    header = collections.OrderedDict()
    header["__metadata__"] = metadata
    blobs, offset = [], 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        b = a.astype(a.dtype.newbyteorder("<")).tobytes(order="C")
        header[name] = collections.OrderedDict(
            dtype=ST_DTYPES[a.dtype], shape=list(a.shape),
            data_offsets=[offset, offset + len(b)])
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((-len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def to_np32(t):
    return t.detach().to(torch.float32).numpy()


def storage_arrays(W, dtype_name):
    """name -> array to write (uint16 = BF16 bits)."""
    arrays = collections.OrderedDict()
    for n, t in W.items():
        a = t.to(torch.float32).numpy()
        if n.endswith("e_score_correction_bias") or dtype_name == "float32":
            arrays[n] = a
        elif dtype_name == "float16":
            arrays[n] = a.astype(np.float16)
        else:
            arrays[n] = to_bf16_bits(a)
    return arrays


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def finite_difference_check(c, W, ids, grads, n_entries=3, eps=1e-6):
    """Central differences of the float64 loss at a few entries of a few
    tensors; returns the worst |fd - grad| / max(1, |grad|)."""
    names = [n for n in grads if grads[n].abs().max() > 0]
    pick = [names[0], names[len(names) // 2], names[-1]]
    for n in names:  # one routed-expert / bias tensor if present
        if ".experts." in n or n.endswith(".bias") or "q_norm" in n:
            pick.append(n)
            break
    worst = 0.0
    for n in pick:
        g = grads[n].flatten()
        order = torch.argsort(g.abs(), descending=True)[:n_entries]
        for j in order.tolist():
            vals = []
            for sgn in (1, -1):
                Wp = collections.OrderedDict((k, v.clone()) for k, v in W.items())
                Wp[n].view(-1)[j] += sgn * eps
                with torch.no_grad():
                    vals.append(forward(c, Wp, ids)[1].item())
            fd = (vals[0] - vals[1]) / (2 * eps)
            worst = max(worst, abs(fd - g[j].item()) / max(1.0, abs(g[j].item())))
    return worst


def self_checks():
    """Checks of the reference's own pieces, independent of any case."""
    # 1. HF's de-interleave + rotate_half gives the same attention scores as
    #    rotating adjacent pairs (it only permutes the rope dims of q and k).
    g = torch.Generator().manual_seed(7)
    c = CASES["deepseek_v3_a"][0]
    cs = cos_sin(c, 8, 12, torch.float64, {})
    q = torch.randn(2, 12, 3, 8, generator=g, dtype=torch.float64)
    k = torch.randn(2, 12, 3, 8, generator=g, dtype=torch.float64)
    s1 = torch.einsum("bthd,bshd->bhts", rope_pairs(q, cs), rope_pairs(k, cs))
    s2 = torch.einsum("bthd,bshd->bhts", rope_hf_interleave(q, cs), rope_hf_interleave(k, cs))
    e1 = (s1 - s2).abs().max().item()
    print("  self-check: HF interleave (de-interleave + rotate_half) vs adjacent pairs, "
          "max |d scores| = %.1e" % e1)
    assert e1 < 1e-12
    # 2. llama3 scaling on the llama3 case: all three branches occur.
    c = CASES["llama3"][0]
    d = head_dim(c)
    inv = 1.0 / float(c["rope_theta"]) ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    rs = c["rope_scaling"]
    wl = 2 * math.pi / inv
    lo_wl = rs["original_max_position_embeddings"] / rs["low_freq_factor"]
    hi_wl = rs["original_max_position_embeddings"] / rs["high_freq_factor"]
    kinds = ["kept" if w < hi_wl else ("/factor" if w > lo_wl else "smoothed") for w in wl.tolist()]
    scaled, _ = rope_params(c, d, {})
    print("  self-check: llama3 (theta %g, head_dim %d, orig %d): wavelengths %s" % (
        c["rope_theta"], d, rs["original_max_position_embeddings"],
        ", ".join("%.1f %s" % (w, k) for w, k in zip(wl.tolist(), kinds))))
    print("              inv_freq ratio scaled/plain: %s" % ", ".join(
        "%.4f" % r for r in (scaled / inv).tolist()))
    assert set(kinds) == {"kept", "/factor", "smoothed"}
    # 3. YaRN ramp of the deepseek_v3_a case blends at least one frequency.
    c = CASES["deepseek_v3_a"][0]
    rs = c["rope_scaling"]
    d = c["qk_rope_head_dim"]
    inv = 1.0 / float(c["rope_theta"]) ** (torch.arange(0, d, 2, dtype=torch.float64) / d)
    y, af = rope_params(c, d, {})
    yr, _ = rope_params(c, d, dict(yarn_round=True))
    ratio = (y / inv).tolist()
    print("  self-check: YaRN (d %d, theta %s, orig %d, factor %g): inv_freq ratio %s "
          "(round instead of floor/ceil: %s); cos/sin factor %.6f; softmax mscale^2 %.6f" % (
              d, c["rope_theta"], rs["original_max_position_embeddings"], rs["factor"],
              ", ".join("%.4f" % r for r in ratio),
              ", ".join("%.4f" % r for r in (yr / inv).tolist()), af,
              yarn_m(rs["factor"], rs["mscale_all_dim"]) ** 2))
    assert any(1 / rs["factor"] + 1e-9 < r < 1 - 1e-9 for r in ratio)
    assert c["max_position_embeddings"] == rs["factor"] * rs["original_max_position_embeddings"]


def cross_check_model_reference():
    """The four golden files of model_reference.py (an implementation by
    someone else of plain Llama and DeepSeek-V3 without YaRN, biases or group
    routing) read as HF folders: this file's forward must give their
    golden.logits (float32-rounded float64) from their weights."""
    for fn in ("llama_a", "llama_b", "deepseek_a", "deepseek_b"):
        path = os.path.join(HERE, fn + ".safetensors")
        if not os.path.exists(path):
            print("  cross-check: %s missing, skipped" % fn)
            continue
        t, meta = read_safetensors(path)
        p = json.loads(meta["config"])
        if p["arch"] == "LLAMA":
            c = llama_config(hidden_size=p["dim"], intermediate_size=p["ffn_hidden_dim"],
                             num_hidden_layers=p["n_layers"], num_attention_heads=p["n_heads"],
                             num_key_value_heads=p["n_kv_heads"], rms_norm_eps=p["rms_norm_eps"],
                             rope_theta=p["rope_theta"], vocab_size=p["vocab_size"],
                             tie_word_embeddings=p["tie_embeddings"])
        else:
            c = deepseek_v3_config(
                hidden_size=p["dim"], intermediate_size=p["inter_dim"],
                moe_intermediate_size=p["moe_inter_dim"], num_hidden_layers=p["n_layers"],
                num_attention_heads=p["n_heads"], num_key_value_heads=p["n_heads"],
                q_lora_rank=p["q_lora_rank"] or None, kv_lora_rank=p["kv_lora_rank"],
                qk_nope_head_dim=p["qk_nope_head_dim"], qk_rope_head_dim=p["qk_rope_head_dim"],
                v_head_dim=p["v_head_dim"], first_k_dense_replace=p["n_dense_layers"],
                n_shared_experts=p["n_shared_experts"], n_routed_experts=p["n_routed_experts"],
                num_experts_per_tok=p["n_activated_experts"], n_group=1, topk_group=1,
                routed_scaling_factor=p["routed_scaling_factor"], rms_norm_eps=p["rms_norm_eps"],
                rope_theta=p["rope_theta"], rope_scaling=None, vocab_size=p["vocab_size"],
                max_position_embeddings=p["max_seq_len"])
        W = collections.OrderedDict(
            (n, torch.from_numpy(np.array(a, dtype=np.float64)))
            for n, a in t.items() if not n.startswith("golden."))
        with torch.no_grad():
            lg, _ = forward(c, W, torch.from_numpy(np.array(t["golden.tokens"])))
        e = (lg - torch.from_numpy(np.array(t["golden.logits"], dtype=np.float64))).abs().max().item()
        print("  cross-check: model_reference.py's %s.safetensors as an HF %s folder: "
              "max|d logits| %.1e" % (fn, c["model_type"], e))
        assert e < 1e-5


def write_case(name, c, dtype_name, seed, W0, W, ids, logits, loss, grads):
    d = os.path.join(OUT_ROOT, name)
    os.makedirs(d, exist_ok=True)
    cfg_text = json.dumps(c, indent=2, sort_keys=True) + "\n"
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write(cfg_text)
    arrays = storage_arrays(W, dtype_name)
    write_safetensors(os.path.join(d, "model.safetensors"), arrays,
                      collections.OrderedDict(format="pt"))
    g = collections.OrderedDict()
    g["input_ids"] = ids.numpy().astype(np.int64)
    g["logits"] = to_np32(logits)
    g["loss"] = np.array(float(loss), dtype=np.float32)
    for n, t in grads.items():
        g["grad." + n] = to_np32(t)
    meta = collections.OrderedDict(
        format="pt", case=name, seed=str(seed),
        generator="tests/golden/hf_families_reference.py (float64, from the stored weights)")
    write_safetensors(os.path.join(d, "golden.safetensors"), g, meta)
    return d, cfg_text, arrays, g


def verify_files(d, c, cfg_text, arrays, g, W):
    """Read everything back, compare exactly, and recompute the logits from
    the files alone."""
    with open(os.path.join(d, "config.json")) as f:
        text = f.read()
    assert text == cfg_text and json.loads(text) == json.loads(cfg_text)
    c2 = json.loads(text)
    mt, _ = read_safetensors(os.path.join(d, "model.safetensors"))
    assert set(mt) == set(arrays), (set(mt) ^ set(arrays))
    W2 = collections.OrderedDict()
    for n, a in arrays.items():
        b = mt[n]
        if a.dtype == np.uint16:   # BF16 bits; the reader returns float32
            assert np.array_equal((a.astype(np.uint32) << 16).view(np.float32), b)
        else:
            assert a.dtype == b.dtype and np.array_equal(a, b), n
        W2[n] = torch.from_numpy(np.array(b, dtype=np.float64))
        assert torch.equal(W2[n], W[n]), n
    gt, meta = read_safetensors(os.path.join(d, "golden.safetensors"))
    assert set(gt) == set(g)
    for n, a in g.items():
        assert gt[n].dtype == a.dtype and gt[n].shape == a.shape and np.array_equal(gt[n], a), n
    with torch.no_grad():
        lg, ls = forward(c2, W2, torch.from_numpy(np.array(gt["input_ids"])))
    assert np.array_equal(to_np32(lg), gt["logits"])
    assert np.float32(ls.item()) == gt["loss"]


def run_case(name, c, dtype_name, first_seed, escb_offset, report):
    print("%s (%s, weights %s)" % (name, c["architectures"][0], dtype_name))
    seed, W0, W, ids, st = build_case(name, c, dtype_name, first_seed, escb_offset)
    logits, loss, grads = golden(c, W, ids)
    print("  seed %d, loss %.6f, |logits| max %.3f" % (seed, loss.item(), logits.abs().max().item()))
    if st.chosen:
        print("  routing: min top-k gap %.2e, min group gap %s, MoE layers %s" % (
            st.min_gap, "%.2e" % st.min_group_gap if st.min_group_gap < float("inf") else "-",
            list(st.chosen)))
        if st.bias_changed:
            print("  tokens whose experts the bias changes, per MoE layer: %s (of %d)" % (
                dict(st.bias_changed), BATCH * SEQ))
            print("  tokens whose experts 0.0-fill (transformers) would change: %s" % (
                dict(st.zero_fill_changed)))

    # Sensitivity.
    rows = []
    for label, opts, wf in sensitivity_checks(name, c, W0):
        Wv = wf(W) if wf else W
        with torch.no_grad():
            lv, _ = forward(c, Wv, ids, torch.float64, opts or {}, None)
        delta = (lv - logits).abs().max().item()
        rows.append((label, delta))
        print("  sensitivity: %-62s max|d logits| %.3e" % (label, delta))
        assert delta > MIN_SENSITIVITY, (name, label, delta)
    if escb_offset:
        # Invariance: a constant added to every expert's bias changes neither
        # the group ranking nor the top-k under -inf masking.
        Wv = collections.OrderedDict(
            (n, t - escb_offset if n.endswith("e_score_correction_bias") else t)
            for n, t in W.items())
        with torch.no_grad():
            lv, _ = forward(c, Wv, ids)
        delta = (lv - logits).abs().max().item()
        print("  invariance:  %-62s max|d logits| %.1e" % (
            "bias offset %g removed (-inf routing)" % escb_offset, delta))
        assert delta < 1e-12
    for label, right, wrong in placement_checks(c):
        print("  placement:   %-62s MoE layers %s instead of %s (structural: tensors missing)" % (
            label, wrong, right))
        assert wrong != right
        rows.append((label, "MoE layers %s instead of %s" % (wrong, right)))

    # float32 rerun of the same program from the same stored weights.
    st32 = Stats()
    l32, s32, g32 = golden(c, W, ids, torch.float32, st32)
    for L in st.chosen:
        assert torch.equal(st.chosen[L], st32.chosen[L]), "float32 routing differs"
    e_logit = (l32.double() - logits).abs().max().item()
    e_loss = abs(s32.item() - loss.item())
    e_grad = max((g32[n].double() - grads[n]).abs().max().item() for n in grads)
    e_grad_rel = max(((g32[n].double() - grads[n]).abs().max() /
                      grads[n].abs().max().clamp(min=1e-30)).item() for n in grads)
    print("  float32 rerun: max|d logits| %.2e, |d loss| %.2e, max|d grad| %.2e "
          "(%.2e relative to the tensor's largest entry)" % (e_logit, e_loss, e_grad, e_grad_rel))

    fd = finite_difference_check(c, W, ids, grads)
    print("  finite differences vs gradients: worst %.2e" % fd)
    assert fd < 1e-6

    d, cfg_text, arrays, g = write_case(name, c, dtype_name, seed, W0, W, ids, logits, loss, grads)
    verify_files(d, c, cfg_text, arrays, g, W)
    sizes = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    print("  wrote %s (%d KiB; model %s, golden %s), read back exactly" % (
        os.path.relpath(d, os.path.dirname(os.path.dirname(HERE))), sizes // 1024,
        sha(os.path.join(d, "model.safetensors")), sha(os.path.join(d, "golden.safetensors"))))
    report[name] = dict(rows=rows, f32=(e_logit, e_loss, e_grad, e_grad_rel), seed=seed)


def main():
    self_checks()
    cross_check_model_reference()
    report = collections.OrderedDict()
    for name, (c, dtype_name, seed, off) in CASES.items():
        assert c["torch_dtype"] == dtype_name
        run_case(name, c, dtype_name, seed, off, report)
    worst = [max(r["f32"][i] for r in report.values()) for i in range(4)]
    print("all cases: float32 rerun worst max|d logits| %.2e, |d loss| %.2e, max|d grad| %.2e "
          "(%.2e relative)" % tuple(worst))
    smallest = min((d, n, l) for n, r in report.items() for l, d in r["rows"] if isinstance(d, float))
    print("smallest sensitivity: %.3e (%s: %s)" % smallest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
