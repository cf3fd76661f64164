// The filters: the engine's one decision (sync/filter.h), the command
// line's words for it (cli/filter_args.h) and the IMAP search that narrows
// a listing on the server (backends/imap/listing.h).
#include "backends/imap/listing.h"
#include "cli/filter_args.h"
#include "sync/filter.h"
#include "sync/plan.h"
#include "sync/push_plan.h"

#include <doctest/doctest.h>

using namespace mf;

namespace {

constexpr std::int64_t k_2024_01_01 = 1704067200; // midnight UTC
constexpr std::int64_t k_day = 86400;

RemoteMessage message(std::string id, std::int64_t date, std::uint64_t size = 100) {
    RemoteMessage m;
    m.id = std::move(id);
    m.internal_date = date;
    m.size = size;
    return m;
}

MessageFilter filter(std::optional<std::int64_t> since, std::optional<std::int64_t> before,
                     std::optional<std::uint64_t> max_size = std::nullopt) {
    MessageFilter f;
    f.since = since;
    f.before = before;
    f.max_size = max_size;
    return f;
}

} // namespace

TEST_CASE("why_left_out: since is inclusive, before exclusive, max_size inclusive") {
    const auto f = filter(k_2024_01_01, k_2024_01_01 + 10 * k_day, 1000);
    struct Case {
        std::int64_t date;
        std::uint64_t size;
        const char* why;
    } cases[] = {
        {k_2024_01_01, 1000, ""},
        {k_2024_01_01 - 1, 100, "older than --since"},
        {k_2024_01_01 + 10 * k_day - 1, 100, ""},
        {k_2024_01_01 + 10 * k_day, 100, "not before --before"},
        {k_2024_01_01, 1001, "larger than --max-size"},
        {0, 100, ""}, // no date: kept, never lost silently
        {0, 1001, "larger than --max-size"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.date);
        CAPTURE(c.size);
        CHECK(f.why_left_out(message("1", c.date, c.size)) == c.why);
    }
    CHECK(MessageFilter{}.empty());
    CHECK(MessageFilter{}.admits(message("1", 5, 1u << 30)));
}

TEST_CASE("parse_filter_date: a day is midnight UTC; a time needs its zone") {
    using cli::parse_filter_date;
    CHECK(parse_filter_date("2024-01-01") == k_2024_01_01);
    CHECK(parse_filter_date("2024-02-29") == k_2024_01_01 + 59 * k_day);
    CHECK(parse_filter_date("2024-01-01T10:30:00Z") == k_2024_01_01 + 10 * 3600 + 1800);
    CHECK(parse_filter_date("2024-01-01T10:30Z") == k_2024_01_01 + 10 * 3600 + 1800);
    CHECK(parse_filter_date("2024-01-01T10:30:00+02:00") == k_2024_01_01 + 8 * 3600 + 1800);
    CHECK(parse_filter_date("2024-01-01T00:00:00-01:00") == k_2024_01_01 + 3600);
    for (const char* bad :
         {"", "2024-1-01", "2023-02-29", "2024-13-01", "2024-01-01x", "2024-01-01T10:30",
          "2024-01-01T25:00Z", "2024-01-01T10:30:00+2", "01/01/2024", "2024-01-01 10:30Z"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_filter_date(bad));
    }
}

TEST_CASE("parse_size: bytes, K, M, G") {
    using cli::parse_size;
    CHECK(parse_size("0") == 0u);
    CHECK(parse_size("1500") == 1500u);
    CHECK(parse_size("10K") == 10240u);
    CHECK(parse_size("10k") == 10240u);
    CHECK(parse_size("2M") == 2u << 20);
    CHECK(parse_size("1G") == 1u << 30);
    for (const char* bad :
         {"", "K", "-1", "1.5M", "10KB", "10 K", "99999999999999999999", "18446744073709551615G"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_size(bad));
    }
}

TEST_CASE("make_filter: every option checked, since before before") {
    cli::FilterArgs args;
    CHECK(make_filter(args)->empty());
    args.since = "2024-01-01";
    args.max_size = "1K";
    auto f = make_filter(args);
    REQUIRE(f);
    CHECK(f->since == k_2024_01_01);
    CHECK_FALSE(f->before);
    CHECK(f->max_size == 1024u);
    CHECK(describe(args) == "--since 2024-01-01 --max-size 1K");
    args.before = "2024-01-01";
    auto bad = make_filter(args);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().kind == ErrorKind::usage);
    CHECK(bad.error().what == "--before: must be later than --since");
}

TEST_CASE("search_criteria widens the dates by a day each side; NOT LARGER is <=") {
    CHECK(imap::search_criteria(filter(k_2024_01_01, std::nullopt)) == "SINCE 31-Dec-2023");
    CHECK(imap::search_criteria(filter(std::nullopt, k_2024_01_01)) == "BEFORE 2-Jan-2024");
    CHECK(imap::search_criteria(filter(k_2024_01_01 + 3600, k_2024_01_01 + 40 * k_day, 5000)) ==
          "SINCE 31-Dec-2023 BEFORE 11-Feb-2024 NOT LARGER 5000");
    CHECK(imap::search_criteria(filter(std::nullopt, std::nullopt, 0)) == "NOT LARGER 0");
}

TEST_CASE("plan_backup: left out is neither fetched nor gone; a narrowed listing loses nothing") {
    Snapshot snap;
    snap.validity = 1;
    snap.messages = {message("1", k_2024_01_01 - k_day), message("2", k_2024_01_01),
                     message("3", k_2024_01_01 - k_day)};
    FolderState state;
    state.known = true;
    state.validity = 1;
    state.held = {HeldMessage{"3", {}, 100, "", k_2024_01_01 - k_day},
                  HeldMessage{"4", {}, 100, "", k_2024_01_01 - k_day}};
    auto plan = plan_backup(snap, state, filter(k_2024_01_01, std::nullopt));
    CHECK(plan.fetch == std::vector<std::string>{"2"});
    CHECK(plan.filtered == 2);
    CHECK(plan.held == 0);
    CHECK(plan.gone == std::vector<std::string>{"4"}); // really gone: the listing was whole
    snap.narrowed = true;
    CHECK(plan_backup(snap, state, filter(k_2024_01_01, std::nullopt)).gone.empty());
    snap.total = 10;
    CHECK(left_unlisted(snap) == 7);
}

TEST_CASE("plan_removals never deletes what the filter left out") {
    Snapshot snap;
    snap.messages = {message("1", k_2024_01_01 - k_day), message("2", k_2024_01_01)};
    std::vector<HeldMessage> held = {HeldMessage{"1", {}, 100, "", 0},
                                     HeldMessage{"2", {}, 100, "", 0}};
    RemovalPolicy policy;
    policy.after_download = true;
    CHECK(plan_removals(snap, held, policy).size() == 2);
    CHECK(plan_removals(snap, held, policy, filter(k_2024_01_01, std::nullopt)) ==
          std::vector<std::string>{"2"});
}

TEST_CASE("plan_push: a mirror keeps the target's copy of what the filter left out") {
    Snapshot snap;
    snap.messages = {message("a", k_2024_01_01 - k_day), message("b", k_2024_01_01),
                     message("c", k_2024_01_01 - k_day)};
    TargetFolder target;
    target.exists = true;
    target.messages = {TargetMessage{}, TargetMessage{}};
    target.messages[0].uid = 7;
    target.messages[1].uid = 8;
    PushMapping mapping;
    mapping.entries = {{"a", 7}};
    auto plan =
        plan_push(snap, {}, target, mapping, PushOptions{true, filter(k_2024_01_01, std::nullopt)});
    CHECK(plan.copy == std::vector<std::string>{"b"}); // c is left out
    CHECK(plan.filtered == 2);
    CHECK(plan.already == 0);
    CHECK(plan.remove == std::vector<std::uint32_t>{8}); // 7 is a's copy: kept
}
