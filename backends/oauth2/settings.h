// Which authorization server to ask, as which app, for what: the settings
// of one provider. Defaults for the known providers are in settings.cpp,
// with the sources they come from; every field can be overridden.
#pragma once

#include "sync/result.h"

#include <optional>
#include <string>
#include <string_view>

namespace mf::oauth2 {

enum class Flow {
    device, // RFC 8628: a code the user types in on another device (Microsoft)
    code,   // RFC 6749 4.1 + PKCE (RFC 7636), loopback redirect (RFC 8252) (Google)
};

struct Settings {
    std::string provider; // "microsoft", "google"
    Flow flow = Flow::device;
    std::string token_url;     // RFC 6749 3.2
    std::string device_url;    // RFC 8628 3.1 (device flow only)
    std::string auth_url;      // RFC 6749 3.1 (code flow only)
    std::string client_id;     // "" = none built in: the user registers an app
    std::string client_secret; // "" = a public client; never printed
    std::string scope;         // space-separated
};

// The built-in settings of a provider by name, or nothing for an unknown one.
std::optional<Settings> provider_defaults(std::string_view name);
// "microsoft, google": for messages.
std::string known_providers();

// An endpoint must be https://; http:// only to 127.0.0.1 (a local test
// server), where nothing crosses a network.
Status check_endpoint(const std::string& url, const std::string& what);

} // namespace mf::oauth2
