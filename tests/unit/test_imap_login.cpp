// The capabilities a server sends with its answer to the login, which spare
// each connection a CAPABILITY round trip (backends/imap/session.cpp).
#include "backends/imap/session.h"

#include <doctest/doctest.h>

using mf::imap::login_capabilities;

namespace {

using Lines = std::vector<std::string>;

} // namespace

TEST_CASE("login capabilities: an untagged CAPABILITY before the tagged OK (Dovecot)") {
    auto caps = login_capabilities(
        Lines{"* CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE literal+ ESEARCH LIST-STATUS",
              "A002 OK Logged in"});
    REQUIRE(caps);
    CHECK(caps->contains("IMAP4REV1"));
    CHECK(caps->contains("LITERAL+"));
    CHECK(caps->contains("LIST-STATUS"));
    CHECK(caps->size() == 8);
}

TEST_CASE("login capabilities: a CAPABILITY code in the tagged OK (RFC 9051 6.2.3)") {
    auto caps =
        login_capabilities(Lines{"A002 OK [CAPABILITY IMAP4rev2 CONDSTORE] LOGIN completed"});
    REQUIRE(caps);
    CHECK(*caps == std::set<std::string>{"IMAP4REV2", "CONDSTORE"});
}

TEST_CASE("login capabilities: none given, so the session must ask") {
    CHECK_FALSE(login_capabilities(Lines{"A002 OK Logged in"}));
    CHECK_FALSE(login_capabilities(Lines{}));
    // Not the answer to a login that worked.
    CHECK_FALSE(login_capabilities(
        Lines{"* CAPABILITY IMAP4rev1 ESEARCH", "A002 NO [AUTHENTICATIONFAILED] no"}));
    // No tagged answer at all: cut short (or too long to be kept).
    CHECK_FALSE(login_capabilities(Lines{"* CAPABILITY IMAP4rev1 ESEARCH"}));
    // A list that does not even name IMAP: not to be trusted over asking.
    CHECK_FALSE(login_capabilities(Lines{"* CAPABILITY ESEARCH", "A002 OK Logged in"}));
    CHECK_FALSE(login_capabilities(Lines{"A002 OK [CAPABILITY] Logged in"}));
}

TEST_CASE("login capabilities: malformed lines never count") {
    CHECK_FALSE(login_capabilities(Lines{"* CAPABILITY (IMAP4rev1 LITERAL+", "A002 OK Logged in"}));
    CHECK_FALSE(login_capabilities(Lines{"* CAPABILITY {8}", "A002 OK Logged in"}));
    CHECK_FALSE(
        login_capabilities(Lines{"garbage without a tag", "A002 OK [CAPABILITY IMAP4rev1] x"}));
}

TEST_CASE("login capabilities: the last tagged line is the login's answer") {
    // libcurl passes over a tagged line that is not its own; the last one is.
    auto caps = login_capabilities(Lines{"* CAPABILITY IMAP4rev1 EARLY", "X9 OK stray",
                                         "A003 OK [CAPABILITY IMAP4rev1 REAL] Logged in"});
    REQUIRE(caps);
    CHECK(caps->contains("REAL"));
    CHECK_FALSE(caps->contains("EARLY"));
    CHECK_FALSE(
        login_capabilities(Lines{"* CAPABILITY IMAP4rev1 X", "X9 OK stray", "A003 NO failed"}));
}

TEST_CASE("login capabilities: the last list given wins, other answers are passed over") {
    auto caps = login_capabilities(Lines{"* CAPABILITY IMAP4rev1 OLD", "* OK [ALERT] welcome",
                                         "* CAPABILITY IMAP4rev1 NEW", "A002 OK Logged in"});
    REQUIRE(caps);
    CHECK(caps->contains("NEW"));
    CHECK_FALSE(caps->contains("OLD"));
}
