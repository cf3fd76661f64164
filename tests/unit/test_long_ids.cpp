// Ids too long for where they are written down. Maildir names: a name holds
// the id's SHA-256 instead ("U=%sha256-<hex>"), so it stays under NAME_MAX
// (255) whatever the id (RFC 1939 allows 70-character UIDLs that escape to
// 210 bytes). POP3: UIDLs past 16 KiB are replaced by a hash of them, so every
// store (an mbox index line holds 64 KiB) can write the id down.
#include "backends/maildir/names.h"
#include "backends/pop3/source.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace mf::maildir;
using namespace std::string_literals;

namespace {

// A name as long as mailferry can make it: every number at its widest,
// every flag letter set. `id` is the only free part.
std::string widest_name(std::string_view id) {
    const auto unique = make_bounded_unique_part(99999999999, 999999, 4194304,
                                                 std::numeric_limits<std::uint64_t>::max(), id,
                                                 std::numeric_limits<std::uint64_t>::max());
    return with_flags(unique + ",V=4294967295", "DFRSTabcdefghijklmnopqrstuvwxyz");
}

} // namespace

TEST_CASE("id_digest_of is SHA-256 in lower-case hex") {
    struct Case {
        std::string input, digest;
    };
    const std::vector<Case> cases = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        // Padding edges: 55 bytes fit one block with the length, 56 need two.
        {std::string(55, 'a'), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {std::string(56, 'a'), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {std::string(64, 'a'), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {std::string(1000000, 'a'),
         "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
        {std::string(70, '/'), "ae402223285de96c132e36fbeaccfe257bb1e13a395c3eeb45a5b910552306f9"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.input.size());
        CHECK(id_digest_of(c.input) == c.digest);
    }
}

TEST_CASE("id_field spells ids out up to k_max_spelled_id bytes, then gives a digest") {
    CHECK(id_field("123") == "123");
    CHECK(id_field("a/b") == "a%2Fb");
    CHECK(id_field(std::string(71, 'u')) ==
          std::string(71, 'u')); // over RFC 1939's 70, still short
    CHECK(id_field(std::string(100, 'x')) == std::string(100, 'x'));
    CHECK(id_field(std::string(101, 'x')) == "%sha256-" + id_digest_of(std::string(101, 'x')));
    // The escaped length counts: 33 '/' escape to 99 bytes, 34 to 102.
    CHECK(id_field(std::string(33, '/')) == escape_id(std::string(33, '/')));
    CHECK(id_field(std::string(34, '/')) == "%sha256-" + id_digest_of(std::string(34, '/')));
    // RFC-legal UIDLs that escape long.
    for (const auto& id :
         {std::string(70, '/'), ",:"s + std::string(68, ':'), std::string(70, '%')}) {
        CAPTURE(id);
        CHECK(id_field(id) == "%sha256-" + id_digest_of(id));
    }
    // An id that looks like a digest is escaped like any other, never taken for one.
    const std::string lookalike = "%sha256-" + id_digest_of("x");
    CHECK(id_field(lookalike) == "%25sha256-" + id_digest_of("x"));
}

TEST_CASE("a name with a long id stays under NAME_MAX and carries the digest") {
    for (const auto& id : {std::string(70, '/'), std::string(35, ','), std::string(300, 'L'),
                           std::string(1 << 20, 'M'), "\x01\xff"s + std::string(200, '\0')}) {
        CAPTURE(id.size());
        const auto name = widest_name(id);
        CHECK(name.size() <= 255);
        const auto parsed = parse_name(name);
        REQUIRE(parsed);
        CHECK_FALSE(parsed->id.has_value());
        CHECK(parsed->id_digest == id_digest_of(id));
        CHECK(parsed->crlf_size == std::numeric_limits<std::uint64_t>::max());
        CHECK(parsed->info_flags == "DFRSTabcdefghijklmnopqrstuvwxyz");
        CHECK(with_flags(name, "S") == name.substr(0, name.find(':')) + ":2,S");
    }
    // The widest spelled-out id fits as well.
    const auto widest = widest_name(std::string(100, 'x'));
    CHECK(widest.size() <= 255);
    CHECK(parse_name(widest)->id == std::string(100, 'x'));
}

TEST_CASE("make_bounded_unique_part: short ids as before, long ids by digest") {
    CHECK(make_bounded_unique_part(1700000000, 123456, 4242, 7, "a/b:c,d%", 12345) ==
          "1700000000.M123456P4242Q7.mailferry,U=a%2Fb%3Ac%2Cd%25,W=12345");
    const std::string id(70, '/');
    CHECK(make_bounded_unique_part(1, 2, 3, 4, id, 5) ==
          "1.M2P3Q4.mailferry,U=%sha256-"
          "ae402223285de96c132e36fbeaccfe257bb1e13a395c3eeb45a5b910552306f9,W=5");
}

TEST_CASE("parse_name reads digests strictly") {
    const std::string digest = id_digest_of("anything");
    struct Case {
        std::string u;
        std::optional<std::string> id, id_digest;
    };
    const std::vector<Case> cases = {
        {"%sha256-" + digest, std::nullopt, digest},
        // Malformed: upper case, short, long, not hex, no marker.
        {"%sha256-" + std::string(64, 'A'), std::nullopt, std::nullopt},
        {"%sha256-" + digest.substr(1), std::nullopt, std::nullopt},
        {"%sha256-" + digest + "0", std::nullopt, std::nullopt},
        {"%sha256-" + std::string(63, '0') + "g", std::nullopt, std::nullopt},
        {"%sha256-", std::nullopt, std::nullopt},
        {"%SHA256-" + digest, std::nullopt, std::nullopt},
        {"%sha1-" + digest, std::nullopt, std::nullopt},
        // Escaped ids of any length are read as before.
        {"%25sha256-" + digest, "%sha256-" + digest, std::nullopt},
        {std::string(200, 'z'), std::string(200, 'z'), std::nullopt},
    };
    for (const auto& c : cases) {
        CAPTURE(c.u);
        const auto parsed = parse_name("1.M2P3Q4.mailferry,U=" + c.u + ",W=7,V=1:2,S");
        REQUIRE(parsed);
        CHECK(parsed->id == c.id);
        CHECK(parsed->id_digest == c.id_digest);
        CHECK(parsed->crlf_size == 7u);
    }
}

TEST_CASE("property: every id gets a name under NAME_MAX that gives it back or its digest") {
    std::mt19937 rng(707070);
    for (int round = 0; round < 3000; ++round) {
        std::string id(rng() % 400, '\0');
        const int kind = static_cast<int>(rng() % 3);
        for (auto& c : id)
            c = kind == 0   ? static_cast<char>(0x21 + rng() % 94)
                : kind == 1 ? "/,:%!a"[rng() % 6]
                            : static_cast<char>(rng() % 256);
        CAPTURE(id);
        const auto name = widest_name(id);
        CHECK(name.size() <= 255);
        CHECK(name.find('/') == std::string::npos);
        CHECK(name.find('\0') == std::string::npos);
        const auto parsed = parse_name(name);
        REQUIRE(parsed);
        if (escape_id(id).size() <= k_max_spelled_id) {
            CHECK(parsed->id == id);
            CHECK_FALSE(parsed->id_digest.has_value());
        } else {
            CHECK_FALSE(parsed->id.has_value());
            CHECK(parsed->id_digest == id_digest_of(id));
        }
    }
}

TEST_CASE("bounded_uidl keeps UIDLs up to k_max_uidl and hashes longer ones") {
    using mf::pop3::bounded_uidl;
    using mf::pop3::k_max_uidl;
    CHECK(bounded_uidl("uid-1") == "uid-1");
    CHECK(bounded_uidl(std::string(70, '/')) == std::string(70, '/'));
    const std::string at_limit(k_max_uidl, 'x'), over(k_max_uidl + 1, 'x');
    CHECK(bounded_uidl(at_limit) == at_limit);
    const auto hashed = bounded_uidl(over);
    CHECK(hashed.starts_with("uidl-"));
    CHECK(hashed.ends_with("-" + std::to_string(k_max_uidl + 1)));
    CHECK(hashed.size() == 5 + 16 + 1 + std::to_string(k_max_uidl + 1).size());
    CHECK(bounded_uidl(over) == hashed); // stable from run to run
    CHECK(bounded_uidl(std::string(k_max_uidl + 1, 'y')) != hashed);
    // Whatever it escapes to, it fits an mbox index line (64 KiB) with room to spare.
    CHECK(escape_id(std::string(k_max_uidl, '/')).size() < 60 * 1024);
    CHECK(escape_id(bounded_uidl(std::string(1 << 20, '/'))).size() < 100);
}
