#include "cli/oauth2.h"

#include "backends/oauth2/access_tokens.h"
#include "backends/oauth2/code_flow.h"
#include "backends/oauth2/device_flow.h"
#include "backends/oauth2/grant_file.h"
#include "cli/commands.h"
#include "cli/output.h"

#include <cstdlib>
#include <iostream>
#include <memory>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>

extern char** environ;

namespace mf::cli {

namespace {

Failure usage(std::string what) {
    return Failure{ErrorKind::usage, Scope::account, std::move(what)};
}

Result<std::string> config_home() {
    if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return std::string(x);
    if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.config";
    return std::unexpected(
        usage("neither XDG_CONFIG_HOME nor HOME is set: give --oauth2-token-file PATH"));
}

Result<std::string> grant_path(const std::string& provider, const std::string& user,
                               const std::string& given) {
    if (!given.empty()) return given;
    auto config = config_home();
    if (!config) return std::unexpected(config.error());
    return oauth2::default_grant_path(*config, provider, user);
}

// What to run to log in again, as the user would type it.
std::string login_command(const std::string& provider, const std::string& user,
                          const std::string& token_file) {
    return "mailferry login --oauth2 " + provider + " --user " + user +
           (token_file.empty() ? "" : " --oauth2-token-file " + token_file);
}

// Built-in defaults, then what the stored login was issued under, then what
// the command line or job file says.
Result<oauth2::Settings> settings_for(const std::string& provider, const OAuth2Settings& given,
                                      const oauth2::Grant* stored) {
    auto s = oauth2::provider_defaults(provider);
    if (!s)
        return std::unexpected(usage("unknown OAuth2 provider '" + provider +
                                     "' (known: " + oauth2::known_providers() + ")"));
    auto set = [](std::string& field, const std::string& value) {
        if (!value.empty()) field = value;
    };
    if (stored) {
        set(s->client_id, stored->client_id);
        set(s->token_url, stored->token_url);
        set(s->scope, stored->scope);
    }
    set(s->token_url, given.token_url);
    set(s->device_url, given.device_url);
    set(s->auth_url, given.auth_url);
    set(s->client_id, given.client_id);
    set(s->scope, given.scope);
    if (!given.client_secret_file.empty()) {
        auto secret = read_secret_file(given.client_secret_file);
        if (!secret) return std::unexpected(secret.error());
        s->client_secret = std::move(*secret);
    }
    if (auto ok = oauth2::check_endpoint(s->token_url, "token URL"); !ok)
        return std::unexpected(ok.error());
    return *s;
}

// An auth failure of a stored login says how to mend it.
Failure with_hint(Failure f, const std::string& command) {
    if (f.kind == ErrorKind::auth) f.what += "; to sign in again, run: " + command;
    return f;
}

} // namespace

Status attach_oauth2(const CredentialOptions& o, net::Endpoint& endpoint) {
    const std::string user = endpoint.user;
    auto path = grant_path(o.oauth2, user, o.oauth2_token_file);
    if (!path) return std::unexpected(path.error());
    const std::string again = login_command(o.oauth2, user, o.oauth2_token_file);
    auto grant = oauth2::load_grant(*path);
    if (!grant && grant.error().kind == ErrorKind::not_found)
        return fail(ErrorKind::auth, Scope::account,
                    "no OAuth2 login of " + user + " at " + o.oauth2 + " is stored (" + *path +
                        "); run: " + again);
    if (!grant) return std::unexpected(grant.error());
    if (!grant->provider.empty() && grant->provider != o.oauth2)
        return fail(ErrorKind::usage, Scope::account,
                    *path + " holds a " + grant->provider + " login, not a " + o.oauth2 + " one");
    auto settings = settings_for(o.oauth2, o.oauth2_settings, &*grant);
    if (!settings) return std::unexpected(settings.error());
    auto tokens =
        std::make_shared<oauth2::AccessTokens>(std::move(*settings), *path, std::move(*grant),
                                               oauth2::curl_post(endpoint.timeout_seconds));
    // The first token now: a revoked login fails before the archive is opened.
    if (auto first = tokens->get(); !first) return std::unexpected(with_hint(first.error(), again));
    endpoint.oauth2_token = [tokens, again]() -> Result<std::string> {
        auto token = tokens->get();
        if (!token) return std::unexpected(with_hint(token.error(), again));
        return token;
    };
    endpoint.oauth2_token_expired = [tokens] { tokens->expired(); };
    return {};
}

namespace {

// A browser where there is a screen; never where there is none (a server
// over ssh), where xdg-open would start a text browser in our terminal.
void open_browser(const std::string& url) {
    const char* display = std::getenv("DISPLAY");
    const char* wayland = std::getenv("WAYLAND_DISPLAY");
    if (!(display && *display) && !(wayland && *wayland)) return;
    std::string program = "xdg-open";
    char* argv[] = {program.data(), const_cast<char*>(url.c_str()), nullptr};
    pid_t pid = 0;
    if (::posix_spawnp(&pid, "xdg-open", nullptr, nullptr, argv, environ) == 0) {
        int status = 0;
        ::waitpid(pid, &status, 0);
    }
}

Result<oauth2::TokenReply> sign_in(const oauth2::Settings& s, const LoginArgs& a) {
    auto post = oauth2::curl_post(a.timeout);
    if (s.flow == oauth2::Flow::device) {
        if (auto ok = oauth2::check_endpoint(s.device_url, "device URL"); !ok)
            return std::unexpected(ok.error());
        oauth2::DeviceFlowHooks hooks;
        hooks.show = [&a](const oauth2::DeviceGrant& g) {
            std::cout << "To sign in as " << printable(a.user) << ", open "
                      << printable(g.verification_uri) << " in a browser and enter the code "
                      << printable(g.user_code) << std::endl;
        };
        hooks.sleep = [](std::chrono::seconds d) { std::this_thread::sleep_for(d); };
        return oauth2::run_device_flow(s, post, hooks);
    }
    if (auto ok = oauth2::check_endpoint(s.auth_url, "authorization URL"); !ok)
        return std::unexpected(ok.error());
    oauth2::CodeFlowHooks hooks;
    hooks.login_hint = a.user;
    hooks.show = [&a](const std::string& url) {
        std::cout << "To sign in as " << printable(a.user) << ", open this URL in a browser:\n"
                  << url << std::endl;
        open_browser(url);
    };
    return oauth2::run_code_flow(s, post, hooks);
}

Status log_in(const LoginArgs& a) {
    auto path = grant_path(a.provider, a.user, a.token_file);
    if (!path) return std::unexpected(path.error());
    auto s = settings_for(a.provider, a.settings, nullptr);
    if (!s) return std::unexpected(s.error());
    if (s->client_id.empty())
        return std::unexpected(usage(a.provider +
                                     " has no built-in client id: register an app and give "
                                     "--oauth2-client-id and --oauth2-client-secret-file "
                                     "(see OAUTH2 in mailferry(1))"));
    auto reply = sign_in(*s, a);
    if (!reply) return std::unexpected(reply.error());
    if (reply->refresh_token.empty())
        return fail(ErrorKind::auth, Scope::account,
                    "the " + a.provider +
                        " server gave no refresh token (for Microsoft, --oauth2-scope must "
                        "include offline_access)");
    oauth2::Grant grant{a.provider,   a.user,       reply->refresh_token,
                        s->client_id, s->token_url, s->scope};
    if (auto saved = oauth2::save_grant(*path, grant); !saved) return saved;
    std::cout << "Signed in: the login of " << printable(a.user) << " is stored in "
              << printable(*path) << std::endl;
    return {};
}

} // namespace

int run_login(const LoginArgs& a) {
    if (a.timeout <= 0) return report_failure(usage("--timeout must be at least 1 second"), false);
    auto done = log_in(a);
    return done ? 0 : report_failure(done.error(), false);
}

} // namespace mf::cli
