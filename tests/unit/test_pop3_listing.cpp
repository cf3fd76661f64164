// The POP3 listing: ids kept once in an arena, duplicates marked (the first
// copy counts), lookups by id, and forgetting what a run will not fetch.
#include "backends/pop3/listing.h"

#include <doctest/doctest.h>

using mf::pop3::Listing;

TEST_CASE("a POP3 listing finds each id's first copy and marks later ones as duplicates") {
    Listing l;
    l.add("b", 1, 10);
    l.add("a", 2, 20);
    l.add("b", 3, 30); // the same UIDL again
    l.add("c", 4, 40);
    CHECK(l.seal() == 1);
    CHECK(l.size() == 4);
    CHECK(l.id(2) == "b");
    CHECK_FALSE(l.duplicate(0));
    CHECK(l.duplicate(2));
    REQUIRE(l.find("b"));
    CHECK(l.find("b")->number == 1);
    CHECK(l.find("a")->size == 20);
    CHECK(l.find("c")->number == 4);
    CHECK_FALSE(l.find("d"));
    CHECK_FALSE(l.find(""));

    // Entries before position 2 are forgotten: "b" is only a duplicate after
    // that, so it is not found at all; "c" still is.
    l.keep_from(2);
    CHECK_FALSE(l.find("a"));
    CHECK_FALSE(l.find("b"));
    REQUIRE(l.find("c"));
    CHECK(l.find("c")->number == 4);

    l.clear();
    CHECK(l.size() == 0);
    CHECK(l.seal() == 0);
    CHECK_FALSE(l.find("c"));
}

TEST_CASE("a POP3 listing of many ids finds every one") {
    Listing l;
    for (std::uint32_t n = 1; n <= 5000; ++n) l.add("uidl-" + std::to_string(n * 7919 % 5003), n, n);
    CHECK(l.seal() == 0);
    for (std::uint32_t n = 1; n <= 5000; ++n) {
        const auto* e = l.find("uidl-" + std::to_string(n * 7919 % 5003));
        REQUIRE(e);
        CHECK(e->number == n);
    }
}
