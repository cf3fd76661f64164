// push_folder against hand-written fakes: after an interrupted run, the
// target is compared with the source only once it has stopped changing; a
// source listed in parts is copied part by part into an empty target, and
// planned whole into one that holds messages; a byte budget defers the rest.
#include "progress_test_support.h"
#include "push_test_support.h"
#include "sync/push.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>

using namespace mf;

namespace {

struct OneFolderSource : Source {
    Snapshot snap;
    Result<std::vector<FolderInfo>> list_folders() override {
        return std::vector<FolderInfo>{{{"INBOX"}, true}};
    }
    Result<Snapshot> open(const FolderInfo&, const OpenRequest&) override { return snap; }
    Status fetch(std::span<const std::string> ids, MessageSink& sink) override {
        for (const auto& id : ids) {
            std::string body(100 + std::stoul(id), 'x');
            if (auto s = sink.begin(body.size()); !s) return s;
            if (auto s = sink.write(body); !s) return s;
            if (auto s = sink.finish(RemoteMessage{id, body.size(), 1000, {}}); !s) return s;
        }
        return {};
    }
    Result<std::vector<MessageKey>> keys(const std::vector<std::string>& ids) override {
        std::vector<MessageKey> out;
        for (const auto& id : ids)
            out.push_back({id, "<" + id + "@x>", 100 + std::stoul(id), 0});
        return out;
    }
    Status remove(const std::vector<std::string>&) override { return {}; }
    Status close() override { return {}; }
};

// Lists in parts when asked, and logs what the engine asked for, in order:
// "L" for each part listed, "F" for each fetch.
struct PartedSource : OneFolderSource {
    std::vector<RemoteMessage> all;
    std::size_t part = 0, next = 0;
    std::string log;
    std::string fail_at; // an id whose fetch fails, ending the run
    Result<Snapshot> open(const FolderInfo&, const OpenRequest& request) override {
        part = request.part_size;
        next = 0;
        Snapshot s;
        s.validity = 1;
        if (auto st = next_part(s); !st) return std::unexpected(st.error());
        if (s.more) s.listing = ListingKind::parts;
        return s;
    }
    Status next_part(Snapshot& s) override {
        std::size_t n = part ? std::min(part, all.size() - next) : all.size() - next;
        s.messages.assign(all.begin() + static_cast<std::ptrdiff_t>(next),
                          all.begin() + static_cast<std::ptrdiff_t>(next + n));
        next += n;
        s.more = next < all.size();
        s.total = all.size();
        log += 'L';
        return {};
    }
    Status fetch(std::span<const std::string> ids, MessageSink& sink) override {
        log += 'F';
        for (const auto& id : ids) {
            if (id == fail_at) return fail(ErrorKind::connect, Scope::session, "connection lost");
            if (auto s = OneFolderSource::fetch(std::span(&id, 1), sink); !s) return s;
        }
        return {};
    }
};

// A target whose server is still storing what a dead run sent: the stored
// messages become visible one more at each open().
struct LaggingTarget : mf::test::AppendingTarget {
    std::vector<TargetMessage> stored; // what the server will have
    std::size_t visible = 0;

    LaggingTarget() { first_uid = 101; }
    Result<TargetFolder> open(const FolderInfo&) override {
        visible = std::min(stored.size(), visible + 1);
        TargetFolder f{
            true, 7, {stored.begin(), stored.begin() + static_cast<std::ptrdiff_t>(visible)}};
        for (auto& m : f.messages)
            m.message_id.clear(); // only fill_keys tells
        return f;
    }
    Status fill_keys(TargetFolder& folder, const std::vector<std::uint32_t>&) override {
        for (auto& m : folder.messages)
            m.message_id = stored[m.uid - 1].message_id;
        return {};
    }
};

struct MemoryState : PushState {
    bool copying_flag = false;
    Result<PushMapping> load(const std::string&) override { return PushMapping{1, 7, {}}; }
    Status reset(const std::string&, std::uint32_t, std::uint32_t) override { return {}; }
    Status record(const std::string&, const std::string&, std::uint32_t) override { return {}; }
    Status forget(const std::string&, const std::string&) override { return {}; }
    Status set_copying(const std::string&, bool on) override {
        copying_flag = on;
        return {};
    }
    Result<bool> copying(const std::string&) override { return copying_flag; }
    RefusedRuns refusals;
    Result<RefusedRuns> refused(const std::string&) override { return refusals; }
    Status set_refused(const std::string&, const RefusedRuns& r) override {
        refusals = r;
        return {};
    }
};

// Three source messages, all three already stored by the dead run, of which
// the server shows one at first.
std::size_t copies_after_a_dead_run(bool interrupted) {
    OneFolderSource source;
    source.snap.validity = 1;
    LaggingTarget target;
    for (std::uint32_t i = 1; i <= 3; ++i) {
        source.snap.messages.push_back(RemoteMessage{std::to_string(i), 100 + i, 1000, {}});
        target.stored.push_back(
            TargetMessage{i, {}, 100 + i, 1000, "<" + std::to_string(i) + "@x>"});
    }
    MemoryState state;
    state.copying_flag = interrupted;
    mf::test::NullProgress progress;
    PushRunOptions options;
    options.settle_quiet = std::chrono::milliseconds(1);
    auto out =
        push_folder(source, target, state, {{"INBOX"}, true}, {{"INBOX"}, true}, options, progress);
    REQUIRE_FALSE(out.failure);
    CHECK_FALSE(state.copying_flag); // a finished run clears it
    return target.appended;
}

} // namespace

TEST_CASE("after an interrupted run, push waits until the target stops changing") {
    CHECK(copies_after_a_dead_run(true) == 0);
    // Without the mark the lagging server would be overtaken: the two
    // messages it had not shown yet would be copied again.
    CHECK(copies_after_a_dead_run(false) == 2);
}

namespace {

struct PartedRun {
    std::string log;
    std::size_t appended = 0;
    FolderReport report;
};

// Ten source messages listed three at a time, into a target that already
// holds `on_target` of them (copied by another tool: no mapping).
PartedRun push_in_parts(std::uint32_t on_target, std::string fail_at = {},
                        ByteBudget* budget = nullptr) {
    PartedSource source;
    source.fail_at = fail_at;
    LaggingTarget target;
    for (std::uint32_t i = 1; i <= 10; ++i) {
        source.all.push_back(RemoteMessage{std::to_string(i), 100 + i, 1000, {}});
        if (i <= on_target)
            target.stored.push_back(
                TargetMessage{i, {}, 100 + i, 1000, "<" + std::to_string(i) + "@x>"});
    }
    target.visible = target.stored.size();
    MemoryState state;
    mf::test::NullProgress progress;
    PushRunOptions options;
    options.list_part = 3;
    options.budget = budget;
    auto out =
        push_folder(source, target, state, {{"INBOX"}, true}, {{"INBOX"}, true}, options, progress);
    CHECK(out.failure.has_value() == !fail_at.empty());
    return {source.log, target.appended, out.report};
}

} // namespace

TEST_CASE("push copies a source listed in parts part by part into an empty target") {
    auto run = push_in_parts(0);
    CHECK(run.log == "LFLFLFLF"); // each part copied before the next is listed
    CHECK(run.appended == 10);
    CHECK(run.report.found == 10);
    CHECK(run.report.planned == 10);
    CHECK(run.report.fetched == 10);
    CHECK(run.report.vanished == 0);
}

TEST_CASE("push plans a source listed in parts as a whole when the target holds messages") {
    auto run = push_in_parts(2);
    CHECK(run.log == "LLLLF"); // every part listed before the plan
    CHECK(run.appended == 8);  // the two on the target were recognised
    CHECK(run.report.found == 10);
    CHECK(run.report.planned == 8);
    CHECK(run.report.rematched == 2);
}

TEST_CASE("a push in parts that fails part way counts the parts it never reached as failed") {
    auto run = push_in_parts(0, "5"); // the second part: 4 copied, then the connection is lost
    CHECK(run.log == "LFLF");
    CHECK(run.appended == 4);
    CHECK(run.report.planned == 10);
    CHECK(run.report.fetched == 4);
    CHECK(run.report.failed == 6);
}

TEST_CASE("a push under a byte budget copies what fits, part by part, and defers the rest") {
    ByteBudget budget(101 + 102 + 103 + 104); // the first part and one message of the second
    auto run = push_in_parts(0, {}, &budget);
    CHECK(std::count(run.log.begin(), run.log.end(), 'L') == 4); // the rest listed, to count it
    CHECK(run.appended == 4);
    CHECK(run.report.fetched == 4);
    CHECK(run.report.deferred == 6);
    CHECK(run.report.deferred_bytes == 105 + 106 + 107 + 108 + 109 + 110);
    CHECK(run.report.failed == 0);
    CHECK(run.report.vanished == 0);
    CHECK(budget.taken() == 410);
}

TEST_CASE("a push planned whole under a byte budget copies what fits and defers the rest") {
    ByteBudget budget(300);
    auto run = push_in_parts(2, {}, &budget); // 103 and 104 fit, 105 would not
    CHECK(run.appended == 2);
    CHECK(run.report.deferred == 6);
    CHECK(run.report.vanished == 0);
    CHECK(run.report.failed == 0);
}

namespace {

// An empty target that takes MULTIAPPEND-like batches of three (all or
// nothing) unless told to take messages singly, and refuses message "4"
// whatever way it comes (NO [TOOBIG]).
struct RefusingTarget : LaggingTarget {
    AppendCallbacks callbacks;
    bool singly = false;
    std::vector<RemoteMessage> batch;
    std::vector<std::string> stored_ids;
    std::size_t commands = 0;

    MessageSink& appender(AppendCallbacks c) override {
        callbacks = std::move(c);
        return *this;
    }
    void append_singly(bool s) override { singly = s; }
    Result<TargetFolder> open(const FolderInfo&) override { return TargetFolder{true, 7, {}}; }
    Status finish(const RemoteMessage& m) override {
        batch.push_back(m);
        return batch.size() >= (singly ? 1u : 3u) ? send() : Status{};
    }
    Status flush() override { return batch.empty() ? Status{} : send(); }
    Status send() {
        ++commands;
        bool refused =
            std::any_of(batch.begin(), batch.end(), [](const auto& m) { return m.id == "4"; });
        for (const auto& m : batch) {
            if (refused) {
                callbacks.refused(
                    m, Failure{ErrorKind::protocol, Scope::message, "NO [TOOBIG] too large"},
                    batch.size() == 1);
            } else {
                stored_ids.push_back(m.id);
                if (auto s = callbacks.appended(m, static_cast<std::uint32_t>(stored_ids.size()));
                    !s)
                    return s;
            }
        }
        batch.clear();
        return {};
    }
};

} // namespace

TEST_CASE(
    "a message the target refuses fails alone; the rest of its refused batch is copied singly") {
    OneFolderSource source;
    source.snap.validity = 1;
    for (int i = 1; i <= 7; ++i)
        source.snap.messages.push_back(RemoteMessage{std::to_string(i), 100, 1000, {}});
    RefusingTarget target;
    MemoryState state;
    mf::test::NullProgress progress;
    auto out = push_folder(source, target, state, {{"INBOX"}, true}, {{"INBOX"}, true},
                           PushRunOptions{}, progress);
    REQUIRE(out.failure);
    CHECK(out.failure->scope == Scope::message);
    std::sort(target.stored_ids.begin(), target.stored_ids.end());
    CHECK(target.stored_ids == std::vector<std::string>{"1", "2", "3", "5", "6", "7"});
    REQUIRE(out.report.failed_messages.size() == 1);
    CHECK(out.report.failed_messages[0].id == "4");
    CHECK(out.report.failed_messages[0].what.find("TOOBIG") != std::string::npos);
    CHECK(out.report.fetched == 6);
    CHECK(out.report.failed == 1);
    CHECK_FALSE(target.singly); // batches again afterwards
}

TEST_CASE("a message refused run after run is named with its count, and forgotten once copied") {
    OneFolderSource source;
    source.snap.validity = 1;
    for (int i = 3; i <= 5; ++i)
        source.snap.messages.push_back(RemoteMessage{std::to_string(i), 100, 1000, {}});
    MemoryState state; // keeps the refusals between the runs, as the state database does
    mf::test::NullProgress progress;
    auto run = [&](RefusingTarget& target) {
        return push_folder(source, target, state, {{"INBOX"}, true}, {{"INBOX"}, true},
                           PushRunOptions{}, progress);
    };
    for (std::size_t runs = 1; runs <= 3; ++runs) {
        RefusingTarget target; // empty each time: every message is copied again
        auto out = run(target);
        REQUIRE(out.report.failed_messages.size() == 1);
        CHECK(state.refusals == RefusedRuns{{"4", runs}});
        const bool named =
            out.report.failed_messages[0].what.find("(refused in " + std::to_string(runs) +
                                                    " runs)") != std::string::npos;
        CHECK(named == (runs > 1));
    }
    source.snap.messages.erase(source.snap.messages.begin() + 1); // "4" is gone from the source
    RefusingTarget target;
    auto out = run(target);
    CHECK_FALSE(out.failure);
    CHECK(state.refusals.empty());
}

namespace {

// Keeps the mapping, as the state database does.
struct MappingState : MemoryState {
    PushMapping mapping{1, 7, {}};
    Result<PushMapping> load(const std::string&) override { return mapping; }
    Status record(const std::string&, const std::string& id, std::uint32_t uid) override {
        mapping.entries.emplace_back(id, uid);
        return {};
    }
};

// Refuses message "4" as it closes the connection (Exchange's "BAD Command
// Argument Error. 11" with its BYE): the refusal, then a lost session.
// `listed`: what the server holds when the folder is opened.
struct HangingUpTarget : RefusingTarget {
    bool gone = false;
    std::vector<std::string> sent;
    std::vector<TargetMessage> listed;
    Result<TargetFolder> open(const FolderInfo&) override { return TargetFolder{true, 7, listed}; }
    Status finish(const RemoteMessage& m) override {
        if (gone) return fail(ErrorKind::connect, Scope::session, "connection closed");
        sent.push_back(m.id);
        if (m.id == "4") {
            callbacks.refused(
                m, Failure{ErrorKind::protocol, Scope::message, "BAD Command Argument Error. 11"},
                true);
            gone = true;
            return fail(ErrorKind::connect, Scope::session, "closed the session");
        }
        stored_ids.push_back(m.id);
        return callbacks.appended(m, static_cast<std::uint32_t>(stored_ids.size()));
    }
    Status flush() override {
        return gone ? fail(ErrorKind::connect, Scope::session, "connection closed") : Status{};
    }
};

} // namespace

TEST_CASE("a message refused as the session ended is not sent again when the folder resumes") {
    OneFolderSource source;
    source.snap.validity = 1;
    for (int i = 1; i <= 7; ++i)
        source.snap.messages.push_back(RemoteMessage{std::to_string(i), 100, 1000, {}});
    MappingState state;
    mf::test::NullProgress progress;
    RunRefusals refusals;
    PushRunOptions options;
    options.refusals = &refusals;
    options.settle_limit = std::chrono::milliseconds(0);
    HangingUpTarget first;
    auto lost =
        push_folder(source, first, state, {{"INBOX"}, true}, {{"INBOX"}, true}, options, progress);
    REQUIRE(lost.failure);
    CHECK(lost.failure->scope == Scope::session);
    CHECK(first.sent == std::vector<std::string>{"1", "2", "3", "4"});

    HangingUpTarget second; // the engine's new session
    for (std::uint32_t uid = 1; uid <= 3; ++uid)
        second.listed.push_back(TargetMessage{uid, {}, 100, 1000, {}});
    second.stored_ids = first.stored_ids;
    auto out =
        push_folder(source, second, state, {{"INBOX"}, true}, {{"INBOX"}, true}, options, progress);
    REQUIRE(out.failure);
    CHECK(out.failure->scope == Scope::message);
    CHECK(second.sent == std::vector<std::string>{"5", "6", "7"});
    REQUIRE(out.report.failed_messages.size() == 1);
    CHECK(out.report.failed_messages[0].id == "4");
    CHECK(out.report.failed_messages[0].what.find("Error. 11") != std::string::npos);
    CHECK(out.report.failed == 1);
}
