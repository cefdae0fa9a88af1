// How a command reaches services that require TLS and a bearer token
// (`r1-reward serve` / `r1 rollout serve` with --tls_cert and --token_file):
// the three flags every command that attaches to them takes, in one place.
#ifndef R1_CLI_SERVICE_AUTH_FLAGS_H_
#define R1_CLI_SERVICE_AUTH_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace r1 {

class FlagSet;

namespace cli {

struct ServiceAuthFlags {
  std::string token_file;       // --service_token_file
  std::string tls_root;         // --tls_root
  std::string tls_server_name;  // --tls_server_name

  // Registers the flags; `services` names what they reach in the help text,
  // e.g. "the attached reward service and workers".
  void Add(FlagSet& flags, absl::string_view services);

  // The token from --service_token_file ("" when none is given).
  absl::StatusOr<std::string> ReadToken() const;

  // Sets a client's token and TLS fields (reward::ClientOptions or
  // rollout::ClientOptions: both carry these three).
  template <typename ClientOptions>
  void ApplyTo(const std::string& token, ClientOptions* options) const {
    options->token = token;
    options->tls_root_cert_file = tls_root;
    options->tls_server_name = tls_server_name;
  }

  // The flags that are set, as arguments for a child command.
  std::vector<std::string> Args() const;
};

}  // namespace cli
}  // namespace r1

#endif  // R1_CLI_SERVICE_AUTH_FLAGS_H_
