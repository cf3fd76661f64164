// `mailferry migrate|restore|mirror SOURCE TARGET`: push mail into an IMAP
// account from POP3, IMAP or a local archive, each message once, flags and
// dates kept; a mirror also makes the target lose what the source lost.
#include "backends/archive/lock.h"
#include "backends/archive/personal_prefix.h"
#include "backends/archive/push_state.h"
#include "backends/common/fs.h"
#include "backends/common/out_file.h"
#include "backends/maildir/archive_source.h"
#include "backends/open/archive.h"
#include "backends/open/store_source.h"
#include "cli/budget.h"
#include "cli/commands.h"
#include "cli/connect.h"
#include "cli/exit_codes.h"
#include "cli/folder_accounting.h"
#include "cli/folder_map.h"
#include "cli/label_order.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "cli/report.h"
#include "cli/url.h"
#include "sync/fnv.h"
#include "sync/parallel.h"
#include "sync/push.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <set>

namespace mf::cli {

namespace {

// What one worker holds open: a source and a target; destroyed in reverse
// order. The push state is shared (PushSetup::shared_state).
struct PushLane {
    std::unique_ptr<archive::Archive> archive; // an extra handle on an mbox archive
    std::unique_ptr<Source> source;
    std::unique_ptr<Target> target;
};

// Everything a push run holds open, and how to open one more lane.
struct PushSetup {
    std::optional<archive::ArchiveLock> lock;
    std::unique_ptr<archive::Archive> archive; // an mbox archive read through its store
    std::string source_name, target_name;
    std::string state_path;
    std::optional<net::Endpoint> source_endpoint; // an account; else an archive
    std::optional<net::Endpoint> target_endpoint;
    std::vector<std::string> archive_prefix; // the personal prefix an archive's backups recorded
    std::unique_ptr<archive::StateDb> db;
    std::unique_ptr<PushState> state;        // over db
    std::unique_ptr<PushState> shared_state; // state, for several workers at once
    PushLane first;
    std::shared_ptr<const ListingMemo> source_listing; // the first source's, for the other lanes
};

// Names the push state file: persisted, hence the persisted basis.
std::string hex_hash(const std::string& text) {
    std::uint64_t h = fnv1a64(text, k_fnv1a64_persisted_basis);
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

// Where a migration between two accounts keeps its state when --state is
// not given: $XDG_STATE_HOME/mailferry (or ~/.local/state/mailferry).
Result<std::string> default_state_dir() {
    if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x)
        return std::string(x) + "/mailferry";
    if (const char* h = std::getenv("HOME"); h && *h)
        return std::string(h) + "/.local/state/mailferry";
    return fail(ErrorKind::usage, Scope::account, "no HOME or XDG_STATE_HOME: give --state FILE");
}

// Opens the lane's source: an account (listed, so that it knows the
// server's names), an mbox archive through another store handle, or a
// Maildir archive read directly.
Status open_lane_source(const PushArgs& args, const PushSetup& setup, PushLane& lane) {
    if (setup.source_endpoint) {
        auto source = connect_source(*setup.source_endpoint, args.source.debug);
        if (!source) return std::unexpected(source.error());
        if (auto s = list_like(**source, setup.source_listing); !s)
            return std::unexpected(s.error());
        lane.source = std::move(*source);
    } else if (setup.archive) {
        auto handle = setup.archive->another();
        if (!handle) return std::unexpected(handle.error());
        lane.archive = std::move(*handle);
        lane.source =
            std::make_unique<archive::StoreSource>(lane.archive->db(), lane.archive->store());
    } else {
        lane.source = std::make_unique<maildir::ArchiveSource>(args.source.url);
    }
    return {};
}

Result<std::unique_ptr<PushLane>> open_lane(const PushArgs& args, const PushSetup& setup) {
    auto lane = std::make_unique<PushLane>();
    if (auto s = open_lane_source(args, setup, *lane); !s) return std::unexpected(s.error());
    auto target = connect_target(*setup.target_endpoint, args.target.debug, args.append_final_crlf);
    if (!target) return std::unexpected(target.error());
    lane->target = std::move(*target);
    return lane;
}

Status open_archive_source(const PushArgs& args, PushSetup& setup) {
    const std::string& root = args.source.url;
    std::string meta = root + "/.mailferry";
    auto state = archive::Archive::read_state(root); // read-only, not copied: two facts
    if (!state) return std::unexpected(state.error());
    auto format = (*state)->meta("format");
    auto identity = (*state)->meta("source");
    if (!format || !identity) return std::unexpected(!format ? format.error() : identity.error());
    auto prefix = archive::recorded_personal_prefix(**state);
    if (!prefix) return std::unexpected(prefix.error());
    setup.archive_prefix = std::move(*prefix);
    warn_of_lost_names(**state);
    if (archive::parse_format(*format) == archive::Format::mbox) {
        // Locked and read through the store itself.
        auto opened = archive::Archive::open(
            {root, archive::Format::mbox, *identity, archive::Mode::read_only});
        if (!opened) return std::unexpected(opened.error());
        setup.archive = std::move(*opened);
        setup.first.source =
            std::make_unique<archive::StoreSource>(setup.archive->db(), setup.archive->store());
    } else {
        auto lock = archive::ArchiveLock::acquire(meta);
        if (!lock) return std::unexpected(lock.error());
        setup.lock.emplace(std::move(*lock));
        setup.first.source = std::make_unique<maildir::ArchiveSource>(root);
    }
    setup.source_name = root;
    setup.state_path = meta + "/push-" + hex_hash(setup.target_name) + ".db";
    return {};
}

// --state names an SQLite database: SQLite writes it (and its -wal and -shm
// beside it) in place, so it must be a file. A symlink is followed, and the
// lock goes beside the database itself.
Result<std::string> state_file(const std::string& given) {
    auto where = fs::resolve_output(given);
    if (!where) return std::unexpected(where.error());
    if (where->kind != fs::OutputKind::file)
        return fail(ErrorKind::usage, Scope::account,
                    "--state " + given + ": " + where->path +
                        " is not a regular file and cannot hold the state database; name a file");
    return where->path;
}

Status open_remote_source(const PushArgs& args, PushSetup& setup) {
    auto endpoint = make_endpoint(args.source);
    if (!endpoint) return std::unexpected(endpoint.error());
    setup.source_name = endpoint->display();
    auto named = args.state.empty() ? Result<std::string>() : state_file(args.state);
    if (!named) return std::unexpected(named.error());
    std::string path = *named;
    if (path.empty()) {
        auto dir = default_state_dir();
        if (!dir) return std::unexpected(dir.error());
        if (auto s = fs::make_dirs(*dir); !s) return s;
        path = *dir + "/push-" + hex_hash(setup.source_name + " -> " + setup.target_name) + ".db";
    }
    auto lock = archive::ArchiveLock::acquire_file(path + ".lock");
    if (!lock) return std::unexpected(lock.error());
    setup.lock.emplace(std::move(*lock));
    setup.state_path = path;
    auto source = connect_source(*endpoint, args.source.debug);
    if (!source) return std::unexpected(source.error());
    setup.first.source = std::move(*source);
    setup.source_endpoint = std::move(*endpoint);
    return {};
}

Result<std::unique_ptr<PushSetup>> set_up(const PushArgs& args) {
    auto setup = std::make_unique<PushSetup>();
    auto target_endpoint = make_endpoint(args.target);
    if (!target_endpoint) return std::unexpected(target_endpoint.error());
    setup->target_name = target_endpoint->display();
    // A folder that exists is an archive; anything else with an '@' or a
    // scheme is an account (so "me@host" is not mistaken for a path).
    bool remote = looks_like_url(args.source.url) ||
                  (!fs::exists(args.source.url) && args.source.url.find('@') != std::string::npos);
    if (args.kind == PushKind::restore && remote)
        return fail(ErrorKind::usage, Scope::account,
                    "restore takes an archive folder as its source; use migrate for accounts");
    Status s = remote ? open_remote_source(args, *setup) : open_archive_source(args, *setup);
    if (!s) return std::unexpected(s.error());
    auto db = archive::StateDb::open(setup->state_path);
    if (!db) return std::unexpected(db.error());
    setup->db = std::move(*db);
    setup->state = std::make_unique<archive::DbPushState>(*setup->db);
    setup->shared_state = std::make_unique<LockedPushState>(*setup->state);
    auto target = connect_target(*target_endpoint, args.target.debug, args.append_final_crlf);
    if (!target) return std::unexpected(target.error());
    setup->first.target = std::move(*target);
    setup->target_endpoint = std::move(*target_endpoint);
    return setup;
}

// Pushes a folder at a time through its lane. The first worker uses the
// setup's lane (kept for what comes after: removing vanished folders).
class PushWorker : public FolderWorker {
  public:
    PushWorker(PushLane& lane, PushState& state, const FolderMap& map,
               const PushRunOptions& options)
        : m_lane(lane), m_state(state), m_map(map), m_options(options) {}
    PushWorker(std::unique_ptr<PushLane> own, PushState& state, const FolderMap& map,
               const PushRunOptions& options)
        : m_own(std::move(own)), m_lane(*m_own), m_state(state), m_map(map), m_options(options) {}

    FolderOutcome run(const FolderInfo& from, Progress& progress) override {
        FolderInfo to = m_map.target_of(from);
        auto out =
            push_folder(*m_lane.source, *m_lane.target, m_state, from, to, m_options, progress);
        if (out.failure && out.failure->scope == Scope::session) {
            // The engine replaces this worker: its connections are closed
            // now, also on the first lane, which outlives the worker (a POP3
            // source keeps its mailbox locked while its session is open).
            m_lane.source.reset();
            m_lane.target.reset();
        }
        return out;
    }
    std::size_t max_connections() const override {
        return m_lane.source ? m_lane.source->max_connections() : 0;
    }

  private:
    std::unique_ptr<PushLane> m_own;
    PushLane& m_lane;
    PushState& m_state;
    const FolderMap& m_map;
    const PushRunOptions& m_options;
};

// A mirror also removes target folders the source no longer has (below
// --target-prefix, if given); a folder that still holds mail is only
// removed with --force (the guard).
void remove_vanished_folders(Target& target, const std::set<std::vector<std::string>>& kept,
                             const FolderMap& map, const PushArgs& args, RunReport& report,
                             Progress& progress) {
    auto listed = target.list_folders();
    if (!listed) {
        report.failures.push_back(listed.error());
        return;
    }
    for (const auto& f : *listed) {
        if (!f.selectable || kept.contains(f.path) || f.path == std::vector<std::string>{"INBOX"} ||
            !map.owns(f.path))
            continue;
        auto opened = target.open(f);
        if (!opened) continue;
        std::size_t count = opened->messages.size();
        if (count > 0 && !args.force) {
            report.failures.push_back({ErrorKind::usage, Scope::folder,
                                       f.display() + ": gone from the source but holds " +
                                           std::to_string(count) +
                                           " messages on the target; not deleted (use --force)"});
            continue;
        }
        progress.note((args.dry_run ? "would delete folder " : "deleting folder ") + f.display());
        if (!args.dry_run)
            if (auto s = target.delete_folder(f); !s) report.failures.push_back(s.error());
    }
}

// --target-prefix and --special-folders. A mirror into folders another
// account shares would delete that account's mail: merge is refused there.
Status under_prefix(FolderMap& map, const PushArgs& args) {
    const auto special =
        args.special_folders == "merge" ? SpecialFolders::merge : SpecialFolders::prefix;
    if (auto s = map.put_under(args.target_prefix, special); !s) return s;
    if (map.merges() && args.kind == PushKind::mirror)
        return fail(ErrorKind::usage, Scope::account,
                    "mirror cannot merge into the target's own folders (it would delete what "
                    "else they hold); use --special-folders prefix");
    return {};
}

} // namespace

// `mirror SOURCE ARCHIVE`: a backup that also removes from the archive what
// the source no longer has (Maildir archives; mbox files are never edited).
int mirror_into_archive(const PushArgs& args) {
    BackupArgs b;
    b.connection = args.source;
    b.archive = args.target.url;
    auto state = archive::Archive::read_state(b.archive);
    if (state) {
        auto format = (*state)->meta("format");
        if (format && !format->empty()) b.format = *format;
    }
    b.folders = args.folders;
    b.excludes = args.excludes;
    b.dry_run = args.dry_run;
    b.json = args.json;
    b.verbose = args.verbose;
    b.quiet = args.quiet;
    b.mirror = true;
    b.max_delete_percent = args.max_delete_percent;
    b.force = args.force;
    b.reconnects = args.reconnects;
    b.filter = args.filter;
    b.max_bytes = args.max_bytes;
    b.daily_budget = args.daily_budget;
    return run_backup(b);
}

int run_push(const PushArgs& args) {
    if (args.kind == PushKind::mirror && !looks_like_url(args.target.url) &&
        args.target.url.find('@') == std::string::npos) {
        if (!args.maps.empty() || !args.target_prefix.empty())
            return report_failure(
                {ErrorKind::usage, Scope::account,
                 "--map and --target-prefix are not available when mirroring into an archive"},
                args.json);
        return mirror_into_archive(args);
    }
    auto started = std::chrono::steady_clock::now();
    auto filter = make_filter(args.filter);
    if (!filter) return report_failure(filter.error(), args.json);
    auto map = FolderMap::parse(args.maps);
    if (!map) return report_failure(map.error(), args.json);
    if (auto s = under_prefix(*map, args); !s) return report_failure(s.error(), args.json);
    if (args.max_delete_percent < 0 || args.max_delete_percent > 100)
        return report_failure(
            {ErrorKind::usage, Scope::account, "--max-delete takes a percentage from 0 to 100"},
            args.json);
    auto opened = set_up(args);
    if (!opened) return report_failure(opened.error(), args.json);
    PushSetup& setup = **opened;
    if (map->merges()) {
        auto targets = setup.first.target->list_folders();
        if (!targets) return report_failure(targets.error(), args.json);
        map->use_target_folders(*targets);
    }
    auto all = setup.first.source->list_folders();
    if (!all) return report_failure(all.error(), args.json);
    setup.source_listing = setup.first.source->listing_memo();
    if (!setup.source_endpoint) mark_personal_prefix(*all, setup.archive_prefix);

    ConsoleProgress progress(args.verbose, args.quiet || args.json, true);
    RunReport report;
    report.source = setup.source_name;
    report.archive = setup.target_name;
    report.dry_run = args.dry_run;
    report.filters = describe(args.filter);
    report.push = true;
    PushRunOptions options;
    options.dry_run = args.dry_run;
    options.mirror = args.kind == PushKind::mirror;
    options.max_delete_share = args.max_delete_percent / 100.0;
    options.force = args.force;
    options.filter = *filter;
    options.labels = args.labels == "primary" ? Labels::primary : Labels::all;
    RunRefusals refusals;
    options.refusals = &refusals;
    // The daily record is the push state database's: per source and target.
    auto planned = plan_budget(args.max_bytes, args.daily_budget,
                               setup.first.source->daily_download_allowance(), *setup.db);
    if (!planned) return report_failure(planned.error(), args.json);
    ByteBudget budget(planned->limit);
    options.budget = &budget;
    auto folders = select_folders(*all, args.folders, args.excludes);
    // One copy per message (push_share.h) needs the folders one after the
    // other: two at once could both upload a message neither saw uploaded.
    auto connections = static_cast<std::size_t>(args.connections);
    if (options.labels == Labels::primary) order_by_label_precedence(folders);
    if (options.labels == Labels::primary ||
        (!options.mirror && setup.first.target->shares_messages()))
        connections = 1; // a mirror keeps a copy per folder (share_mode)
    std::set<std::vector<std::string>> kept;
    for (const auto& from : folders)
        kept.insert(map->target_of(from).path);
    WorkerFactory more = [&]() -> Result<std::unique_ptr<FolderWorker>> {
        auto lane = open_lane(args, setup);
        if (!lane) return std::unexpected(lane.error());
        return std::make_unique<PushWorker>(std::move(*lane), *setup.shared_state, *map, options);
    };
    auto first = std::make_unique<PushWorker>(setup.first, *setup.shared_state, *map, options);
    RecoveryPolicy recovery;
    recovery.max_reconnects = static_cast<std::size_t>(args.reconnects);
    add_outcomes(run_folders(folders, std::move(first), more, connections, progress, {}, recovery),
                 report, progress);
    for (auto& r : left_out(*all, args.folders, args.excludes))
        report.folders.push_back(std::move(r));
    if (!args.dry_run)
        if (auto s = record_budget(*planned, budget.taken(), *setup.db); !s)
            report.failures.push_back(s.error());
    report.daily_allowance = planned->daily_allowance;
    report.daily_downloaded = planned->daily_used + budget.taken();
    if (options.mirror && args.folders.empty() && args.excludes.empty() &&
        report.failures.empty()) {
        // The first lane's target is gone if its session was lost and replaced.
        std::unique_ptr<PushLane> fresh;
        Target* target = setup.first.target.get();
        if (!target) {
            auto lane = open_lane(args, setup);
            if (lane)
                target = ((fresh = std::move(*lane)))->target.get();
            else
                report.failures.push_back(lane.error());
        }
        if (target) remove_vanished_folders(*target, kept, *map, args, report, progress);
    }
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
