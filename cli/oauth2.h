// Built-in OAuth2 logins for the command line: `mailferry login`, which
// stores a refresh token, and --oauth2 PROVIDER, which turns the stored
// login into an access token for each connection. The protocol itself is in
// backends/oauth2/.
#pragma once

#include "backends/net/endpoint.h"
#include "cli/credentials.h"
#include "sync/result.h"

#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace mf::cli {

struct LoginArgs {
    std::string provider; // --oauth2
    std::string user;     // --user ADDRESS
    std::string token_file;
    OAuth2Settings settings;
    int timeout = 60;
};

int run_login(const LoginArgs& args);

// --oauth2 PROVIDER: reads the stored login now and gets the first access
// token, so that a revoked login fails before anything connects.
Status attach_oauth2(const CredentialOptions& options, net::Endpoint& endpoint);

// The command line: `login`, and the options every command that connects
// takes. `side` is "" or "source-"/"target-" for migrate, restore and mirror;
// the settings (URLs, client) are given once for both sides.
void add_login(CLI::App& app, LoginArgs& args, int& code);
void add_oauth2_options(CLI::App& cmd, CredentialOptions& options, const std::string& side);
void add_oauth2_settings(CLI::App& cmd, OAuth2Settings& settings);

// A job's OAuth2 options as command-line options, for `run` (jobs.cpp).
// The settings may come once for each side: the command line takes the last.
using OptionSink = std::function<void(const std::string& name, const std::string& value)>;
void oauth2_arguments(const std::string& side, const CredentialOptions& options,
                      const OptionSink& option);

} // namespace mf::cli
