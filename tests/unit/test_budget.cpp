// Download budgets: the shared byte budget (sync/budget.h), the record of a
// day's downloads in the archive's meta (backends/archive/download_log.h)
// and how --max-bytes and the daily allowance combine (cli/budget.h).
#include "backends/archive/download_log.h"
#include "cli/budget.h"
#include "store_test_support.h"
#include "sync/budget.h"

#include <doctest/doctest.h>

using namespace mf;
using mf::test::TempDir;

namespace {

RemoteMessage sized(std::string id, std::uint64_t size) {
    RemoteMessage m;
    m.id = std::move(id);
    m.size = size;
    return m;
}

} // namespace

TEST_CASE("a byte budget never gives more than its limit, and nothing limits without one") {
    ByteBudget none;
    CHECK(none.take(UINT64_MAX));
    ByteBudget b(10);
    CHECK(b.take(4));
    CHECK_FALSE(b.take(7)); // would pass the limit: nothing taken
    CHECK(b.take(6));
    CHECK_FALSE(b.take(1));
    CHECK(b.take(0));
    CHECK(b.taken() == 10);
}

TEST_CASE("fit_to_budget keeps what fits, in order, and counts the rest") {
    std::vector<RemoteMessage> listed{sized("1", 5), sized("2", 20), sized("3", 4), sized("4", 2)};
    std::vector<std::string> ids{"1", "2", "3", "4"};
    ByteBudget b(10);
    std::size_t deferred = 0;
    std::uint64_t deferred_bytes = 0;
    fit_to_budget(&b, listed, ids, deferred, deferred_bytes);
    CHECK(ids == std::vector<std::string>{"1", "3"});
    CHECK(deferred == 2);
    CHECK(deferred_bytes == 22);
    std::vector<std::string> all{"1", "2"};
    fit_to_budget(nullptr, listed, all, deferred, deferred_bytes);
    CHECK(all.size() == 2);
}

TEST_CASE("the download log reads what it writes and drops what it cannot read") {
    using archive::DownloadEntry;
    std::vector<DownloadEntry> entries{{1700000000, 12}, {1700003600, 0}};
    CHECK(archive::format_download_log(entries) == "1700000000:12,1700003600:0");
    auto back = archive::parse_download_log("1700000000:12,x:1,5:,:7,1700003600:0");
    REQUIRE(back.size() == 2);
    CHECK(back[1].when == 1700003600);
    CHECK(archive::parse_download_log("").empty());
}

TEST_CASE("a daily allowance counts the runs of the last day, and the smaller limit wins") {
    TempDir tmp;
    auto db = archive::StateDb::open(tmp.path + "/state.db");
    REQUIRE(db);
    const std::int64_t t = 1800000000;
    REQUIRE(archive::record_download(**db, t - 30 * 3600, 500)); // more than a day ago
    REQUIRE(archive::record_download(**db, t - 3600, 300));
    auto used = archive::downloaded_within_day(**db, t);
    REQUIRE(used);
    CHECK(*used == 300);
    // Recording drops what left the window.
    CHECK((*db)->meta("downloads_24h").value() == std::to_string(t - 3600) + ":300");

    ::setenv("MAILFERRY_TEST_NOW", std::to_string(t).c_str(), 1);
    auto gmail = cli::plan_budget("", "", 1000, **db);
    REQUIRE(gmail);
    CHECK(gmail->limit == std::optional<std::uint64_t>(700));
    CHECK(gmail->daily_used == 300);
    CHECK(cli::plan_budget("100", "", 1000, **db)->limit == std::optional<std::uint64_t>(100));
    CHECK(cli::plan_budget("1K", "off", 1000, **db)->limit == std::optional<std::uint64_t>(1024));
    CHECK_FALSE(cli::plan_budget("", "", std::nullopt, **db)->limit);
    CHECK(cli::plan_budget("", "200", std::nullopt, **db)->limit ==
          std::optional<std::uint64_t>(0));
    REQUIRE(cli::record_budget(*gmail, 650, **db));
    CHECK(archive::downloaded_within_day(**db, t).value() == 950);
    ::unsetenv("MAILFERRY_TEST_NOW");
    CHECK(cli::valid_daily_budget("off"));
    CHECK(cli::valid_daily_budget("2000M"));
    CHECK_FALSE(cli::valid_daily_budget("none"));
}
