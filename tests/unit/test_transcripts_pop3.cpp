// Pop3Source driven through scripted server transcripts
// (tests/transcripts/pop3/*.txt, format in transcript.h): the exact
// commands it sends, pipelined where the server allows it, and what it makes
// of the answers. Each transcript is played three ways: the server's bursts
// whole, a byte a read, and 7 bytes a read.
#include "backends/pop3/source.h"
#include "transcript.h"
#include "transcript_sink.h"

#include <doctest/doctest.h>

using namespace mf;
using mf::test::ids_of;
using mf::test::RecordingSink;
using mf::test::Transcript;

namespace {

constexpr std::size_t k_read_sizes[] = {SIZE_MAX, 1, 7};

template <class R> std::string why(const R& r, const Transcript& script) {
    std::string out = r ? std::string() : r.error().what;
    if (!script.verdict().empty() && out != "transcript: " + script.verdict())
        out += "\n" + script.verdict();
    return out;
}

pop3::Pop3Source start(Transcript& script, std::size_t max_read) {
    return pop3::Pop3Source(pop3::Session::start(script.transport(max_read, "pop3.test"), nullptr));
}

} // namespace

TEST_CASE("transcript pop3: a backup lists with LIST and UIDL and reads with pipelined TOPs") {
    auto script = Transcript::load("pop3/backup_top.txt");
    for (std::size_t max_read : k_read_sizes) {
        CAPTURE(max_read);
        RecordingSink sink;
        {
            auto source = start(*script, max_read);
            auto folders = source.list_folders();
            REQUIRE(folders);
            REQUIRE(folders->size() == 1);
            auto snap = source.open(folders->front(), OpenRequest{});
            REQUIRE_MESSAGE(snap, why(snap, *script));
            CHECK(snap->listing == ListingKind::whole);
            CHECK_FALSE(snap->has_flags);
            CHECK(snap->change_token.starts_with("pop3 3 "));
            REQUIRE(ids_of(snap->messages) ==
                    std::vector<std::string>{"uid-aaa", "uid-bbb", "uid-ccc"});
            CHECK(snap->messages[1].size == 31);

            auto fetched = source.fetch(ids_of(snap->messages), sink);
            REQUIRE_MESSAGE(fetched, why(fetched, *script));
            auto closed = source.close();
            REQUIRE_MESSAGE(closed, why(closed, *script));
            CHECK(source.caveat() == "");
        }
        CHECK(script->verdict() == "");
        CHECK(sink.abandoned == 0);
        CHECK(sink.bodies() == std::map<std::string, std::string>{
                                   {"uid-aaa", "Subject: one\r\n\r\nbody 1\r\n"},
                                   {"uid-bbb", "Subject: two\r\n\r\n.dotted\r\nline\r\n"},
                                   {"uid-ccc", "Subject: three\r\n\r\n"}});
        REQUIRE(sink.finished.size() == 3);
        CHECK(sink.finished[1].size_hint == 31); // LIST's size, announced before the bytes
        CHECK(sink.finished[1].message.size == 31);
    }
}

TEST_CASE("transcript pop3: -ERR to one TOP fails that message only") {
    auto script = Transcript::load("pop3/top_refused_one.txt");
    for (std::size_t max_read : k_read_sizes) {
        CAPTURE(max_read);
        RecordingSink sink;
        {
            auto source = start(*script, max_read);
            auto snap = source.open(FolderInfo{{"INBOX"}, true}, OpenRequest{});
            REQUIRE_MESSAGE(snap, why(snap, *script));
            REQUIRE(ids_of(snap->messages) == std::vector<std::string>{"uid-locked", "uid-fine"});

            auto fetched = source.fetch(ids_of(snap->messages), sink);
            REQUIRE_FALSE(fetched);
            CHECK(fetched.error().scope == Scope::message);
            CHECK(fetched.error().what.find("Message is locked") != std::string::npos);
            auto closed = source.close(); // the session is still in step
            REQUIRE_MESSAGE(closed, why(closed, *script));
        }
        CHECK(script->verdict() == "");
        CHECK(sink.bodies() ==
              std::map<std::string, std::string>{{"uid-fine", "Subject: fine\r\n\r\nok\r\n"}});
    }
}
