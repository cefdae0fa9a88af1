#include "rpc/auth.h"

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpcpp/security/server_credentials.h>

#include <algorithm>
#include <atomic>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"

namespace r1::rpc {
namespace {

absl::string_view View(const grpc_slice& slice) {
  return absl::string_view(reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(slice)), GRPC_SLICE_LENGTH(slice));
}

// Compares without an early exit, so the time taken does not tell a caller
// how many leading bytes of a guess were right.
bool SameSecret(absl::string_view a, absl::string_view b) {
  unsigned char differ = a.size() == b.size() ? 0 : 1;
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) differ |= static_cast<unsigned char>(a[i] ^ b[i]);
  return differ == 0;
}

// State of the processor: what the "authorization" header must say.
struct TokenCheck {
  std::string expected;              // "Bearer <token>"
  std::atomic<int64_t> refused{0};   // calls refused so far (for throttled log lines)
};

// Runs on gRPC's thread for each new call, with the client's initial metadata
// (":path" included), before any message of the call is read.
void ProcessMetadata(void* state, grpc_auth_context* /*context*/, const grpc_metadata* md, size_t num_md,
                     grpc_process_auth_metadata_done_cb done, void* user_data) {
  TokenCheck& check = *static_cast<TokenCheck*>(state);
  bool authorized = false;
  std::string path;
  for (size_t i = 0; i < num_md; ++i) {
    const absl::string_view key = View(md[i].key);
    if (key == ":path") path = std::string(View(md[i].value));
    if (key == "authorization" && SameSecret(View(md[i].value), check.expected)) authorized = true;
  }
  if (authorized || IsUnauthenticatedMethod(path)) {
    done(user_data, nullptr, 0, nullptr, 0, GRPC_STATUS_OK, nullptr);
    return;
  }
  // One line for each of the first refusals, then one per thousand: a flood
  // of anonymous calls must not become a flood of log lines.
  const int64_t n = ++check.refused;
  if (n <= 10 || n % 1000 == 0) {
    std::fprintf(stderr, "rpc: refused call %s without the right bearer token (%lld refused so far)\n",
                 path.c_str(), static_cast<long long>(n));
  }
  done(user_data, nullptr, 0, nullptr, 0, GRPC_STATUS_UNAUTHENTICATED,
       "missing or wrong bearer token (metadata \"authorization: Bearer <token>\")");
}

void DestroyTokenCheck(void* state) { delete static_cast<TokenCheck*>(state); }

// Server credentials over a core grpc_server_credentials. grpc++'s own
// InsecureServerCredentials() refuses an auth metadata processor, although
// the core insecure credentials run it like the TLS ones; going through the
// core object gives plaintext and TLS ports the same token check.
class CoreServerCredentials final : public grpc::ServerCredentials {
 public:
  explicit CoreServerCredentials(grpc_server_credentials* credentials) : credentials_(credentials) {}
  ~CoreServerCredentials() override { grpc_server_credentials_release(credentials_); }

  // The token check is set at construction; nothing else may replace it.
  void SetAuthMetadataProcessor(const std::shared_ptr<grpc::AuthMetadataProcessor>&) override {}

 private:
  int AddPortToServer(const std::string& address, grpc_server* server) override {
    return grpc_server_add_http2_port(server, address.c_str(), credentials_);
  }

  grpc_server_credentials* const credentials_;
};

}  // namespace

bool IsUnauthenticatedMethod(const std::string& path) {
  return absl::StartsWith(path, "/grpc.health.v1.Health/");
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const ServerSecurity& security) {
  grpc_server_credentials* credentials = nullptr;
  if (!security.tls_cert_file.empty() || !security.tls_key_file.empty()) {
    if (security.tls_cert_file.empty() || security.tls_key_file.empty()) {
      return absl::InvalidArgumentError("TLS needs both a certificate and a key file");
    }
    absl::StatusOr<std::string> cert = ReadFile(security.tls_cert_file);
    if (!cert.ok()) return absl::InvalidArgumentError(absl::StrCat("TLS certificate: ", cert.status().message()));
    absl::StatusOr<std::string> key = ReadFile(security.tls_key_file);
    if (!key.ok()) return absl::InvalidArgumentError(absl::StrCat("TLS key: ", key.status().message()));
    grpc_ssl_pem_key_cert_pair pair = {key->c_str(), cert->c_str()};
    credentials = grpc_ssl_server_credentials_create_ex(nullptr, &pair, 1, GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
                                                        nullptr);
    if (credentials == nullptr) return absl::InvalidArgumentError("TLS certificate or key not usable");
  } else {
    credentials = grpc_insecure_server_credentials_create();
  }
  if (!security.token.empty()) {
    auto* check = new TokenCheck;
    check->expected = absl::StrCat("Bearer ", security.token);
    grpc_server_credentials_set_auth_metadata_processor(credentials, {ProcessMetadata, DestroyTokenCheck, check});
  }
  return std::shared_ptr<grpc::ServerCredentials>(std::make_shared<CoreServerCredentials>(credentials));
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  if (path.empty()) return std::string();
  absl::StatusOr<std::string> token = ReadFile(path);
  if (!token.ok()) return token.status();
  std::string trimmed(absl::StripAsciiWhitespace(*token));
  if (trimmed.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": the token file is empty"));
  return trimmed;
}

}  // namespace r1::rpc
