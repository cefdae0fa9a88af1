#include "cli/service_auth_flags.h"

#include "absl/strings/str_cat.h"
#include "common/flags.h"
#include "rpc/auth.h"

namespace r1::cli {

void ServiceAuthFlags::Add(FlagSet& flags, absl::string_view services) {
  flags.AddString("service_token_file", &token_file,
                  absl::StrCat("file holding the bearer token ", services, " require"));
  flags.AddString("tls_root", &tls_root, absl::StrCat("CA certificate (PEM) of ", services, ", when they serve TLS"));
  flags.AddString("tls_server_name", &tls_server_name,
                  "name to check their certificates against (default: the host)");
}

absl::StatusOr<std::string> ServiceAuthFlags::ReadToken() const { return rpc::ReadTokenFile(token_file); }

std::vector<std::string> ServiceAuthFlags::Args() const {
  std::vector<std::string> args;
  for (const auto& [flag, value] : {std::pair<const char*, const std::string*>{"--service_token_file", &token_file},
                                    {"--tls_root", &tls_root},
                                    {"--tls_server_name", &tls_server_name}}) {
    if (!value->empty()) args.insert(args.end(), {flag, *value});
  }
  return args;
}

}  // namespace r1::cli
