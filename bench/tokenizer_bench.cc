// tokenizer.json encode speed (results go to BENCHMARKS.md with this command):
//   build/bin/tokenizer_bench [--tokenizer tests/golden/tokenizers/qwen2.tokenizer.json]
//       [--megabytes 10] [--repeats 5] [--node_ref /tmp/tokref]
// Encodes about 10 MB of mixed text (English prose, code, numbers, CJK, emoji
// with ZWJ, other scripts, whitespace runs; generated deterministically here)
// as documents of 0.5-4 KB, one thread, and reports the median MB/s over the
// repeats. With --node_ref (a folder where `npm install @huggingface/tokenizers`
// ran), the JavaScript reference encodes the same documents in the same run
// (bench/tokenizer_bench_reference.mjs) and the ratio is printed, with a check
// that both produced the same ids (count and checksum).
//
// Load time of a released model's size of tokenizer.json:
//   build/bin/tokenizer_bench --load_vocab 151643 [--repeats 5]
// writes a byte-level BPE tokenizer.json of that many pieces (Qwen2.5's count;
// the pieces and merges are random concatenations, the rest of the file is
// --tokenizer's) and reports the median seconds of HfTokenizer::Load beside
// the median of a bare JSON parse of the same file.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "common/hf_tokenizer.h"
#include "common/status.h"

namespace r1 {
namespace {

// GPT-2's byte-level alphabet: byte b as the character ByteLevel writes it.
std::string ByteLevelChar(int b) {
  const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  static int shifted[256] = {};
  static bool built = false;
  if (!built) {
    int next = 256;
    for (int i = 0; i < 256; ++i) {
      if (!((i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174 && i <= 255))) shifted[i] = next++;
    }
    built = true;
  }
  const int code = printable ? b : shifted[b];
  std::string out;
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
  return out;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// SplitMix64: the same documents on every machine.
struct Rng {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }
};

std::vector<std::string> MixedDocuments(size_t total_bytes) {
  static const char* const kEnglish[] = {
      "the", "model", "learns", "to", "reason", "about", "problems", "and", "writes", "its",
      "answer", "in", "a", "box", "Therefore,", "we", "have", "that", "It's", "they're",
      "don't", "tokenization", "extraordinary", "Hello", "world.", "Let", "x", "be", "=", "+"};
  static const char* const kCode[] = {
      "def solve(n):\n    return sum(i * i for i in range(n))\n",
      "for (int i = 0; i < n; ++i) {\n\tacc += a[i] * b[i];\n}\n",
      "if __name__ == \"__main__\":\n    print(solve(int(input())))\n",
      "SELECT id, count(*) FROM t GROUP BY id;\n"};
  static const char* const kOther[] = {
      "东京是日本的首都。", "我们今天学习中文分词，", "今日は良い天気ですね。", "카타카나 안녕하세요 ",
      "Привет, мир! ", "Καλημέρα κόσμε. ", "مرحبا بالعالم ", "שלום עולם ", "नमस्ते दुनिया ",
      "Café naïve résumé ", "👩‍💻 ", "👨‍👩‍👧 ", "🎉🎉 ", "❤️ "};
  Rng rng{15};
  std::vector<std::string> documents;
  size_t bytes = 0;
  while (bytes < total_bytes) {
    std::string doc;
    const size_t target = 500 + rng.Below(3500);
    while (doc.size() < target) {
      const size_t kind = rng.Below(100);
      if (kind < 70) {
        doc += kEnglish[rng.Below(std::size(kEnglish))];
        doc += rng.Below(12) == 0 ? "\n" : " ";
      } else if (kind < 78) {
        doc += kCode[rng.Below(std::size(kCode))];
      } else if (kind < 90) {
        doc += kOther[rng.Below(std::size(kOther))];
      } else if (kind < 97) {
        doc += std::to_string(rng.Next() % 100000000) + " ";
      } else {
        doc += std::string(1 + rng.Below(8), rng.Below(2) ? ' ' : '\n');
      }
    }
    bytes += doc.size();
    documents.push_back(std::move(doc));
  }
  return documents;
}

// --tokenizer's file with a random byte-level BPE of `pieces` pieces: 256
// bytes, then one piece per merge of two earlier pieces (at most 16 bytes),
// and the file's added tokens moved past them.
absl::StatusOr<std::string> SyntheticTokenizerJson(const std::string& template_path, int64_t pieces) {
  R1_ASSIGN_OR_RETURN(std::string text, ReadFile(template_path));
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.contains("model")) return absl::InvalidArgumentError(template_path + ": not a tokenizer.json");
  std::vector<std::string> vocab;
  std::set<std::string> seen;
  for (int b = 0; b < 256; ++b) {
    vocab.push_back(ByteLevelChar(b));
    seen.insert(vocab.back());
  }
  nlohmann::ordered_json merges = nlohmann::ordered_json::array();
  Rng rng{7};
  while (static_cast<int64_t>(vocab.size()) < pieces) {
    // Recent pieces are merged more often, as BPE's later merges build on earlier ones.
    const std::string& a = vocab[rng.Below(2) ? rng.Below(vocab.size()) : vocab.size() - 1 - rng.Below(std::min<size_t>(vocab.size(), 512))];
    const std::string& b = vocab[rng.Below(vocab.size())];
    std::string joined = a + b;
    if (joined.size() > 16 || !seen.insert(joined).second) continue;
    merges.push_back(nlohmann::ordered_json::array({a, b}));
    vocab.push_back(std::move(joined));
  }
  // A std::map-backed object: ordered_json's linear lookups would make this quadratic.
  nlohmann::json ids = nlohmann::json::object();
  for (size_t i = 0; i < vocab.size(); ++i) ids[vocab[i]] = i;
  json["model"]["vocab"] = std::move(ids);
  json["model"]["merges"] = std::move(merges);
  int64_t next = pieces;
  for (auto& added : json["added_tokens"]) added["id"] = next++;
  json["post_processor"] = nullptr;  // its ids were the template's
  return json.dump();
}

int LoadBench(const std::string& template_path, int64_t pieces, int64_t repeats) {
  absl::StatusOr<std::string> text = SyntheticTokenizerJson(template_path, pieces);
  if (!text.ok()) {
    std::fprintf(stderr, "tokenizer_bench: %s\n", std::string(text.status().message()).c_str());
    return 1;
  }
  const std::string path = absl::StrCat("/tmp/r1_tokenizer_bench_", getpid(), ".tokenizer.json");
  if (absl::Status s = WriteFileAtomically(path, *text); !s.ok()) {
    std::fprintf(stderr, "tokenizer_bench: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::vector<double> load_seconds, parse_seconds;
  int vocab_size = 0;
  for (int r = 0; r < repeats; ++r) {
    auto start = std::chrono::steady_clock::now();
    auto tokenizer = HfTokenizer::Load(path);
    load_seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (!tokenizer.ok()) {
      std::fprintf(stderr, "tokenizer_bench: %s\n", std::string(tokenizer.status().message()).c_str());
      unlink(path.c_str());
      return 1;
    }
    vocab_size = tokenizer->vocab_size();
    start = std::chrono::steady_clock::now();
    const nlohmann::json parsed = nlohmann::json::parse(*ReadFile(path));
    parse_seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  unlink(path.c_str());
  std::printf("tokenizer.json of %d pieces (%lld merges), %.1f MB\n", vocab_size,
              static_cast<long long>(pieces - 256), static_cast<double>(text->size()) / 1e6);
  std::printf("HfTokenizer::Load:    %.3f s median of %lld\n", Median(load_seconds), static_cast<long long>(repeats));
  std::printf("bare JSON parse:      %.3f s median of %lld (load / parse %.2fx)\n", Median(parse_seconds),
              static_cast<long long>(repeats), Median(load_seconds) / Median(parse_seconds));
  return 0;
}

int Main(int argc, char** argv) {
  std::string tokenizer_path = "tests/golden/tokenizers/qwen2.tokenizer.json";
  std::string node_ref;
  std::string script = "bench/tokenizer_bench_reference.mjs";
  int64_t megabytes = 10, repeats = 5, load_vocab = 0;
  FlagSet flags("tokenizer_bench", "tokenizer.json encode MB/s; see bench/tokenizer_bench.cc.");
  flags.AddString("tokenizer", &tokenizer_path, "a byte-level tokenizer.json");
  flags.AddInt("megabytes", &megabytes, "how much text to encode per repeat");
  flags.AddInt("repeats", &repeats, "timed passes (the median is reported)");
  flags.AddString("node_ref", &node_ref,
                  "folder with node_modules/@huggingface/tokenizers: also time the reference");
  flags.AddString("script", &script, "the reference's side of the benchmark");
  flags.AddInt("load_vocab", &load_vocab, "instead: time loading a tokenizer.json of this many pieces");
  if (std::optional<int> exit_code = ParseCommandLine(flags, {argv + 1, argv + argc})) return *exit_code;
  if (load_vocab > 0) return LoadBench(tokenizer_path, std::max<int64_t>(load_vocab, 256), repeats);
  auto tokenizer = HfTokenizer::Load(tokenizer_path);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "tokenizer_bench: %s\n", std::string(tokenizer.status().message()).c_str());
    return 1;
  }
  const std::vector<std::string> documents =
      MixedDocuments(static_cast<size_t>(megabytes) * 1000 * 1000);
  size_t bytes = 0;
  for (const std::string& doc : documents) bytes += doc.size();

  std::vector<double> mb_per_s;
  int64_t tokens = 0;
  int64_t checksum = 0;
  for (int r = 0; r < repeats; ++r) {
    tokens = 0;
    checksum = 0;
    // Only Encode is timed, not the checksum.
    double seconds = 0;
    for (const std::string& doc : documents) {
      const auto start = std::chrono::steady_clock::now();
      const std::vector<int> ids = tokenizer->Encode(doc);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      tokens += static_cast<int64_t>(ids.size());
      for (int id : ids) checksum = (checksum * 31 + id) % 1000000007;
    }
    mb_per_s.push_back(static_cast<double>(bytes) / 1e6 / seconds);
  }
  const double ours = Median(mb_per_s);
  std::printf("text: %zu documents, %.2f MB; tokenizer %s\n", documents.size(),
              static_cast<double>(bytes) / 1e6, tokenizer_path.c_str());
  std::printf("r1 HfTokenizer:      %8.2f MB/s median of %lld (%lld tokens, %.2f bytes/token)\n",
              ours, static_cast<long long>(repeats), static_cast<long long>(tokens),
              static_cast<double>(bytes) / static_cast<double>(tokens));
  if (node_ref.empty()) return 0;

  const std::string docs_path = absl::StrCat("/tmp/r1_tokenizer_bench_", getpid(), ".json");
  if (absl::Status s = WriteFileAtomically(docs_path, nlohmann::json(documents).dump()); !s.ok()) {
    std::fprintf(stderr, "tokenizer_bench: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  const std::string command = absl::StrCat("node '", script, "' '", node_ref, "' '",
                                           tokenizer_path, "' '", docs_path, "' ", repeats);
  std::string output;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[4096];
    while (size_t n = std::fread(buffer, 1, sizeof(buffer), pipe)) output.append(buffer, n);
    pclose(pipe);
  }
  unlink(docs_path.c_str());
  const nlohmann::json reference = nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
  if (reference.is_discarded() || !reference.contains("mb_per_s")) {
    std::fprintf(stderr, "tokenizer_bench: the reference printed no result: %s\n", output.c_str());
    return 1;
  }
  const double theirs = Median(reference["mb_per_s"].get<std::vector<double>>());
  const bool same_ids = reference["tokens"].get<int64_t>() == tokens &&
                        reference["checksum"].get<int64_t>() == checksum;
  std::printf("@huggingface/tokenizers (node %s): %8.2f MB/s median of %lld\n",
              reference.value("node", "?").c_str(), theirs, static_cast<long long>(repeats));
  std::printf("ratio r1 / reference: %.2fx; same ids: %s\n", ours / theirs,
              same_ids ? "yes" : "NO");
  return same_ids ? 0 : 1;
}

}  // namespace
}  // namespace r1

int main(int argc, char** argv) { return r1::Main(argc, argv); }
