// Access tokens for one account, from its stored refresh token: one per
// connection, kept in memory until shortly before it expires, shared by all
// the worker threads of a run. A rotated refresh token replaces the stored
// one at once. Nothing here ever prints a token.
#pragma once

#include "backends/oauth2/grant_file.h"
#include "backends/oauth2/http.h"
#include "backends/oauth2/settings.h"

#include <chrono>
#include <functional>
#include <mutex>
#include <string>

namespace mf::oauth2 {

// A token is not handed out in its last minutes (five, or a tenth of its
// lifetime if that is more): a connection that logs in with it must not meet
// its end during the login, and a server's clock may be ahead of ours. A
// session that outlives its token (Exchange Online ends it with
// AccessTokenExpired) gets a fresh one when the engine reconnects.
inline constexpr std::chrono::seconds k_expiry_margin{300};

class AccessTokens {
  public:
    using Now = std::function<std::chrono::steady_clock::time_point()>;
    AccessTokens(Settings settings, std::string grant_path, Grant grant, HttpPost post,
                 Now now = std::chrono::steady_clock::now);

    // A valid access token, refreshed when needed. A revoked or expired
    // grant (invalid_grant) is ErrorKind::auth, Scope::account, saying that
    // the login must be run again; an unreachable server is a session failure.
    Result<std::string> get();
    // The server said the token expired (AccessTokenExpired): the next get()
    // refreshes, whatever our clock says of it. Another thread's refresh
    // made meanwhile is dropped too; that costs one more refresh, no more.
    void expired();

  private:
    Result<std::string> refresh();
    Status keep_rotated(const std::string& refresh_token);

    Settings m_settings;
    std::string m_path;
    Grant m_grant;
    HttpPost m_post;
    Now m_now;
    std::mutex m_mutex;
    std::string m_token;
    std::chrono::steady_clock::time_point m_good_until{};
};

} // namespace mf::oauth2
