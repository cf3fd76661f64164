// `mailferry status ARCHIVE`: what an archive holds and how its last runs
// went, read from its state database without locking or changing anything.
// `mailferry verify SOURCE ARCHIVE`: the archive compared with the server.
#include "backends/archive/folder_path.h"
#include "backends/open/archive.h"
#include "cli/commands.h"
#include "cli/connect.h"
#include "cli/exit_codes.h"
#include "cli/folder_accounting.h"
#include "cli/folder_map.h"
#include "cli/output.h"
#include "sync/verify.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>
#include <iostream>

namespace mf::cli {

namespace {

std::string when(std::int64_t t) {
    if (t == 0) return "never";
    std::time_t tt = static_cast<std::time_t>(t);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&tt));
    return buf;
}

nlohmann::json verify_json(const VerifyReport& r) {
    nlohmann::json j{{"folder", r.folder},
                     {"found", r.found},
                     {"held", r.held},
                     {"matches", r.matches()},
                     {"uidvalidity_changed", r.validity_changed},
                     {"missing", r.missing},
                     {"extra", r.extra},
                     {"flags_differ", r.flags_differ},
                     {"size_differ", r.size_differ},
                     {"size_misreported", r.size_misreported},
                     {"content_differ", r.content_differ}};
    if (!r.error.empty()) j["error"] = r.error;
    return j;
}

void print_verify(const VerifyReport& r) {
    std::cout << printable(r.folder) << ": " << r.found << " on the server, " << r.held << " held";
    if (!r.error.empty()) {
        std::cout << ", ERROR: " << printable(r.error) << '\n';
        return;
    }
    if (r.validity_changed) std::cout << ", UIDVALIDITY changed since the last backup (run backup)";
    auto list = [](const char* what, const std::vector<std::string>& ids) {
        if (ids.empty()) return;
        std::cout << ", " << ids.size() << ' ' << what;
    };
    list("missing from the archive", r.missing);
    list("only in the archive", r.extra);
    list("with other flags", r.flags_differ);
    list("with another size", r.size_differ);
    list("with other content", r.content_differ);
    list("whose size the server misreports (warning)", r.size_misreported);
    std::cout << (r.matches() ? ": OK\n" : ": DIFFERENT\n");
}

using Summaries = std::vector<archive::StateDb::FolderSummary>;

// What a person or a monitor must tell apart (issue 21): an archive no login
// has bound yet (a first run that failed before it), one that no run has
// backed up a folder of in full, one whose last run of a folder failed, and
// a healthy one.
std::string archive_state(const std::string& source, const Summaries& folders) {
    if (source.empty()) return "empty";
    if (std::none_of(folders.begin(), folders.end(),
                     [](const auto& f) { return f.last_success != 0; }))
        return "never_completed";
    if (std::any_of(folders.begin(), folders.end(),
                    [](const auto& f) { return !f.last_error.empty(); }))
        return "failing";
    return "ok";
}

void print_state(const std::string& state) {
    if (state == "empty")
        std::cout << "empty: no backup has logged in yet (a first run that failed leaves this; "
                     "the next backup adopts the archive)\n";
    else if (state == "never_completed")
        std::cout << "never completed: no folder has been backed up in full yet\n";
}

using LabelCounts = std::vector<std::pair<std::string, std::size_t>>;

// "labels: \Inbox 120, Work 12" (Gmail's labels as its listing named them).
void print_labels(const LabelCounts& labels) {
    if (labels.empty()) return;
    std::string line = "labels:";
    for (std::size_t i = 0; i < labels.size(); ++i)
        line +=
            (i ? ", " : " ") + printable(labels[i].first) + ' ' + std::to_string(labels[i].second);
    std::cout << line << '\n';
}

} // namespace

int run_status(const StatusArgs& args) {
    auto db = archive::Archive::read_state(args.archive);
    if (!db) return report_failure(db.error(), args.json);
    auto source = (*db)->meta("source");
    auto format = (*db)->meta("format");
    auto folders = (*db)->summaries();
    auto labels = (*db)->label_counts();
    if (!source || !format || !folders || !labels)
        return report_failure(!source   ? source.error()
                              : !format ? format.error()
                              : !labels ? labels.error()
                                        : folders.error(),
                              args.json);
    const std::string state = archive_state(*source, *folders);
    const int code = state == "ok" ? exit_ok : exit_partial;
    nlohmann::json j{{"archive", args.archive},
                     {"source", *source},
                     {"format", *format},
                     {"state", state},
                     {"folders", nlohmann::json::array()},
                     {"labels", nlohmann::json::object()}};
    for (const auto& [label, count] : *labels)
        j["labels"][label] = count;
    for (const auto& f : *folders) {
        j["folders"].push_back({{"folder", folder_name(f)},
                                {"messages", f.messages},
                                {"last_run", f.last_run},
                                {"last_success", f.last_success},
                                {"last_error", f.last_error}});
    }
    if (args.json) {
        std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
        return code;
    }
    std::cout << "archive: " << printable(args.archive) << " ("
              << (format->empty() ? "no format yet" : *format)
              << ")\nsource:  " << (source->empty() ? "none yet" : printable(*source)) << '\n';
    print_state(state);
    print_labels(*labels);
    for (const auto& f : *folders) {
        std::string line = pad_to("  " + printable(folder_name(f)), 28);
        std::cout << line << ' ' << f.messages << " messages, last success "
                  << when(f.last_success);
        if (!f.last_error.empty())
            std::cout << ", last run " << when(f.last_run)
                      << " FAILED: " << printable(f.last_error);
        std::cout << '\n';
    }
    return code;
}

int run_verify(const VerifyArgs& args) {
    auto endpoint = make_endpoint(args.connection);
    if (!endpoint) return report_failure(endpoint.error(), args.json);
    // In the format it holds; nothing written.
    auto archive = archive::Archive::open(
        {args.archive, std::nullopt, endpoint->identity(), archive::Mode::read_only});
    if (!archive) return report_failure(archive.error(), args.json);
    auto source = connect_source(*endpoint, args.connection.debug);
    if (!source) return report_failure(source.error(), args.json);
    auto all = (*source)->list_folders();
    if (!all) return report_failure(all.error(), args.json);
    bool match = true;
    nlohmann::json reports = nlohmann::json::array();
    for (const auto& folder : select_folders(*all, args.folders, args.excludes)) {
        VerifyReport r = verify_folder(**source, (*archive)->store(), folder, args.deep);
        match &= r.matches();
        if (args.json)
            reports.push_back(verify_json(r));
        else
            print_verify(r);
    }
    int code = match ? exit_ok : exit_partial;
    if (args.json)
        std::cout << nlohmann::json{{"ok", match}, {"exit_code", code}, {"folders", reports}}.dump(
                         2, ' ', false, nlohmann::json::error_handler_t::replace)
                  << '\n';
    return code;
}

} // namespace mf::cli
