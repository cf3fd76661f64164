// One copy per message across folders (sync/push_share.h, issue 19): into a
// target that shares messages, a message met again in a later folder is
// labelled, not uploaded; with a primary label only, it is left out and
// counted; a copy the target no longer finds is uploaded after all. And the
// label of each Gmail folder by its special use (backends/imap/labels.h).
#include "backends/archive/push_state.h"
#include "backends/imap/labels.h"
#include "progress_test_support.h"
#include "push_test_support.h"
#include "sync/push.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <optional>

#include <unistd.h>

using namespace mf;

namespace {

// Two folders holding messages by name: "a" and "b" in INBOX, "b" and "c" in Work.
struct TwoFolderSource : Source {
    std::map<std::string, std::vector<std::string>> folders{{"INBOX", {"a", "b"}},
                                                            {"Work", {"b", "c"}}};
    std::string open_folder;
    std::size_t fetched = 0;
    bool gmail_ids = false; // each listed with an identity of its own, "gm:" and its name
    // Every message's Message-ID in place of one of its own ("" none).
    std::optional<std::string> one_message_id;
    Result<std::vector<FolderInfo>> list_folders() override { return std::vector<FolderInfo>{}; }
    Result<Snapshot> open(const FolderInfo& f, const OpenRequest&) override {
        open_folder = f.display();
        Snapshot s;
        s.validity = 1;
        std::uint32_t id = 0;
        for (const auto& name : folders[open_folder])
            s.messages.push_back({open_folder + std::to_string(++id),
                                  100 + name.size(),
                                  1000,
                                  {},
                                  gmail_ids ? "gm:" + name : ""});
        return s;
    }
    const std::string& name_of(const std::string& id) {
        return folders[open_folder][std::stoul(id.substr(open_folder.size())) - 1];
    }
    Status fetch(std::span<const std::string> ids, MessageSink& sink) override {
        for (const auto& id : ids) {
            ++fetched;
            if (auto s = sink.begin(101); !s) return s;
            if (auto s = sink.write(name_of(id)); !s) return s;
            if (auto s = sink.finish(RemoteMessage{id, 101, 1000, {}}); !s) return s;
        }
        return {};
    }
    Result<std::vector<MessageKey>> keys(const std::vector<std::string>& ids) override {
        std::vector<MessageKey> out;
        for (const auto& id : ids)
            out.push_back({id, one_message_id.value_or("<" + name_of(id) + "@x>"), 101, 0});
        return out;
    }
    Status remove(const std::vector<std::string>&) override { return {}; }
    Status close() override { return {}; }
};

struct SharingTarget : mf::test::AppendingTarget {
    Sharing sharing_of_work = Sharing::label;
    bool lost = false; // also_in finds none of the copies
    std::vector<Uploaded> labelled;
    Result<Sharing> sharing(const FolderInfo& f) override {
        return f.display() == "Work" ? sharing_of_work : Sharing::label;
    }
    Result<std::vector<std::size_t>> also_in(const FolderInfo&,
                                             const std::vector<Uploaded>& m) override {
        labelled.insert(labelled.end(), m.begin(), m.end());
        std::vector<std::size_t> missing;
        for (std::size_t i = 0; lost && i < m.size(); ++i)
            missing.push_back(i);
        return missing;
    }
};

struct MemoryState : PushState {
    std::map<std::string, Uploaded> uploads;
    Result<PushMapping> load(const std::string&) override { return PushMapping{1, 7, {}}; }
    Status reset(const std::string&, std::uint32_t, std::uint32_t) override { return {}; }
    Status record(const std::string&, const std::string&, std::uint32_t) override { return {}; }
    Status forget(const std::string&, const std::string&) override { return {}; }
    Status set_copying(const std::string&, bool) override { return {}; }
    Result<bool> copying(const std::string&) override { return false; }
    Result<RefusedRuns> refused(const std::string&) override { return RefusedRuns{}; }
    Status set_refused(const std::string&, const RefusedRuns&) override { return {}; }
    Status record_upload(const std::string& identity, const Uploaded& where) override {
        uploads[identity] = where;
        return {};
    }
    Result<std::optional<Uploaded>> upload_of(const std::string& identity) override {
        auto it = uploads.find(identity);
        if (it == uploads.end()) return std::nullopt;
        return it->second;
    }
};

struct Run {
    SharingTarget target;
    TwoFolderSource source;
    MemoryState state;
    FolderReport work; // the report of the second folder
};

void push_both(Run& run, Labels labels) {
    mf::test::NullProgress progress;
    PushRunOptions options;
    options.labels = labels;
    for (const char* name : {"INBOX", "Work"}) {
        FolderInfo f{{name}, true};
        auto out = push_folder(run.source, run.target, run.state, f, f, options, progress);
        REQUIRE_FALSE(out.failure);
        run.work = out.report;
    }
}

} // namespace

TEST_CASE("into a target that shares messages, a message met again is labelled, not uploaded") {
    Run run;
    push_both(run, Labels::all);
    CHECK(run.target.appended == 3); // a, b, c
    CHECK(run.source.fetched == 3);
    REQUIRE(run.target.labelled.size() == 1); // b, uploaded into INBOX as its UID 2
    CHECK(run.target.labelled[0].folder == std::vector<std::string>{"INBOX"});
    CHECK(run.target.labelled[0].validity == 7);
    CHECK(run.target.labelled[0].uid == 2);
    CHECK(run.work.linked == 1);
    CHECK(run.work.fetched == 1);
}

// b is in both folders: what the second folder does with it.
TEST_CASE("a message met again: labelled, there already, uploaded again, or left out") {
    struct Case {
        const char* what;
        Sharing work;
        bool lost;
        Labels labels;
        std::size_t appended, labelled, linked, elsewhere;
    };
    const Case cases[] = {
        {"All Mail shows every message", Sharing::always, false, Labels::all, 3, 0, 1, 0},
        {"a copy the target no longer finds", Sharing::label, true, Labels::all, 4, 1, 0, 0},
        {"a target without labels", Sharing::copy, false, Labels::all, 4, 0, 0, 0},
        {"a primary label only", Sharing::copy, false, Labels::primary, 3, 0, 0, 1},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        Run run;
        run.target.sharing_of_work = c.work;
        run.target.lost = c.lost;
        push_both(run, c.labels);
        CHECK(run.target.appended == c.appended);
        CHECK(run.target.labelled.size() == c.labelled);
        CHECK(run.work.linked == c.linked);
        CHECK(run.work.elsewhere == c.elsewhere);
    }
}

// The source's own identity (Gmail's X-GM-MSGID) knows b in both folders
// where Message-IDs cannot: none, or one shared by all three (same size and
// date).
TEST_CASE("a message is known again by the source's identity, else by its Message-ID") {
    struct Case {
        const char* what;
        bool gmail_ids;
        std::optional<std::string> message_id;
        std::size_t appended, labelled;
    };
    const Case cases[] = {
        {"no Message-IDs, the source's identities", true, "", 3, 1},
        {"no Message-IDs, no identities: uploaded per folder", false, "", 4, 0},
        {"one Message-ID for all, the source's identities", true, "<same@x>", 3, 1},
        {"one Message-ID for all, no identities: taken as one", false, "<same@x>", 2, 2},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        Run run;
        run.source.gmail_ids = c.gmail_ids;
        run.source.one_message_id = c.message_id;
        push_both(run, Labels::all);
        CHECK(run.target.appended == c.appended);
        CHECK(run.target.labelled.size() == c.labelled);
    }
}

TEST_CASE("the push state keeps where each message was uploaded") {
    const auto dir =
        std::filesystem::temp_directory_path() / ("mf-push-share-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    {
        auto db = archive::StateDb::open((dir / "push.db").string());
        REQUIRE(db);
        archive::DbPushState state(**db);
        CHECK_FALSE(*state.upload_of("<a@x> 101 1000"));
        REQUIRE(state.record_upload("<a@x> 101 1000", {{"[Gmail]", "Sent Mail"}, 9, 42}));
        auto where = state.upload_of("<a@x> 101 1000");
        REQUIRE(where);
        REQUIRE(*where);
        CHECK((*where)->folder == std::vector<std::string>{"[Gmail]", "Sent Mail"});
        CHECK((*where)->validity == 9);
        CHECK((*where)->uid == 42);
    }
    std::filesystem::remove_all(dir);
}

TEST_CASE("a Gmail folder's label by its special use, never its name") {
    using imap::gmail_label;
    CHECK(gmail_label(true, "", "INBOX").label == "\\Inbox");
    CHECK(gmail_label(false, "\\HasNoChildren \\Sent", "x").label == "\\Sent");
    CHECK(gmail_label(false, "\\Drafts", "x").label == "\\Draft");
    CHECK(gmail_label(false, "\\Important", "x").label == "\\Important");
    CHECK(gmail_label(false, "\\Flagged", "[Gmail]/Starred").label == "\\Starred");
    CHECK(gmail_label(false, "\\All", "x").sharing == Sharing::always);
    CHECK(gmail_label(false, "\\Trash", "x").sharing == Sharing::copy);
    CHECK(gmail_label(false, "\\Junk", "x").sharing == Sharing::copy);
    // A user label: its name as the folder is sent (modified UTF-7), quoted.
    CHECK(gmail_label(false, "", "Caf&AOk-/\"Q\"").label == "\"Caf&AOk-/\\\"Q\\\"\"");
    CHECK(gmail_label(false, "", "[Gmail]/Sent Mail").sharing == Sharing::label); // no use: a label
}

TEST_CASE("a special use among several, in any case") {
    CHECK(has_special_use("\\HasNoChildren \\Sent", "\\Sent"));
    CHECK(has_special_use("\\hasnochildren \\TRASH", "\\Trash"));
    CHECK_FALSE(has_special_use("\\Sentx", "\\Sent"));
    CHECK_FALSE(has_special_use("", "\\Sent"));
}
