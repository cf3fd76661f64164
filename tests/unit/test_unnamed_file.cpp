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

} // namespace

TEST_CASE("unnamed file: written, then named, with its bytes") {
    mf::test::TempDir dir;
    auto file = UnnamedFile::create(dir.path);
    REQUIRE(file); // the temp directory is ext4 or tmpfs here, both have O_TMPFILE
    REQUIRE(mf::fs::write_all(file.get(), "hello\n", "test"));
    CHECK(entries(dir.path) == 0); // no name yet
    REQUIRE(file.link_as(dir.path + "/named"));
    CHECK(content(dir.path + "/named") == "hello\n");
    CHECK(entries(dir.path) == 1);
}

TEST_CASE("unnamed file: never named, it leaves nothing") {
    mf::test::TempDir dir;
    {
        auto file = UnnamedFile::create(dir.path);
        REQUIRE(file);
        REQUIRE(mf::fs::write_all(file.get(), std::string(100000, 'x'), "test"));
    }
    CHECK(entries(dir.path) == 0);
}

TEST_CASE("unnamed file: a name already taken is an error naming it, and nothing is replaced") {
    mf::test::TempDir dir;
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
    auto a = UnnamedFile::create(dir.path);
    REQUIRE(a);
    const int fd = a.get();
    UnnamedFile b = std::move(a);
    CHECK_FALSE(a);
    CHECK(b.get() == fd);
    b.close();
    b.close();
    CHECK_FALSE(b);
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
