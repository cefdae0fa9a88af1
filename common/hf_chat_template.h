// A Hugging Face model folder's chat template: where transformers finds it,
// and rendering a conversation with it exactly as apply_chat_template does.
//
//   R1_ASSIGN_OR_RETURN(std::optional<HfChatTemplate> t, LoadChatTemplate(dir));
//   if (t) R1_ASSIGN_OR_RETURN(prompt, RenderChat(*t, messages, /*add_generation_prompt=*/true));
//
// r1's own fixed template (chat_template.h) is separate; callers choose.
#ifndef R1_COMMON_HF_CHAT_TEMPLATE_H_
#define R1_COMMON_HF_CHAT_TEMPLATE_H_

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/jinja.h"

namespace r1 {

struct HfChatTemplate {
  std::string source;  // the Jinja text
  // Where it came from, for messages: ".../chat_template.jinja" or
  // ".../tokenizer_config.json (chat_template)".
  std::string origin;
  // The special tokens transformers passes to the template (its
  // special_tokens_map); nullopt when the tokenizer config has none, which
  // leaves the variable undefined in the template.
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::optional<std::string> unk_token;
  std::optional<std::string> pad_token;
  jinja::Template compiled;
};

// The template of the model folder `model_dir`, looked up as transformers
// does: chat_template.jinja beside the model if present, else
// tokenizer_config.json's "chat_template" (a string, or a list of
// {"name", "template"} from which "default" is used). Special tokens come from
// tokenizer_config.json (a string or an AddedToken object's "content"), else
// special_tokens_map.json. nullopt when the folder has no template;
// NOT_FOUND when the folder does not exist; INVALID_ARGUMENT or UNIMPLEMENTED
// naming the file for unreadable JSON or a template that does not parse.
absl::StatusOr<std::optional<HfChatTemplate>> LoadChatTemplate(const std::string& model_dir);

// A special token (`key`: "bos_token", ...) as tokenizer_config.json or
// special_tokens_map.json writes it: a string, or an AddedToken object's
// "content"; nullopt when null or absent. INVALID_ARGUMENT naming `path`
// for anything else.
absl::StatusOr<std::optional<std::string>> SpecialToken(const nlohmann::ordered_json& config, const char* key,
                                                        const std::string& path);

// A template given directly (tests, a --chat_template flag); `origin` names it
// in errors.
absl::StatusOr<HfChatTemplate> MakeChatTemplate(std::string source, std::string origin);

struct ChatMessage {
  std::string role;
  std::string content;
};

// Extra template variables as a user writes them (--var enable_thinking=false):
// the value is a JSON literal when it parses as one (false, 3, null, "x",
// [1]), else a plain string (--var system=Be brief).
using ChatVariables = std::vector<std::pair<std::string, std::string>>;

// "name=value" -> {name, value}; INVALID_ARGUMENT without '=' or a name.
absl::StatusOr<std::pair<std::string, std::string>> ParseChatVariable(absl::string_view assignment);

// Renders `messages` (a JSON array of message objects: role, content, and
// whatever else the template reads, such as tool_calls) with the variables
// apply_chat_template passes: messages, tools and documents (None unless
// given in `variables`), add_generation_prompt, the special tokens, then
// `variables`, which override. Errors name the template's origin and line.
absl::StatusOr<std::string> RenderChat(const HfChatTemplate& chat_template,
                                       const nlohmann::ordered_json& messages,
                                       bool add_generation_prompt,
                                       const ChatVariables& variables = {},
                                       const jinja::RenderOptions& options = {});

// The same for plain {role, content} messages.
absl::StatusOr<std::string> RenderChat(const HfChatTemplate& chat_template,
                                       const std::vector<ChatMessage>& messages,
                                       bool add_generation_prompt,
                                       const ChatVariables& variables = {},
                                       const jinja::RenderOptions& options = {});

}  // namespace r1

#endif  // R1_COMMON_HF_CHAT_TEMPLATE_H_
