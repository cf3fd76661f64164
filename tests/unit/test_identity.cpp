// The header digest that identifies a message without a Message-ID
// (sync/identity.h): the header block only, the empty line included.
#include "sync/identity.h"

#include <doctest/doctest.h>

using namespace mf;

TEST_CASE("the header digest covers the header block and nothing of the body") {
    const std::string head = "Subject: no id\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n";
    CHECK(header_digest(head + "hello\r\n") == header_digest(head + "world\r\n"));
    CHECK(header_digest(head + "hello\r\n") == header_digest(head)); // what BODY[HEADER] gives
    CHECK(header_digest(head) != header_digest("Subject: no id\r\n\r\n"));
    // A message that is all header (no empty line) is digested whole.
    CHECK(header_digest("Subject: x\r\n") != header_digest("Subject: y\r\n"));
}
