#include "backends/oauth2/access_tokens.h"

#include "backends/oauth2/replies.h"

#include <algorithm>

namespace mf::oauth2 {

AccessTokens::AccessTokens(Settings settings, std::string grant_path, Grant grant, HttpPost post,
                           Now now)
    : m_settings(std::move(settings)), m_path(std::move(grant_path)), m_grant(std::move(grant)),
      m_post(std::move(post)), m_now(std::move(now)) {}

Result<std::string> AccessTokens::get() {
    std::lock_guard lock(m_mutex);
    if (!m_token.empty() && m_now() < m_good_until) return m_token;
    return refresh();
}

void AccessTokens::expired() {
    std::lock_guard lock(m_mutex);
    m_token.clear();
}

Result<std::string> AccessTokens::refresh() {
    Form form{{"grant_type", "refresh_token"},
              {"refresh_token", m_grant.refresh_token},
              {"client_id", m_settings.client_id},
              {"scope", m_settings.scope}};
    if (!m_settings.client_secret.empty())
        form.emplace_back("client_secret", m_settings.client_secret);
    auto reply = m_post(m_settings.token_url, form_encode(form));
    if (!reply) return std::unexpected(reply.error());
    auto token = parse_token_reply(reply->body);
    if (!token) return std::unexpected(token.error());
    const std::string who = m_grant.user + " at " + m_settings.provider;
    // RFC 6749 5.2: invalid_grant is a refresh token revoked, expired, or
    // issued to another client. Only a new login helps.
    if (token->error == "invalid_grant")
        return fail(
            ErrorKind::auth, Scope::account,
            "the OAuth2 login of " + who + " was revoked or has expired" +
                (token->error_description.empty() ? "" : " (" + token->error_description + ")"));
    if (!token->error.empty())
        return fail(
            ErrorKind::auth, Scope::account,
            "the " + m_settings.provider + " token endpoint refused to refresh the login of " +
                who + ": " + token->error +
                (token->error_description.empty() ? "" : " (" + token->error_description + ")"));
    if (!token->refresh_token.empty() && token->refresh_token != m_grant.refresh_token)
        if (auto s = keep_rotated(token->refresh_token); !s) return std::unexpected(s.error());
    m_token = token->access_token;
    // A token that says nothing of its lifetime is used for one connection.
    auto lifetime = std::chrono::seconds(token->expires_in);
    auto margin = std::max<std::chrono::seconds>(k_expiry_margin, lifetime / 10);
    m_good_until = lifetime > margin ? m_now() + lifetime - margin : m_now();
    return m_token;
}

// Microsoft rotates refresh tokens on every use; the old one stays valid
// for a while, but only the newest is sure to. Kept before the access token
// is used, so a crash after this line loses nothing.
Status AccessTokens::keep_rotated(const std::string& refresh_token) {
    Grant next = m_grant;
    next.refresh_token = refresh_token;
    if (auto s = save_grant(m_path, next); !s) return s;
    m_grant = std::move(next);
    return {};
}

} // namespace mf::oauth2
