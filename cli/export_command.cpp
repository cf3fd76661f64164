// `mailferry export ARCHIVE DEST`: an archive's folders written out as .eml
// files or mbox files (backends/export), for people and programs that read
// mail files rather than servers. The archive is only read, and not locked:
// an export may run while a backup writes the archive.
#include "backends/export/sinks.h"
#include "backends/maildir/archive_source.h"
#include "backends/open/archive.h"
#include "backends/open/store_source.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/filter_args.h"
#include "cli/folder_accounting.h"
#include "cli/folder_map.h"
#include "cli/output.h"
#include "sync/export.h"

#include <cstdint>
#include <filesystem>
#include <iostream>

namespace mf::cli {

namespace {

Failure usage(std::string what) {
    return Failure{ErrorKind::usage, Scope::account, std::move(what)};
}

// ---- the archive, read without its lock --------------------------------

struct ArchiveReader {
    std::unique_ptr<archive::Archive> archive; // an mbox archive, read through its store
    std::unique_ptr<Source> source;
};

Result<ArchiveReader> open_archive(const std::string& root) {
    auto state = archive::Archive::read_state(root); // refuses what is no archive
    if (!state) return std::unexpected(state.error());
    auto format = (*state)->meta("format");
    if (!format) return std::unexpected(format.error());
    warn_of_lost_names(**state);
    ArchiveReader r;
    if (archive::parse_format(*format) != archive::Format::mbox) {
        r.source = std::make_unique<maildir::ArchiveSource>(root);
        return r;
    }
    auto identity = (*state)->meta("source");
    if (!identity) return std::unexpected(identity.error());
    auto opened = archive::Archive::open(
        {root, archive::Format::mbox, *identity, archive::Mode::read_unlocked});
    if (!opened) return std::unexpected(opened.error());
    r.archive = std::move(*opened);
    r.source = std::make_unique<archive::StoreSource>(r.archive->db(), r.archive->store());
    return r;
}

// DEST inside the archive would put the export among the archive's folders.
Status check_dest(const ExportArgs& args) {
    namespace fs = std::filesystem;
    std::error_code ec;
    auto root = fs::weakly_canonical(args.archive, ec);
    auto dest = fs::weakly_canonical(args.dest, ec);
    auto rel = dest.lexically_relative(root);
    if (!ec && !rel.empty() && *rel.begin() != "..")
        return std::unexpected(usage("DEST " + args.dest + " is inside the archive " +
                                     args.archive + "; export to a folder outside it"));
    return {};
}

// ---- the run ---------------------------------------------------------------

struct Totals {
    std::size_t exported = 0, left_out = 0, failed = 0, failed_folders = 0;
};

void print_folder(const FolderInfo& folder, const ExportCounts& c, bool quiet) {
    for (const auto& p : c.failed)
        std::cerr << "warning: " << printable(folder.display()) << ": message " << printable(p.id)
                  << " not exported: " << printable(p.what) << '\n';
    if (quiet) return;
    std::cout << printable(folder.display()) << ": " << c.exported << " exported";
    if (c.left_out) std::cout << ", " << c.left_out << " left out by the filters";
    if (!c.failed.empty()) std::cout << ", " << c.failed.size() << " failed";
    std::cout << '\n';
}

Totals export_all(Source& source, const std::vector<FolderInfo>& folders,
                  const MessageFilter& filter, ExportSink& sink, bool quiet) {
    Totals t;
    for (const auto& folder : folders) {
        auto counts = export_folder(source, folder, filter, sink);
        if (!counts) {
            std::cerr << "error: " << printable(folder.display()) << ": "
                      << printable(counts.error().what) << '\n';
            ++t.failed_folders;
            continue;
        }
        print_folder(folder, *counts, quiet);
        t.exported += counts->exported;
        t.left_out += counts->left_out;
        t.failed += counts->failed.size();
    }
    return t;
}

} // namespace

int run_export(const ExportArgs& args) {
    auto filter = make_filter(args.filter);
    if (!filter) return report_failure(filter.error(), false);
    if (auto s = check_dest(args); !s) return report_failure(s.error(), false);
    auto reader = open_archive(args.archive);
    if (!reader) return report_failure(reader.error(), false);
    auto all = reader->source->list_folders();
    if (!all) return report_failure(all.error(), false);
    auto dest = exporting::Destination::open(args.dest);
    if (!dest) return report_failure(dest.error(), false);
    std::unique_ptr<ExportSink> sink;
    if (args.as == "mbox")
        sink = std::make_unique<exporting::MboxExport>(*dest);
    else
        sink = std::make_unique<exporting::EmlExport>(*dest);
    auto folders = select_folders(*all, args.folders, args.excludes);
    Totals t = export_all(*reader->source, folders, *filter, *sink, args.quiet);
    sink.reset(); // drops what a failed folder left unfinished
    if (auto s = dest->sync(); !s) return report_failure(s.error(), false);
    if (!args.quiet)
        std::cout << t.exported << " messages exported to " << printable(args.dest) << " from "
                  << folders.size() << " folders" << (t.left_out ? ", " : "")
                  << (t.left_out ? std::to_string(t.left_out) + " left out by the filters" : "")
                  << '\n';
    return t.failed || t.failed_folders ? exit_partial : exit_ok;
}

} // namespace mf::cli
