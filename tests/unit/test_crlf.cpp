#include "backends/common/crlf.h"

#include <doctest/doctest.h>

using mf::mail::CrlfToLf;

namespace {
std::string convert_split(std::string_view in, std::size_t split, std::uint64_t* bare = nullptr) {
    CrlfToLf c;
    std::string out;
    c.feed(in.substr(0, split), out);
    c.feed(in.substr(split), out);
    c.finish(out);
    if (bare) *bare = c.bare_lf();
    return out;
}
} // namespace

TEST_CASE("CRLF to LF is exact at every split point") {
    struct Case {
        std::string in, out;
        std::uint64_t bare;
    };
    const Case cases[] = {
        {"a\r\nb\r\n", "a\nb\n", 0}, {"a\rb\r\n", "a\rb\n", 0}, {"a\nb\r\n", "a\nb\n", 1},
        {"\r\r\n", "\r\n", 0},       {"x\r", "x\r", 0},         {"", "", 0},
        {"\r\n\r\n\n", "\n\n\n", 1},
    };
    for (const auto& c : cases) {
        for (std::size_t split = 0; split <= c.in.size(); ++split) {
            std::uint64_t bare = 99;
            CHECK(convert_split(c.in, split, &bare) == c.out);
            CHECK(bare == c.bare);
        }
    }
}

TEST_CASE("LF to CRLF undoes CRLF to LF for CRLF-only messages") {
    const std::string msgs[] = {"a\r\nb\r\n", "\r\n\r\n", "x", "From a\r\n>From b\r\n.\r\n",
                                "cr\ronly\r\n"};
    for (const auto& m : msgs) {
        for (std::size_t split = 0; split <= m.size(); ++split) {
            std::string lf = convert_split(m, split);
            mf::mail::LfToCrlf back;
            std::string crlf;
            back.feed(std::string_view(lf).substr(0, split / 2), crlf);
            back.feed(std::string_view(lf).substr(split / 2), crlf);
            CHECK(crlf == m);
        }
    }
}

namespace {
// The rule, one byte at a time: CR LF -> LF, anything else unchanged; an LF
// not after a CR is bare.
std::string reference(std::string_view in, std::uint64_t& bare) {
    std::string out;
    bare = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '\r' && i + 1 < in.size() && in[i + 1] == '\n') continue;
        if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) ++bare;
        out += in[i];
    }
    return out;
}
// A reproducible generator and random text of up to 300 bytes, with CR and
// LF dense or rare, alone or (with `pairs`) as CRLF.
struct Random {
    std::uint64_t seed;
    std::uint64_t next() {
        return seed = seed * 6364136223846793005ull + 1442695040888963407ull, seed >> 33;
    }
    std::string line_ends(bool pairs) {
        std::size_t len = next() % 300;
        unsigned density = 2 + static_cast<unsigned>(next() % 40);
        std::string in;
        for (std::size_t i = 0; i < len; ++i) {
            auto r = next() % density;
            if (r == 0)
                in += '\r';
            else if (r == 1)
                in += '\n';
            else if (r == 2 && pairs)
                in += "\r\n";
            else
                in += static_cast<char>('a' + next() % 26);
        }
        return in;
    }
};
} // namespace

TEST_CASE("CRLF to LF matches the byte-by-byte rule on long inputs in random chunks") {
    // Long enough for the 16-byte block path, with CR and LF dense or rare,
    // paired or alone, and chunk edges anywhere (inside a pair, too).
    Random rng{12345};
    auto next = [&] { return rng.next(); };
    for (int round = 0; round < 400; ++round) {
        std::string in = rng.line_ends(true);
        std::uint64_t want_bare = 0;
        std::string want = reference(in, want_bare);
        CrlfToLf c;
        std::string out = "prefix:";
        for (std::size_t at = 0; at < in.size();) {
            std::size_t n = std::min<std::size_t>(in.size() - at, 1 + next() % 70);
            c.feed(std::string_view(in).substr(at, n), out);
            at += n;
        }
        c.finish(out);
        REQUIRE(out == "prefix:" + want);
        CHECK(c.bare_lf() == want_bare);
    }
}

TEST_CASE("LF to CRLF and its size match the byte-by-byte rule in random chunks") {
    // The rule: every LF not preceded by CR gets one; nothing else changes.
    Random rng{777};
    auto next = [&] { return rng.next(); };
    for (int round = 0; round < 400; ++round) {
        std::string in = rng.line_ends(false);
        std::string want;
        for (std::size_t i = 0; i < in.size(); ++i) {
            if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) want += '\r';
            want += in[i];
        }
        mf::mail::LfToCrlf convert;
        mf::mail::CrlfSize size;
        std::string out = "prefix:";
        for (std::size_t at = 0; at < in.size();) {
            std::size_t n = std::min<std::size_t>(in.size() - at, 1 + next() % 70);
            convert.feed(std::string_view(in).substr(at, n), out);
            size.feed(std::string_view(in).substr(at, n));
            at += n;
        }
        REQUIRE(out == "prefix:" + want);
        CHECK(size.size() == want.size());
    }
}
