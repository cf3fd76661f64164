// A Maildir archive read back as a source (restore): what open() lists and
// what fetch() and keys() give for it, including a file gone since open().
#include "backends/common/fs.h"
#include "backends/maildir/archive_source.h"
#include "store_test_support.h"

#include <doctest/doctest.h>

#include <utime.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

using mf::RemoteMessage;
using mf::maildir::ArchiveSource;
using mf::test::TempDir;

namespace {

// Keeps every finished message, in the order they came.
struct AllSink : mf::MessageSink {
    std::string current;
    std::vector<std::pair<RemoteMessage, std::string>> done;
    mf::Status begin(std::uint64_t) override {
        current.clear();
        return {};
    }
    mf::Status write(std::string_view chunk) override {
        current += chunk;
        return {};
    }
    mf::Status finish(const RemoteMessage& m) override {
        done.emplace_back(m, current);
        return {};
    }
    void abandon() override { current.clear(); }
};

void put(const std::string& path, const std::string& text, std::int64_t mtime) {
    std::ofstream(path, std::ios::binary) << text;
    struct utimbuf times {
        static_cast<time_t>(mtime), static_cast<time_t>(mtime)
    };
    ::utime(path.c_str(), &times);
}

struct Archive {
    TempDir tmp;
    std::string folder = tmp.path + "/Work";
    Archive() {
        for (const char* sub : {"cur", "new", "tmp"})
            std::filesystem::create_directories(folder + '/' + sub);
        std::ofstream(folder + "/dovecot-keywords") << "0 $Important\n";
        // Ids sort as b < c < d, not in the order the files are written.
        put(folder + "/cur/100.M1P1Q1.h,U=3,W=22,V=7:2,FSa", "Message-ID: <d@x>\n\nhi\n", 1000);
        put(folder + "/new/100.M2P1Q1.h,U=1,W=21,V=7", "Message-ID: <b@x>\n\nyo\n", 2000);
        // No W=: the size is counted (every LF becomes CRLF).
        put(folder + "/cur/100.M0P1Q1.h,U=2:2,S", "Subject: z\n\nab\n", 3000);
    }
};

} // namespace

TEST_CASE("ArchiveSource lists a Maildir folder by id, with sizes, flags and dates") {
    Archive a;
    ArchiveSource source(a.tmp.path);
    auto folders = source.list_folders();
    REQUIRE(folders);
    REQUIRE(folders->size() == 1);
    auto snap = source.open((*folders)[0]);
    REQUIRE(snap);
    REQUIRE(snap->messages.size() == 3);
    CHECK(snap->messages[0].id == "100.M0P1Q1.h");
    CHECK(snap->messages[0].size == 18); // 15 bytes, 3 LFs
    CHECK(snap->messages[0].internal_date == 3000);
    CHECK(snap->messages[0].flags.system == mf::flag_seen);
    CHECK(snap->messages[1].id == "100.M1P1Q1.h");
    CHECK(snap->messages[1].size == 22);
    CHECK(snap->messages[1].flags.system == (mf::flag_seen | mf::flag_flagged));
    CHECK(snap->messages[1].flags.keywords == std::vector<std::string>{"$Important"});
    CHECK(snap->messages[2].id == "100.M2P1Q1.h");
    CHECK(snap->messages[2].internal_date == 2000);
    CHECK(snap->messages[2].flags.system == 0);
}

TEST_CASE("ArchiveSource fetches in the order asked, with CRLF, and skips a file gone since open") {
    Archive a;
    ArchiveSource source(a.tmp.path);
    auto snap = source.open(mf::FolderInfo{{"Work"}, true});
    REQUIRE(snap);
    REQUIRE(snap->messages.size() == 3);
    std::filesystem::remove(a.folder + "/new/100.M2P1Q1.h,U=1,W=21,V=7");
    std::vector<std::string> ids{"100.M2P1Q1.h", "100.M1P1Q1.h", "nope", "100.M0P1Q1.h"};
    AllSink sink;
    REQUIRE(source.fetch(ids, sink));
    REQUIRE(sink.done.size() == 2);
    CHECK(sink.done[0].first.id == "100.M1P1Q1.h");
    CHECK(sink.done[0].second == "Message-ID: <d@x>\r\n\r\nhi\r\n");
    CHECK(sink.done[0].first.size == 22);
    CHECK(sink.done[0].first.internal_date == 1000);
    CHECK(sink.done[0].first.flags.keywords == std::vector<std::string>{"$Important"});
    CHECK(sink.done[1].first.id == "100.M0P1Q1.h");
    CHECK(sink.done[1].second == "Subject: z\r\n\r\nab\r\n");
    CHECK(sink.done[1].second.size() == sink.done[1].first.size);

    auto keys = source.keys({"100.M1P1Q1.h", "100.M2P1Q1.h"});
    REQUIRE(keys);
    REQUIRE(keys->size() == 1);
    CHECK((*keys)[0].message_id == "<d@x>");
    CHECK((*keys)[0].size == 22);
}

TEST_CASE("ArchiveSource fails a fetch it cannot read, rather than skip it") {
    Archive a;
    ArchiveSource source(a.tmp.path);
    auto snap = source.open(mf::FolderInfo{{"Work"}, true});
    REQUIRE(snap);
    // Still there, but unreadable as a file (read() fails with EISDIR), even
    // for root: an error to report, not a message that vanished.
    std::string path = a.folder + "/cur/100.M0P1Q1.h,U=2:2,S";
    std::filesystem::remove(path);
    std::filesystem::create_directory(path);
    AllSink sink;
    std::vector<std::string> ids{"100.M0P1Q1.h"};
    auto status = source.fetch(ids, sink);
    REQUIRE_FALSE(status);
    CHECK(status.error().what.find("100.M0P1Q1.h") != std::string::npos);
    CHECK(sink.done.empty());
}

namespace {

// A sink that takes whole messages of a known size, as the IMAP appender
// does: records the size it was promised and what the producer sent.
struct SizedSink : AllSink {
    std::vector<std::uint64_t> promised;
    std::function<void()> before_produce; // e.g. change the file under the reader
    mf::Status put(const RemoteMessage& m, std::uint64_t size, const Producer& produce) override {
        promised.push_back(size);
        if (before_produce) before_produce();
        std::string bytes;
        auto s = produce([&](std::string_view chunk) -> mf::Status {
            bytes += chunk;
            return {};
        });
        if (!s) return s;
        done.emplace_back(m, std::move(bytes));
        return {};
    }
};

// Past one 64 KB read, with line ends of every kind, one straddling the edge.
std::string large_body() {
    std::string text = "Subject: big\n\n";
    while (text.size() < 65535)
        text += "line with LF\nline with CRLF\r\n";
    text.resize(65535);
    text += "\n\r\nend\n";
    return text;
}

std::string to_crlf(std::string_view lf) {
    std::string out;
    for (std::size_t i = 0; i < lf.size(); ++i) {
        if (lf[i] == '\n' && (i == 0 || lf[i - 1] != '\r')) out += '\r';
        out += lf[i];
    }
    return out;
}

} // namespace

TEST_CASE("ArchiveSource offers each message with its exact wire size before the first byte") {
    Archive a;
    const std::string big = large_body();
    put(a.folder + "/cur/100.M9P1Q1.h,U=9:2,S", big, 4000);
    ArchiveSource source(a.tmp.path);
    auto snap = source.open(mf::FolderInfo{{"Work"}, true});
    REQUIRE(snap);
    std::vector<std::string> ids{"100.M0P1Q1.h", "100.M9P1Q1.h"};
    SizedSink sized;
    REQUIRE(source.fetch(ids, sized));
    REQUIRE(sized.done.size() == 2);
    CHECK(sized.done[0].second == "Subject: z\r\n\r\nab\r\n");
    CHECK(sized.promised[0] == sized.done[0].second.size());
    CHECK(sized.done[1].second == to_crlf(big));
    CHECK(sized.promised[1] == to_crlf(big).size());
    // A sink without put() gets the same bytes through begin/write/finish.
    AllSink plain;
    REQUIRE(source.fetch(ids, plain));
    REQUIRE(plain.done.size() == 2);
    CHECK(plain.done[1].second == sized.done[1].second);
    CHECK(plain.done[1].first.id == "100.M9P1Q1.h");
}

TEST_CASE("ArchiveSource fails a message whose file changes between measuring and sending") {
    for (bool grow : {true, false}) {
        CAPTURE(grow);
        Archive a;
        const std::string path = a.folder + "/cur/100.M9P1Q1.h,U=9:2,S";
        put(path, large_body(), 4000);
        ArchiveSource source(a.tmp.path);
        auto snap = source.open(mf::FolderInfo{{"Work"}, true});
        REQUIRE(snap);
        SizedSink sized;
        sized.before_produce = [&] {
            if (grow)
                std::ofstream(path, std::ios::binary | std::ios::app) << "more\n";
            else
                std::filesystem::resize_file(path, large_body().size() - 3);
        };
        std::vector<std::string> ids{"100.M9P1Q1.h"};
        auto status = source.fetch(ids, sized);
        REQUIRE_FALSE(status);
        CHECK(status.error().what.find("changed while it was read") != std::string::npos);
        CHECK(sized.done.empty());
    }
}

TEST_CASE("ArchiveSource lists in parts when asked, in id order, and fetches from any part") {
    Archive a;
    put(a.folder + "/cur/100.M9P1Q1.h,U=9:2,S", "Subject: n\n\nnine\n", 4000);
    ArchiveSource source(a.tmp.path);
    auto snap = source.open(mf::FolderInfo{{"Work"}, true}, mf::OpenRequest{"", 3});
    REQUIRE(snap);
    CHECK(snap->more);
    CHECK(snap->total == 4);
    std::vector<std::string> ids;
    for (const auto& m : snap->messages)
        ids.push_back(m.id);
    CHECK(ids == std::vector<std::string>{"100.M0P1Q1.h", "100.M1P1Q1.h", "100.M2P1Q1.h"});
    REQUIRE(source.next_part(*snap));
    CHECK_FALSE(snap->more);
    REQUIRE(snap->messages.size() == 1);
    CHECK(snap->messages[0].id == "100.M9P1Q1.h");
    CHECK(snap->messages[0].size == 20);
    AllSink sink;
    std::vector<std::string> want{"100.M9P1Q1.h", "100.M0P1Q1.h"};
    REQUIRE(source.fetch(want, sink));
    REQUIRE(sink.done.size() == 2);
    CHECK(sink.done[0].second == "Subject: n\r\n\r\nnine\r\n");
    // A plain open() afterwards lists the whole folder again.
    auto whole = source.open(mf::FolderInfo{{"Work"}, true});
    REQUIRE(whole);
    CHECK_FALSE(whole->more);
    CHECK(whole->messages.size() == 4);
}

TEST_CASE("ArchiveSource lets go of a file's cached pages once it has read it") {
    Archive a;
    if (!mf::test::cache_is_droppable(a.tmp.path)) {
        MESSAGE("skipped: the temporary directory is on tmpfs, whose files are the page cache");
        return;
    }
    // One file of one chunk (read once) and one past it (read twice).
    std::string small = "Subject: s\n\n" + std::string(20000, 's') + "\n";
    std::string large = "Subject: l\n\n" + std::string(200000, 'l') + "\n";
    put(a.folder + "/cur/200.M1P1Q1.h,U=10:2,S", small, 4000);
    put(a.folder + "/cur/200.M2P1Q1.h,U=11:2,S", large, 5000);
    // An archive's files are on disk: dirty pages could not be let go.
    for (const char* name : {"200.M1P1Q1.h,U=10:2,S", "200.M2P1Q1.h,U=11:2,S"})
        REQUIRE(mf::fs::fsync_path(a.folder + "/cur/" + name));
    auto control = mf::test::write_control_file(a.tmp.path, large.size());
    ArchiveSource source(a.tmp.path);
    auto snap = source.open(mf::FolderInfo{{"Work"}, true});
    REQUIRE(snap);
    AllSink sink;
    std::vector<std::string> ids{"200.M1P1Q1.h", "200.M2P1Q1.h"};
    REQUIRE(source.fetch(ids, sink));
    REQUIRE(sink.done.size() == 2);
    CHECK(*mf::test::cached_pages(control) >= 40); // the look can see cached pages
    CHECK(*mf::test::cached_pages(a.folder + "/cur/200.M1P1Q1.h,U=10:2,S") == 0);
    CHECK(*mf::test::cached_pages(a.folder + "/cur/200.M2P1Q1.h,U=11:2,S") == 0);
}
