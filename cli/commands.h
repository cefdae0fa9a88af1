// The subcommands of the `r1` binary. Each takes the arguments after its
// words (e.g. after "data gen") and returns the process exit code:
// 0 success, 1 the work failed, 2 the command line was wrong.
#ifndef R1_CLI_COMMANDS_H_
#define R1_CLI_COMMANDS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace r1 {

class FlagSet;

namespace cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

using Args = std::vector<std::string>;

int DataGen(const Args& args);
int DataCheck(const Args& args);
int DataImport(const Args& args);
int TokenizerTrain(const Args& args);
int TokenizerEncode(const Args& args);
int TokenizerDecode(const Args& args);
int TokenizerChat(const Args& args);
int ConfigCheck(const Args& args);
int ConfigShow(const Args& args);
int Pretrain(const Args& args);
int GenerateText(const Args& args);
int RolloutServe(const Args& args);
int Rl(const Args& args);
int Eval(const Args& args);
int Sft(const Args& args);
int RejectSample(const Args& args);
int Distill(const Args& args);
int Export(const Args& args);
int Pipeline(const Args& args);
int Logits(const Args& args);
int ModelInfo(const Args& args);

// Prints "r1: <message>" on stderr and returns kExitFailure.
int Fail(const absl::Status& status);

}  // namespace cli
}  // namespace r1

#endif  // R1_CLI_COMMANDS_H_
