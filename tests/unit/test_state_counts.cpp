// The state database's count of the messages each folder holds (the
// folder_counts table, kept by triggers): what a no-op run reads instead of
// counting a folder's rows. It must equal the rows through every way a row
// comes and goes.
#include "backends/archive/state_db.h"
#include "store_test_support.h"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <string>

using namespace mf;
using mf::test::exec_sql;
using mf::test::TempDir;

namespace {

archive::StoredMessage row(const std::string& id) {
    archive::StoredMessage m;
    m.id = id;
    m.location = "loc-" + id;
    m.size = 10;
    return m;
}

std::size_t held(archive::StateDb& db, const std::string& path) {
    auto memo = db.memo(path);
    REQUIRE(memo);
    return memo->second;
}

std::size_t counted(const std::string& db_path, std::int64_t folder) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM messages WHERE folder=?", -1, &s, nullptr);
    sqlite3_bind_int64(s, 1, folder);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    auto n = static_cast<std::size_t>(sqlite3_column_int64(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

} // namespace

TEST_CASE("a folder's count follows its rows: added, replaced, removed, rekeyed, emptied") {
    TempDir tmp;
    const std::string path = tmp.path + "/state.db";
    auto db = archive::StateDb::open(path);
    REQUIRE(db);
    auto inbox = (*db)->folder("INBOX");
    auto work = (*db)->folder("Work");
    REQUIRE(inbox);
    REQUIRE(work);
    REQUIRE((*db)->begin());
    for (const char* id : {"1", "2", "3"})
        REQUIRE((*db)->put(inbox->key, row(id)));
    REQUIRE((*db)->put(inbox->key, row("2"))); // INSERT OR REPLACE of a held row
    REQUIRE((*db)->put(work->key, row("1")));
    REQUIRE((*db)->commit());
    CHECK(held(**db, "INBOX") == 3);
    CHECK(held(**db, "Work") == 1);

    REQUIRE((*db)->remove(inbox->key, "1"));
    CHECK(held(**db, "INBOX") == 2);
    REQUIRE((*db)->rekey(inbox->key, {{"2", "20"}, {"3", "30"}}, 9,
                         [](const std::string& id) { return id != "3"; }));
    CHECK(held(**db, "INBOX") == 1);
    CHECK(held(**db, "INBOX") == counted(path, inbox->key));
    REQUIRE((*db)->remove_all(work->key));
    CHECK(held(**db, "Work") == 0);
    auto summaries = (*db)->summaries();
    REQUIRE(summaries);
    for (const auto& f : *summaries)
        CHECK(f.messages == (f.path == "INBOX" ? 1u : 0u));
}

TEST_CASE("an archive from before the counts gets them, counted once, on its first open to write") {
    TempDir tmp;
    const std::string path = tmp.path + "/state.db";
    std::int64_t key = 0;
    {
        auto db = archive::StateDb::open(path);
        REQUIRE(db);
        auto inbox = (*db)->folder("INBOX");
        REQUIRE(inbox);
        key = inbox->key;
        REQUIRE((*db)->begin());
        for (const char* id : {"1", "2", "3", "4"})
            REQUIRE((*db)->put(key, row(id)));
        REQUIRE((*db)->commit());
    }
    // As an archive written before folder_counts existed.
    REQUIRE(exec_sql(path, "DROP TRIGGER messages_counted_in; DROP TRIGGER messages_counted_out; "
                           "DROP TRIGGER messages_counted_moved; DROP TABLE folder_counts;"));
    SUBCASE("read-only, the rows are counted") {
        auto ro = archive::StateDb::open_read_only(path);
        REQUIRE(ro);
        CHECK(held(**ro, "INBOX") == 4);
    }
    SUBCASE("opened to write, the counts are made and kept") {
        auto db = archive::StateDb::open(path);
        REQUIRE(db);
        CHECK(held(**db, "INBOX") == 4);
        REQUIRE((*db)->remove(key, "4"));
        CHECK(held(**db, "INBOX") == 3);
        auto again = archive::StateDb::open(path); // a second connection counts nothing twice
        REQUIRE(again);
        CHECK(held(**again, "INBOX") == 3);
    }
}
