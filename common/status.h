// Status helpers used at every boundary with files, configs, the network or
// user data. absl::Status carries the error; these macros keep call sites short.
#ifndef R1_COMMON_STATUS_H_
#define R1_COMMON_STATUS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define R1_RETURN_IF_ERROR(expr)                       \
  do {                                                 \
    ::absl::Status r1_status_ = (expr);                \
    if (!r1_status_.ok()) return r1_status_;           \
  } while (0)

#define R1_STATUS_CONCAT_INNER_(a, b) a##b
#define R1_STATUS_CONCAT_(a, b) R1_STATUS_CONCAT_INNER_(a, b)

// `R1_ASSIGN_OR_RETURN(auto x, MakeX());` assigns the value of an
// absl::StatusOr or returns its error from the enclosing function.
#define R1_ASSIGN_OR_RETURN(lhs, expr) \
  R1_ASSIGN_OR_RETURN_IMPL_(R1_STATUS_CONCAT_(r1_statusor_, __LINE__), lhs, expr)
#define R1_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).status();  \
  lhs = std::move(tmp).value()

#endif  // R1_COMMON_STATUS_H_
