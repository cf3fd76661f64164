// The authorization-code grant with PKCE (RFC 7636) and a loopback redirect
// (RFC 8252 7.3): listen on 127.0.0.1 on a free port, have the user open
// the provider's page, take the code the browser brings back, check the
// state, and exchange the code for tokens.
#pragma once

#include "backends/oauth2/http.h"
#include "backends/oauth2/replies.h"
#include "backends/oauth2/settings.h"

#include <chrono>
#include <functional>
#include <string>

namespace mf::oauth2 {

struct CodeFlowHooks {
    std::function<void(const std::string& url)> show; // print it, maybe open a browser
    std::chrono::seconds wait{300};                   // for the browser to come back
    std::string login_hint;                           // the account
};

Result<TokenReply> run_code_flow(const Settings& settings, const HttpPost& post,
                                 const CodeFlowHooks& hooks);

} // namespace mf::oauth2
