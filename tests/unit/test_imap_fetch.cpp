// FETCH response interpretation, the spelling of flags, dates, UID sets and
// strings in commands, and the message counts of LIST-STATUS (RFC 5819).
#include "backends/imap/fetch.h"
#include "backends/imap/reader.h"
#include "backends/imap/source.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

using namespace mf::imap;

namespace {

class StringStream : public ByteStream {
  public:
    explicit StringStream(std::string data) : m_data(std::move(data)) {}
    mf::Result<std::size_t> read_some(char* buf, std::size_t len) override {
        if (m_pos == m_data.size()) {
            return mf::fail(mf::ErrorKind::connect, mf::Scope::session, "connection closed");
        }
        const std::size_t count = std::min(len, m_data.size() - m_pos);
        m_data.copy(buf, count, m_pos);
        m_pos += count;
        return count;
    }

  private:
    std::string m_data;
    std::size_t m_pos = 0;
};

Response parse(const std::string& line) {
    StringStream stream(line + "\r\n");
    ResponseReader reader(stream);
    auto response = reader.read();
    REQUIRE(response);
    return *response;
}

mf::Flags make_flags(std::uint8_t system, std::vector<std::string> keywords) {
    mf::Flags flags;
    flags.system = system;
    flags.keywords = std::move(keywords);
    return flags;
}

} // namespace

TEST_CASE("parse_fetch reads the items the engine needs") {
    auto data = parse_fetch(parse(
        "* 12 FETCH (UID 7 FLAGS (\\Seen \\Recent) RFC822.SIZE 4523 INTERNALDATE \"17-Jul-1996 "
        "02:44:25 -0700\" MODSEQ (624140003) X-GM-LABELS (\\Inbox) ENVELOPE (NIL \"s\"))"));
    REQUIRE(data);
    CHECK(data->seq == 12);
    CHECK(data->uid == 7u);
    CHECK(data->flags == make_flags(mf::flag_seen, {}));
    CHECK(data->recent);
    CHECK(data->size == 4523u);
    CHECK(data->internal_date == 837596665);
    CHECK(data->modseq == 624140003u);
    CHECK_FALSE(data->header);
    CHECK_FALSE(data->body_streamed);
}

TEST_CASE("parse_fetch takes headers, streamed bodies and odd dates") {
    SUBCASE("header fields literal") {
        auto data = parse_fetch(parse("* 3 FETCH (BODY[HEADER.FIELDS (MESSAGE-ID)] "
                                      "{21}\r\nMessage-ID: <a@b>\r\n\r\n UID 9)"));
        REQUIRE(data);
        CHECK(data->header == "Message-ID: <a@b>\r\n\r\n");
        CHECK(data->uid == 9u);
    }
    SUBCASE("whole header, NIL") {
        auto data = parse_fetch(parse("* 3 FETCH (UID 9 BODY[HEADER] NIL)"));
        REQUIRE(data);
        CHECK(data->header == "");
    }
    SUBCASE("a body that went to a handler") {
        Response response = parse("* 4 FETCH (UID 5 BODY[] X)");
        Value streamed;
        streamed.type = Value::Type::streamed;
        streamed.streamed_size = 10;
        response.items[2].items[3] = streamed;
        auto data = parse_fetch(response);
        REQUIRE(data);
        CHECK(data->body_streamed);
    }
    SUBCASE("an unparseable date does not lose the message") {
        auto data = parse_fetch(parse("* 4 FETCH (UID 5 INTERNALDATE \"yesterday\")"));
        REQUIRE(data);
        CHECK(data->uid == 5u);
        CHECK_FALSE(data->internal_date);
    }
}

TEST_CASE("parse_fetch refuses what is not a well-formed FETCH") {
    for (const char* line : {
             "* 3 EXISTS",
             "* 0 FETCH (UID 1)",
             "* x FETCH (UID 1)",
             "* 3 FETCH UID 1",
             "* 3 FETCH (UID)",
             "* 3 FETCH (UID abc)",
             "* 3 FETCH (UID 0)",
             "* 3 FETCH (UID 4294967296)",
             "* 3 FETCH (FLAGS \\Seen)",
             "* 3 FETCH (MODSEQ 5)",
             "* 3 FETCH (RFC822.SIZE -1)",
             "* 3 FETCH ((UID) 1)",
             "* 3 FETCH (UID 1) extra",
             "A1 OK FETCH done",
             "* OK [UIDVALIDITY 1] x",
         }) {
        CAPTURE(line);
        CHECK_FALSE(parse_fetch(parse(line)));
    }
}

TEST_CASE("flags_from_list maps system flags and keeps keywords") {
    auto flags = flags_from_list(parse("* FLAGS (\\Seen \\ANSWERED \\flagged \\Deleted \\Draft "
                                       "\\Recent \\Junk \\* $Forwarded Junk $Forwarded)")
                                     .items[1]);
    CHECK(flags == make_flags(mf::flag_seen | mf::flag_answered | mf::flag_flagged |
                                  mf::flag_deleted | mf::flag_draft,
                              {"$Forwarded", "Junk"}));
    CHECK(flags_from_list(parse("* FLAGS ()").items[1]) == mf::Flags{});
}

TEST_CASE("flags_to_imap spells flags for STORE and APPEND") {
    struct Case {
        mf::Flags flags;
        std::string imap;
    };
    const std::vector<Case> cases = {
        {make_flags(0, {}), ""},
        {make_flags(mf::flag_seen | mf::flag_flagged, {"kw1"}), "\\Seen \\Flagged kw1"},
        {make_flags(mf::flag_draft | mf::flag_deleted | mf::flag_answered, {}),
         "\\Answered \\Deleted \\Draft"},
        {make_flags(0, {"$Forwarded", "Junk"}), "$Forwarded Junk"},
        // Not atoms: left out rather than breaking (or injecting into) the command.
        {make_flags(mf::flag_seen, {"", "bad kw", "x)", "\\Fake", "a\"b", "caf\xc3\xa9", "{5}"}),
         "\\Seen"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.imap);
        CHECK(flags_to_imap(c.flags) == c.imap);
    }
}

TEST_CASE("internal dates") {
    struct Case {
        std::string text;
        std::optional<std::int64_t> epoch;
    };
    const std::vector<Case> cases = {
        {"17-Jul-1996 02:44:25 -0700", 837596665},
        {"17-Jul-1996 09:44:25 +0000", 837596665},
        {"17-jul-1996 11:14:25 +0130", 837596665},
        {" 7-Jul-1996 02:44:25 -0700", 836732665},
        {"7-Jul-1996 02:44:25 -0700", 836732665},
        {"07-Jul-1996 02:44:25 -0700", 836732665},
        {"29-Feb-2024 17:30:00 +0530", 1709208000},
        {"01-Jan-1970 00:00:00 +0000", 0},
        {"31-Dec-1969 23:59:59 +0000", -1},
        {"01-Jan-1970 00:00:00 +2359", -86340},
        {"01-Jan-1900 00:00:00 +0000", -2208988800},
        {"29-Feb-1900 00:00:00 +0000", std::nullopt},
        {"30-Feb-2024 00:00:00 +0000", std::nullopt},
        {"00-Jan-2024 00:00:00 +0000", std::nullopt},
        {"17-Foo-1996 02:44:25 -0700", std::nullopt},
        {"17-Jul-96 02:44:25 -0700", std::nullopt},
        {"17-Jul-1996 24:00:00 +0000", std::nullopt},
        {"17-Jul-1996 02:60:00 +0000", std::nullopt},
        {"17-Jul-1996 02:44:25", std::nullopt},
        {"17-Jul-1996 02:44:25 0700", std::nullopt},
        {"17-Jul-1996 02:44:25 +2400", std::nullopt},
        {"17-Jul-1996 02:44:25 +0060", std::nullopt},
        {"17-Jul-1996 02:44:25 +0700x", std::nullopt},
        {"117-Jul-1996 02:44:25 +0700", std::nullopt},
        {"", std::nullopt},
        {"17-Ju", std::nullopt},
    };
    for (const Case& c : cases) {
        CAPTURE(c.text);
        CHECK(parse_internal_date(c.text) == c.epoch);
    }

    CHECK(format_internal_date(837596665) == "17-Jul-1996 09:44:25 +0000");
    CHECK(format_internal_date(0) == " 1-Jan-1970 00:00:00 +0000");
    CHECK(format_internal_date(-1) == "31-Dec-1969 23:59:59 +0000");
    CHECK(format_internal_date(951782400) == "29-Feb-2000 00:00:00 +0000");
    CHECK(format_internal_date(std::numeric_limits<std::int64_t>::max()) ==
          "31-Dec-9999 23:59:59 +0000");
    CHECK(format_internal_date(std::numeric_limits<std::int64_t>::min()) ==
          " 1-Jan-0001 00:00:00 +0000");
    for (std::int64_t epoch = -62135596800; epoch < 253402300799; epoch += 86400 * 37 + 3601) {
        CAPTURE(epoch);
        REQUIRE(parse_internal_date(format_internal_date(epoch)) == epoch);
    }
}

TEST_CASE("quoted strings and when a literal is needed") {
    CHECK(quote_string("INBOX") == "\"INBOX\"");
    CHECK(quote_string("") == "\"\"");
    CHECK(quote_string("a\"b\\c") == "\"a\\\"b\\\\c\"");
    CHECK(quote_string("{50}") == "\"{50}\"");
    CHECK_FALSE(needs_literal("Sent Items {5}"));
    CHECK(needs_literal("a\r\nb"));
    CHECK(needs_literal("a\nb"));
    CHECK(needs_literal(std::string("a\0b", 3)));
    CHECK(needs_literal("caf\xc3\xa9"));
}

using Count = std::optional<std::pair<std::string, std::uint32_t>>;

// The name and count of a STATUS answer, as LIST-STATUS uses them.
Count count_of(const char* line) {
    auto d = parse_status(parse(line));
    if (!d || !d->messages) return std::nullopt;
    return Count{{d->name, *d->messages}};
}

TEST_CASE("a STATUS answer gives the folder's name as spelt and its message count") {
    CHECK(count_of("* STATUS \"INBOX\" (MESSAGES 5000)") == Count{{"INBOX", 5000}});
    CHECK(count_of("* STATUS Re&AOc-us (UIDNEXT 4 MESSAGES 2 UNSEEN 1)") ==
          Count{{"Re&AOc-us", 2}});
    CHECK(count_of("* STATUS {4}\r\nWork (MESSAGES 0)") == Count{{"Work", 0}});
    CHECK(count_of("* status \"a b\" (messages 7)") == Count{{"a b", 7}});
}

TEST_CASE("anything else gives no message count") {
    for (const char* line : {"* LIST (\\HasNoChildren) \"/\" INBOX", "* STATUS INBOX (UIDNEXT 4)",
                             "* STATUS INBOX (MESSAGES)", "* STATUS INBOX (MESSAGES x)",
                             "* STATUS INBOX (MESSAGES 4294967296)", "* STATUS INBOX MESSAGES 3",
                             "* STATUS NIL (MESSAGES 3)", "* STATUS (MESSAGES 3)", "* 3 EXISTS"})
        CHECK_MESSAGE(!count_of(line), line);
}

TEST_CASE("a STATUS with all four CONDSTORE values gives the token EXAMINE would give") {
    auto d = parse_status(
        parse("* STATUS Sent (MESSAGES 1250 UIDNEXT 1251 UIDVALIDITY 1796313088 HIGHESTMODSEQ 2)"));
    REQUIRE(d);
    CHECK(status_token(*d) == condstore_token(1796313088, 1251, 2, 1250));
    CHECK(status_token(*d) == "imap-condstore 1796313088 1251 2 1250");
    // any order, any case, with items it does not use
    auto e = parse_status(
        parse("* STATUS Sent (highestmodseq 2 UNSEEN 9 uidvalidity 1796313088 MESSAGES 1250 "
              "UIDNEXT 1251)"));
    REQUIRE(e);
    CHECK(status_token(*e) == status_token(*d));
}

TEST_CASE("a STATUS without one of the four, or with HIGHESTMODSEQ 0, gives no token") {
    for (const char* line :
         {"* STATUS A (UIDNEXT 5 UIDVALIDITY 7 HIGHESTMODSEQ 9)",
          "* STATUS A (MESSAGES 4 UIDVALIDITY 7 HIGHESTMODSEQ 9)",
          "* STATUS A (MESSAGES 4 UIDNEXT 5 HIGHESTMODSEQ 9)",
          "* STATUS A (MESSAGES 4 UIDNEXT 5 UIDVALIDITY 7)",
          "* STATUS A (MESSAGES 4 UIDNEXT 5 UIDVALIDITY 7 HIGHESTMODSEQ 0)",
          "* STATUS A (MESSAGES 4 UIDNEXT 5 UIDVALIDITY 7 HIGHESTMODSEQ x)",
          "* STATUS A (MESSAGES 4 UIDNEXT 5 UIDVALIDITY 99999999999 HIGHESTMODSEQ 9)"}) {
        auto d = parse_status(parse(line));
        REQUIRE_MESSAGE(d, line);
        CHECK_MESSAGE(status_token(*d).empty(), line);
    }
    CHECK(condstore_token(7, 5, std::nullopt, 4).empty());
    CHECK(condstore_token(7, std::nullopt, 9, 4).empty());
}
