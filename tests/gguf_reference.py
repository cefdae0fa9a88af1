"""An independent reader of GGUF v3 files and a NumPy forward pass of
llama.cpp's dense GQA architectures "llama", "qwen2" and "qwen3".

Knows only the GGUF format and llama.cpp's conventions, nothing of r1: the
tensors each architecture's loader creates (names, shapes, which are required
or optional; any other tensor fails the load, as llama.cpp's does), the
{arch}.* hyperparameter keys, and RoPE as ggml applies it to q and k as
stored: "normal" (adjacent pairs 2j, 2j+1) for llama, NEOX (halves j,
j+n_rot/2) for qwen2 and qwen3. Each frequency theta^(-2j/n_rot) is divided by
rope_freqs[j] when that tensor is present (llama3 scaling) and multiplied by
1/{arch}.rope.scaling.factor under rope.scaling.type "linear". Optional or
required q/k/v, output and feed-forward biases are added where llama.cpp adds
them; qwen3 normalizes each head of q and k (RMSNorm over the head) before
RoPE. Run with Debian's /usr/bin/python3 (NumPy).

  gguf_reference.py describe FILE
      prints one JSON object: version, alignment, metadata {key: {type, value
      [, elem_type]}}, tensors {name: {type, shape (outermost first), offset}}
  gguf_reference.py tensor FILE --name NAME
      prints the tensor's values, flattened, space-separated (repr precision)
  gguf_reference.py forward FILE --tokens "1 2 3,4 5"
      checks the tensors against the architecture's loader, then prints
      "logits ROWS" and, per row and token, one line of space-separated
      float32 logits (repr precision)

Legend: T tokens, D embedding, H heads, G kv heads, Dh head dim (key_length),
Dv value_length, F feed-forward width, V vocab.
"""
import argparse
import json
import struct
import sys

import numpy as np

# GGUF metadata value types: struct format of the scalars.
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
           10: "<Q", 11: "<q", 12: "<d"}
TYPE_NAMES = {0: "uint8", 1: "int8", 2: "uint16", 3: "int16", 4: "uint32", 5: "int32",
              6: "float32", 7: "bool", 8: "string", 9: "array", 10: "uint64", 11: "int64",
              12: "float64"}
STRING, ARRAY = 8, 9
# ggml tensor types this reader understands: NumPy dtype.
GGML_DTYPES = {0: np.dtype("<f4"), 1: np.dtype("<f2")}


class GgufError(Exception):
    pass


class Cursor:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise GgufError(f"truncated at byte {self.pos} (need {n} more)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def scalar(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self):
        return self.take(self.scalar("<Q")).decode("utf-8")

    def value(self, vtype):
        if vtype == STRING:
            return self.string()
        if vtype in SCALARS:
            v = self.scalar(SCALARS[vtype])
            if vtype == 7 and self.data[self.pos - 1] not in (0, 1):
                raise GgufError("bool value neither 0 nor 1")
            return v
        raise GgufError(f"unknown value type {vtype}")


def read_gguf(path):
    """Returns (summary dict, {name: float64 array in PyTorch shape order})."""
    with open(path, "rb") as f:
        data = f.read()
    cur = Cursor(data)
    if cur.take(4) != b"GGUF":
        raise GgufError("bad magic")
    version = cur.scalar("<I")
    if version != 3:
        raise GgufError(f"version {version}, expected 3")
    n_tensors, n_kv = cur.scalar("<Q"), cur.scalar("<Q")
    metadata = {}
    for _ in range(n_kv):
        key = cur.string()
        if key in metadata:
            raise GgufError(f"duplicate key {key}")
        vtype = cur.scalar("<I")
        entry = {"type": TYPE_NAMES.get(vtype, str(vtype))}
        if vtype == ARRAY:
            etype = cur.scalar("<I")
            count = cur.scalar("<Q")
            entry["elem_type"] = TYPE_NAMES.get(etype, str(etype))
            entry["value"] = [cur.value(etype) for _ in range(count)]
        else:
            entry["value"] = cur.value(vtype)
        metadata[key] = entry
    alignment = metadata.get("general.alignment", {"value": 32})["value"]
    if metadata.get("general.alignment", {"type": "uint32"})["type"] != "uint32":
        raise GgufError("general.alignment must be uint32")
    infos = []
    for _ in range(n_tensors):
        name = cur.string()
        n_dims = cur.scalar("<I")
        if not 1 <= n_dims <= 4:
            raise GgufError(f"{name}: {n_dims} dims")
        dims = [cur.scalar("<Q") for _ in range(n_dims)]  # ggml order, fastest first
        ttype = cur.scalar("<I")
        offset = cur.scalar("<Q")
        if ttype not in GGML_DTYPES:
            raise GgufError(f"{name}: unsupported ggml type {ttype}")
        if offset % alignment:
            raise GgufError(f"{name}: offset {offset} not aligned to {alignment}")
        infos.append((name, dims, ttype, offset))
    data_start = -(-cur.pos // alignment) * alignment
    if any(b != 0 for b in data[cur.pos:data_start]):
        raise GgufError("non-zero padding before the data section")
    tensors, summary_tensors, spans = {}, {}, []
    for name, dims, ttype, offset in infos:
        if name in tensors:
            raise GgufError(f"duplicate tensor {name}")
        dtype = GGML_DTYPES[ttype]
        count = int(np.prod(dims))
        begin = data_start + offset
        end = begin + count * dtype.itemsize
        if end > len(data):
            raise GgufError(f"{name}: data runs past the end of the file")
        spans.append((begin, end, name))
        shape = tuple(reversed(dims))  # PyTorch order, outermost first
        array = np.frombuffer(data, dtype=dtype, count=count, offset=begin).reshape(shape)
        tensors[name] = array.astype(np.float64)
        summary_tensors[name] = {"type": ttype, "shape": list(shape), "offset": offset}
    spans.sort()
    for (_, end, a), (begin, _, b) in zip(spans, spans[1:]):
        if begin < end:
            raise GgufError(f"tensors {a} and {b} overlap")
    summary = {"version": version, "alignment": alignment, "metadata": metadata,
               "tensors": summary_tensors}
    return summary, tensors


def rms_norm(x, weight, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def rope(x, inv_freq, neox):
    """Rotates x [T, heads, Dh] at positions 0..T-1 by pos * inv_freq[j]:
    pairs (2j, 2j+1) (ggml's normal RoPE) or (j, j + n_rot/2) (NEOX), where
    n_rot = 2 * len(inv_freq); dims past n_rot are left alone."""
    t, half = x.shape[0], len(inv_freq)
    angle = np.arange(t, dtype=np.float64)[:, None] * inv_freq[None, :]       # [T, n_rot/2]
    cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
    first = np.arange(half) if neox else np.arange(0, 2 * half, 2)
    second = first + (half if neox else 1)
    out = x.copy()
    a, b = x[..., first], x[..., second]
    out[..., first] = a * cos - b * sin
    out[..., second] = a * sin + b * cos
    return out


# Per architecture: ggml's RoPE pairing and the tensors of a block beyond
# attn_norm, attn_{q,k,v,output}, ffn_norm and ffn_{gate,up,down}, as
# llama.cpp's loader creates them: "optional" (TENSOR_NOT_REQUIRED) or
# "required". Shapes are resolved in loader_tensors.
ARCHS = {
    "llama": {"neox": False,
              "optional": ["attn_q.bias", "attn_k.bias", "attn_v.bias", "attn_output.bias",
                           "ffn_gate.bias", "ffn_up.bias", "ffn_down.bias"],
              "required": [], "rope_freqs": True, "q_width_is_embd": False},
    "qwen2": {"neox": True, "optional": [],
              "required": ["attn_q.bias", "attn_k.bias", "attn_v.bias"],
              "rope_freqs": False, "q_width_is_embd": True},
    "qwen3": {"neox": True, "optional": [],
              "required": ["attn_q_norm.weight", "attn_k_norm.weight"],
              "rope_freqs": False, "q_width_is_embd": False},
}


def hparams(summary):
    md = {k: v["value"] for k, v in summary["metadata"].items()}
    arch = md.get("general.architecture")
    if arch not in ARCHS:
        raise GgufError(f"architecture {arch!r} is not one this reader runs ({', '.join(ARCHS)})")
    def key(name, default=None):
        value = md.get(f"{arch}.{name}", default)
        if value is None:
            raise GgufError(f"missing key {arch}.{name}")
        return value
    hp = {"arch": arch, "n_layer": key("block_count"), "n_head": key("attention.head_count"),
          "dim": key("embedding_length"), "n_ff": key("feed_forward_length"),
          "eps": key("attention.layer_norm_rms_epsilon"), "theta": key("rope.freq_base", 10000.0),
          "n_vocab": len(md["tokenizer.ggml.tokens"])}
    hp["n_kv"] = key("attention.head_count_kv", hp["n_head"])
    hp["head_dim"] = key("attention.key_length", hp["dim"] // hp["n_head"])
    hp["v_dim"] = key("attention.value_length", hp["dim"] // hp["n_head"])
    hp["n_rot"] = key("rope.dimension_count", hp["head_dim"])
    if hp["n_rot"] != hp["head_dim"] or hp["v_dim"] != hp["head_dim"]:
        raise GgufError(f"n_rot {hp['n_rot']}, key_length {hp['head_dim']} and value_length {hp['v_dim']} "
                        f"must agree for {arch}")
    scaling = key("rope.scaling.type", "linear")
    factor = key("rope.scaling.factor", 0.0)
    if scaling not in ("none", "linear"):
        raise GgufError(f"rope.scaling.type {scaling!r} is not implemented by this reader")
    hp["freq_scale"] = 1.0 if scaling == "none" or factor == 0 else 1.0 / factor
    return hp


def loader_tensors(hp, tensors):
    """Checks the file's tensors as the architecture's loader would: every
    required one present with its shape, optional ones with theirs when
    present, nothing else."""
    spec = ARCHS[hp["arch"]]
    d, f, v = hp["dim"], hp["n_ff"], hp["n_vocab"]
    q_rows = d if spec["q_width_is_embd"] else hp["n_head"] * hp["head_dim"]
    kv_rows = hp["n_kv"] * hp["head_dim"]
    shapes = {"attn_norm.weight": [d], "attn_q.weight": [q_rows, d], "attn_k.weight": [kv_rows, d],
              "attn_v.weight": [kv_rows, d], "attn_output.weight": [d, q_rows], "ffn_norm.weight": [d],
              "ffn_gate.weight": [f, d], "ffn_up.weight": [f, d], "ffn_down.weight": [d, f],
              # llama.cpp sizes attn_q.bias by the embedding width (n_embd)
              "attn_q.bias": [d], "attn_k.bias": [kv_rows], "attn_v.bias": [kv_rows],
              "attn_output.bias": [d], "ffn_gate.bias": [f], "ffn_up.bias": [f], "ffn_down.bias": [d],
              "attn_q_norm.weight": [hp["head_dim"]], "attn_k_norm.weight": [hp["head_dim"]]}
    base = ["attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
            "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"]
    expected = {"token_embd.weight": ([v, d], True), "output_norm.weight": ([d], True),
                "output.weight": ([v, d], False)}
    if spec["rope_freqs"]:
        expected["rope_freqs.weight"] = ([hp["n_rot"] // 2], False)
    for i in range(hp["n_layer"]):
        for name in base + spec["required"]:
            expected[f"blk.{i}.{name}"] = (shapes[name], True)
        for name in spec["optional"]:
            expected[f"blk.{i}.{name}"] = (shapes[name], False)
    for name, (shape, required) in expected.items():
        if name not in tensors:
            if required:
                raise GgufError(f"{hp['arch']}: missing tensor {name}")
            continue
        if list(tensors[name].shape) != shape:
            raise GgufError(f"{hp['arch']}: tensor {name} has shape {list(tensors[name].shape)}, expected {shape}")
    extra = sorted(set(tensors) - set(expected))
    if extra:
        raise GgufError(f"{hp['arch']}: the loader creates no tensor {', '.join(extra)}")


def forward(summary, w, tokens):
    """Logits [T, V] of one sequence, positions 0..T-1, causal attention."""
    hp = hparams(summary)
    loader_tensors(hp, w)
    neox = ARCHS[hp["arch"]]["neox"]
    n_head, n_kv, head_dim, eps = hp["n_head"], hp["n_kv"], hp["head_dim"], hp["eps"]
    n_rot = hp["n_rot"]
    inv_freq = hp["theta"] ** (-np.arange(0, n_rot, 2, dtype=np.float64) / n_rot)  # [n_rot/2]
    if "rope_freqs.weight" in w:
        inv_freq = inv_freq / w["rope_freqs.weight"]
    inv_freq = inv_freq * hp["freq_scale"]
    zero = np.zeros(1)
    t = len(tokens)
    x = w["token_embd.weight"][np.asarray(tokens)]                              # [T, D]
    causal = np.triu(np.full((t, t), -np.inf), k=1)                             # [T, T]
    for i in range(hp["n_layer"]):
        p = f"blk.{i}."
        bias = lambda name: w.get(p + name, zero)
        h = rms_norm(x, w[p + "attn_norm.weight"], eps)
        q = (h @ w[p + "attn_q.weight"].T + bias("attn_q.bias")).reshape(t, n_head, head_dim)  # [T, H, Dh]
        k = (h @ w[p + "attn_k.weight"].T + bias("attn_k.bias")).reshape(t, n_kv, head_dim)    # [T, G, Dh]
        v = (h @ w[p + "attn_v.weight"].T + bias("attn_v.bias")).reshape(t, n_kv, head_dim)    # [T, G, Dh]
        if p + "attn_q_norm.weight" in w:  # each head over Dh, before RoPE
            q = rms_norm(q, w[p + "attn_q_norm.weight"], eps)
            k = rms_norm(k, w[p + "attn_k_norm.weight"], eps)
        q, k = rope(q, inv_freq, neox), rope(k, inv_freq, neox)
        # Query head j reads kv head j // (H / G), as ggml's broadcast does.
        k = np.repeat(k, n_head // n_kv, axis=1)                                # [T, H, Dh]
        v = np.repeat(v, n_head // n_kv, axis=1)
        scores = np.einsum("thd,shd->hts", q, k) / np.sqrt(head_dim) + causal  # [H, T, T]
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        attn = np.einsum("hts,shd->thd", probs, v).reshape(t, n_head * head_dim)
        x = x + attn @ w[p + "attn_output.weight"].T + bias("attn_output.bias")
        h = rms_norm(x, w[p + "ffn_norm.weight"], eps)
        gate = h @ w[p + "ffn_gate.weight"].T + bias("ffn_gate.bias")
        up = h @ w[p + "ffn_up.weight"].T + bias("ffn_up.bias")
        x = x + (gate / (1 + np.exp(-gate)) * up) @ w[p + "ffn_down.weight"].T + bias("ffn_down.bias")
    x = rms_norm(x, w["output_norm.weight"], eps)
    out = w.get("output.weight", w["token_embd.weight"])                       # tied when absent
    return x @ out.T                                                            # [T, V]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["describe", "tensor", "forward"])
    parser.add_argument("file")
    parser.add_argument("--tokens", default="", help="rows separated by ',', ids by spaces")
    parser.add_argument("--name", default="", help="the tensor to print")
    args = parser.parse_args()
    try:
        summary, tensors = read_gguf(args.file)
    except GgufError as e:
        print(f"gguf_reference: {args.file}: {e}", file=sys.stderr)
        return 1
    if args.command == "describe":
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    if args.command == "tensor":
        if args.name not in tensors:
            print(f"gguf_reference: {args.file}: no tensor {args.name}", file=sys.stderr)
            return 1
        print(" ".join(repr(float(v)) for v in tensors[args.name].ravel()))
        return 0
    rows = [[int(t) for t in row.split()] for row in args.tokens.split(",") if row.strip()]
    try:
        outputs = [forward(summary, tensors, row) for row in rows]
    except GgufError as e:
        print(f"gguf_reference: {args.file}: {e}", file=sys.stderr)
        return 1
    print(f"logits {len(rows)}")
    for output in outputs:
        for logits in output:
            print(" ".join(repr(float(np.float32(v))) for v in logits))
    return 0


if __name__ == "__main__":
    sys.exit(main())
