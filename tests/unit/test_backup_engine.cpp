// The executor against hand-written fakes: what reaches the store, when it
// is committed, and what happens when the source or the store fails.
#include "progress_test_support.h"
#include "sync/backup.h"

#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <set>

using namespace mf;
using mf::test::NullProgress;

namespace {

struct FakeSource : Source {
    Snapshot snap;
    std::map<std::string, std::string> bodies;
    std::vector<MessageKey> key_list;
    std::size_t fail_after = SIZE_MAX; // finished messages before a dropped connection
    std::vector<std::vector<std::string>> fetch_calls;
    std::set<std::string> refused; // ids whose fetch fails with Scope::message

    Result<std::vector<FolderInfo>> list_folders() override {
        return std::vector<FolderInfo>{{{"INBOX"}, true}};
    }
    std::optional<bool> asked_changes_only; // what the last open() was told: a known token
    std::optional<std::size_t> asked_part_size;
    std::size_t parts_of = 0;        // >0: answer a request for parts with parts of this many
    std::size_t listed = 0;          // messages handed out in parts so far
    std::vector<std::string> events; // "list" and "fetch", in order
    std::optional<std::string> asked_token;
    Result<Snapshot> open(const FolderInfo&, const OpenRequest& request) override {
        asked_token = request.known_token;
        asked_changes_only = !request.known_token.empty();
        asked_part_size = request.part_size;
        if (request.part_size == 0 || parts_of == 0) return snap;
        Snapshot part = snap;
        part.listing = ListingKind::parts;
        part.total = snap.messages.size();
        listed = 0;
        if (auto s = next_part(part); !s) return std::unexpected(s.error());
        return part;
    }
    Status next_part(Snapshot& part) override {
        events.push_back("list");
        std::size_t end = std::min(snap.messages.size(), listed + parts_of);
        part.messages.assign(snap.messages.begin() + static_cast<std::ptrdiff_t>(listed),
                             snap.messages.begin() + static_cast<std::ptrdiff_t>(end));
        listed = end;
        part.more = end < snap.messages.size();
        return {};
    }
    Status fetch(std::span<const std::string> ids, MessageSink& sink) override {
        fetch_calls.emplace_back(ids.begin(), ids.end());
        events.push_back("fetch");
        for (const auto& id : ids) {
            // As a server answering NO to the whole set at the first message
            // it will not give (Yahoo's NO [UNAVAILABLE], issue 18).
            if (refused.contains(id))
                return fail(ErrorKind::protocol, Scope::message, "NO [UNAVAILABLE] " + id);
            if (fail_after == 0) {
                if (auto s = sink.begin(10); !s) return s;
                (void)sink.write("partial");
                sink.abandon();
                return fail(ErrorKind::connect, Scope::session, "connection dropped");
            }
            --fail_after;
            const auto& body = bodies.at(id);
            if (auto s = sink.begin(body.size()); !s) return s;
            if (auto s = sink.write(body); !s) return s;
            RemoteMessage m;
            m.id = id;
            m.size = body.size();
            if (auto s = sink.finish(m); !s) return s;
        }
        return {};
    }
    Result<std::vector<MessageKey>> keys(const std::vector<std::string>&) override {
        return key_list;
    }
    std::vector<std::string> removed;
    bool closed = false;
    Status remove(const std::vector<std::string>& ids) override {
        removed = ids;
        return {};
    }
    Status close() override {
        closed = true;
        return {};
    }
    std::vector<std::string> marked_read;           // what marked_read_by_fetch() answers
    std::vector<std::vector<std::string>> unmarked; // each undo_marked_read() call
    std::vector<std::string> marked_read_by_fetch() const override { return marked_read; }
    Status undo_marked_read(const std::vector<std::string>& ids) override {
        events.push_back("undo");
        unmarked.push_back(ids);
        return {};
    }
};

struct FakeFolder : FolderStore {
    FolderState st;
    std::map<std::string, std::string> durable, pending;
    std::string current;
    bool writing = false;
    int commits = 0, abandons = 0;
    bool fail_write = false;
    std::vector<std::pair<std::string, std::string>> renames;

    int loads = 0, lookups = 0;
    Result<FolderState> load() override {
        ++loads;
        return st;
    }
    Result<std::vector<HeldMessage>> held_among(const std::vector<RemoteMessage>& listed) override {
        ++lookups;
        std::vector<HeldMessage> out;
        for (const auto& h : st.held)
            for (const auto& m : listed)
                if (h.id == m.id) out.push_back(h);
        return out;
    }
    std::vector<std::pair<std::string, Flags>> flag_sets;
    Status set_flags(const std::string& id, const Flags& f) override {
        flag_sets.emplace_back(id, f);
        return {};
    }
    Status revalidate(std::uint32_t v,
                      const std::vector<std::pair<std::string, std::string>>& r) override {
        renames = r;
        FolderState n;
        n.known = true;
        n.validity = v;
        for (auto& h : st.held)
            for (auto& [o, nw] : r)
                if (h.id == o) {
                    auto c = h;
                    c.id = nw;
                    n.held.push_back(c);
                }
        st = n;
        return {};
    }
    std::map<std::string, SourceState> states, pending_states;
    Status set_source_state(const std::string& id, SourceState s) override {
        pending_states[id] = s;
        return {};
    }
    std::set<std::string> elsewhere;  // identities another folder holds
    std::vector<std::string> linked;  // ids linked by identity
    std::vector<LabelUpdate> labeled; // set_labels calls
    Result<bool> link_same(const RemoteMessage& m, Apply mode) override {
        if (!elsewhere.contains(m.identity)) return false;
        if (mode == Apply::change) linked.push_back(m.id);
        return true;
    }
    Status set_labels(const std::string& id, const std::string& identity,
                      const std::vector<std::string>& labels) override {
        labeled.push_back({id, identity, labels});
        return {};
    }
    Status commit() override {
        for (auto& [k, v] : pending_states)
            states[k] = v;
        pending_states.clear();
        ++commits;
        durable.insert(pending.begin(), pending.end());
        pending.clear();
        return {};
    }
    Status begin(std::uint64_t) override {
        current.clear();
        writing = true;
        return {};
    }
    Status write(std::string_view c) override {
        if (fail_write) return fail(ErrorKind::local_io, Scope::folder, "disk full");
        current += c;
        return {};
    }
    Status finish(const RemoteMessage& m) override {
        pending[m.id] = current;
        writing = false;
        return {};
    }
    void abandon() override {
        ++abandons;
        writing = false;
    }
    std::string token; // what set_change_token() was given
    Status set_change_token(const std::string& t) override {
        token = t;
        return {};
    }
};

struct FakeStore : Store {
    FakeFolder* folder;
    std::size_t held_count = 0;                     // what memo() says is held
    std::string token;                              // ...and the change token it gives
    std::map<std::string, MessageFailure> failures; // what record_failures() kept
    explicit FakeStore(FakeFolder* f) : folder(f) {}
    Result<FolderMemo> memo(const FolderInfo&) override {
        FolderMemo m{token, held_count, {}};
        for (const auto& [id, f] : failures)
            m.failures.push_back(f);
        return m;
    }
    Status record_failures(const FolderInfo&, const std::vector<MessageProblem>& failed,
                           const std::vector<std::string>& cleared) override {
        for (const auto& m : failed) {
            auto& f = failures[m.id];
            f = MessageFailure{m.id, f.runs + 1, m.what};
        }
        for (const auto& id : cleared)
            failures.erase(id);
        return {};
    }
    Result<std::unique_ptr<FolderStore>> open_folder(const FolderInfo&, std::uint32_t) override {
        // The test keeps ownership; hand out a forwarding wrapper.
        struct Fwd : FolderStore {
            FakeFolder& f;
            explicit Fwd(FakeFolder& ff) : f(ff) {}
            Result<FolderState> load() override { return f.load(); }
            Result<std::vector<HeldMessage>>
            held_among(const std::vector<RemoteMessage>& l) override {
                return f.held_among(l);
            }
            Status revalidate(std::uint32_t v,
                              const std::vector<std::pair<std::string, std::string>>& r) override {
                return f.revalidate(v, r);
            }
            Status set_flags(const std::string& i, const Flags& fl) override {
                return f.set_flags(i, fl);
            }
            Status set_source_state(const std::string& i, SourceState s) override {
                return f.set_source_state(i, s);
            }
            Result<bool> link_same(const RemoteMessage& m, Apply mode) override {
                return f.link_same(m, mode);
            }
            Status set_labels(const std::string& i, const std::string& identity,
                              const std::vector<std::string>& labels) override {
                return f.set_labels(i, identity, labels);
            }
            Status commit() override { return f.commit(); }
            Status begin(std::uint64_t s) override { return f.begin(s); }
            Status write(std::string_view c) override { return f.write(c); }
            Status finish(const RemoteMessage& m) override { return f.finish(m); }
            void abandon() override { f.abandon(); }
            Status set_change_token(const std::string& t) override { return f.set_change_token(t); }
        };
        return std::unique_ptr<FolderStore>(std::make_unique<Fwd>(*folder));
    }
};

// A backup of INBOX whose listing comes in parts of 4 (OpenRequest::part_size).
FolderOutcome backup_in_parts_of_4(FakeSource& src, FakeFolder& folder) {
    FakeStore store(&folder);
    NullProgress progress;
    BackupOptions o;
    o.list_part = 4;
    return backup_folder(src, store, FolderInfo{{"INBOX"}, true}, o, progress);
}

FakeSource source_with(int n) {
    FakeSource s;
    s.snap.validity = 5;
    for (int i = 1; i <= n; ++i) {
        RemoteMessage m;
        m.id = std::to_string(i);
        m.size = 3;
        s.snap.messages.push_back(m);
        s.bodies[m.id] = "m" + std::to_string(i);
    }
    return s;
}

} // namespace

TEST_CASE("every planned message is stored and committed in batches") {
    FakeSource src = source_with(5);
    FakeFolder folder;
    FakeStore store(&folder);
    NullProgress progress;
    BackupOptions o;
    o.batch_messages = 2;
    auto out = backup_folder(src, store, FolderInfo{{"INBOX"}, true}, o, progress);
    CHECK_FALSE(out.failure);
    CHECK(out.report.fetched == 5);
    CHECK(folder.durable.size() == 5);
    CHECK(folder.durable["3"] == "m3");
    CHECK(folder.commits == 3); // 2 + 2 + final 1
}

TEST_CASE("a dropped connection keeps the finished messages and abandons the partial one") {
    FakeSource src = source_with(5);
    src.fail_after = 3;
    FakeFolder folder;
    FakeStore store(&folder);
    NullProgress progress;
    auto out = backup_folder(src, store, FolderInfo{{"INBOX"}, true}, BackupOptions{}, progress);
    REQUIRE(out.failure);
    CHECK(out.failure->scope == Scope::session);
    CHECK(out.report.fetched == 3);
    CHECK(out.report.failed == 2);
    CHECK(folder.durable.size() == 3);
    CHECK(folder.abandons == 1);
    CHECK_FALSE(folder.durable.contains("4"));
}

TEST_CASE("a dry run stores nothing") {
    FakeSource src = source_with(3);
    FakeFolder folder;
    FakeStore store(&folder);
    NullProgress progress;
    BackupOptions o;
    o.dry_run = true;
    auto out = backup_folder(src, store, FolderInfo{{"INBOX"}, true}, o, progress);
    CHECK(out.report.planned == 3);
    CHECK(out.report.fetched == 0);
    CHECK(src.fetch_calls.empty());
    CHECK(folder.commits == 0);
}

TEST_CASE("a validity change rematches held messages before planning") {
    FakeSource src = source_with(3);
    src.snap.validity = 9;
    src.key_list = {{"1", "<a>", 3}, {"2", "<b>", 3}, {"3", "<c>", 3}};
    FakeFolder folder;
    folder.st.known = true;
    folder.st.validity = 5;
    HeldMessage h1;
    h1.id = "40";
    h1.message_id = "<b>";
    h1.size = 3;
    folder.st.held = {h1};
    FakeStore store(&folder);
    NullProgress progress;
    auto out = backup_folder(src, store, FolderInfo{{"INBOX"}, true}, BackupOptions{}, progress);
    CHECK(out.report.revalidated);
    CHECK(out.report.rematched == 1);
    CHECK(folder.renames == std::vector<std::pair<std::string, std::string>>{{"40", "2"}});
    CHECK(out.report.fetched == 2); // 1 and 3; 2 was matched, not downloaded again
    CHECK_FALSE(folder.durable.contains("2"));
}

TEST_CASE("fetches are split into chunks") {
    FakeSource src = source_with(7);
    FakeFolder folder;
    FakeStore store(&folder);
    NullProgress progress;
    BackupOptions o;
    o.fetch_chunk = 3;
    backup_folder(src, store, FolderInfo{{"INBOX"}, true}, o, progress);
    CHECK(src.fetch_calls.size() == 3);
}

TEST_CASE("delete after download removes only what was committed, after recording it") {
    FakeSource src = source_with(4);
    FakeFolder folder;
    HeldMessage h;
    h.id = "1";
    folder.st.known = true;
    folder.st.validity = 5;
    folder.st.held = {h};
    FakeStore store(&folder);
    NullProgress progress;
    BackupOptions o;
    o.removal.after_download = true;
    auto out = backup_folder(src, store, FolderInfo{{"INBOX"}, true}, o, progress);
    CHECK_FALSE(out.failure);
    CHECK(src.removed == std::vector<std::string>{"1", "2", "3", "4"});
    CHECK(src.closed);
    CHECK(out.report.deleted == 4);
    CHECK(folder.states["3"] == SourceState::deleted_by_us);
}

TEST_CASE("nothing is deleted when the fetch failed part way") {
    FakeSource src = source_with(4);
    src.fail_after = 2;
    FakeFolder folder;
    FakeStore store(&folder);
    NullProgress progress;
    BackupOptions o;
    o.removal.after_download = true;
    auto out = backup_folder(src, store, FolderInfo{{"INBOX"}, true}, o, progress);
    CHECK(out.failure);
    CHECK(src.removed.empty());
}

TEST_CASE("messages removed by another client are reported once") {
    FakeSource src = source_with(1);
    FakeFolder folder;
    folder.st.known = true;
    folder.st.validity = 5;
    HeldMessage a, b, c;
    a.id = "1";
    b.id = "7";
    c.id = "8";
    c.source_state = SourceState::gone;
    folder.st.held = {a, b, c};
    FakeStore store(&folder);
    NullProgress progress;
    auto out = backup_folder(src, store, FolderInfo{{"INBOX"}, true}, BackupOptions{}, progress);
    CHECK(out.report.removed_by_others == 1);
    CHECK(folder.states["7"] == SourceState::gone);
}

TEST_CASE("a partial listing is planned against the listed messages only") {
    FakeSource src = source_with(2); // "1": re-flagged on the source; "2": new
    src.snap.listing = ListingKind::delta;
    src.snap.total = 50;
    src.snap.messages[0].flags.system = flag_seen;
    FakeFolder folder;
    folder.st.known = true;
    folder.st.validity = 5;
    HeldMessage h1, h40;
    h1.id = "1";
    h40.id = "40"; // not listed: unchanged on the source, so not gone
    folder.st.held = {h1, h40};
    FakeStore store(&folder);
    NullProgress progress;
    auto out = backup_folder(src, store, FolderInfo{{"INBOX"}, true}, BackupOptions{}, progress);
    CHECK_FALSE(out.failure);
    CHECK(src.asked_token == std::string()); // nothing recorded: no token to list changes against
    CHECK(folder.loads == 0);
    CHECK(folder.lookups == 1);
    CHECK(out.report.fetched == 1);
    CHECK(folder.durable.contains("2"));
    REQUIRE(folder.flag_sets.size() == 1);
    CHECK(folder.flag_sets[0].first == "1");
    CHECK(out.report.gone == 0);
    CHECK(out.report.removed_by_others == 0);
    CHECK(out.report.found == 50);
    CHECK(out.report.held == 49);
}

TEST_CASE("a mirror, a removal policy or a dry run never uses the recorded token") {
    for (int which = 0; which < 3; ++which) {
        FakeSource src = source_with(1);
        FakeFolder folder;
        FakeStore store(&folder);
        store.token = "T";
        NullProgress progress;
        BackupOptions o;
        if (which == 0)
            o.mirror = true;
        else if (which == 1)
            o.removal.after_download = true;
        else
            o.dry_run = true;
        (void)backup_folder(src, store, FolderInfo{{"INBOX"}, true}, o, progress);
        CHECK(src.asked_changes_only == false);
        CHECK(src.asked_token == std::string());
        CHECK(src.asked_part_size == std::size_t{0});
    }
    FakeSource src = source_with(1);
    FakeFolder folder;
    FakeStore store(&folder);
    store.token = "T";
    NullProgress progress;
    (void)backup_folder(src, store, FolderInfo{{"INBOX"}, true}, BackupOptions{}, progress);
    CHECK(src.asked_changes_only == true);
    CHECK(src.asked_token == std::string("T"));
}

TEST_CASE("a folder whose listed token equals the recorded one is not opened at all") {
    FakeSource src = source_with(3);
    FakeFolder folder;
    FakeStore store(&folder);
    store.token = "T";
    store.held_count = 3;
    NullProgress progress;
    FolderInfo info{{"INBOX"}, true};
    info.change_token = "T";
    auto out = backup_folder(src, store, info, BackupOptions{}, progress);
    CHECK_FALSE(out.failure);
    CHECK(out.report.unchanged);
    CHECK(out.report.held == 3);
    CHECK_FALSE(src.asked_token); // open never called
    CHECK(src.fetch_calls.empty());
    CHECK(folder.commits == 0);
}

TEST_CASE("listed_unchanged says what backup_folder would skip without the source") {
    FakeFolder folder;
    FakeStore store(&folder);
    FolderInfo info{{"INBOX"}, true};
    info.change_token = "T";
    BackupOptions plain, mirror, dry;
    mirror.mirror = true;
    dry.dry_run = true;
    CHECK_FALSE(listed_unchanged(store, info, plain)); // nothing recorded
    store.token = "T";
    CHECK(listed_unchanged(store, info, plain));
    CHECK_FALSE(listed_unchanged(store, info, mirror));
    CHECK_FALSE(listed_unchanged(store, info, dry));
    info.change_token = "U";
    CHECK_FALSE(listed_unchanged(store, info, plain));
}

TEST_CASE("a listed token that differs, or none recorded, or a run that looks at everything, opens "
          "the folder") {
    struct Case {
        std::string recorded, listed;
        bool mirror;
    };
    for (const Case& c :
         {Case{"T", "U", false}, Case{"", "", false}, Case{"", "T", false}, Case{"T", "T", true}}) {
        FakeSource src = source_with(1);
        FakeFolder folder;
        FakeStore store(&folder);
        store.token = c.recorded;
        NullProgress progress;
        FolderInfo info{{"INBOX"}, true};
        info.change_token = c.listed;
        BackupOptions o;
        o.mirror = c.mirror;
        auto out = backup_folder(src, store, info, o, progress);
        CAPTURE(c.recorded);
        CAPTURE(c.listed);
        CHECK(src.asked_token);
        CHECK_FALSE(out.report.unchanged);
    }
}

TEST_CASE("a folder the archive holds nothing of is listed and stored a part at a time") {
    FakeSource src = source_with(10);
    src.parts_of = 4;
    FakeFolder folder;
    auto out = backup_in_parts_of_4(src, folder);
    CHECK_FALSE(out.failure);
    CHECK(src.asked_part_size == std::size_t{4});
    // Each part is fetched before the next is listed.
    CHECK(src.events ==
          std::vector<std::string>{"list", "fetch", "list", "fetch", "list", "fetch"});
    CHECK(folder.durable.size() == 10);
    CHECK(out.report.found == 10);
    CHECK(out.report.planned == 10);
    CHECK(out.report.fetched == 10);
    CHECK(out.report.vanished == 0);
}

TEST_CASE("each part links what another folder holds under the same identity") {
    FakeSource src = source_with(10);
    for (auto& m : src.snap.messages)
        m.identity = "gm:" + m.id;
    src.parts_of = 4;
    FakeFolder folder;
    folder.elsewhere = {"gm:2", "gm:6", "gm:9"}; // one in each part
    auto out = backup_in_parts_of_4(src, folder);
    CHECK_FALSE(out.failure);
    CHECK(folder.linked == std::vector<std::string>{"2", "6", "9"});
    CHECK(folder.durable.size() == 7);
    CHECK(out.report.linked == 3);
    CHECK(out.report.planned == 7);
    CHECK(out.report.fetched == 7);
    CHECK(out.report.vanished == 0);
}

TEST_CASE("labels the source shows otherwise now are recorded, nothing fetched") {
    FakeSource src = source_with(2);
    src.snap.has_labels = true;
    src.snap.messages[0].identity = "gm:1";
    src.snap.messages[0].labels = {"Work"};
    src.snap.messages[1].identity = "gm:2";
    FakeFolder folder;
    folder.st.known = true;
    folder.st.validity = 5;
    folder.st.held = {HeldMessage{"1", {}, 3, "", 0, SourceState::present, "gm:1", {"\\Inbox"}},
                      HeldMessage{"2", {}, 3, "", 0, SourceState::present, "gm:2", {}}};
    FakeStore store(&folder);
    NullProgress progress;
    auto out = backup_folder(src, store, FolderInfo{{"INBOX"}, true}, {}, progress);
    CHECK_FALSE(out.failure);
    REQUIRE(folder.labeled.size() == 1);
    CHECK(folder.labeled[0].id == "1");
    CHECK(folder.labeled[0].labels == std::vector<std::string>{"Work"});
    CHECK(src.fetch_calls.empty());
}

TEST_CASE("a backup in parts that fails part way counts the parts it never reached as failed") {
    FakeSource src = source_with(10);
    src.parts_of = 4;
    src.fail_after = 5; // in the second part
    FakeFolder folder;
    auto out = backup_in_parts_of_4(src, folder);
    REQUIRE(out.failure);
    CHECK(src.events == std::vector<std::string>{"list", "fetch", "list", "fetch"});
    CHECK(out.report.planned == 10);
    CHECK(out.report.fetched == 5);
    CHECK(out.report.failed == 5);
    CHECK(folder.durable.size() == 5);
}

TEST_CASE("a listing in parts is gathered whole when the archive turns out to hold messages") {
    FakeSource src = source_with(10);
    src.parts_of = 4;
    FakeFolder folder;
    folder.st.known = true;
    folder.st.validity = 5;
    HeldMessage h3, h99;
    h3.id = "3";   // adopted from disk: the database had none
    h99.id = "99"; // not on the source: gone, which only the whole listing shows
    folder.st.held = {h3, h99};
    FakeStore store(&folder);
    NullProgress progress;
    auto out = backup_folder(src, store, FolderInfo{{"INBOX"}, true}, BackupOptions{}, progress);
    CHECK_FALSE(out.failure);
    CHECK(src.events == std::vector<std::string>{"list", "list", "list", "fetch"});
    REQUIRE(src.fetch_calls.size() == 1);
    CHECK(src.fetch_calls[0].size() == 9);
    CHECK(out.report.gone == 1);
    CHECK(out.report.held == 1);
}

TEST_CASE("a folder with held messages is never listed in parts") {
    FakeSource src = source_with(3);
    src.parts_of = 1;
    FakeFolder folder;
    FakeStore store(&folder);
    store.held_count = 2;
    NullProgress progress;
    (void)backup_folder(src, store, FolderInfo{{"INBOX"}, true}, BackupOptions{}, progress);
    CHECK(src.asked_part_size == std::size_t{0});
    CHECK(src.events == std::vector<std::string>{"fetch"});
}

TEST_CASE("a message the server refuses is narrowed down; the rest of its folder is stored") {
    FakeSource src = source_with(40);
    src.refused = {"7", "31"};
    FakeFolder folder;
    FakeStore store(&folder);
    NullProgress progress;
    auto out = backup_folder(src, store, FolderInfo{{"INBOX"}, true}, BackupOptions{}, progress);
    REQUIRE(out.failure);
    CHECK(out.failure->scope == Scope::message);
    CHECK(out.failure->what.find("id 7: NO [UNAVAILABLE] 7") != std::string::npos);
    CHECK(folder.durable.size() == 38);
    CHECK_FALSE(folder.durable.contains("7"));
    CHECK_FALSE(folder.durable.contains("31"));
    REQUIRE(out.report.failed_messages.size() == 2);
    CHECK(out.report.failed_messages[0].id == "7");
    CHECK(out.report.failed_messages[1].id == "31");
    CHECK(out.report.failed == 2);
    CHECK(out.report.fetched == 38);
    CHECK(out.report.vanished == 0);
    // Each message that arrived was asked for until it arrived, not again.
    std::size_t asked = 0;
    for (const auto& call : src.fetch_calls)
        asked += call.size();
    CHECK(src.fetch_calls.size() < 30);
    CHECK(asked < 40 * 4);
}

TEST_CASE("a failure that is not the message's own still ends the folder at once") {
    FakeSource src = source_with(10);
    src.fail_after = 4;
    FakeFolder folder;
    FakeStore store(&folder);
    NullProgress progress;
    auto out = backup_folder(src, store, FolderInfo{{"INBOX"}, true}, BackupOptions{}, progress);
    REQUIRE(out.failure);
    CHECK(out.failure->scope == Scope::session);
    CHECK(src.fetch_calls.size() == 1);
    CHECK(folder.durable.size() == 4);
    CHECK(out.report.failed_messages.empty());
}

TEST_CASE("an unchanged folder reports the server's count, not the archive's") {
    FakeSource src = source_with(3);
    FakeFolder folder;
    FakeStore store(&folder);
    store.token = "T";
    store.held_count = 2; // the archive's count differs (a file removed by hand, say)
    NullProgress progress;
    FolderInfo info{{"INBOX"}, true};
    info.change_token = "T";
    info.messages = 3;
    auto out = backup_folder(src, store, info, BackupOptions{}, progress);
    CHECK(out.report.unchanged);
    CHECK(out.report.found == 3);
    CHECK(out.report.held == 2);
    CHECK(src.fetch_calls.empty());
}

TEST_CASE(
    "a folder with a skipped message is listed whole: the message is reported, not asked for, "
    "and forgotten once gone") {
    FakeSource src = source_with(3);
    FakeFolder folder;
    FakeStore store(&folder);
    store.token = "T";
    store.failures["2"] = MessageFailure{"2", 3, "NO [UNAVAILABLE]"};
    store.failures["9"] = MessageFailure{"9", 3, "NO [UNAVAILABLE]"}; // expunged since
    NullProgress progress;
    FolderInfo info{{"INBOX"}, true};
    info.change_token = "T"; // unchanged, but listed: to see what is gone
    auto out = backup_folder(src, store, info, BackupOptions{}, progress);
    CHECK_FALSE(out.report.unchanged);
    REQUIRE(out.report.skipped_messages.size() == 1);
    CHECK(out.report.skipped_messages[0].id == "2");
    for (const auto& call : src.fetch_calls)
        for (const auto& id : call)
            CHECK(id != "2");
    CHECK(store.failures.contains("2"));
    CHECK_FALSE(store.failures.contains("9"));
    // --skip-after 0 tries it again.
    BackupOptions never;
    never.skip_after = 0;
    src.fetch_calls.clear();
    auto again = backup_folder(src, store, info, never, progress);
    CHECK(again.report.skipped_messages.empty());
    REQUIRE(src.fetch_calls.size() == 1);
}

TEST_CASE(
    "a source that refuses every message is not asked for each alone: the folder fails, bounded") {
    FakeSource src = source_with(2000);
    for (int i = 1; i <= 2000; ++i)
        src.refused.insert(std::to_string(i));
    FakeFolder folder;
    FakeStore store(&folder);
    NullProgress progress;
    auto out = backup_folder(src, store, FolderInfo{{"INBOX"}, true}, BackupOptions{}, progress);
    REQUIRE(out.failure);
    CHECK(out.failure->scope == Scope::folder);
    CHECK(out.failure->what.find("more messages failed than are looked at one by one") !=
          std::string::npos);
    CHECK(src.fetch_calls.size() <= 1 + 2 * 256);
    CHECK(folder.durable.empty());
    // What was narrowed down before the budget ran out is remembered.
    CHECK(store.failures.size() == out.report.failed_messages.size());
}

TEST_CASE("what the source marked read while fetching is counted, and taken back only on request") {
    for (bool undo : {false, true}) {
        CAPTURE(undo);
        FakeSource src = source_with(3);
        src.marked_read = {"1", "3"};
        FakeFolder folder;
        FakeStore store(&folder);
        NullProgress progress;
        BackupOptions o;
        o.undo_server_seen = undo;
        auto out = backup_folder(src, store, FolderInfo{{"INBOX"}, true}, o, progress);
        CHECK_FALSE(out.failure);
        CHECK(out.report.marked_read == 2);
        CHECK(out.report.marked_unread_again == (undo ? 2u : 0u));
        CHECK(src.unmarked == (undo ? std::vector<std::vector<std::string>>{{"1", "3"}}
                                    : std::vector<std::vector<std::string>>{}));
        if (undo) CHECK(src.events.back() == "undo"); // after the fetch
    }
}

TEST_CASE("nothing is taken back after a fetch that failed") {
    FakeSource src = source_with(3);
    src.marked_read = {"1"};
    src.fail_after = 1;
    FakeFolder folder;
    FakeStore store(&folder);
    NullProgress progress;
    BackupOptions o;
    o.undo_server_seen = true;
    auto out = backup_folder(src, store, FolderInfo{{"INBOX"}, true}, o, progress);
    REQUIRE(out.failure);
    CHECK(out.failure->scope == Scope::session);
    CHECK(out.report.marked_read == 1);
    CHECK(src.unmarked.empty());
}

// One folder's backup under a byte budget of `limit`, into a fake store.
struct Budgeted {
    FakeFolder folder;
    FakeStore store{&folder};
    NullProgress progress;
    ByteBudget budget;
    BackupOptions options;
    explicit Budgeted(std::uint64_t limit) : budget(limit) { options.budget = &budget; }
    FolderOutcome run(FakeSource& src) {
        return backup_folder(src, store, FolderInfo{{"INBOX"}, true}, options, progress);
    }
};

TEST_CASE("a byte budget stores what fits and leaves the rest for the next run, not failed") {
    FakeSource src = source_with(5); // 3 bytes each
    src.snap.messages[1].size = 4;   // "2" does not fit after "1"; "3" does
    src.snap.change_token = "T";
    Budgeted b(6);
    auto out = b.run(src);
    CHECK_FALSE(out.failure);
    CHECK(out.report.error.empty());
    CHECK(b.folder.durable.size() == 2);
    CHECK(b.folder.durable.contains("1"));
    CHECK(b.folder.durable.contains("3"));
    CHECK(out.report.planned == 5);
    CHECK(out.report.fetched == 2);
    CHECK(out.report.deferred == 3);
    CHECK(out.report.deferred_bytes == 10);
    CHECK(out.report.vanished == 0);
    CHECK(out.report.failed == 0);
    // Not everything up to the token is held: the next run lists it again.
    CHECK(b.folder.token.empty());
    CHECK(b.budget.taken() == 6);
}

TEST_CASE("a spent budget still lists every part of a folder, to count what is left") {
    FakeSource src = source_with(10);
    src.parts_of = 4;
    Budgeted b(9);
    b.options.list_part = 4;
    auto out = b.run(src);
    CHECK_FALSE(out.failure);
    CHECK(b.folder.durable.size() == 3);
    CHECK(out.report.fetched == 3);
    CHECK(out.report.deferred == 7);
    CHECK(out.report.deferred_bytes == 21);
    CHECK(out.report.vanished == 0);
    CHECK(src.asked_part_size == std::size_t{4});
}

TEST_CASE("a dry run takes nothing from the budget and defers nothing") {
    FakeSource src = source_with(3);
    Budgeted b(1);
    b.options.dry_run = true;
    auto out = b.run(src);
    CHECK(out.report.planned == 3);
    CHECK(out.report.deferred == 0);
    CHECK(b.budget.taken() == 0);
}
