// `mailferry backup SOURCE ARCHIVE`: every folder of an account into a local
// archive, incrementally, changing nothing on the server.
#include "backends/archive/personal_prefix.h"
#include "backends/open/archive.h"
#include "cli/budget.h"
#include "cli/commands.h"
#include "cli/connect.h"
#include "cli/exit_codes.h"
#include "cli/folder_accounting.h"
#include "cli/folder_map.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "cli/report.h"
#include "sync/backup.h"
#include "sync/parallel.h"

#include <chrono>
#include <ctime>
#include <iostream>

namespace mf::cli {

namespace {

BackupOptions backup_options(const BackupArgs& args) {
    BackupOptions options;
    options.dry_run = args.dry_run;
    options.removal.after_download = args.delete_after_download;
    options.mirror = args.mirror;
    options.max_delete_share = args.max_delete_percent / 100.0;
    options.force = args.force;
    options.skip_after = static_cast<std::size_t>(args.skip_after);
    options.undo_server_seen = args.undo_server_seen;
    options.filter = make_filter(args.filter).value_or(MessageFilter{}); // checked by run_backup
    if (args.delete_older_than > 0)
        options.removal.older_than = static_cast<std::int64_t>(std::time(nullptr)) -
                                     static_cast<std::int64_t>(args.delete_older_than) * 86400;
    return options;
}

// One connection and one handle on the archive; backs up a folder at a time.
class BackupWorker : public FolderWorker {
  public:
    BackupWorker(std::unique_ptr<Source> source, archive::Archive& archive,
                 const BackupOptions& options)
        : m_source(std::move(source)), m_archive(archive), m_options(options) {}
    BackupWorker(std::unique_ptr<Source> source, std::unique_ptr<archive::Archive> own,
                 const BackupOptions& options)
        : m_source(std::move(source)), m_own(std::move(own)), m_archive(*m_own),
          m_options(options) {}

    FolderOutcome run(const FolderInfo& folder, Progress& progress) override {
        auto outcome = backup_folder(*m_source, m_archive.store(), folder, m_options, progress);
        // A folder the budget cut short is neither a success nor a failure
        // for `status`: it keeps what the last run recorded.
        if (!m_options.dry_run && outcome.report.deferred == 0 &&
            (!outcome.failure || outcome.failure->kind != ErrorKind::local_io))
            (void)m_archive.note_run(folder, outcome.report.error);
        outcome.caveat = m_source->caveat();
        return outcome;
    }
    std::size_t max_connections() const override { return m_source->max_connections(); }

  private:
    std::unique_ptr<Source> m_source;
    std::unique_ptr<archive::Archive> m_own; // for the extra workers
    archive::Archive& m_archive;
    const BackupOptions& m_options;
};

// Gathers the workers' outcomes in the order of the folders. A failure
// scoped to the account ends that connection's work; other connections go on
// with the remaining folders.
void run_folders(std::unique_ptr<Source> source, archive::Archive& archive,
                 const net::Endpoint& endpoint, const std::vector<FolderInfo>& folders,
                 const BackupArgs& args, ByteBudget& budget, Progress& progress,
                 RunReport& report) {
    BackupOptions options = backup_options(args);
    options.budget = &budget;
    const auto listing = source->listing_memo(); // taken before other threads run
    WorkerFactory more = [&]() -> Result<std::unique_ptr<FolderWorker>> {
        auto handle = archive.another();
        if (!handle) return std::unexpected(handle.error());
        auto extra = connect_source(endpoint, args.connection.debug);
        if (!extra) return std::unexpected(extra.error());
        if (auto s = list_like(**extra, listing); !s) return std::unexpected(s.error());
        return std::make_unique<BackupWorker>(std::move(*extra), std::move(*handle), options);
    };
    // POP3 has one mailbox and allows one session on it.
    std::size_t workers =
        endpoint.protocol == net::Protocol::pop3 ? 1 : static_cast<std::size_t>(args.connections);
    auto first = std::make_unique<BackupWorker>(std::move(source), archive, options);
    // What the folder list already shows unchanged takes no connection.
    auto idle = [&](const FolderInfo& folder) {
        return listed_unchanged(archive.store(), folder, options);
    };
    auto known_new = [&](const FolderInfo& folder) {
        return listed_new_at_least(archive.store(), folder, options);
    };
    RecoveryPolicy recovery;
    recovery.max_reconnects = static_cast<std::size_t>(args.reconnects);
    add_outcomes(mf::run_folders(folders, std::move(first), more, workers, progress, idle, recovery,
                                 known_new),
                 report, progress);
}

// The folders the run left out, and those only the archive still has.
void account_for_the_rest(archive::Archive& archive, const std::vector<FolderInfo>& all,
                          const BackupArgs& args, std::vector<FolderReport> skipped,
                          RunReport& report) {
    for (auto& r : left_out(all, args.folders, args.excludes))
        report.folders.push_back(std::move(r));
    for (auto& r : skipped)
        report.folders.push_back(std::move(r));
    auto held = archive.db().summaries();
    if (!held) return report.failures.push_back(held.error());
    for (auto& r : gone_from_server(*held, all, args.folders, args.excludes))
        report.folders.push_back(std::move(r));
}

} // namespace

int run_backup(const BackupArgs& args) {
    auto started = std::chrono::steady_clock::now();
    // Unset: the archive's own (Maildir for a new one).
    auto format = archive::parse_format(args.format);
    if (!format && !args.format.empty())
        return report_failure({ErrorKind::usage, Scope::account,
                               "unknown format '" + args.format + "' (use maildir or mbox)"},
                              args.json);
    if (auto filter = make_filter(args.filter); !filter)
        return report_failure(filter.error(), args.json);
    auto skip_uses = parse_special_uses(args.skip_special_use);
    if (!skip_uses) return report_failure(skip_uses.error(), args.json);
    auto endpoint = make_endpoint(args.connection);
    if (!endpoint) return report_failure(endpoint.error(), args.json);
    if ((args.delete_after_download || args.delete_older_than > 0) &&
        endpoint->protocol != net::Protocol::pop3)
        return report_failure(
            {ErrorKind::usage, Scope::account,
             "--delete-after-download and --delete-older-than apply to POP3 only"},
            args.json);
    if (args.delete_older_than < 0)
        return report_failure(
            {ErrorKind::usage, Scope::account, "--delete-older-than takes a number of days"},
            args.json);

    auto archive =
        archive::Archive::open({args.archive, format, endpoint->identity(),
                                args.dry_run ? archive::Mode::dry_run : archive::Mode::write});
    if (!archive) return report_failure(archive.error(), args.json);
    auto source = connect_source(*endpoint, args.connection.debug);
    if (!source) return report_failure(source.error(), args.json);
    if (auto s = (*archive)->bind(); !s) return report_failure(s.error(), args.json);
    auto all = (*source)->list_folders();
    if (!all) return report_failure(all.error(), args.json);
    if (auto s = archive::record_personal_prefix((*archive)->db(), personal_prefix(*all)); !s)
        return report_failure(s.error(), args.json);

    ConsoleProgress progress(args.verbose, args.quiet || args.json);
    RunReport report;
    report.source = endpoint->display();
    report.archive = args.archive;
    report.dry_run = args.dry_run;
    report.filters = describe(args.filter);
    report.push = args.mirror; // deletions happen in the archive
    auto planned = plan_budget(args.max_bytes, args.daily_budget,
                               (*source)->daily_download_allowance(), (*archive)->db());
    if (!planned) return report_failure(planned.error(), args.json);
    ByteBudget budget(planned->limit);
    auto selected = select_folders(*all, args.folders, args.excludes);
    auto skipped = take_special_uses(selected, *skip_uses);
    run_folders(std::move(*source), **archive, *endpoint, std::move(selected), args, budget,
                progress, report);
    if (!args.dry_run)
        if (auto s = record_budget(*planned, budget.taken(), (*archive)->db()); !s)
            report.failures.push_back(s.error());
    report.daily_allowance = planned->daily_allowance;
    report.daily_downloaded = planned->daily_used + budget.taken();
    account_for_the_rest(**archive, *all, args, std::move(skipped), report);
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    int code = report.decide_exit_code();
    report.exit_code = code;
    if (args.json)
        std::cout << report_json(report) << '\n';
    else if (!args.quiet)
        print_summary(report, std::cout);
    return code;
}

} // namespace mf::cli
