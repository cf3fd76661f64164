#include "cli/report.h"

#include "cli/exit_codes.h"
#include "cli/output.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>

namespace mf::cli {

int RunReport::decide_exit_code() const {
    // A skipped message leaves the archive short of it: partial, every run.
    const bool skipped = std::any_of(folders.begin(), folders.end(), [](const FolderReport& f) {
        return !f.skipped_messages.empty();
    });
    if (failures.empty()) return skipped ? 1 : 0;
    for (const auto& f : folders)
        if (f.left_out.empty() && (f.error.empty() || !f.failed_messages.empty()))
            return 1; // something completed: partial failure
    return exit_code_for(failures.front().kind);
}

namespace {

// A push's own names for what `fetched` and `held` count (kept for
// compatibility), and where the folder went.
void add_push_words(nlohmann::json& j, const FolderReport& f) {
    if (!f.target_folder.empty()) j["target_folder"] = f.target_folder;
    j["uploaded"] = f.fetched;
    j["already_on_target"] = f.held;
    j["in_another_folder"] = f.elsewhere; // --labels primary
}

// A folder the byte budget cut short: partial, or not begun at all.
std::string budget_words(const FolderReport& f) {
    return f.fetched ? "partial: budget reached" : "not attempted: budget reached";
}

nlohmann::json folder_json(const FolderReport& f, bool push) {
    if (!f.left_out.empty()) return {{"folder", f.folder}, {"left_out", f.left_out}};
    nlohmann::json j{{"folder", f.folder},
                     {"found", f.found},
                     {"held", f.held},
                     {"filtered", f.filtered},
                     {"planned", f.planned},
                     {"fetched", f.fetched},
                     {"failed", f.failed},
                     {"vanished", f.vanished},
                     {"flags_updated", f.flags_updated},
                     {"gone_from_source", f.gone},
                     {"bytes", f.bytes},
                     {"uidvalidity_changed", f.revalidated},
                     {"unchanged", f.unchanged},
                     {"rematched", f.rematched},
                     {"linked", f.linked},
                     {"removed_by_others", f.removed_by_others},
                     {"marked_read_by_server", f.marked_read},
                     {"marked_unread_again", f.marked_unread_again},
                     {push ? "deleted_from_target" : "deleted_from_source", f.deleted},
                     {"planned_deletions", f.planned_deletions}};
    if (!f.error.empty()) j["error"] = f.error;
    if (f.not_attempted) j["not_attempted"] = true;
    if (!f.failed_messages.empty()) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& m : f.failed_messages)
            list.push_back({{"id", m.id}, {"error", m.what}});
        j["failed_messages"] = list;
    }
    if (!f.skipped_messages.empty()) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& m : f.skipped_messages)
            list.push_back({{"id", m.id}, {"error", m.what}});
        j["skipped_messages"] = list;
    }
    if (!f.changed_messages.empty()) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& m : f.changed_messages)
            list.push_back({{"id", m.id}, {"change", m.what}});
        j["changed_messages"] = list;
    }
    if (f.sessions > 1) j["sessions"] = f.sessions;
    if (f.deferred) {
        j["budget"] = budget_words(f);
        j["deferred"] = f.deferred;
        j["deferred_bytes"] = f.deferred_bytes;
    }
    if (push) add_push_words(j, f);
    return j;
}

// A server that marks messages read when they are fetched (iCloud): the
// archive has them unread, and the server now read, unless undone.
void print_marked_read(const FolderReport& f, std::ostream& out) {
    if (f.marked_read == 0) return;
    const std::string said = f.folder + ": the server marked " + std::to_string(f.marked_read) +
                             " messages read while they were fetched";
    if (f.marked_unread_again == f.marked_read)
        out << "note: " << printable(said + "; marked unread again (--undo-server-seen)") << '\n';
    else
        out << "warning: "
            << printable(said + "; archived as unread; --undo-server-seen marks them unread on "
                                "the server again")
            << '\n';
}

// "INBOX: a final CRLF was added to 2 messages: id 1, id 3": every message
// whose bytes the target got changed, named (one kind of change so far).
std::string describe_changed(const FolderReport& f) {
    std::string line = f.folder + ": " + f.changed_messages.front().what + " to " +
                       std::to_string(f.changed_messages.size()) +
                       (f.changed_messages.size() == 1 ? " message: " : " messages: ");
    for (std::size_t i = 0; i < f.changed_messages.size(); ++i)
        line += (i ? ", id " : "id ") + f.changed_messages[i].id;
    return line;
}

} // namespace

void add_outcomes(ParallelOutcome&& outcome, RunReport& report, Progress& progress) {
    for (const auto& f : outcome.unstarted)
        progress.note("note: one more connection could not be opened (" + f.what +
                      "); went on with fewer");
    report.reconnects += outcome.reconnects;
    report.waited_seconds += std::chrono::duration<double>(outcome.waited).count();
    for (auto& slot : outcome.folders) {
        if (!slot) continue; // never: the engine accounts for every folder
        report.folders.push_back(std::move(slot->report));
        if (!slot->caveat.empty() && report.caveat.empty()) {
            report.caveat = slot->caveat;
            progress.note("note: " + slot->caveat);
        }
        if (slot->failure) report.failures.push_back(std::move(*slot->failure));
    }
}

std::uint64_t bytes_left(const RunReport& r) {
    std::uint64_t left = 0;
    for (const auto& f : r.folders)
        left += f.deferred_bytes;
    return left;
}

bool budget_reached(const RunReport& r) {
    return std::any_of(r.folders.begin(), r.folders.end(),
                       [](const FolderReport& f) { return f.deferred > 0; });
}

std::string report_json(const RunReport& r) {
    nlohmann::json totals{{"found", 0},  {"held", 0},    {"filtered", 0},      {"fetched", 0},
                          {"failed", 0}, {"skipped", 0}, {"flags_updated", 0}, {"bytes", 0}};
    nlohmann::json folders = nlohmann::json::array();
    for (const auto& f : r.folders) {
        folders.push_back(folder_json(f, r.push));
        totals["found"] = totals["found"].get<std::size_t>() + f.found;
        totals["held"] = totals["held"].get<std::size_t>() + f.held;
        totals["filtered"] = totals["filtered"].get<std::size_t>() + f.filtered;
        totals["fetched"] = totals["fetched"].get<std::size_t>() + f.fetched;
        totals["failed"] = totals["failed"].get<std::size_t>() + f.failed;
        totals["skipped"] = totals["skipped"].get<std::size_t>() + f.skipped_messages.size();
        totals["bytes"] = totals["bytes"].get<std::uint64_t>() + f.bytes;
        totals["flags_updated"] = totals["flags_updated"].get<std::size_t>() + f.flags_updated;
    }
    totals["bytes_left"] = bytes_left(r);
    if (r.push) {
        totals["uploaded"] = totals["fetched"];
        totals["already_on_target"] = totals["held"];
    }
    nlohmann::json errors = nlohmann::json::array();
    for (const auto& e : r.failures)
        errors.push_back(e.what);
    nlohmann::json j{{"ok", r.exit_code == 0},
                     {"exit_code", r.exit_code},
                     {"source", r.source},
                     {r.push ? "target" : "archive", r.archive},
                     {"dry_run", r.dry_run},
                     {"duration_seconds", r.seconds},
                     {"folders", folders},
                     {"totals", totals},
                     {"errors", errors},
                     {"reconnects", r.reconnects},
                     {"backoff_seconds", r.waited_seconds},
                     {"budget_reached", budget_reached(r)}};
    if (!r.caveat.empty()) j["caveat"] = r.caveat;
    if (r.daily_allowance)
        j["daily_budget"] = {{"allowance", *r.daily_allowance}, {"downloaded", r.daily_downloaded}};
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

// One line for the folders the run left out, naming the first few.
void print_left_out(const RunReport& r, std::ostream& out) {
    std::size_t n = 0;
    std::string names;
    for (const auto& f : r.folders) {
        if (f.left_out.empty()) continue;
        if (++n <= 5) names += (n > 1 ? "; " : "") + f.folder + " (" + f.left_out + ")";
    }
    if (n == 0) return;
    out << "note: " << n << (n == 1 ? " folder" : " folders") << " left out: " << printable(names)
        << (n > 5 ? "; ..." : "") << '\n';
}

// "fetched 7" for a backup, "7 uploaded" for a push; a dry run's "would".
std::string copied_words(const RunReport& r, std::size_t n) {
    const std::string count = std::to_string(n);
    if (r.push) return r.dry_run ? "would upload " + count : count + " uploaded";
    return (r.dry_run ? "would fetch " : "fetched ") + count;
}

// Messages held without a download: re-matched under new ids (after a
// restore) and linked from another folder (moved on the server).
void print_not_fetched(const RunReport& r, std::ostream& out) {
    std::size_t rematched = 0, linked = 0;
    for (const auto& f : r.folders) {
        rematched += f.rematched;
        linked += f.linked;
    }
    if (rematched + linked == 0) return;
    out << ", " << rematched << (r.dry_run ? " to re-match, " : " re-matched, ") << linked;
    // A push: labelled on the one copy, or in All Mail already (issue 19).
    if (r.push)
        out << (r.dry_run ? " to label" : " labelled, not uploaded again");
    else
        out << (r.dry_run ? " to link" : " linked");
}

// A push of primary labels only: what another folder took (never silent).
void print_elsewhere(const RunReport& r, std::ostream& out) {
    std::size_t elsewhere = 0;
    for (const auto& f : r.folders)
        elsewhere += f.elsewhere;
    if (elsewhere == 0) return;
    out << "note: " << elsewhere << (elsewhere == 1 ? " message" : " messages")
        << " left out: in another label's folder (--labels primary)\n";
}

// Messages the filters left out: neither fetched nor failed.
void print_filtered(const RunReport& r, std::ostream& out) {
    std::size_t filtered = 0;
    for (const auto& f : r.folders)
        filtered += f.filtered;
    if (filtered == 0) return;
    out << "note: " << filtered << (filtered == 1 ? " message" : " messages") << " left out by "
        << printable(r.filters) << '\n';
}

// "budget reached: 12.4 GB left; the next run continues", and every folder
// it cut short, named.
void print_budget(const RunReport& r, std::ostream& out) {
    if (r.daily_allowance && (budget_reached(r) || r.daily_downloaded > 0))
        out << "note: daily budget: " << human_bytes(r.daily_downloaded) << " of "
            << human_bytes(*r.daily_allowance) << " downloaded in the last day\n";
    if (!budget_reached(r)) return;
    out << "note: budget reached: " << human_bytes(bytes_left(r))
        << " left; the next run continues\n";
    for (const auto& f : r.folders)
        if (f.deferred)
            out << "note: " << printable(f.folder + ": " + budget_words(f)) << " (" << f.deferred
                << (f.deferred == 1 ? " message, " : " messages, ") << human_bytes(f.deferred_bytes)
                << " left)\n";
}

} // namespace

void print_summary(const RunReport& r, std::ostream& out) {
    std::size_t found = 0, fetched = 0, held = 0, flags = 0, failed = 0;
    std::uint64_t bytes = 0;
    for (const auto& f : r.folders) {
        found += f.found;
        fetched += r.dry_run ? f.planned : f.fetched;
        held += f.held;
        flags += f.flags_updated;
        failed += f.failed;
        bytes += f.bytes;
    }
    const auto left = std::count_if(r.folders.begin(), r.folders.end(),
                                    [](const FolderReport& f) { return !f.left_out.empty(); });
    out << (r.dry_run ? "dry run: " : "") << r.folders.size() - static_cast<std::size_t>(left)
        << " folders, " << found
        << (r.push ? " messages in the source: " : " messages on the server: ")
        << copied_words(r, fetched) << " (" << human_bytes(bytes) << "), " << held
        << (r.push ? " already on the target, " : " already held, ") << flags << " flag updates";
    print_not_fetched(r, out);
    if (failed) out << ", " << failed << " FAILED";
    std::size_t others = 0, deleted = 0, planned_del = 0;
    for (const auto& f : r.folders) {
        others += f.removed_by_others;
        deleted += f.deleted;
        planned_del += f.planned_deletions;
    }
    if (r.dry_run && planned_del)
        out << ", would delete " << planned_del
            << (r.push ? " from the target" : " from the server");
    if (!r.dry_run && deleted)
        out << ", deleted " << deleted << (r.push ? " from the target" : " from the server");
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", r.seconds);
    out << " in " << secs << " s\n";
    if (others)
        out << "warning: " << others
            << " messages were removed from the server by another client since the last run\n";
    if (!r.caveat.empty()) out << "note: " << printable(r.caveat) << '\n';
    print_filtered(r, out);
    print_budget(r, out);
    print_elsewhere(r, out);
    if (r.reconnects) {
        std::snprintf(secs, sizeof secs, "%.1f", r.waited_seconds);
        out << "note: logged in again " << r.reconnects << " times after lost connections (waited "
            << secs << " s)\n";
    }
    print_left_out(r, out);
    for (const auto& f : r.folders)
        print_marked_read(f, out);
    for (const auto& f : r.folders)
        if (!f.skipped_messages.empty())
            out << "warning: "
                << printable(f.folder + ": " + describe_failed(f.skipped_messages, "fetched"))
                << "; --skip-after 0 tries them again\n";
    for (const auto& f : r.folders)
        if (!f.changed_messages.empty()) out << "note: " << printable(describe_changed(f)) << '\n';
    for (const auto& e : r.failures)
        out << "error: " << printable(e.what) << '\n';
}

} // namespace mf::cli
