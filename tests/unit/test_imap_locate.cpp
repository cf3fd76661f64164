// Finding appended messages without APPENDUID (backends/imap/locate.*):
// the searches, pipelined, and how their answers are paired with messages.
#include "backends/imap/locate.h"
#include "transcript.h"

#include <doctest/doctest.h>

using namespace mf;
using mf::test::Transcript;

namespace {

RemoteMessage named(std::string id) {
    RemoteMessage m;
    m.id = std::move(id);
    return m;
}

} // namespace

TEST_CASE("locate: a Message-ID that cannot travel quoted is not searched for") {
    CHECK(imap::locate_command("<a\"b@x>", 5) ==
          std::optional<std::string>("UID SEARCH UID 5:* HEADER Message-ID \"<a\\\"b@x>\""));
    CHECK(imap::locate_command("", 5) ==
          std::optional<std::string>("UID SEARCH UID 5:* NOT HEADER Message-ID \"\""));
    CHECK_FALSE(imap::locate_command("<\xc3\xa9@x>", 5));
}

TEST_CASE("locate: found UIDs pair with the group in ascending order, or not at all") {
    CHECK(imap::pair_found({7, 5}, 2, {}, 1) == std::vector<std::uint32_t>{5, 7});
    CHECK(imap::pair_found({7, 5, 3}, 2, {}, 4) == std::vector<std::uint32_t>{5, 7});
    CHECK(imap::pair_found({7, 5}, 1, {5}, 1) == std::vector<std::uint32_t>{7});
    CHECK(imap::pair_found({7, 5}, 1, {}, 1).empty()); // which one is ours?
    CHECK(imap::pair_found({}, 1, {}, 1).empty());
}

TEST_CASE("transcript imap: appended messages are found by Message-ID, the searches pipelined") {
    auto script = Transcript::load("imap/locate_appended.txt");
    std::vector<std::pair<std::string, std::uint32_t>> located;
    {
        auto session = imap::Session::start(script->transport(), {});
        REQUIRE(session);
        imap::UidLocator locator;
        locator.opened(10);
        locator.add(named("a1"), "<a@x>");
        locator.add(named("none"), "");
        locator.add(named("b"), "<b@x>");
        locator.add(named("a2"), "<a@x>");
        auto s =
            locator.locate(**session, [&](const RemoteMessage& m, std::uint32_t uid) -> Status {
                located.emplace_back(m.id, uid);
                return {};
            });
        CHECK(s);
    }
    CHECK(script->verdict() == "");
    CHECK(located ==
          std::vector<std::pair<std::string, std::uint32_t>>{{"none", 12}, {"a1", 11}, {"a2", 14}});
}
