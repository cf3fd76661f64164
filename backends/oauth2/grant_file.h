// The stored grant: one account's refresh token and the settings it was
// issued under, as a small JSON file only its owner can read. Written
// atomically (fs::replace_file), so a crash while a rotated refresh token
// is saved leaves the old token or the new one, never half of either.
#pragma once

#include "sync/result.h"

#include <string>

namespace mf::oauth2 {

struct Grant {
    std::string provider;
    std::string user;
    std::string refresh_token;
    // What the token was issued to: a refresh token works only with the
    // client that got it, so a later run uses these unless told otherwise.
    std::string client_id;
    std::string token_url;
    std::string scope;
};

// "$config/mailferry/oauth2/microsoft-user@example.com.json"; `config` is
// $XDG_CONFIG_HOME or ~/.config. A user that cannot be a file name (a '/',
// a leading '.') is a usage failure.
Result<std::string> default_grant_path(const std::string& config, const std::string& provider,
                                       const std::string& user);

// Missing file: ErrorKind::not_found. Readable by others: usage.
Result<Grant> load_grant(const std::string& path);
// Creates the directory 0700 if missing; the file is 0600.
Status save_grant(const std::string& path, const Grant& grant);

} // namespace mf::oauth2
