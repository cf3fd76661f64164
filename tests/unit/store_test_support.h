// What the archive-format unit tests share: a private temporary directory
// and a sink that keeps what a store reads back.
#pragma once

#include "sync/source.h"

#include <stdlib.h>

#include <filesystem>
#include <string>

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

} // namespace mf::test
