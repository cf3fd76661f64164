// push_folder against hand-written fakes: after an interrupted run, the
// target is compared with the source only once it has stopped changing.
#include "sync/push.h"

#include <doctest/doctest.h>

#include <map>

using namespace mf;

namespace {

struct OneFolderSource : Source {
    Snapshot snap;
    Result<std::vector<FolderInfo>> list_folders() override { return std::vector<FolderInfo>{{{"INBOX"}, true}}; }
    Result<Snapshot> open(const FolderInfo&) override { return snap; }
    Status fetch(std::span<const std::string> ids, MessageSink& sink) override {
        for (const auto& id : ids) {
            std::string body(100 + std::stoul(id), 'x');
            if (auto s = sink.begin(body.size()); !s) return s;
            if (auto s = sink.write(body); !s) return s;
            if (auto s = sink.finish(RemoteMessage{id, body.size(), 1000, {}}); !s) return s;
        }
        return {};
    }
    Result<std::vector<MessageKey>> keys(const std::vector<std::string>& ids) override {
        std::vector<MessageKey> out;
        for (const auto& id : ids) out.push_back({id, "<" + id + "@x>", 100 + std::stoul(id), 0});
        return out;
    }
    Status remove(const std::vector<std::string>&) override { return {}; }
    Status close() override { return {}; }
};

// A target whose server is still storing what a dead run sent: the stored
// messages become visible one more at each open().
struct LaggingTarget : Target, MessageSink {
    std::vector<TargetMessage> stored; // what the server will have
    std::size_t visible = 0;
    std::size_t appended = 0;
    AppendedFn on_appended;

    Result<std::vector<FolderInfo>> list_folders() override { return std::vector<FolderInfo>{}; }
    Status create_folder(const FolderInfo&) override { return {}; }
    Status delete_folder(const FolderInfo&) override { return {}; }
    Result<TargetFolder> open(const FolderInfo&) override {
        visible = std::min(stored.size(), visible + 1);
        TargetFolder f{true, 7, {stored.begin(), stored.begin() + static_cast<std::ptrdiff_t>(visible)}};
        for (auto& m : f.messages) m.message_id.clear(); // only fill_keys tells
        return f;
    }
    Status fill_keys(TargetFolder& folder, const std::vector<std::uint32_t>&) override {
        for (auto& m : folder.messages) m.message_id = stored[m.uid - 1].message_id;
        return {};
    }
    MessageSink& appender(AppendedFn fn) override {
        on_appended = std::move(fn);
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
        ++appended;
        return on_appended(m, static_cast<std::uint32_t>(100 + appended));
    }
};

struct MemoryState : PushState {
    bool copying_flag = false;
    Result<PushMapping> load(const std::string&) override { return PushMapping{1, 7, {}}; }
    Status reset(const std::string&, std::uint32_t, std::uint32_t) override { return {}; }
    Status record(const std::string&, const std::string&, std::uint32_t) override { return {}; }
    Status forget(const std::string&, const std::string&) override { return {}; }
    Status set_copying(const std::string&, bool on) override {
        copying_flag = on;
        return {};
    }
    Result<bool> copying(const std::string&) override { return copying_flag; }
};

struct Quiet : Progress {
    void folder_started(const std::string&, std::size_t, std::uint64_t) override {}
    void message_done(std::uint64_t) override {}
    void folder_finished(const FolderReport&) override {}
    void note(const std::string&) override {}
};

// Three source messages, all three already stored by the dead run, of which
// the server shows one at first.
std::size_t copies_after_a_dead_run(bool interrupted) {
    OneFolderSource source;
    source.snap.validity = 1;
    LaggingTarget target;
    for (std::uint32_t i = 1; i <= 3; ++i) {
        source.snap.messages.push_back(RemoteMessage{std::to_string(i), 100 + i, 1000, {}});
        target.stored.push_back(TargetMessage{i, {}, 100 + i, 1000, "<" + std::to_string(i) + "@x>"});
    }
    MemoryState state;
    state.copying_flag = interrupted;
    Quiet progress;
    PushRunOptions options;
    options.settle_quiet = std::chrono::milliseconds(1);
    auto out = push_folder(source, target, state, {{"INBOX"}, true}, {{"INBOX"}, true}, options, progress);
    REQUIRE_FALSE(out.failure);
    CHECK_FALSE(state.copying_flag); // a finished run clears it
    return target.appended;
}

} // namespace

TEST_CASE("after an interrupted run, push waits until the target stops changing") {
    CHECK(copies_after_a_dead_run(true) == 0);
    // Without the mark the lagging server would be overtaken: the two
    // messages it had not shown yet would be copied again.
    CHECK(copies_after_a_dead_run(false) == 2);
}
