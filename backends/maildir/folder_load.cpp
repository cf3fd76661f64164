#include "backends/maildir/folder.h"

#include <sys/stat.h>

#include <fstream>
#include <unordered_set>

namespace mf::maildir {

namespace {

// Reads the header block of a message file to find its Message-ID: needed
// only for files adopted without a database row.
std::string message_id_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    mail::HeaderScanner scanner;
    char buf[8192];
    while (!scanner.done() && in.read(buf, sizeof buf).gcount() > 0)
        scanner.feed(std::string_view(buf, static_cast<std::size_t>(in.gcount())));
    return scanner.message_id();
}

std::int64_t mtime_of(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? static_cast<std::int64_t>(st.st_mtime) : 0;
}

} // namespace

Result<FolderState> MaildirFolder::load() {
    return load_rows(true);
}

// The database is exact here (the caller's token says the folder is as the
// last complete run left it): one indexed lookup a listed message, and no
// directory listing unless a flag change needs a file (locate()).
Result<std::vector<HeldMessage>>
MaildirFolder::held_among(const std::vector<RemoteMessage>& listed) {
    m_keywords.parse(fs::read_small_file(m_dir + "/dovecot-keywords"));
    if (auto s = clean_tmp(); !s) return std::unexpected(s.error());
    return m_db.held_among(m_record.key, listed);
}

Result<FolderState> MaildirFolder::load_brief() {
    return load_rows(false);
}

Result<FolderState> MaildirFolder::load_rows(bool with_message_ids) {
    m_keywords.parse(fs::read_small_file(m_dir + "/dovecot-keywords"));
    if (auto s = scan(); !s) return std::unexpected(s.error());
    const auto& files = m_scan.files;
    FolderState state;
    state.known = m_record.known;
    state.validity = m_validity;
    state.held.reserve(files.size()); // once: growth by doubling could nearly double it
    std::vector<bool> matched(files.size());
    std::vector<std::string> stale;
    // Row by row: a folder of 50 000 messages is not held twice.
    auto rows = m_db.each_message(
        m_record.key,
        [&](archive::StoredMessage&& row) {
            auto index = m_scan.find(row.location);
            if (!index || matched[*index]) { // deleted by hand: forget it, fetch again
                stale.push_back(std::move(row.id));
                return;
            }
            matched[*index] = true;
            auto parsed = parse_name(files[*index].name());
            Flags flags = parsed ? info_to_flags(parsed->info_flags, m_keywords) : row.flags;
            // Keywords beyond the 26 letters live only in the database.
            for (const auto& k : row.flags.keywords)
                if (!m_keywords.letter_for(k, false)) flags.keywords.push_back(k);
            normalize(flags);
            state.held.push_back(HeldMessage{std::move(row.id), std::move(flags), row.size,
                                             std::move(row.message_id), row.date,
                                             static_cast<SourceState>(row.source_state),
                                             std::move(row.identity), std::move(row.labels)});
        },
        with_message_ids);
    if (!rows) return std::unexpected(rows.error());
    auto adopted = adopt_unrecorded(matched, state);
    if (!adopted) return std::unexpected(adopted.error());
    // Read-only (verify, a restore's source), what was found is used as
    // found and the database is left as it is.
    if (!m_read_only &&
        (!stale.empty() || !adopted->empty() || (!m_record.known && !state.held.empty()))) {
        if (auto s = m_db.begin(); !s) return std::unexpected(s.error());
        Status s;
        for (const auto& id : stale)
            if (s) s = m_db.remove(m_record.key, id);
        for (const auto& row : *adopted)
            if (s) s = m_db.put(m_record.key, row);
        if (s && !m_record.known) s = m_db.set_validity(m_record.key, m_validity);
        if (s) s = m_db.commit();
        if (!s) {
            m_db.rollback();
            return std::unexpected(s.error());
        }
    }
    if (!m_record.known && !state.held.empty()) {
        m_record = {m_record.key, true, m_validity};
        state.known = true;
    }
    return state;
}

// Files the database does not know: adopt those named for this folder's
// current validity (a crash came between rename and commit, or the database
// was lost). Others stay in the archive, unmatched. A file named by an id's
// digest cannot be adopted here, its id being unknown: it waits in
// m_by_digest for finish() to see that id.
Result<std::vector<archive::StoredMessage>>
MaildirFolder::adopt_unrecorded(const std::vector<bool>& matched, FolderState& state) {
    std::vector<archive::StoredMessage> adopted;
    m_by_digest.clear();
    std::unordered_set<std::string> held_ids; // filled at the first candidate: crashes are rare
    for (std::size_t i = 0; i < m_scan.files.size(); ++i) {
        if (matched[i]) continue;
        const OnDisk& file = m_scan.files[i];
        auto parsed = parse_name(file.name());
        if (!parsed || validity_of(parsed->unique) != m_validity) continue;
        if (parsed->id_digest) m_by_digest.emplace(*parsed->id_digest, file); // a twin: first kept
        if (!parsed->id) continue;
        if (held_ids.empty())
            for (const auto& h : state.held)
                held_ids.insert(h.id);
        if (!held_ids.insert(*parsed->id).second) continue; // a duplicate file: keep, don't track
        archive::StoredMessage row{*parsed->id,
                                   base_of(file.name()),
                                   info_to_flags(parsed->info_flags, m_keywords),
                                   parsed->crlf_size.value_or(0),
                                   message_id_of(path_of(file)),
                                   mtime_of(path_of(file)),
                                   0};
        state.held.push_back(HeldMessage{row.id, row.flags, row.size, row.message_id, row.date});
        adopted.push_back(std::move(row));
    }
    return adopted;
}

// A message whose id is too long for a name arrives while a file named by
// that id's digest, with the same size, waits unrecorded (a crash between
// rename and commit, or a lost database): that file is this message, and it
// is recorded instead of a second copy. The message was downloaded again,
// since load() could not know its id; a duplicate would be worse. A size
// that differs means the server changed the message: both copies are kept.
std::optional<MaildirFolder::Pending> MaildirFolder::adopt_by_digest(const RemoteMessage& message) {
    if (m_by_digest.empty()) return std::nullopt;
    const std::string field = id_field(message.id);
    if (!field.starts_with(k_digest_marker)) return std::nullopt;
    if (auto held = m_db.location(m_record.key, message.id); !held || !held->empty())
        return std::nullopt;
    auto it = m_by_digest.find(field.substr(k_digest_marker.size()));
    if (it == m_by_digest.end()) return std::nullopt;
    auto parsed = parse_name(it->second.name());
    if (!parsed || parsed->crlf_size != message.size) return std::nullopt;
    const OnDisk file = it->second;
    m_by_digest.erase(it);
    archive::StoredMessage row{message.id,
                               base_of(file.name()),
                               info_to_flags(parsed->info_flags, m_keywords),
                               message.size,
                               m_headers.message_id(),
                               mtime_of(path_of(file)),
                               0};
    return Pending{"", std::string(file.name()), std::move(row), std::string(file.subdir()), {}};
}

} // namespace mf::maildir
