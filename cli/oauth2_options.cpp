// The OAuth2 options, for CLI11. Documented in man/mailferry.1 (OPTIONS and
// OAUTH2); test_manpage checks that every one is there.
#include "backends/oauth2/settings.h"
#include "cli/oauth2.h"

#include <CLI/CLI.hpp>

namespace mf::cli {

namespace {

CLI::Validator provider_name() {
    return CLI::Validator(
        [](std::string& value) {
            return oauth2::provider_defaults(value)
                       ? std::string()
                       : "unknown OAuth2 provider '" + value +
                             "' (known: " + oauth2::known_providers() + ")";
        },
        "PROVIDER");
}

} // namespace

void add_oauth2_settings(CLI::App& cmd, OAuth2Settings& s) {
    // A job gives them once for each side of a migration (oauth2_arguments).
    auto last = CLI::MultiOptionPolicy::TakeLast;
    cmd.add_option("--oauth2-token-url", s.token_url,
                   "OAuth2: the provider's token endpoint (default: built in)")
        ->multi_option_policy(last);
    cmd.add_option("--oauth2-device-url", s.device_url,
                   "OAuth2: the device authorization endpoint (Microsoft login; default: built in)")
        ->multi_option_policy(last);
    cmd.add_option("--oauth2-auth-url", s.auth_url,
                   "OAuth2: the authorization endpoint (Google login; default: built in)")
        ->multi_option_policy(last);
    cmd.add_option("--oauth2-client-id", s.client_id, "OAuth2: the registered app's client id")
        ->multi_option_policy(last);
    cmd.add_option(
           "--oauth2-client-secret-file", s.client_secret_file,
           "OAuth2: read the app's client secret from this file (must not be readable by others)")
        ->multi_option_policy(last);
    cmd.add_option("--oauth2-scope", s.scope, "OAuth2: the scopes to ask for, separated by spaces")
        ->multi_option_policy(last);
}

void add_oauth2_options(CLI::App& cmd, CredentialOptions& c, const std::string& side) {
    const std::string whose = side.empty() ? "" : side.substr(0, side.size() - 1) + " ";
    cmd.add_option(
           "--" + side + "oauth2", c.oauth2,
           "Log the " + whose +
               "account in with the OAuth2 login `mailferry login` stored (microsoft, google)")
        ->check(provider_name());
    cmd.add_option("--" + side + "oauth2-token-file", c.oauth2_token_file,
                   "The stored OAuth2 login of the " + whose +
                       "account (default under $XDG_CONFIG_HOME/mailferry/oauth2)");
}

void add_login(CLI::App& app, LoginArgs& a, int& code) {
    auto* cmd = app.add_subcommand(
        "login", "Sign in to Microsoft or Google once, and store the OAuth2 login");
    cmd->add_option("--oauth2", a.provider,
                    "The provider: microsoft (device code) or google (browser)")
        ->required()
        ->check(provider_name());
    cmd->add_option("--user", a.user, "The account, as in its URL: user@example.com")->required();
    cmd->add_option(
        "--oauth2-token-file", a.token_file,
        "Store the login in this file (default under $XDG_CONFIG_HOME/mailferry/oauth2)");
    add_oauth2_settings(*cmd, a.settings);
    cmd->add_option("--timeout", a.timeout, "Seconds to wait for the provider's server")
        ->capture_default_str();
    cmd->callback([&] { code = run_login(a); });
}

} // namespace mf::cli

namespace mf::cli {

void oauth2_arguments(const std::string& side, const CredentialOptions& c,
                      const OptionSink& option) {
    option(side + "oauth2", c.oauth2);
    option(side + "oauth2-token-file", c.oauth2_token_file);
    const auto& s = c.oauth2_settings;
    option("oauth2-token-url", s.token_url);
    option("oauth2-device-url", s.device_url);
    option("oauth2-auth-url", s.auth_url);
    option("oauth2-client-id", s.client_id);
    option("oauth2-client-secret-file", s.client_secret_file);
    option("oauth2-scope", s.scope);
}

} // namespace mf::cli
