// Where RL and rejection-sampling prompts come from: a JSONL file of
// PromptRecords (data.train_prompts) or the embedded task generators
// (data.tasks), each a pure function of (seed, index), so a resumed run draws
// the same prompts as one never stopped. The eval prompts are
// tasks/held_out.h's.
#ifndef R1_RL_PROMPTS_H_
#define R1_RL_PROMPTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/config.pb.h"
#include "proto/records.pb.h"
#include "tasks/held_out.h"
#include "tasks/task.h"

namespace r1::rl {

class PromptSource {
 public:
  // data.train_prompts when set (relative to `base_dir`), else data.tasks
  // drawn with data.seed. Prompts that are also in `held_out` (the eval set,
  // tasks/held_out.h) are never drawn: a file's are dropped, generated ones
  // replaced by others.
  static absl::StatusOr<PromptSource> Create(const config::DataConfig& data, const std::string& base_dir,
                                             const std::vector<data::PromptRecord>& held_out);

  // Prompt number `index` of an endless stream. A file is cycled, each pass
  // in an order fixed by (seed, pass).
  data::PromptRecord Get(int64_t index) const;

  // How many distinct prompts there are (0 = a generator, unbounded).
  int64_t size() const { return static_cast<int64_t>(file_records_.size()); }

 private:
  PromptSource() = default;
  std::vector<data::PromptRecord> file_records_;
  std::shared_ptr<const tasks::TaskMix> mix_;
  tasks::HeldOutPrompts held_out_;
  uint64_t seed_ = 1;
  // The order of the file pass last read (Get is called in sequence).
  mutable int64_t order_pass_ = -1;
  mutable std::vector<int64_t> order_;
};

}  // namespace r1::rl

#endif  // R1_RL_PROMPTS_H_
