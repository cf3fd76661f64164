// Which job of a run starts next. A header because run() takes the
// caller's callback as a template, as it did inside run_command.cpp.
#pragma once

#include "cli/exit_codes.h"
#include "cli/job_children.h"

#include <algorithm>
#include <cstddef>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mf::cli {

// Up to `parallel` jobs at once, and never more than the file's
// max_connections_per_host connections against one server (a job opens
// `connections` of them, capped at that budget so that it always fits alone). Jobs start in the
// order of the file, except that a job waiting for a busy server does not hold up the jobs behind
// it.
class Scheduler {
  public:
    Scheduler(std::vector<const Job*> jobs, int parallel, int per_host, std::string dir)
        : m_pending(jobs.begin(), jobs.end()), m_parallel(parallel), m_per_host(per_host),
          m_dir(std::move(dir)) {}

    template <class OnFinish> void run(OnFinish on_finish) {
        while (!m_pending.empty() || !m_running.empty()) {
            start_ready(on_finish);
            if (m_running.empty()) continue;
            wait_for_output(m_running);
            for (std::size_t i = 0; i < m_running.size();) {
                auto done = reap(m_running[i]);
                if (!done) {
                    ++i;
                    continue;
                }
                for (const auto& h : m_running[i].job->hosts)
                    m_busy[h] -= m_running[i].job->connections;
                m_running.erase(m_running.begin() + static_cast<std::ptrdiff_t>(i));
                on_finish(std::move(*done));
            }
        }
    }

  private:
    bool fits(const Job& job) {
        return std::all_of(job.hosts.begin(), job.hosts.end(), [&](const std::string& h) {
            return m_busy[h] + job.connections <= m_per_host;
        });
    }

    template <class OnFinish> void start_ready(OnFinish& on_finish) {
        for (auto it = m_pending.begin();
             it != m_pending.end() && static_cast<int>(m_running.size()) < m_parallel;) {
            if (!fits(**it)) {
                ++it;
                continue;
            }
            const Job* job = *it;
            it = m_pending.erase(it);
            auto child = spawn(*job, m_dir);
            if (!child) {
                double now = unix_now();
                on_finish(Finished{job, exit_local_io, 0, now, now, "",
                                   "mailferry: " + child.error().what + "\n"});
                continue;
            }
            for (const auto& h : job->hosts)
                m_busy[h] += job->connections;
            m_running.push_back(std::move(*child));
        }
    }

    std::deque<const Job*> m_pending;
    std::vector<Child> m_running;
    std::map<std::string, int> m_busy;
    int m_parallel, m_per_host;
    std::string m_dir;
};

} // namespace mf::cli
