// What the archive-format unit tests share: a private temporary directory,
// a sink that keeps what a store reads back, and a look at the page cache.
#pragma once

#include "sync/source.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace mf::test {

struct TempDir {
    std::string path;
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "mf-store-XXXXXX").string();
        path = ::mkdtemp(tmpl.data());
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

// Runs `sql` on the database at `path` as it is, behind the state
// database's back: an archive as an older mailferry left it.
inline bool exec_sql(const std::string& path, const char* sql) {
    sqlite3* db = nullptr;
    bool ok = sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
              sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
    sqlite3_close(db);
    return ok;
}

struct CollectSink : MessageSink {
    std::string bytes;
    RemoteMessage finished;
    bool abandoned = false;
    Status begin(std::uint64_t) override { return {}; }
    Status write(std::string_view chunk) override {
        bytes += chunk;
        return {};
    }
    Status finish(const RemoteMessage& m) override {
        finished = m;
        return {};
    }
    void abandon() override { abandoned = true; }
};

// How many pages of `path` are in the page cache (mincore on a mapping that
// is never touched, so the look itself reads nothing in); nullopt if it
// cannot tell.
inline std::optional<std::size_t> cached_pages(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    off_t size = ::lseek(fd, 0, SEEK_END);
    void* map = size > 0
                    ? ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_SHARED, fd, 0)
                    : MAP_FAILED;
    ::close(fd);
    if (map == MAP_FAILED) return std::nullopt;
    const long page = ::sysconf(_SC_PAGESIZE);
    std::vector<unsigned char> in((static_cast<std::size_t>(size) + page - 1) / page);
    bool ok = ::mincore(map, static_cast<std::size_t>(size), in.data()) == 0;
    ::munmap(map, static_cast<std::size_t>(size));
    if (!ok) return std::nullopt;
    std::size_t n = 0;
    for (unsigned char c : in)
        n += c & 1;
    return n;
}

// True where written pages can leave the cache at all: not on tmpfs, whose
// files live in the cache.
inline bool cache_is_droppable(const std::string& dir) {
    struct statfs fs;
    return ::statfs(dir.c_str(), &fs) == 0 && fs.f_type != TMPFS_MAGIC;
}

// A file of `size` bytes written the ordinary way: the control, whose pages
// stay cached, so that a test can tell "dropped" from "never cached".
inline std::string write_control_file(const std::string& dir, std::size_t size) {
    std::string path = dir + "/control";
    std::ofstream(path, std::ios::binary) << std::string(size, 'x');
    return path;
}

} // namespace mf::test
