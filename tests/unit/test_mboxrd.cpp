#include "backends/mbox/mboxrd.h"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

using namespace mf::mbox;

namespace {

struct Decoded {
    std::string from;
    std::string body;
    bool ended = false;
};

// Feeds `data` in pieces whose sizes come from `rng` (1..max_piece bytes).
template <class Feed>
void feed_in_pieces(std::string_view data, std::mt19937& rng, std::size_t max_piece, Feed feed) {
    while (!data.empty()) {
        const std::size_t n = std::min<std::size_t>(data.size(), 1 + rng() % max_piece);
        feed(data.substr(0, n));
        data.remove_prefix(n);
    }
}

struct EncodeResult {
    std::string out;
    bool reversible, added_newline, bare_lf, bare_cr;
    std::uint64_t octets_in, written;
};

EncodeResult encode(std::string_view message, std::mt19937& rng, std::size_t max_piece = 7) {
    EncodeResult r;
    Encoder enc(r.out);
    feed_in_pieces(message, rng, max_piece, [&](std::string_view s) { enc.feed(s); });
    enc.finish();
    r.reversible = enc.reversible();
    r.added_newline = enc.added_final_newline();
    r.bare_lf = enc.saw_bare_lf();
    r.bare_cr = enc.saw_bare_cr();
    r.octets_in = enc.crlf_octets();
    r.written = enc.bytes_written();
    return r;
}

std::string encode_body(std::string_view message) {
    std::mt19937 rng(1);
    return encode(message, rng, 1000000).out;
}

std::vector<Decoded> decode(std::string_view mbox, std::mt19937& rng, std::size_t max_piece = 7,
                            Decoder* out_decoder = nullptr) {
    std::vector<Decoded> messages;
    Decoder dec({
        [&](std::string_view from) {
            messages.push_back({std::string(from), {}, false});
        },
        [&](std::string_view body) { messages.back().body += body; },
        [&]() { messages.back().ended = true; },
    });
    feed_in_pieces(mbox, rng, max_piece, [&](std::string_view s) { dec.feed(s); });
    dec.finish();
    if (out_decoder) *out_decoder = dec;
    return messages;
}

std::vector<Decoded> decode_all(std::string_view mbox) {
    std::mt19937 rng(1);
    return decode(mbox, rng, 1000000);
}

} // namespace

TEST_CASE("from_line writes asctime in UTC") {
    CHECK(from_line(0) == "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n");
    CHECK(from_line(1700000000, "a@b.c") == "From a@b.c Tue Nov 14 22:13:20 2023\n");
    CHECK(from_line(951782400) == "From MAILER-DAEMON Tue Feb 29 00:00:00 2000\n");
    CHECK(from_line(-1) == "From MAILER-DAEMON Wed Dec 31 23:59:59 1969\n");
    CHECK(from_line(INT64_MIN) == "From MAILER-DAEMON Mon Jan  1 00:00:00 1900\n");
    CHECK(from_line(INT64_MAX) == "From MAILER-DAEMON Fri Dec 31 23:59:59 9999\n");
    CHECK(from_line(0, "") == "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n");
    CHECK(from_line(0, "a b\nc") == "From a_b_c Thu Jan  1 00:00:00 1970\n");
}

TEST_CASE("parse_from_line reads what from_line writes and what others write") {
    for (std::int64_t t : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{951782400},
                           std::int64_t{1700000000}, std::int64_t{4102444800}}) {
        CHECK(parse_from_line(from_line(t)) == t);
    }
    struct Case {
        std::string line;
        std::optional<std::int64_t> epoch;
    };
    const std::vector<Case> cases = {
        {"From MAILER-DAEMON Thu Jan  1 00:00:00 1970", 0},
        {"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\r\n", 0},
        {"From \"a b\"@example.org Thu Jan  1 00:00:10 1970", 10},
        {"From a@b Thu Jan 1 01:00:00 +0100 1970", 0},
        {"From a@b Thu Jan 1 01:00:00 1970 +0100", 0},
        {"From Thu Jan  1 00:00:00 1970", 0},
        {"From a@b Thu Jan  1 00:00:00 1970 remote from uucp", 0},
        {"From here on, everything changed.", std::nullopt},
        {"From a@b", std::nullopt},
        {"From ", std::nullopt},
        {">From a@b Thu Jan  1 00:00:00 1970", std::nullopt},
        {"from a@b Thu Jan  1 00:00:00 1970", std::nullopt},
        {"", std::nullopt},
    };
    for (const auto& c : cases) {
        CAPTURE(c.line);
        CHECK(parse_from_line(c.line) == c.epoch);
    }
}

TEST_CASE("Encoder quotes From lines and converts line ends") {
    struct Case {
        std::string in, out;
    };
    const std::vector<Case> cases = {
        {"", "\n"},
        {"\r\n", "\n\n"},
        {"a\r\nb\r\n", "a\nb\n\n"},
        {"From x\r\n", ">From x\n\n"},
        {">From x\r\n", ">>From x\n\n"},
        {">>From x\r\n", ">>>From x\n\n"},
        {"a\r\nFrom me\r\n>From you\r\n", "a\n>From me\n>>From you\n\n"},
        {" From x\r\n", " From x\n\n"},
        {"From\r\n", "From\n\n"},
        {"Fromage\r\n", "Fromage\n\n"},
        {">>\r\n", ">>\n\n"},
        {"> From\r\n", "> From\n\n"},
        {"x From y\r\n", "x From y\n\n"},
        {"From ", ">From \n\n"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.in);
        CHECK(encode_body(c.in) == c.out);
    }
}

TEST_CASE("Encoder reports what it cannot keep") {
    std::mt19937 rng(3);
    auto r = encode("a\r\nb\r\n", rng);
    CHECK(r.reversible);
    CHECK(r.octets_in == 6);
    CHECK(r.written == 5);

    r = encode("a\nb\r\n", rng);
    CHECK(r.bare_lf);
    CHECK_FALSE(r.bare_cr);
    CHECK_FALSE(r.reversible);

    r = encode("a\rb\r\n", rng);
    CHECK(r.bare_cr);
    CHECK_FALSE(r.reversible);
    CHECK(r.out == "a\rb\n\n");

    r = encode("tail\r", rng);
    CHECK(r.bare_cr);

    r = encode("no newline", rng);
    CHECK(r.added_newline);
    CHECK_FALSE(r.reversible);
    CHECK(r.out == "no newline\n\n");
    CHECK(r.octets_in == 10);
}

TEST_CASE("Decoder splits, unquotes and restores CRLF") {
    const std::string mbox = "From a Thu Jan  1 00:00:00 1970\n"
                             "one\n"
                             ">From quoted\n"
                             ">>From twice\n"
                             "From here on this is text\n"
                             "\n"
                             "\n"
                             "From b Thu Jan  1 00:00:01 1970\n"
                             "two\r\n"
                             "\n"
                             "From c Thu Jan  1 00:00:02 1970\n"
                             "\n"
                             "From d Thu Jan  1 00:00:03 1970\n"
                             "no separator\n"
                             "From e Thu Jan  1 00:00:04 1970\n"
                             "last line unterminated";
    for (std::size_t piece : {1, 2, 3, 5, 1000}) {
        std::mt19937 rng(static_cast<unsigned>(piece));
        Decoder dec({});
        const auto m = decode(mbox, rng, piece, &dec);
        REQUIRE(m.size() == 5);
        CHECK(dec.messages() == 5);
        CHECK(m[0].from == "From a Thu Jan  1 00:00:00 1970");
        CHECK(m[0].body ==
              "one\r\nFrom quoted\r\n>From twice\r\nFrom here on this is text\r\n\r\n");
        CHECK(m[1].body == "two\r\n");
        CHECK(m[2].body == "");
        CHECK(m[3].body == "no separator\r\n");
        CHECK(m[4].body == "last line unterminated");
        for (const auto& msg : m)
            CHECK(msg.ended);
    }
}

TEST_CASE("Decoder skips text before the first message and copes with odd files") {
    Decoder dec({});
    std::mt19937 rng(9);
    auto m = decode("garbage\n\nFrom a Thu Jan  1 00:00:00 1970\nx\n", rng, 4, &dec);
    REQUIRE(m.size() == 1);
    CHECK(m[0].body == "x\r\n");
    CHECK(dec.skipped_bytes() == 11);

    CHECK(decode_all("").empty());
    CHECK(decode_all("no mbox at all").empty());
    m = decode_all("From a Thu Jan  1 00:00:00 1970");
    REQUIRE(m.size() == 1);
    CHECK(m[0].body.empty());
    m = decode_all("From a Thu Jan  1 00:00:00 1970\n>");
    REQUIRE(m.size() == 1);
    CHECK(m[0].body == ">");
    m = decode_all("From a Thu Jan  1 00:00:00 1970\nFrom\r");
    REQUIRE(m.size() == 1);
    CHECK(m[0].body == "From\r");
    // A From_ line too long to be one is text.
    m = decode_all("From a Thu Jan  1 00:00:00 1970\nFrom " + std::string(5000, 'x') + "\n\n");
    REQUIRE(m.size() == 1);
    CHECK(m[0].body == "From " + std::string(5000, 'x') + "\r\n");
}

TEST_CASE("property: random messages round-trip through Encoder and Decoder") {
    std::mt19937 rng(0x6d626f78);
    const std::vector<std::string> lines = {"",
                                            "From ",
                                            "From me Thu Jan  1 00:00:00 1970",
                                            ">From ",
                                            ">>From x",
                                            ">>>From",
                                            ">",
                                            ">>",
                                            "From",
                                            "Fro",
                                            " From x",
                                            "text",
                                            "Subject: hi",
                                            "\t>From"};
    for (int round = 0; round < 1500; ++round) {
        std::vector<std::string> messages(1 + rng() % 4);
        for (auto& msg : messages) {
            const std::size_t count = rng() % 8;
            for (std::size_t i = 0; i < count; ++i) {
                if (rng() % 25 == 0)
                    msg += std::string(1 + rng() % 20000, rng() % 2 ? '>' : 'x');
                else
                    msg += lines[rng() % lines.size()];
                if (i + 1 < count || rng() % 4) msg += "\r\n";
            }
        }
        std::string mbox;
        std::vector<EncodeResult> encoded;
        for (const auto& msg : messages) {
            mbox += from_line(rng() % 2000000000);
            encoded.push_back(encode(msg, rng, 1 + rng() % 50));
            mbox += encoded.back().out;
        }
        const auto decoded = decode(mbox, rng, 1 + rng() % 50);
        REQUIRE(decoded.size() == messages.size());
        for (std::size_t i = 0; i < messages.size(); ++i) {
            const auto& msg = messages[i];
            const auto& enc = encoded[i];
            CAPTURE(msg.substr(0, 200));
            CHECK(enc.octets_in == msg.size());
            CHECK_FALSE(enc.bare_lf);
            CHECK_FALSE(enc.bare_cr);
            CHECK(decoded[i].ended);
            if (enc.added_newline) {
                // mboxrd cannot say "no final newline": the caller cuts back.
                CHECK(decoded[i].body == msg + "\r\n");
                CHECK(decoded[i].body.substr(0, enc.octets_in) == msg);
            } else {
                CHECK(enc.reversible);
                CHECK(decoded[i].body == msg);
            }
        }
    }
}

// The encoder copies runs of plain bytes in bulk and goes byte by byte only
// at line starts and line ends: however a message is cut into pieces (one
// piece, single bytes, anything between), the output and what it reports
// must be the same.
TEST_CASE("property: the encoder's output does not depend on how input is cut") {
    std::mt19937 rng(0x656e63);
    const std::vector<std::string> parts = {"\r\n",   "\n", "\r", "From ", ">From ",
                                            "From",   ">>", "x",  "text ", std::string(300, 'y'),
                                            "\r\r\n", "F",  " "};
    for (int round = 0; round < 2000; ++round) {
        std::string msg;
        for (std::size_t i = rng() % 30; i > 0; --i)
            msg += parts[rng() % parts.size()];
        if (rng() % 5 == 0) msg += std::string(70000 + rng() % 1000, 'z'); // past the output buffer
        const EncodeResult whole = encode(msg, rng, msg.size() + 1);
        const EncodeResult bytes = encode(msg, rng, 1);
        const EncodeResult pieces = encode(msg, rng, 1 + rng() % 64);
        CAPTURE(msg.substr(0, 120));
        for (const EncodeResult* r : {&bytes, &pieces}) {
            CHECK(r->out == whole.out);
            CHECK(r->written == whole.written);
            CHECK(r->bare_lf == whole.bare_lf);
            CHECK(r->bare_cr == whole.bare_cr);
            CHECK(r->added_newline == whole.added_newline);
        }
    }
}
