// ImapSource driven through scripted server transcripts
// (tests/transcripts/imap/*.txt, format in transcript.h): the exact
// commands it sends, pipelined where it pipelines, and what it makes of the
// answers. Each transcript is played three ways: the server's bursts whole,
// a byte a read, and 7 bytes a read.
#include "backends/imap/source.h"
#include "backends/imap/target.h"
#include "transcript.h"
#include "transcript_sink.h"

#include <doctest/doctest.h>

using namespace mf;
using mf::test::ids_of;
using mf::test::RecordingSink;
using mf::test::Transcript;

namespace {

constexpr std::size_t k_read_sizes[] = {SIZE_MAX, 1, 7};

// What went wrong, for a failed REQUIRE: the source's failure and the
// transcript's verdict.
template <class R> std::string why(const R& r, const Transcript& script) {
    std::string out = r ? std::string() : r.error().what;
    if (!script.verdict().empty() && out != "transcript: " + script.verdict())
        out += "\n" + script.verdict();
    return out;
}

std::unique_ptr<imap::ImapSource> start(Transcript& script, std::size_t max_read) {
    auto session = imap::Session::start(script.transport(max_read, "imap.test"), {});
    REQUIRE_MESSAGE(session, why(session, script));
    return std::make_unique<imap::ImapSource>(std::move(*session));
}

const FolderInfo& named(const std::vector<FolderInfo>& folders, const std::string& name) {
    for (const auto& f : folders)
        if (f.display() == name) return f;
    FAIL("no folder " << name);
    return folders.front();
}

Flags flags(std::uint8_t system) {
    return Flags{system, {}};
}

} // namespace

TEST_CASE("transcript imap: a CONDSTORE delta lists what changed, behind EXAMINE") {
    auto script = Transcript::load("imap/condstore_delta.txt");
    for (std::size_t max_read : k_read_sizes) {
        CAPTURE(max_read);
        RecordingSink sink;
        {
            auto source = start(*script, max_read);
            CHECK(
                source->session().has("CONDSTORE")); // from the login's answer: no CAPABILITY sent
            auto folders = source->list_folders();
            REQUIRE_MESSAGE(folders, why(folders, *script));
            REQUIRE(folders->size() == 1);
            CHECK(folders->front().change_token == "imap-condstore 7 15 120 13");
            CHECK(folders->front().messages == 13u);

            auto snap =
                source->open(folders->front(), OpenRequest{"imap-condstore 7 13 100 11", 0});
            REQUIRE_MESSAGE(snap, why(snap, *script));
            CHECK(snap->listing == ListingKind::delta);
            CHECK(snap->total == 13);
            CHECK(snap->validity == 7);
            CHECK(snap->change_token == "imap-condstore 7 15 120 13");
            REQUIRE(ids_of(snap->messages) == std::vector<std::string>{"3", "13", "14"});
            CHECK(snap->messages[0].flags == flags(flag_seen | flag_flagged));
            CHECK(snap->messages[0].size == 1200);
            CHECK(snap->messages[1].flags == flags(0));
            CHECK(snap->messages[2].internal_date == 1704276000); // 03-Jan-2024 10:00:00 +0000

            auto fetched = source->fetch(std::vector<std::string>{"13", "14"}, sink);
            REQUIRE_MESSAGE(fetched, why(fetched, *script));
        }
        CHECK(script->verdict() == "");
        CHECK(sink.abandoned == 0);
        CHECK(sink.bodies() == std::map<std::string, std::string>{
                                   {"13", "Subject: new\r\n\r\none\r\n"},
                                   {"14", "Subject: newer\r\n\r\ntwo lines\r\n.\r\n"}});
        REQUIRE(sink.finished.size() == 2);
        CHECK(sink.finished[1].message.flags == flags(flag_seen));
        CHECK(sink.finished[1].message.size == 32);
    }
}

TEST_CASE("transcript imap: parts, the next part's listing sent behind the body FETCH") {
    auto script = Transcript::load("imap/parts_read_ahead.txt");
    for (std::size_t max_read : k_read_sizes) {
        CAPTURE(max_read);
        RecordingSink sink;
        {
            auto source = start(*script, max_read);
            auto folders = source->list_folders();
            REQUIRE_MESSAGE(folders, why(folders, *script));
            auto snap = source->open(named(*folders, "INBOX"), OpenRequest{"", 4098});
            REQUIRE_MESSAGE(snap, why(snap, *script));
            CHECK(snap->listing == ListingKind::parts);
            CHECK(snap->more);
            CHECK(snap->total == 4100);
            CHECK(ids_of(snap->messages) == std::vector<std::string>{"1", "2", "3"});

            auto first = source->fetch(ids_of(snap->messages), sink);
            REQUIRE_MESSAGE(first, why(first, *script));
            CHECK(sink.finished.size() == 3);

            // Already received: next_part() sends nothing (the transcript
            // would fail the next command otherwise).
            auto next = source->next_part(*snap);
            REQUIRE_MESSAGE(next, why(next, *script));
            CHECK_FALSE(snap->more);
            REQUIRE(ids_of(snap->messages) == std::vector<std::string>{"4099", "4100"});
            CHECK(snap->messages[1].flags == flags(flag_seen));
            CHECK(snap->messages[1].size == 18);

            auto second = source->fetch(ids_of(snap->messages), sink);
            REQUIRE_MESSAGE(second, why(second, *script));
        }
        CHECK(script->verdict() == "");
        CHECK(sink.abandoned == 0);
        CHECK(sink.bodies() ==
              std::map<std::string, std::string>{{"1", "Subject: m1\r\n\r\n"},
                                                 {"2", "Subject: m2\r\n\r\n"},
                                                 {"3", "Subject: m3\r\n\r\n"},
                                                 {"4099", "Subject: m4099\r\n\r\n"},
                                                 {"4100", "Subject: m4100\r\n\r\n"}});
    }
}

TEST_CASE("transcript imap: a refused EXAMINE fails the folder, and the session serves the next") {
    auto script = Transcript::load("imap/examine_refused.txt");
    for (std::size_t max_read : k_read_sizes) {
        CAPTURE(max_read);
        {
            auto source = start(*script, max_read);
            auto folders = source->list_folders();
            REQUIRE_MESSAGE(folders, why(folders, *script));
            REQUIRE(folders->size() == 3);

            auto gone = source->open(named(*folders, "Gone"), OpenRequest{});
            REQUIRE_FALSE(gone);
            CHECK(gone.error().scope == Scope::folder);
            CHECK(gone.error().what.find("Mailbox doesn't exist") != std::string::npos);

            auto locked = source->open(named(*folders, "Locked"), OpenRequest{});
            REQUIRE_FALSE(locked);
            CHECK(locked.error().scope == Scope::folder);
            CHECK(locked.error().what.find("Mailbox is locked") != std::string::npos);

            auto inbox = source->open(named(*folders, "INBOX"), OpenRequest{});
            REQUIRE_MESSAGE(inbox, why(inbox, *script));
            CHECK(inbox->listing == ListingKind::whole);
            CHECK(inbox->validity == 6);
            REQUIRE(ids_of(inbox->messages) == std::vector<std::string>{"7"});
            CHECK(inbox->messages[0].size == 42);
        }
        CHECK(script->verdict() == "");
    }
}

TEST_CASE("transcript imap: without CONDSTORE a rerun lists the known UIDs by their flags only") {
    auto script = Transcript::load("imap/uidnext_rerun.txt");
    for (std::size_t max_read : k_read_sizes) {
        CAPTURE(max_read);
        {
            auto source = start(*script, max_read);
            auto folders = source->list_folders();
            REQUIRE_MESSAGE(folders, why(folders, *script));
            REQUIRE(folders->size() == 1);
            CHECK(folders->front().change_token == "");

            auto snap = source->open(folders->front(), OpenRequest{"imap-uidnext 7 13", 0});
            REQUIRE_MESSAGE(snap, why(snap, *script));
            CHECK(snap->listing == ListingKind::whole);
            CHECK(snap->change_token == "imap-uidnext 7 15");
            REQUIRE(ids_of(snap->messages) == std::vector<std::string>{"1", "3", "4", "5", "6", "7",
                                                                       "8", "9", "10", "11", "12",
                                                                       "13", "14"});
            CHECK(snap->messages[1].flags == flags(flag_seen | flag_flagged));
            CHECK(snap->messages[1].size == 0); // held: its size is the archive's
            CHECK(snap->messages[11].size == 21);
            CHECK(snap->messages[12].internal_date == 1704276000); // 03-Jan-2024 10:00:00 +0000

            // An equal token says nothing of flag changes: never "unchanged".
            auto again = source->open(folders->front(), OpenRequest{"imap-uidnext 7 15", 0});
            REQUIRE_MESSAGE(again, why(again, *script));
            CHECK(again->listing == ListingKind::whole);
            CHECK(again->messages.size() == 12);

            auto whole = source->open(folders->front(), OpenRequest{"imap-uidnext 7 15", 0});
            REQUIRE_MESSAGE(whole, why(whole, *script));
            CHECK(whole->listing == ListingKind::whole);
            REQUIRE(whole->messages.size() == 13);
            CHECK(whole->messages[0].size == 1200);
            CHECK(whole->messages[12].id == "15");
        }
        CHECK(script->verdict() == "");
    }
}

TEST_CASE(
    "transcript imap: \\Seen set by the body FETCH is kept out, named, and taken back on request") {
    auto script = Transcript::load("imap/seen_by_fetch.txt");
    for (std::size_t max_read : k_read_sizes) {
        CAPTURE(max_read);
        RecordingSink sink;
        {
            auto source = start(*script, max_read);
            auto folders = source->list_folders();
            REQUIRE_MESSAGE(folders, why(folders, *script));
            auto snap = source->open(folders->front(), OpenRequest{});
            REQUIRE_MESSAGE(snap, why(snap, *script));
            CHECK(source->marked_read_by_fetch().empty());
            auto fetched = source->fetch(std::vector<std::string>{"5", "6"}, sink);
            REQUIRE_MESSAGE(fetched, why(fetched, *script));
            CHECK(source->marked_read_by_fetch() == std::vector<std::string>{"5"});
            auto undone = source->undo_marked_read(source->marked_read_by_fetch());
            REQUIRE_MESSAGE(undone, why(undone, *script));
        }
        CHECK(script->verdict() == "");
        REQUIRE(sink.finished.size() == 2);
        CHECK(sink.finished[0].message.flags == flags(flag_flagged));
        CHECK(sink.finished[1].message.flags == flags(flag_seen));
    }
}

// The transcript player itself: a client that strays fails the transcript,
// naming the line.
TEST_CASE("transcript imap: the personal namespace prefix is found below INBOX., not on INBOX") {
    auto script = Transcript::load("imap/namespace_prefix.txt");
    for (std::size_t max_read : k_read_sizes) {
        CAPTURE(max_read);
        {
            auto source = start(*script, max_read);
            auto folders = source->list_folders();
            REQUIRE_MESSAGE(folders, why(folders, *script));
            REQUIRE(folders->size() == 6);
            CHECK(named(*folders, "INBOX").prefix_depth == 0);
            CHECK(named(*folders, "INBOX/Sent").prefix_depth == 1);
            CHECK(named(*folders, "INBOX/Work").prefix_depth == 1);
            CHECK(named(*folders, "INBOX/Work/Projects").prefix_depth == 1);
            CHECK(named(*folders, "INBOX/inbox").prefix_depth == 0);
            CHECK(named(*folders, "shared/team").prefix_depth == 0);
        }
        CHECK(script->verdict() == "");
    }
}

TEST_CASE("transcript imap: a target puts its own personal namespace prefix on") {
    struct Case {
        const char* server;
        std::vector<std::string> path;
        std::string name;
    };
    const char* courier = "login: A1 OK [CAPABILITY IMAP4rev1 NAMESPACE] hi\n"
                          "C: ${n} NAMESPACE\n"
                          "S: * NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\n"
                          "S: ${n} OK done\n"
                          "C: Z LOGOUT\n";
    const char* dovecot = "login: A1 OK [CAPABILITY IMAP4rev1 NAMESPACE] hi\n"
                          "C: ${n} NAMESPACE\n"
                          "S: * NAMESPACE ((\"\" \"/\")) NIL NIL\n"
                          "S: ${n} OK done\n"
                          "C: Z LOGOUT\n";
    const Case cases[] = {
        {courier, {"Sent"}, "INBOX.Sent"},
        {courier, {"Work", "Projects"}, "INBOX.Work.Projects"},
        {courier, {"INBOX"}, "INBOX"},
        {dovecot, {"Sent"}, "Sent"},
        {dovecot, {"Work", "Projects"}, "Work/Projects"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        auto script = Transcript::parse(c.server, "inline.txt");
        {
            auto session = imap::Session::start(script->transport(), {});
            REQUIRE(session);
            auto target = imap::ImapTarget::open_account(std::move(*session));
            REQUIRE_MESSAGE(target, why(target, *script));
            FolderInfo folder;
            folder.path = c.path;
            CHECK((*target)->target_name(folder) == c.name);
        }
        CHECK(script->verdict() == "");
    }
}

TEST_CASE("transcript: a wrong command fails naming the line") {
    auto script = Transcript::parse("login: A1 OK [CAPABILITY IMAP4rev1] hi\n"
                                    "C: ${t} NOOP\n"
                                    "S: ${t} OK\n",
                                    "inline.txt");
    auto session = imap::Session::start(script->transport(), {});
    REQUIRE(session);
    auto r = (*session)->run("CHECK");
    REQUIRE_FALSE(r);
    CHECK(r.error().scope == Scope::session);
    CHECK(script->verdict() ==
          "inline.txt line 2: expected the client to send\n  \"${t} NOOP\"\nbut it sent\n"
          "  \"M1 CHECK\"");
}

TEST_CASE("transcript: waiting where the client should speak, and lines never reached") {
    auto script = Transcript::parse("login: A1 OK [CAPABILITY IMAP4rev1] hi\n"
                                    "C: ${t} NOOP\n"
                                    "S: ${t} OK\n"
                                    "C: ${u} NOOP\n",
                                    "inline.txt");
    {
        auto session = imap::Session::start(script->transport(), {});
        REQUIRE(session);
        auto r = (*session)->run("NOOP");
        REQUIRE(r);
        CHECK(r->tag == "M1");
        CHECK(script->verdict() == "inline.txt line 4: never reached (C: ${u} NOOP)");
        auto waits = (*session)->read_tagged();
        REQUIRE_FALSE(waits);
    }
    CHECK(script->verdict() ==
          "inline.txt line 4: the client waits for the server, but the transcript expects it "
          "to send\n  \"${u} NOOP\"");
}

TEST_CASE("transcript imap: a filter searches on the server and lists only what it finds") {
    auto script = Transcript::load("imap/search_filter.txt");
    for (std::size_t max_read : k_read_sizes) {
        CAPTURE(max_read);
        {
            auto source = start(*script, max_read);
            auto folders = source->list_folders();
            REQUIRE_MESSAGE(folders, why(folders, *script));
            OpenRequest request;
            request.filter.since = 1704153600; // 2024-01-02 00:00 UTC
            request.filter.max_size = 100;
            auto snap = source->open(named(*folders, "INBOX"), request);
            REQUIRE_MESSAGE(snap, why(snap, *script));
            CHECK(snap->narrowed);
            CHECK(snap->total == 5);
            CHECK(ids_of(snap->messages) == std::vector<std::string>{"2", "3", "5"});
            CHECK(left_unlisted(*snap) == 2);
            // The search was wide; the engine decides exactly: UID 2 (04:00
            // UTC on the 2nd) is in, UID 3 (the 1st) is out.
            CHECK(request.filter.admits(snap->messages[0]));
            CHECK_FALSE(request.filter.admits(snap->messages[1]));
        }
        CHECK(script->verdict() == "");
    }
}
