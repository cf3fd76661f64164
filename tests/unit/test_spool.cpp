#include "backends/common/spool.h"

#include <doctest/doctest.h>

namespace {
std::string through(std::string_view in, std::size_t split) {
    mf::mail::Spool spool;
    REQUIRE(spool.write(in.substr(0, split)));
    REQUIRE(spool.write(in.substr(split)));
    std::string out;
    REQUIRE(spool.replay([&](std::string_view b) -> mf::Status {
        out += b;
        return {};
    }));
    CHECK(spool.size() == out.size());
    return out;
}
} // namespace

TEST_CASE("the spool turns bare LF into CRLF and leaves CRLF alone, at every split") {
    const std::pair<std::string, std::string> cases[] = {{"a\r\nb\r\n", "a\r\nb\r\n"},
                                                         {"a\nb\n", "a\r\nb\r\n"},
                                                         {"a\rb", "a\rb"},
                                                         {"\n\r\n\n", "\r\n\r\n\r\n"}};
    for (const auto& [in, want] : cases)
        for (std::size_t split = 0; split <= in.size(); ++split)
            CHECK(through(in, split) == want);
}

TEST_CASE("a large message spills to a file and replays intact") {
    mf::mail::Spool spool;
    std::string line(1000, 'x');
    line += "\r\n";
    std::size_t lines = mf::mail::Spool::k_memory_limit / line.size() + 100;
    for (std::size_t i = 0; i < lines; ++i)
        REQUIRE(spool.write(line));
    std::uint64_t total = 0;
    bool intact = true;
    REQUIRE(spool.replay([&](std::string_view b) -> mf::Status {
        for (std::size_t i = 0; i < b.size(); ++i)
            if (b[i] != line[(total + i) % line.size()]) intact = false;
        total += b.size();
        return {};
    }));
    CHECK(intact);
    CHECK(total == lines * line.size());
}
