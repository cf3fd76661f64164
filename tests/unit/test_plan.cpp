// The plan is pure: these tables are its specification.
#include "sync/plan.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>

using namespace mf;

namespace {

RemoteMessage remote(std::string id, std::uint8_t flags = 0, std::uint64_t size = 100) {
    RemoteMessage m;
    m.id = std::move(id);
    m.flags.system = flags;
    m.size = size;
    return m;
}

HeldMessage held(std::string id, std::uint8_t flags = 0, std::string mid = "",
                 std::uint64_t size = 100) {
    HeldMessage h;
    h.id = std::move(id);
    h.flags.system = flags;
    h.message_id = std::move(mid);
    h.size = size;
    return h;
}

Snapshot snapshot(std::uint32_t validity, std::vector<RemoteMessage> msgs) {
    Snapshot s;
    s.validity = validity;
    s.messages = std::move(msgs);
    return s;
}

FolderState state(std::uint32_t validity, std::vector<HeldMessage> h) {
    FolderState st;
    st.known = true;
    st.validity = validity;
    st.held = std::move(h);
    return st;
}

} // namespace

TEST_CASE("a new folder: everything is fetched") {
    auto plan = plan_backup(snapshot(7, {remote("1"), remote("2", 0, 50)}), FolderState{});
    CHECK(plan.fetch == std::vector<std::string>{"1", "2"});
    CHECK(plan.fetch_bytes == 150);
    CHECK(plan.held == 0);
    CHECK(plan.flags.empty());
    CHECK(plan.gone.empty());
}

TEST_CASE("held messages are not fetched again") {
    auto plan = plan_backup(snapshot(7, {remote("1"), remote("2"), remote("3")}),
                            state(7, {held("1"), held("3")}));
    CHECK(plan.fetch == std::vector<std::string>{"2"});
    CHECK(plan.held == 2);
}

TEST_CASE("changed flags are planned, unchanged ones are not") {
    auto plan = plan_backup(snapshot(7, {remote("1", flag_seen), remote("2", flag_flagged)}),
                            state(7, {held("1", flag_seen), held("2")}));
    REQUIRE(plan.flags.size() == 1);
    CHECK(plan.flags[0].first == "2");
    CHECK(plan.flags[0].second.system == flag_flagged);
    CHECK(plan.fetch.empty());
}

TEST_CASE("keywords count as flags") {
    auto r = remote("1");
    r.flags.keywords = {"$Label1"};
    auto plan = plan_backup(snapshot(7, {r}), state(7, {held("1")}));
    CHECK(plan.flags.size() == 1);
}

TEST_CASE("a source without flags (POP3) never plans flag updates") {
    auto snap = snapshot(1, {remote("a", 0)});
    snap.has_flags = false;
    auto plan = plan_backup(snap, state(1, {held("a", flag_seen)}));
    CHECK(plan.flags.empty());
}

TEST_CASE("messages gone from the server are reported, never deleted") {
    auto plan =
        plan_backup(snapshot(7, {remote("2")}), state(7, {held("1"), held("2"), held("3")}));
    CHECK(plan.gone == std::vector<std::string>{"1", "3"});
    CHECK(plan.fetch.empty());
}

TEST_CASE("an empty folder on both sides plans nothing") {
    auto plan = plan_backup(snapshot(7, {}), state(7, {}));
    CHECK(plan.fetch.empty());
    CHECK(plan.gone.empty());
    CHECK(plan.held == 0);
}

TEST_CASE("revalidation is needed only when a known validity changed") {
    CHECK_FALSE(needs_revalidation(snapshot(7, {}), FolderState{}));
    CHECK_FALSE(needs_revalidation(snapshot(7, {}), state(7, {})));
    CHECK(needs_revalidation(snapshot(8, {}), state(7, {})));
}

TEST_CASE("matching after a validity change pairs by Message-ID and size") {
    std::vector<HeldMessage> h = {held("1", 0, "<a@x>", 10), held("2", 0, "<b@x>", 20),
                                  held("3", 0, "", 30), held("4", 0, "<c@x>", 40)};
    std::vector<MessageKey> r = {
        {"101", "<b@x>", 20}, {"102", "<a@x>", 10}, {"103", "", 30}, {"104", "<c@x>", 41}};
    auto pairs = match_by_key(h, r);
    REQUIRE(pairs.size() == 2);
    CHECK(pairs[0] == std::pair<std::string, std::string>{"2", "101"});
    CHECK(pairs[1] == std::pair<std::string, std::string>{"1", "102"});
}

TEST_CASE("distinct messages sharing a Message-ID are each matched once") {
    std::vector<HeldMessage> h = {held("1", 0, "<dup@x>", 10), held("2", 0, "<dup@x>", 10)};
    std::vector<MessageKey> r = {
        {"11", "<dup@x>", 10}, {"12", "<dup@x>", 10}, {"13", "<dup@x>", 10}};
    auto pairs = match_by_key(h, r);
    REQUIRE(pairs.size() == 2);
    CHECK(pairs[0].first != pairs[1].first);
    CHECK(pairs[0].second == "11");
    CHECK(pairs[1].second == "12");
}

TEST_CASE("removals: only held messages still on the source, and only old enough ones") {
    auto snap = snapshot(1, {remote("a"), remote("b"), remote("c")});
    std::vector<HeldMessage> h = {held("a"), held("b"), held("z")};
    h[0].date = 1000;
    h[1].date = 5000;
    RemovalPolicy all;
    all.after_download = true;
    CHECK(plan_removals(snap, h, all) == std::vector<std::string>{"a", "b"});
    RemovalPolicy old;
    old.older_than = 2000;
    CHECK(plan_removals(snap, h, old) == std::vector<std::string>{"a"});
    h[0].date = 0; // unknown date: never old enough
    CHECK(plan_removals(snap, h, old).empty());
    CHECK(plan_removals(snap, h, RemovalPolicy{}).empty());
}

TEST_CASE("gone messages: newly gone once, reappeared when back") {
    std::vector<HeldMessage> h = {held("1"), held("2"), held("3")};
    h[1].source_state = SourceState::gone;
    h[2].source_state = SourceState::deleted_by_us;
    auto plan = plan_backup(snapshot(1, {remote("3")}), state(1, h));
    CHECK(plan.gone == std::vector<std::string>{"1", "2"});
    CHECK(plan.newly_gone == std::vector<std::string>{"1"});
    CHECK(plan.reappeared == std::vector<std::string>{"3"});
}

// The plan against a plain reference (sets, no index), on random folders:
// the same messages in each list, in the source's order.
TEST_CASE("property: plan_backup agrees with a reference on random folders") {
    std::mt19937 rng(8);
    for (int round = 0; round < 300; ++round) {
        CAPTURE(round);
        const int universe = 1 + static_cast<int>(rng() % 60);
        std::vector<RemoteMessage> on_server;
        std::vector<HeldMessage> in_archive;
        for (int id = 1; id <= universe; ++id) {
            const std::string sid = std::to_string(id * 7 % 101); // not in sorted order
            if (rng() % 3)
                on_server.push_back(remote(sid, static_cast<std::uint8_t>(rng() % 4), id));
            if (rng() % 2) {
                HeldMessage h = held(sid, static_cast<std::uint8_t>(rng() % 4));
                h.source_state = static_cast<SourceState>(rng() % 3);
                in_archive.push_back(h);
                if (rng() % 10 == 0) in_archive.push_back(h); // a damaged archive's twin
            }
        }
        std::shuffle(on_server.begin(), on_server.end(), rng);
        std::shuffle(in_archive.begin(), in_archive.end(), rng);
        auto plan = plan_backup(snapshot(1, on_server), state(1, in_archive));

        std::vector<std::string> fetch, reappeared, gone, newly_gone;
        std::vector<std::pair<std::string, Flags>> flags;
        std::size_t held_count = 0;
        std::set<std::string> server_ids;
        for (const auto& m : on_server)
            server_ids.insert(m.id);
        for (const auto& m : on_server) {
            auto h = std::find_if(in_archive.begin(), in_archive.end(),
                                  [&](const HeldMessage& x) { return x.id == m.id; });
            if (h == in_archive.end()) {
                fetch.push_back(m.id);
                continue;
            }
            ++held_count;
            if (h->source_state != SourceState::present) reappeared.push_back(m.id);
            if (h->flags != m.flags) flags.emplace_back(m.id, m.flags);
        }
        for (const auto& h : in_archive) {
            if (server_ids.contains(h.id)) continue;
            gone.push_back(h.id);
            if (h.source_state == SourceState::present) newly_gone.push_back(h.id);
        }
        CHECK(plan.fetch == fetch);
        CHECK(plan.flags == flags);
        CHECK(plan.reappeared == reappeared);
        CHECK(plan.gone == gone);
        CHECK(plan.newly_gone == newly_gone);
        CHECK(plan.held == held_count);
    }
}
