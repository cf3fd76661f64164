#include "backends/common/headers.h"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

using mf::mail::HeaderScanner;
using mf::mail::parse_rfc5322_date;

namespace {

HeaderScanner scan(std::string_view message, std::size_t piece, bool finish = false) {
    HeaderScanner scanner;
    while (!message.empty()) {
        const auto n = std::min(piece, message.size());
        scanner.feed(message.substr(0, n));
        message.remove_prefix(n);
    }
    if (finish) scanner.finish();
    return scanner;
}

} // namespace

TEST_CASE("HeaderScanner picks out Message-ID, Date and the first Received") {
    const std::string message = "Received: from a by b; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
                                "Received: from c by d; Mon, 13 Nov 2023 10:00:00 +0000\r\n"
                                "Subject: hello\r\n"
                                "Message-ID:\r\n"
                                " <abc@\r\n"
                                "\texample.org>\r\n"
                                "DATE : Tue, 14 Nov 2023 22:13:19 +0000 (UTC)\r\n"
                                "Message-ID: <second@example.org>\r\n"
                                "\r\n"
                                "Message-ID: <in-body@example.org>\r\n";
    for (std::size_t piece : {1, 2, 3, 7, 64, 100000}) {
        CAPTURE(piece);
        const auto s = scan(message, piece);
        CHECK(s.done());
        CHECK(s.message_id() == "<abc@example.org>");
        CHECK(s.date() == "Tue, 14 Nov 2023 22:13:19 +0000 (UTC)");
        CHECK(s.received_first_date() == "Tue, 14 Nov 2023 22:13:20 +0000");
        CHECK(s.subject() == "hello");
    }
}

TEST_CASE("HeaderScanner's subject: the first, unfolded, not past the header block") {
    CHECK(scan("Subject:  two\r\n  lines \r\nSubject: second\r\n\r\n", 3).subject() ==
          "two  lines");
    CHECK(scan("From: a\n\nSubject: in the body\n", 5).subject().empty());
    CHECK(scan("Subject: all header", 4, true).subject() == "all header");
}

TEST_CASE("HeaderScanner with LF line ends, odd and missing fields") {
    struct Case {
        std::string message, message_id, date, received;
        bool done;
    };
    const std::vector<Case> cases = {
        {"", "", "", "", false},
        {"\n", "", "", "", true},
        {"\r\n", "", "", "", true},
        {"Message-Id: <x@y>\nDate: 1 Jan 2000 00:00 GMT\n\nbody", "<x@y>", "1 Jan 2000 00:00 GMT",
         "", true},
        {"message-id: no-brackets@y\n\n", "", "", "", true},
        {"Message-ID: <>\n\n", "", "", "", true},
        {"Message-ID: (comment) <a@b> trailing\n\n", "<a@b>", "", "", true},
        {"Received: no semicolon\nReceived: x; Mon, 1 Jan 2001 00:00:00 +0000\n\n", "", "", "",
         true},
        {"Received: a; b; Mon, 1 Jan 2001 00:00:00 +0000\n\n", "", "",
         "Mon, 1 Jan 2001 00:00:00 +0000", true},
        {" leading continuation\nDate: x\n\n", "", "x", "", true},
        {"no colon line\nDate: y\n\n", "", "y", "", true},
        {"Date: a\n\rjunk\nMessage-ID: <m@n>\n\n", "<m@n>", "a", "", true},
        {"From sender Thu Jan  1 00:00:00 1970\nDate: z\n\n", "", "z", "", true},
    };
    for (const auto& c : cases) {
        CAPTURE(c.message);
        const auto s = scan(c.message, 3);
        CHECK(s.done() == c.done);
        CHECK(s.message_id() == c.message_id);
        CHECK(s.date() == c.date);
        CHECK(s.received_first_date() == c.received);
    }
}

TEST_CASE("HeaderScanner: a message that is all header needs finish()") {
    const auto without = scan("Message-ID: <only@header>", 4);
    CHECK_FALSE(without.done());
    CHECK(without.message_id() == "");
    const auto with = scan("Message-ID: <only@header>", 4, true);
    CHECK(with.done());
    CHECK(with.message_id() == "<only@header>");
}

TEST_CASE("HeaderScanner ignores fields longer than its bound") {
    const std::string huge(HeaderScanner::k_max_field + 10, 'x');
    auto s = scan("Message-ID: <" + huge + ">\r\nDate: later\r\nMessage-ID: <ok@x>\r\n\r\n", 4096);
    CHECK(s.message_id() == "<ok@x>");
    CHECK(s.date() == "later");
    // Folded into many short lines, still too long in total.
    std::string folded = "Date: start\r\n";
    for (int i = 0; i < 5000; ++i)
        folded += " 12345\r\n";
    s = scan(folded + "Date: second\r\n\r\n", 1000);
    CHECK(s.date() == "second");
    // A gigantic unwanted field costs nothing and is skipped.
    s = scan("X-Junk: " + std::string(1 << 20, 'j') + "\r\nDate: d\r\n\r\n", 65536);
    CHECK(s.date() == "d");
}

TEST_CASE("parse_rfc5322_date") {
    struct Case {
        std::string text;
        std::optional<std::int64_t> epoch;
    };
    const std::vector<Case> cases = {
        {"Thu, 01 Jan 1970 00:00:00 +0000", 0},
        {"Tue, 14 Nov 2023 22:13:20 +0000", 1700000000},
        {"Tue, 14 Nov 2023 23:13:20 +0100", 1700000000},
        {"Tue, 14 Nov 2023 17:13:20 -0500", 1700000000},
        {"14 Nov 2023 22:13:20 +0000", 1700000000},
        {"Tue,14 Nov 2023 22:13:20 +0000", 1700000000},
        {"  Tue,  14  Nov  2023  22:13:20  +0000  ", 1700000000},
        {"Tue, 14 Nov 2023 22:13:20 GMT", 1700000000},
        {"Tue, 14 Nov 2023 22:13:20 UT", 1700000000},
        {"Tue, 14 Nov 2023 22:13:20 utc", 1700000000},
        {"Tue, 14 Nov 2023 17:13:20 EST", 1700000000},
        {"Tue, 14 Nov 2023 18:13:20 EDT", 1700000000},
        {"Tue, 14 Nov 2023 14:13:20 PST", 1700000000},
        {"Tue, 14 Nov 2023 22:13:20 Z", 1700000000},
        {"Tue, 14 Nov 2023 22:13:20 A", 1700000000},
        {"Tue, 14 Nov 2023 22:13:20 CEST", 1700000000},
        {"Tue, 14 Nov 2023 22:13:20", 1700000000},
        {"Tue, 14 Nov 2023 22:13 +0000", 1699999980},
        {"Tue, 14 Nov 23 22:13:20 +0000", 1700000000},
        {"Thu, 1 Jan 70 00:00:00 +0000", 0},
        {"Fri, 1 Jan 100 00:00:00 +0000", 946684800},
        {"Tue, 14 Nov 2023 22:13:20 +0000 (Coordinated (nested) Universal Time)", 1700000000},
        {"(c)Tue,(c) 14 (c)Nov 2023 22:13:20 +0000", 1700000000},
        {"Tue, 14 Nov 2023 22:13:20 +0000 (unclosed", 1700000000},
        {"Tue, 14 Nov 2023 22:13:20 +0000 (esc \\) aped)", 1700000000},
        {"Tuesday, 14 November 2023 22:13:20 +0000", 1700000000},
        {"tue, 14 nov 2023 22:13:20 +0000", 1700000000},
        {"Tue, 14 Nov 2023\r\n 22:13:20 +0000", 1700000000},
        {"Tue Nov 14 22:13:20 2023", 1700000000},
        {"Tue, 29 Feb 2000 00:00:00 +0000", 951782400},
        {"Sat, 31 Dec 2016 23:59:60 +0000", 1483228800},
        {"Mon, 29 Feb 2021 00:00:00 +0000", std::nullopt},
        {"Mon, 31 Apr 2021 00:00:00 +0000", std::nullopt},
        {"Mon, 0 Apr 2021 00:00:00 +0000", std::nullopt},
        {"Mon, 1 Foo 2021 00:00:00 +0000", std::nullopt},
        {"Mon, 1 Jan 2021 24:00:00 +0000", std::nullopt},
        {"Mon, 1 Jan 2021 12:60:00 +0000", std::nullopt},
        {"Mon, 1 Jan 2021 12:00:61 +0000", std::nullopt},
        {"Mon, 1 Jan 2021 12 +0000", std::nullopt},
        {"Mon, 1 Jan 20211 12:00:00 +0000", std::nullopt},
        {"Mon, 1 Jan 2021 12:00:00 +00", std::nullopt},
        {"Mon, 1 Jan 2021 12:00:00 +0x00", std::nullopt},
        {"Mon, 1 Jan 2021 1:2:3:4 +0000", std::nullopt},
        {"Mon, 999 Jan 2021 12:00:00 +0000", std::nullopt},
        {"", std::nullopt},
        {"   ", std::nullopt},
        {"Mon,", std::nullopt},
        {"garbage", std::nullopt},
        {"(only a comment)", std::nullopt},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        CHECK(parse_rfc5322_date(c.text) == c.epoch);
    }
}

TEST_CASE("property: HeaderScanner does not depend on how the message is cut") {
    std::mt19937 rng(5);
    const std::vector<std::string> pieces = {
        "Date: ", "Message-ID: <", ">", "Received: ", ";", " x", "\r\n", "\n", "\r", " ", "\t", ":",
        "a"};
    for (int round = 0; round < 2000; ++round) {
        std::string message;
        for (int i = rng() % 30; i > 0; --i)
            message += pieces[rng() % pieces.size()];
        const auto whole = scan(message, message.size() + 1, true);
        HeaderScanner cut;
        std::string_view rest = message;
        while (!rest.empty()) {
            const std::size_t n = std::min<std::size_t>(rest.size(), 1 + rng() % 5);
            cut.feed(rest.substr(0, n));
            rest.remove_prefix(n);
        }
        cut.finish();
        CAPTURE(message);
        CHECK(cut.message_id() == whole.message_id());
        CHECK(cut.date() == whole.date());
        CHECK(cut.received_first_date() == whole.received_first_date());
        (void)parse_rfc5322_date(message);
    }
}
