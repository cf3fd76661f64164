#include "sync/push.h"

#include "sync/memory.h"
#include "sync/push_share.h"

#include <algorithm>
#include <iterator>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

namespace mf {

namespace {

// Counts confirmed appends and records their mapping; the mapping is what
// makes a rerun copy only what is missing.
class RecordingAppend {
  public:
    RecordingAppend(PushState& state, std::string key, Progress& progress)
        : m_state(state), m_key(std::move(key)), m_progress(progress) {}
    Status operator()(const RemoteMessage& m, std::uint32_t uid) {
        ++m_count;
        m_bytes += m.size;
        m_progress.message_done(m.size);
        // Without UIDPLUS there is no UID yet: located() may record it later,
        // else the next run recognises the message by content.
        return uid ? located(m, uid) : Status{};
    }
    // Where the message went is recorded before the folder's mapping: a
    // crash between the two leaves a copy that this folder's next run
    // recognises by content, and that later folders label, not upload again.
    Status located(const RemoteMessage& m, std::uint32_t uid) {
        if (auto s = record_upload(m.id, uid); !s) return s;
        return m_state.record(m_key, m.id, uid);
    }
    // The identities of the messages to upload (push_share.h), and the
    // target folder they go into.
    void share(std::unordered_map<std::string, std::string> identity, Uploaded into) {
        m_identity = std::move(identity);
        m_into = std::move(into);
    }
    // A refused message: named in the report when it was refused alone,
    // tried again alone when its batch was refused.
    void refused(const RemoteMessage& m, const Failure& f, bool alone) {
        if (alone)
            m_failed.push_back(MessageProblem{m.id, f.what});
        else
            m_batch_refused.push_back(m.id);
    }
    void changed(const RemoteMessage& m, const std::string& change) {
        m_changed.push_back({m.id, change});
    }
    Status record_upload(const std::string& id, std::uint32_t uid) {
        const auto it = m_identity.find(id);
        if (it == m_identity.end()) return {};
        Uploaded where = m_into;
        where.uid = uid;
        return m_state.record_upload(it->second, where);
    }
    std::size_t count() const { return m_count; }
    std::uint64_t bytes() const { return m_bytes; }
    std::vector<std::string> take_batch_refused() { return std::exchange(m_batch_refused, {}); }
    std::vector<MessageProblem>& failed() { return m_failed; }
    std::vector<MessageProblem>& changed_messages() { return m_changed; }

  private:
    PushState& m_state;
    std::string m_key;
    Progress& m_progress;
    std::size_t m_count = 0;
    std::uint64_t m_bytes = 0;
    std::vector<std::string> m_batch_refused;
    std::vector<MessageProblem> m_failed;
    std::vector<MessageProblem> m_changed;
    std::unordered_map<std::string, std::string> m_identity; // source id -> identity
    Uploaded m_into;                                         // the target folder
};

Result<TargetFolder> open_target(Target& target, const FolderInfo& to, bool dry_run) {
    auto folder = target.open(to);
    if (!folder) return folder;
    if (folder->exists || dry_run) return folder;
    if (auto s = target.create_folder(to); !s) return std::unexpected(s.error());
    return target.open(to);
}

// The mapping, unless either side's validity changed since it was made.
Result<PushMapping> load_mapping(PushState& state, const std::string& key, const Snapshot& snap,
                                 const TargetFolder& folder, bool dry_run) {
    auto mapping = state.load(key);
    if (!mapping) return mapping;
    if (mapping->source_validity == snap.validity && mapping->target_validity == folder.validity)
        return mapping;
    mapping->entries.clear();
    if (!dry_run)
        if (auto s = state.reset(key, snap.validity, folder.validity); !s)
            return std::unexpected(s.error());
    return mapping;
}

// Message-IDs on both sides, needed only when the target holds messages the
// mapping does not explain (another tool's copies, or an unconfirmed APPEND).
Result<std::vector<MessageKey>> match_keys(Source& source, Target& target, const Snapshot& snap,
                                           TargetFolder& folder, const PushMapping& mapping) {
    auto unmapped = unmapped_target_uids(folder, mapping);
    if (unmapped.empty()) return std::vector<MessageKey>{};
    if (auto s = target.fill_keys(folder, unmapped); !s) return std::unexpected(s.error());
    auto ids = unmapped_source_ids(snap, mapping, folder);
    if (ids.empty()) return std::vector<MessageKey>{};
    return source.keys(ids);
}

Status record_plan(PushState& state, const std::string& key, const PushPlan& plan) {
    for (const auto& id : plan.forget)
        if (auto s = state.forget(key, id); !s) return s;
    for (const auto& [id, uid] : plan.adopt)
        if (auto s = state.record(key, id, uid); !s) return s;
    return {};
}

Status copy_ids(Source& source, Target& target, const std::vector<std::string>& ids,
                RecordingAppend& recorder, std::size_t chunk) {
    MessageSink& sink = target.appender(
        {[&](const RemoteMessage& m, std::uint32_t uid) { return recorder(m, uid); },
         [&](const RemoteMessage& m, const Failure& f, bool alone) {
             recorder.refused(m, f, alone);
         },
         [&](const RemoteMessage& m, const std::string& change) { recorder.changed(m, change); },
         [&](const RemoteMessage& m, std::uint32_t uid) { return recorder.located(m, uid); }});
    if (auto s = fetch_isolating(source, ids, sink, chunk, recorder.failed()); !s) {
        // Record what the target did confirm; a target that is gone too
        // must be replaced, whatever the source's failure was.
        if (auto flushed = target.flush(); !flushed && flushed.error().scope == Scope::session)
            return flushed;
        return s;
    }
    return target.flush();
}

// What an earlier session of this run failed on (RunRefusals) is not sent
// again; it stays named among the folder's failures.
std::vector<std::string> not_failed(const std::vector<std::string>& ids,
                                    const std::vector<MessageProblem>& failed) {
    if (failed.empty()) return ids;
    std::set<std::string> skip;
    for (const auto& f : failed)
        skip.insert(f.id);
    std::vector<std::string> out;
    std::copy_if(ids.begin(), ids.end(), std::back_inserter(out),
                 [&](const auto& id) { return !skip.contains(id); });
    return out;
}

// A batch the target refused is tried again a message at a time, so that
// one message it will not take keeps none of the others out.
Status copy_all(Source& source, Target& target, const PushPlan& plan, RecordingAppend& recorder,
                std::size_t chunk, const std::vector<MessageProblem>& earlier) {
    if (auto s = copy_ids(source, target, not_failed(plan.copy, earlier), recorder, chunk); !s)
        return s;
    auto again = recorder.take_batch_refused();
    if (again.empty()) return {};
    target.append_singly(true);
    auto s = copy_ids(source, target, again, recorder, chunk);
    target.append_singly(false);
    return s;
}

// The later parts of a listing into an empty target: each is listed,
// planned (all of it is copied) and copied before the next is listed.
// Once the budget has run out, the later parts are still listed: their
// sizes are what the report says is left.
Status copy_parts(Source& source, Target& target, Snapshot& snap, RecordingAppend& recorder,
                  FolderReport& report, const PushRunOptions& options,
                  const std::vector<MessageProblem>& earlier) {
    while (snap.more) {
        if (auto s = source.next_part(snap); !s) return s;
        PushPlan part =
            plan_push(snap, {}, TargetFolder{}, PushMapping{}, PushOptions{options.mirror});
        fit_to_budget(options.budget, snap.messages, part.copy, report.deferred,
                      report.deferred_bytes);
        release(snap.messages);
        if (auto s = copy_all(source, target, part, recorder, options.fetch_chunk, earlier); !s)
            return s;
    }
    return {};
}

// A run that died (killed, or its connection lost) may have left appends on
// the wire that the server is still storing: its process goes on after the
// client is gone. Planning now would miss them and copy them again. So after
// an interrupted run, wait until the target folder stops changing.
Result<TargetFolder> settle_target(Target& target, const FolderInfo& to, TargetFolder folder,
                                   const PushRunOptions& options, Progress& progress) {
    progress.note(
        to.display() +
        ": the last run was interrupted; waiting until the target has stored what it sent");
    auto waited = std::chrono::milliseconds(0);
    while (waited < options.settle_limit) {
        std::this_thread::sleep_for(options.settle_quiet);
        waited += options.settle_quiet;
        auto again = target.open(to);
        if (!again) return again;
        bool same =
            again->messages.size() == folder.messages.size() &&
            (folder.messages.empty() || again->messages.back().uid == folder.messages.back().uid);
        folder = std::move(*again);
        if (same) break;
    }
    return folder;
}

// Counts the runs in a row each refused message was refused, names the
// count in the report from the second on ("refused in 3 runs"), and keeps
// it for the next run. A refused message is always tried again: a limit
// may be raised, and a try costs one APPEND. Nothing is written in the usual
// run, where nothing was refused before or now.
Status remember_refusals(PushState& state, const std::string& folder,
                         std::vector<MessageProblem>& refused) {
    auto before = state.refused(folder);
    if (!before) return std::unexpected(before.error());
    if (before->empty() && refused.empty()) return {};
    RefusedRuns now;
    for (auto& m : refused) {
        const auto it = before->find(m.id);
        const std::size_t runs = (it == before->end() ? 0 : it->second) + 1;
        now[m.id] = runs;
        if (runs > 1) m.what += " (refused in " + std::to_string(runs) + " runs)";
    }
    return state.set_refused(folder, now);
}

bool junk_or_trash(const FolderInfo& folder) {
    return has_special_use(folder.special_use, "\\Junk") ||
           has_special_use(folder.special_use, "\\Trash");
}

// What this folder does with a message a folder before it uploaded. A
// mirror keeps a copy per folder: it would delete what it did not copy.
// Spam and Trash are no labels, and never a message's primary label.
Result<ShareMode> share_mode(Target& target, const FolderInfo& from, const FolderInfo& to,
                             const PushRunOptions& options) {
    if (options.mirror) return ShareMode::off;
    if (options.labels == Labels::primary)
        return junk_or_trash(from) ? ShareMode::off : ShareMode::primary;
    auto sharing = target.sharing(to);
    if (!sharing) return std::unexpected(sharing.error());
    switch (*sharing) {
    case Sharing::label:
        return ShareMode::label;
    case Sharing::always:
        return ShareMode::there;
    case Sharing::copy:
        break;
    }
    return ShareMode::off;
}

// Labels the copies that other folders uploaded; one the target no longer
// has is uploaded here after all. The target folder is opened again for
// the appends that follow.
Result<TargetFolder> label_shared(Target& target, const FolderInfo& to, SharedPlan& shared,
                                  PushPlan& plan, FolderReport& report) {
    std::vector<Uploaded> where;
    for (const auto& m : shared.label)
        where.push_back(m.where);
    auto missing = target.also_in(to, where);
    if (!missing) return std::unexpected(missing.error());
    for (auto i : *missing) {
        plan.copy.push_back(shared.label[i].id);
        shared.identity.emplace(shared.label[i].id, shared.label[i].identity);
    }
    report.linked += shared.label.size() - missing->size();
    report.planned += missing->size();
    return target.open(to);
}

} // namespace

void RunRefusals::add(const std::string& folder, const std::vector<MessageProblem>& failed) {
    std::lock_guard lock(m_mutex);
    auto& kept = m_failed[folder];
    for (const auto& f : failed)
        if (std::none_of(kept.begin(), kept.end(),
                         [&](const MessageProblem& k) { return k.id == f.id; }))
            kept.push_back(f);
}

std::vector<MessageProblem> RunRefusals::of(const std::string& folder) const {
    std::lock_guard lock(m_mutex);
    auto it = m_failed.find(folder);
    return it == m_failed.end() ? std::vector<MessageProblem>{} : it->second;
}

FolderOutcome push_folder(Source& source, Target& target, PushState& state, const FolderInfo& from,
                          const FolderInfo& to, const PushRunOptions& options, Progress& progress) {
    FolderOutcome out;
    FolderReport& report = out.report;
    report.folder = from.display();
    report.target_folder = target.target_name(to);
    auto failed = [&](Failure f) {
        report.error = f.what;
        out.failure = std::move(f);
        progress.folder_finished(report);
        return out;
    };
    auto mode = share_mode(target, from, to, options);
    if (!mode) return failed(mode.error());
    OpenRequest request;
    // A filtered listing comes whole: copy_parts() would copy each part whole.
    // So does one shared with other folders: share_plan() looks at it whole.
    if (!options.dry_run && options.filter.empty() && *mode == ShareMode::off)
        request.part_size = options.list_part;
    // A mirror must see every source message to keep its copy on the target.
    if (!options.mirror) request.filter = options.filter;
    auto snap = source.open(from, request);
    if (!snap) return failed(snap.error());
    auto folder = open_target(target, to, options.dry_run);
    if (!folder) return failed(folder.error());
    const std::string key = from.display();
    auto interrupted = state.copying(key);
    if (!interrupted) return failed(interrupted.error());
    if (*interrupted && !options.dry_run && folder->exists) {
        folder = settle_target(target, to, std::move(*folder), options, progress);
        if (!folder) return failed(folder.error());
    }
    auto mapping = load_mapping(state, key, *snap, *folder, options.dry_run);
    if (!mapping) return failed(mapping.error());
    // Only into an empty target, with nothing recorded of it, can each part
    // be planned alone: nothing there to match, re-flag or delete, so a
    // part's plan is to copy it. Anything else is planned on the whole.
    if (snap->listing == ListingKind::parts &&
        (!folder->messages.empty() || !mapping->entries.empty()))
        if (auto s = gather_parts(source, *snap); !s) return failed(s.error());
    const bool in_parts = snap->listing == ListingKind::parts;
    report.found = in_parts || snap->narrowed ? snap->total : snap->messages.size();
    auto keys = match_keys(source, target, *snap, *folder, *mapping);
    if (!keys) return failed(keys.error());

    PushPlan plan =
        plan_push(*snap, *keys, *folder, *mapping, PushOptions{options.mirror, options.filter});
    auto shared = share_plan(source, state, *snap, *keys, plan, *mode);
    if (!shared) return failed(shared.error());
    report.linked = shared->there + (options.dry_run ? shared->label.size() : 0);
    report.elsewhere = shared->elsewhere;
    report.held = plan.already;
    report.filtered = plan.filtered + left_unlisted(*snap);
    // Into an empty target, all of a folder listed in parts is to be copied:
    // a run that fails part way counts the parts it never reached as failed.
    report.planned = in_parts ? snap->total : plan.copy.size();
    report.planned_deletions = plan.remove.size();
    report.rematched = plan.adopt.size();
    if (auto why = mirror_guard(folder->messages.size(), plan.remove.size(), report.found,
                                options.max_delete_share);
        why && !options.force)
        return failed(Failure{ErrorKind::usage, Scope::folder,
                              report.folder + ": mirror refused: " + *why +
                                  "; rerun with --force to allow it"});
    if (!options.dry_run)
        fit_to_budget(options.budget, snap->messages, plan.copy, report.deferred,
                      report.deferred_bytes);
    start_folder(progress, folder_label(report), *snap, plan.copy.size(),
                 plan.copy_bytes - std::min(plan.copy_bytes, report.deferred_bytes));
    if (options.dry_run) {
        report.flags_updated = plan.flags.size();
        progress.folder_finished(report);
        return out;
    }
    if (*mode != ShareMode::off)
        if (auto s = record_adopted(state, *snap, *keys, plan, {to.path, folder->validity, 0}); !s)
            return failed(s.error());
    // From here on only the plan is needed: give back both listings, the
    // mapping and the keys before the copy, where a big folder's peak is.
    release(snap->messages);
    release(folder->messages);
    release(mapping->entries);
    release(*keys);
    if (auto s = record_plan(state, key, plan); !s) return failed(s.error());
    for (const auto& [uid, flags] : plan.flags) {
        if (auto s = target.set_flags(uid, flags); !s) return failed(s.error());
        ++report.flags_updated;
    }
    if (!shared->label.empty()) {
        folder = label_shared(target, to, *shared, plan, report);
        if (!folder) return failed(folder.error());
        release(folder->messages);
    }
    // The budget may leave a first part nothing to copy, yet a later part some.
    const bool copies = !plan.copy.empty() || snap->more;
    if (copies)
        if (auto s = state.set_copying(key, true); !s) return failed(s.error());
    RecordingAppend recorder(state, key, progress);
    recorder.share(std::move(shared->identity), Uploaded{to.path, folder->validity, 0});
    const auto earlier =
        options.refusals ? options.refusals->of(key) : std::vector<MessageProblem>{};
    recorder.failed() = earlier;
    Status copied = copy_all(source, target, plan, recorder, options.fetch_chunk, earlier);
    if (copied && snap->more)
        copied = copy_parts(source, target, *snap, recorder, report, options, earlier);
    report.fetched = recorder.count();
    report.bytes = recorder.bytes();
    // What the budget left for the next run is neither failed nor vanished.
    std::size_t missing =
        report.planned - std::min(report.planned, report.fetched + report.deferred);
    report.failed_messages = std::move(recorder.failed());
    report.changed_messages = std::move(recorder.changed_messages());
    if (!copied) {
        // The engine resumes the folder on a new session: what failed on
        // this one is not tried again there.
        if (copied.error().scope == Scope::session && options.refusals)
            options.refusals->add(key, report.failed_messages);
        report.failed = missing;
        return failed(copied.error());
    }
    if (auto s = remember_refusals(state, key, report.failed_messages); !s)
        return failed(s.error());
    if (!report.failed_messages.empty()) {
        // The rest is on the target; the refused ones are tried again next
        // run. Every append was answered: nothing for a rerun to wait for.
        if (auto s = state.set_copying(key, false); !s) return failed(s.error());
        report.failed = report.failed_messages.size();
        report.vanished = missing - std::min(missing, report.failed);
        return failed(
            Failure{ErrorKind::protocol, Scope::message,
                    report.folder + ": " + describe_failed(report.failed_messages, "copied")});
    }
    report.vanished = missing;
    if (copies || *interrupted)
        if (auto s = state.set_copying(key, false); !s) return failed(s.error());
    if (!plan.remove.empty()) {
        if (auto s = target.remove(plan.remove); !s) return failed(s.error());
        report.deleted = plan.remove.size();
    }
    progress.folder_finished(report);
    return out;
}

} // namespace mf
