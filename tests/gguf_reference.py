#!/usr/bin/python3
"""An independent reader of GGUF v3 files and a NumPy Llama forward pass.

Knows only the GGUF format and llama.cpp's "llama" architecture conventions,
nothing of r1: tensors are read by their llama.cpp names, hyperparameters from
the llama.* keys, and attention uses ggml's normal RoPE (adjacent pairs 2j,
2j+1) on q and k exactly as stored. Run with Debian's /usr/bin/python3 (NumPy).

  gguf_reference.py describe FILE
      prints one JSON object: version, alignment, metadata {key: {type, value
      [, elem_type]}}, tensors {name: {type, shape (outermost first), offset}}
  gguf_reference.py forward FILE --tokens "1 2 3,4 5"
      prints "logits ROWS" and then, per row and token, one line of
      space-separated float32 logits (repr precision)

Legend: T tokens, D embedding, H heads, G kv heads, Dh head dim, V vocab.
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


def rope_adjacent(x, theta, n_rot):
    """ggml's normal RoPE: rotates pairs (2j, 2j+1) by pos * theta^(-2j/n_rot).
    x [T, heads, Dh]; dims past n_rot are left alone."""
    t = x.shape[0]
    inv_freq = theta ** (-np.arange(0, n_rot, 2, dtype=np.float64) / n_rot)  # [n_rot/2]
    angle = np.arange(t, dtype=np.float64)[:, None] * inv_freq[None, :]       # [T, n_rot/2]
    cos, sin = np.cos(angle)[:, None, :], np.sin(angle)[:, None, :]
    out = x.copy()
    a, b = x[..., 0:n_rot:2], x[..., 1:n_rot:2]
    out[..., 0:n_rot:2] = a * cos - b * sin
    out[..., 1:n_rot:2] = a * sin + b * cos
    return out


def forward(summary, w, tokens):
    """Logits [T, V] of one sequence, positions 0..T-1, causal attention."""
    md = {k: v["value"] for k, v in summary["metadata"].items()}
    if md["general.architecture"] != "llama":
        raise GgufError("not a llama model")
    n_layer = md["llama.block_count"]
    n_head = md["llama.attention.head_count"]
    n_kv = md.get("llama.attention.head_count_kv", n_head)
    eps = md["llama.attention.layer_norm_rms_epsilon"]
    theta = md.get("llama.rope.freq_base", 10000.0)
    dim = md["llama.embedding_length"]
    head_dim = dim // n_head
    n_rot = md.get("llama.rope.dimension_count", head_dim)
    t = len(tokens)
    x = w["token_embd.weight"][np.asarray(tokens)]                              # [T, D]
    causal = np.triu(np.full((t, t), -np.inf), k=1)                             # [T, T]
    for i in range(n_layer):
        p = f"blk.{i}."
        h = rms_norm(x, w[p + "attn_norm.weight"], eps)
        q = (h @ w[p + "attn_q.weight"].T).reshape(t, n_head, head_dim)         # [T, H, Dh]
        k = (h @ w[p + "attn_k.weight"].T).reshape(t, n_kv, head_dim)           # [T, G, Dh]
        v = (h @ w[p + "attn_v.weight"].T).reshape(t, n_kv, head_dim)           # [T, G, Dh]
        q, k = rope_adjacent(q, theta, n_rot), rope_adjacent(k, theta, n_rot)
        # Query head j reads kv head j // (H / G), as ggml's broadcast does.
        k = np.repeat(k, n_head // n_kv, axis=1)                                # [T, H, Dh]
        v = np.repeat(v, n_head // n_kv, axis=1)
        scores = np.einsum("thd,shd->hts", q, k) / np.sqrt(head_dim) + causal  # [H, T, T]
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        attn = np.einsum("hts,shd->thd", probs, v).reshape(t, n_head * head_dim)
        x = x + attn @ w[p + "attn_output.weight"].T
        h = rms_norm(x, w[p + "ffn_norm.weight"], eps)
        gate = h @ w[p + "ffn_gate.weight"].T
        up = h @ w[p + "ffn_up.weight"].T
        x = x + (gate / (1 + np.exp(-gate)) * up) @ w[p + "ffn_down.weight"].T
    x = rms_norm(x, w["output_norm.weight"], eps)
    out = w.get("output.weight", w["token_embd.weight"])                       # tied when absent
    return x @ out.T                                                            # [T, V]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["describe", "forward"])
    parser.add_argument("file")
    parser.add_argument("--tokens", default="", help="rows separated by ',', ids by spaces")
    args = parser.parse_args()
    try:
        summary, tensors = read_gguf(args.file)
    except GgufError as e:
        print(f"gguf_reference: {args.file}: {e}", file=sys.stderr)
        return 1
    if args.command == "describe":
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    rows = [[int(t) for t in row.split()] for row in args.tokens.split(",") if row.strip()]
    print(f"logits {len(rows)}")
    for row in rows:
        for logits in forward(summary, tensors, row):
            print(" ".join(repr(float(np.float32(v))) for v in logits))
    return 0


if __name__ == "__main__":
    sys.exit(main())
