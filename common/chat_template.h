// The chat template: how a prompt (and a response) become model input. It is
// the same everywhere — SFT, rollout, eval, reject-sample, distill — so this
// is its only definition. A tokenizer that carries a model's own template
// (Tokenizer::chat_template(), from a released model's folder) is encoded
// with that template, as transformers' apply_chat_template renders it; r1's
// own models use r1's:
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
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "common/hf_chat_template.h"
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

// r1's template as Jinja, for exports' tokenizer_config.json and
// `r1 tokenizer chat` (bos_token <s>, eos_token </s>): it renders the text
// EncodeConversation encodes. No double quotes or backslashes, so it goes
// into JSON as it is.
std::string R1ChatTemplateJinja();

// The Jinja text `tokenizer` renders chats with: its own template's, else
// R1ChatTemplateJinja() (what an export writes for other tools).
std::string ChatTemplateSource(const Tokenizer& tokenizer);

// Which template `tokenizer` uses, for a stage's log: its origin (a file, or
// "tokenizer_config.json (chat_template)"), or "r1's own".
std::string DescribeChatTemplate(const Tokenizer& tokenizer);

// `<think>{reasoning}</think><answer>{answer}</answer>`.
std::string RenderReasoningResponse(absl::string_view reasoning, absl::string_view answer);

// {role ("system", "user" or "assistant"), content}.
using ChatTurn = ChatMessage;

// Token ids with the positions a training loss applies to.
struct EncodedExample {
  std::vector<int> ids;
  std::vector<uint8_t> loss_mask;  // 1 on response tokens and their EOS
};

// What generation starts from: BOS + RenderPrompt(prompt), or the model's
// template over one user turn with add_generation_prompt. Errors name the
// template file and line (a template's raise_exception, for one).
absl::StatusOr<std::vector<int>> EncodePrompt(const Tokenizer& tokenizer, absl::string_view prompt);

// Prompt then response; the loss covers the response and what ends it (EOS,
// or the template's end-of-turn text).
absl::StatusOr<EncodedExample> EncodeExample(const Tokenizer& tokenizer, absl::string_view prompt,
                                             absl::string_view response);

// A conversation: each assistant turn (and the EOS closing it) is a target.
// "<s><|system|>..<|user|>..<|assistant|>..</s><|user|>..<|assistant|>..</s>"
// With a model's template, an assistant turn is a target where the text the
// template renders for it follows the generation prompt of the turns before
// it: templates that rewrite earlier turns (Qwen3 and DeepSeek-R1 drop the
// reasoning of all but the last) keep only what survives as a target.
absl::StatusOr<EncodedExample> EncodeConversation(const Tokenizer& tokenizer, const std::vector<ChatTurn>& turns);


}  // namespace r1

#endif  // R1_COMMON_CHAT_TEMPLATE_H_
