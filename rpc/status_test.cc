#include "rpc/status.h"

#include <grpcpp/support/status.h>
#include <gtest/gtest.h>

namespace r1::rpc {
namespace {

TEST(StatusConversion, CodeAndMessageSurviveBothWays) {
  for (const absl::Status& original :
       {absl::UnavailableError("worker restarting"), absl::FailedPreconditionError("weights version 3 expected"),
        absl::InvalidArgumentError("empty batch"), absl::ResourceExhaustedError("no free KV slot")}) {
    const grpc::Status wire = ToGrpc(original);
    EXPECT_EQ(static_cast<int>(wire.error_code()), static_cast<int>(original.code()));
    EXPECT_EQ(wire.error_message(), original.message());
    EXPECT_EQ(FromGrpc(wire), original);
  }
}

TEST(StatusConversion, OkIsOkWithoutMessage) {
  EXPECT_TRUE(ToGrpc(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpc(grpc::Status::OK).ok());
}

}  // namespace
}  // namespace r1::rpc
