// Folder names in commands (quoted, or a literal where a quoted string
// cannot carry them: RFC 3501 section 9), the literals a command holds, and
// UTF-8 names under UTF8=ACCEPT (RFC 6855).
#include "backends/imap/fetch.h"
#include "backends/imap/mutf7.h"
#include "backends/imap/session.h"
#include "backends/imap/source.h"

#include <doctest/doctest.h>

#include <string>

using namespace mf::imap;

TEST_CASE("a folder name is quoted when it can be, a literal when 8-bit, CR or LF") {
    struct Case {
        std::string raw, argument;
    };
    const Case cases[] = {
        {"INBOX", "\"INBOX\""},
        {"a\"b", "\"a\\\"b\""},
        {"Entw\xfc"
         "rfe",
         "{8}\r\nEntw\xfc"
         "rfe"},
        {"Re\xc3\xa7us", "{6}\r\nRe\xc3\xa7us"},
        {"nl\r\nname", "{8}\r\nnl\r\nname"},
        {"{5}", "\"{5}\""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.raw);
        auto arg = mailbox_argument(c.raw);
        REQUIRE(arg);
        CHECK(*arg == c.argument);
    }
    CHECK_FALSE(mailbox_argument(std::string("a\0b", 3)));
}

TEST_CASE("the literals of a command are found by their heads and skipped by their sizes") {
    auto none = command_literals("EXAMINE \"INBOX\" (CONDSTORE)");
    REQUIRE(none);
    CHECK(none->empty());

    // The octets of a literal may hold what looks like another head.
    const std::string command = "STATUS {7}\r\nx{1}\r\ny\r (MESSAGES)";
    auto one = command_literals(command);
    REQUIRE(one);
    REQUIRE(one->size() == 1);
    CHECK(command[(*one)[0].close] == '}');
    CHECK((*one)[0].data == 12);
    CHECK((*one)[0].size == 7);

    const std::string two = "X {1}\r\na {2}\r\nbc";
    auto both = command_literals(two);
    REQUIRE(both);
    CHECK(both->size() == 2);

    CHECK_FALSE(command_literals("A\r\nB"));         // a line break that is no literal's head
    CHECK_FALSE(command_literals("A {9}\r\nshort")); // fewer octets than announced
    CHECK_FALSE(command_literals("A {x}\r\nb"));
}

TEST_CASE("UTF-8 names are checked for well-formedness") {
    CHECK(valid_utf8(""));
    CHECK(valid_utf8("Re\xc3\xa7us"));
    CHECK(valid_utf8("\xe6\x97\xa5\xe6\x9c\xac"));
    CHECK(valid_utf8("\xef\xbf\xbd")); // U+FFFD itself
    CHECK(valid_utf8("a&AOk-b"));      // modified UTF-7 is plain text in UTF-8
    CHECK_FALSE(valid_utf8("Entw\xfc"
                           "rfe"));          // ISO-8859-1
    CHECK_FALSE(valid_utf8("\xc0\xaf"));     // overlong
    CHECK_FALSE(valid_utf8("\xed\xa0\x80")); // a surrogate
    CHECK_FALSE(valid_utf8("\xc3"));         // cut short
}
