// Writes the expected ids and decodes for every fixture tokenizer.json in
// this folder, computed by the reference: the npm package
// @huggingface/tokenizers (the tokenizers library's own JavaScript port).
//
//   mkdir -p /tmp/tokref && (cd /tmp/tokref && npm install @huggingface/tokenizers@0.2.0)
//   node tests/golden/tokenizers/generate.mjs /tmp/tokref
//
// Output: <fixture>.golden.json beside each <fixture>.tokenizer.json, holding
// per text: ids (add_special_tokens false), ids_special (true), and the
// decodes of ids_special with skip_special_tokens false and true
// (clean_up_tokenization_spaces off: tokenizers' decode does no clean-up).
//
// Where the JavaScript port is known to differ from the Rust library (listed
// in DIVERGENT below, each with its reason), the case lists the affected
// fields under "divergent" (their values stay, as the port computed them) and
// common/hf_tokenizer_test.cc checks the Rust behaviour by hand instead.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const refDir = process.argv[2] ?? "/tmp/tokref";
const packageDir = path.join(refDir, "node_modules/@huggingface/tokenizers");
const { Tokenizer } = await import(pathToFileURL(path.join(packageDir, "dist/tokenizers.mjs")));
const version = JSON.parse(fs.readFileSync(path.join(packageDir, "package.json"), "utf8")).version;

// Hard text every fixture sees.
const COMMON = [
  "",
  "Hello world",
  " Hello  world  ",
  "   ",
  "\t\tTabs\tand  spaces\n\nnew lines\r\nCRLF\r\n",
  "\n\n\n",
  "It's they're we've I'M YOU'LL HE'D don't",
  "1 12 123 1234 12345 123456789 3.14159 -42 1,000,000",
  "东京是日本的首都。我们学习中文！",
  "今日は良い天気ですね。カタカナ",
  "안녕하세요 세계",
  "👩‍💻 👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵🇺🇸 ❤️‍🔥 👍🏽",
  "😀😀😀 🎉",
  "e\u0301 n\u0303 a\u0308 A\u030A \u00C5 \uFB01 \u2460 \uFF76 \uFF12",
  "مرحبا بالعالم שלום עולם",
  "Mixed: English русский ελληνικά 中文 العربية हिन्दी 123",
  "def f(x):\n    return x**2  # square\n\tif x > 0: pass",
  "for (int i=0;i<n;++i){sum+=a[i];}",
  "supercalifragilisticexpialidocious".repeat(3),
  "a".repeat(300),
  " ".repeat(50) + "x",
  "Ünïcödé façade naïve café Ångström",
  "Hello\u00A0world\u2003em\u3000ideographic",
  "Zero\u200Bwidth\u200Cnon\u200Djoiner",
  "ΣΑΣ ΟΔΥΣΣΕΥΣ",
  "\u0000\u0001\u001F control\u007F",
  "trailing space ",
  "The quick brown fox jumps over the lazy dog.",
  "Numerals \u216B \u00B2 \u00BE \u0663\u0664\u0665 \u0969\u096A",
  "next\u0085line and\uFEFFbom",
];

// Text with each fixture's added tokens in tricky places.
const EXTRA = {
  gpt2: ["Hello<|endoftext|>world", "<|endoftext|><|endoftext|>", " <|endoftext|> ",
         "<|endoftext", "text<|endoftext|>\n"],
  gpt2_prefix_space: ["Hello<|endoftext|>world", "<|endoftext|> x", " leading", "x"],
  llama3: ["<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>",
           "x<|eot_id|><|eot_id|>y"],
  llama3_ignore_merges: ["Hello world extraordinary tokenization", "helloing world"],
  qwen2: ["<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\nhmm\n</think>\n\nAnswer<|im_end|>",
          "<think></think>", "a<think>b"],
  deepseek_v3: ["<｜begin▁of▁sentence｜>You are helpful.<｜User｜>1+1?<｜Assistant｜><think>\n2\n</think>",
                "日本語とEnglishの混在テキスト12345"],
  llama2: ["<s>[INST] Hi [/INST]", "</s><s>", " <s> x", "<unk>"],
  mistral_metaspace: ["[INST] Hello [/INST] Hi</s>", "<s>[INST]x[/INST]", "a [INST]b"],
  unigram: ["Hello</s>world", "<s> The dog", "the the the"],
  normalizers_unk: ["HELLO   World  ", "  \uFB01ne \u2460 \u216B ", "<s>ABC</s>"],
  added_flags: [
    "a [LSTRIP] b", "a   [LSTRIP]b", "[LSTRIP]", "x\t[LSTRIP]",
    "x [RSTRIP]   y", "[RSTRIP]\n\nz", "p  [BOTH]  q", "[BOTH][BOTH]",
    "a magic word", "magic", "magic!", "(magic)",
    "Say Hello World twice: hello world", "HELLO WORLD",
    "<a><b> <a> <a><b", "The end. the The",
    "<s>text</s>", "<|special|> [LSTRIP]<|special|>[RSTRIP] x",
  ],
};

// Fields where the JavaScript port is known to differ from the Rust library:
// fixture -> text -> the fields the C++ test does not compare.
const METASPACE_FIRST_TOKEN = ["decode_skip_special"];  // see below
const BOM_IN_BYTE_RUN = ["decode", "decode_skip_special"];
const DIVERGENT = {
  // Rust's Metaspace decoder drops every replacement character of the first
  // token (it stands for the prepended space); the port strips one space.
  mistral_metaspace: {
    "   ": METASPACE_FIRST_TOKEN,
    [" ".repeat(50) + "x"]: METASPACE_FIRST_TOKEN,
    // Rust's ByteFallback decodes a byte run with String::from_utf8, keeping
    // a U+FEFF; the port's TextDecoder drops a leading BOM.
    "next\u0085line and\uFEFFbom": BOM_IN_BYTE_RUN,
  },
  llama2: { "next\u0085line and\uFEFFbom": BOM_IN_BYTE_RUN },
  // Rust's Digits splits at char::is_numeric (Nd, Nl, No: Arabic-Indic and
  // Devanagari digits too); the port's pattern is ASCII \d.
  normalizers_unk: {
    "Numerals \u216B \u00B2 \u00BE \u0663\u0664\u0665 \u0969\u096A": ["ids", "ids_special"],
  },
};

const files = fs.readdirSync(HERE).filter((f) => f.endsWith(".tokenizer.json")).sort();
for (const file of files) {
  const name = file.slice(0, -".tokenizer.json".length);
  const json = JSON.parse(fs.readFileSync(path.join(HERE, file), "utf8"));
  const tokenizer = new Tokenizer(json, { clean_up_tokenization_spaces: false });
  const divergent = DIVERGENT[name] ?? {};
  const cases = [];
  for (const text of [...COMMON, ...(EXTRA[name] ?? [])]) {
    const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
    const idsSpecial = tokenizer.encode(text, { add_special_tokens: true }).ids;
    const decode = (skipSpecial) =>
      idsSpecial.length === 0 ? "" :
      tokenizer.decode(idsSpecial, { skip_special_tokens: skipSpecial,
                                     clean_up_tokenization_spaces: false });
    const c = { text, ids, ids_special: idsSpecial, decode: decode(false),
                decode_skip_special: decode(true) };
    if (divergent[text]) c.divergent = divergent[text];
    cases.push(c);
  }
  const out = { fixture: name, reference: `@huggingface/tokenizers ${version}`, cases };
  fs.writeFileSync(path.join(HERE, `${name}.golden.json`), JSON.stringify(out, null, 1) + "\n");
  console.log(`${name}: ${cases.length} cases`);
}
