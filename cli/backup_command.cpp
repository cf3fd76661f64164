// `mailferry backup SOURCE ARCHIVE`: every folder of an account into a local
// archive, incrementally, changing nothing on the server.
#include "backends/archive/archive.h"
#include "cli/commands.h"
#include "cli/connect.h"
#include "cli/exit_codes.h"
#include "cli/folder_map.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "cli/report.h"
#include "sync/backup.h"


#include <chrono>
#include <ctime>
#include <iostream>

namespace mf::cli {

namespace {

Result<archive::Format> parse_format(const std::string& name) {
    if (name == "maildir") return archive::Format::maildir;
    if (name == "mbox") return archive::Format::mbox;
    return fail(ErrorKind::usage, Scope::run, "unknown format '" + name + "' (use maildir or mbox)");
}

// Runs the folders one after another. A failure scoped to the account (the
// connection dropped) ends the run; a folder-scoped one skips that folder.
void run_folders(Source& source, archive::Archive& archive, const std::vector<FolderInfo>& folders,
                 const BackupArgs& args, Progress& progress, RunReport& report) {
    BackupOptions options;
    options.dry_run = args.dry_run;
    options.removal.after_download = args.delete_after_download;
    options.mirror = args.mirror;
    options.max_delete_share = args.max_delete_percent / 100.0;
    options.force = args.force;
    if (args.delete_older_than > 0)
        options.removal.older_than = static_cast<std::int64_t>(std::time(nullptr)) -
                                     static_cast<std::int64_t>(args.delete_older_than) * 86400;
    for (const auto& folder : folders) {
        auto outcome = backup_folder(source, archive.store(), folder, options, progress);
        if (!args.dry_run && (!outcome.failure || outcome.failure->kind != ErrorKind::local_io))
            (void)archive.note_run(folder, outcome.report.error);
        report.folders.push_back(outcome.report);
        if (std::string c = source.caveat(); !c.empty() && report.caveat.empty()) {
            report.caveat = c;
            progress.note("note: " + c);
        }
        if (outcome.failure) {
            report.failures.push_back(*outcome.failure);
            if (outcome.failure->scope != Scope::folder && outcome.failure->scope != Scope::message) break;
        }
    }
}

} // namespace

int run_backup(const BackupArgs& args) {
    auto started = std::chrono::steady_clock::now();
    auto format = parse_format(args.format);
    if (!format) return report_failure(format.error(), args.json);
    auto endpoint = make_endpoint(args.connection);
    if (!endpoint) return report_failure(endpoint.error(), args.json);
    if ((args.delete_after_download || args.delete_older_than > 0) && endpoint->protocol != net::Protocol::pop3)
        return report_failure({ErrorKind::usage, Scope::run,
                               "--delete-after-download and --delete-older-than apply to POP3 only"},
                              args.json);
    if (args.delete_older_than < 0)
        return report_failure({ErrorKind::usage, Scope::run, "--delete-older-than takes a number of days"},
                              args.json);

    auto archive = archive::Archive::open({args.archive, *format, endpoint->identity(), args.dry_run});
    if (!archive) return report_failure(archive.error(), args.json);
    auto source = connect_source(*endpoint, args.connection.debug);
    if (!source) return report_failure(source.error(), args.json);
    auto all = (*source)->list_folders();
    if (!all) return report_failure(all.error(), args.json);

    ConsoleProgress progress(args.verbose, args.quiet || args.json);
    RunReport report;
    report.source = endpoint->display();
    report.archive = args.archive;
    report.dry_run = args.dry_run;
    report.push = args.mirror; // deletions happen in the archive
    run_folders(**source, **archive, select_folders(*all, args.folders, args.excludes), args, progress, report);
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    int code = report.decide_exit_code();
    report.exit_code = code;
    if (args.json) std::cout << report_json(report) << '\n';
    else if (!args.quiet) print_summary(report, std::cout);
    return code;
}

} // namespace mf::cli
