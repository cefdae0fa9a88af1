// gRPC status <-> absl::Status, both directions in one place. The codes are
// the same numbers in both libraries (both follow google.rpc.Code), so a code
// survives the wire unchanged: a server's FAILED_PRECONDITION reaches the
// client's retry logic as FAILED_PRECONDITION.
#ifndef R1_RPC_STATUS_H_
#define R1_RPC_STATUS_H_

#include "absl/status/status.h"

namespace grpc {
class Status;
}  // namespace grpc

namespace r1::rpc {

// What a client sees when a call ends (the code and the server's message).
absl::Status FromGrpc(const grpc::Status& status);

// What a server handler returns for an absl error from the code it calls.
grpc::Status ToGrpc(const absl::Status& status);

}  // namespace r1::rpc

#endif  // R1_RPC_STATUS_H_
