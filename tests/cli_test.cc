// Drives the `r1` binary as a user would: exit codes, one-line errors, help
// text, and the data and tokenizer commands end to end.
#include <sys/wait.h>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "common/jsonl.h"
#include "common/test_support.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "proto/records.pb.h"

namespace r1 {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

struct Result {
  int exit_code;
  std::string out;
  std::string err;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("R1_BIN_DIR");
    r1_ = absl::StrCat(bin != nullptr ? bin : "build/bin", "/r1");
    ASSERT_TRUE(std::filesystem::exists(r1_)) << r1_;
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("r1_cli_test_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // Runs `r1 <args>` through the shell (args are shell words), stdin from
  // `input` when given.
  Result Run(const std::string& args, const std::string& input = "") {
    const std::string out = Path("stdout"), err = Path("stderr"), in = Path("stdin");
    EXPECT_TRUE(WriteFileAtomically(in, input).ok());
    const std::string command = absl::StrCat(r1_, " ", args, " <", in, " >", out, " 2>", err);
    const int status = std::system(command.c_str());
    Result result{WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), "", ""};
    result.out = ReadFile(out).value_or("");
    result.err = ReadFile(err).value_or("");
    return result;
  }

  // `r1 eval` checks of PretrainGenerateAndResume, on its checkpoint.
  void EvalJudgesWithTheRewardRules(const std::string& checkpoint, const std::string& small);

  std::string r1_;
  std::filesystem::path dir_;
};

// `text` as a JSON string literal (protobuf's JSON printer does the escaping).
std::string JsonString(const std::string& text) {
  data::ChatMessage message;
  message.set_content(text);
  const std::string line = ToJsonLine(message);  // {"content":"..."}
  const size_t start = line.find(':') + 1;
  return line.substr(start, line.rfind('}') - start);
}

// r1 eval judges with the reward rules, and its avg@k and pass@k are what
// the reward service's own scorer (`r1-reward score`, another process) says
// of every sample it drew. Every gold answer is 1 and the math rule takes any
// "1" in the text as the answer, so a sample is correct when it holds a 1:
// an untrained model gets some right and some wrong.
void CliTest::EvalJudgesWithTheRewardRules(const std::string& checkpoint, const std::string& small) {
  const std::string rule = "{rule: \"math\" math {answer_pattern: \"(1)\"}}";
  std::string prompts;
  for (int i = 0; i < 3; ++i) {
    absl::StrAppend(&prompts, "{\"id\":\"q", i, "\",\"prompt\":\"What is ", i, " + 1?\",\"answer\":\"1\",",
                    "\"task\":\"arithmetic\"}\n");
  }
  ASSERT_TRUE(WriteFileAtomically(Path("ones.jsonl"), prompts).ok());
  const std::string samples = Path("all.samples.jsonl"), json = Path("judged.json");
  Result judged = Run("eval configs/tiny.textproto --ckpt " + checkpoint + small + " --set 'reward.rules=[" + rule +
                      "]' --prompts " + Path("ones.jsonl") + " --set eval.sampling.max_new_tokens=24 --samples 4" +
                      " --nogreedy --seed 5 --out " + json + " --samples_out " + samples + " --all_samples");
  ASSERT_EQ(judged.exit_code, 0) << judged.err;
  EXPECT_THAT(judged.out, HasSubstr("judged by  configs/tiny.textproto's reward.rules"));
  absl::StatusOr<std::vector<data::SampleRecord>> drawn = ReadJsonl<data::SampleRecord>(samples);
  ASSERT_TRUE(drawn.ok()) << drawn.status();
  ASSERT_EQ(drawn->size(), 3u * 4u);

  std::string items;
  for (const data::SampleRecord& s : *drawn) {
    absl::StrAppend(&items, "{\"id\": ", JsonString(s.id()), ", \"prompt\": ", JsonString(s.prompt()),
                    ", \"completion\": ", JsonString(s.completion()), ", \"reference\": ", JsonString(s.answer()),
                    ", \"task\": ", JsonString(s.task()), "}\n");
  }
  ASSERT_TRUE(WriteFileAtomically(Path("items.jsonl"), items).ok());
  const std::string reward_bin = r1_.substr(0, r1_.rfind('/')) + "/r1-reward";
  const std::string config = Path("rules.textproto");
  ASSERT_TRUE(WriteFileAtomically(config, "reward { rules " + rule + " }\n").ok());
  const std::string command = absl::StrCat(reward_bin, " score ", config, " --file ", Path("items.jsonl"), " --out ",
                                           Path("results.jsonl"), " >/dev/null 2>", Path("score.err"));
  ASSERT_EQ(std::system(command.c_str()), 0) << ReadFile(Path("score.err")).value_or("");
  const std::vector<std::string> results = absl::StrSplit(*ReadFile(Path("results.jsonl")), '\n', absl::SkipEmpty());
  ASSERT_EQ(results.size(), drawn->size());

  // avg@k and pass@k from those verdicts, by prompt (every sample is scored here).
  std::map<std::string, std::pair<int, int>> by_prompt;  // id -> (correct, samples)
  int correct = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_THAT(results[i], Not(HasSubstr("\"error\"")));
    const bool right = results[i].find("\"correct\":true") != std::string::npos;
    correct += right ? 1 : 0;
    by_prompt[(*drawn)[i].id()].first += right ? 1 : 0;
    ++by_prompt[(*drawn)[i].id()].second;
    // The sample's own record says the same.
    EXPECT_EQ((*drawn)[i].reason() == "correct", right) << (*drawn)[i].completion();
  }
  double avg = 0, pass = 0;
  for (const auto& [id, counts] : by_prompt) {
    avg += static_cast<double>(counts.first) / counts.second;
    pass += counts.first > 0 ? 1 : 0;
  }
  avg /= static_cast<double>(by_prompt.size());
  pass /= static_cast<double>(by_prompt.size());
  const std::string written = *ReadFile(json);
  EXPECT_THAT(written, HasSubstr(absl::StrFormat("\"avg_at_k\": %.4f, \"pass_at_k\": %.4f", avg, pass)));
  EXPECT_THAT(written, HasSubstr("\"unscored\": 0"));
  // Not a 0 = 0 or 1 = 1 comparison.
  EXPECT_GT(correct, 0);
  EXPECT_LT(correct, static_cast<int>(results.size()));

  // A task the config's rules have no correctness rule for is refused by name.
  ASSERT_TRUE(WriteFileAtomically(Path("code.jsonl"), "{\"id\":\"c1\",\"prompt\":\"Echo.\",\"task\":\"code\","
                                                       "\"tests\":[{\"input\":\"1\",\"output\":\"1\"}]}\n").ok());
  Result code = Run("eval configs/tiny.textproto --ckpt " + checkpoint + small + " --prompts " + Path("code.jsonl"));
  EXPECT_EQ(code.exit_code, 1);
  EXPECT_THAT(code.err, HasSubstr("task \"code\" has no correctness rule in configs/tiny.textproto's reward.rules"));
}

int Lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

TEST_F(CliTest, NoArgumentsPrintsUsageAndFails) {
  Result r = Run("");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("usage: r1 <command>"));
}

TEST_F(CliTest, HelpListsEveryCommandAndEachCommandHasHelp) {
  Result r = Run("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* command : {"data gen", "data check", "data import", "tokenizer train", "tokenizer encode",
                              "tokenizer decode", "tokenizer chat", "config check", "config show", "pretrain", "generate", "sft",
                              "reject-sample", "distill", "export", "pipeline", "logits", "model info"}) {
    EXPECT_THAT(r.out, HasSubstr(command));
    Result help = Run(absl::StrCat(command, " --help"));
    EXPECT_EQ(help.exit_code, 0) << command;
    EXPECT_THAT(help.out, StartsWith(absl::StrCat("usage: r1 ", command))) << command;
    EXPECT_THAT(help.out, HasSubstr("--help"));
  }
  Result group = Run("tokenizer --help");
  EXPECT_EQ(group.exit_code, 0);
  EXPECT_THAT(group.out, HasSubstr("tokenizer train"));
  EXPECT_THAT(group.out, Not(HasSubstr("data gen")));
}

TEST_F(CliTest, UsageMistakesGiveOneLineAndExitTwo) {
  for (const std::string& args : {std::string("frobnicate"), std::string("data frob"),
                                  std::string("data gen --task countdown --out x --bogus 1"),
                                  std::string("data gen --out x"),
                                  std::string("data gen --task countdown --n many --out x"),
                                  std::string("data gen --task sudoku --out x"),
                                  std::string("data gen --task countdown --format yaml --out x"),
                                  std::string("data gen --task countdown --difficulty 9 --out x"),
                                  std::string("data import --format yaml --in x --out y"),
                                  std::string("data import --format gsm8k --in x --out y --tests_field t"),
                                  std::string("config check"),
                                  std::string("tokenizer encode --text hi"),
                                  std::string("generate --prompt hi"),
                                  std::string("pretrain --set seed=1"),
                                  std::string("sft --stage warm configs/tiny.textproto"),
                                  std::string("pipeline"),
                                  std::string("export --ckpt x"),
                                  std::string("export --ckpt x --out y --gguf_types f8"),
                                  std::string("logits --ckpt x --ids 1 --out y.txt"),
                                  std::string("logits --ckpt x --ids '1 x' --out y.npy"),
                                  std::string("logits --ckpt x --ids 1 --out y.npy --dtype float16"),
                                  std::string("model info"),
                                  std::string("model info a b")}) {
    Result r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.err;
    EXPECT_EQ(Lines(r.err), 1) << args << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << args;
  }
}

TEST_F(CliTest, MissingFilesGiveOneLineAndExitOne) {
  for (const std::string& args : {std::string("config check nope.textproto"),
                                  std::string("data check nope.jsonl"),
                                  std::string("data import --format gsm8k --in nope.jsonl --out x.jsonl"),
                                  std::string("tokenizer encode --model nope.model --text hi"),
                                  std::string("tokenizer train --input nope.txt --out t.model --vocab_size 50"),
                                  std::string("pipeline nope.textproto"),
                                  std::string("export --ckpt nope.ckpt --out out_dir"),
                                  std::string("logits --ckpt nope.ckpt --ids 1 --out o.npy"),
                                  std::string("model info nope.ckpt")}) {
    Result r = Run(args);
    EXPECT_EQ(r.exit_code, 1) << args;
    EXPECT_EQ(Lines(r.err), 1) << args << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("nope.")) << args;
  }
}

TEST_F(CliTest, DataGenIsDeterministicAndSeedMatters) {
  const std::string gen = "data gen --task countdown --n 50 --difficulty 3 ";
  ASSERT_EQ(Run(gen + "--seed 5 --out " + Path("a.jsonl")).exit_code, 0);
  ASSERT_EQ(Run(gen + "--seed 5 --out " + Path("b.jsonl")).exit_code, 0);
  ASSERT_EQ(Run(gen + "--seed 6 --out " + Path("c.jsonl")).exit_code, 0);
  const std::string a = *ReadFile(Path("a.jsonl"));
  EXPECT_EQ(Lines(a), 50);
  EXPECT_EQ(a, *ReadFile(Path("b.jsonl")));
  EXPECT_NE(a, *ReadFile(Path("c.jsonl")));
  EXPECT_THAT(a, HasSubstr("\"numbers\":["));
}

TEST_F(CliTest, DataGenStartSplitsOneStreamIntoDisjointSlices) {
  const std::string gen = "data gen --task arithmetic --seed 2 ";
  ASSERT_EQ(Run(gen + "--n 10 --out " + Path("all.jsonl")).exit_code, 0);
  ASSERT_EQ(Run(gen + "--n 4 --out " + Path("head.jsonl")).exit_code, 0);
  ASSERT_EQ(Run(gen + "--n 6 --start 4 --out " + Path("tail.jsonl")).exit_code, 0);
  EXPECT_EQ(*ReadFile(Path("all.jsonl")), *ReadFile(Path("head.jsonl")) + *ReadFile(Path("tail.jsonl")));
}

TEST_F(CliTest, GeneratedDatasetsPassDataCheck) {
  ASSERT_EQ(Run("data gen --task arithmetic,countdown,linear_equation --n 30 --out " + Path("p.jsonl")).exit_code, 0);
  ASSERT_EQ(Run("data gen --task countdown --n 30 --format sft --error_rate 0.3 --out " + Path("s.jsonl")).exit_code, 0);
  Result p = Run("data check " + Path("p.jsonl"));
  EXPECT_EQ(p.exit_code, 0) << p.err;
  EXPECT_THAT(p.out, HasSubstr("p.jsonl: 30 records"));
  Result s = Run("data check --kind sft " + Path("s.jsonl"));
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_THAT(s.out, HasSubstr("30 records"));
  // A prompts file is not an SFT file: the kind is checked.
  EXPECT_EQ(Run("data check --kind sft " + Path("p.jsonl")).exit_code, 1);
}

TEST_F(CliTest, DataCheckNamesTheBadLineOrCountsSkippedOnes) {
  ASSERT_TRUE(WriteFileAtomically(Path("d.jsonl"),
                                  "{\"prompt\": \"a\"}\n{\"prompt\": \"b\"}\n{oops\n{\"prompt\": \"c\"}\n").ok());
  Result strict = Run("data check " + Path("d.jsonl"));
  EXPECT_EQ(strict.exit_code, 1);
  EXPECT_THAT(strict.err, HasSubstr(Path("d.jsonl") + ":3:"));
  Result lenient = Run("data check --skip_bad_lines " + Path("d.jsonl"));
  EXPECT_EQ(lenient.exit_code, 0);
  EXPECT_THAT(lenient.out, HasSubstr("3 records, 1 bad lines skipped"));
}

// `r1 data import` on small files of each format: records that `r1 data
// check` (the readers RL, eval, reject-sample and SFT use) accepts, and a bad
// line that fails the import without writing anything.
TEST_F(CliTest, DataImportWritesCheckedRecordsAndNothingOnABadLine) {
  ASSERT_TRUE(WriteFileAtomically(Path("gsm8k.jsonl"),
                                  "{\"question\": \"Tom has 1,000 apples and buys 234. How many?\", "
                                  "\"answer\": \"1000 + 234 = 1234\\n#### 1,234\", \"id\": 7}\n"
                                  "{\"question\": \"2 + 3?\", \"answer\": \"#### 5\"}\n").ok());
  Result r = Run("data import --format gsm8k --in " + Path("gsm8k.jsonl") + " --out " + Path("p.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("imported " + Path("gsm8k.jsonl") + ": 2 lines read, 2 prompts written to " +
                               Path("p.jsonl") + ", 0 bad lines skipped"));
  absl::StatusOr<std::vector<data::PromptRecord>> prompts = ReadJsonl<data::PromptRecord>(Path("p.jsonl"));
  ASSERT_TRUE(prompts.ok()) << prompts.status();
  ASSERT_EQ(prompts->size(), 2u);
  EXPECT_EQ((*prompts)[0].id(), "7");
  EXPECT_EQ((*prompts)[0].answer(), "1234");
  EXPECT_EQ((*prompts)[0].task(), "math");
  EXPECT_EQ((*prompts)[1].prompt(), "2 + 3?");

  ASSERT_TRUE(WriteFileAtomically(Path("math.jsonl"),
                                  "{\"problem\": \"Half of 1?\", \"solution\": \"$\\\\boxed{\\\\frac{1}{2}}$\"}\n").ok());
  ASSERT_EQ(Run("data import --format math --in " + Path("math.jsonl") + " --out " + Path("m.jsonl")).exit_code, 0);
  EXPECT_EQ(ReadJsonl<data::PromptRecord>(Path("m.jsonl"))->at(0).answer(), "\\frac{1}{2}");

  ASSERT_TRUE(WriteFileAtomically(Path("code.jsonl"),
                                  "{\"problem_id\": 1, \"question\": \"Add.\", \"input_output\": "
                                  "\"{\\\"fn_name\\\": \\\"add\\\", \\\"inputs\\\": [[1, 2]], \\\"outputs\\\": [[3]]}\"}\n"
                                  "{\"question\": \"Echo.\", \"tests\": [{\"input\": \"x\\n\", \"output\": \"x\\n\"}]}\n").ok());
  Result code = Run("data import --format code --call_outputs_wrapped --in " + Path("code.jsonl") + " --out " + Path("c.jsonl"));
  ASSERT_EQ(code.exit_code, 0) << code.err;
  absl::StatusOr<std::vector<data::PromptRecord>> problems = ReadJsonl<data::PromptRecord>(Path("c.jsonl"));
  ASSERT_TRUE(problems.ok()) << problems.status();
  ASSERT_EQ(problems->size(), 2u);
  EXPECT_EQ((*problems)[0].task(), "code");
  EXPECT_EQ((*problems)[0].entry_point(), "add");
  EXPECT_EQ((*problems)[0].tests(0).input(), "[1,2]");
  EXPECT_EQ((*problems)[0].tests(0).output(), "3");
  EXPECT_EQ((*problems)[1].tests(0).input(), "x\n");

  ASSERT_TRUE(WriteFileAtomically(Path("chat.jsonl"),
                                  "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, "
                                  "{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"}]}\n").ok());
  Result chat = Run("data import --format messages --in " + Path("chat.jsonl") + " --out " + Path("s.jsonl"));
  ASSERT_EQ(chat.exit_code, 0) << chat.err;
  EXPECT_THAT(chat.err, HasSubstr("1 SFT examples written"));

  for (const std::string& check : {"data check " + Path("p.jsonl") + " " + Path("m.jsonl") + " " + Path("c.jsonl"),
                                   "data check --kind sft " + Path("s.jsonl")}) {
    Result checked = Run(check);
    EXPECT_EQ(checked.exit_code, 0) << check << ": " << checked.err;
  }

  // A bad line: file:line naming the field, exit 1, no output (and an
  // earlier output left as it was).
  ASSERT_TRUE(WriteFileAtomically(Path("bad.jsonl"),
                                  "{\"question\": \"a\", \"answer\": \"#### 1\"}\n"
                                  "{\"question\": \"b\", \"answer\": \"no marker\"}\n").ok());
  Result bad = Run("data import --format gsm8k --in " + Path("bad.jsonl") + " --out " + Path("bad_out.jsonl"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr(Path("bad.jsonl") + ":2: \"answer\": has no \"####\""));
  EXPECT_FALSE(std::filesystem::exists(Path("bad_out.jsonl")));
  const std::string before = *ReadFile(Path("p.jsonl"));
  EXPECT_EQ(Run("data import --format gsm8k --in " + Path("bad.jsonl") + " --out " + Path("p.jsonl")).exit_code, 1);
  EXPECT_EQ(*ReadFile(Path("p.jsonl")), before);
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_THAT(entry.path().string(), Not(HasSubstr(".tmp."))) << "a temporary file was left behind";
  }

  Result skipped = Run("data import --format gsm8k --skip_bad_lines --in " + Path("bad.jsonl") + " --out " + Path("bad_out.jsonl"));
  EXPECT_EQ(skipped.exit_code, 0) << skipped.err;
  EXPECT_THAT(skipped.err, HasSubstr("2 lines read, 1 prompts written to " + Path("bad_out.jsonl") +
                                     ", 1 bad lines skipped (first: " + Path("bad.jsonl") + ":2: "));
  EXPECT_EQ(Lines(*ReadFile(Path("bad_out.jsonl"))), 1);
}

TEST_F(CliTest, FailedGenerationLeavesNoFile) {
  Result r = Run("data gen --task countdown --n 5 --out " + Path("missing_dir/x.jsonl"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_FALSE(std::filesystem::exists(Path("missing_dir")));
}

// The issue's acceptance check: train a tokenizer on generated countdown text
// and encode/decode with it from the CLI.
TEST_F(CliTest, TokenizerTrainedOnCountdownTextEncodesAndDecodes) {
  ASSERT_EQ(Run("data gen --task countdown --n 3000 --format text --error_rate 0.3 --out " + Path("corpus.txt")).exit_code, 0);
  Result train = Run("tokenizer train --input " + Path("corpus.txt") + " --vocab_size 100 --model_type bpe --out " + Path("tok.model"));
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_THAT(train.err, HasSubstr("trained tokenizer with 100 pieces"));

  const std::string text = "Using the numbers 3, 5, 7, make 22.";
  Result encoded = Run("tokenizer encode --model " + Path("tok.model") + " --text '" + text + "'");
  ASSERT_EQ(encoded.exit_code, 0) << encoded.err;
  const std::string ids(absl::StripTrailingAsciiWhitespace(encoded.out));
  EXPECT_LT(std::vector<std::string>(absl::StrSplit(ids, ' ')).size(), text.size());  // merges happened
  Result decoded = Run("tokenizer decode --model " + Path("tok.model") + " --ids '" + ids + "'");
  ASSERT_EQ(decoded.exit_code, 0) << decoded.err;
  EXPECT_EQ(decoded.out, text + "\n");

  // stdin, several lines, pieces, and the chat template.
  Result pieces = Run("tokenizer encode --pieces --chat --model " + Path("tok.model"), "1 + 2\n<think>\n");
  ASSERT_EQ(pieces.exit_code, 0);
  std::vector<std::string> lines = absl::StrSplit(absl::StripTrailingAsciiWhitespace(pieces.out), '\n');
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], StartsWith("<s> <|user|> 1"));
  EXPECT_THAT(lines[1], HasSubstr("<|user|> <think> <|assistant|>"));

  Result bad = Run("tokenizer decode --model " + Path("tok.model") + " --ids '1 100'");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("token id 100"));
  Result not_ids = Run("tokenizer decode --model " + Path("tok.model") + " --ids '1 x'");
  EXPECT_EQ(not_ids.exit_code, 1);
  EXPECT_THAT(not_ids.err, HasSubstr("\"x\" is not a token id"));
}

// A released model's folder from the command line: ids as the reference
// library gives them (tests/golden/tokenizers/qwen2.golden.json), decode back,
// and the chat template's exact text.
TEST_F(CliTest, TokenizerCommandsTakeAReleasedModelsFolder) {
  ASSERT_TRUE(testing::WriteTinyHfTokenizerFolder(Path("qwen")).ok());
  const std::string text = "东京是日本的首都。我们学习中文！";
  const std::string golden = "297 156 401 678 278 230 136 145 317 172 229 173 606 412 129";
  Result encoded = Run("tokenizer encode --model " + Path("qwen") + " --text '" + text + "'");
  ASSERT_EQ(encoded.exit_code, 0) << encoded.err;
  EXPECT_EQ(encoded.out, golden + "\n");
  ASSERT_TRUE(WriteFileAtomically(Path("doc.txt"), "Hello world").ok());
  Result from_file = Run("tokenizer encode --model " + Path("qwen/tokenizer.json") + " --text_file " + Path("doc.txt"));
  EXPECT_EQ(from_file.out, "333 430\n") << from_file.err;
  Result decoded = Run("tokenizer decode --model " + Path("qwen") + " --ids '" + golden + "'");
  ASSERT_EQ(decoded.exit_code, 0) << decoded.err;
  EXPECT_EQ(decoded.out, text + "\n");

  ASSERT_TRUE(WriteFileAtomically(Path("chat.json"),
                                  R"([{"role": "user", "content": "What is 2 + 2?"}, {"role": "assistant", "content": "4"}])")
                  .ok());
  Result chat = Run("tokenizer chat --model " + Path("qwen") + " --messages " + Path("chat.json"));
  ASSERT_EQ(chat.exit_code, 0) << chat.err;
  EXPECT_EQ(chat.out,
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n"
            "<|im_start|>assistant\n4<|im_end|>\n");
  Result prompt = Run("tokenizer chat --add_generation_prompt --model " + Path("qwen") + " --messages " + Path("chat.json"));
  EXPECT_THAT(prompt.out, ::testing::EndsWith("4<|im_end|>\n<|im_start|>assistant\n"));
  // The same prompt, as ids, is what --chat encodes for one user turn.
  Result chat_ids = Run("tokenizer encode --chat --model " + Path("qwen") + " --text 'What is 2 + 2?'");
  ASSERT_EQ(chat_ids.exit_code, 0) << chat_ids.err;
  EXPECT_THAT(chat_ids.out, StartsWith("757 "));  // <|im_start|>: the template's, no BOS

  ASSERT_TRUE(WriteFileAtomically(Path("bad.json"), R"({"role": "user"})").ok());
  Result bad = Run("tokenizer chat --model " + Path("qwen") + " --messages " + Path("bad.json"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("bad.json: expected a JSON list of messages"));
  Result bad_var = Run("tokenizer chat --model " + Path("qwen") + " --messages " + Path("chat.json") + " --var novalue");
  EXPECT_EQ(bad_var.exit_code, 1);
}

TEST_F(CliTest, ConfigCheckAndShowApplyOverrides) {
  Result ok = Run("config check configs/tiny.textproto");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("configs/tiny.textproto: ok"));
  Result shown = Run("config show configs/tiny.textproto --set rl.group_size=4 --set 'name=\"other\"'");
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("group_size: 4"));
  EXPECT_THAT(shown.out, HasSubstr("name: \"other\""));
  Result bad = Run("config check configs/tiny.textproto --set policy.n_activated_experts=99");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(Lines(bad.err), 1);
  EXPECT_THAT(bad.err, HasSubstr("policy.n_activated_experts (99) must be <= policy.n_routed_experts"));
}

TEST_F(CliTest, PretrainGenerateAndResume) {
  const std::string run_dir = Path("run");
  const std::string small =
      " --set pretrain.corpus_examples=400 --set pretrain.student_max_steps=0 --set pretrain.batch_size=4"
      " --set pretrain.seq_len=64 --set pretrain.checkpoint.every_steps=2 --set pretrain.optimizer.warmup_steps=2"
      " --set tokenizer.vocab_size=64 --set policy.vocab_size=64 --set student.vocab_size=64"
      " --set policy.dim=32 --set policy.n_layers=2 --set data.n_eval=3 --set eval.samples=2"
      " --set eval.sampling.max_new_tokens=6 --set threads=1";
  Result trained = Run("pretrain configs/tiny.textproto --run_dir " + run_dir + small + " --set pretrain.max_steps=4");
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const std::string checkpoint(absl::StripTrailingAsciiWhitespace(trained.out));
  EXPECT_EQ(checkpoint, run_dir + "/pretrain/checkpoints/step_00000004");
  EXPECT_TRUE(std::filesystem::exists(run_dir + "/tokenizer.model"));
  EXPECT_THAT(*ReadFile(run_dir + "/pretrain/quality.json"), HasSubstr("\"prompts\": 3"));
  EXPECT_THAT(trained.err, HasSubstr("held-out 3 prompts x 2 samples"));

  Result generated = Run("generate --ckpt " + checkpoint + " --prompt 'What is 1 + 2?' --max_new_tokens 5 --n 2 --seed 3");
  EXPECT_EQ(generated.exit_code, 0) << generated.err;
  EXPECT_EQ(Lines(generated.out), 2);
  EXPECT_THAT(generated.err, HasSubstr("tokens, "));
  Result interactive = Run("generate --ckpt " + checkpoint + " --interactive --max_new_tokens 3 --temperature 0", "1 + 1?\n2 + 2?\n");
  EXPECT_EQ(interactive.exit_code, 0) << interactive.err;
  EXPECT_EQ(Lines(interactive.out), 2);

  // r1 eval: the config's held-out prompts, a table on stdout, JSON on disk.
  const std::string eval_json = Path("eval.json");
  Result evaluated = Run("eval configs/tiny.textproto --ckpt " + checkpoint + small + " --out " + eval_json);
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  EXPECT_THAT(evaluated.out, HasSubstr("avg@2"));
  EXPECT_THAT(evaluated.out, HasSubstr("maj@2"));
  EXPECT_THAT(*ReadFile(eval_json), HasSubstr("\"prompts\": 3, \"samples\": 2"));
  // A prompt file of a task without an in-process verifier is refused, not scored 0.
  ASSERT_TRUE(WriteFileAtomically(Path("math.jsonl"), "{\"id\":\"m1\",\"prompt\":\"1+1?\",\"answer\":\"2\",\"task\":\"math\"}\n").ok());
  Result unknown = Run("eval --ckpt " + checkpoint + " --prompts " + Path("math.jsonl") + " --samples 1");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("task \"math\" has no in-process verifier"));
  EvalJudgesWithTheRewardRules(checkpoint, small);

  Result resumed = Run("pretrain configs/tiny.textproto --run_dir " + run_dir + small +
                       " --set pretrain.max_steps=6 --resume --noquality_eval");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_THAT(resumed.err, HasSubstr("resuming from " + checkpoint + " (step 4)"));
  EXPECT_TRUE(std::filesystem::exists(run_dir + "/pretrain/checkpoints/step_00000006"));

  Result missing = Run("generate --ckpt " + Path("nowhere") + " --prompt hi");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(Lines(missing.err), 1);
  EXPECT_THAT(missing.err, HasSubstr("does not exist"));
  Result bad = Run("pretrain configs/tiny.textproto --run_dir " + run_dir + " --set policy.vocab_size=7");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("policy.vocab_size"));
}

// A .npy file (format 1.0, '<f4', C order, 2-D) as a tensor, checking the
// header as NumPy's reader would.
torch::Tensor ReadNpy(const std::string& path) {
  const std::string bytes = ReadFile(path).value_or("");
  EXPECT_GE(bytes.size(), 10u);
  if (bytes.size() < 10) return {};
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t header_length = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
  EXPECT_EQ((10 + header_length) % 64, 0u);
  const std::string header = bytes.substr(10, header_length);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_THAT(header, HasSubstr("'descr': '<f4'"));
  EXPECT_THAT(header, HasSubstr("'fortran_order': False"));
  const size_t open = header.find("'shape': (");
  EXPECT_NE(open, std::string::npos);
  if (open == std::string::npos) return {};
  const std::string shape = header.substr(open + 10, header.find(')', open) - open - 10);
  const std::vector<std::string> dims = absl::StrSplit(shape, ", ");
  EXPECT_EQ(dims.size(), 2u);
  if (dims.size() != 2) return {};
  const int64_t rows = std::stoll(dims[0]), columns = std::stoll(dims[1]);
  EXPECT_EQ(bytes.size(), 10 + header_length + static_cast<size_t>(rows * columns) * 4);
  torch::Tensor values = torch::empty({rows, columns}, torch::kFloat32);
  std::memcpy(values.data_ptr(), bytes.data() + 10 + header_length, static_cast<size_t>(values.numel()) * 4);
  return values;
}

// The logits `r1 logits` should write: the same checkpoint loaded in this
// process, one forward pass, float32 [T, V].
torch::Tensor InProcessLogits(const std::string& dir, config::DType dtype, const std::vector<int64_t>& ids) {
  absl::StatusOr<model::CausalLm> model = model::LoadModel(dir, {"", dtype});
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return {};
  torch::NoGradGuard no_grad;
  const torch::Tensor tokens = torch::tensor(ids, torch::kInt64).view({1, -1});
  return (*model)->Forward(tokens, nullptr, {}).logits[0].to(torch::kFloat32);
}

TEST_F(CliTest, LogitsWritesAnInProcessForwardAsNpyOrSafetensors) {
  at::set_num_threads(1);  // as the command below: the same sums in the same order
  torch::manual_seed(21);
  for (config::ModelArch arch : {config::LLAMA, config::DEEPSEEK_V3}) {
    const std::string ckpt = Path(absl::StrCat("ckpt_", arch));
    model::CausalLm model = *model::MakeModel(testing::SmallModelConfig(arch, 40));
    ASSERT_TRUE(model::SaveCheckpoint(ckpt, *model, nullptr, nullptr).ok());
    const std::vector<int64_t> ids = {1, 7, 39, 0, 12};
    for (config::DType dtype : {config::FLOAT32, config::BFLOAT16}) {
      const std::string dtype_flag = dtype == config::FLOAT32 ? "float32" : "bfloat16";
      const torch::Tensor expected = InProcessLogits(ckpt, dtype, ids);
      ASSERT_EQ(expected.sizes(), (std::vector<int64_t>{5, 40}));
      const std::string npy = Path("logits.npy"), safetensors = Path("logits.safetensors");
      Result r = Run(absl::StrCat("logits --ckpt ", ckpt, " --ids '1 7 39 0 12' --threads 1 --dtype ", dtype_flag,
                                  " --out ", npy));
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_TRUE(torch::equal(ReadNpy(npy), expected)) << arch << " " << dtype_flag;
      r = Run(absl::StrCat("logits --ckpt ", ckpt, " --ids '1 7 39 0 12' --threads 1 --dtype ", dtype_flag,
                           " --out ", safetensors));
      ASSERT_EQ(r.exit_code, 0) << r.err;
      absl::StatusOr<model::SafetensorsFile> file = model::ReadSafetensors(safetensors);
      ASSERT_TRUE(file.ok()) << file.status();
      ASSERT_EQ(file->tensors.size(), 1u);
      EXPECT_EQ(file->tensors.at("logits").scalar_type(), torch::kFloat32);
      EXPECT_TRUE(torch::equal(file->tensors.at("logits"), expected)) << arch << " " << dtype_flag;
    }
  }
  // Ids outside the vocabulary are refused by id and position; nothing is written.
  const std::string out = Path("bad.npy");
  for (const auto& [ids, why] : std::vector<std::pair<std::string, std::string>>{
           {"1 40 2", "token id 40 at position 1 is outside the vocabulary [0, 40)"},
           {"-1", "token id -1 at position 0 is outside the vocabulary [0, 40)"}}) {
    Result r = Run(absl::StrCat("logits --ckpt ", Path("ckpt_2"), " --ids '", ids, "' --out ", out));
    EXPECT_EQ(r.exit_code, 1) << ids;
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr(why));
    EXPECT_FALSE(std::filesystem::exists(out));
  }
  Result r = Run(absl::StrCat("logits --ckpt ", Path("ckpt_2"), " --ids 1 --out ", Path("no/dir/x.npy")));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_FALSE(std::filesystem::exists(Path("no")));
  r = Run(absl::StrCat("logits --ckpt ", Path("ckpt_2"), " --ids 1 --out ", Path("x.bin")));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("must end in .npy or .safetensors"));
}

// `r1 model info --json` as a map of its fields.
std::map<std::string, google::protobuf::Value> InfoJson(const std::string& out) {
  google::protobuf::Struct root;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(out, &root).ok()) << out;
  return {root.fields().begin(), root.fields().end()};
}

// The counts `r1 model info` prints, each computed here from the config's
// sizes by the layouts' definitions.
TEST_F(CliTest, ModelInfoCountsWhatTheConfigDescribes) {
  // Llama: dim 32, 4 heads of 8, 2 kv heads, SwiGLU 48, 2 layers, vocab 40, untied.
  config::ModelConfig llama = testing::SmallModelConfig(config::LLAMA, 40);
  llama.set_dtype(config::BFLOAT16);
  ASSERT_TRUE(model::SaveCheckpoint(Path("llama"), **model::MakeModel(llama), nullptr, nullptr).ok());
  const int64_t d = 32, v = 40;
  const int64_t llama_layer = 2 * d + d * 32 + 2 * d * 16 + 32 * d + 3 * d * 48;  // norms, q, k, v, o, mlp
  const int64_t llama_params = v * d + 2 * llama_layer + d + v * d;
  Result r = Run("model info --json " + Path("llama"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto info = InfoJson(r.out);
  EXPECT_EQ(info["family"].string_value(), "LLAMA");
  EXPECT_EQ(info["parameters"].number_value(), llama_params);
  EXPECT_EQ(info["active_parameters"].number_value(), llama_params);
  EXPECT_EQ(info["layers"].number_value(), 2);
  EXPECT_FALSE(info.contains("routed_experts"));
  EXPECT_EQ(info["dtype"].string_value(), "bfloat16");
  EXPECT_EQ(info["max_seq_len"].number_value(), 64);
  EXPECT_EQ(info["vocab_size"].number_value(), 40);
  EXPECT_EQ(info["kv_cache_bytes_per_token"].number_value(), 2 * 2 * (2 * 8) * 2);  // layers, k+v, kv heads x 8, bf16
  Result text = Run("model info " + Path("llama"));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr(absl::StrCat("parameters           ", llama_params, "\n")));
  EXPECT_THAT(text.out, HasSubstr("kv cache per token   128 bytes\n"));
  EXPECT_THAT(text.out, Not(HasSubstr("experts")));

  // DeepSeek-V3: 3 layers (the first dense), MLA (q rank 16, kv rank 16, 4
  // heads of 8 + RoPE 4, values 8), 6 routed experts of 16 (top 2) and one
  // shared, one MTP module (a routing block too), vocab 40.
  const config::ModelConfig deepseek = testing::SmallModelConfig(config::DEEPSEEK_V3, 40);
  ASSERT_TRUE(model::SaveCheckpoint(Path("deepseek"), **model::MakeModel(deepseek), nullptr, nullptr).ok());
  const int64_t query = d * 16 + 16 + 16 * 4 * (8 + 4);
  const int64_t mla = query + d * (16 + 4) + 16 + 16 * 4 * (8 + 8) + 4 * 8 * d;
  const int64_t expert = 3 * d * 16;
  const int64_t dense_block = 2 * d + mla + 3 * d * 48;
  const int64_t moe_block = 2 * d + mla + 6 * d + 6 * expert + expert;  // gate, routed, shared
  const int64_t mtp = moe_block + 2 * d + 2 * d * d + d;  // enorm, hnorm, eh_proj, head norm
  const int64_t deepseek_params = v * d + dense_block + 2 * moe_block + mtp + d + v * d;
  r = Run("model info --json " + Path("deepseek"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  info = InfoJson(r.out);
  EXPECT_EQ(info["family"].string_value(), "DEEPSEEK_V3");
  EXPECT_EQ(info["parameters"].number_value(), deepseek_params);
  // Three routing blocks (two layers and the MTP module) each use 2 of 6 experts.
  EXPECT_EQ(info["active_parameters"].number_value(), deepseek_params - 3 * 4 * expert);
  EXPECT_EQ(info["layers"].number_value(), 3);
  EXPECT_EQ(info["routed_experts"].number_value(), 6);
  EXPECT_EQ(info["experts_per_token"].number_value(), 2);
  EXPECT_EQ(info["shared_experts"].number_value(), 1);
  EXPECT_EQ(info["dtype"].string_value(), "float32");
  EXPECT_EQ(info["kv_cache_bytes_per_token"].number_value(), 3 * (16 + 4) * 4);  // layers x (latent + RoPE key) x f32
  text = Run("model info " + Path("deepseek"));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("routed experts       6\n"));
  EXPECT_THAT(text.out, HasSubstr("experts per token    2\n"));
  EXPECT_THAT(text.out, HasSubstr(absl::StrCat("active parameters    ", deepseek_params - 12 * expert, "\n")));
}

}  // namespace
}  // namespace r1
