// The device authorization grant (RFC 8628): ask for a code, show it to the
// user, poll the token endpoint until the user has approved or refused, or
// the code has expired.
#pragma once

#include "backends/oauth2/http.h"
#include "backends/oauth2/replies.h"
#include "backends/oauth2/settings.h"

#include <chrono>
#include <functional>

namespace mf::oauth2 {

struct DeviceFlowHooks {
    std::function<void(const DeviceGrant&)> show; // print the URL and the code
    std::function<void(std::chrono::seconds)> sleep;
};

// The tokens once the user has approved. A refusal (access_denied) or an
// expired code (expired_token) is an auth failure saying so.
Result<TokenReply> run_device_flow(const Settings& settings, const HttpPost& post,
                                   const DeviceFlowHooks& hooks);

} // namespace mf::oauth2
