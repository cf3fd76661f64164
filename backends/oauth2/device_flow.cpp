#include "backends/oauth2/device_flow.h"

namespace mf::oauth2 {

namespace {

Failure refused(const TokenReply& r, const std::string& provider) {
    std::string what;
    if (r.error == "access_denied")
        what = "the sign-in was declined";
    else if (r.error == "expired_token")
        what = "the code expired before the sign-in was completed; run the login again";
    else
        what = "the " + provider + " token endpoint answered " + r.error;
    if (!r.error_description.empty()) what += " (" + r.error_description + ")";
    return Failure{ErrorKind::auth, Scope::account, what};
}

Form client(const Settings& s) {
    Form f{{"client_id", s.client_id}};
    if (!s.client_secret.empty()) f.emplace_back("client_secret", s.client_secret);
    return f;
}

Result<DeviceGrant> ask_for_code(const Settings& s, const HttpPost& post) {
    Form form = client(s);
    form.emplace_back("scope", s.scope);
    auto reply = post(s.device_url, form_encode(form));
    if (!reply) return std::unexpected(reply.error());
    return parse_device_grant(reply->body);
}

} // namespace

Result<TokenReply> run_device_flow(const Settings& s, const HttpPost& post,
                                   const DeviceFlowHooks& hooks) {
    auto grant = ask_for_code(s, post);
    if (!grant) return std::unexpected(grant.error());
    hooks.show(*grant);
    Form form = client(s);
    form.emplace_back("grant_type", "urn:ietf:params:oauth:grant-type:device_code");
    form.emplace_back("device_code", grant->device_code);
    const std::string body = form_encode(form);
    auto interval = std::chrono::seconds(grant->interval);
    // The server says when the code expires (expired_token); this bound only
    // stops a server that never does. 15 minutes is Microsoft's lifetime.
    auto waited = std::chrono::seconds(0);
    const auto limit = std::chrono::seconds(grant->expires_in > 0 ? grant->expires_in : 900);
    while (waited <= limit) {
        hooks.sleep(interval);
        waited += interval;
        auto reply = post(s.token_url, body);
        if (!reply) return std::unexpected(reply.error());
        auto token = parse_token_reply(reply->body);
        if (!token) return std::unexpected(token.error());
        if (token->error.empty()) return token;
        if (token->error == "authorization_pending") continue;
        // RFC 8628 3.5: slow_down adds 5 seconds to the interval, for good.
        if (token->error == "slow_down") {
            interval += std::chrono::seconds(5);
            continue;
        }
        return std::unexpected(refused(*token, s.provider));
    }
    return fail(ErrorKind::auth, Scope::account,
                "the code expired before the sign-in was completed; run the login again");
}

} // namespace mf::oauth2
