// The Maildir store against a real file system and a real state database:
// messages committed by this very FolderStore are found again for flag
// changes, reading back and removal, although the store keeps only what
// load() listed in memory (a full backup of a large folder must not keep
// every file name).
#include "backends/archive/state_db.h"
#include "backends/maildir/store.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

using namespace mf;
namespace stdfs = std::filesystem;

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        std::string tmpl = (stdfs::temp_directory_path() / "mf-maildir-XXXXXX").string();
        path = ::mkdtemp(tmpl.data());
    }
    ~TempDir() { stdfs::remove_all(path); }
};

class Collect : public MessageSink {
  public:
    std::string bytes;
    Status begin(std::uint64_t) override { return {}; }
    Status write(std::string_view chunk) override {
        bytes += chunk;
        return {};
    }
    Status finish(const RemoteMessage&) override { return {}; }
    void abandon() override { bytes.clear(); }
};

void deliver(FolderStore& f, const std::string& id, const std::string& crlf_bytes, Flags flags = {}) {
    REQUIRE(f.begin(crlf_bytes.size()));
    REQUIRE(f.write(crlf_bytes));
    RemoteMessage m{id, crlf_bytes.size(), 1700000000, std::move(flags)};
    REQUIRE(f.finish(m));
}

// Files in cur/ and new/ of the folder, by name.
std::vector<std::string> files_of(const std::string& dir) {
    std::vector<std::string> out;
    for (const char* sub : {"cur", "new"})
        if (stdfs::exists(dir + '/' + sub))
            for (const auto& e : stdfs::directory_iterator(dir + '/' + sub)) out.push_back(e.path().filename().string());
    return out;
}

const std::string k_one = "Subject: one\r\n\r\nbody one\r\n";
const std::string k_two = "Subject: two\r\n\r\nbody two\r\n";

} // namespace

TEST_CASE("messages committed in this session are found for flags, reading and removal") {
    TempDir tmp;
    auto db = archive::StateDb::open(tmp.path + "/state.db");
    REQUIRE(db);
    maildir::MaildirStore store(tmp.path + "/archive", **db);
    FolderInfo inbox{{"INBOX"}};
    auto folder = store.open_folder(inbox, 7);
    REQUIRE(folder);
    FolderStore& f = **folder;
    REQUIRE(f.load());
    deliver(f, "1", k_one);
    deliver(f, "2", k_two);
    REQUIRE(f.commit());
    const std::string dir = tmp.path + "/archive/INBOX";
    REQUIRE(files_of(dir).size() == 2);

    // Flags: the file of id 1 is renamed to carry S and F.
    REQUIRE(f.set_flags("1", Flags{flag_seen | flag_flagged, {}}));
    REQUIRE(f.commit());
    int flagged = 0;
    for (const auto& name : files_of(dir))
        if (name.ends_with(":2,FS")) {
            ++flagged;
            CHECK(name.find(",U=1,") != std::string::npos);
        }
    CHECK(flagged == 1);
    // A second change on the same message finds the renamed file.
    REQUIRE(f.set_flags("1", Flags{flag_seen, {}}));
    int seen_only = 0;
    for (const auto& name : files_of(dir)) seen_only += name.ends_with(":2,S");
    CHECK(seen_only == 1);

    Collect back;
    REQUIRE(f.read("2", back));
    CHECK(back.bytes == k_two);
    Collect none;
    CHECK_FALSE(f.read("3", none));

    REQUIRE(f.remove({"2"}));
    REQUIRE(f.commit());
    CHECK(files_of(dir).size() == 1);
    Collect gone;
    CHECK_FALSE(f.read("2", gone));

    // A new session sees the end state.
    auto again = store.open_folder(inbox, 7);
    REQUIRE(again);
    auto state = (*again)->load();
    REQUIRE(state);
    REQUIRE(state->held.size() == 1);
    CHECK(state->held[0].id == "1");
    CHECK(state->held[0].flags == Flags{flag_seen, {}});
}

TEST_CASE("load_brief leaves Message-IDs out, load keeps them") {
    TempDir tmp;
    auto db = archive::StateDb::open(tmp.path + "/state.db");
    REQUIRE(db);
    maildir::MaildirStore store(tmp.path + "/archive", **db);
    FolderInfo inbox{{"INBOX"}};
    {
        auto f = store.open_folder(inbox, 7);
        REQUIRE(f);
        REQUIRE((*f)->load());
        deliver(**f, "5", "Message-ID: <five@example>\r\n\r\nx\r\n", Flags{flag_seen, {}});
        REQUIRE((*f)->commit());
    }
    auto f = store.open_folder(inbox, 7);
    REQUIRE(f);
    auto brief = (*f)->load_brief();
    REQUIRE(brief);
    REQUIRE(brief->held.size() == 1);
    CHECK(brief->held[0].message_id.empty());
    CHECK(brief->held[0].flags == Flags{flag_seen, {}});
    auto full = (*f)->load();
    REQUIRE(full);
    REQUIRE(full->held.size() == 1);
    CHECK(full->held[0].message_id == "<five@example>");
}
