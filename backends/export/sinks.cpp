#include "backends/export/sinks.h"

#include "backends/export/names.h"

namespace mf::exporting {

namespace {

std::vector<std::string> safe_components(const FolderInfo& folder) {
    std::vector<std::string> out;
    for (const auto& c : folder.path)
        out.push_back(folder_component(c));
    return out;
}

std::string joined(const std::vector<std::string>& components, std::size_t count) {
    std::string out;
    for (std::size_t i = 0; i < count; ++i)
        out += components[i] + '/';
    return out;
}

} // namespace

std::string NameSet::claim(const std::string& dir, const std::string& name) {
    std::string candidate = name;
    for (std::size_t n = 2; !m_used.insert(dir + candidate).second; ++n)
        candidate = numbered(name, n);
    return candidate;
}

Status FileExport::flush() {
    auto s = m_file->write(m_buffer);
    m_buffer.clear();
    return s;
}

// ---- .eml files -----------------------------------------------------------

Status EmlExport::begin_folder(const FolderInfo& folder) {
    abandon();
    m_dir.reset();
    m_names.clear();
    auto components = safe_components(folder);
    components.back() = m_used.claim(joined(components, components.size() - 1), components.back());
    auto dir = m_dest.directory(components);
    if (!dir) return std::unexpected(dir.error());
    m_dir = std::move(*dir);
    return {};
}

Status EmlExport::end_folder() {
    m_dir.reset();
    return {};
}

Status EmlExport::begin(std::uint64_t) {
    abandon();
    auto file = OutFile::create(*m_dir);
    if (!file) return std::unexpected(file.error());
    m_file.emplace(std::move(*file));
    m_crlf = mail::CrlfToLf{};
    m_headers = mail::HeaderScanner{};
    return {};
}

// The archive keeps LF line ends, and so does the exported file: the
// bytes are those of the archive's copy.
Status EmlExport::write(std::string_view chunk) {
    if (!m_headers.done()) m_headers.feed(chunk);
    m_crlf.feed(chunk, m_buffer);
    return full() ? flush() : Status{};
}

Status EmlExport::finish(const RemoteMessage& message) {
    m_crlf.finish(m_buffer);
    m_headers.finish();
    if (auto s = flush(); !s) return s;
    std::string name =
        m_names.claim("", eml_name(message.internal_date, m_headers.subject(), message.id));
    auto s = m_file->commit(name);
    m_file.reset();
    return s;
}

void EmlExport::abandon() {
    m_file.reset();
    m_buffer.clear();
}

// ---- mbox files -----------------------------------------------------------

Status MboxExport::begin_folder(const FolderInfo& folder) {
    abandon();
    m_file.reset();
    m_dir.reset();
    auto components = safe_components(folder);
    std::string parent = joined(components, components.size() - 1);
    m_name = m_used.claim(parent, components.back() + ".mbox");
    components.pop_back();
    auto dir = m_dest.directory(components);
    if (!dir) return std::unexpected(dir.error());
    m_dir = std::move(*dir);
    auto file = OutFile::create(*m_dir);
    if (!file) return std::unexpected(file.error());
    m_file.emplace(std::move(*file));
    return {};
}

// An empty folder gives an empty mbox: the folder is there, with nothing
// in it, as in the archive.
Status MboxExport::end_folder() {
    if (!m_file) return lost();
    auto s = m_file->commit(m_name);
    m_file.reset();
    m_dir.reset();
    return s;
}

// The From_ line's date is known only at finish(): a placeholder of the same
// length goes first (from_line() always gives the same length for one
// sender), overwritten then.
Status MboxExport::begin(std::uint64_t) {
    abandon();
    if (!m_file) return lost();
    m_start = m_file->size();
    m_buffer = mbox::from_line(0);
    m_encoder.emplace(m_buffer);
    return {};
}

Status MboxExport::write(std::string_view chunk) {
    m_encoder->feed(chunk);
    return full() ? flush() : Status{};
}

Status MboxExport::finish(const RemoteMessage& message) {
    m_encoder->finish();
    m_encoder.reset();
    if (auto s = flush(); !s) return s;
    return m_file->write_at(m_start, mbox::from_line(message.internal_date));
}

// Cuts the file back to where the message began; a file that cannot be
// cut is dropped, and the folder fails (begin, end_folder).
void MboxExport::abandon() {
    m_buffer.clear();
    if (!m_encoder) return;
    m_encoder.reset();
    if (!m_file->truncate(m_start)) m_file.reset();
}

Status MboxExport::lost() const {
    return fail(ErrorKind::local_io, Scope::folder,
                "cannot cut a failed message out of " + m_dir->path + '/' + m_name);
}

} // namespace mf::exporting
