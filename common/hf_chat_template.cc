#include "common/hf_chat_template.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"

namespace r1 {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path.string()));
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path.string()));
  return buffer.str();
}

absl::StatusOr<Json> ReadJson(const fs::path& path) {
  R1_ASSIGN_OR_RETURN(std::string text, ReadText(path));
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": not valid JSON"));
  }
  if (!json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": expected a JSON object"));
  }
  return json;
}

// tokenizer_config.json's "chat_template": a string, or named templates.
absl::StatusOr<std::optional<std::string>> ConfigTemplate(const Json& config,
                                                          const fs::path& path) {
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) return std::optional<std::string>();
  if (it->is_string()) return std::optional<std::string>(it->get<std::string>());
  if (it->is_array()) {
    std::vector<std::string> names;
    for (const Json& entry : *it) {
      if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() ||
          !entry.contains("template") || !entry["template"].is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path.string(),
                         ": \"chat_template\" entries must be {\"name\": ..., \"template\": ...}"));
      }
      names.push_back(entry["name"].get<std::string>());
      if (names.back() == "default") {
        return std::optional<std::string>(entry["template"].get<std::string>());
      }
    }
    return absl::FailedPreconditionError(absl::StrCat(path.string(), ": several chat templates (",
                                                      absl::StrJoin(names, ", "),
                                                      ") and none named \"default\""));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(path.string(), ": \"chat_template\" must be a string or a list"));
}

// Parses a --var value: a JSON literal when it is one, else the text itself.
Json VariableValue(const std::string& text) {
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return Json(text);
  return value;
}

}  // namespace

absl::StatusOr<std::optional<std::string>> SpecialToken(const nlohmann::ordered_json& config, const char* key,
                                                        const std::string& path) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::optional<std::string>();
  if (it->is_string()) return std::optional<std::string>(it->get<std::string>());
  if (it->is_object()) {
    auto content = it->find("content");
    if (content != it->end() && content->is_string()) {
      return std::optional<std::string>(content->get<std::string>());
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": \"", key, "\" is neither a string nor an object with \"content\""));
}

absl::StatusOr<HfChatTemplate> MakeChatTemplate(std::string source, std::string origin) {
  R1_ASSIGN_OR_RETURN(jinja::Template compiled, jinja::Template::Parse(source, origin));
  return HfChatTemplate{std::move(source), std::move(origin), std::nullopt,       std::nullopt,
                        std::nullopt,      std::nullopt,      std::move(compiled)};
}

absl::StatusOr<std::optional<HfChatTemplate>> LoadChatTemplate(const std::string& model_dir) {
  const fs::path dir(model_dir);
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return absl::NotFoundError(absl::StrCat(model_dir, ": not a directory"));
  }
  const fs::path config_path = dir / "tokenizer_config.json";
  Json config = Json::object();
  if (fs::exists(config_path, error)) {
    R1_ASSIGN_OR_RETURN(config, ReadJson(config_path));
  }

  std::optional<std::string> source;
  std::string origin;
  const fs::path jinja_path = dir / "chat_template.jinja";
  if (fs::exists(jinja_path, error)) {
    R1_ASSIGN_OR_RETURN(std::string text, ReadText(jinja_path));
    source = std::move(text);
    origin = jinja_path.string();
  } else {
    R1_ASSIGN_OR_RETURN(source, ConfigTemplate(config, config_path));
    origin = absl::StrCat(config_path.string(), " (chat_template)");
  }
  if (!source) return std::optional<HfChatTemplate>();

  R1_ASSIGN_OR_RETURN(HfChatTemplate chat_template,
                      MakeChatTemplate(*std::move(source), std::move(origin)));

  // transformers reads special_tokens_map.json too; tokenizer_config.json wins.
  Json token_map = Json::object();
  const fs::path map_path = dir / "special_tokens_map.json";
  if (fs::exists(map_path, error)) {
    R1_ASSIGN_OR_RETURN(token_map, ReadJson(map_path));
  }
  struct Slot {
    const char* key;
    std::optional<std::string>* value;
  };
  for (Slot slot :
       {Slot{"bos_token", &chat_template.bos_token}, Slot{"eos_token", &chat_template.eos_token},
        Slot{"unk_token", &chat_template.unk_token}, Slot{"pad_token", &chat_template.pad_token}}) {
    R1_ASSIGN_OR_RETURN(*slot.value, SpecialToken(config, slot.key, config_path.string()));
    if (!*slot.value) {
      R1_ASSIGN_OR_RETURN(*slot.value, SpecialToken(token_map, slot.key, map_path.string()));
    }
  }
  return std::optional<HfChatTemplate>(std::move(chat_template));
}

absl::StatusOr<std::pair<std::string, std::string>> ParseChatVariable(
    absl::string_view assignment) {
  const size_t eq = assignment.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected name=value for a template variable, got \"", assignment, "\""));
  }
  return std::make_pair(std::string(assignment.substr(0, eq)),
                        std::string(assignment.substr(eq + 1)));
}

absl::StatusOr<std::string> RenderChat(const HfChatTemplate& chat_template, const Json& messages,
                                       bool add_generation_prompt, const ChatVariables& variables,
                                       const jinja::RenderOptions& options) {
  if (!messages.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(chat_template.origin, ": messages must be a JSON array"));
  }
  Json context = Json::object();
  context["messages"] = messages;
  context["tools"] = nullptr;
  context["documents"] = nullptr;
  context["add_generation_prompt"] = add_generation_prompt;
  if (chat_template.bos_token) context["bos_token"] = *chat_template.bos_token;
  if (chat_template.eos_token) context["eos_token"] = *chat_template.eos_token;
  if (chat_template.unk_token) context["unk_token"] = *chat_template.unk_token;
  if (chat_template.pad_token) context["pad_token"] = *chat_template.pad_token;
  for (const auto& [name, value] : variables) context[name] = VariableValue(value);
  return chat_template.compiled.Render(context, options);
}

absl::StatusOr<std::string> RenderChat(const HfChatTemplate& chat_template,
                                       const std::vector<ChatMessage>& messages,
                                       bool add_generation_prompt, const ChatVariables& variables,
                                       const jinja::RenderOptions& options) {
  Json array = Json::array();
  for (const ChatMessage& m : messages) array.push_back({{"role", m.role}, {"content", m.content}});
  return RenderChat(chat_template, array, add_generation_prompt, variables, options);
}

}  // namespace r1
