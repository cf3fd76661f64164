// ResponseReader against server transcripts (fed whole, split at every byte
// boundary, and one byte at a time) and against hostile input.
#include "backends/imap/reader.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace mf::imap;
using namespace std::string_literals;

namespace {

// Hands out `data` in pieces: never past `split` in one piece, never more
// than `max_piece` bytes at once. Then reports the connection closed.
class ScriptedStream : public ByteStream {
  public:
    explicit ScriptedStream(std::string data, std::size_t split = 0,
                            std::size_t max_piece = SIZE_MAX)
        : m_data(std::move(data)), m_split(split), m_max_piece(max_piece) {}

    mf::Result<std::size_t> read_some(char* buf, std::size_t len) override {
        if (m_pos == m_data.size()) {
            return mf::fail(mf::ErrorKind::connect, mf::Scope::session, "connection closed");
        }
        std::size_t end =
            std::min({m_data.size(), m_pos + len, m_pos + std::min(len, m_max_piece)});
        if (m_pos < m_split) end = std::min(end, m_split);
        std::copy(m_data.begin() + static_cast<std::ptrdiff_t>(m_pos),
                  m_data.begin() + static_cast<std::ptrdiff_t>(end), buf);
        const std::size_t count = end - m_pos;
        m_pos = end;
        return count;
    }

  private:
    std::string m_data;
    std::size_t m_pos = 0;
    std::size_t m_split;
    std::size_t m_max_piece;
};

// `prefix` followed by an endless run of `filler`, made up as it is read.
class EndlessStream : public ByteStream {
  public:
    EndlessStream(std::string prefix, char filler)
        : m_prefix(std::move(prefix)), m_filler(filler) {}

    mf::Result<std::size_t> read_some(char* buf, std::size_t len) override {
        for (std::size_t i = 0; i < len; ++i) {
            buf[i] = m_served + i < m_prefix.size() ? m_prefix[m_served + i] : m_filler;
        }
        m_served += len;
        return len;
    }
    std::size_t served() const { return m_served; }

  private:
    std::string m_prefix;
    char m_filler;
    std::size_t m_served = 0;
};

class ZeroStream : public ByteStream {
  public:
    mf::Result<std::size_t> read_some(char*, std::size_t) override { return 0; }
};

// Claims message bodies (BODY[], BODY[]<n>, BINARY[], RFC822) and records them.
class BodyCollector : public LiteralHandler {
  public:
    bool claim(std::string_view preceding, std::uint64_t size) override {
        const bool wanted = preceding.starts_with("BODY[]") || preceding.starts_with("BINARY[]") ||
                            preceding == "RFC822";
        if (wanted) bodies.push_back(std::string(preceding) + " " + std::to_string(size) + ": ");
        return wanted;
    }
    mf::Status chunk(std::string_view bytes) override {
        ++chunks;
        if (fail_on_chunk) {
            return mf::fail(mf::ErrorKind::local_io, mf::Scope::message, "disk full");
        }
        bodies.back() += bytes;
        return {};
    }
    mf::Status end() override {
        bodies.back() += " <end>";
        return {};
    }

    std::vector<std::string> bodies;
    std::size_t chunks = 0;
    bool fail_on_chunk = false;
};

struct Outcome {
    std::vector<std::string> responses; // describe() of each response read
    std::vector<std::string> bodies;
    mf::Failure last; // what ended the reading

    friend bool operator==(const Outcome& a, const Outcome& b) {
        return a.responses == b.responses && a.bodies == b.bodies && a.last.kind == b.last.kind &&
               a.last.what == b.last.what;
    }
};

Outcome read_all(ByteStream& stream, ReaderLimits limits = {}) {
    ResponseReader reader(stream, limits);
    BodyCollector collector;
    Outcome outcome;
    for (;;) {
        auto response = reader.read(&collector);
        if (!response) {
            outcome.last = response.error();
            break;
        }
        outcome.responses.push_back(describe(*response));
    }
    outcome.bodies = collector.bodies;
    return outcome;
}

Outcome read_all(const std::string& data, std::size_t split = 0, std::size_t max_piece = SIZE_MAX) {
    ScriptedStream stream(data, split, max_piece);
    return read_all(stream);
}

mf::Result<Response> read_one(const std::string& data, ReaderLimits limits = {}) {
    ScriptedStream stream(data);
    ResponseReader reader(stream, limits);
    return reader.read();
}

std::string literal(std::string_view body) {
    return "{" + std::to_string(body.size()) + "}\r\n" + std::string(body);
}

// One string, so that doctest shows both sides of a mismatch.
std::string lines(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& item : items)
        out += "\n  " + item;
    return out;
}

struct Transcript {
    std::string name;
    std::string input;
    std::vector<std::string> responses;
    std::vector<std::string> bodies;
};

const std::string k_tricky_body = "Subject: x\r\n\r\nA001 OK x\r\n* 2 FETCH (UID 9)\r\n";

std::vector<Transcript> transcripts() {
    return {
        {"dovecot greeting",
         "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
         "AUTH=PLAIN] Dovecot (Debian) ready.\r\n",
         {"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
          "AUTH=PLAIN] \"Dovecot (Debian) ready.\""},
         {}},
        {"capability",
         "* CAPABILITY IMAP4rev1 UIDPLUS CONDSTORE QRESYNC LITERAL+ BINARY MOVE SORT=DISPLAY\r\n"
         "A001 OK Pre-login capabilities listed, post-login capabilities have more.\r\n",
         {"* [CAPABILITY IMAP4rev1 UIDPLUS CONDSTORE QRESYNC LITERAL+ BINARY MOVE SORT=DISPLAY]",
          "A001 OK \"Pre-login capabilities listed, post-login capabilities have more.\""},
         {}},
        {"list",
         "* LIST (\\HasNoChildren) \".\" INBOX\r\n"
         "* LIST (\\HasChildren \\Noselect) \"/\" \"Archive\"\r\n"
         "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"\r\n"
         "* LIST () \"/\" " +
             literal("Two\r\nLines )") +
             "\r\n"
             "* LIST (\\Noselect) NIL \"\"\r\n"
             "* list (\\HasNoChildren) \"/\" ~peter/mail/&U,BTFw-\r\n"
             "* LIST (\\HasNoChildren) \"\\\\\" \"a\\\\b \\\"q\\\" {50}\"\r\n"
             "A002 OK List completed (0.001 + 0.000 secs).\r\n",
         {"* [LIST (\\HasNoChildren) \".\" INBOX]",
          "* [LIST (\\HasChildren \\Noselect) \"/\" \"Archive\"]",
          "* [LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"]",
          "* [LIST () \"/\" \"Two\\x0d\\x0aLines )\"]", "* [LIST (\\Noselect) NIL \"\"]",
          "* [list (\\HasNoChildren) \"/\" ~peter/mail/&U,BTFw-]",
          "* [LIST (\\HasNoChildren) \"\\\\\" \"a\\\\b \\\"q\\\" {50}\"]",
          "A002 OK \"List completed (0.001 + 0.000 secs).\""},
         {}},
        {"status",
         "* STATUS \"INBOX\" (MESSAGES 231 UIDNEXT 44292 UIDVALIDITY 1 UNSEEN 3)\r\n"
         "* STATUS blurdybloop (MESSAGES 0 HIGHESTMODSEQ 7011231777)\r\n"
         "A003 OK Status completed.\r\n",
         {"* [STATUS \"INBOX\" (MESSAGES 231 UIDNEXT 44292 UIDVALIDITY 1 UNSEEN 3)]",
          "* [STATUS blurdybloop (MESSAGES 0 HIGHESTMODSEQ 7011231777)]",
          "A003 OK \"Status completed.\""},
         {}},
        {"examine",
         "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)\r\n"
         "* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n"
         "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags "
         "permitted.\r\n"
         "* 172 EXISTS\r\n"
         "* 1 RECENT\r\n"
         "* OK [UNSEEN 12] Message 12 is first unseen\r\n"
         "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
         "* OK [UIDNEXT 4392] Predicted next UID\r\n"
         "* OK [HIGHESTMODSEQ 715194045007]\r\n"
         "* ok [NOMODSEQ] Sorry, no modsequences\n"
         "* OK [ALERT unbalanced ( here] text\r\n"
         "* NO [ALERT] Mailbox is at 95% of quota\r\n"
         "A142 OK [READ-ONLY] EXAMINE completed\r\n",
         {"* [FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)]",
          "* OK [PERMANENTFLAGS ()] \"Read-only mailbox.\"",
          "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] \"Flags "
          "permitted.\"",
          "* [172 EXISTS]", "* [1 RECENT]", "* OK [UNSEEN 12] \"Message 12 is first unseen\"",
          "* OK [UIDVALIDITY 3857529045] \"UIDs valid\"",
          "* OK [UIDNEXT 4392] \"Predicted next UID\"", "* OK [HIGHESTMODSEQ 715194045007] \"\"",
          "* OK [NOMODSEQ] \"Sorry, no modsequences\"", "* OK \"[ALERT unbalanced ( here] text\"",
          "* NO [ALERT] \"Mailbox is at 95% of quota\"",
          "A142 OK [READ-ONLY] \"EXAMINE completed\""},
         {}},
        {"fetch",
         "* 1 FETCH (UID 7 FLAGS (\\Seen) RFC822.SIZE 12 INTERNALDATE \"17-Jul-1996 02:44:25 "
         "-0700\" BODY[] " +
             literal("Hello\r\nWorld") +
             ")\r\n"
             "* 2 FETCH (BODY[] " +
             literal(k_tricky_body) +
             " UID 9 FLAGS ())\r\n"
             "* 3 FETCH (UID 10 BODY[HEADER.FIELDS (MESSAGE-ID)] " +
             literal("Message-ID: <a@b>\r\n\r\n") +
             ")\r\n"
             "* 4 FETCH (UID 11 BODY[]<0> ~{3}\r\na\0b)\r\n"s +
             "* 5 FETCH (UID 12 MODSEQ (624140003) FLAGS (\\Seen $Junk) RFC822 {0+}\r\n)\r\n"
             "A003 OK Fetch completed (0.002 + 0.000 secs).\r\n",
         {"* [1 FETCH (UID 7 FLAGS (\\Seen) RFC822.SIZE 12 INTERNALDATE \"17-Jul-1996 02:44:25 "
          "-0700\" BODY[] {streamed 12})]",
          "* [2 FETCH (BODY[] {streamed " + std::to_string(k_tricky_body.size()) +
              "} UID 9 FLAGS ())]",
          "* [3 FETCH (UID 10 BODY[HEADER.FIELDS (MESSAGE-ID)] \"Message-ID: "
          "<a@b>\\x0d\\x0a\\x0d\\x0a\")]",
          "* [4 FETCH (UID 11 BODY[]<0> {streamed 3})]",
          "* [5 FETCH (UID 12 MODSEQ (624140003) FLAGS (\\Seen $Junk) RFC822 {streamed 0})]",
          "A003 OK \"Fetch completed (0.002 + 0.000 secs).\""},
         {"BODY[] 12: Hello\r\nWorld <end>",
          "BODY[] " + std::to_string(k_tricky_body.size()) + ": " + k_tricky_body + " <end>",
          "BODY[]<0> 3: a\0b <end>"s, "RFC822 0:  <end>"}},
        {"failures and continuations",
         "A004 NO [TRYCREATE] Mailbox doesn't exist: Foo\r\n"
         "A005 BAD Error in IMAP command UID FETCH: Invalid messageset\r\n"
         "A006 no lower case\r\n"
         "A007 OK\r\n"
         "+ Ready for literal data\r\n"
         "+\r\n"
         "+ YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzmeTxnKG0htZ0IqCyAhgn0sAAAEA\r\n"
         "* BYE Server shutting down.\r\n",
         {"A004 NO [TRYCREATE] \"Mailbox doesn't exist: Foo\"",
          "A005 BAD \"Error in IMAP command UID FETCH: Invalid messageset\"",
          "A006 NO \"lower case\"", "A007 OK \"\"", "+ \"Ready for literal data\"", "+ \"\"",
          "+ \"YGgGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzmeTxnKG0htZ0IqCyAhgn0sAAAEA\"",
          "* BYE \"Server shutting down.\""},
         {}},
    };
}

} // namespace

TEST_CASE("transcripts parse the same however the bytes arrive") {
    for (const Transcript& t : transcripts()) {
        CAPTURE(t.name);
        const Outcome whole = read_all(t.input);
        CHECK(lines(whole.responses) == lines(t.responses));
        CHECK(lines(whole.bodies) == lines(t.bodies));
        CHECK(whole.last.kind == mf::ErrorKind::connect); // ran out of input, nothing else
        CHECK(whole.last.what == "connection closed");

        CHECK(read_all(t.input, 0, 1) == whole);
        for (std::size_t split = 1; split < t.input.size(); ++split) {
            CAPTURE(split);
            REQUIRE(read_all(t.input, split) == whole);
        }
    }
}

TEST_CASE("parsed values have the documented shape") {
    SUBCASE("fetch items") {
        auto r = read_one("* 3 FETCH (UID 5 BODY[] {3}\r\nabc)\r\n");
        REQUIRE(r);
        CHECK(r->kind == Response::Kind::untagged);
        CHECK(r->status.empty());
        REQUIRE(r->items.size() == 3);
        CHECK(to_u32(r->items[0]) == 3u);
        CHECK(is_atom(r->items[1], "FETCH"));
        REQUIRE(r->items[2].type == Value::Type::list);
        REQUIRE(r->items[2].items.size() == 4);
        CHECK(r->items[2].items[3].type == Value::Type::string); // unclaimed: kept
        CHECK(r->items[2].items[3].text == "abc");
    }
    SUBCASE("list with NIL delimiter and a literal name") {
        auto r = read_one("* LIST (\\Noselect) nil {3}\r\nfoo\r\n");
        REQUIRE(r);
        REQUIRE(r->items.size() == 4);
        CHECK(r->items[2].type == Value::Type::nil);
        CHECK(as_string(r->items[3]) == "foo");
    }
    SUBCASE("status code") {
        auto r = read_one("A1 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n");
        REQUIRE(r);
        CHECK(r->kind == Response::Kind::tagged);
        CHECK(r->tag == "A1");
        CHECK(r->status == "OK");
        REQUIRE(r->code.size() == 4);
        CHECK(to_u32(r->code[1]) == 38505u);
        CHECK(r->code[3].text == "3956:3958");
        CHECK(r->text == "Done");
    }
    SUBCASE("{50} inside a quoted string is text") {
        auto r = read_one("* LIST () \"/\" \"a{50}\"\r\n");
        REQUIRE(r);
        CHECK(r->items[3].type == Value::Type::string);
        CHECK(r->items[3].text == "a{50}");
    }
    SUBCASE("a list at exactly the depth limit") {
        const std::string deep = std::string(64, '(') + std::string(64, ')');
        CHECK(read_one("* X " + deep + "\r\n"));
    }
}

TEST_CASE("value helpers") {
    auto atom = [](std::string text) {
        Value v;
        v.text = std::move(text);
        return v;
    };
    CHECK(to_u32(atom("4294967295")) == 4294967295u);
    CHECK_FALSE(to_u32(atom("4294967296")));
    CHECK(to_u64(atom("18446744073709551615")) == 18446744073709551615u);
    CHECK_FALSE(to_u64(atom("18446744073709551616")));
    for (const char* bad : {"", "-1", "+1", " 1", "1a", "0x10"}) {
        CAPTURE(bad);
        CHECK_FALSE(to_u32(atom(bad)));
    }
    Value quoted;
    quoted.type = Value::Type::string;
    quoted.text = "5";
    CHECK_FALSE(to_u32(quoted));
    CHECK(as_string(quoted) == "5");
    CHECK(is_atom(atom("fetch"), "FETCH"));
    CHECK_FALSE(is_atom(quoted, "5"));
    Value nil;
    nil.type = Value::Type::nil;
    CHECK_FALSE(as_string(nil));
}

TEST_CASE("hostile input fails cleanly") {
    struct Case {
        const char* name;
        std::string input;
        mf::ErrorKind kind;
        std::string message_part;
    };
    const std::vector<Case> cases = {
        {"largest literal, unclaimed", "* 1 FETCH (X {18446744073709551615}\r\nabc",
         mf::ErrorKind::protocol, "exceeds the response limit"},
        {"literal size overflow", "* 1 FETCH (BODY[] {99999999999999999999999}\r\n",
         mf::ErrorKind::protocol, "64 bits"},
        {"literal shorter than announced", "* 1 FETCH (X {10}\r\nabc", mf::ErrorKind::connect,
         "connection closed"},
        {"unbalanced )", "* 1 FETCH (FLAGS (\\Seen)))\r\n", mf::ErrorKind::protocol, "unbalanced"},
        {"unclosed (", "* 1 FETCH (FLAGS (\\Seen)\r\n", mf::ErrorKind::protocol, "unclosed"},
        {"100-deep nesting", "* X " + std::string(100, '(') + std::string(100, ')') + "\r\n",
         mf::ErrorKind::protocol, "nested deeper than 64"},
        {"65-deep nesting", "* X " + std::string(65, '(') + std::string(65, ')') + "\r\n",
         mf::ErrorKind::protocol, "nested deeper than 64"},
        {"unterminated quoted string", "* LIST () \"/\" \"abc\r\n", mf::ErrorKind::protocol,
         "unterminated quoted"},
        {"unterminated section", "* 1 FETCH (BODY[HEADER \r\n", mf::ErrorKind::protocol,
         "unterminated '['"},
        {"literal without size", "* 1 FETCH (X {}\r\n", mf::ErrorKind::protocol, "malformed"},
        {"literal size not closed", "* 1 FETCH (X {12 \r\n", mf::ErrorKind::protocol, "malformed"},
        {"tagged without status", "A1 FETCH done\r\n", mf::ErrorKind::protocol, "not OK"},
        {"empty line", "\r\n", mf::ErrorKind::protocol, "tag"},
        {"CR without LF", "* 1 EXISTS\rX\r\n", mf::ErrorKind::protocol, "end of line"},
        {"star without space", "*1 EXISTS\r\n", mf::ErrorKind::protocol, "space"},
        {"truncated line", "* 1 EXI", mf::ErrorKind::connect, "connection closed"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        auto r = read_one(c.input);
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == c.kind);
        CHECK(r.error().scope == mf::Scope::session);
        CHECK(r.error().what.find(c.message_part) != std::string::npos);
    }
}

TEST_CASE("a literal larger than max_response is refused before it is read") {
    ReaderLimits limits;
    limits.max_response = 1024;
    const std::string input = "* 1 FETCH (X " + literal(std::string(5000, 'x')) + ")\r\n";
    auto r = read_one(input, limits);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == mf::ErrorKind::protocol);
    CHECK(r.error().what.find("5000 bytes") != std::string::npos);

    // The same literal claimed by a handler does not count against the limit.
    BodyCollector collector;
    auto input_with_body = "* 1 FETCH (BODY[] " + literal(std::string(5000, 'x')) + ")\r\n";
    ScriptedStream body_stream(input_with_body);
    ResponseReader body_reader(body_stream, limits);
    auto claimed = body_reader.read(&collector);
    REQUIRE(claimed);
    CHECK(collector.bodies.at(0).size() == std::string("BODY[] 5000: ").size() + 5000 + 6);
}

TEST_CASE("the largest literal size streams to a handler until the connection ends") {
    ScriptedStream stream("* 1 FETCH (BODY[] {18446744073709551615}\r\nabc");
    ResponseReader reader(stream);
    BodyCollector collector;
    auto r = reader.read(&collector);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == mf::ErrorKind::connect);
    CHECK(collector.bodies.at(0) == "BODY[] 18446744073709551615: abc");
}

TEST_CASE("endless lines fail at the limit without reading much further") {
    for (const char* prefix :
         {"* OK ", "* 1 FETCH (X ", "A1 ", "+ ", "* 1 FETCH (\"", "* 1 FETCH (BODY[x"}) {
        CAPTURE(prefix);
        EndlessStream stream(prefix, 'x');
        ResponseReader reader(stream);
        auto r = reader.read();
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == mf::ErrorKind::protocol);
        CHECK(r.error().what.find("longer than 8388608 bytes") != std::string::npos);
        CHECK(stream.served() <= (std::size_t{8} << 20) + 64 * 1024);
    }
    // Spaces between tokens count too, though nothing of them is kept.
    EndlessStream spaces("* 1 FETCH (", ' ');
    ResponseReader reader(spaces, ReaderLimits{1 << 16, 64});
    CHECK_FALSE(reader.read());
    CHECK(spaces.served() <= 2 * 64 * 1024);
}

TEST_CASE("a response of exactly max_response bytes is accepted") {
    const std::string line = "* OK " + std::string(100, 'x') + "\r\n";
    CHECK(read_one(line, ReaderLimits{line.size(), 64}));
    CHECK_FALSE(read_one(line, ReaderLimits{line.size() - 1, 64}));
}

TEST_CASE("failures are sticky") {
    ScriptedStream stream("* 1 FETCH (X))\r\n* 2 EXISTS\r\n");
    ResponseReader reader(stream);
    auto first = reader.read();
    REQUIRE_FALSE(first);
    auto second = reader.read();
    REQUIRE_FALSE(second);
    CHECK(second.error().what == first.error().what);
}

TEST_CASE("a handler failure aborts the read and is returned as it was") {
    ScriptedStream stream("* 1 FETCH (BODY[] {3}\r\nabc)\r\n");
    ResponseReader reader(stream);
    BodyCollector collector;
    collector.fail_on_chunk = true;
    auto r = reader.read(&collector);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == mf::ErrorKind::local_io);
    CHECK(r.error().scope == mf::Scope::message);
    CHECK(collector.chunks == 1);
}

TEST_CASE("a stream that returns no data is a failure, not a hang") {
    ZeroStream stream;
    ResponseReader reader(stream);
    auto r = reader.read();
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == mf::ErrorKind::connect);
}

TEST_CASE("claimed literals reach the handler in pieces no larger than the read buffer") {
    const std::string body(300 * 1024, 'b');
    ScriptedStream stream("* 1 FETCH (UID 1 BODY[] " + literal(body) + ")\r\n");
    ResponseReader reader(stream, ReaderLimits{4096, 64});
    BodyCollector collector;
    auto r = reader.read(&collector);
    REQUIRE(r);
    CHECK(collector.chunks >= 5);
    CHECK(collector.bodies.at(0) == "BODY[] 307200: " + body + " <end>");
}
