// The order in which several connections take the folders of a run.
#include "progress_test_support.h"
#include "sync/parallel.h"

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

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
    std::vector<FolderInfo> folders{folder("Sent", 1250),  folder("Drafts", std::nullopt),
                                    folder("INBOX", 5000), folder("Work", 1250),
                                    folder("Lists", 3000), folder("Old", 0)};
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

namespace {

// A worker on an account that takes two connections at once.
class LimitedWorker : public RecordingWorker {
  public:
    using RecordingWorker::RecordingWorker;
    std::size_t max_connections() const override { return 2; }
};

struct NotingProgress : NullProgress {
    std::vector<std::string> notes;
    void note(const std::string& line) override { notes.push_back(line); }
};

} // namespace

TEST_CASE("no more workers than the account allows connections, and a note says so") {
    std::vector<FolderInfo> folders{folder("a", 900), folder("b", 900), folder("c", 900),
                                    folder("d", 900), folder("e", 900)};
    Journal journal;
    NotingProgress progress;
    std::atomic<int> made = 0;
    WorkerFactory more = [&]() -> Result<std::unique_ptr<FolderWorker>> {
        ++made;
        return std::make_unique<LimitedWorker>(journal);
    };
    auto out = run_folders(folders, std::make_unique<LimitedWorker>(journal), more, 4, progress);
    CHECK(made <= 1); // none if the first worker was done before another could start
    CHECK(journal.started.size() == 5);
    REQUIRE(progress.notes.size() == 1);
    CHECK(progress.notes[0] ==
          "note: the server allows 2 connections per account at once; using 2, not 4");
    // Within the limit: no note.
    progress.notes.clear();
    run_folders(folders, std::make_unique<LimitedWorker>(journal), more, 2, progress);
    CHECK(progress.notes.empty());
}

TEST_CASE("idle folders are done first on the first worker; extra workers count only the others") {
    std::vector<FolderInfo> folders{folder("Sent", 10), folder("INBOX", 900), folder("Work", 50),
                                    folder("Old", 5)};
    Journal journal;
    NullProgress progress;
    int made = 0;
    WorkerFactory more = [&]() -> Result<std::unique_ptr<FolderWorker>> {
        ++made;
        return std::make_unique<RecordingWorker>(journal);
    };
    IdleFolder idle = [](const FolderInfo& f) { return f.display() != "Work"; };
    auto out =
        run_folders(folders, std::make_unique<RecordingWorker>(journal), more, 4, progress, idle);
    CHECK(journal.started == std::vector<std::string>{"Sent", "INBOX", "Old", "Work"});
    CHECK(made == 0); // one folder with work: no other connection
    REQUIRE(out.folders.size() == 4);
    for (std::size_t i = 0; i < folders.size(); ++i) {
        REQUIRE(out.folders[i]);
        CHECK(out.folders[i]->report.folder == folders[i].display());
    }
}

namespace {

// Reports no work as it runs, so only the folder list can have brought the
// other workers in; the first run waits a while for one to be made and
// says whether it was.
struct Arrivals {
    std::atomic<int> made{0};
    std::atomic<int> runs{0};
    bool seen_before_first = false;
};

class WaitingWorker : public FolderWorker {
  public:
    WaitingWorker(Arrivals& arrivals, std::chrono::milliseconds patience)
        : m_arrivals(arrivals), m_patience(patience) {}
    FolderOutcome run(const FolderInfo& f, Progress&) override {
        if (m_arrivals.runs++ == 0) {
            auto until = std::chrono::steady_clock::now() + m_patience;
            while (m_arrivals.made == 0 && std::chrono::steady_clock::now() < until)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            m_arrivals.seen_before_first = m_arrivals.made > 0;
        }
        FolderOutcome out;
        out.report.folder = f.display();
        return out;
    }

  private:
    Arrivals& m_arrivals;
    std::chrono::milliseconds m_patience;
};

bool extra_before_first_folder(std::size_t new_per_folder, std::chrono::milliseconds patience,
                               int& made) {
    std::vector<FolderInfo> folders{folder("A", 500), folder("B", 500), folder("C", 10)};
    Arrivals arrivals;
    NullProgress progress;
    WorkerFactory more = [&]() -> Result<std::unique_ptr<FolderWorker>> {
        ++arrivals.made;
        return std::make_unique<WaitingWorker>(arrivals, patience);
    };
    KnownNew known_new = [&](const FolderInfo&) { return new_per_folder; };
    run_folders(folders, std::make_unique<WaitingWorker>(arrivals, patience), more, 3, progress, {},
                {}, known_new);
    made = arrivals.made;
    return arrivals.seen_before_first;
}

} // namespace

TEST_CASE("enough new mail in the folder list brings the extra workers in before a folder opens") {
    int made = 0;
    CHECK(extra_before_first_folder(500, std::chrono::seconds(5), made));
    CHECK(made >= 1); // a second may find no folder left, and not log in
    // Too few to share out: the first worker alone, as before.
    CHECK_FALSE(extra_before_first_folder(10, std::chrono::milliseconds(100), made));
    CHECK(made == 0);
}

namespace {

// Fails the folders named in `scripted` with the failure given, once each
// (the first session that runs them); all other folders complete.
struct Script {
    std::mutex mutex;
    std::map<std::string, Failure> fail_once;
    std::vector<std::string> runs; // "folder@worker", in order
    int workers_made = 0;
};

class ScriptedWorker : public FolderWorker {
  public:
    ScriptedWorker(Script& script, int number) : m_script(script), m_number(number) {}
    FolderOutcome run(const FolderInfo& f, Progress&) override {
        std::lock_guard lock(m_script.mutex);
        m_script.runs.push_back(f.display() + "@" + std::to_string(m_number));
        FolderOutcome out;
        out.report.folder = f.display();
        if (auto it = m_script.fail_once.find(f.display()); it != m_script.fail_once.end()) {
            out.failure = it->second;
            out.report.error = it->second.what;
            m_script.fail_once.erase(it);
        }
        return out;
    }

  private:
    Script& m_script;
    int m_number;
};

WorkerFactory scripted_factory(Script& script) {
    return [&script]() -> Result<std::unique_ptr<FolderWorker>> {
        std::lock_guard lock(script.mutex);
        return std::make_unique<ScriptedWorker>(script, ++script.workers_made);
    };
}

RecoveryPolicy no_sleep(std::vector<std::chrono::milliseconds>& waits) {
    RecoveryPolicy p;
    p.sleep = [&waits](std::chrono::milliseconds d) { waits.push_back(d); };
    return p;
}

std::vector<FolderInfo> four_folders() {
    return {folder("INBOX", std::nullopt), folder("Sent", std::nullopt),
            folder("Work", std::nullopt), folder("Old", std::nullopt)};
}

} // namespace

TEST_CASE("a lost session is replaced and its folder run again; the folders after it are done") {
    Script script;
    script.fail_once["Sent"] = Failure{ErrorKind::connect, Scope::session, "BYE throttled",
                                       std::chrono::milliseconds(30000)};
    std::vector<std::chrono::milliseconds> waits;
    NullProgress progress;
    auto folders = four_folders();
    auto out = run_folders(folders, std::make_unique<ScriptedWorker>(script, 0),
                           scripted_factory(script), 1, progress, {}, no_sleep(waits));
    CHECK(script.runs ==
          std::vector<std::string>{"INBOX@0", "Sent@0", "Sent@1", "Work@1", "Old@1"});
    for (auto& slot : out.folders) {
        REQUIRE(slot);
        CHECK_FALSE(slot->failure);
    }
    CHECK(out.folders[1]->report.sessions == 2);
    CHECK(out.reconnects == 1);
    REQUIRE(waits.size() == 1);
    CHECK(waits[0] >= std::chrono::milliseconds(30000)); // the server's suggested back-off
}

TEST_CASE(
    "an account failure stops the run; every folder not reached is reported with the reason") {
    Script script;
    script.fail_once["Sent"] = Failure{ErrorKind::local_io, Scope::account, "the disk is full"};
    std::vector<std::chrono::milliseconds> waits;
    NullProgress progress;
    auto folders = four_folders();
    auto out = run_folders(folders, std::make_unique<ScriptedWorker>(script, 0),
                           scripted_factory(script), 1, progress, {}, no_sleep(waits));
    REQUIRE(out.folders.size() == 4);
    CHECK_FALSE(out.folders[0]->failure);
    CHECK(out.folders[1]->failure->scope == Scope::account);
    for (std::size_t i : {2u, 3u}) {
        REQUIRE(out.folders[i]);
        CHECK(out.folders[i]->report.not_attempted);
        CHECK(out.folders[i]->report.folder == folders[i].display());
        CHECK(out.folders[i]->report.error == "not attempted: the disk is full");
        REQUIRE(out.folders[i]->failure);
    }
    CHECK(script.workers_made == 0);
}

TEST_CASE("a session that cannot be had again: the rest are not attempted, and say so") {
    Script script;
    script.fail_once["INBOX"] = Failure{ErrorKind::connect, Scope::session, "connection reset"};
    std::vector<std::chrono::milliseconds> waits;
    NullProgress progress;
    auto folders = four_folders();
    WorkerFactory refused = []() -> Result<std::unique_ptr<FolderWorker>> {
        return fail(ErrorKind::auth, Scope::session, "login refused");
    };
    auto out = run_folders(folders, std::make_unique<ScriptedWorker>(script, 0), refused, 1,
                           progress, {}, no_sleep(waits));
    CHECK(out.folders[0]->failure->what == "connection reset");
    for (std::size_t i : {1u, 2u, 3u}) {
        CHECK(out.folders[i]->report.not_attempted);
        CHECK(out.folders[i]->report.error == "not attempted: login refused");
    }
}

TEST_CASE("reconnects are bounded per folder and per run") {
    Script script;
    NullProgress progress;
    std::vector<std::chrono::milliseconds> waits;
    RecoveryPolicy policy = no_sleep(waits);
    policy.sessions_per_folder = 2;
    // A worker whose every run loses its session.
    struct Dropping : FolderWorker {
        int* runs;
        explicit Dropping(int* r) : runs(r) {}
        FolderOutcome run(const FolderInfo& f, Progress&) override {
            ++*runs;
            FolderOutcome out;
            out.report.folder = f.display();
            out.failure = Failure{ErrorKind::connect, Scope::session, "dropped"};
            return out;
        }
    };
    int runs = 0;
    WorkerFactory more = [&]() -> Result<std::unique_ptr<FolderWorker>> {
        return std::make_unique<Dropping>(&runs);
    };
    auto folders = four_folders();
    auto out =
        run_folders(folders, std::make_unique<Dropping>(&runs), more, 1, progress, {}, policy);
    // Two sessions for INBOX, then a new worker for Sent (from the budget of
    // five), and so on until the budget is spent.
    CHECK(out.reconnects == policy.max_reconnects);
    CHECK(runs <= 8);
    for (auto& slot : out.folders) {
        REQUIRE(slot);
        CHECK(slot->failure);
    }
}

TEST_CASE("back-off doubles, is bounded, and never waits less than the server asked") {
    RecoveryPolicy p;
    p.base_delay = std::chrono::milliseconds(1000);
    p.max_delay = std::chrono::milliseconds(8000);
    Failure plain{ErrorKind::connect, Scope::session, "x"};
    for (int i = 0; i < 50; ++i) {
        auto d1 = backoff(p, 1, plain), d3 = backoff(p, 3, plain), d9 = backoff(p, 9, plain);
        CHECK(d1 >= std::chrono::milliseconds(500));
        CHECK(d1 <= std::chrono::milliseconds(1000));
        CHECK(d3 >= std::chrono::milliseconds(2000));
        CHECK(d3 <= std::chrono::milliseconds(4000));
        CHECK(d9 <= std::chrono::milliseconds(8000));
    }
    Failure throttled{ErrorKind::connect, Scope::session, "x", std::chrono::milliseconds(30000)};
    CHECK(backoff(p, 1, throttled) == std::chrono::milliseconds(30000));
    CHECK_FALSE(worth_retrying(Failure{ErrorKind::auth, Scope::session, "refused"}));
    CHECK(worth_retrying(Failure{ErrorKind::connect, Scope::session, "reset"}));
}
