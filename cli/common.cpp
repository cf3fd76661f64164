#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/url.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace mf::cli {

namespace {

const char* kind_name(ErrorKind kind) {
    switch (kind) {
    case ErrorKind::usage: return "usage";
    case ErrorKind::connect: return "connect";
    case ErrorKind::tls: return "tls";
    case ErrorKind::auth: return "auth";
    case ErrorKind::locked: return "locked";
    case ErrorKind::protocol: return "protocol";
    case ErrorKind::local_io: return "local_io";
    case ErrorKind::not_found: return "not_found";
    }
    return "unknown";
}

} // namespace

Result<net::Endpoint> make_endpoint(const ConnectionArgs& args) {
    auto endpoint = parse_account_url(args.url);
    if (!endpoint) return endpoint;
    if (args.allow_plaintext && endpoint->tls == net::TlsMode::starttls) endpoint->tls = net::TlsMode::starttls_optional;
    endpoint->cacert = args.cacert;
    endpoint->insecure = args.insecure;
    endpoint->timeout_seconds = args.timeout;
    if (args.timeout <= 0) return fail(ErrorKind::usage, Scope::account, "--timeout must be at least 1 second");
    if (auto s = attach_credentials(args.credentials, *endpoint); !s) return std::unexpected(s.error());
    return endpoint;
}

int report_failure(const Failure& failure, bool json) {
    int code = exit_code_for(failure.kind);
    std::cerr << "mailferry: " << printable(failure.what) << '\n';
    if (json) {
        nlohmann::json j{{"ok", false},
                         {"exit_code", code},
                         {"error", {{"class", kind_name(failure.kind)}, {"message", failure.what}}}};
        std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    }
    return code;
}

} // namespace mf::cli
