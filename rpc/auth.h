// Who may call an r1 server, decided in one place for every service: TLS from
// a certificate and key, and a shared bearer token checked from the call's
// headers before its request message is read (a caller without the token
// never makes the server buffer or parse a byte of the request).
//
// The check is a gRPC auth metadata processor on the listening port's
// credentials: gRPC runs it on the client's initial metadata, before the call
// reaches a handler, and a call it refuses ends with UNAUTHENTICATED. It works
// on plaintext ports too (gRPC's insecure credentials carry the same hook).
// grpc.health.v1.Health is exempt, so Kubernetes and load-balancer probes
// need no secret; everything else, reflection included, needs the token.
#ifndef R1_RPC_AUTH_H_
#define R1_RPC_AUTH_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace grpc {
class ServerCredentials;
}

namespace r1::rpc {

struct ServerSecurity {
  std::string tls_cert_file;  // PEM certificate chain; with tls_key_file, the port speaks TLS only
  std::string tls_key_file;   // PEM private key
  std::string token;          // non-empty: calls need "authorization: Bearer <token>"
};

// INVALID_ARGUMENT for a certificate without a key (or the reverse), or an
// unreadable file.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const ServerSecurity& security);

// The token in `path`, surrounding whitespace removed; "" for an empty path.
// INVALID_ARGUMENT for a file that holds only whitespace.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// The RPC method names exempt from the token: the standard health service.
bool IsUnauthenticatedMethod(const std::string& path);

}  // namespace r1::rpc

#endif  // R1_RPC_AUTH_H_
