#include "common/chat_template.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace r1 {

const std::vector<std::string>& ChatSpecialTokens() {
  static const std::vector<std::string>* const tokens = new std::vector<std::string>{
      std::string(kSystemTag),  std::string(kUserTag),    std::string(kAssistantTag),
      std::string(kThinkOpen),  std::string(kThinkClose), std::string(kAnswerOpen),
      std::string(kAnswerClose)};
  return *tokens;
}

std::string RenderPrompt(absl::string_view prompt) {
  return absl::StrCat(kUserTag, prompt, kAssistantTag);
}

std::string RenderExampleText(absl::string_view prompt, absl::string_view response) {
  return absl::StrCat(RenderPrompt(prompt), response);
}

std::string R1ChatTemplateJinja() {
  return absl::StrCat("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'assistant' %}", kAssistantTag,
                      "{{ m['content'] }}{{ eos_token }}{% else %}<|{{ m['role'] }}|>{{ m['content'] }}{% endif %}"
                      "{% endfor %}{% if add_generation_prompt %}",
                      kAssistantTag, "{% endif %}");
}

std::string ChatTemplateSource(const Tokenizer& tokenizer) {
  return tokenizer.chat_template() != nullptr ? tokenizer.chat_template()->source : R1ChatTemplateJinja();
}

std::string DescribeChatTemplate(const Tokenizer& tokenizer) {
  return tokenizer.chat_template() != nullptr ? tokenizer.chat_template()->origin : "r1's own";
}

std::string RenderReasoningResponse(absl::string_view reasoning, absl::string_view answer) {
  return absl::StrCat(kThinkOpen, reasoning, kThinkClose, kAnswerOpen, answer, kAnswerClose);
}

namespace {

void Append(EncodedExample& out, const std::vector<int>& ids, uint8_t mask) {
  out.ids.insert(out.ids.end(), ids.begin(), ids.end());
  out.loss_mask.insert(out.loss_mask.end(), ids.size(), mask);
}

// Text a model's template rendered. tokenizer.json matches its special
// tokens in text itself; a SentencePiece model never produces its control
// pieces (<s>, </s>, ..) from text, so a template's {{ bos_token }} is found
// here, as transformers' slow tokenizers split on their special tokens.
std::vector<int> EncodeRendered(const Tokenizer& tokenizer, absl::string_view text) {
  if (tokenizer.kind() != "sentencepiece") return tokenizer.Encode(text);
  std::vector<std::pair<std::string, int>> specials;
  for (int id : {tokenizer.bos_id(), tokenizer.eos_id(), tokenizer.pad_id(), tokenizer.unk_id()}) {
    if (id >= 0) specials.emplace_back(tokenizer.IdToPiece(id), id);
  }
  std::vector<int> ids;
  while (!text.empty()) {
    size_t first = absl::string_view::npos;
    const std::pair<std::string, int>* found = nullptr;
    for (const auto& special : specials) {
      const size_t at = text.find(special.first);
      if (at < first || (at == first && found != nullptr && special.first.size() > found->first.size())) {
        first = at;
        found = &special;
      }
    }
    const std::vector<int> before = tokenizer.Encode(text.substr(0, first));
    ids.insert(ids.end(), before.begin(), before.end());
    if (found == nullptr) break;
    ids.push_back(found->second);
    text.remove_prefix(first + found->first.size());
  }
  return ids;
}

}  // namespace

absl::StatusOr<std::vector<int>> EncodePrompt(const Tokenizer& tokenizer, absl::string_view prompt) {
  if (tokenizer.chat_template() != nullptr) {
    // As apply_chat_template(tokenize=True): the template writes any BOS
    // itself, so the text is encoded without adding special tokens.
    R1_ASSIGN_OR_RETURN(std::string text, RenderChat(*tokenizer.chat_template(), std::vector<ChatTurn>{{"user", std::string(prompt)}}, true));
    return EncodeRendered(tokenizer, text);
  }
  std::vector<int> ids;
  if (tokenizer.bos_id() >= 0) ids.push_back(tokenizer.bos_id());  // Qwen's tokenizers have none
  std::vector<int> body = tokenizer.Encode(RenderPrompt(prompt));
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

absl::StatusOr<EncodedExample> EncodeExample(const Tokenizer& tokenizer, absl::string_view prompt,
                                             absl::string_view response) {
  if (tokenizer.chat_template() != nullptr) {
    return EncodeConversation(tokenizer, {{"user", std::string(prompt)}, {"assistant", std::string(response)}});
  }
  EncodedExample out;
  R1_ASSIGN_OR_RETURN(std::vector<int> prompt_ids, EncodePrompt(tokenizer, prompt));
  Append(out, prompt_ids, 0);
  Append(out, tokenizer.Encode(response), 1);
  Append(out, {tokenizer.eos_id()}, 1);
  return out;
}

namespace {

// The model's template: the whole conversation rendered once, cut where each
// assistant turn's text begins and ends. Each piece is encoded on its own,
// so a target starts exactly where generation from the prompt would.
absl::StatusOr<EncodedExample> EncodeWithModelTemplate(const Tokenizer& tokenizer,
                                                       const std::vector<ChatTurn>& turns) {
  R1_ASSIGN_OR_RETURN(const std::string full, RenderChat(*tokenizer.chat_template(), turns, false));
  EncodedExample out;
  size_t done = 0;  // bytes of `full` encoded so far
  for (size_t i = 0; i < turns.size(); ++i) {
    if (turns[i].role != "assistant") continue;
    const std::vector<ChatTurn> before_turns(turns.begin(), turns.begin() + i);
    const std::vector<ChatTurn> through_turns(turns.begin(), turns.begin() + i + 1);
    R1_ASSIGN_OR_RETURN(const std::string before, RenderChat(*tokenizer.chat_template(), before_turns, true));
    R1_ASSIGN_OR_RETURN(const std::string through, RenderChat(*tokenizer.chat_template(), through_turns, false));
    if (before.size() < done || !absl::StartsWith(full, before) || !absl::StartsWith(full, through) ||
        through.size() <= before.size()) {
      continue;  // the template rewrites this turn later: context, not a target
    }
    Append(out, EncodeRendered(tokenizer, absl::string_view(full).substr(done, before.size() - done)), 0);
    Append(out, EncodeRendered(tokenizer, absl::string_view(full).substr(before.size(), through.size() - before.size())), 1);
    done = through.size();
  }
  Append(out, EncodeRendered(tokenizer, absl::string_view(full).substr(done)), 0);
  return out;
}

}  // namespace

absl::StatusOr<EncodedExample> EncodeConversation(const Tokenizer& tokenizer, const std::vector<ChatTurn>& turns) {
  if (tokenizer.chat_template() != nullptr) return EncodeWithModelTemplate(tokenizer, turns);
  EncodedExample out;
  if (tokenizer.bos_id() >= 0) Append(out, {tokenizer.bos_id()}, 0);
  for (const ChatTurn& turn : turns) {
    if (turn.role == "assistant") {
      Append(out, tokenizer.Encode(kAssistantTag), 0);
      Append(out, tokenizer.Encode(turn.content), 1);
      Append(out, {tokenizer.eos_id()}, 1);
    } else {
      const absl::string_view tag = turn.role == "system" ? kSystemTag : kUserTag;
      Append(out, tokenizer.Encode(absl::StrCat(tag, turn.content)), 0);
    }
  }
  return out;
}

}  // namespace r1
