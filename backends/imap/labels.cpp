#include "backends/imap/labels.h"

#include "backends/common/crashpoint.h"
#include "backends/imap/fetch.h"
#include "backends/imap/source.h"
#include "backends/imap/target.h"
#include "backends/imap/uid_set.h"

#include <map>
#include <set>

namespace mf::imap {

// The system labels and what is no label, from
// https://developers.google.com/gmail/imap/imap-extensions ("X-GM-LABELS":
// \Inbox, \Sent, \Important, \Starred, \Draft; "Special-Use Extension of the
// LIST command" for the attributes). All Mail shows every message but Spam
// and Trash, so a message uploaded anywhere else is there already; Spam and
// Trash are not labels: a message there is uploaded there.
FolderLabel gmail_label(bool inbox, std::string_view uses, std::string_view wire) {
    if (inbox) return {Sharing::label, "\\Inbox"};
    if (has_special_use(uses, "\\All")) return {Sharing::always, {}};
    if (has_special_use(uses, "\\Trash") || has_special_use(uses, "\\Junk"))
        return {Sharing::copy, {}};
    static constexpr std::pair<std::string_view, std::string_view> k_system[] = {
        {"\\Sent", "\\Sent"},
        {"\\Drafts", "\\Draft"},
        {"\\Important", "\\Important"},
        {"\\Flagged", "\\Starred"}};
    for (const auto& [use, label] : k_system)
        if (has_special_use(uses, use)) return {Sharing::label, std::string(label)};
    return {Sharing::label, quote_string(wire)};
}

bool ImapTarget::shares_messages() const {
    return m_session->has("X-GM-EXT-1");
}

// The target's special uses, read once (one LIST) when first needed.
Result<FolderLabel> ImapTarget::label_of(const FolderInfo& folder) {
    if (!m_uses) {
        auto listed = list_all(*m_session);
        if (!listed) return std::unexpected(listed.error());
        m_uses.emplace();
        for (const auto& f : *listed)
            (*m_uses)[f.raw_name] = f.info.special_use;
    }
    const std::string wire = wire_name(folder);
    const auto it = m_uses->find(wire);
    const bool inbox = folder.path.size() == 1 && iequals(folder.path[0], "INBOX");
    return gmail_label(inbox, it == m_uses->end() ? "" : it->second, wire);
}

Result<Sharing> ImapTarget::sharing(const FolderInfo& folder) {
    if (!shares_messages()) return Sharing::copy;
    auto label = label_of(folder);
    if (!label) return std::unexpected(label.error());
    return label->sharing;
}

// UID STORE +X-GM-LABELS on the uploaded copies, a folder of them at a time
// (same page, "X-GM-LABELS"). Not .SILENT: the FETCH answers name the UIDs
// that exist, and a copy not named (removed since) is uploaded again.
Result<std::vector<std::size_t>> ImapTarget::also_in(const FolderInfo& folder,
                                                     const std::vector<Uploaded>& messages) {
    auto label = label_of(folder);
    if (!label) return std::unexpected(label.error());
    std::map<std::vector<std::string>, std::vector<std::size_t>> by_folder;
    for (std::size_t i = 0; i < messages.size(); ++i)
        by_folder[messages[i].folder].push_back(i);
    m_selected.clear();
    std::vector<std::size_t> missing;
    for (const auto& [path, indexes] : by_folder) {
        auto s = store_label(FolderInfo{path}, label->label, messages, indexes, missing);
        if (!s) return std::unexpected(s.error());
    }
    return missing;
}

Status ImapTarget::store_label(const FolderInfo& where, const std::string& label,
                               const std::vector<Uploaded>& messages,
                               const std::vector<std::size_t>& indexes,
                               std::vector<std::size_t>& missing) {
    std::uint32_t validity = 0;
    auto r = m_session->run("SELECT " + quote_string(wire_name(where)),
                            [&](const Response& resp) -> Status {
                                if (resp.status == "OK" && resp.code.size() >= 2 &&
                                    is_atom(resp.code[0], "UIDVALIDITY"))
                                    validity = to_u32(resp.code[1]).value_or(0);
                                return {};
                            });
    if (!r) return std::unexpected(r.error());
    std::vector<std::uint32_t> uids;
    for (auto i : indexes)
        if (r->status == "OK" && messages[i].validity == validity) uids.push_back(messages[i].uid);
    std::set<std::uint32_t> found;
    for (const auto& set : uid_sets(uids, k_max_uid_set_chars)) {
        auto stored = m_session->run_ok("UID STORE " + set + " +X-GM-LABELS (" + label + ")",
                                        "adding a label", [&](const Response& resp) -> Status {
                                            if (auto d = parse_fetch(resp); d && d->uid)
                                                found.insert(*d->uid);
                                            return {};
                                        });
        if (!stored) return std::unexpected(stored.error());
        test::durable_step("target labels stored");
    }
    for (auto i : indexes)
        if (!found.contains(messages[i].uid) || messages[i].validity != validity)
            missing.push_back(i);
    return {};
}

} // namespace mf::imap
