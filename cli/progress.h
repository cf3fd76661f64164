// Progress for people: a bar on a terminal, plain log lines when stderr is
// not one (cron mails whatever a job prints, so keep it short). Folders may
// run at once on several connections: the bar then adds them up.
#pragma once

#include "sync/progress.h"

#include <chrono>
#include <set>
#include <string>

namespace mf::cli {

class ConsoleProgress : public Progress {
  public:
    // push: migrate, restore and mirror say "uploading" where a backup says
    // "fetching", and name each folder with its target (folder_label).
    ConsoleProgress(bool verbose, bool quiet, bool push = false);
    void folder_started(const std::string& folder, std::size_t messages, std::uint64_t bytes,
                        bool estimated) override;
    void message_done(std::uint64_t bytes) override;
    void folder_finished(const FolderReport& report) override;
    void note(const std::string& line) override;

  private:
    void draw(bool force);

    bool m_tty;
    bool m_verbose;
    bool m_quiet;
    bool m_push;
    std::multiset<std::string> m_active; // folders started and not finished
    std::string m_folder;                // the last one started
    std::size_t m_total = 0, m_done = 0;
    std::uint64_t m_total_bytes = 0, m_done_bytes = 0;
    std::chrono::steady_clock::time_point m_start, m_last_draw;
};

} // namespace mf::cli
