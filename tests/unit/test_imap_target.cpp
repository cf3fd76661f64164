#include "backends/imap/target.h"

#include <doctest/doctest.h>

using mf::imap::expand_uid_set;
using mf::imap::uid_ranges;
using V = std::vector<std::uint32_t>;

TEST_CASE("a MULTIAPPEND's APPENDUID set gives one UID per message, in order") {
    CHECK(expand_uid_set("7", 1) == V{7});
    CHECK(expand_uid_set("101:104", 4) == V{101, 102, 103, 104});
    CHECK(expand_uid_set("5:6,9,11:12", 5) == V{5, 6, 9, 11, 12});
    CHECK(expand_uid_set("4:2", 3) == V{2, 3, 4});
    CHECK(expand_uid_set("4294967294:4294967295", 2) == V{4294967294u, 4294967295u});
}

TEST_CASE("a malformed or oversized APPENDUID set names no UID") {
    // More UIDs than messages: never trusted, and never expanded (a hostile
    // server could name 2^32 of them).
    CHECK(expand_uid_set("1:4294967295", 16).empty());
    CHECK(expand_uid_set("1:3,5", 3).empty());
    for (const char* bad : {"", "0", "0:3", "1:", ":3", "a", "1,,2", "1:2:3", "4294967296", "-1", "1 2", "*"})
        CHECK_MESSAGE(expand_uid_set(bad, 16).empty(), bad);
}

using R = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

TEST_CASE("an ESEARCH set becomes sorted, merged UID ranges") {
    CHECK(uid_ranges("1:20000", 20000) == R{{1, 20000}});
    CHECK(uid_ranges("7,1:3,2", 10) == R{{1, 3}, {7, 7}});
    CHECK(uid_ranges("4:2,5,9:8", 10) == R{{2, 5}, {8, 9}});     // reversed, adjacent
    CHECK(uid_ranges("1:5,3:8,8", 10) == R{{1, 8}});             // overlapping, repeated
    CHECK(uid_ranges("4294967294:4294967295,1", 3) == R{{1, 1}, {4294967294u, 4294967295u}});
}

TEST_CASE("a malformed or oversized ESEARCH set names no UID range") {
    CHECK(uid_ranges("1:4294967295", 100000).empty()); // more than the folder can hold
    CHECK(uid_ranges("1:3,5", 3).empty());
    CHECK(uid_ranges("1,1,1,1", 3).empty()); // more ranges than the limit, even if the same UID
    for (const char* bad : {"", "0", "0:3", "1:", ":3", "a", "1,,2", "1:2:3", "4294967296", "-1", "1 2", "*"})
        CHECK_MESSAGE(uid_ranges(bad, 16).empty(), bad);
}
