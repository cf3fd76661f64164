// Where a password or token comes from. Never argv: only an environment
// variable, a private file, or a command (a keyring, pass, a token helper).
#pragma once

#include "backends/net/endpoint.h"
#include "sync/result.h"

#include <string>

namespace mf::cli {

// Overrides of a provider's OAuth2 settings (backends/oauth2/settings.h);
// "" = the stored login's, else the built-in default.
struct OAuth2Settings {
    std::string token_url, device_url, auth_url;
    std::string client_id;
    std::string client_secret_file; // the secret itself never on the command line
    std::string scope;
};

struct CredentialOptions {
    std::string password_env;
    std::string password_file;
    std::string password_command;
    std::string oauth2_token_command;
    std::string oauth2;            // --oauth2 PROVIDER: the login `mailferry login` stored
    std::string oauth2_token_file; // "" = $XDG_CONFIG_HOME/mailferry/oauth2/PROVIDER-USER.json
    OAuth2Settings oauth2_settings;
};

// Reads the secret once now, so a bad setup fails before anything connects,
// and returns a provider for the endpoint. A token command is run again for
// every connection (tokens expire during long runs).
Status attach_credentials(const CredentialOptions& options, net::Endpoint& endpoint);

// The first line of a command's standard output. A command that fails or
// prints nothing is an error: an empty password is never sent.
Result<std::string> run_secret_command(const std::string& command, const std::string& what);
Result<std::string> read_secret_file(const std::string& path);

} // namespace mf::cli
