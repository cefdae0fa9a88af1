// The chat template: how a prompt (and a response) become model input. It is
// the same everywhere — SFT, rollout, eval, export — so this is its only
// definition.
//
//   <s><|user|>{prompt}<|assistant|>{response}</s>
//
// The response of a reasoning model is
//   <think>{reasoning}</think><answer>{final answer}</answer>
// Every tag is a single token (tokenizer.h), so the prompt/response boundary
// is also a token boundary and the prompt encodes the same alone or followed
// by its response.
#ifndef R1_COMMON_CHAT_TEMPLATE_H_
#define R1_COMMON_CHAT_TEMPLATE_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "common/tokenizer.h"

namespace r1 {

inline constexpr absl::string_view kSystemTag = "<|system|>";
inline constexpr absl::string_view kUserTag = "<|user|>";
inline constexpr absl::string_view kAssistantTag = "<|assistant|>";
inline constexpr absl::string_view kThinkOpen = "<think>";
inline constexpr absl::string_view kThinkClose = "</think>";
inline constexpr absl::string_view kAnswerOpen = "<answer>";
inline constexpr absl::string_view kAnswerClose = "</answer>";

// The tags above, in the order a trained tokenizer gives them ids (from 4).
const std::vector<std::string>& ChatSpecialTokens();

// "<|user|>{prompt}<|assistant|>": the text a completion continues.
std::string RenderPrompt(absl::string_view prompt);

// One training text of a prompt and its response, as in a pretraining or
// tokenizer corpus: "<|user|>{prompt}<|assistant|>{response}" (the BOS/EOS
// ids are added when it is encoded).
std::string RenderExampleText(absl::string_view prompt, absl::string_view response);

// `<think>{reasoning}</think><answer>{answer}</answer>`.
std::string RenderReasoningResponse(absl::string_view reasoning, absl::string_view answer);

struct ChatTurn {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// Token ids with the positions a training loss applies to.
struct EncodedExample {
  std::vector<int> ids;
  std::vector<uint8_t> loss_mask;  // 1 on response tokens and their EOS
};

// BOS + RenderPrompt(prompt): what generation starts from.
std::vector<int> EncodePrompt(const Tokenizer& tokenizer, absl::string_view prompt);

// Prompt then response + EOS; the loss covers the response and EOS only.
EncodedExample EncodeExample(const Tokenizer& tokenizer, absl::string_view prompt,
                             absl::string_view response);

// A conversation: each assistant turn (and the EOS closing it) is a target.
// "<s><|system|>..<|user|>..<|assistant|>..</s><|user|>..<|assistant|>..</s>"
EncodedExample EncodeConversation(const Tokenizer& tokenizer, const std::vector<ChatTurn>& turns);

}  // namespace r1

#endif  // R1_COMMON_CHAT_TEMPLATE_H_
