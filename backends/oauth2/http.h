// One HTTP POST of a form to an authorization server, through libcurl. The
// body sent and received holds secrets (codes, tokens, the client secret):
// nothing here traces or logs either.
#pragma once

#include "sync/result.h"

#include <functional>
#include <string>

namespace mf::oauth2 {

struct HttpReply {
    long status = 0;
    std::string body;
};

// Posts `form` (already encoded) to `url`. A reply of any status is a
// reply (OAuth2 errors come as 400 with a JSON body); a failure to talk to
// the server, or an HTTP 5xx, is a Failure (ErrorKind::connect or tls,
// session scope).
using HttpPost = std::function<Result<HttpReply>(const std::string& url, const std::string& form)>;

// The real one: libcurl, the system's CA store, `timeout_seconds` for the
// whole exchange.
HttpPost curl_post(int timeout_seconds);

} // namespace mf::oauth2
