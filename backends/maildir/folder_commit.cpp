#include "backends/maildir/folder.h"

#include "backends/archive/change_token.h"
#include "backends/common/crashpoint.h"

#include <cerrno>
#include <cstdio>
#include <unistd.h>

namespace mf::maildir {

Status MaildirFolder::set_flags(const std::string& id, const Flags& flags) {
    std::optional<std::size_t> index;
    auto located = locate(id, &index);
    if (!located) return std::unexpected(located.error());
    if (!*located) return {};
    const OnDisk& file = **located;
    std::string name = with_flags(std::string(file.name()), flags_to_info(flags, m_keywords));
    if (auto s = save_keywords(); !s) return s; // before any name uses a new letter
    OnDisk moved{"cur", name};
    if (path_of(moved) != path_of(file) &&
        ::rename(path_of(file).c_str(), path_of(moved).c_str()) != 0)
        return std::unexpected(fs::io_error("cannot rename", path_of(file), errno));
    test::durable_step("maildir flags renamed");
    if (index) m_scan.files[*index] = std::move(moved); // same base: the index stays sorted
    m_flag_changes.emplace_back(id, flags);
    return {};
}

// The file goes first; the row follows at commit. A crash between leaves a
// row without a file, which load() forgets: the same end state.
Status MaildirFolder::remove(const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
        std::optional<std::size_t> index;
        auto located = locate(id, &index);
        if (!located) return std::unexpected(located.error());
        if (!*located) continue;
        const std::string path = path_of(**located);
        if (::unlink(path.c_str()) != 0 && errno != ENOENT)
            return std::unexpected(fs::io_error("cannot remove", path, errno));
        test::durable_step("maildir file removed (mirror)");
        if (index) m_scan.removed[*index] = true;
        m_removed.push_back(id);
    }
    return {};
}

Status MaildirFolder::set_change_token(const std::string& token) {
    m_change_token = token;
    return {};
}

Status MaildirFolder::set_labels(const std::string& id, const std::string& identity,
                                 const std::vector<std::string>& labels) {
    m_label_changes.push_back({id, identity, labels});
    return {};
}

Status MaildirFolder::set_source_state(const std::string& id, SourceState state) {
    m_state_changes.emplace_back(id, state);
    return {};
}

// Steps 2 to 4 of commit(): the batch's data durable, each file named in
// cur/, the names durable.
Status MaildirFolder::durable_names() {
    const std::string tmp = m_dir + "/tmp";
    auto sync = [&] {
        return m_batch_dir ? fs::sync_filesystem(m_batch_dir.get(), tmp)
                           : fs::sync_filesystem_of(tmp);
    };
    bool linked = false;
    if (!m_pending.empty()) {
        // One syncfs makes the whole batch durable, instead of an fsync per file.
        if (auto s = sync(); !s) return s;
        test::durable_step("maildir batch synced");
        for (auto& p : m_pending) {
            if (p.adopted()) continue;
            const std::string to = m_dir + "/cur/" + p.final_name;
            if (p.unnamed) {
                if (auto s = p.unnamed.link_as(to); !s) return s;
                linked = true;
                test::durable_step("maildir file linked into cur");
            } else {
                const std::string from = m_dir + "/tmp/" + p.tmp_name;
                if (::rename(from.c_str(), to.c_str()) != 0)
                    return std::unexpected(fs::io_error("cannot rename into", to, errno));
                test::durable_step("maildir file renamed into cur");
            }
        }
    }
    // A linked file's inode changed too (its link count went from 0 to 1).
    // A journal commits that with the directory's fsync; a file system
    // without one (ext2, ext4 without journal) writes it only with the
    // inode, so then one more syncfs, which writes both.
    if (auto s = linked ? sync() : fs::fsync_path(m_dir + "/cur"); !s) return s;
    test::durable_step("maildir cur synced");
    m_batch_dir.reset(); // the next batch watches from its own first message on
    return {};
}

// Order is the whole point: data durable -> renamed into cur/ -> directory
// durable -> recorded. A crash before the rename loses only tmp/ files (the
// next run fetches again); after it, the next load() adopts the files.
Status MaildirFolder::commit() {
    // An empty folder is kept too, so a restore can give it back.
    if (auto s = ensure_dirs(); !s) return s;
    if (m_pending.empty() && m_flag_changes.empty() && m_state_changes.empty() &&
        m_label_changes.empty() && m_record.known && !m_change_token && m_removed.empty())
        return {};
    if (auto s = save_keywords(); !s) return s;
    if (m_commit_failure) return std::unexpected(*m_commit_failure);
    if (auto s = durable_names(); !s) {
        m_commit_failure = s.error();
        return s;
    }
    for (auto& p : m_pending) {
        if (p.unnamed) {
            fs::drop_cached(p.unnamed.get());
            p.unnamed.close();
        } else if (!p.tmp_name.empty()) {
            fs::drop_cached(m_dir + "/cur/" + p.final_name);
        }
    }

    if (auto s = m_db.begin(); !s) return s;
    Status s;
    for (const auto& p : m_pending)
        if (s) s = m_db.put(m_record.key, p.row);
    for (const auto& [id, flags] : m_flag_changes)
        if (s) s = m_db.set_flags(m_record.key, id, flags);
    for (const auto& [id, st] : m_state_changes)
        if (s) s = m_db.set_source_state(m_record.key, id, static_cast<std::uint8_t>(st));
    for (const auto& c : m_label_changes)
        if (s) s = m_db.set_labels(m_record.key, c.id, c.identity, c.labels);
    for (const auto& id : m_removed)
        if (s) s = m_db.remove(m_record.key, id);
    // Any change in this batch makes the old token stale; a new one is only
    // given once the whole folder is held.
    if (s)
        s = m_db.set_change_token(m_record.key,
                                  archive::stamped_token(m_change_token, directory_stamp(m_dir)));
    if (s && !m_record.known) s = m_db.set_validity(m_record.key, m_validity);
    if (s) s = m_db.commit();
    if (!s) {
        m_db.rollback();
        return s;
    }
    m_record.known = true;
    m_pending.clear(); // not added to m_scan: locate() finds them
    m_flag_changes.clear();
    m_state_changes.clear();
    m_label_changes.clear();
    m_change_token.reset();
    m_removed.clear();
    return {};
}

// The database moves first: rows are rewritten to the new ids in one
// transaction. The files keep their base name, so they stay found; their U=
// and V= fields are then renamed to match, which only matters if the
// database is later lost (a crash before that rename costs nothing else).
Status MaildirFolder::revalidate(std::uint32_t validity,
                                 const std::vector<std::pair<std::string, std::string>>& renames) {
    // The rows' locations, for the file renames below.
    auto rows = m_db.messages(m_record.key);
    if (!rows) return std::unexpected(rows.error());
    std::unordered_map<std::string, archive::StoredMessage*> by_id;
    for (auto& r : *rows)
        by_id[r.id] = &r;
    if (auto s =
            m_db.rekey(m_record.key, renames, validity, [](const std::string&) { return true; });
        !s)
        return s;
    std::uint32_t old_validity = m_validity;
    m_record = {m_record.key, true, validity};
    m_validity = validity;
    for (const auto& [old_id, new_id] : renames) {
        auto row = by_id.find(old_id);
        if (row == by_id.end()) continue;
        auto index = m_scan.find(row->second->location);
        if (!index || m_scan.removed[*index]) continue;
        OnDisk& file = m_scan.files[*index];
        auto parsed = parse_name(file.name());
        if (!parsed || validity_of(parsed->unique) != old_validity) continue;
        std::string renamed =
            make_bounded_unique_part(0, 0, 0, 0, new_id, parsed->crlf_size.value_or(0));
        // Keep the base; replace the fields after it.
        std::string name = base_of(file.name()) + renamed.substr(renamed.find(',')) +
                           ",V=" + std::to_string(validity) + ":2," + parsed->info_flags;
        OnDisk to(file.subdir(), name);
        ::rename(path_of(file).c_str(), path_of(to).c_str());
        test::durable_step("maildir file renamed after UIDVALIDITY change");
        file = std::move(to); // same base: the index stays sorted
    }
    return fs::fsync_path(m_dir + "/cur");
}

} // namespace mf::maildir
