#include "common/chat_template.h"

#include "absl/strings/str_cat.h"

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

std::string RenderReasoningResponse(absl::string_view reasoning, absl::string_view answer) {
  return absl::StrCat(kThinkOpen, reasoning, kThinkClose, kAnswerOpen, answer, kAnswerClose);
}

namespace {

void Append(EncodedExample& out, const std::vector<int>& ids, uint8_t mask) {
  out.ids.insert(out.ids.end(), ids.begin(), ids.end());
  out.loss_mask.insert(out.loss_mask.end(), ids.size(), mask);
}

}  // namespace

std::vector<int> EncodePrompt(const Tokenizer& tokenizer, absl::string_view prompt) {
  std::vector<int> ids = {tokenizer.bos_id()};
  std::vector<int> body = tokenizer.Encode(RenderPrompt(prompt));
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

EncodedExample EncodeExample(const Tokenizer& tokenizer, absl::string_view prompt,
                             absl::string_view response) {
  EncodedExample out;
  Append(out, EncodePrompt(tokenizer, prompt), 0);
  Append(out, tokenizer.Encode(response), 1);
  Append(out, {tokenizer.eos_id()}, 1);
  return out;
}

EncodedExample EncodeConversation(const Tokenizer& tokenizer, const std::vector<ChatTurn>& turns) {
  EncodedExample out;
  Append(out, {tokenizer.bos_id()}, 0);
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
