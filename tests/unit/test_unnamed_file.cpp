// fs::UnnamedFile: a message file that has no name until its batch is
// durable, and leaves nothing behind if it never gets one.
#include "backends/common/fs.h"
#include "store_test_support.h"

#include <doctest/doctest.h>

#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

using mf::fs::UnnamedFile;

namespace {

std::size_t entries(const std::string& dir) {
    return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(dir),
                                                  std::filesystem::directory_iterator()));
}

std::string content(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The temp directory's file system has O_TMPFILE (ext4, tmpfs, xfs, btrfs);
// elsewhere (NFS) these tests say so and pass.
bool no_unnamed_files(const std::string& dir) {
    if (UnnamedFile::usable_in(dir, dir + "/probe.mailferry")) return false;
    MESSAGE("no O_TMPFILE in " << dir << ": skipped");
    return true;
}

} // namespace

TEST_CASE("unnamed file: written, then named, with its bytes") {
    mf::test::TempDir dir;
    if (no_unnamed_files(dir.path)) return;
    auto file = UnnamedFile::create(dir.path);
    REQUIRE(file);
    REQUIRE(mf::fs::write_all(file.get(), "hello\n", "test"));
    CHECK(entries(dir.path) == 0); // no name yet
    REQUIRE(file.link_as(dir.path + "/named"));
    CHECK(content(dir.path + "/named") == "hello\n");
    CHECK(entries(dir.path) == 1);
}

TEST_CASE("unnamed file: the probe names one and removes it") {
    mf::test::TempDir dir;
    if (no_unnamed_files(dir.path)) return;
    CHECK(entries(dir.path) == 0);
    CHECK(UnnamedFile::usable_in(dir.path, dir.path + "/probe.mailferry"));
    CHECK(entries(dir.path) == 0);
    CHECK(UnnamedFile::open_count() == 0);
    CHECK_FALSE(
        UnnamedFile::usable_in(dir.path + "/missing", dir.path + "/missing/probe.mailferry"));
}

TEST_CASE("unnamed file: a name already taken is an error naming it, and nothing is replaced") {
    mf::test::TempDir dir;
    if (no_unnamed_files(dir.path)) return;
    { std::ofstream(dir.path + "/taken") << "old"; }
    auto file = UnnamedFile::create(dir.path);
    REQUIRE(file);
    REQUIRE(mf::fs::write_all(file.get(), "new", "test"));
    auto linked = file.link_as(dir.path + "/taken");
    REQUIRE_FALSE(linked);
    CHECK(linked.error().what.find(dir.path + "/taken") != std::string::npos);
    CHECK(content(dir.path + "/taken") == "old");
}

TEST_CASE("unnamed file: none in a directory that does not exist, so the caller names its own") {
    mf::test::TempDir dir;
    CHECK_FALSE(UnnamedFile::create(dir.path + "/missing"));
}

TEST_CASE("unnamed file: moved, it keeps its descriptor; closed twice, it is closed once") {
    mf::test::TempDir dir;
    if (no_unnamed_files(dir.path)) return;
    auto a = UnnamedFile::create(dir.path);
    REQUIRE(a);
    const int fd = a.get();
    const long before = UnnamedFile::open_count();
    UnnamedFile b = std::move(a);
    CHECK_FALSE(a);
    CHECK(b.get() == fd);
    CHECK(UnnamedFile::open_count() == before);
    b.close();
    b.close();
    CHECK_FALSE(b);
    CHECK(UnnamedFile::open_count() == before - 1);
    // The share of descriptors (half the limit) is given back on close: as
    // many as the whole limit can be had one after another.
    rlimit files{};
    REQUIRE(getrlimit(RLIMIT_NOFILE, &files) == 0);
    const auto rounds = std::min<rlim_t>(files.rlim_cur, 50000);
    for (rlim_t i = 0; i < rounds; ++i) {
        auto c = UnnamedFile::create(dir.path);
        REQUIRE(c);
    }
}
