#include "backends/maildir/names.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using namespace mf::maildir;
using namespace std::string_literals;

namespace {

// A unique part with the id escaped in full however long, as archives
// written before ids were bounded (k_max_spelled_id) have them.
std::string spelled_unique_part(std::int64_t seconds, std::int64_t micros, int pid,
                                std::uint64_t counter, std::string_view id,
                                std::uint64_t crlf_size) {
    return std::to_string(seconds) + ".M" + std::to_string(micros) + "P" + std::to_string(pid) +
           "Q" + std::to_string(counter) + ".mailferry,U=" + escape_id(id) +
           ",W=" + std::to_string(crlf_size);
}

} // namespace

TEST_CASE("escape_id keeps ids safe in a file name") {
    struct Case {
        std::string id, escaped;
    };
    const std::vector<Case> cases = {
        {"123", "123"},
        {"", ""},
        {"UID:abc", "UID%3Aabc"},
        {"a/b", "a%2Fb"},
        {"a,b", "a%2Cb"},
        {"100%", "100%25"},
        {"x!2,S", "x%212%2CS"},
        {"sp ace", "sp%20ace"},
        {"nul\0"s, "nul%00"},
        {"\x7F\x80\xFF", "%7F%80%FF"},
        {"~}{|`_^]\\[@?>=<;.-+*)('&$#\"", "~}{|`_^]\\[@?>=<;.-+*)('&$#\""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.id);
        CHECK(escape_id(c.id) == c.escaped);
        CHECK(unescape_id(c.escaped) == c.id);
    }
    for (const std::string bad : {"%", "%4", "%41", "%3a", "a/b", "a:b", "a,b", "a b", "%zz"}) {
        CAPTURE(bad);
        CHECK_FALSE(unescape_id(bad).has_value());
    }
}

TEST_CASE("make_bounded_unique_part and parse_name agree") {
    const auto unique = make_bounded_unique_part(1700000000, 123456, 4242, 7, "a/b:c,d%", 12345);
    CHECK(unique == "1700000000.M123456P4242Q7.mailferry,U=a%2Fb%3Ac%2Cd%25,W=12345");
    const auto parsed = parse_name(unique + ":2,FS");
    REQUIRE(parsed);
    CHECK(parsed->unique == unique);
    CHECK(parsed->id == "a/b:c,d%");
    CHECK(parsed->crlf_size == 12345u);
    CHECK(parsed->info_flags == "FS");
}

TEST_CASE("parse_name reads names of other writers") {
    struct Case {
        std::string name;
        std::string unique;
        std::optional<std::string> id;
        std::optional<std::uint64_t> size;
        std::string flags;
    };
    const std::vector<Case> cases = {
        {"1.M2P3Q4.mailferry,U=9,W=10:2,S", "1.M2P3Q4.mailferry,U=9,W=10", "9", 10, "S"},
        {"1.M2P3Q4.mailferry,U=9,W=10!2,RS", "1.M2P3Q4.mailferry,U=9,W=10", "9", 10, "RS"},
        {"1.M2P3Q4.mailferry,U=9,W=10", "1.M2P3Q4.mailferry,U=9,W=10", "9", 10, ""},
        {"1.M2P3Q4.mailferry,U=9,W=10:2,", "1.M2P3Q4.mailferry,U=9,W=10", "9", 10, ""},
        // Dovecot's own names: S= and W=, no U=.
        {"1035478339.M1P2.host,S=1000,W=1030:2,Sa", "1035478339.M1P2.host,S=1000,W=1030",
         std::nullopt, 1030, "Sa"},
        {"1035478339.27041_118.foo.org", "1035478339.27041_118.foo.org", std::nullopt, std::nullopt,
         ""},
        {"x:1,experimental", "x", std::nullopt, std::nullopt, ""},
        // Malformed fields: the file is still a message, the field unknown.
        {"x,U=a%zz,W=12x:2,S", "x,U=a%zz,W=12x", std::nullopt, std::nullopt, "S"},
        {"x,W=99999999999999999999999:2,", "x,W=99999999999999999999999", std::nullopt,
         std::nullopt, ""},
        // First U= wins; a '!' inside a foreign name is not a separator.
        {"x,U=1,U=2", "x,U=1,U=2", "1", std::nullopt, ""},
        {"a!2,b,c", "a!2,b,c", std::nullopt, std::nullopt, ""},
        {"x,U=,W=0", "x,U=,W=0", "", 0, ""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        const auto parsed = parse_name(c.name);
        REQUIRE(parsed);
        CHECK(parsed->unique == c.unique);
        CHECK(parsed->id == c.id);
        CHECK(parsed->crlf_size == c.size);
        CHECK(parsed->info_flags == c.flags);
    }
    for (const auto& bad : {""s, "a/b"s, ".hidden"s, "."s, ".."s, "a\0b"s, ":2,S"s, "!2,S"s}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_name(bad).has_value());
    }
}

TEST_CASE("KeywordTable reads and writes dovecot-keywords") {
    KeywordTable table;
    table.parse("0 $Forwarded\n1 Junk\r\n3 $Label1\nbad line\n26 TooFar\n2 Junk\n"
                "x NotANumber\n4 has space\n5 \n6 $Forwarded\n");
    CHECK(table.keyword_for('a') == "$Forwarded");
    CHECK(table.keyword_for('b') == "Junk");
    CHECK_FALSE(table.keyword_for('c'));
    CHECK(table.keyword_for('d') == "$Label1");
    CHECK_FALSE(table.keyword_for('A'));
    CHECK_FALSE(table.keyword_for('{'));
    CHECK(table.serialize() == "0 $Forwarded\n1 Junk\n3 $Label1\n");
    CHECK_FALSE(table.modified());

    CHECK(table.letter_for("Junk", false) == 'b');
    CHECK_FALSE(table.letter_for("New", false));
    CHECK(table.letter_for("New", true) == 'c'); // the lowest free letter
    CHECK(table.modified());
    CHECK(table.letter_for("junk", true) == 'e'); // keywords are compared exactly
    CHECK_FALSE(table.letter_for("", true));
    CHECK_FALSE(table.letter_for("two words", true));
    CHECK_FALSE(table.letter_for("\\Seen", true));
    CHECK_FALSE(table.letter_for("line\nbreak", true));

    KeywordTable again;
    again.parse(table.serialize());
    CHECK(again.serialize() == table.serialize());
}

TEST_CASE("the table holds 26 keywords; the rest are reported") {
    KeywordTable table;
    mf::Flags flags;
    flags.system = mf::flag_seen | mf::flag_draft | mf::flag_deleted;
    for (int i = 0; i < 30; ++i)
        flags.keywords.push_back("k" + std::to_string(100 + i));
    mf::normalize(flags);
    std::vector<std::string> dropped;
    const auto info = flags_to_info(flags, table, &dropped);
    CHECK(info == "DSTabcdefghijklmnopqrstuvwxyz");
    CHECK(dropped == std::vector<std::string>{"k126", "k127", "k128", "k129"});
    CHECK_FALSE(table.letter_for("k200", true));

    auto back = info_to_flags(info, table);
    CHECK(back.system == flags.system);
    CHECK(back.keywords.size() == 26);
    CHECK(flags_to_info(flags, table) == info); // no out-param: still fine
}

TEST_CASE("flags map to letters in ASCII order and back") {
    KeywordTable table;
    struct Case {
        std::uint8_t system;
        std::vector<std::string> keywords;
        std::string info;
    };
    const std::vector<Case> cases = {
        {0, {}, ""},
        {mf::flag_seen, {}, "S"},
        {mf::flag_answered | mf::flag_seen, {}, "RS"},
        {mf::flag_draft | mf::flag_flagged | mf::flag_answered | mf::flag_seen | mf::flag_deleted,
         {},
         "DFRST"},
        {mf::flag_seen, {"$Forwarded"}, "Sa"},
        {mf::flag_flagged, {"$Forwarded", "Work"}, "Fab"},
    };
    for (const auto& c : cases) {
        mf::Flags flags{c.system, c.keywords};
        mf::normalize(flags);
        CHECK(flags_to_info(flags, table) == c.info);
        CHECK(info_to_flags(c.info, table) == flags);
    }
    // Letters nobody knows are ignored, duplicates do not matter.
    const auto odd = info_to_flags("PSSz?:", table);
    CHECK(odd.system == mf::flag_seen);
    CHECK(odd.keywords.empty());
}

TEST_CASE("with_flags replaces or adds the info") {
    struct Case {
        std::string name, letters, expected;
    };
    const std::vector<Case> cases = {
        {"1.M2P3Q4.mailferry,U=9,W=10", "S", "1.M2P3Q4.mailferry,U=9,W=10:2,S"},
        {"1.M2P3Q4.mailferry,U=9,W=10:2,S", "SR", "1.M2P3Q4.mailferry,U=9,W=10:2,RS"},
        {"1.M2P3Q4.mailferry,U=9,W=10:2,S", "", "1.M2P3Q4.mailferry,U=9,W=10:2,"},
        {"1.x!2,S", "FS", "1.x!2,FS"},
        {"x:1,exp", "S", "x:2,S"},
        {"x", "S/../:!,", "x:2,S"},
        {"x", "bSaS", "x:2,Sab"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        CHECK(with_flags(c.name, c.letters) == c.expected);
    }
}

TEST_CASE("property: ids and flags survive a name round trip") {
    std::mt19937 rng(424242);
    for (int round = 0; round < 3000; ++round) {
        std::string id(rng() % 71, '\0');
        for (auto& c : id)
            c = static_cast<char>(rng() % 3 ? 0x21 + rng() % 94 : rng() % 256);
        const auto size = static_cast<std::uint64_t>(rng()) << (rng() % 32);
        const auto seconds = rng(), micros = rng() % 1000000, counter = rng();
        const auto pid = static_cast<int>(rng() % 99999);
        std::string letters;
        for (char c : std::string("DFRSTabcz"))
            if (rng() % 2) letters += c;
        CAPTURE(id);
        // As mailferry writes names now (the id by digest when it escapes
        // long), and as older archives hold them (the id always spelled out).
        const bool spelled = escape_id(id).size() <= k_max_spelled_id;
        for (const bool bounded : {true, false}) {
            const auto unique =
                bounded ? make_bounded_unique_part(seconds, micros, pid, counter, id, size)
                        : spelled_unique_part(seconds, micros, pid, counter, id, size);
            const auto name = with_flags(unique, letters);
            CHECK(name.find('/') == std::string::npos);
            CHECK(name.find('\0') == std::string::npos);
            CHECK(std::count(name.begin(), name.end(), ':') == 1);
            const auto parsed = parse_name(name);
            REQUIRE(parsed);
            CHECK(parsed->unique == unique);
            if (spelled || !bounded) {
                CHECK(parsed->id == id);
                CHECK_FALSE(parsed->id_digest.has_value());
            } else {
                CHECK_FALSE(parsed->id.has_value());
                CHECK(parsed->id_digest == id_digest_of(id));
            }
            CHECK(parsed->crlf_size == size);
            CHECK(parsed->info_flags == letters);
            CHECK(with_flags(name, letters) == name);
        }
    }
}
