#include "cli/commands.h"

#include "backends/net/login.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/url.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace mf::cli {

namespace {

const char* kind_name(ErrorKind kind) {
    switch (kind) {
    case ErrorKind::usage:
        return "usage";
    case ErrorKind::connect:
        return "connect";
    case ErrorKind::tls:
        return "tls";
    case ErrorKind::auth:
        return "auth";
    case ErrorKind::locked:
        return "locked";
    case ErrorKind::protocol:
        return "protocol";
    case ErrorKind::local_io:
        return "local_io";
    case ErrorKind::not_found:
        return "not_found";
    }
    return "unknown";
}

// --auth MECH: a mechanism libcurl knows, and one the credential given can
// serve (XOAUTH2 and OAUTHBEARER take a token, the others a password).
Status choose_auth(const std::string& auth, net::Endpoint& endpoint) {
    if (auth.empty()) return {};
    endpoint.auth_mechanism = net::known_mechanism(auth);
    if (endpoint.auth_mechanism.empty())
        return fail(ErrorKind::usage, Scope::account, unknown_auth_message(auth));
    const bool wants_token =
        endpoint.auth_mechanism == "XOAUTH2" || endpoint.auth_mechanism == "OAUTHBEARER";
    if (wants_token && !endpoint.oauth2_token)
        return fail(ErrorKind::usage, Scope::account,
                    "--auth " + endpoint.auth_mechanism +
                        " needs an OAuth2 token: use --oauth2 PROVIDER or --oauth2-token-command");
    if (!wants_token && endpoint.oauth2_token)
        return fail(ErrorKind::usage, Scope::account,
                    "--auth " + endpoint.auth_mechanism +
                        " needs a password, not an OAuth2 token: use XOAUTH2 or OAUTHBEARER");
    return {};
}

} // namespace

std::string unknown_auth_message(const std::string& auth) {
    std::string known;
    for (const auto& m : net::known_mechanisms())
        known += (known.empty() ? "" : ", ") + m;
    return "unknown login mechanism '" + auth + "' for --auth (known: " + known + ")";
}

Result<net::Endpoint> make_endpoint(const ConnectionArgs& args) {
    auto endpoint = parse_account_url(args.url);
    if (!endpoint) return endpoint;
    if (args.allow_plaintext && endpoint->tls == net::TlsMode::starttls)
        endpoint->tls = net::TlsMode::starttls_optional;
    endpoint->cacert = args.cacert;
    endpoint->insecure = args.insecure;
    endpoint->compress = !args.no_compress;
    endpoint->timeout_seconds = args.timeout;
    if (args.timeout <= 0)
        return fail(ErrorKind::usage, Scope::account, "--timeout must be at least 1 second");
    if (auto s = attach_credentials(args.credentials, *endpoint); !s)
        return std::unexpected(s.error());
    if (auto s = choose_auth(args.auth, *endpoint); !s) return std::unexpected(s.error());
    return endpoint;
}

int report_failure(const Failure& failure, bool json) {
    int code = exit_code_for(failure.kind);
    std::cerr << "mailferry: " << printable(failure.what) << '\n';
    if (json) {
        nlohmann::json j{
            {"ok", false},
            {"exit_code", code},
            {"error", {{"class", kind_name(failure.kind)}, {"message", failure.what}}}};
        std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
    }
    return code;
}

} // namespace mf::cli
