#include "sync/push_plan.h"

#include <doctest/doctest.h>

using namespace mf;

namespace {

RemoteMessage src(std::string id, std::uint64_t size, std::uint8_t flags = 0,
                  std::int64_t date = 0) {
    RemoteMessage m;
    m.id = std::move(id);
    m.size = size;
    m.flags.system = flags;
    m.internal_date = date;
    return m;
}

TargetMessage dst(std::uint32_t uid, std::uint64_t size, std::string mid = "",
                  std::uint8_t flags = 0, std::int64_t date = 0) {
    TargetMessage t;
    t.uid = uid;
    t.size = size;
    t.message_id = std::move(mid);
    t.flags.system = flags;
    t.internal_date = date;
    return t;
}

Snapshot snap(std::vector<RemoteMessage> m) {
    Snapshot s;
    s.validity = 1;
    s.messages = std::move(m);
    return s;
}

TargetFolder folder(std::vector<TargetMessage> m) {
    TargetFolder f;
    f.exists = true;
    f.validity = 9;
    f.messages = std::move(m);
    return f;
}

} // namespace

TEST_CASE("an empty target: everything is copied") {
    auto plan = plan_push(snap({src("1", 10), src("2", 20)}), {}, folder({}), PushMapping{}, {});
    CHECK(plan.copy == std::vector<std::string>{"1", "2"});
    CHECK(plan.copy_bytes == 30);
    CHECK(plan.remove.empty());
}

TEST_CASE("mapped messages are not copied again") {
    PushMapping map{1, 9, {{"1", 100}}};
    auto plan = plan_push(snap({src("1", 10), src("2", 20)}), {}, folder({dst(100, 10)}), map, {});
    CHECK(plan.copy == std::vector<std::string>{"2"});
    CHECK(plan.already == 1);
}

TEST_CASE("a mapping to a UID that is gone is forgotten and the message copied again") {
    PushMapping map{1, 9, {{"1", 100}}};
    auto plan = plan_push(snap({src("1", 10)}), {}, folder({}), map, {});
    CHECK(plan.copy == std::vector<std::string>{"1"});
    CHECK(plan.forget == std::vector<std::string>{"1"});
}

TEST_CASE("messages already on the target are recognised by Message-ID and size") {
    std::vector<MessageKey> keys = {{"1", "<a@x>", 10}, {"2", "<b@x>", 20}};
    auto plan = plan_push(snap({src("1", 10), src("2", 20)}), keys,
                          folder({dst(7, 10, "<a@x>"), dst(8, 21, "<b@x>")}), PushMapping{}, {});
    CHECK(plan.adopt == std::vector<std::pair<std::string, std::uint32_t>>{{"1", 7}});
    CHECK(plan.copy == std::vector<std::string>{"2"}); // size differs: a different message
}

TEST_CASE("two distinct messages sharing a Message-ID: one on the target, the other copied") {
    std::vector<MessageKey> keys = {{"1", "<d@x>", 10}, {"2", "<d@x>", 10}};
    auto plan = plan_push(snap({src("1", 10), src("2", 10)}), keys, folder({dst(5, 10, "<d@x>")}),
                          PushMapping{}, {});
    CHECK(plan.adopt.size() == 1);
    CHECK(plan.copy.size() == 1);
}

TEST_CASE("a target that reports other sizes: Message-ID and date recognise its messages") {
    // hMailServer's RFC822.SIZE leaves out the Return-Path it added.
    std::vector<MessageKey> keys = {{"1", "<a@x>", 40}, {"2", "<b@x>", 40}};
    auto plan = plan_push(snap({src("1", 40, 0, 1000), src("2", 40, 0, 1000)}), keys,
                          folder({dst(7, 12, "<a@x>", 0, 1000), dst(8, 12, "<b@x>", 0, 2000)}),
                          PushMapping{}, {});
    CHECK(plan.adopt == std::vector<std::pair<std::string, std::uint32_t>>{{"1", 7}});
    CHECK(plan.copy == std::vector<std::string>{"2"}); // another date: a different message
}

TEST_CASE("a match by size is not taken away by an earlier match by date") {
    std::vector<MessageKey> keys = {{"1", "<d@x>", 10}, {"2", "<d@x>", 20}};
    auto plan = plan_push(snap({src("1", 10, 0, 1000), src("2", 20, 0, 1000)}), keys,
                          folder({dst(5, 20, "<d@x>", 0, 1000)}), PushMapping{}, {});
    CHECK(plan.adopt == std::vector<std::pair<std::string, std::uint32_t>>{{"2", 5}});
    CHECK(plan.copy == std::vector<std::string>{"1"});
}

TEST_CASE("messages without Message-ID match by size and date") {
    auto plan = plan_push(snap({src("1", 10, 0, 1000), src("2", 10, 0, 2000)}),
                          {{"1", "", 10}, {"2", "", 10}}, folder({dst(3, 10, "", 0, 2000)}),
                          PushMapping{}, {});
    CHECK(plan.adopt == std::vector<std::pair<std::string, std::uint32_t>>{{"2", 3}});
    CHECK(plan.copy == std::vector<std::string>{"1"});
}

TEST_CASE("mirror: flags follow the source, extras are deleted; migrate touches neither") {
    PushMapping map{1, 9, {{"1", 100}}};
    auto s = snap({src("1", 10, flag_seen)});
    auto f = folder({dst(100, 10, "", 0), dst(101, 5, "<extra@x>")});
    auto mirror = plan_push(s, {}, f, map, PushOptions{true});
    CHECK(mirror.flags.size() == 1);
    CHECK(mirror.remove == std::vector<std::uint32_t>{101});
    auto migrate = plan_push(s, {}, f, map, PushOptions{false});
    CHECK(migrate.flags.empty());
    CHECK(migrate.remove.empty());
}

TEST_CASE("the mirror guard") {
    CHECK_FALSE(mirror_guard(100, 0, 0, 0.5));
    CHECK(mirror_guard(10, 10, 0, 0.5)); // source empty, target not
    CHECK(mirror_guard(100, 51, 49, 0.5));
    CHECK_FALSE(mirror_guard(100, 50, 50, 0.5));
    CHECK_FALSE(mirror_guard(4, 3, 1, 0.5)); // a handful of messages: no share rule
}

TEST_CASE("unmapped ids on both sides") {
    PushMapping map{1, 9, {{"1", 100}}};
    auto f = folder({dst(100, 10), dst(101, 10)});
    CHECK(unmapped_target_uids(f, map) == std::vector<std::uint32_t>{101});
    CHECK(unmapped_source_ids(snap({src("1", 10), src("2", 10)}), map, f) ==
          std::vector<std::string>{"2"});
}
