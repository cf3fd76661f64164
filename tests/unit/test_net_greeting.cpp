// The first contact with a port (backends/net/greeting.h): the other
// protocol's greeting, and which silent ports are taken for TLS.
#include "backends/net/greeting.h"

#include <doctest/doctest.h>

using namespace mf::net;

TEST_CASE("greeting: POP3's greeting is foreign to IMAP and IMAP's to POP3") {
    CHECK(foreign_greeting(Protocol::imap, "+OK Dovecot ready.") == "POP3 (+OK)");
    CHECK(foreign_greeting(Protocol::imap, "-ERR too many connections") == "POP3 (-ERR)");
    CHECK(foreign_greeting(Protocol::imap, "* OK [CAPABILITY IMAP4rev1] ready").empty());
    CHECK(foreign_greeting(Protocol::imap, "* PREAUTH logged in").empty());
    CHECK(foreign_greeting(Protocol::pop3, "* OK [CAPABILITY IMAP4rev1] ready") == "IMAP (* OK)");
    CHECK(foreign_greeting(Protocol::pop3, "* BYE busy") == "IMAP (* BYE)");
    CHECK(foreign_greeting(Protocol::pop3, "+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>")
              .empty());
    CHECK(foreign_greeting(Protocol::pop3, "-ERR busy").empty());
}

TEST_CASE("greeting: only a plain URL at the registered TLS port gives up early") {
    CHECK(silent_port_expects_tls(Protocol::imap, TlsMode::starttls, 993));
    CHECK(silent_port_expects_tls(Protocol::pop3, TlsMode::starttls_optional, 995));
    CHECK_FALSE(silent_port_expects_tls(Protocol::imap, TlsMode::implicit, 993));
    CHECK_FALSE(silent_port_expects_tls(Protocol::imap, TlsMode::starttls, 143));
    CHECK_FALSE(silent_port_expects_tls(Protocol::imap, TlsMode::starttls, 995));
    CHECK_FALSE(silent_port_expects_tls(Protocol::pop3, TlsMode::starttls, 10993));
}

TEST_CASE("greeting: the hint names TLS only where a plain URL was given") {
    Endpoint e;
    e.port = 993;
    CHECK(no_greeting_hint(e, 2) == "port 993 sent no greeting in 2 s; it may expect TLS: "
                                    "use imaps://");
    e.tls = TlsMode::implicit;
    CHECK(no_greeting_hint(e, 60) == "port 993 sent no greeting in 60 s");
}
