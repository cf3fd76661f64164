// Two accounts into one: --target-prefix puts a whole account below a
// folder, INBOX as PREFIX/INBOX; --special-folders merge sends INBOX and the
// special folders into the target's own; a --map rule names a folder exactly.
#include "cli/folder_map.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using mf::FolderInfo;
using mf::cli::FolderMap;
using mf::cli::SpecialFolders;
using Path = std::vector<std::string>;

namespace {

FolderInfo folder(Path path, std::string special_use = {}, std::size_t prefix_depth = 0) {
    FolderInfo f;
    f.path = std::move(path);
    f.special_use = std::move(special_use);
    f.prefix_depth = prefix_depth;
    return f;
}

FolderMap under(const std::string& prefix, SpecialFolders special,
                const std::vector<std::string>& rules = {}) {
    auto map = FolderMap::parse(rules);
    REQUIRE(map);
    REQUIRE(map->put_under(prefix, special));
    return *map;
}

} // namespace

TEST_CASE("every folder goes below the prefix, INBOX as PREFIX/INBOX") {
    auto map = under("Old/Alice", SpecialFolders::prefix);
    CHECK(map.target_of(folder({"INBOX"})).path == Path{"Old", "Alice", "INBOX"});
    CHECK(map.target_of(folder({"Sent"}, "\\Sent")).path == Path{"Old", "Alice", "Sent"});
    CHECK(map.target_of(folder({"Work", "Deep"})).path == Path{"Old", "Alice", "Work", "Deep"});
    // The source's namespace prefix comes off first (Courier's INBOX.Sent).
    CHECK(map.target_of(folder({"INBOX", "Sent"}, {}, 1)).path == Path{"Old", "Alice", "Sent"});
    CHECK_FALSE(map.merges());
}

TEST_CASE("a --map rule names the target folder exactly, without the prefix") {
    auto map = under("Alice", SpecialFolders::prefix, {"INBOX=Alice", "Work=Projects/Work"});
    CHECK(map.target_of(folder({"INBOX"})).path == Path{"Alice"});
    CHECK(map.target_of(folder({"Work", "Deep"})).path == Path{"Projects", "Work", "Deep"});
    CHECK(map.target_of(folder({"Sent"})).path == Path{"Alice", "Sent"});
}

TEST_CASE("merge sends INBOX and the special folders into the target's own") {
    auto map = under("Alice", SpecialFolders::merge);
    REQUIRE(map.merges());
    map.use_target_folders({folder({"Sent Items"}, "\\Sent"), folder({"Deleted Items"}),
                            folder({"Archive"}, "\\Archive \\HasNoChildren")});
    CHECK(map.target_of(folder({"INBOX"})).path == Path{"INBOX"});
    CHECK(map.target_of(folder({"Sent"}, "\\Sent")).path == Path{"Sent Items"});
    CHECK(map.target_of(folder({"Trash"})).path == Path{"Deleted Items"}); // both by name
    CHECK(map.target_of(folder({"Old"}, "\\Archive")).path == Path{"Archive"});
    // No folder of that use on the target: the source's own name, unprefixed.
    CHECK(map.target_of(folder({"Spam"})).path == Path{"Spam"});
    // \All and \Flagged are views of other folders, not merged; nor is a
    // nested folder that only looks like a special one.
    CHECK(map.target_of(folder({"All Mail"}, "\\All")).path == Path{"Alice", "All Mail"});
    CHECK(map.target_of(folder({"Work", "Sent"})).path == Path{"Alice", "Work", "Sent"});
    CHECK(map.target_of(folder({"Work"})).path == Path{"Alice", "Work"});
}

TEST_CASE("without a prefix nothing moves and every target folder is the run's") {
    auto map = under("", SpecialFolders::merge);
    CHECK_FALSE(map.merges());
    CHECK(map.target_of(folder({"Sent"}, "\\Sent")).path == Path{"Sent"});
    CHECK(map.owns({"Bob", "INBOX"}));
}

TEST_CASE("a mirror below a prefix owns only the folders below it") {
    auto map = under("Alice", SpecialFolders::prefix);
    CHECK(map.owns({"Alice", "Gone"}));
    CHECK_FALSE(map.owns({"Alice"})); // the prefix's own node holds the others
    CHECK_FALSE(map.owns({"Bob", "INBOX"}));
    CHECK_FALSE(map.owns({"INBOX"}));
}

TEST_CASE("a prefix with an empty component is refused") {
    auto map = FolderMap::parse({});
    REQUIRE(map);
    for (const char* bad : {"/Alice", "Alice/", "Old//Alice"})
        CHECK_FALSE(map->put_under(bad, SpecialFolders::prefix));
}
