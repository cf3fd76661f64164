#include "sync/parallel.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <numeric>
#include <thread>

namespace mf {

namespace {

// The workers report through one Progress; this makes its calls one at a
// time. It also sees when a folder has real work in it, which is when more
// connections are worth opening (see run_folders).
class LockedProgress : public Progress {
  public:
    LockedProgress(Progress& inner, std::function<void()> on_work) : m_inner(inner), m_on_work(std::move(on_work)) {}
    void folder_started(const std::string& folder, std::size_t messages, std::uint64_t bytes,
                        bool estimated) override {
        {
            std::lock_guard lock(m_mutex);
            m_inner.folder_started(folder, messages, bytes, estimated);
        }
        if (messages >= k_share_messages || bytes >= k_share_bytes) m_on_work();
    }
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

    // Below this, a folder is done before another connection could log in.
    static constexpr std::size_t k_share_messages = 64;
    static constexpr std::uint64_t k_share_bytes = 4u << 20;

  private:
    Progress& m_inner;
    std::function<void()> m_on_work;
    std::mutex m_mutex;
};

bool stops_worker(const FolderOutcome& out) {
    return out.failure && out.failure->scope != Scope::folder && out.failure->scope != Scope::message;
}

// What the workers share: the folders, the next one to take, and the results
// (each slot written by the one worker that took that folder).
class Pool {
  public:
    Pool(const std::vector<FolderInfo>& folders, Progress& progress, std::vector<std::size_t> order)
        : m_folders(folders), m_order(std::move(order)), m_progress(progress),
          m_outcome{std::vector<std::optional<FolderOutcome>>(folders.size()), {}} {}

    void work(std::unique_ptr<FolderWorker> worker, const WorkerFactory* more) {
        if (!worker) {
            if (done()) return;
            auto made = (*more)();
            if (!made) {
                std::lock_guard lock(m_mutex);
                m_outcome.unstarted.push_back(made.error());
                return;
            }
            worker = std::move(*made);
        }
        while (!m_stop) {
            std::size_t next = m_next++;
            if (next >= m_order.size()) break;
            std::size_t i = m_order[next];
            FolderOutcome out = worker->run(m_folders[i], m_progress);
            bool stop = stops_worker(out);
            if (out.failure && out.failure->scope == Scope::account) m_stop = true;
            m_outcome.folders[i] = std::move(out);
            if (stop) break;
        }
    }

    ParallelOutcome take() { return std::move(m_outcome); }

  private:
    bool done() const { return m_stop || m_next >= m_order.size(); }

    const std::vector<FolderInfo>& m_folders;
    const std::vector<std::size_t> m_order; // indexes into m_folders
    Progress& m_progress;
    ParallelOutcome m_outcome;
    std::atomic<std::size_t> m_next{0};
    std::atomic<bool> m_stop{false};
    std::mutex m_mutex;
};

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

ParallelOutcome run_pool(const std::vector<FolderInfo>& folders, std::unique_ptr<FolderWorker> first,
                         const WorkerFactory& more, std::size_t workers, Progress& progress) {
    // One worker: no threads, no locking, exactly the sequential run.
    if (workers <= 1 || folders.size() <= 1) {
        std::vector<std::size_t> as_given(folders.size());
        std::iota(as_given.begin(), as_given.end(), std::size_t{0});
        Pool pool(folders, progress, std::move(as_given));
        pool.work(std::move(first), nullptr);
        return pool.take();
    }
    // The extra connections open only once a folder turns out to hold work:
    // a run with nothing new (the usual cron run) stays on one connection
    // and pays for no more logins.
    std::vector<std::jthread> threads;
    std::once_flag launched;
    Pool* shared = nullptr;
    auto launch = [&] {
        std::call_once(launched, [&] {
            std::size_t extra = std::min(workers, folders.size()) - 1;
            threads.reserve(extra);
            for (std::size_t i = 0; i < extra; ++i) threads.emplace_back([&] { shared->work(nullptr, &more); });
        });
    };
    LockedProgress locked(progress, launch);
    Pool pool(folders, locked, biggest_first(folders));
    shared = &pool;
    pool.work(std::move(first), nullptr); // the first worker runs on this thread
    std::call_once(launched, [] {});      // no launch from now on
    threads.clear();                      // joins
    return pool.take();
}

} // namespace

// What needs no connection is done first, so that a cron run with new mail
// in one folder logs in once, not once per connection.
ParallelOutcome run_folders(const std::vector<FolderInfo>& folders, std::unique_ptr<FolderWorker> first,
                            const WorkerFactory& more, std::size_t workers, Progress& progress,
                            const IdleFolder& idle) {
    if (!idle) return run_pool(folders, std::move(first), more, workers, progress);
    ParallelOutcome outcome;
    outcome.folders.resize(folders.size());
    std::vector<FolderInfo> rest;
    std::vector<std::size_t> rest_at;
    for (std::size_t i = 0; i < folders.size(); ++i) {
        if (!idle(folders[i])) {
            rest.push_back(folders[i]);
            rest_at.push_back(i);
            continue;
        }
        auto& out = outcome.folders[i] = first->run(folders[i], progress);
        if (out->failure && out->failure->scope == Scope::account) return outcome; // the rest never attempted
    }
    auto worked = run_pool(rest, std::move(first), more, workers, progress);
    for (std::size_t j = 0; j < rest_at.size(); ++j) outcome.folders[rest_at[j]] = std::move(worked.folders[j]);
    outcome.unstarted = std::move(worked.unstarted);
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

Status LockedPushState::record(const std::string& folder, const std::string& source_id, std::uint32_t uid) {
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

Status LockedPushState::forget(const std::string& folder, const std::string& source_id) {
    std::lock_guard lock(m_mutex);
    return m_inner.forget(folder, source_id);
}

} // namespace mf
