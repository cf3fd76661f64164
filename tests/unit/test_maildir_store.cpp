// The Maildir store against a real file system and a real state database:
// messages committed by this very FolderStore are found again for flag
// changes, reading back and removal, although the store keeps only what
// load() listed in memory (a full backup of a large folder must not keep
// every file name).
#include "backends/archive/state_db.h"
#include "backends/maildir/store.h"
#include "store_test_support.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

using namespace mf;
using mf::test::CollectSink;
using mf::test::TempDir;

namespace {

// An archive with one folder, INBOX, under validity 7.
struct Archive {
    TempDir tmp;
    std::unique_ptr<archive::StateDb> db;
    std::unique_ptr<maildir::MaildirStore> store;
    const std::string dir = tmp.path + "/archive/INBOX";

    Archive() {
        auto opened = archive::StateDb::open(tmp.path + "/state.db");
        REQUIRE(opened);
        db = std::move(*opened);
        store = std::make_unique<maildir::MaildirStore>(tmp.path + "/archive", *db);
    }
    std::unique_ptr<FolderStore> open() {
        auto f = store->open_folder(FolderInfo{{"INBOX"}}, 7);
        REQUIRE(f);
        return std::move(*f);
    }
};

void deliver(FolderStore& f, const std::string& id, const std::string& crlf_bytes,
             Flags flags = {}) {
    REQUIRE(f.begin(crlf_bytes.size()));
    REQUIRE(f.write(crlf_bytes));
    RemoteMessage m{id, crlf_bytes.size(), 1700000000, std::move(flags)};
    REQUIRE(f.finish(m));
}

// Files in cur/ and new/ of the folder, by name.
std::vector<std::string> files_of(const std::string& dir) {
    std::vector<std::string> out;
    for (const char* sub : {"cur", "new"})
        if (std::filesystem::exists(dir + '/' + sub))
            for (const auto& e : std::filesystem::directory_iterator(dir + '/' + sub))
                out.push_back(e.path().filename().string());
    return out;
}

const std::string k_one = "Subject: one\r\n\r\nbody one\r\n";
const std::string k_two = "Subject: two\r\n\r\nbody two\r\n";

} // namespace

TEST_CASE("messages committed in this session are found for flags, reading and removal") {
    Archive a;
    auto folder = a.open();
    FolderStore& f = *folder;
    REQUIRE(f.load());
    deliver(f, "1", k_one);
    deliver(f, "2", k_two);
    REQUIRE(f.commit());
    REQUIRE(files_of(a.dir).size() == 2);

    // Flags: the file of id 1 is renamed to carry S and F.
    REQUIRE(f.set_flags("1", Flags{flag_seen | flag_flagged, {}}));
    REQUIRE(f.commit());
    int flagged = 0;
    for (const auto& name : files_of(a.dir))
        if (name.ends_with(":2,FS")) {
            ++flagged;
            CHECK(name.find(",U=1,") != std::string::npos);
        }
    CHECK(flagged == 1);
    // A second change on the same message finds the renamed file.
    REQUIRE(f.set_flags("1", Flags{flag_seen, {}}));
    int seen_only = 0;
    for (const auto& name : files_of(a.dir))
        seen_only += name.ends_with(":2,S");
    CHECK(seen_only == 1);

    CollectSink back;
    REQUIRE(f.read("2", back));
    CHECK(back.bytes == k_two);
    CollectSink none;
    CHECK_FALSE(f.read("3", none));

    REQUIRE(f.remove({"2"}));
    REQUIRE(f.commit());
    CHECK(files_of(a.dir).size() == 1);
    CollectSink gone;
    CHECK_FALSE(f.read("2", gone));

    // A new session sees the end state.
    auto state = a.open()->load();
    REQUIRE(state);
    REQUIRE(state->held.size() == 1);
    CHECK(state->held[0].id == "1");
    CHECK(state->held[0].flags == Flags{flag_seen, {}});
}

TEST_CASE("load_brief leaves Message-IDs out, load keeps them") {
    Archive a;
    {
        auto f = a.open();
        REQUIRE(f->load());
        deliver(*f, "5", "Message-ID: <five@example>\r\n\r\nx\r\n", Flags{flag_seen, {}});
        REQUIRE(f->commit());
    }
    auto f = a.open();
    auto brief = f->load_brief();
    REQUIRE(brief);
    REQUIRE(brief->held.size() == 1);
    CHECK(brief->held[0].message_id.empty());
    CHECK(brief->held[0].flags == Flags{flag_seen, {}});
    auto full = f->load();
    REQUIRE(full);
    REQUIRE(full->held.size() == 1);
    CHECK(full->held[0].message_id == "<five@example>");
}

TEST_CASE("held_among looks up listed messages only, and a flag change still finds the file") {
    Archive a;
    {
        auto folder = a.open();
        REQUIRE(folder->load());
        deliver(*folder, "1", k_one, Flags{flag_seen, {"$Work"}});
        deliver(*folder, "2", k_two);
        REQUIRE(folder->commit());
    }
    // A new session, as the next run: no load(), only the listed ids.
    auto folder = a.open();
    std::vector<RemoteMessage> listed{{"1", 0, 0, {}}, {"3", 0, 0, {}}};
    auto held = folder->held_among(listed);
    REQUIRE(held);
    REQUIRE(held->size() == 1);
    CHECK((*held)[0].id == "1");
    CHECK((*held)[0].flags == Flags{flag_seen, {"$Work"}});
    CHECK((*held)[0].size == k_one.size());
    CHECK((*held)[0].date == 1700000000);

    REQUIRE(folder->set_flags("1", Flags{flag_seen | flag_answered, {}}));
    REQUIRE(folder->commit());
    int renamed = 0;
    for (const auto& name : files_of(a.dir))
        renamed += name.ends_with(":2,RS");
    CHECK(renamed == 1);
    CHECK(files_of(a.dir).size() == 2);
    auto again = a.open()->load();
    REQUIRE(again);
    REQUIRE(again->held.size() == 2);
    for (const auto& h : again->held)
        if (h.id == "1") CHECK(h.flags == Flags{flag_seen | flag_answered, {}});
}

TEST_CASE("committed messages leave the page cache, once durable") {
    Archive a;
    if (!mf::test::cache_is_droppable(a.tmp.path)) {
        MESSAGE("skipped: the temporary directory is on tmpfs, whose files are the page cache");
        return;
    }
    std::string body = "Subject: big\r\n\r\n";
    for (int i = 0; i < 4000; ++i)
        body += "a line of text that fills the pages of the file\r\n";
    auto control = mf::test::write_control_file(a.tmp.path, body.size());
    auto folder = a.open();
    REQUIRE(folder->load());
    deliver(*folder, "1", body);
    REQUIRE(folder->commit());
    auto files = files_of(a.dir);
    REQUIRE(files.size() == 1);
    auto control_cached = mf::test::cached_pages(control);
    auto file_cached = mf::test::cached_pages(a.dir + "/cur/" + files[0]);
    REQUIRE(control_cached);
    REQUIRE(file_cached);
    CHECK(*control_cached >=
          40); // written the same way, not dropped: the look can see cached pages
    CHECK(*file_cached == 0);
}

// verify and a restore's source open the state database read-only (no copy):
// loading must then use what it finds without writing it back, for a folder
// the database never recorded as for files deleted by hand.
TEST_CASE("a read-only store loads from a read-only database, writing nothing") {
    Archive a;
    {
        auto f = a.open();
        REQUIRE(f->load());
        deliver(*f, "1", k_one);
        deliver(*f, "2", k_two);
        REQUIRE(f->commit());
    }
    std::filesystem::remove(a.dir + "/cur/" + files_of(a.dir)[0]); // deleted by hand
    a.store.reset();
    a.db.reset();
    const auto before = std::filesystem::last_write_time(a.tmp.path + "/state.db");
    auto ro = archive::StateDb::open_read_only(a.tmp.path + "/state.db");
    REQUIRE(ro);
    maildir::MaildirStore store(a.tmp.path + "/archive", **ro, true);
    auto f = store.open_folder(FolderInfo{{"INBOX"}}, 7);
    REQUIRE(f);
    auto state = (*f)->load();
    REQUIRE(state);
    CHECK(state->held.size() == 1);
    auto never = store.open_folder(FolderInfo{{"Never"}}, 3);
    REQUIRE(never);
    auto empty = (*never)->load();
    REQUIRE(empty);
    CHECK(empty->held.empty());
    CHECK(std::filesystem::last_write_time(a.tmp.path + "/state.db") == before);
}
