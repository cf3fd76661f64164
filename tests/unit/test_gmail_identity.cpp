// Gmail on the backup side (issue 19): X-GM-MSGID and X-GM-LABELS read from
// a FETCH, asked for only on a server with X-GM-EXT-1, planned as flags are,
// kept in the state database (older archives get the columns in place), and
// a message found again by its identity linked into another folder.
#include "backends/archive/state_db.h"
#include "backends/imap/fetch.h"
#include "backends/imap/listing.h"
#include "backends/imap/reader.h"
#include "backends/maildir/store.h"
#include "store_test_support.h"
#include "sync/plan.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <set>
#include <string>

using namespace mf;
using mf::test::exec_sql;
using mf::test::TempDir;

namespace {

imap::Response parse_line(const std::string& line) {
    struct Stream : imap::ByteStream {
        std::string data;
        std::size_t pos = 0;
        Result<std::size_t> read_some(char* buf, std::size_t len) override {
            if (pos == data.size()) return fail(ErrorKind::connect, Scope::session, "closed");
            const std::size_t n = std::min(len, data.size() - pos);
            data.copy(buf, n, pos);
            pos += n;
            return n;
        }
    } stream;
    stream.data = line + "\r\n";
    imap::ResponseReader reader(stream);
    auto r = reader.read();
    REQUIRE(r);
    return *r;
}

RemoteMessage listed(std::string id, std::string identity, std::vector<std::string> labels) {
    RemoteMessage m;
    m.id = std::move(id);
    m.size = 10;
    m.identity = std::move(identity);
    m.labels = std::move(labels);
    return m;
}

} // namespace

TEST_CASE("parse_fetch reads X-GM-MSGID and X-GM-LABELS") {
    auto data = imap::parse_fetch(parse_line("* 3 FETCH (UID 9 X-GM-MSGID 1278455344230334865 "
                                             "X-GM-LABELS (\\Inbox \"Work stuff\" Family))"));
    REQUIRE(data);
    CHECK(data->gm_msgid == 1278455344230334865u);
    REQUIRE(data->gm_labels);
    CHECK(*data->gm_labels == std::vector<std::string>{"\\Inbox", "Work stuff", "Family"});
    RemoteMessage m;
    imap::take_gmail_items(*data, m);
    CHECK(m.identity == "gm:1278455344230334865");
    CHECK(m.labels == std::vector<std::string>{"Family", "Work stuff", "\\Inbox"}); // sorted

    auto none = imap::parse_fetch(parse_line("* 3 FETCH (UID 9 X-GM-LABELS ())"));
    REQUIRE(none);
    CHECK(none->gm_labels == std::vector<std::string>{});
    CHECK_FALSE(imap::parse_fetch(parse_line("* 3 FETCH (UID 9 X-GM-MSGID abc)")));
    CHECK_FALSE(imap::parse_fetch(parse_line("* 3 FETCH (UID 9 X-GM-LABELS NIL)")));
}

TEST_CASE("only Gmail's listing asks for X-GM-MSGID and X-GM-LABELS") {
    CHECK(imap::listing_command("1:*") == "UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)");
    CHECK(imap::listing_command("1:*", " (CHANGEDSINCE 5)", imap::ListingItems::gmail) ==
          "UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE X-GM-MSGID X-GM-LABELS) "
          "(CHANGEDSINCE 5)");
}

TEST_CASE("labels are planned as flags are, only where the source gives them") {
    Snapshot snap;
    snap.messages = {listed("1", "gm:1", {"\\Inbox"}), listed("2", "gm:2", {"Work"}),
                     listed("3", "gm:3", {})};
    FolderState state;
    state.known = true;
    for (const auto& m : snap.messages)
        state.held.push_back(
            HeldMessage{m.id, {}, 10, "", 0, SourceState::present, m.identity, m.labels});
    state.held[1].labels = {"Work", "\\Starred"}; // a label removed since
    state.held[2].identity = "";                  // adopted after a crash: no identity yet
    SUBCASE("a source with labels") {
        snap.has_labels = true;
        auto plan = plan_backup(snap, state);
        REQUIRE(plan.labels.size() == 2);
        CHECK(plan.labels[0].id == "2");
        CHECK(plan.labels[0].labels == std::vector<std::string>{"Work"});
        CHECK(plan.labels[1].id == "3");
        CHECK(plan.labels[1].identity == "gm:3");
        CHECK(plan.flags.empty());
    }
    SUBCASE("a source without") {
        CHECK(plan_backup(snap, state).labels.empty());
    }
}

TEST_CASE("an archive from before identities gets the columns in place") {
    TempDir tmp;
    const std::string path = tmp.path + "/state.db";
    REQUIRE(exec_sql(path, "CREATE TABLE messages (folder INTEGER NOT NULL, id TEXT NOT NULL, "
                           "location TEXT NOT NULL, flags INTEGER NOT NULL, keywords TEXT NOT "
                           "NULL, size INTEGER NOT NULL, message_id TEXT NOT NULL, date INTEGER "
                           "NOT NULL, source_state INTEGER NOT NULL, PRIMARY KEY (folder, id)) "
                           "WITHOUT ROWID; INSERT INTO messages VALUES (1, '7', 'loc', 0, '', "
                           "10, '<a@b>', 5, 0);"));
    SUBCASE("read-only, it is read as it is") {
        auto ro = archive::StateDb::open_read_only(path);
        REQUIRE(ro);
        auto rows = (*ro)->messages(1);
        REQUIRE(rows);
        REQUIRE(rows->size() == 1);
        CHECK((*rows)[0].identity.empty());
        auto counts = (*ro)->label_counts();
        REQUIRE(counts);
        CHECK(counts->empty());
    }
    SUBCASE("opened to write, it is migrated") {
        auto db = archive::StateDb::open(path);
        REQUIRE(db);
        REQUIRE((*db)->begin());
        REQUIRE((*db)->set_labels(1, "7", "gm:7", {"\\Inbox", "My label"}));
        REQUIRE((*db)->commit());
        auto rows = (*db)->messages(1);
        REQUIRE(rows);
        CHECK((*rows)[0].identity == "gm:7");
        CHECK((*rows)[0].labels == std::vector<std::string>{"\\Inbox", "My label"});
        CHECK((*rows)[0].message_id == "<a@b>");
        auto counts = (*db)->label_counts();
        REQUIRE(counts);
        CHECK(*counts ==
              std::vector<std::pair<std::string, std::size_t>>{{"My label", 1}, {"\\Inbox", 1}});
    }
}

TEST_CASE("a message held in another folder under its identity is linked, not stored again") {
    TempDir tmp;
    auto db = archive::StateDb::open(tmp.path + "/state.db");
    REQUIRE(db);
    maildir::MaildirStore store(tmp.path + "/archive", **db);
    const std::string bytes = "Subject: x\r\n\r\nno Message-ID\r\n";
    RemoteMessage m{"4", bytes.size(), 1700000000, {}, "gm:42", {"\\Inbox", "Work"}};
    {
        auto all = store.open_folder(FolderInfo{{"All"}}, 1);
        REQUIRE(all);
        REQUIRE((*all)->load());
        REQUIRE((*all)->begin(bytes.size()));
        REQUIRE((*all)->write(bytes));
        REQUIRE((*all)->finish(m));
        REQUIRE((*all)->commit());
    }
    auto work = store.open_folder(FolderInfo{{"Work"}}, 3);
    REQUIRE(work);
    REQUIRE((*work)->load());
    RemoteMessage other = m;
    other.id = "9";
    other.identity = "gm:43";
    CHECK_FALSE(*(*work)->link_same(other, Apply::change)); // another message
    other.identity = "gm:42";
    other.internal_date = 0; // the identity alone says it is the same
    CHECK(*(*work)->link_same(other, Apply::look));
    REQUIRE(*(*work)->link_same(other, Apply::change));
    REQUIRE((*work)->commit());
    auto held = (*work)->load();
    REQUIRE(held);
    REQUIRE(held->held.size() == 1);
    CHECK(held->held[0].identity == "gm:42");
    CHECK(held->held[0].labels == m.labels);
    std::set<ino_t> inodes;
    for (const auto& e : std::filesystem::recursive_directory_iterator(tmp.path + "/archive"))
        if (e.is_regular_file() && e.path().parent_path().filename() == "cur") {
            struct stat st;
            REQUIRE(::stat(e.path().c_str(), &st) == 0);
            inodes.insert(st.st_ino);
        }
    CHECK(inodes.size() == 1);
}
