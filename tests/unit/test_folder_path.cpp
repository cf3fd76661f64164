#include "backends/archive/folder_path.h"

#include <doctest/doctest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

using mf::archive::k_max_component;
using mf::archive::relative_folder_path;
using mf::archive::safe_component;
using mf::archive::unescape_component;

namespace {

using namespace std::string_literals;

std::vector<std::string> split(const std::string& path) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        const auto slash = path.find('/', start);
        parts.push_back(path.substr(start, slash - start));
        if (slash == std::string::npos) return parts;
        start = slash + 1;
    }
}

// What must hold for any folder path, whatever the server sent.
void check_stays_below_root(const std::vector<std::string>& components) {
    const std::string path = relative_folder_path(components);
    CHECK(path.find('\0') == std::string::npos);
    CHECK(path.find('\\') == std::string::npos);
    if (components.empty()) {
        CHECK(path.empty());
        return;
    }
    CHECK_FALSE(path.starts_with('/'));
    const auto parts = split(path);
    CHECK(parts.size() == components.size());
    for (const auto& part : parts) {
        CHECK_FALSE(part.empty());
        CHECK(part != ".");
        CHECK(part != "..");
        CHECK_FALSE(part.starts_with('.'));
        CHECK(part.size() <= k_max_component);
    }
}

} // namespace

TEST_CASE("safe_component escapes what a file name cannot hold") {
    struct Case {
        std::string name, escaped;
    };
    const std::vector<Case> cases = {
        {"INBOX", "INBOX"},
        {"Sent Items", "Sent Items"},
        {"", "%"},
        {".", "%2E"},
        {"..", "%2E."},
        {".mailferry", "%2Emailferry"},
        {"a.b.", "a.b."},
        {"../../x", "%2E.%2F..%2Fx"},
        {"/abs", "%2Fabs"},
        {"a//b", "a%2F%2Fb"},
        {"a\\b", "a%5Cb"},
        {"100%", "100%25"},
        {"%", "%25"},
        {"%25", "%2525"},
        {"cur", "%63ur"},
        {"CUR", "%43UR"},
        {"New", "%4Eew"},
        {"tmp", "%74mp"},
        {"tmpx", "tmpx"},
        {"a\0b"s, "a%00b"},
        {"line\r\nbreak", "line%0D%0Abreak"},
        {"tab\there", "tab%09here"},
        {"del\x7F", "del%7F"},
        {"Entwürfe", "Entwürfe"},
        {"\xE2\x9C\x93 done", "\xE2\x9C\x93 done"},
        {"\xF0\x9F\x93\xA7", "\xF0\x9F\x93\xA7"},
        {"bad\xFF", "bad%FF"},
        {"\xC3", "%C3"},                      // truncated sequence
        {"\xC0\xAF", "%C0%AF"},               // overlong '/'
        {"\xED\xA0\x80", "%ED%A0%80"},        // surrogate
        {"\xF4\x90\x80\x80", "%F4%90%80%80"}, // above U+10FFFF
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        CHECK(safe_component(c.name) == c.escaped);
        CHECK(unescape_component(c.escaped) == c.name);
    }
}

TEST_CASE("names differing only in case stay distinct") {
    CHECK(safe_component("Inbox") != safe_component("INBOX"));
    CHECK(safe_component("cur") != safe_component("Cur"));
}

TEST_CASE("unescape_component rejects what safe_component never produces") {
    for (const std::string bad : {"%2", "%", "%zz", "%2e", "%61", "a/b", ".", "..", ".x", "cur",
                                  "a\\b", "\x01", "\xFF", "%~0123456789abcdef"}) {
        if (bad == "%") continue; // the empty name
        CAPTURE(bad);
        CHECK_FALSE(unescape_component(bad).has_value());
    }
    CHECK_FALSE(unescape_component("").has_value());
    CHECK_FALSE(unescape_component(std::string(k_max_component + 1, 'a')).has_value());
}

TEST_CASE("long names are cut and made distinct by a hash") {
    const std::string a(10000, 'a');
    std::string b = a;
    b.back() = 'b';
    const auto sa = safe_component(a), sb = safe_component(b);
    CHECK(sa.size() <= k_max_component);
    CHECK(sa != sb);
    CHECK(sa.find("%~") == sa.size() - 18);
    CHECK_FALSE(unescape_component(sa).has_value());

    // Exactly at the limit: still reversible, no hash.
    const std::string edge(k_max_component, 'x');
    CHECK(safe_component(edge) == edge);
    CHECK(safe_component(edge + "x").size() == k_max_component);

    // The cut never splits a character or an escape.
    const std::string umlauts = [] {
        std::string s;
        for (int i = 0; i < 150; ++i)
            s += "\xC3\xBC";
        return s;
    }();
    const auto su = safe_component(umlauts);
    CHECK(su.size() <= k_max_component);
    const std::string prefix = su.substr(0, su.find("%~"));
    CHECK(prefix.size() % 2 == 0);
    const std::string escapes(100, '\n');
    const auto se = safe_component(escapes);
    CHECK(se.substr(0, se.find("%~")).size() % 3 == 0);
}

TEST_CASE("relative_folder_path joins escaped components") {
    CHECK(relative_folder_path({}) == "");
    CHECK(relative_folder_path({"INBOX"}) == "INBOX");
    CHECK(relative_folder_path({"Archive", "2023"}) == "Archive/2023");
    CHECK(relative_folder_path({"..", "..", "etc"}) == "%2E./%2E./etc");
    CHECK(relative_folder_path({"", "x"}) == "%/x");
    CHECK(relative_folder_path({"a/b"}) == "a%2Fb");
    for (const auto& hostile : std::vector<std::vector<std::string>>{{".."},
                                                                     {"..", ".."},
                                                                     {"/abs"},
                                                                     {"a//b"},
                                                                     {""},
                                                                     {"", ""},
                                                                     {"cur"},
                                                                     {"tmp", "new"},
                                                                     {"\0"s},
                                                                     {"\r\n"},
                                                                     {std::string(10000, '.')},
                                                                     {std::string(10000, '/')}}) {
        check_stays_below_root(hostile);
    }
}

TEST_CASE("property: any name stays below the root and short ones round-trip") {
    std::mt19937 rng(20240611);
    const std::string alphabet =
        "aZ09.%/\\ ~\r\n\t\x7F"s + '\0' + "\xC3\xBC\xE2\x9C\x93\xF0\x80\xFF";
    std::set<std::string> seen_escaped;
    std::set<std::string> seen_names;
    for (int round = 0; round < 3000; ++round) {
        std::vector<std::string> components(rng() % 4);
        for (auto& component : components) {
            const std::size_t len = rng() % 3 == 0 ? rng() % 400 : rng() % 12;
            for (std::size_t i = 0; i < len; ++i) {
                component += rng() % 4 == 0 ? static_cast<char>(rng() % 256)
                                            : alphabet[rng() % alphabet.size()];
            }
            const auto escaped = safe_component(component);
            CAPTURE(component);
            if (escaped.find("%~") == std::string::npos) {
                CHECK(unescape_component(escaped) == component);
            } else {
                CHECK(component.size() > k_max_component / 3);
            }
            if (component.size() <= k_max_component / 3)
                CHECK(unescape_component(escaped) == component);
            // Distinct names never share a directory.
            if (seen_names.insert(component).second) CHECK(seen_escaped.insert(escaped).second);
        }
        check_stays_below_root(components);
    }
}

TEST_CASE("property: names of up to 150 bytes round-trip unless escaping makes them too long") {
    std::mt19937 rng(7);
    for (int round = 0; round < 2000; ++round) {
        std::string name(rng() % 151, '\0');
        for (auto& c : name)
            c = static_cast<char>(rng() % 256);
        const auto escaped = safe_component(name);
        const auto back = unescape_component(escaped);
        CAPTURE(name);
        if (escaped.find("%~") == std::string::npos)
            CHECK(back == name);
        else
            CHECK_FALSE(back.has_value());
    }
    // Plain names of 150 bytes need no escaping and always round-trip.
    const std::string plain(150, 'm');
    CHECK(unescape_component(safe_component(plain)) == plain);
}

TEST_CASE("the full spelling of a folder's name round-trips where the shortened one cannot") {
    std::mt19937 rng(11);
    for (int round = 0; round < 200; ++round) {
        std::vector<std::string> name(1 + rng() % 3);
        for (auto& component : name) {
            component.assign(rng() % 1200, '\0');
            for (auto& c : component)
                c = static_cast<char>(rng() % 256);
        }
        CAPTURE(name);
        CHECK(mf::archive::parse_full_folder_path(mf::archive::full_folder_path(name)) == name);
    }
    const std::vector<std::string> long_name{"a", std::string(1000, 'x')};
    const std::string rel = relative_folder_path(long_name);
    bool lost = false;
    const auto read_back = mf::archive::folder_name_of(rel, &lost);
    CHECK(lost);
    CHECK(read_back[0] == "a");
    CHECK(read_back[1] == split(rel)[1]);
    lost = false;
    CHECK(mf::archive::folder_name_of("a/%2E.", &lost) == std::vector<std::string>{"a", ".."});
    CHECK_FALSE(lost);
    // What full_folder_path never writes is refused, not guessed at.
    CHECK_FALSE(mf::archive::parse_full_folder_path("").has_value());
    CHECK_FALSE(mf::archive::parse_full_folder_path("a/%61").has_value());
    CHECK_FALSE(mf::archive::parse_full_folder_path(rel).has_value());
}
