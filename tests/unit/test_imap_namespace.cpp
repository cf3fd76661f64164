// The personal namespace (NAMESPACE, RFC 2342) and what a push does with
// it: the source's prefix comes off, an explicit --map wins, and an archive
// remembers the prefix for a restore.
#include "backends/archive/personal_prefix.h"
#include "backends/imap/namespace.h"
#include "backends/imap/reader.h"
#include "cli/folder_map.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

using namespace mf::imap;
using Path = std::vector<std::string>;

namespace {

class LineStream : public ByteStream {
  public:
    explicit LineStream(std::string data) : m_data(std::move(data)) {}
    mf::Result<std::size_t> read_some(char* buf, std::size_t len) override {
        if (m_pos == m_data.size())
            return mf::fail(mf::ErrorKind::connect, mf::Scope::session, "connection closed");
        const std::size_t count = std::min(len, m_data.size() - m_pos);
        m_data.copy(buf, count, m_pos);
        m_pos += count;
        return count;
    }

  private:
    std::string m_data;
    std::size_t m_pos = 0;
};

std::optional<PersonalNamespace> parse_line(const std::string& line) {
    LineStream stream(line + "\r\n");
    ResponseReader reader(stream);
    auto response = reader.read();
    REQUIRE(response);
    return parse_namespace(*response);
}

mf::FolderInfo folder(Path path, std::size_t depth) {
    mf::FolderInfo f;
    f.path = std::move(path);
    f.prefix_depth = depth;
    return f;
}

} // namespace

TEST_CASE("the first personal namespace is read from a NAMESPACE response") {
    struct Case {
        std::string line;
        bool found;
        std::string prefix;
        char separator;
    };
    const Case cases[] = {
        {R"(* NAMESPACE (("INBOX." ".")) NIL (("#shared." ".")("shared." ".")))", true, "INBOX.",
         '.'},                                                                   // Courier
        {R"(* NAMESPACE (("" "/")) (("Other Users/" "/")) NIL)", true, "", '/'}, // Dovecot
        {R"(* namespace (("INBOX." ".") ("Mail/" "/")) NIL NIL)", true, "INBOX.", '.'},
        {R"(* NAMESPACE (("" NIL)) NIL NIL)", true, "", 0},
        {R"(* NAMESPACE (("~/" "/" "X-PARAM" ("a"))) NIL NIL)", true, "~/", '/'},
        {R"(* NAMESPACE NIL NIL (("" "/")))", false, "", 0},
        {R"(* NAMESPACE () NIL NIL)", false, "", 0},
        {R"(* NAMESPACE (("INBOX.")) NIL NIL)", false, "", 0},
        {R"(* NAMESPACE (("INBOX." "..")) NIL NIL)", false, "", 0},
        {R"(* NAMESPACE ((NIL ".")) NIL NIL)", false, "", 0},
        {R"(* NAMESPACE "INBOX." NIL NIL)", false, "", 0},
        {R"(* NAMESPACE)", false, "", 0},
        {R"(* LIST (\Noselect) "." "INBOX")", false, "", 0},
        {R"(* OK [NAMESPACE] hello)", false, "", 0},
    };
    for (const auto& c : cases) {
        CAPTURE(c.line);
        auto ns = parse_line(c.line);
        REQUIRE(ns.has_value() == c.found);
        if (!ns) continue;
        CHECK(ns->prefix == c.prefix);
        CHECK(ns->separator == c.separator);
    }
}

TEST_CASE("the prefix becomes path components, or nothing is inferred") {
    CHECK(prefix_components({"INBOX.", '.'}, false) == Path{"INBOX"});
    CHECK(prefix_components({"inbox.", '.'}, false) == Path{"INBOX"});
    CHECK(prefix_components({"", '/'}, false) == Path{});
    CHECK(prefix_components({"Mail/Personal/", '/'}, false) == Path{"Mail", "Personal"});
    CHECK(prefix_components({"&AMQ-rchiv/", '/'}, false) == Path{"\xc3\x84rchiv"});
    CHECK(prefix_components({"\xc3\x84rchiv/", '/'}, true) == Path{"\xc3\x84rchiv"});
    CHECK_FALSE(prefix_components({"INBOX", '.'}, false));  // not whole components
    CHECK_FALSE(prefix_components({"INBOX.", 0}, false));   // flat, yet a prefix
    CHECK_FALSE(prefix_components({"&Zm9v/", '/'}, false)); // not modified UTF-7
}

TEST_CASE("a folder's depth below the prefix") {
    const Path inbox{"INBOX"};
    CHECK(mf::prefix_depth({"INBOX", "Sent"}, inbox) == 1);
    CHECK(mf::prefix_depth({"INBOX", "Work", "Projects"}, inbox) == 1);
    CHECK(mf::prefix_depth({"INBOX"}, inbox) == 0);          // INBOX stays INBOX
    CHECK(mf::prefix_depth({"INBOX", "inbox"}, inbox) == 0); // would meet the real INBOX
    CHECK(mf::prefix_depth({"shared", "team"}, inbox) == 0); // outside the namespace
    CHECK(mf::prefix_depth({"Sent"}, {}) == 0);              // no prefix
    CHECK(mf::prefix_depth({"Mail", "Personal", "x"}, {"Mail", "Personal"}) == 2);
    CHECK(mf::prefix_depth({"Mail", "Other", "x"}, {"Mail", "Personal"}) == 0);
}

TEST_CASE("a push takes the source's prefix off unless a --map rule names the whole folder") {
    auto none = mf::cli::FolderMap::parse({});
    REQUIRE(none);
    CHECK(none->target_of(folder({"INBOX", "Sent"}, 1)).path == Path{"Sent"});
    CHECK(none->target_of(folder({"INBOX", "Work", "Projects"}, 1)).path ==
          Path{"Work", "Projects"});
    CHECK(none->target_of(folder({"INBOX"}, 0)).path == Path{"INBOX"});
    CHECK(none->target_of(folder({"INBOX", "Sent"}, 0)).path ==
          Path{"INBOX", "Sent"}); // outside, or no NAMESPACE
    CHECK(none->target_of(folder({"INBOX", "Sent"}, 1)).prefix_depth == 0);

    auto map = mf::cli::FolderMap::parse({"INBOX/Old=Archive/Old", "Sent=Sent Items"});
    REQUIRE(map);
    CHECK(map->target_of(folder({"INBOX", "Old", "2019"}, 1)).path ==
          Path{"Archive", "Old", "2019"});
    CHECK(map->target_of(folder({"INBOX", "Sent"}, 1)).path ==
          Path{"Sent Items"}); // by the name without prefix
    CHECK(map->target_of(folder({"Sent"}, 0)).path == Path{"Sent Items"});
}

TEST_CASE("the personal prefix is taken from the listing and marked on an archive's folders") {
    std::vector<mf::FolderInfo> listed{folder({"INBOX"}, 0), folder({"shared", "x"}, 0),
                                       folder({"INBOX", "Sent"}, 1)};
    CHECK(mf::cli::personal_prefix(listed) == Path{"INBOX"});
    CHECK(mf::cli::personal_prefix({folder({"INBOX"}, 0)}) == Path{});

    std::vector<mf::FolderInfo> archived{folder({"INBOX"}, 0), folder({"INBOX", "Sent"}, 0),
                                         folder({"Other"}, 0)};
    mf::cli::mark_personal_prefix(archived, {"INBOX"});
    CHECK(archived[0].prefix_depth == 0);
    CHECK(archived[1].prefix_depth == 1);
    CHECK(archived[2].prefix_depth == 0);
}

TEST_CASE("an archive records the personal prefix; an archive without one has none") {
    char dir[] = "/tmp/mf-prefix-XXXXXX";
    REQUIRE(::mkdtemp(dir));
    std::string path = std::string(dir) + "/state.db";
    {
        auto db = mf::archive::StateDb::open(path);
        REQUIRE(db);
        auto before = mf::archive::recorded_personal_prefix(**db);
        REQUIRE(before);
        CHECK(before->empty());
        REQUIRE(mf::archive::record_personal_prefix(**db, {"INBOX"}));
        REQUIRE(
            mf::archive::record_personal_prefix(**db, {})); // a listing with nothing below it: kept
        REQUIRE(mf::archive::record_personal_prefix(**db, {"Mail", ".hidden/x"}));
        auto after = mf::archive::recorded_personal_prefix(**db);
        REQUIRE(after);
        CHECK(*after == Path{"Mail", ".hidden/x"});
        REQUIRE((*db)->set_meta("personal_prefix", "%zz"));
        auto broken = mf::archive::recorded_personal_prefix(**db);
        REQUIRE(broken);
        CHECK(broken->empty());
    }
    for (const char* suffix : {"", "-wal", "-shm"})
        std::remove((path + suffix).c_str());
    ::rmdir(dir);
}
