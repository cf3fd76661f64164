// fs::OutputFile and write_output: a file the user names for output is
// replaced by rename only when it is a regular file (or missing); a device,
// a FIFO or a socket is written into; a symlink is followed (issue 21).
#include "backends/common/out_file.h"
#include "store_test_support.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

namespace {

namespace stdfs = std::filesystem;
using mf::fs::read_small_file;
using mf::test::TempDir;

std::size_t entries(const std::string& dir) {
    return static_cast<std::size_t>(
        std::distance(stdfs::directory_iterator(dir), stdfs::directory_iterator()));
}

} // namespace

TEST_CASE("a missing or regular file is replaced whole, with the mode given") {
    TempDir dir;
    std::string path = dir.path + "/report.json";
    REQUIRE(mf::fs::write_output(path, "one\n", 0644));
    REQUIRE(mf::fs::write_output(path, "two\n", 0644));
    CHECK(read_small_file(path) == "two\n");
    CHECK((stdfs::status(path).permissions() & stdfs::perms::all) == stdfs::perms(0644));
    CHECK(entries(dir.path) == 1); // no temporary left
}

TEST_CASE("an output not committed leaves the old file and no temporary") {
    TempDir dir;
    std::string path = dir.path + "/metrics.prom";
    REQUIRE(mf::fs::write_output(path, "old\n"));
    {
        auto out = mf::fs::OutputFile::open(path, 0600);
        REQUIRE(out);
        REQUIRE(out->write("half"));
    }
    CHECK(read_small_file(path) == "old\n");
    CHECK(entries(dir.path) == 1);
}

TEST_CASE("a symlink is followed and its target replaced beside it") {
    TempDir dir;
    stdfs::create_directory(dir.path + "/shared");
    std::string target = dir.path + "/shared/report.json";
    REQUIRE(mf::fs::write_output(target, "old\n"));
    stdfs::create_symlink("shared/report.json", dir.path + "/link");
    stdfs::create_symlink(dir.path + "/link", dir.path + "/link2");
    REQUIRE(mf::fs::write_output(dir.path + "/link2", "new\n"));
    CHECK(stdfs::is_symlink(dir.path + "/link"));
    CHECK(stdfs::is_symlink(dir.path + "/link2"));
    CHECK(read_small_file(target) == "new\n");
    auto where = mf::fs::resolve_output(dir.path + "/link2");
    REQUIRE(where);
    CHECK(where->path == dir.path + "/shared/report.json");
}

TEST_CASE("a dangling symlink names the file to create") {
    TempDir dir;
    stdfs::create_symlink("made.json", dir.path + "/link");
    REQUIRE(mf::fs::write_output(dir.path + "/link", "x"));
    CHECK(stdfs::is_symlink(dir.path + "/link"));
    CHECK(read_small_file(dir.path + "/made.json") == "x");
}

TEST_CASE("a character device is written into, never renamed over") {
    TempDir dir;
    std::string null = dir.path + "/null";
    if (::mknod(null.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {
        MESSAGE("mknod needs root: skipped");
        return;
    }
    REQUIRE(mf::fs::write_output(null, "discarded\n"));
    struct stat st;
    REQUIRE(::lstat(null.c_str(), &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    CHECK(st.st_rdev == makedev(1, 3));
    CHECK(entries(dir.path) == 1);
}

TEST_CASE("a FIFO is written into for its reader") {
    TempDir dir;
    std::string fifo = dir.path + "/fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    std::string got;
    std::thread reader([&] { got = read_small_file(fifo); });
    CHECK(mf::fs::write_output(fifo, "through the pipe\n"));
    reader.join();
    CHECK(got == "through the pipe\n");
    CHECK(stdfs::is_fifo(fifo));
}

TEST_CASE("a socket is connected to and written into") {
    TempDir dir;
    std::string path = dir.path + "/sock";
    int server = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof addr.sun_path - 1);
    REQUIRE(::bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(server, 1) == 0);
    std::string got;
    std::thread reader([&] {
        int conn = ::accept(server, nullptr, nullptr);
        char buf[256];
        ssize_t n;
        while ((n = ::read(conn, buf, sizeof buf)) > 0)
            got.append(buf, static_cast<std::size_t>(n));
        ::close(conn);
    });
    CHECK(mf::fs::write_output(path, "to the collector\n"));
    reader.join();
    ::close(server);
    CHECK(got == "to the collector\n");
    CHECK(stdfs::is_socket(path));
}

TEST_CASE("a directory is refused, not replaced") {
    TempDir dir;
    auto s = mf::fs::write_output(dir.path, "x");
    REQUIRE(!s);
    CHECK(s.error().what.find("is a directory") != std::string::npos);
    CHECK(stdfs::is_directory(dir.path));
}
