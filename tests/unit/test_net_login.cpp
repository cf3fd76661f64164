// The login mechanism chosen for libcurl (backends/net/login.h) and the
// minimum rate that ends a trickling connection (backends/net/progress.h):
// pure parts of net::Connection, tested without a socket.
#include "backends/net/login.h"
#include "backends/net/progress.h"

#include <doctest/doctest.h>

#include <chrono>

using namespace mf::net;
using namespace std::chrono_literals;

TEST_CASE("login: a password asks for PLAIN, then LOGIN, and may fall back to libcurl's choice") {
    Endpoint e;
    e.password = [] { return std::string("pw"); };
    auto c = choose_login(e);
    CHECK(c.options == "AUTH=PLAIN;AUTH=LOGIN");
    CHECK(c.on_no_match == OnNoMatch::libcurls_choice);
}

TEST_CASE("login: a token asks for OAUTHBEARER or XOAUTH2 and nothing else") {
    Endpoint e;
    e.oauth2_token = []() -> mf::Result<std::string> { return std::string("tok"); };
    auto c = choose_login(e);
    CHECK(c.options == "AUTH=OAUTHBEARER;AUTH=XOAUTH2");
    CHECK(c.on_no_match == OnNoMatch::fail);
}

TEST_CASE("login: --auth forces exactly one mechanism") {
    Endpoint e;
    e.password = [] { return std::string("pw"); };
    e.auth_mechanism = "CRAM-MD5";
    auto c = choose_login(e);
    CHECK(c.options == "AUTH=CRAM-MD5");
    CHECK(c.on_no_match == OnNoMatch::fail);
}

TEST_CASE("login: known mechanisms, any case") {
    CHECK(known_mechanism("plain") == "PLAIN");
    CHECK(known_mechanism("XOAuth2") == "XOAUTH2");
    CHECK(known_mechanism("scram-sha-256") == "SCRAM-SHA-256");
    CHECK(known_mechanism("BOGUS") == "");
    CHECK(known_mechanism("") == "");
    CHECK(known_mechanism("PLAIN;AUTH=NTLM") == ""); // no smuggling a second option
}

TEST_CASE("login: mechanisms a server announces") {
    auto imap = offered_mechanisms(Protocol::imap,
                                   "* CAPABILITY IMAP4 IMAP4rev1 AUTH=NTLM AUTH=GSSAPI AUTH=plain");
    CHECK(imap.is_list);
    CHECK(imap.mechanisms == std::vector<std::string>{"NTLM", "GSSAPI", "PLAIN"});
    auto greeting =
        offered_mechanisms(Protocol::imap, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready");
    CHECK(greeting.mechanisms == std::vector<std::string>{"PLAIN"});
    auto none = offered_mechanisms(Protocol::imap, "* CAPABILITY IMAP4rev1 LOGINDISABLED");
    CHECK(none.is_list);
    CHECK(none.mechanisms.empty());
    CHECK_FALSE(offered_mechanisms(Protocol::imap, "A001 OK done").is_list);
    auto pop = offered_mechanisms(Protocol::pop3, "SASL PLAIN LOGIN");
    CHECK(pop.mechanisms == std::vector<std::string>{"PLAIN", "LOGIN"});
    CHECK_FALSE(offered_mechanisms(Protocol::pop3, "UIDL").is_list);
}

TEST_CASE("login: which client lines begin a login") {
    CHECK(begins_login(Protocol::imap, "A002 AUTHENTICATE PLAIN"));
    CHECK(begins_login(Protocol::imap, "A002 login user pass"));
    CHECK_FALSE(begins_login(Protocol::imap, "A001 CAPABILITY"));
    CHECK_FALSE(begins_login(Protocol::imap, "A001 STARTTLS"));
    CHECK(begins_login(Protocol::pop3, "AUTH PLAIN"));
    CHECK(begins_login(Protocol::pop3, "USER u"));
    CHECK(begins_login(Protocol::pop3, "APOP u d41d8"));
    CHECK_FALSE(begins_login(Protocol::pop3, "CAPA"));
    CHECK_FALSE(begins_login(Protocol::pop3, "STLS"));
}

TEST_CASE("progress: a trickle ends after one window; a slow transfer does not") {
    ProgressGuard trickle(2s); // --timeout 2: 256 bytes per window
    CHECK(trickle.needed() == 2 * k_min_bytes_per_second);
    CHECK(trickle.record(500ms, 1));
    CHECK(trickle.record(500ms, 1));
    CHECK(trickle.record(500ms, 1));
    CHECK_FALSE(trickle.record(500ms, 1)); // 4 bytes in 2 s

    ProgressGuard slow(1s); // 1 KB/s with --timeout 1, for a long time
    for (int i = 0; i < 10000; ++i)
        REQUIRE(slow.record(1ms, 1));
}

TEST_CASE("progress: a burst then a pause within one window is fine") {
    ProgressGuard g(60s);
    CHECK(g.record(1s, 1 << 20));
    CHECK(g.record(58s, 10));
    CHECK(g.record(2s, 10)); // the window closes with enough: the next starts
    CHECK(g.bytes() == 0);
}

TEST_CASE("progress: a slow answer of a few bytes is judged when they arrive") {
    ProgressGuard g(2s);
    CHECK(g.record(100ms, 73));    // then silence: the stall rule's business
    CHECK_FALSE(g.record(2s, 10)); // 83 bytes in 2.1 s of waiting
}

TEST_CASE("progress: a new command starts a new window") {
    ProgressGuard g(2s);
    CHECK(g.record(1900ms, 20)); // a server thinking, then a short answer
    g.restart();
    CHECK(g.record(1900ms, 20)); // and again: not a trickle
    CHECK_FALSE(g.record(200ms, 1));
}
