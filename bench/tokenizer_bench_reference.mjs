// The JavaScript reference's side of bench/tokenizer_bench.cc: encodes the
// same documents with @huggingface/tokenizers and prints one JSON line.
//   node bench/tokenizer_bench_reference.mjs REF_DIR TOKENIZER_JSON DOCS_JSON REPEATS
// REF_DIR holds node_modules/@huggingface/tokenizers (installed outside the
// repository, e.g. /tmp/tokref).
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [refDir, tokenizerPath, docsPath, repeatsText] = process.argv.slice(2);
const { Tokenizer } = await import(pathToFileURL(
    path.join(refDir, "node_modules/@huggingface/tokenizers/dist/tokenizers.mjs")));
const tokenizer = new Tokenizer(JSON.parse(fs.readFileSync(tokenizerPath, "utf8")), {});
const docs = JSON.parse(fs.readFileSync(docsPath, "utf8"));
const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d, "utf8"), 0);
const mbPerS = [];
let tokens = 0;
let checksum = 0;
for (let r = 0; r < Number(repeatsText); ++r) {
  tokens = 0;
  checksum = 0;
  // Only encode is timed, not the checksum.
  let nanoseconds = 0n;
  for (const doc of docs) {
    const start = process.hrtime.bigint();
    const ids = tokenizer.encode(doc, { add_special_tokens: false }).ids;
    nanoseconds += process.hrtime.bigint() - start;
    tokens += ids.length;
    for (const id of ids) checksum = (checksum * 31 + id) % 1000000007;
  }
  const seconds = Number(nanoseconds) / 1e9;
  mbPerS.push(bytes / 1e6 / seconds);
}
console.log(JSON.stringify({ mb_per_s: mbPerS, tokens, checksum, node: process.version }));
