// r1 tokenizer train / encode / decode.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "common/chat_template.h"
#include "common/flags.h"
#include "common/tokenizer.h"
#include "proto/config.pb.h"

namespace r1::cli {
namespace {

// Lines to work on: the flag's value, or every line of stdin.
std::vector<std::string> InputLines(const FlagSet& flags, const std::string& flag_name,
                                    const std::string& value) {
  if (flags.WasSet(flag_name)) return {value};
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(std::cin, line)) lines.push_back(line);
  return lines;
}

}  // namespace

int TokenizerTrain(const Args& args) {
  std::vector<std::string> inputs;
  std::string out;
  int64_t vocab_size = 0;
  config::TokenizerConfig config;
  std::string model_type = config.model_type();
  double character_coverage = config.character_coverage();
  bool byte_fallback = config.byte_fallback();
  bool split_digits = config.split_digits();
  bool verbose = false;
  FlagSet flags("r1 tokenizer train",
                "Trains a SentencePiece model on text files (one example per line). The model\n"
                "has <unk> <s> </s> <pad> at ids 0-3, then the chat and reasoning tags\n"
                "(<|system|> <|user|> <|assistant|> <think> </think> <answer> </answer>) as\n"
                "single tokens. Make a corpus with `r1 data gen --format text`.");
  flags.AddList("input", &inputs, "training text file (repeat, or comma-separate, for several)");
  flags.AddString("out", &out, "model file to write, e.g. tok.model");
  flags.AddInt("vocab_size", &vocab_size, "vocabulary size, special tokens included");
  flags.AddString("model_type", &model_type, "unigram, bpe, char or word");
  flags.AddDouble("character_coverage", &character_coverage, "share of characters the vocabulary covers");
  flags.AddBool("byte_fallback", &byte_fallback, "encode unknown characters as UTF-8 bytes");
  flags.AddBool("split_digits", &split_digits, "one token per digit");
  flags.AddBool("verbose", &verbose, "show SentencePiece's training log");
  flags.Require("input");
  flags.Require("out");
  flags.Require("vocab_size");
  if (auto code = ParseCommandLine(flags, args)) return *code;

  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    for (absl::string_view file : absl::StrSplit(input, ',', absl::SkipEmpty())) files.emplace_back(file);
  }
  config.set_vocab_size(static_cast<int>(vocab_size));
  config.set_model_type(model_type);
  config.set_character_coverage(character_coverage);
  config.set_byte_fallback(byte_fallback);
  config.set_split_digits(split_digits);
  if (absl::Status s = Tokenizer::Train(config, files, out, verbose); !s.ok()) return Fail(s);
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(out);
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  std::fprintf(stderr, "trained tokenizer with %d pieces: %s\n", tokenizer->vocab_size(), out.c_str());
  return kExitOk;
}

int TokenizerEncode(const Args& args) {
  std::string model, text;
  bool pieces = false, chat = false;
  FlagSet flags("r1 tokenizer encode",
                "Prints the token ids of --text, or of each line of stdin, one line each.");
  flags.AddString("model", &model, "tokenizer model file");
  flags.AddString("text", &text, "text to encode (default: read lines from stdin)");
  flags.AddBool("pieces", &pieces, "print pieces instead of ids");
  flags.AddBool("chat", &chat, "treat the text as a user prompt: BOS + chat template");
  flags.Require("model");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(model);
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  for (const std::string& line : InputLines(flags, "text", text)) {
    const std::vector<int> ids = chat ? EncodePrompt(*tokenizer, line) : tokenizer->Encode(line);
    if (pieces) {
      std::vector<std::string> out;
      for (int id : ids) out.push_back(tokenizer->IdToPiece(id));
      std::printf("%s\n", absl::StrJoin(out, " ").c_str());
    } else {
      std::printf("%s\n", absl::StrJoin(ids, " ").c_str());
    }
  }
  return kExitOk;
}

int TokenizerDecode(const Args& args) {
  std::string model, ids_text;
  FlagSet flags("r1 tokenizer decode",
                "Prints the text of space-separated token ids from --ids, or of each line of stdin.");
  flags.AddString("model", &model, "tokenizer model file");
  flags.AddString("ids", &ids_text, "ids to decode, e.g. \"5 17 42\" (default: read lines from stdin)");
  flags.Require("model");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(model);
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  int line_number = 0;
  for (const std::string& line : InputLines(flags, "ids", ids_text)) {
    ++line_number;
    std::vector<int> ids;
    for (absl::string_view word : absl::StrSplit(line, absl::ByAnyChar(" \t,"), absl::SkipEmpty())) {
      int id;
      if (!absl::SimpleAtoi(word, &id)) {
        return Fail(absl::InvalidArgumentError(
            absl::StrCat("line ", line_number, ": \"", word, "\" is not a token id")));
      }
      ids.push_back(id);
    }
    absl::StatusOr<std::string> decoded = tokenizer->Decode(ids);
    if (!decoded.ok()) {
      return Fail(absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": ", decoded.status().message())));
    }
    std::printf("%s\n", decoded->c_str());
  }
  return kExitOk;
}

}  // namespace r1::cli
