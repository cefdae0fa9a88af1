#include "common/test_support.h"

#include "absl/strings/str_cat.h"
#include "common/chat_template.h"
#include "common/file_util.h"
#include "common/status.h"
#include "common/tokenizer.h"
#include "proto/config.pb.h"

namespace r1::testing {

absl::StatusOr<std::string> TrainTinyTokenizer(const std::string& dir, int vocab_size) {
  R1_RETURN_IF_ERROR(MakeDirs(dir));
  std::string corpus;
  for (int i = 0; i < 300; ++i) {
    absl::StrAppend(&corpus, RenderExampleText(absl::StrCat("What is ", i, " + ", i % 7, "?"),
                                               RenderReasoningResponse("ok", absl::StrCat(i + i % 7))),
                    "\n");
  }
  const std::string corpus_path = absl::StrCat(dir, "/tiny_corpus.txt");
  R1_RETURN_IF_ERROR(WriteFileAtomically(corpus_path, corpus));
  config::TokenizerConfig config;
  config.set_vocab_size(vocab_size);
  config.set_model_type("bpe");
  const std::string model = absl::StrCat(dir, "/tiny_tokenizer.model");
  R1_RETURN_IF_ERROR(Tokenizer::Train(config, {corpus_path}, model));
  return model;
}

}  // namespace r1::testing
