// The order in which several connections take the folders of a run.
#include "sync/parallel.h"
#include "progress_test_support.h"

#include <doctest/doctest.h>

#include <mutex>

using namespace mf;
using mf::test::NullProgress;

namespace {

FolderInfo folder(std::string name, std::optional<std::uint32_t> messages) {
    FolderInfo f{{std::move(name)}, true};
    f.messages = messages;
    return f;
}

// Records which folders were run, in the order they started. Each folder
// says it has work, which is what brings the other workers in.
struct Journal {
    std::mutex mutex;
    std::vector<std::string> started;
};

class RecordingWorker : public FolderWorker {
  public:
    explicit RecordingWorker(Journal& journal) : m_journal(journal) {}
    FolderOutcome run(const FolderInfo& f, Progress& progress) override {
        {
            std::lock_guard lock(m_journal.mutex);
            m_journal.started.push_back(f.display());
        }
        progress.folder_started(f.display(), 1000, 1u << 30, false);
        FolderOutcome out;
        out.report.folder = f.display();
        return out;
    }

  private:
    Journal& m_journal;
};

} // namespace

TEST_CASE("the biggest folders are taken first, the rest in the order given") {
    std::vector<FolderInfo> folders{folder("Sent", 1250), folder("Drafts", std::nullopt), folder("INBOX", 5000),
                                    folder("Work", 1250), folder("Lists", 3000), folder("Old", 0)};
    CHECK(biggest_first(folders) == std::vector<std::size_t>{2, 4, 0, 3, 1, 5});
    CHECK(biggest_first({}).empty());
    // Nothing known: the order given.
    std::vector<FolderInfo> unknown{folder("b", std::nullopt), folder("a", std::nullopt)};
    CHECK(biggest_first(unknown) == std::vector<std::size_t>{0, 1});
}

TEST_CASE("several workers start on the biggest folder; outcomes stay in the order given") {
    std::vector<FolderInfo> folders{folder("Sent", 10), folder("INBOX", 900), folder("Work", 50)};
    Journal journal;
    NullProgress progress;
    WorkerFactory more = [&]() -> Result<std::unique_ptr<FolderWorker>> {
        return std::make_unique<RecordingWorker>(journal);
    };
    auto out = run_folders(folders, std::make_unique<RecordingWorker>(journal), more, 3, progress);
    REQUIRE(journal.started.size() == 3);
    CHECK(journal.started[0] == "INBOX"); // the others start only once it is under way
    REQUIRE(out.folders.size() == 3);
    for (std::size_t i = 0; i < folders.size(); ++i) {
        REQUIRE(out.folders[i]);
        CHECK(out.folders[i]->report.folder == folders[i].display());
    }
}

TEST_CASE("one worker takes the folders in the order given") {
    std::vector<FolderInfo> folders{folder("Sent", 10), folder("INBOX", 900), folder("Work", 50)};
    Journal journal;
    NullProgress progress;
    WorkerFactory more = [&]() -> Result<std::unique_ptr<FolderWorker>> {
        return std::make_unique<RecordingWorker>(journal);
    };
    run_folders(folders, std::make_unique<RecordingWorker>(journal), more, 1, progress);
    CHECK(journal.started == std::vector<std::string>{"Sent", "INBOX", "Work"});
}

TEST_CASE("idle folders are done first on the first worker; extra workers count only the others") {
    std::vector<FolderInfo> folders{folder("Sent", 10), folder("INBOX", 900), folder("Work", 50), folder("Old", 5)};
    Journal journal;
    NullProgress progress;
    int made = 0;
    WorkerFactory more = [&]() -> Result<std::unique_ptr<FolderWorker>> {
        ++made;
        return std::make_unique<RecordingWorker>(journal);
    };
    IdleFolder idle = [](const FolderInfo& f) { return f.display() != "Work"; };
    auto out = run_folders(folders, std::make_unique<RecordingWorker>(journal), more, 4, progress, idle);
    CHECK(journal.started == std::vector<std::string>{"Sent", "INBOX", "Old", "Work"});
    CHECK(made == 0); // one folder with work: no other connection
    REQUIRE(out.folders.size() == 4);
    for (std::size_t i = 0; i < folders.size(); ++i) {
        REQUIRE(out.folders[i]);
        CHECK(out.folders[i]->report.folder == folders[i].display());
    }
}
