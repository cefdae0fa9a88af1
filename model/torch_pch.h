// Precompiled header for the LibTorch-heavy targets (model and everything that
// trains or samples): torch/torch.h costs 10-15 s per translation unit here.
#include <torch/torch.h>
