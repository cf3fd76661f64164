// A Target for push engine tests: an empty folder that takes every message
// appended, numbering them from `first_uid`. Tests override what they test.
#pragma once

#include "sync/target.h"

namespace mf::test {

struct AppendingTarget : Target, MessageSink {
    std::size_t appended = 0;
    std::uint32_t first_uid = 1;
    AppendedFn on_appended;

    Result<std::vector<FolderInfo>> list_folders() override { return std::vector<FolderInfo>{}; }
    Status create_folder(const FolderInfo&) override { return {}; }
    Status delete_folder(const FolderInfo&) override { return {}; }
    Result<TargetFolder> open(const FolderInfo&) override { return TargetFolder{true, 7, {}}; }
    Status fill_keys(TargetFolder&, const std::vector<std::uint32_t>&) override { return {}; }
    MessageSink& appender(AppendCallbacks callbacks) override {
        on_appended = std::move(callbacks.appended);
        return *this;
    }
    Status flush() override { return {}; }
    Status set_flags(std::uint32_t, const Flags&) override { return {}; }
    Status remove(const std::vector<std::uint32_t>&) override { return {}; }
    std::string target_name(const FolderInfo& f) const override { return f.display(); }
    // MessageSink
    Status begin(std::uint64_t) override { return {}; }
    Status write(std::string_view) override { return {}; }
    void abandon() override {}
    Status finish(const RemoteMessage& m) override {
        return on_appended(m, first_uid + static_cast<std::uint32_t>(appended++));
    }
};

} // namespace mf::test
