// The servers' words that ask for a wait or say a token expired
// (backends/imap/session.cpp): what makes a refusal the session's, not the
// messages' or the folder's.
#include "backends/imap/session.h"

#include <doctest/doctest.h>

using mf::imap::asks_to_wait;
using mf::imap::says_token_expired;
using mf::imap::suggested_backoff;

TEST_CASE("throttling answers ask for a wait; refusals do not") {
    struct Case {
        const char* text;
        bool wait;
    };
    for (const auto& c : std::initializer_list<Case>{
             {"[THROTTLED] Request is throttled. Suggested Backoff Time: 1200 milliseconds", true},
             {"Request is throttled. Suggested Backoff Time: 30000 milliseconds", true},
             {"[OVERQUOTA] Account exceeded command or bandwidth limits. (Failure)", true},
             {"Account exceeded command or bandwidth limits. (Failure)", true},
             {"[OVERQUOTA] Quota exceeded (mailbox for user is full)", false},
             {"[UNAVAILABLE] Message unavailable", false},
             {"[LIMIT] Mail size is larger than the maximum size allowed", false},
         }) {
        CAPTURE(c.text);
        CHECK(asks_to_wait(c.text) == c.wait);
    }
    CHECK(suggested_backoff("Request is throttled. Suggested Backoff Time: 1200 milliseconds") ==
          std::chrono::milliseconds(1200));
}

TEST_CASE("a BYE says the token expired only in Exchange Online's words") {
    CHECK(says_token_expired("Session invalidated - AccessTokenExpired"));
    CHECK_FALSE(says_token_expired("Session expired, please login again."));
    CHECK_FALSE(says_token_expired("Connection closed. 14"));
}
