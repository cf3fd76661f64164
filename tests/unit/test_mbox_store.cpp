// The mbox store against a real file system and a real state database:
// delivery, reopening, crash recovery, flag changes, a lost database, and a
// UIDVALIDITY change.
#include "backends/mbox/folder.h"
#include "backends/mbox/index.h"
#include "backends/mbox/mboxrd.h"
#include "backends/mbox/store.h"
#include "store_test_support.h"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

using namespace mf;
using namespace mf::mbox;
using mf::test::CollectSink;
using mf::test::TempDir;
namespace stdfs = std::filesystem;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const std::string& path, std::string_view data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
}

Flags flags_of(std::uint8_t system, std::vector<std::string> keywords = {}) {
    Flags f{system, std::move(keywords)};
    normalize(f);
    return f;
}

struct Message {
    std::string id;
    std::string bytes;
    Flags flags;
    std::int64_t date = 0;
};

// Three messages that exercise the encoding: From_ lookalikes, quoted lines,
// a missing final CRLF, and one larger than the write buffer (its From_ line
// is completed after the start of the message reached the file).
std::vector<Message> sample_messages() {
    std::string big = "Message-ID: <big@x>\r\nSubject: big\r\n\r\n";
    for (int i = 0; i < 12000; ++i)
        big += (i % 50 == 0 ? "From the archives, line " : "line ") + std::to_string(i) + "\r\n";
    return {
        {"1",
         "Message-ID: <one@x>\r\nSubject: hi\r\n\r\nFrom here on\r\n>From quoted\r\n>>From "
         "twice\r\nbye\r\n",
         flags_of(flag_seen), 1700000000},
        {"2", "Message-ID:\r\n <two@x>\r\n\r\nno final line break",
         flags_of(flag_flagged, {"$Work", "a,b"}), 1600000000},
        {"3", big, flags_of(0), 1500000000},
    };
}

// Writes `bytes` in chunks of 1, 2, 3, ... bytes, so chunk boundaries fall
// inside "From ", inside CRLF and inside header names.
Status deliver(FolderStore& f, const Message& m) {
    if (auto s = f.begin(m.bytes.size()); !s) return s;
    std::size_t at = 0;
    for (std::size_t n = 1; at < m.bytes.size(); ++n) {
        if (auto s = f.write(std::string_view(m.bytes).substr(at, n)); !s) return s;
        at += n;
    }
    RemoteMessage r{m.id, m.bytes.size(), m.date, m.flags};
    return f.finish(r);
}

struct Decoded {
    std::string from;
    std::string body;
};

std::vector<Decoded> decode_file(const std::string& path) {
    std::vector<Decoded> out;
    Decoder dec({[&](std::string_view from) {
                     out.push_back({std::string(from), {}});
                 },
                 [&](std::string_view body) { out.back().body += body; }, nullptr});
    dec.feed(read_file(path));
    dec.finish();
    return out;
}

struct Archive {
    TempDir dir;
    std::unique_ptr<archive::StateDb> db;
    std::unique_ptr<MboxStore> store;

    Archive() { reopen_db(); }
    void reopen_db() {
        store.reset();
        db.reset();
        db = std::move(*archive::StateDb::open(dir.path + "/state.db"));
        store = std::make_unique<MboxStore>(dir.path, *db);
    }
    void lose_db() {
        store.reset();
        db.reset();
        for (const char* suffix : {"", "-wal", "-shm"})
            ::unlink((dir.path + "/state.db" + suffix).c_str());
        reopen_db();
    }
    std::unique_ptr<FolderStore> open(std::uint32_t validity = 7,
                                      std::vector<std::string> path = {"Work"}) {
        auto f = store->open_folder(FolderInfo{std::move(path), true}, validity);
        REQUIRE(f);
        return std::move(*f);
    }
    std::string mbox() const { return dir.path + "/Work.mbox"; }
    std::string index() const { return mbox() + ".mfindex"; }
};

std::map<std::string, HeldMessage> held_of(FolderStore& f) {
    auto state = f.load();
    REQUIRE(state);
    std::map<std::string, HeldMessage> out;
    for (auto& h : state->held)
        out[h.id] = h;
    return out;
}

void deliver_all(Archive& a, const std::vector<Message>& messages) {
    auto f = a.open();
    REQUIRE(f->load());
    for (const auto& m : messages)
        REQUIRE(deliver(*f, m));
    REQUIRE(f->commit());
}

} // namespace

TEST_CASE("mbox: delivered messages are held after reopening and decode byte for byte") {
    Archive a;
    auto messages = sample_messages();
    deliver_all(a, messages);

    struct stat st;
    REQUIRE(::stat(a.mbox().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(!stdfs::exists(a.mbox() + ".lock")); // the dotlock went with the folder

    auto f = a.open();
    auto held = held_of(*f);
    REQUIRE(held.size() == 3);
    for (const auto& m : messages) {
        CHECK(held[m.id].flags == m.flags);
        CHECK(held[m.id].size == m.bytes.size());
        CHECK(held[m.id].date == m.date);
    }
    CHECK(held["1"].message_id == "<one@x>");
    CHECK(held["2"].message_id == "<two@x>");

    auto decoded = decode_file(a.mbox());
    REQUIRE(decoded.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
        CHECK(parse_from_line(decoded[i].from) == messages[i].date);
        // A message without a final line break gains one; the index's size cuts it back.
        CHECK(decoded[i].body.substr(0, held[messages[i].id].size) == messages[i].bytes);
    }
    CHECK(decoded[1].body == messages[1].bytes + "\r\n");
    CHECK(decoded[0].body == messages[0].bytes);
    CHECK(read_file(a.mbox()).find("\n>>From quoted\n") != std::string::npos);
}

TEST_CASE("mbox: read() gives back the bytes as delivered") {
    Archive a;
    auto messages = sample_messages();
    deliver_all(a, messages);
    auto f = a.open();
    REQUIRE(f->load());
    for (const auto& m : messages) {
        CollectSink sink;
        REQUIRE(f->read(m.id, sink));
        CHECK(sink.bytes == m.bytes);
        CHECK(sink.finished.id == m.id);
        CHECK(sink.finished.internal_date == m.date);
        CHECK(sink.finished.flags == m.flags);
    }
    CollectSink sink;
    auto s = f->read("nothere", sink);
    REQUIRE(!s);
    CHECK(s.error().kind == ErrorKind::not_found);
}

TEST_CASE("mbox: nested folders are files under directories") {
    Archive a;
    auto f = a.open(7, {"Work", "Projects"});
    REQUIRE(f->load());
    REQUIRE(deliver(*f, sample_messages()[0]));
    REQUIRE(f->commit());
    CHECK(stdfs::is_regular_file(a.dir.path + "/Work/Projects.mbox"));
    CHECK(stdfs::is_regular_file(a.dir.path + "/Work/Projects.mbox.mfindex"));
}

TEST_CASE("mbox: index lines are as documented") {
    Archive a;
    deliver_all(a, {sample_messages()[0], sample_messages()[1]});
    std::string mbox = read_file(a.mbox());
    std::string second = std::to_string(mbox.find("From MAILER", 1));
    std::string rest = std::to_string(mbox.size() - std::stoull(second));
    CHECK(read_file(a.index()) ==
          "M 0 " + second + " 7 1 " + std::to_string(sample_messages()[0].bytes.size()) + " S\n" +
              "M " + second + ' ' + rest + " 7 2 " +
              std::to_string(sample_messages()[1].bytes.size()) + " F,$Work,a%2Cb\n");
}

TEST_CASE("mbox: abandon() mid-message leaves the file as it was") {
    Archive a;
    deliver_all(a, {sample_messages()[0]});
    std::string before = read_file(a.mbox());
    auto f = a.open();
    REQUIRE(f->load());
    REQUIRE(f->begin(100000));
    REQUIRE(f->write(sample_messages()[2].bytes)); // more than the write buffer
    f->abandon();
    CHECK(read_file(a.mbox()) == before);
    REQUIRE(deliver(*f, sample_messages()[1]));
    REQUIRE(f->commit());
    f.reset();
    auto held = held_of(*a.open());
    CHECK(held.size() == 2);
    CHECK(decode_file(a.mbox()).size() == 2);
}

TEST_CASE("mbox: a message finished but never committed is rolled back") {
    Archive a;
    deliver_all(a, {sample_messages()[0]});
    std::string before = read_file(a.mbox()), index_before = read_file(a.index());
    {
        auto f = a.open();
        REQUIRE(f->load());
        REQUIRE(deliver(*f, sample_messages()[1]));
        REQUIRE(deliver(*f, sample_messages()[2]));
    } // destroyed without commit: as if the run crashed
    CHECK(read_file(a.mbox()).size() > before.size());
    auto f = a.open();
    auto held = held_of(*f);
    CHECK(held.size() == 1);
    CHECK(held.contains("1"));
    CHECK(read_file(a.mbox()) == before);
    CHECK(read_file(a.index()) == index_before);
}

TEST_CASE("mbox: a torn index line is cut away and its message rolled back") {
    Archive a;
    deliver_all(a, {sample_messages()[0]});
    std::string before = read_file(a.mbox());
    deliver_all(a, {sample_messages()[1]});
    std::string index = read_file(a.index());
    // The crash came while the second M line was being written.
    write_file(a.index(), index.substr(0, index.size() - 3));
    auto held = held_of(*a.open());
    CHECK(held.size() == 1);
    CHECK(held.contains("1"));
    CHECK(read_file(a.mbox()) == before);
    CHECK(read_file(a.index()) == index.substr(0, index.find('\n') + 1));
    // The database row of the lost message is gone too.
    auto rows = a.db->messages(a.db->folder("Work")->key);
    CHECK(rows->size() == 1);
}

TEST_CASE("mbox: set_flags appends to the index and never touches the mbox") {
    Archive a;
    deliver_all(a, sample_messages());
    std::string before = read_file(a.mbox());
    {
        auto f = a.open();
        REQUIRE(f->load());
        REQUIRE(f->set_flags("1", flags_of(flag_seen | flag_answered, {"done"})));
        REQUIRE(f->set_flags("3", flags_of(flag_deleted)));
        REQUIRE(f->set_flags("unknown", flags_of(flag_seen)));
        REQUIRE(f->commit());
    }
    CHECK(read_file(a.mbox()) == before);
    CHECK(read_file(a.index()).ends_with("F 7 1 RS,done\nF 7 3 T\n"));
    auto held = held_of(*a.open());
    CHECK(held["1"].flags == flags_of(flag_seen | flag_answered, {"done"}));
    CHECK(held["3"].flags == flags_of(flag_deleted));
    CHECK(held["2"].flags == sample_messages()[1].flags);
    a.lose_db(); // the flags come from the index, not the database
    held = held_of(*a.open());
    CHECK(held["1"].flags == flags_of(flag_seen | flag_answered, {"done"}));
}

TEST_CASE("mbox: a lost state database is rebuilt from the index") {
    Archive a;
    auto messages = sample_messages();
    deliver_all(a, messages);
    a.lose_db();
    auto f = a.open();
    auto state = f->load();
    REQUIRE(state);
    CHECK(state->known);
    CHECK(state->validity == 7);
    std::map<std::string, HeldMessage> held;
    for (auto& h : state->held)
        held[h.id] = h;
    REQUIRE(held.size() == 3);
    for (const auto& m : messages) {
        CHECK(held[m.id].flags == m.flags);
        CHECK(held[m.id].size == m.bytes.size());
        CHECK(held[m.id].date == m.date); // from the From_ line
    }
    CHECK(held["1"].message_id == "<one@x>");
    CHECK(held["3"].message_id == "<big@x>");
    auto rows = a.db->messages(a.db->folder("Work")->key);
    CHECK(rows->size() == 3);
    CHECK(a.db->folder("Work")->known);
}

TEST_CASE("mbox: revalidate renames held messages and drops the unmatched") {
    Archive a;
    deliver_all(a, sample_messages());
    {
        auto f = a.open(99); // the source's validity changed from 7 to 99
        auto state = f->load();
        REQUIRE(state);
        CHECK(state->validity == 7);
        REQUIRE(f->revalidate(99, {{"1", "101"}, {"3", "103"}, {"nothere", "200"}}));
        auto held = held_of(*f);
        CHECK(held.size() == 2);
        CHECK(held["101"].message_id == "<one@x>");
        CHECK(held["103"].flags == sample_messages()[2].flags);
        REQUIRE(deliver(*f, Message{"104", "Subject: new\r\n\r\nx\r\n", flags_of(0), 1}));
        REQUIRE(f->commit());
    }
    CHECK(read_file(a.index()).find("V 7 1 99 101\nV 7 3 99 103\n") != std::string::npos);
    CHECK(decode_file(a.mbox()).size() == 4); // the unmatched message stays in the archive
    auto held = held_of(*a.open(99));
    CHECK(held.size() == 3);
    CHECK(held.contains("104"));
    a.lose_db();
    held = held_of(*a.open(99));
    CHECK(held.size() == 3);
    CHECK(held.contains("101"));
    CHECK(held.contains("103"));
}

TEST_CASE("mbox: a revalidation whose database commit was lost is finished by load") {
    Archive a;
    deliver_all(a, sample_messages());
    // The V lines became durable, the database kept validity 7.
    std::ofstream(a.index(), std::ios::app) << rename_line(7, "2", 99, "202");
    auto state = a.open(99)->load();
    REQUIRE(state);
    CHECK(state->validity == 99);
    REQUIRE(state->held.size() == 1);
    CHECK(state->held[0].id == "202");
    CHECK(a.db->folder("Work")->validity == 99);
}

TEST_CASE("mbox: records the database lacks are adopted, rows the index lacks are dropped") {
    Archive a;
    deliver_all(a, sample_messages());
    auto key = a.db->folder("Work")->key;
    REQUIRE(a.db->remove(key, "2")); // a crash between index and database
    archive::StoredMessage ghost{"ghost", "999999", flags_of(0), 10, "", 0, 0};
    REQUIRE(a.db->put(key, ghost));
    auto held = held_of(*a.open());
    CHECK(held.size() == 3);
    CHECK(held["2"].message_id == "<two@x>");
    CHECK(!held.contains("ghost"));
    CHECK(a.db->messages(key)->size() == 3);
}

TEST_CASE("mbox: a user's own mbox without index is kept and appended to") {
    Archive a;
    std::string own =
        "From someone@example.org Mon Jan  1 00:00:00 2001\nSubject: mine\n\nhello\n\n";
    write_file(a.mbox(), own);
    {
        auto f = a.open();
        auto state = f->load();
        REQUIRE(state);
        CHECK(state->held.empty());
        REQUIRE(deliver(*f, sample_messages()[0]));
        REQUIRE(f->commit());
        REQUIRE(deliver(*f, sample_messages()[1])); // never committed
    }
    CHECK(read_file(a.index()).starts_with("B " + std::to_string(own.size()) + "\nM " +
                                           std::to_string(own.size()) + ' '));
    auto held = held_of(*a.open());
    CHECK(held.size() == 1);
    CHECK(held.contains("1"));
    auto decoded = decode_file(a.mbox());
    REQUIRE(decoded.size() == 2);
    CHECK(decoded[0].body == "Subject: mine\r\n\r\nhello\r\n");
    CHECK(decoded[1].body == sample_messages()[0].bytes);
}

TEST_CASE("mbox: an mbox shortened by hand loses the records beyond its end") {
    Archive a;
    deliver_all(a, sample_messages());
    std::string mbox = read_file(a.mbox());
    std::size_t second = mbox.find("From MAILER", 1);
    write_file(a.mbox(), mbox.substr(0, second + 40)); // cut inside message 2
    {
        auto f = a.open();
        auto held = held_of(*f);
        CHECK(held.size() == 1);
        CHECK(held.contains("1"));
        CHECK(read_file(a.mbox()) == mbox.substr(0, second));
        REQUIRE(deliver(*f, Message{"9", "Subject: nine\r\n\r\n9\r\n", flags_of(0), 9}));
        REQUIRE(f->commit());
    }
    auto held = held_of(*a.open());
    CHECK(held.size() == 2);
    CHECK(held.contains("9"));
    auto decoded = decode_file(a.mbox());
    REQUIRE(decoded.size() == 2);
    CHECK(decoded[1].body == "Subject: nine\r\n\r\n9\r\n");
}

TEST_CASE("mbox: loading a folder that is not there creates nothing") {
    Archive a;
    auto f = a.open();
    auto state = f->load();
    REQUIRE(state);
    CHECK(!state->known);
    CHECK(state->held.empty());
    f.reset();
    CHECK(!stdfs::exists(a.mbox()));
    CHECK(!stdfs::exists(a.index()));
}

TEST_CASE("mbox: a stale dotlock is removed, a fresh one is respected") {
    Archive a;
    write_file(a.mbox() + ".lock", "12345\n");
    struct timespec old[2] = {{::time(nullptr) - 600, 0}, {::time(nullptr) - 600, 0}};
    REQUIRE(::utimensat(AT_FDCWD, (a.mbox() + ".lock").c_str(), old, 0) == 0);
    deliver_all(a, {sample_messages()[0]});
    CHECK(!stdfs::exists(a.mbox() + ".lock"));

    auto holder = a.open();
    REQUIRE(holder->load());
    REQUIRE(holder->begin(0)); // holds the dotlock
    auto other = a.open();
    REQUIRE(other->load());
    auto s = other->begin(0);
    REQUIRE(!s);
    CHECK(s.error().kind == ErrorKind::locked);
}

TEST_CASE("mbox: index flags text") {
    CHECK(flags_text(flags_of(0)) == "-");
    CHECK(flags_text(flags_of(flag_seen | flag_flagged | flag_draft | flag_answered |
                              flag_deleted)) == "DFRST");
    CHECK(flags_text(flags_of(0, {"todo"})) == ",todo");
    CHECK(flags_text(flags_of(flag_seen, {"k w", "a,b"})) == "S,a%2Cb,k%20w");
    for (const auto& f : {flags_of(0), flags_of(flag_seen, {"$Junk", "x%y"}), flags_of(0, {"-"})})
        CHECK(parse_flags_text(flags_text(f)) == f);
    CHECK(!parse_flags_text(""));
    CHECK(!parse_flags_text("S,"));
}

TEST_CASE("mbox: index replay applies M, F and V in order and skips the malformed") {
    IndexReplay r;
    for (const char* line : {"M 0 100 7 1 10 S", "M 100 50 7 2 5 -", "F 7 1 FS", "F 7 nothere S",
                             "X what", "M 150 x 7 3 5 -", "M 150 10 7 4 5", "V 7 2 8 20", "B 5"})
        r.apply(line);
    auto records = r.records();
    REQUIRE(records.size() == 2);
    CHECK(records[0].id == "1");
    CHECK(records[0].flags == flags_of(flag_seen | flag_flagged));
    CHECK(records[1].id == "20");
    CHECK(records[1].validity == 8);
    CHECK(records[1].end() == 150);
    CHECK(r.base() == 5);
    CHECK(r.last_rename() == std::pair<std::uint32_t, std::uint32_t>{7, 8});
}

// Messages committed by this very FolderStore are not kept in memory: they
// are found through the index for reading back and for flag changes.
TEST_CASE("messages committed in this session are read back and re-flagged through the index") {
    Archive a;
    auto f = a.open();
    REQUIRE(f->load());
    const auto messages = sample_messages();
    for (const auto& m : messages)
        REQUIRE(deliver(*f, m));
    REQUIRE(f->commit());

    for (const auto& m : messages) {
        CollectSink back;
        REQUIRE(f->read(m.id, back));
        CHECK(back.bytes == m.bytes);
    }
    CollectSink none;
    CHECK_FALSE(f->read("99", none));

    REQUIRE(f->set_flags("3", flags_of(flag_seen | flag_answered)));
    REQUIRE(f->commit());
    auto again = a.open();
    auto state = again->load();
    REQUIRE(state);
    REQUIRE(state->held.size() == messages.size());
    for (const auto& h : state->held)
        CHECK(h.flags == (h.id == "3" ? flags_of(flag_seen | flag_answered)
                                      : messages[std::stoi(h.id) - 1].flags));
}

TEST_CASE(
    "mbox: held_among looks up listed messages only; flags, reading and appending still work") {
    Archive a;
    auto sample = sample_messages();
    deliver_all(a, {sample[0], sample[1]});
    auto f = a.open();
    std::vector<RemoteMessage> listed{{"2", 0, 0, {}}, {"9", 0, 0, {}}};
    auto held = f->held_among(listed);
    REQUIRE(held);
    REQUIRE(held->size() == 1);
    CHECK((*held)[0].id == "2");
    CHECK((*held)[0].flags == sample[1].flags);
    CHECK((*held)[0].size == sample[1].bytes.size());

    // Held but not listed (unchanged on the source): still found for flags and reading.
    REQUIRE(f->set_flags("1", flags_of(flag_seen | flag_answered)));
    REQUIRE(f->set_flags("unknown", flags_of(flag_seen)));
    REQUIRE(deliver(*f, sample[2])); // appended after what is there
    REQUIRE(f->commit());
    CollectSink sink;
    REQUIRE(f->read("1", sink));
    CHECK(sink.bytes == sample[0].bytes);
    CHECK(read_file(a.index()).find("F 7 unknown") == std::string::npos);

    auto all = held_of(*a.open());
    REQUIRE(all.size() == 3);
    CHECK(all["1"].flags == flags_of(flag_seen | flag_answered));
    auto decoded = decode_file(a.mbox());
    REQUIRE(decoded.size() == 3);
    CHECK(decoded[2].body.size() > 12000);
}

TEST_CASE("mbox: committed messages leave the page cache, once durable") {
    Archive a;
    if (!mf::test::cache_is_droppable(a.dir.path)) {
        MESSAGE("skipped: the temporary directory is on tmpfs, whose files are the page cache");
        return;
    }
    std::string body = "Subject: big\r\n\r\n";
    for (int i = 0; i < 4000; ++i)
        body += "a line of text that fills the pages of the file\r\n";
    auto control = mf::test::write_control_file(a.dir.path, body.size());
    {
        auto f = a.open();
        REQUIRE(f->load());
        REQUIRE(deliver(*f, Message{"1", body, flags_of(0), 1}));
        REQUIRE(f->commit());
    }
    auto control_cached = mf::test::cached_pages(control);
    auto mbox_cached = mf::test::cached_pages(a.mbox());
    REQUIRE(control_cached);
    REQUIRE(mbox_cached);
    CHECK(*control_cached >=
          40); // written the same way, not dropped: the look can see cached pages
    CHECK(*mbox_cached == 0);
}
