// The POP3 listing: LIST's numbers and sizes, then ids from UIDL kept once
// in an arena; duplicates and unnamed messages skipped, lookups by id, and
// forgetting what a run will not fetch.
#include "backends/pop3/listing.h"

#include <doctest/doctest.h>

using mf::pop3::Listing;

TEST_CASE("a POP3 listing finds each id's first copy and skips later ones and unnamed messages") {
    Listing l;
    l.add_listed(3, 30);
    l.add_listed(1, 10);
    l.add_listed(2, 20);
    l.add_listed(4, 40);
    l.add_listed(5, 50);
    l.add_listed(4, 41); // listed again: the last size counts
    CHECK(l.end_listed() == 5);
    CHECK(l.set_id(1, "b"));
    CHECK(l.set_id(3, "b")); // the same UIDL again
    CHECK(l.set_id(2, "a"));
    CHECK(l.set_id(4, "c"));
    // 5 gets no id: UIDL left it out.
    CHECK_FALSE(l.set_id(9, "x")); // LIST did not have it
    CHECK_FALSE(l.set_id(2, "z")); // already named
    CHECK_FALSE(l.set_id(5, ""));
    CHECK(l.seal() == 1);
    REQUIRE(l.size() == 5);
    CHECK(l.entry(0).number == 1);
    CHECK(l.entry(3).size == 41);
    CHECK(l.id(1) == "a");
    CHECK_FALSE(l.skipped(0));
    CHECK(l.skipped(2)); // the second "b"
    CHECK_FALSE(l.has_id(4));
    CHECK(l.skipped(4));
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

    // UIDL failed: the ids go, what LIST said stays, and fingerprints follow.
    l.clear_ids();
    CHECK(l.size() == 5);
    CHECK_FALSE(l.has_id(0));
    CHECK(l.set_id(1, "fp-1"));
    CHECK(l.seal() == 0);
    REQUIRE(l.find("fp-1"));
    CHECK(l.find("fp-1")->number == 1);
    CHECK_FALSE(l.find("b"));

    l.clear();
    CHECK(l.size() == 0);
    CHECK(l.seal() == 0);
    CHECK_FALSE(l.find("fp-1"));
}

TEST_CASE("a POP3 listing of many ids finds every one") {
    Listing l;
    for (std::uint32_t n = 1; n <= 5000; ++n)
        l.add_listed(n, n);
    l.end_listed();
    for (std::uint32_t n = 5000; n >= 1; --n)
        REQUIRE(l.set_id(n, "uidl-" + std::to_string(n * 7919 % 5003)));
    CHECK(l.seal() == 0);
    for (std::uint32_t n = 1; n <= 5000; ++n) {
        const auto* e = l.find("uidl-" + std::to_string(n * 7919 % 5003));
        REQUIRE(e);
        CHECK(e->number == n);
        CHECK(e->size == n);
    }
}
