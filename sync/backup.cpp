#include "sync/backup.h"

#include "sync/failure_memory.h"
#include "sync/identity.h"
#include "sync/memory.h"
#include "sync/push_plan.h"
#include "sync/relink.h"
#include "sync/rematch.h"

#include <algorithm>
#include <iterator>

namespace mf {

namespace {

// Counts finished messages and commits the store every batch. Commits happen
// between messages, never inside one.
class BatchingSink : public MessageSink {
  public:
    BatchingSink(FolderStore& store, const BackupOptions& options, Progress& progress)
        : m_store(store), m_options(options), m_progress(progress) {}

    Status begin(std::uint64_t size_hint) override { return m_store.begin(size_hint); }
    Status write(std::string_view chunk) override { return m_store.write(chunk); }
    void abandon() override { m_store.abandon(); }
    Status finish(const RemoteMessage& message) override {
        if (auto s = m_store.finish(message); !s) return s;
        if (m_options.removal.active()) {
            HeldMessage h;
            h.id = message.id;
            h.date = message.internal_date;
            m_pending_held.push_back(std::move(h));
        }
        ++m_pending;
        m_pending_bytes += message.size;
        m_progress.message_done(message.size);
        if (m_pending >= m_options.batch_messages || m_pending_bytes >= m_options.batch_bytes)
            return flush();
        return {};
    }
    Status flush() {
        if (auto s = m_store.commit(); !s) return s;
        m_committed += m_pending;
        m_committed_bytes += m_pending_bytes;
        for (auto& h : m_pending_held)
            m_committed_held.push_back(std::move(h));
        m_pending_held.clear();
        m_pending = 0;
        m_pending_bytes = 0;
        return {};
    }
    std::size_t committed() const { return m_committed; }
    // Messages this run made durable (kept only when a removal policy needs them).
    std::vector<HeldMessage>& committed_held() { return m_committed_held; }
    std::uint64_t committed_bytes() const { return m_committed_bytes; }

  private:
    FolderStore& m_store;
    const BackupOptions& m_options;
    Progress& m_progress;
    std::size_t m_pending = 0, m_committed = 0;
    std::uint64_t m_pending_bytes = 0, m_committed_bytes = 0;
    std::vector<HeldMessage> m_pending_held, m_committed_held;
};

FolderState as_state(Result<FolderState>&& r) {
    return r ? std::move(*r) : FolderState{};
}

// After a UIDVALIDITY change: match what the archive holds to the new ids by
// content, so nothing is downloaded twice and nothing is dropped.
Status revalidate(Source& source, FolderStore& store, const Snapshot& snap, FolderState& state,
                  FolderReport& report, Progress& progress) {
    std::vector<std::string> ids;
    ids.reserve(snap.messages.size());
    for (const auto& m : snap.messages)
        ids.push_back(m.id);
    auto keys = source.keys(ids);
    if (!keys) return std::unexpected(keys.error());
    auto matched = match_identities(source, store, state.held, *keys);
    if (!matched) return std::unexpected(matched.error());
    const auto& renames = *matched;
    progress.note(report.folder + ": UIDVALIDITY changed from " + std::to_string(state.validity) +
                  " to " + std::to_string(snap.validity) + "; " + std::to_string(renames.size()) +
                  " of " + std::to_string(state.held.size()) +
                  " held messages matched by Message-ID");
    if (auto s = store.revalidate(snap.validity, renames); !s) return s;
    report.revalidated = true;
    report.rematched = renames.size();
    auto reloaded = store.load();
    if (!reloaded) return std::unexpected(reloaded.error());
    state = std::move(*reloaded);
    return {};
}

// The archive's side of a partial listing: only the listed messages are
// looked up, so a large folder with a few new messages stays out of memory.
Result<FolderState> held_part(FolderStore& store, const Snapshot& snap) {
    auto held = store.held_among(snap.messages);
    if (!held) return std::unexpected(held.error());
    FolderState state;
    state.known = true; // the token that allowed a partial listing came from a complete run
    state.validity = snap.validity;
    state.held = std::move(*held);
    return state;
}

Status apply_flags(FolderStore& store, const BackupPlan& plan, FolderReport& report) {
    for (const auto& [id, flags] : plan.flags) {
        if (auto s = store.set_flags(id, flags); !s) return s;
        ++report.flags_updated;
    }
    // Labels as flags are: what the source shows now (a label removed shows
    // only here and in the folder the message left, as a message gone).
    for (const auto& u : plan.labels)
        if (auto s = store.set_labels(u.id, u.identity, u.labels); !s) return s;
    return {};
}

// Records what changed on the source since the last run: messages someone
// else removed (reported once), and messages that came back.
Status note_source_changes(FolderStore& store, const BackupPlan& plan, FolderReport& report) {
    report.removed_by_others = plan.newly_gone.size();
    for (const auto& id : plan.newly_gone)
        if (auto s = store.set_source_state(id, SourceState::gone); !s) return s;
    for (const auto& id : plan.reappeared)
        if (auto s = store.set_source_state(id, SourceState::present); !s) return s;
    return {};
}

// Deletes from the source only what is durable in the archive. The deletion
// is recorded first: if the run dies before the source commits it (POP3
// QUIT), the message is simply seen again next time, never misreported.
Status remove_from_source(Source& source, FolderStore& store, const Snapshot& snap,
                          std::vector<HeldMessage> held, const BackupOptions& options,
                          FolderReport& report) {
    auto ids = plan_removals(snap, held, options.removal, options.filter);
    report.planned_deletions = ids.size();
    if (ids.empty() || options.dry_run) return {};
    for (const auto& id : ids)
        if (auto s = store.set_source_state(id, SourceState::deleted_by_us); !s) return s;
    if (auto s = store.commit(); !s) return s;
    if (auto s = source.remove(ids); !s) return s;
    if (auto s = source.close(); !s) return s;
    report.deleted = ids.size();
    return {};
}

// A mirror or a removal policy looks at the whole folder every time: an
// unchanged source can still hold what a mirror must prune (left by an
// earlier plain backup) or what has aged past a removal cutoff. So does a
// filtered run: it records no change token (a later run without the filter
// must still see what it left out), so it cannot use one either.
bool looks_at_everything(const BackupOptions& options) {
    return options.dry_run || options.mirror || options.removal.active() || !options.filter.empty();
}

// A folder with failed or skipped messages is listed whole, even if its
// token is unchanged: to try them again, and to see which are gone from the
// server (a skipped message expunged since is forgotten, not reported
// forever). Such folders are rare; the others keep their cheap listing.
bool has_failures(const FolderMemo& memo) {
    return !memo.failures.empty();
}

bool unchanged_by_list(const FolderInfo& folder, const FolderMemo& memo,
                       const BackupOptions& options) {
    return !looks_at_everything(options) && !has_failures(memo) && !memo.change_token.empty() &&
           folder.change_token == memo.change_token;
}

// Opens the folder on the source, asking for as little as the run allows:
// nothing if the folder list shows it unchanged since the last complete run
// (or the source says so once it is opened), what changed if only that, and
// a listing in parts if the archive holds nothing of it.
Result<Snapshot> open_listing(Source& source, const FolderInfo& folder, const FolderMemo& memo,
                              const BackupOptions& options) {
    const bool whole = looks_at_everything(options) || has_failures(memo);
    if (unchanged_by_list(folder, memo, options)) {
        Snapshot snap; // the folder list already said: not even opened
        snap.change_token = memo.change_token;
        snap.listing = ListingKind::unchanged;
        // The folder list's count; the token matched, so it is this run's.
        snap.total = folder.messages.value_or(memo.held);
        return snap;
    }
    OpenRequest request;
    if (!whole) request.known_token = memo.change_token;
    if (!whole && memo.held == 0) request.part_size = options.list_part;
    // A mirror must see the whole folder to tell what is gone.
    if (!options.mirror) request.filter = options.filter;
    return source.open(folder, request);
}

// Stores what the plan fetches, then, for a folder listed in parts, each
// later part in turn: listed, planned and stored before the next is listed.
// Nothing is held of such a folder, so a part's plan is to fetch all of it
// but what another folder of the archive holds (linked as the first part's).
// Once the budget has run out, the later parts are still listed: their
// sizes are what the report says is left.
Status fetch_all_parts(Source& source, FolderStore& store, Snapshot& snap, const FolderState& state,
                       const BackupPlan& first, MessageSink& sink, FolderReport& report,
                       Progress& progress, FailureMemory& memory, const BackupOptions& options) {
    std::vector<MessageProblem>& failed = report.failed_messages;
    Status status = fetch_isolating(source, first.fetch, sink, options.fetch_chunk, failed);
    while (status && snap.more) {
        status = source.next_part(snap);
        if (!status) break;
        BackupPlan part = plan_backup(snap, state);
        status = link_moved(source, store, snap, part, report, progress, Apply::change);
        if (!status) break;
        memory.skip(part.fetch);
        fit_to_budget(options.budget, snap.messages, part.fetch, report.deferred,
                      report.deferred_bytes);
        release(snap.messages);
        status = fetch_isolating(source, part.fetch, sink, options.fetch_chunk, failed);
    }
    return status;
}

// A source that marked messages read by fetching them (iCloud): the store
// kept them unread; the report says how many, and on request the source
// takes its marks back.
Status settle_marked_read(Source& source, bool undo, FolderReport& report) {
    const auto ids = source.marked_read_by_fetch();
    report.marked_read = ids.size();
    if (ids.empty() || !undo) return {};
    if (auto s = source.undo_marked_read(ids); !s) return s;
    report.marked_unread_again = ids.size();
    return {};
}

// Counts another run for each message that failed, and forgets those that
// were fetched at last or are gone (only when the fetch ran to its end: a
// message it never reached has not recovered). After a lost session
// nothing is counted: the engine runs the folder again in this run, and a
// run counts once.
Status remember_failures(Store& store, const FolderInfo& folder, const FailureMemory& memory,
                         const FolderReport& report, const Status& fetched, bool completed,
                         std::vector<std::string> cleared) {
    if (!fetched && fetched.error().scope == Scope::session) return {};
    if (completed)
        for (auto& id : memory.recovered(report.failed_messages))
            cleared.push_back(std::move(id));
    return store.record_failures(folder, report.failed_messages, cleared);
}

} // namespace

bool listed_unchanged(Store& store, const FolderInfo& folder, const BackupOptions& options) {
    auto memo = store.memo(folder);
    return memo && unchanged_by_list(folder, *memo, options);
}

std::size_t listed_new_at_least(Store& store, const FolderInfo& folder,
                                const BackupOptions& options) {
    if (!folder.messages || !options.filter.empty()) return 0;
    auto memo = store.memo(folder);
    if (!memo || *folder.messages <= memo->held) return 0;
    return *folder.messages - memo->held;
}

FolderOutcome backup_folder(Source& source, Store& store, const FolderInfo& folder,
                            const BackupOptions& options, Progress& progress) {
    FolderOutcome out;
    FolderReport& report = out.report;
    report.folder = folder.display();
    auto failed = [&](Failure f) {
        report.error = f.what;
        out.failure = std::move(f);
        progress.folder_finished(report);
        return out;
    };

    auto memo = store.memo(folder);
    if (!memo) return failed(memo.error());
    FailureMemory memory(memo->failures, options.skip_after);
    auto snap = open_listing(source, folder, *memo, options);
    if (!snap) return failed(snap.error());
    if (snap->listing == ListingKind::unchanged) {
        // Nothing changed since a complete run: a handful of commands in all.
        report.unchanged = true;
        // The server's count at this run: the archive may hold fewer (a
        // skipped message) and never decides what is on the server.
        report.found = snap->total;
        report.held = memo->held;
        report.skipped_messages = memory.to_skip();
        progress.folder_finished(report);
        return out;
    }
    const bool delta = snap->listing == ListingKind::delta,
               in_parts = snap->listing == ListingKind::parts;
    report.found = delta || in_parts || snap->narrowed ? snap->total : snap->messages.size();
    auto fstore = store.open_folder(folder, snap->validity);
    if (!fstore) return failed(fstore.error());
    auto loaded = delta ? held_part(**fstore, *snap) : (*fstore)->load_brief();
    if (!loaded) return failed(loaded.error());
    FolderState state = as_state(std::move(loaded));
    // The archive holds some after all (files adopted after the database was
    // lost): what is gone can only be told from the whole listing.
    if (in_parts && !state.held.empty())
        if (auto s = gather_parts(source, *snap); !s) return failed(s.error());

    std::vector<std::string> forgotten; // failures to forget: their messages are gone
    if (needs_revalidation(*snap, state) && !options.dry_run) {
        // Matching by content needs the Message-IDs load_brief() left out.
        auto full = (*fstore)->load();
        if (!full) return failed(full.error());
        state = std::move(*full);
        if (auto s = revalidate(source, **fstore, *snap, state, report, progress); !s)
            return failed(s.error());
        // The failures were of the old validity's ids: forget them all.
        for (const auto& f : memo->failures)
            forgotten.push_back(f.id);
        memory = FailureMemory({}, options.skip_after);
    }
    BackupPlan plan = plan_backup(*snap, state, options.filter);
    report.filtered = plan.filtered + left_unlisted(*snap);
    const Apply apply = options.dry_run ? Apply::look : Apply::change;
    // A listing narrowed by a filter leaves held messages out: they are not
    // gone, so nothing is re-matched against them.
    if (snap->listing == ListingKind::whole && !snap->narrowed)
        if (auto s =
                rematch_returned(source, **fstore, *snap, state, plan, report, progress, apply);
            !s)
            return failed(s.error());
    if (auto s = link_moved(source, **fstore, *snap, plan, report, progress, apply); !s)
        return failed(s.error());
    // Of a partial listing, every message not listed is held already.
    report.held = delta ? report.found - plan.fetch.size() - report.linked : plan.held;
    memory.skip(plan.fetch);
    if (!options.dry_run)
        fit_to_budget(options.budget, snap->messages, plan.fetch, report.deferred,
                      report.deferred_bytes);
    // A whole listing tells which failed messages are gone from the source.
    if (snap->listing == ListingKind::whole && !snap->narrowed)
        for (auto& id : memory.unlisted(snap->messages))
            forgotten.push_back(std::move(id));
    // Of a folder listed in parts nothing is held: all of it is planned, so
    // a run that fails part way counts the parts it never reached as failed.
    report.planned = in_parts ? snap->total - report.linked : plan.fetch.size() + report.deferred;
    report.gone = plan.gone.size();
    start_folder(progress, report.folder, *snap, plan.fetch.size(),
                 plan.fetch_bytes - std::min(plan.fetch_bytes, report.deferred_bytes));
    if (options.mirror) {
        report.planned_deletions = plan.gone.size();
        if (auto why = mirror_guard(state.held.size(), plan.gone.size(), snap->messages.size(),
                                    options.max_delete_share);
            why && !options.force)
            return failed(Failure{ErrorKind::usage, Scope::folder,
                                  report.folder + ": mirror refused: " + *why +
                                      "; rerun with --force to allow it"});
    }
    if (options.dry_run) {
        report.flags_updated = plan.flags.size();
        report.removed_by_others = plan.newly_gone.size();
        // What would be deleted: what is held now plus what would be fetched.
        std::vector<HeldMessage> would_hold = state.held;
        for (const auto& m : snap->messages)
            would_hold.push_back(HeldMessage{m.id, {}, m.size, {}, m.internal_date});
        report.planned_deletions =
            plan_removals(*snap, would_hold, options.removal, options.filter).size();
        progress.folder_finished(report);
        return out;
    }

    if (!options.removal.active()) {
        // Only a removal policy looks at the listing or the held list again:
        // give their memory back before the fetch, where a big folder's
        // peak is.
        release(snap->messages);
        release(state.held);
    }
    BatchingSink sink(**fstore, options, progress);
    Status status = apply_flags(**fstore, plan, report);
    if (status) status = note_source_changes(**fstore, plan, report);
    const std::size_t linked_first = report.linked;
    if (status)
        status = fetch_all_parts(source, **fstore, *snap, state, plan, sink, report, progress,
                                 memory, options);
    // Of a folder in parts, what later parts linked was counted as planned.
    if (in_parts) report.planned -= std::min(report.planned, report.linked - linked_first);
    // Whatever happened, keep what arrived whole: commit it.
    Status committed = sink.flush();
    report.fetched = sink.committed();
    report.bytes = sink.committed_bytes();
    report.skipped_messages = memory.skipped();
    if (in_parts) report.planned -= std::min(report.planned, report.skipped_messages.size());
    // A message the budget left for later was not reached: not recovered.
    const bool completed = status && committed && report.deferred == 0;
    if (auto s = remember_failures(store, folder, memory, report, status, completed,
                                   std::move(forgotten));
        !s)
        return failed(s.error());
    // After a failed fetch the session may be unusable: the marks stay, and
    // the next run archives them as the server's.
    if (auto s =
            settle_marked_read(source, options.undo_server_seen && status && committed, report);
        !s)
        status = s;
    std::size_t missing =
        report.planned - std::min(report.planned, report.fetched + report.deferred);
    if (!status || !committed) {
        report.failed = missing;
        return failed(!status ? status.error() : committed.error());
    }
    if (!report.failed_messages.empty()) {
        // The rest of the folder is stored; its change token is not, so the
        // next run lists these again and tries them again.
        report.failed = report.failed_messages.size();
        report.vanished = missing - std::min(missing, report.failed);
        return failed(
            Failure{ErrorKind::protocol, Scope::message,
                    report.folder + ": " + describe_failed(report.failed_messages, "fetched")});
    }
    // The fetch completed, so what did not arrive was expunged meanwhile.
    report.vanished = missing;
    if (missing > 0)
        progress.note(report.folder + ": " + std::to_string(missing) +
                      " messages vanished from the server during the run");
    if (report.removed_by_others > 0)
        progress.note(
            report.folder + ": " + std::to_string(report.removed_by_others) +
            " messages were removed from the server by another client since the last run");
    if (options.mirror && !plan.gone.empty()) {
        if (auto s = (*fstore)->remove(plan.gone); !s) return failed(s.error());
        if (auto s = (*fstore)->commit(); !s) return failed(s.error());
        report.deleted = plan.gone.size();
    }
    if (!snap->change_token.empty() && report.vanished == 0 && report.deferred == 0 &&
        options.filter.empty()) {
        // Everything up to this token is held: the next run may skip listing.
        if (auto s = (*fstore)->set_change_token(snap->change_token); !s) return failed(s.error());
        if (auto s = (*fstore)->commit(); !s) return failed(s.error());
    }
    if (options.removal.active()) {
        std::vector<HeldMessage> held = std::move(state.held);
        for (auto& h : sink.committed_held())
            held.push_back(std::move(h));
        if (auto s = remove_from_source(source, **fstore, *snap, std::move(held), options, report);
            !s)
            return failed(s.error());
    }
    progress.folder_finished(report);
    return out;
}

} // namespace mf
