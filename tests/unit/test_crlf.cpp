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
        {"a\r\nb\r\n", "a\nb\n", 0},
        {"a\rb\r\n", "a\rb\n", 0},
        {"a\nb\r\n", "a\nb\n", 1},
        {"\r\r\n", "\r\n", 0},
        {"x\r", "x\r", 0},
        {"", "", 0},
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
    const std::string msgs[] = {"a\r\nb\r\n", "\r\n\r\n", "x", "From a\r\n>From b\r\n.\r\n", "cr\ronly\r\n"};
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
