// link_moved (sync/relink.h) against hand-written fakes: what it asks the
// source, what it asks the store to link, and what leaves the plan.
#include "progress_test_support.h"
#include "sync/relink.h"

#include <doctest/doctest.h>

#include <map>

using namespace mf;
using mf::test::NullProgress;

namespace {

struct KeySource : Source {
    std::vector<MessageKey> key_list;
    std::vector<std::vector<std::string>> asked; // each keys() call
    Result<std::vector<FolderInfo>> list_folders() override { return std::vector<FolderInfo>{}; }
    Result<Snapshot> open(const FolderInfo&, const OpenRequest&) override { return Snapshot{}; }
    Status fetch(std::span<const std::string>, MessageSink&) override { return {}; }
    Result<std::vector<MessageKey>> keys(const std::vector<std::string>& ids) override {
        asked.push_back(ids);
        return key_list;
    }
    Status remove(const std::vector<std::string>&) override { return {}; }
    Status close() override { return {}; }
};

// Holds elsewhere the ids of `like`, and links those of `copies` (by
// Message-ID) unless the file system refuses (`refuse`).
struct LinkFolder : FolderStore {
    std::vector<std::string> like;
    std::map<std::string, std::string> copies; // Message-ID -> what
    bool refuse = false;
    std::vector<std::pair<std::string, Apply>> links; // id, mode per link_held
    Result<std::vector<std::string>>
    held_elsewhere_like(const std::vector<RemoteMessage>&) override {
        return like;
    }
    Result<bool> link_held(const RemoteMessage& m, const std::string& message_id,
                           Apply mode) override {
        if (!copies.contains(message_id) || refuse) return false;
        links.emplace_back(m.id, mode);
        return true;
    }
    Result<FolderState> load() override { return FolderState{}; }
    Status revalidate(std::uint32_t,
                      const std::vector<std::pair<std::string, std::string>>&) override {
        return {};
    }
    Status set_flags(const std::string&, const Flags&) override { return {}; }
    Status set_source_state(const std::string&, SourceState) override { return {}; }
    Status commit() override { return {}; }
    Status begin(std::uint64_t) override { return {}; }
    Status write(std::string_view) override { return {}; }
    Status finish(const RemoteMessage&) override { return {}; }
    void abandon() override {}
};

struct Case {
    Snapshot snap;
    BackupPlan plan;
    FolderReport report;
    NullProgress progress;
    Case() {
        for (int i = 1; i <= 4; ++i) {
            RemoteMessage m;
            m.id = std::to_string(i);
            m.size = 100 * static_cast<std::uint64_t>(i);
            m.internal_date = 1000;
            snap.messages.push_back(m);
            plan.fetch.push_back(m.id);
            plan.fetch_bytes += m.size;
        }
    }
    Status run(Source& source, FolderStore& store, Apply mode = Apply::change) {
        return link_moved(source, store, snap, plan, report, progress, mode);
    }
};

// Message `id` (of size 100 * id) has a copy in another folder, by Message-ID.
void one_copy(KeySource& source, LinkFolder& store, int id) {
    const std::string name = std::to_string(id);
    source.key_list = {{name, "<a@x>", 100 * static_cast<std::uint64_t>(id)}};
    store.like = {name};
    store.copies = {{"<a@x>", ""}};
}

} // namespace

TEST_CASE("a run whose new messages no other folder holds asks the source nothing more") {
    Case c;
    KeySource source;
    LinkFolder store;
    REQUIRE(c.run(source, store));
    CHECK(source.asked.empty());
    CHECK(c.plan.fetch.size() == 4);
    CHECK(c.report.linked == 0);
}

TEST_CASE("moved messages are asked for in one go and linked, not fetched") {
    Case c;
    KeySource source;
    source.key_list = {{"2", "<a@x>", 200}, {"3", "<b@x>", 300}, {"4", "<gone@x>", 400}};
    LinkFolder store;
    store.like = {"2", "3", "4"};
    store.copies = {{"<a@x>", ""}, {"<b@x>", ""}};
    REQUIRE(c.run(source, store));
    REQUIRE(source.asked.size() == 1);
    CHECK(source.asked[0] == std::vector<std::string>{"2", "3", "4"});
    CHECK(c.plan.fetch == std::vector<std::string>{"1", "4"});
    CHECK(c.plan.fetch_bytes == 500);
    CHECK(c.report.linked == 2);
}

TEST_CASE("a message without Message-ID, or of another size, is fetched") {
    Case c;
    KeySource source;
    source.key_list = {{"2", "", 200}, {"3", "<b@x>", 301}};
    LinkFolder store;
    store.like = {"2", "3"};
    store.copies = {{"", ""}, {"<b@x>", ""}};
    REQUIRE(c.run(source, store));
    CHECK(store.links.empty());
    CHECK(c.plan.fetch.size() == 4);
}

TEST_CASE("where the store cannot link, the message is fetched") {
    Case c;
    KeySource source;
    LinkFolder store;
    one_copy(source, store, 2);
    store.refuse = true; // EXDEV: the other folder is on another file system
    REQUIRE(c.run(source, store));
    CHECK(c.plan.fetch.size() == 4);
    CHECK(c.report.linked == 0);
}

TEST_CASE("a dry run only looks, and counts what would be linked") {
    Case c;
    KeySource source;
    LinkFolder store;
    one_copy(source, store, 1);
    REQUIRE(c.run(source, store, Apply::look));
    REQUIRE(store.links.size() == 1);
    CHECK(store.links[0].second == Apply::look);
    CHECK(c.plan.fetch == std::vector<std::string>{"2", "3", "4"});
    CHECK(c.report.linked == 1);
}
