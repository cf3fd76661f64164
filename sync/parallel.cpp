#include "sync/parallel.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <numeric>
#include <thread>

namespace mf {

namespace {

class Pool;

// The workers report through one Progress; this makes its calls one at a
// time, and tells the pool how much work each folder turned out to hold.
class LockedProgress : public Progress {
  public:
    LockedProgress(Progress& inner, Pool& pool) : m_inner(inner), m_pool(pool) {}
    void folder_started(const std::string& folder, std::size_t messages, std::uint64_t bytes,
                        bool estimated) override;
    void message_done(std::uint64_t bytes) override {
        std::lock_guard lock(m_mutex);
        m_inner.message_done(bytes);
    }
    void folder_finished(const FolderReport& report) override {
        std::lock_guard lock(m_mutex);
        m_inner.folder_finished(report);
    }
    void note(const std::string& line) override {
        std::lock_guard lock(m_mutex);
        m_inner.note(line);
    }

  private:
    Progress& m_inner;
    Pool& m_pool;
    std::mutex m_mutex;
};

// What the workers share: the folders, the next one to take, the results
// (each slot written by the one worker that took that folder), and the
// budget of new sessions after failures. The pool also decides when its
// extra workers start, each on a thread it owns.
class Pool {
  public:
    Pool(const std::vector<FolderInfo>& folders, Progress& progress, std::vector<std::size_t> order,
         const WorkerFactory& more, const RecoveryPolicy& recovery, std::size_t extra_workers = 0)
        : m_folders(folders), m_order(std::move(order)), m_progress(progress, *this), m_more(more),
          m_recovery(recovery), m_started(std::chrono::steady_clock::now()),
          m_outcome{std::vector<std::optional<FolderOutcome>>(folders.size()), {}},
          m_extra(extra_workers) {}

    // The extra connections open only once a folder turns out to hold work
    // (as its worker reports it starting): a run with nothing new (the
    // usual cron run) stays on one connection and pays for no more logins.
    void found_work(std::size_t messages, std::uint64_t bytes) {
        if (messages < k_share_messages && bytes < k_share_bytes) return;
        std::call_once(m_grown, [&] {
            m_threads.reserve(m_extra);
            for (std::size_t i = 0; i < m_extra; ++i)
                m_threads.emplace_back([this] { work(nullptr); });
        });
    }

    // Runs the folders on `first` (on this thread) and on any extra workers
    // started meanwhile, and waits for them all. When the folder list already
    // shows `known_new` messages to fetch, the extra workers log in at once,
    // while the first opens its folder, not once that folder is listed.
    ParallelOutcome run(std::unique_ptr<FolderWorker> first, std::size_t known_new = 0) {
        found_work(known_new, 0);
        work(std::move(first));
        std::call_once(m_grown, [] {}); // no extra worker from now on
        m_threads.clear();              // joins
        return take();
    }

    // Takes folders until none is left, the run is stopped, or the worker's
    // session is lost for good; gives back the worker if it still has one.
    std::unique_ptr<FolderWorker> work(std::unique_ptr<FolderWorker> worker) {
        if (!worker) {
            if (done()) return worker;
            auto made = m_more();
            if (!made) {
                std::lock_guard lock(m_mutex);
                m_outcome.unstarted.push_back(made.error());
                return worker;
            }
            worker = std::move(*made);
        }
        while (!done()) {
            // The last folder used up its sessions: a new one for the next.
            if (!worker && !(worker = replace("the next folder", 1, last_loss()))) break;
            std::size_t next = m_next++;
            if (next >= m_order.size()) break;
            std::size_t i = m_order[next];
            FolderOutcome out = run_recovering(worker, m_folders[i]);
            if (out.failure && out.failure->scope == Scope::account) stop(*out.failure);
            m_outcome.folders[i] = std::move(out);
        }
        return worker;
    }

    bool stopped() const { return m_stop; }
    const Failure& stop_cause() const { return m_stop_cause; }

    // Every folder no worker reached gets an outcome that says why.
    ParallelOutcome take() {
        Failure why = m_stop ? m_stop_cause : m_last_loss;
        if (!m_stop) why.what = "every connection was lost (last: " + why.what + ")";
        for (std::size_t i = 0; i < m_folders.size(); ++i)
            if (!m_outcome.folders[i]) m_outcome.folders[i] = not_attempted(m_folders[i], why);
        return std::move(m_outcome);
    }

  private:
    bool done() const { return m_stop || m_next >= m_order.size(); }

    void stop(const Failure& f) {
        std::lock_guard lock(m_mutex);
        if (!m_stop) m_stop_cause = f;
        m_stop = true;
    }

    // Runs `folder`, and again on a new session after each session failure
    // while the policy allows. Leaves `worker` empty when its session is
    // gone and no new one could be had.
    FolderOutcome run_recovering(std::unique_ptr<FolderWorker>& worker, const FolderInfo& folder) {
        for (std::size_t session = 1;; ++session) {
            FolderOutcome out = worker->run(folder, m_progress);
            out.report.sessions = session;
            if (!out.failure || out.failure->scope != Scope::session) return out;
            worker.reset(); // its connection is gone or out of step
            note_loss(*out.failure);
            // A local failure (a full disk) that ended the session is not
            // the session's fault: a new session serves the next folder,
            // not this one again.
            if (session >= m_recovery.sessions_per_folder ||
                out.failure->kind == ErrorKind::local_io)
                return out;
            if (!(worker = replace(folder.display(), session, *out.failure))) return out;
        }
    }

    // A new worker after a lost session, within the run's budget; none when
    // the budget or the deadline is spent or the login fails (a failure that
    // waiting will not mend stops the run).
    std::unique_ptr<FolderWorker> replace(const std::string& label, std::size_t session,
                                          const Failure& why) {
        if (!take_reconnect()) return nullptr;
        auto made = reconnect(label, session, why);
        if (made) return std::move(*made);
        note_loss(made.error());
        if (!worth_retrying(made.error())) stop(made.error());
        return nullptr;
    }

    void note_loss(const Failure& f) {
        std::lock_guard lock(m_mutex);
        m_last_loss = f;
    }
    Failure last_loss() {
        std::lock_guard lock(m_mutex);
        return m_last_loss;
    }

    bool take_reconnect() {
        std::lock_guard lock(m_mutex);
        if (m_outcome.reconnects >= m_recovery.max_reconnects ||
            std::chrono::steady_clock::now() - m_started >= m_recovery.deadline)
            return false;
        ++m_outcome.reconnects;
        return true;
    }

    Result<std::unique_ptr<FolderWorker>> reconnect(const std::string& label, std::size_t session,
                                                    const Failure& why) {
        auto delay = backoff(m_recovery, session, why);
        m_progress.note(label + ": " + why.what + "; logging in again in " +
                        std::to_string(delay.count()) + " ms");
        if (m_recovery.sleep)
            m_recovery.sleep(delay);
        else
            std::this_thread::sleep_for(delay);
        {
            std::lock_guard lock(m_mutex);
            m_outcome.waited += delay;
        }
        return m_more();
    }

  public:
    // Of the kind of what stopped the run, so that the exit status is that
    // failure's class whichever folder's outcome is reported first.
    static FolderOutcome not_attempted(const FolderInfo& folder, const Failure& why) {
        FolderOutcome out;
        out.report.folder = folder.display();
        out.report.not_attempted = true;
        out.report.sessions = 0;
        out.report.error = "not attempted: " + why.what;
        out.failure = Failure{why.kind, Scope::folder, out.report.folder + ": " + out.report.error};
        return out;
    }

  private:
    const std::vector<FolderInfo>& m_folders;
    const std::vector<std::size_t> m_order; // indexes into m_folders
    // Below this, a folder is done before another connection could log in.
    static constexpr std::size_t k_share_messages = 64;
    static constexpr std::uint64_t k_share_bytes = 4u << 20;

    LockedProgress m_progress;
    const WorkerFactory& m_more;
    const RecoveryPolicy& m_recovery;
    const std::chrono::steady_clock::time_point m_started;
    ParallelOutcome m_outcome;
    std::atomic<std::size_t> m_next{0};
    std::atomic<bool> m_stop{false};
    Failure m_stop_cause;
    Failure m_last_loss; // the last lost session's failure, or the last failed login
    std::mutex m_mutex;
    const std::size_t m_extra;
    std::once_flag m_grown;
    std::vector<std::jthread> m_threads; // last: joined before the rest goes
};

void LockedProgress::folder_started(const std::string& folder, std::size_t messages,
                                    std::uint64_t bytes, bool estimated) {
    {
        std::lock_guard lock(m_mutex);
        m_inner.folder_started(folder, messages, bytes, estimated);
    }
    m_pool.found_work(messages, bytes);
}

std::vector<std::size_t> as_given(std::size_t n) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    return order;
}

} // namespace

// The run lasts as long as its longest connection; a big folder taken last
// would run alone at the end while the other connections stand idle.
std::vector<std::size_t> biggest_first(const std::vector<FolderInfo>& folders) {
    std::vector<std::size_t> order(folders.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return folders[a].messages.value_or(0) > folders[b].messages.value_or(0);
    });
    return order;
}

namespace {

ParallelOutcome run_pool(const std::vector<FolderInfo>& folders,
                         std::unique_ptr<FolderWorker> first, const WorkerFactory& more,
                         std::size_t workers, Progress& progress, const RecoveryPolicy& recovery,
                         const KnownNew& known_new) {
    // One worker: no threads, exactly the sequential run.
    if (workers <= 1 || folders.size() <= 1)
        return Pool(folders, progress, as_given(folders.size()), more, recovery)
            .run(std::move(first));
    std::size_t extra = std::min(workers, folders.size()) - 1;
    std::size_t known = 0;
    if (known_new)
        for (const auto& f : folders)
            known += known_new(f);
    return Pool(folders, progress, biggest_first(folders), more, recovery, extra)
        .run(std::move(first), known);
}

} // namespace

namespace {

// A folder that holds every message of the account (RFC 6154 \All: Gmail's
// All Mail) runs before the others, on one connection: a message the other
// folders show too is then held before any of them lists it, and they link
// it (sync/relink.h) rather than fetch it a second time at the same moment
// on another connection.
bool holds_all(const FolderInfo& folder) {
    return has_special_use(folder.special_use, "\\All");
}

// More connections than the account allows would only have their logins
// refused (and may count against the account), so the run asks for no more.
std::size_t within_limit(std::size_t workers, const FolderWorker& first, Progress& progress) {
    const std::size_t limit = first.max_connections();
    if (limit == 0 || workers <= limit) return workers;
    progress.note("note: the server allows " + std::to_string(limit) +
                  " connections per account at once; using " + std::to_string(limit) + ", not " +
                  std::to_string(workers));
    return limit;
}

} // namespace

// What needs no connection is done first, so that a cron run with new mail
// in one folder logs in once, not once per connection; so is a folder that
// holds every message (holds_all).
ParallelOutcome run_folders(const std::vector<FolderInfo>& folders,
                            std::unique_ptr<FolderWorker> first, const WorkerFactory& more,
                            std::size_t workers, Progress& progress, const IdleFolder& idle,
                            const RecoveryPolicy& recovery, const KnownNew& known_new) {
    if (first) workers = within_limit(workers, *first, progress);
    std::vector<FolderInfo> quiet, rest;
    std::vector<std::size_t> quiet_at, rest_at;
    for (std::size_t i = 0; i < folders.size(); ++i) {
        bool is_idle = (idle && idle(folders[i])) || holds_all(folders[i]);
        (is_idle ? quiet : rest).push_back(folders[i]);
        (is_idle ? quiet_at : rest_at).push_back(i);
    }
    if (quiet.empty())
        return run_pool(folders, std::move(first), more, workers, progress, recovery, known_new);
    // The idle folders on the first worker alone: a pool of one, so the same
    // rules hold for their failures.
    Pool idle_pool(quiet, progress, as_given(quiet.size()), more, recovery);
    first = idle_pool.work(std::move(first));
    const bool stopped = idle_pool.stopped();
    const Failure why = idle_pool.stop_cause();
    ParallelOutcome done = idle_pool.take();
    ParallelOutcome worked;
    if (stopped) {
        worked.folders.resize(rest.size());
        for (std::size_t j = 0; j < rest.size(); ++j)
            worked.folders[j] = Pool::not_attempted(rest[j], why);
    } else {
        worked = run_pool(rest, std::move(first), more, workers, progress, recovery, known_new);
    }
    ParallelOutcome outcome;
    outcome.folders.resize(folders.size());
    for (std::size_t j = 0; j < quiet_at.size(); ++j)
        outcome.folders[quiet_at[j]] = std::move(done.folders[j]);
    for (std::size_t j = 0; j < rest_at.size(); ++j)
        outcome.folders[rest_at[j]] = std::move(worked.folders[j]);
    outcome.unstarted = std::move(worked.unstarted);
    outcome.reconnects = done.reconnects + worked.reconnects;
    outcome.waited = done.waited + worked.waited;
    return outcome;
}

Result<PushMapping> LockedPushState::load(const std::string& folder) {
    std::lock_guard lock(m_mutex);
    return m_inner.load(folder);
}

Status LockedPushState::reset(const std::string& folder, std::uint32_t source_validity,
                              std::uint32_t target_validity) {
    std::lock_guard lock(m_mutex);
    return m_inner.reset(folder, source_validity, target_validity);
}

Status LockedPushState::record(const std::string& folder, const std::string& source_id,
                               std::uint32_t uid) {
    std::lock_guard lock(m_mutex);
    return m_inner.record(folder, source_id, uid);
}

Status LockedPushState::set_copying(const std::string& folder, bool copying) {
    std::lock_guard lock(m_mutex);
    return m_inner.set_copying(folder, copying);
}

Result<bool> LockedPushState::copying(const std::string& folder) {
    std::lock_guard lock(m_mutex);
    return m_inner.copying(folder);
}

Result<RefusedRuns> LockedPushState::refused(const std::string& folder) {
    std::lock_guard lock(m_mutex);
    return m_inner.refused(folder);
}

Status LockedPushState::set_refused(const std::string& folder, const RefusedRuns& refused) {
    std::lock_guard lock(m_mutex);
    return m_inner.set_refused(folder, refused);
}

Status LockedPushState::forget(const std::string& folder, const std::string& source_id) {
    std::lock_guard lock(m_mutex);
    return m_inner.forget(folder, source_id);
}

Status LockedPushState::record_upload(const std::string& identity, const Uploaded& where) {
    std::lock_guard lock(m_mutex);
    return m_inner.record_upload(identity, where);
}

Result<std::optional<Uploaded>> LockedPushState::upload_of(const std::string& identity) {
    std::lock_guard lock(m_mutex);
    return m_inner.upload_of(identity);
}

} // namespace mf
