// r1 tokenizer train / encode / decode / chat.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "common/chat_template.h"
#include "common/file_util.h"
#include "common/flags.h"
#include "common/hf_chat_template.h"
#include "common/tokenizer.h"
#include "proto/config.pb.h"

namespace r1::cli {
namespace {

// Lines to work on: the flag's value, the whole of `file` (one text), or
// every line of stdin.
std::vector<std::string> InputLines(const FlagSet& flags, const std::string& flag_name,
                                    const std::string& value, const std::string& file = "") {
  if (flags.WasSet(flag_name)) return {value};
  if (!file.empty()) return {ReadFile(file).value_or("")};
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
  std::string model, text, text_file;
  bool pieces = false, chat = false, add_special = false;
  std::string fallback_template;
  FlagSet flags("r1 tokenizer encode",
                "Prints the token ids of --text, of the whole --text_file, or of each line of stdin,\n"
                "space-separated, one line each. --model is a tokenizer file (tokenizer.model or\n"
                "tokenizer.json) or a model folder (its tokenizer.json first, else tokenizer.model).");
  flags.AddString("model", &model, "tokenizer file or model folder");
  flags.AddString("text", &text, "text to encode (default: read lines from stdin)");
  flags.AddString("text_file", &text_file, "encode this file's whole content as one text");
  flags.AddBool("add_special", &add_special,
                "add what a plain-text encode adds (BOS; tokenizer.json: its post-processor)");
  flags.AddBool("pieces", &pieces, "print pieces instead of ids");
  flags.AddBool("chat", &chat, "treat the text as a user prompt: the chat template with a generation prompt");
  flags.AddString("chat_template", &fallback_template, "with --chat: a .jinja template for a model without one");
  flags.Require("model");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  if (!text_file.empty()) {
    if (absl::Status readable = ReadFile(text_file).status(); !readable.ok()) return Fail(readable);
  }
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(model, fallback_template);
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  for (const std::string& line : InputLines(flags, "text", text, text_file)) {
    absl::StatusOr<std::vector<int>> encoded =
        chat ? EncodePrompt(*tokenizer, line)
             : absl::StatusOr<std::vector<int>>(tokenizer->Encode(line, add_special));
    if (!encoded.ok()) return Fail(encoded.status());
    const std::vector<int>& ids = *encoded;
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
  flags.AddString("model", &model, "tokenizer file or model folder");
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

int TokenizerChat(const Args& args) {
  std::string model, messages_path, fallback_template;
  bool add_generation_prompt = false;
  std::vector<std::string> variables;
  FlagSet flags("r1 tokenizer chat",
                "Prints exactly the text a model gets for a conversation: the model folder's own chat\n"
                "template (chat_template.jinja, else tokenizer_config.json's), else --chat_template\n"
                "(what a run's data.chat_template gives it), else r1's, rendered as transformers'\n"
                "apply_chat_template does.\n"
                "--messages: a JSON file holding a list of {\"role\", \"content\"} messages (or an\n"
                "object with \"messages\"). Nothing is added after the text, not even a newline.");
  flags.AddString("model", &model, "model folder (or a tokenizer file)");
  flags.AddString("messages", &messages_path, "JSON file of messages");
  flags.AddBool("add_generation_prompt", &add_generation_prompt, "end with the assistant's turn opening");
  flags.AddString("chat_template", &fallback_template, "a .jinja template for a model without one");
  flags.AddList("var", &variables,
                "extra template variable name=value (value: a JSON literal such as false, else a string), "
                "e.g. --var enable_thinking=false; repeatable");
  flags.Require("model");
  flags.Require("messages");
  if (auto code = ParseCommandLine(flags, args)) return *code;
  ChatVariables parsed_variables;
  for (const std::string& assignment : variables) {
    absl::StatusOr<std::pair<std::string, std::string>> variable = ParseChatVariable(assignment);
    if (!variable.ok()) return Fail(variable.status());
    parsed_variables.push_back(*std::move(variable));
  }
  absl::StatusOr<std::string> text = ReadFile(messages_path);
  if (!text.ok()) return Fail(text.status());
  nlohmann::ordered_json messages = nlohmann::ordered_json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (messages.is_object() && messages.contains("messages")) messages = messages["messages"];
  if (messages.is_discarded() || !messages.is_array()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat(messages_path, ": expected a JSON list of messages (or an object with \"messages\")")));
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    if (!messages[i].is_object() || !messages[i].contains("role") || !messages[i]["role"].is_string()) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat(messages_path, ": message ", i, " has no \"role\" string")));
    }
  }
  absl::StatusOr<Tokenizer> tokenizer = Tokenizer::Load(model, fallback_template);
  if (!tokenizer.ok()) return Fail(tokenizer.status());
  const HfChatTemplate* chat_template = tokenizer->chat_template();
  absl::StatusOr<HfChatTemplate> own;
  if (chat_template == nullptr) {
    // What EncodePrompt and EncodeConversation give a model without a template.
    own = MakeChatTemplate(R1ChatTemplateJinja(), "r1's chat template");
    if (!own.ok()) return Fail(own.status());
    if (tokenizer->bos_id() >= 0) own->bos_token = tokenizer->IdToPiece(tokenizer->bos_id());
    own->eos_token = tokenizer->IdToPiece(tokenizer->eos_id());
    chat_template = &*own;
    if (tokenizer->kind() != "sentencepiece") {
      std::fprintf(stderr, "%s has no chat template of its own: r1's applies (give one with --chat_template)\n",
                   model.c_str());
    }
  }
  absl::StatusOr<std::string> rendered =
      RenderChat(*chat_template, messages, add_generation_prompt, parsed_variables);
  if (!rendered.ok()) return Fail(rendered.status());
  std::fwrite(rendered->data(), 1, rendered->size(), stdout);
  return kExitOk;
}

}  // namespace r1::cli
