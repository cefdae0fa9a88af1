#!/usr/bin/env python3
"""Builds the tokenizer.json fixtures for common/hf_tokenizer_test.cc.

Each fixture is a tiny tokenizer in the shape of a released one (GPT-2,
Llama-3, Qwen2, DeepSeek-V3 byte-level BPE; Llama-2 / Mistral SentencePiece-
style BPE with byte fallback), with merges this script learns itself over the
small multilingual corpus below (plain pair-frequency BPE training; nothing is
downloaded). The regex patterns are the released tokenizers' own.

Deterministic: rerunning rewrites the same files byte for byte.
    python3 tests/golden/tokenizers/make_fixtures.py
Then run generate.mjs (see tests/golden/README.md) for the expected ids.
"""
import collections
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))

CORPUS = """
The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs away.
It's a test: they're here, we've seen it, I'm sure you'll agree, he'd say so.
Numbers: 1 12 123 1234 12345 3.14159 2024-11-30 10,000 0x1F 1e-9 42%.
def tokenize(text):
    return [piece for piece in text.split() if piece]
for (int i = 0; i < n; ++i) { sum += values[i] * 2; }  // C++ loop
SELECT name, count(*) FROM users WHERE age >= 18 GROUP BY name;
Hello world! Hello there, world. Good morning, good evening, good night.
Tokenizers split text into pieces, then merge frequent pairs of symbols.
Café naïve résumé façade coöperate Ångström déjà vu señor jalapeño über straße.
Москва — столица России. Привет, мир! Быстрая коричневая лиса.
Η γρήγορη καφέ αλεπού πηδάει. Καλημέρα κόσμε.
东京是日本的首都。我们今天学习中文分词。你好，世界！中国人民很友好。
今日は良い天気ですね。カタカナとひらがなを混ぜて書きます。
안녕하세요 세계. 오늘은 날씨가 좋네요.
مرحبا بالعالم. هذا نص عربي قصير.
שלום עולם. זה טקסט בעברית.
नमस्ते दुनिया। यह हिंदी पाठ है।
Emoji: 😀 👍 🎉 ❤️ 👩‍💻 👨‍👩‍👧 🏳️‍🌈 🇯🇵 ✨
    indented line with tabs\tand\ttabs
Line one\nLine two\r\nLine three
"""

SENTENCEPIECE_SPACE = "\u2581"  # ▁

# The released tokenizers' pre-tokenizer patterns (facts, written down here).
GPT2_PATTERN = (r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
                 r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
DEEPSEEK_PATTERNS = [
    r"\p{N}{1,3}",
    "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
    r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|"
    r" ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
]


def bytes_to_unicode():
    """GPT-2's byte alphabet: printable Latin-1 bytes stand for themselves,
    the others take code points 256, 257, ... in byte order."""
    table = {}
    extra = 256
    for b in range(256):
        printable = (0x21 <= b <= 0x7E) or (0xA1 <= b <= 0xAC) or (0xAE <= b <= 0xFF)
        if printable:
            table[b] = chr(b)
        else:
            table[b] = chr(extra)
            extra += 1
    return table


BYTE_CHARS = bytes_to_unicode()


def train_merges(words, num_merges):
    """Plain BPE training: `words` maps a tuple of symbols to its count; each
    step merges the most frequent adjacent pair (ties: smallest pair)."""
    words = dict(words)
    merges = []
    for _ in range(num_merges):
        pairs = collections.Counter()
        for symbols, count in words.items():
            for a, b in zip(symbols, symbols[1:]):
                pairs[(a, b)] += count
        if not pairs:
            break
        best = min(pairs.items(), key=lambda item: (-item[1], item[0]))[0]
        if pairs[best] < 2:
            break
        merges.append(best)
        merged = {}
        for symbols, count in words.items():
            out = []
            i = 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    out.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + count
        words = merged
    return merges


def rough_words(text):
    # Training only needs plausible words; the fixtures' own pre-tokenizers
    # decide how text is cut at encode time.
    return re.findall(r" ?[^\W\d_]+| ?\d{1,3}| ?[^\s\w]+|\s+", text)


def byte_level_model(num_merges, pair_merges):
    counts = collections.Counter(rough_words(CORPUS * 3))
    words = {tuple(BYTE_CHARS[b] for b in w.encode("utf-8")): c for w, c in counts.items()}
    merges = train_merges(words, num_merges)
    vocab = {BYTE_CHARS[b]: b for b in range(256)}
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    return {
        "type": "BPE", "dropout": None, "unk_token": None,
        "continuing_subword_prefix": None, "end_of_word_suffix": None,
        "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
        "vocab": vocab,
        "merges": [[a, b] for a, b in merges] if pair_merges else [f"{a} {b}" for a, b in merges],
    }


def sentencepiece_model(num_merges, byte_fallback, lowercase=False, skip_chars=""):
    """SentencePiece-style BPE over ▁-joined text: <unk> <s> </s>, then the
    256 <0xNN> byte pieces (with byte_fallback), the corpus characters (minus
    `skip_chars`, so that some characters must fall back), then the merges."""
    text = CORPUS.lower() if lowercase else CORPUS
    text = text.replace(" ", SENTENCEPIECE_SPACE)
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    if byte_fallback:
        for b in range(256):
            vocab[f"<0x{b:02X}>"] = len(vocab)
    chars = sorted(set(text) - set(skip_chars) - {"\n"})
    for ch in [SENTENCEPIECE_SPACE] + chars:
        if ch not in vocab:
            vocab[ch] = len(vocab)
    counts = collections.Counter(re.findall(SENTENCEPIECE_SPACE + r"?[^" + SENTENCEPIECE_SPACE + r"\n]+|" +
                                            SENTENCEPIECE_SPACE + "+", text * 3))
    words = {tuple(w): c for w, c in counts.items() if all(ch in vocab for ch in w)}
    merges = train_merges(words, num_merges)
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    return {
        "type": "BPE", "dropout": None, "unk_token": "<unk>",
        "continuing_subword_prefix": None, "end_of_word_suffix": None,
        "fuse_unk": True, "byte_fallback": byte_fallback, "ignore_merges": False,
        "vocab": vocab, "merges": [[a, b] for a, b in merges],
    }


def unigram_model(skip_chars):
    """A SentencePiece-style unigram vocabulary: <unk> <s> </s>, every corpus
    character, and the substrings (2-6 characters) of ▁-prefixed words seen
    at least 3 times, each scored log(count / total)."""
    import math
    text = CORPUS.replace(" ", SENTENCEPIECE_SPACE)
    words = re.findall(SENTENCEPIECE_SPACE + r"?[^" + SENTENCEPIECE_SPACE + r"\n]+", text * 3)
    counts = collections.Counter()
    for word in words:
        for i in range(len(word)):
            for j in range(i + 1, min(len(word), i + 6) + 1):
                counts[word[i:j]] += 1
    total = sum(counts.values())
    chars = {p for p in counts if len(p) == 1 and p not in skip_chars}
    longer = sorted((p for p, c in counts.items() if len(p) > 1 and c >= 3
                     and not set(p) & set(skip_chars)), key=lambda p: (-counts[p], p))[:1500]
    pieces = [["<unk>", 0.0], ["<s>", 0.0], ["</s>", 0.0]]
    for p in sorted(chars) + longer:
        pieces.append([p, round(math.log(counts[p] / total), 4)])
    return {"type": "Unigram", "unk_id": 0, "vocab": pieces, "byte_fallback": False}


def added(id_, content, special=True, lstrip=False, rstrip=False, single_word=False,
          normalized=None):
    return {"id": id_, "content": content, "single_word": single_word, "lstrip": lstrip,
            "rstrip": rstrip, "normalized": (not special) if normalized is None else normalized,
            "special": special}


def next_id(model, added_tokens=()):
    return max(list(model["vocab"].values()) + [t["id"] for t in added_tokens]) + 1


def split(pattern, behavior="Isolated"):
    return {"type": "Split", "pattern": {"Regex": pattern}, "behavior": behavior, "invert": False}


def byte_level(add_prefix_space=False, use_regex=False):
    return {"type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": True,
            "use_regex": use_regex}


def template(single, pair, specials):
    def items(spec):
        out = []
        for piece in spec.split():
            if piece in ("$A", "$B"):
                out.append({"Sequence": {"id": piece[1], "type_id": 0 if piece == "$A" else 1}})
            else:
                out.append({"SpecialToken": {"id": piece, "type_id": 0}})
        return out
    return {"type": "TemplateProcessing", "single": items(single), "pair": items(pair),
            "special_tokens": {name: {"id": name, "ids": [i], "tokens": [name]}
                               for name, i in specials.items()}}


def tokenizer(model, added_tokens, normalizer, pre_tokenizer, post_processor, decoder):
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added_tokens,
            "normalizer": normalizer, "pre_tokenizer": pre_tokenizer, "post_processor": post_processor,
            "decoder": decoder, "model": model}


def gpt2():
    model = byte_level_model(400, pair_merges=False)
    tokens = [added(next_id(model), "<|endoftext|>")]
    return tokenizer(model, tokens, None, byte_level(use_regex=True), byte_level(use_regex=True),
                     byte_level(use_regex=True))


def gpt2_prefix_space():
    # ByteLevel's add_prefix_space: every piece without a leading space gets one.
    t = gpt2()
    t["pre_tokenizer"] = byte_level(add_prefix_space=True, use_regex=True)
    return t


def llama3():
    model = byte_level_model(500, pair_merges=True)
    base = next_id(model)
    tokens = [added(base, "<|begin_of_text|>"), added(base + 1, "<|end_of_text|>"),
              added(base + 2, "<|start_header_id|>"), added(base + 3, "<|end_header_id|>"),
              added(base + 4, "<|eot_id|>")]
    post = {"type": "Sequence", "processors": [
        byte_level(), template("<|begin_of_text|> $A", "<|begin_of_text|> $A <|begin_of_text|> $B",
                               {"<|begin_of_text|>": base})]}
    return tokenizer(model, tokens, None,
                     {"type": "Sequence", "pretokenizers": [split(LLAMA3_PATTERN), byte_level()]},
                     post, byte_level())


def llama3_ignore_merges():
    t = llama3()
    model = t["model"]
    model["ignore_merges"] = True
    # Whole words in the vocabulary that the merges do not build: with
    # ignore_merges they come out as one token.
    for word in ["Ġextraordinary", "Ġtokenization", "ĠHello", "Ġworld", "ing"]:
        if word not in model["vocab"]:
            model["vocab"][word] = len(model["vocab"])
    shift = len(model["vocab"]) - min(tok["id"] for tok in t["added_tokens"])
    if shift > 0:
        for tok in t["added_tokens"]:
            tok["id"] += shift
        t["post_processor"]["processors"][1]["special_tokens"]["<|begin_of_text|>"]["ids"] = [
            t["added_tokens"][0]["id"]]
    return t


def qwen2():
    model = byte_level_model(500, pair_merges=True)
    base = next_id(model)
    tokens = [added(base, "<|endoftext|>"), added(base + 1, "<|im_start|>"),
              added(base + 2, "<|im_end|>"),
              # Qwen3's reasoning tags: added tokens that are not special.
              added(base + 3, "<think>", special=False, normalized=False),
              added(base + 4, "</think>", special=False, normalized=False)]
    return tokenizer(model, tokens, {"type": "NFC"},
                     {"type": "Sequence", "pretokenizers": [split(QWEN2_PATTERN), byte_level()]},
                     byte_level(), byte_level())


def deepseek_v3():
    model = byte_level_model(500, pair_merges=True)
    base = next_id(model)
    bos, eos = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
    tokens = [added(base, bos), added(base + 1, eos), added(base + 2, "<｜User｜>", special=False),
              added(base + 3, "<｜Assistant｜>", special=False)]
    tokens[2]["normalized"] = True
    tokens[3]["normalized"] = True
    pre = {"type": "Sequence", "pretokenizers": [split(p) for p in DEEPSEEK_PATTERNS] + [byte_level()]}
    return tokenizer(model, tokens, None, pre,
                     template(f"{bos} $A", f"{bos} $A {bos} $B", {bos: base}), byte_level())


def llama2():
    model = sentencepiece_model(300, byte_fallback=True, skip_chars="😀👍🎉❤✨東京안녕")
    normalizer = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": SENTENCEPIECE_SPACE},
        {"type": "Replace", "pattern": {"String": " "}, "content": SENTENCEPIECE_SPACE}]}
    decoder = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": SENTENCEPIECE_SPACE}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    tokens = [added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")]
    return tokenizer(model, tokens, normalizer, None,
                     template("<s> $A", "<s> $A <s> $B", {"<s>": 1}), decoder)


def mistral_metaspace():
    model = sentencepiece_model(300, byte_fallback=True, skip_chars="😀🎉✨日本")
    pre = {"type": "Metaspace", "replacement": SENTENCEPIECE_SPACE, "prepend_scheme": "first",
           "split": False}
    decoder = {"type": "Sequence", "decoders": [
        {"type": "ByteFallback"},
        {"type": "Metaspace", "replacement": SENTENCEPIECE_SPACE, "prepend_scheme": "first",
         "split": False}]}
    tokens = [added(0, "<unk>"), added(1, "<s>"), added(2, "</s>"),
              added(next_id(model), "[INST]"), added(next_id(model) + 1, "[/INST]")]
    return tokenizer(model, tokens, None, pre,
                     template("<s> $A", "<s> $A <s> $B", {"<s>": 1}), decoder)


def normalizers_unk():
    # No byte fallback: unknown characters become <unk>, runs of them fused.
    model = sentencepiece_model(250, byte_fallback=False, lowercase=True,
                                skip_chars="😀👍🎉❤✨東京안녕세요")
    normalizer = {"type": "Sequence", "normalizers": [
        {"type": "NFKC"}, {"type": "Lowercase"},
        {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
        {"type": "Strip", "strip_left": True, "strip_right": True}]}
    pre = {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "Metaspace", "replacement": SENTENCEPIECE_SPACE, "prepend_scheme": "always",
         "split": False}]}
    decoder = {"type": "Metaspace", "replacement": SENTENCEPIECE_SPACE, "prepend_scheme": "always",
               "split": False}
    tokens = [added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")]
    return tokenizer(model, tokens, normalizer, pre,
                     template("<s> $A </s>", "<s> $A </s> $B </s>", {"<s>": 1, "</s>": 2}), decoder)


def unigram():
    # T5-like, without the Precompiled normalizer r1 refuses.
    model = unigram_model(skip_chars="😀👍🎉❤✨東京안녕")
    normalizer = {"type": "Sequence", "normalizers": [
        {"type": "NFKC"}, {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
    pre = {"type": "Metaspace", "replacement": SENTENCEPIECE_SPACE, "prepend_scheme": "always",
           "split": False}
    decoder = {"type": "Metaspace", "replacement": SENTENCEPIECE_SPACE, "prepend_scheme": "always",
               "split": False}
    tokens = [added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")]
    return tokenizer(model, tokens, normalizer, pre,
                     template("$A </s>", "$A </s> $B </s>", {"</s>": 2}), decoder)


def added_flags():
    model = byte_level_model(300, pair_merges=False)
    base = next_id(model)
    # An added token that is also in the vocabulary keeps its id.
    in_vocab = next(w for w in ["The", "th", "he"] if w in model["vocab"])
    tokens = [
        added(base, "<s>"), added(base + 1, "</s>"),
        added(base + 2, "<|special|>"),
        added(base + 3, "[LSTRIP]", lstrip=True),
        added(base + 4, "[RSTRIP]", special=False, rstrip=True, normalized=False),
        added(base + 5, "[BOTH]", special=False, lstrip=True, rstrip=True, normalized=False),
        added(base + 6, "magic", special=False, single_word=True, normalized=False),
        added(base + 7, "hello world", special=False, normalized=True),  # matched after Lowercase
        added(base + 8, "<a>", special=False, normalized=False),
        added(base + 9, "<a><b>", special=False, normalized=False),  # longest match wins
        added(model["vocab"][in_vocab], in_vocab, special=False, normalized=False),
    ]
    return tokenizer(model, tokens, {"type": "Lowercase"}, byte_level(use_regex=True),
                     template("<s> $A </s>", "<s> $A </s> </s> $B </s>",
                              {"<s>": base, "</s>": base + 1}),
                     byte_level())


FIXTURES = {
    "gpt2": gpt2, "gpt2_prefix_space": gpt2_prefix_space, "llama3": llama3, "llama3_ignore_merges": llama3_ignore_merges,
    "qwen2": qwen2, "deepseek_v3": deepseek_v3, "llama2": llama2,
    "mistral_metaspace": mistral_metaspace, "normalizers_unk": normalizers_unk,
    "added_flags": added_flags, "unigram": unigram,
}


def main():
    for name, build in FIXTURES.items():
        path = os.path.join(HERE, f"{name}.tokenizer.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(build(), f, ensure_ascii=False, indent=1)
            f.write("\n")
        print(f"wrote {os.path.relpath(path)} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
