#include "backends/imap/uid_set.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using mf::imap::expand_uid_set;
using mf::imap::k_max_uid_set_chars;
using mf::imap::parse_uid;
using mf::imap::to_uids;
using mf::imap::uid_ranges;
using mf::imap::uid_sets;
using V = std::vector<std::uint32_t>;
using S = std::vector<std::string>;

TEST_CASE("a UID is a whole positive 32-bit decimal") {
    CHECK(parse_uid("1") == 1u);
    CHECK(parse_uid("4294967295") == 4294967295u);
    for (const char* bad :
         {"", "0", "00", "4294967296", "-1", "+1", " 1", "1 ", "1a", "0x1", "1:2"})
        CHECK_MESSAGE(!parse_uid(bad), bad);
}

TEST_CASE("message ids become UIDs, the ones that are not left out") {
    const std::vector<std::string> ids = {"7", "x", "3", "0", "", "4294967296", "3"};
    CHECK(to_uids(ids) == V{7, 3, 3});
    CHECK(to_uids({}).empty());
}

TEST_CASE("UID lists become compressed UID sets") {
    struct Case {
        V uids;
        S sets;
    };
    const std::vector<Case> cases = {
        {{}, {}},
        {{5}, {"5"}},
        {{1, 3}, {"1,3"}},
        {{1, 2}, {"1:2"}},
        {{1, 2, 3, 5, 7, 8, 9, 12}, {"1:3,5,7:9,12"}},
        {{12, 9, 8, 7, 7, 5, 3, 2, 1, 1}, {"1:3,5,7:9,12"}},
        {{4294967295u, 4294967294u, 1}, {"1,4294967294:4294967295"}},
    };
    for (const Case& c : cases) {
        CAPTURE(c.uids.size());
        CHECK(uid_sets(c.uids, k_max_uid_set_chars) == c.sets);
    }
}

TEST_CASE("a long UID list is split into sets of at most max_chars, never inside a range") {
    CHECK(uid_sets({1, 3, 5, 7}, 3) == S{"1,3", "5,7"});
    CHECK(uid_sets({1, 3, 5, 7}, 4) == S{"1,3", "5,7"});
    CHECK(uid_sets({1, 3, 5, 7}, 5) == S{"1,3,5", "7"});
    CHECK(uid_sets({10, 11, 12, 20}, 4) ==
          S{"10:12", "20"}); // a range longer than max_chars stays whole
    V every_other;
    for (std::uint32_t u = 1; u < 20000; u += 2)
        every_other.push_back(u);
    const auto sets = uid_sets(every_other, k_max_uid_set_chars);
    CHECK(sets.size() > 1);
    V back;
    for (const auto& set : sets) {
        CHECK(set.size() <= k_max_uid_set_chars);
        const auto part = expand_uid_set(set, every_other.size());
        back.insert(back.end(), part.begin(), part.end());
    }
    CHECK(back == every_other);
}

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
    for (const char* bad :
         {"", "0", "0:3", "1:", ":3", "a", "1,,2", "1:2:3", "4294967296", "-1", "1 2", "*"})
        CHECK_MESSAGE(expand_uid_set(bad, 16).empty(), bad);
}

using R = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

TEST_CASE("an ESEARCH set becomes sorted, merged UID ranges") {
    CHECK(uid_ranges("1:20000", 20000) == R{{1, 20000}});
    CHECK(uid_ranges("7,1:3,2", 10) == R{{1, 3}, {7, 7}});
    CHECK(uid_ranges("4:2,5,9:8", 10) == R{{2, 5}, {8, 9}}); // reversed, adjacent
    CHECK(uid_ranges("1:5,3:8,8", 10) == R{{1, 8}});         // overlapping, repeated
    CHECK(uid_ranges("4294967294:4294967295,1", 3) == R{{1, 1}, {4294967294u, 4294967295u}});
}

TEST_CASE("a malformed or oversized ESEARCH set names no UID range") {
    CHECK(uid_ranges("1:4294967295", 100000).empty()); // more than the folder can hold
    CHECK(uid_ranges("1:3,5", 3).empty());
    CHECK(uid_ranges("1,1,1,1", 3).empty()); // more ranges than the limit, even if the same UID
    for (const char* bad :
         {"", "0", "0:3", "1:", ":3", "a", "1,,2", "1:2:3", "4294967296", "-1", "1 2", "*"})
        CHECK_MESSAGE(uid_ranges(bad, 16).empty(), bad);
}
