// Export: the names it gives files and folders (backends/export/names.h),
// the engine's folder loop (sync/export.h) with a fake source and sink.
#include "backends/export/names.h"
#include "sync/export.h"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

using namespace mf;
using namespace mf::exporting;

namespace {

// A component is safe when it stays one component inside its directory.
void check_safe(const std::string& c, std::size_t max) {
    CHECK(!c.empty());
    CHECK(c != ".");
    CHECK(c != "..");
    CHECK(c.front() != '.');
    CHECK(c.size() <= max);
    for (char ch : c) {
        auto u = static_cast<unsigned char>(ch);
        CHECK(ch != '/');
        CHECK(u >= 0x20);
        CHECK(u != 0x7F);
    }
}

struct Case {
    std::string in, out;
};

// Each case's input through `name`, as `check` sees the result.
template <class Name, class Check>
void check_table(const std::vector<Case>& cases, Name&& name, Check&& check) {
    for (const auto& c : cases) {
        CAPTURE(c.in);
        CHECK(name(c.in) == c.out);
        check(name(c.in));
    }
}

} // namespace

TEST_CASE("folder_component: one safe directory name, whatever the folder is called") {
    const std::vector<Case> cases = {
        {"INBOX", "INBOX"},
        {"Sent Items", "Sent Items"},
        {"..", "_.."},
        {".", "_."},
        {".hidden", "_.hidden"},
        {"", "_"},
        {"a/b", "a_b"},
        {std::string("nul\0x", 5), "nul_x"},
        {"line\nbreak\r\x1b[2J", "line_break__[2J"},
        {"Entw\xc3\xbcrfe", "Entw\xc3\xbcrfe"},
    };
    check_table(cases, folder_component,
                [](const std::string& c) { check_safe(c, k_max_component); });
    // Long names are cut, never inside a UTF-8 sequence.
    std::string long_name;
    for (int i = 0; i < 80; ++i)
        long_name += "\xc3\xbc";
    auto cut = folder_component(long_name);
    check_safe(cut, k_max_component);
    CHECK(cut.size() % 2 == 0);
}

TEST_CASE("subject_words: words joined by '-', nothing that could be a path") {
    const std::vector<Case> cases = {
        {"Hello, world!", "Hello-world"},
        {"Re: [list] ../../etc/passwd", "Re-list-etc-passwd"},
        {"  ", ""},
        {"", ""},
        {std::string("a\0b", 3), "a-b"},
        {"tab\tand\r\nnewline", "tab-and-newline"},
        {"Gr\xc3\xbc\xc3\x9f"
         "e",
         "Gr\xc3\xbc\xc3\x9f"
         "e"},
        {"bad \xff\xfe utf8", "bad-utf8"},
        {"rtl\xe2\x80\xaeoverride", "rtl-override"}, // U+202E
        {"cut \xc3", "cut"},
    };
    check_table(cases, subject_words, [](const std::string& w) {
        CHECK(w.find_first_of("/. \t\r\n") == std::string::npos);
    });
    auto words = subject_words(std::string(500, 'x') + " tail");
    CHECK(words == std::string(k_max_subject, 'x'));
}

TEST_CASE("eml_name: date, subject words, short id; bounded and distinct") {
    // 2024-03-05 14:12:30 UTC
    CHECK(eml_name(1709647950, "Quarterly report", "42") ==
          "2024-03-05_1412_Quarterly-report_" + eml_name(0, "", "42").substr(8));
    CHECK(eml_name(0, "", "42").starts_with("undated_"));
    CHECK(eml_name(0, "", "42").ends_with(".eml"));
    CHECK(eml_name(1709647950, "x", "1") != eml_name(1709647950, "x", "2"));
    auto name = eml_name(1709647950, std::string(10000, '/') + std::string(10000, 'a'), "id");
    check_safe(name, 100);
}

TEST_CASE("numbered puts ~N before the extension") {
    CHECK(numbered("a.eml", 2) == "a~2.eml");
    CHECK(numbered("INBOX.mbox", 3) == "INBOX~3.mbox");
    CHECK(numbered("INBOX", 2) == "INBOX~2");
    CHECK(numbered("_..", 2) == "_.~2.");
}

namespace {

// A folder of messages with the given sizes and dates; bodies are their ids.
class FakeSource : public Source {
  public:
    std::vector<RemoteMessage> messages;
    std::vector<std::string> unreadable; // fetching these fails (message scope)
    std::size_t part_size_asked = 0;

    Result<std::vector<FolderInfo>> list_folders() override { return std::vector<FolderInfo>{}; }
    using Source::open;
    Result<Snapshot> open(const FolderInfo&, const OpenRequest& request) override {
        part_size_asked = request.part_size;
        Snapshot snap;
        snap.messages = messages;
        return snap;
    }
    Status fetch(std::span<const std::string> ids, MessageSink& sink) override {
        for (const auto& id : ids) {
            for (const auto& bad : unreadable)
                if (bad == id) return fail(ErrorKind::protocol, Scope::message, "unreadable");
            if (auto s = sink.begin(id.size()); !s) return s;
            if (auto s = sink.write(id); !s) return s;
            RemoteMessage m;
            m.id = id;
            if (auto s = sink.finish(m); !s) return s;
        }
        return {};
    }
    Result<std::vector<MessageKey>> keys(const std::vector<std::string>&) override {
        return std::vector<MessageKey>{};
    }
    Status remove(const std::vector<std::string>&) override {
        return fail(ErrorKind::usage, Scope::folder, "read-only");
    }
    Status close() override { return {}; }
};

class FakeSink : public ExportSink, public MessageSink {
  public:
    std::vector<std::string> written;
    bool ended = false;
    Status begin_folder(const FolderInfo&) override { return {}; }
    MessageSink& messages() override { return *this; }
    Status end_folder() override {
        ended = true;
        return {};
    }
    Status begin(std::uint64_t) override {
        m_body.clear();
        return {};
    }
    Status write(std::string_view chunk) override {
        m_body += chunk;
        return {};
    }
    Status finish(const RemoteMessage&) override {
        written.push_back(m_body);
        return {};
    }
    void abandon() override { m_body.clear(); }

  private:
    std::string m_body;
};

RemoteMessage msg(std::string id, std::uint64_t size, std::int64_t date) {
    RemoteMessage m;
    m.id = std::move(id);
    m.size = size;
    m.internal_date = date;
    return m;
}

} // namespace

TEST_CASE("export_folder: what the filter admits, in parts, the unreadable counted") {
    FakeSource source;
    source.messages = {msg("old", 10, 100), msg("big", 5000, 500), msg("ok", 10, 500),
                       msg("undated", 10, 0), msg("bad", 10, 500)};
    source.unreadable = {"bad"};
    MessageFilter filter;
    filter.since = 200;
    filter.max_size = 1000;
    FakeSink sink;
    auto counts = export_folder(source, FolderInfo{{"INBOX"}}, filter, sink);
    REQUIRE(counts);
    CHECK(source.part_size_asked > 0);
    CHECK(counts->listed == 5);
    CHECK(counts->left_out == 2);
    CHECK(counts->exported == 2);
    REQUIRE(counts->failed.size() == 1);
    CHECK(counts->failed[0].id == "bad");
    CHECK(sink.written == std::vector<std::string>{"ok", "undated"});
    CHECK(sink.ended);
}
