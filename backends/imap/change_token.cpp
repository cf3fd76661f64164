// A folder's change token (CONDSTORE: UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and
// the message count, from EXAMINE or STATUS), and the listing of only what
// changed since a known one.
#include "backends/imap/source.h"

#include "backends/imap/listing.h"
#include "backends/imap/uid_set.h"

#include <algorithm>
#include <charconv>

namespace mf::imap {

std::string condstore_token(std::uint32_t validity, std::optional<std::uint32_t> uidnext,
                            std::optional<std::uint64_t> modseq, std::uint32_t exists) {
    if (!modseq || *modseq == 0 || !uidnext) return {};
    return "imap-condstore " + std::to_string(validity) + ' ' + std::to_string(*uidnext) + ' ' +
           std::to_string(*modseq) + ' ' + std::to_string(exists);
}

std::string status_token(const StatusData& d) {
    if (!d.uidvalidity || !d.messages) return {};
    return condstore_token(*d.uidvalidity, d.uidnext, d.highestmodseq, *d.messages);
}

std::optional<ImapSource::Known> ImapSource::parse_token(const std::string& token) {
    Known k;
    std::string_view rest = token;
    if (!rest.starts_with("imap-condstore ")) return std::nullopt;
    rest.remove_prefix(15);
    auto next = [&](auto& value) {
        auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
        if (ec != std::errc()) return false;
        rest.remove_prefix(static_cast<std::size_t>(p - rest.data()));
        if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        return true;
    };
    if (!next(k.validity) || !next(k.uidnext) || !next(k.modseq) || !next(k.exists) || !rest.empty())
        return std::nullopt;
    return k;
}

// Lists only what changed since `known`, when nothing was expunged since:
// the messages that arrived since, and older ones whose flags changed
// (CHANGEDSINCE, RFC 7162). A daily run over a large folder then lists the
// few messages that changed, not the whole folder. Leaves snap.listing whole
// when the folder must be listed whole.
Status ImapSource::list_changes(const FolderInfo& folder, const Known& known, const Examined& now, Snapshot& snap) {
    // Both only grow (RFC 3501 2.3.1.1, RFC 7162 3.1.1); a server where
    // they did not is listed whole.
    if (*now.uidnext < known.uidnext || *now.modseq < known.modseq || known.uidnext == 0) return {};
    if (*now.modseq > known.modseq) {
        // A message added since has a mod-sequence above the old
        // HIGHESTMODSEQ (RFC 7162 3.1.1): one CHANGEDSINCE over the whole
        // folder names the new messages and the re-flagged old ones in one
        // round trip.
        if (auto s = list_range(folder, "1:*", changed_since(known.modseq), snap, now.exists); !s) return s;
    } else if (*now.uidnext > known.uidnext) {
        // New mail under an unchanged HIGHESTMODSEQ breaks RFC 7162: list it by UID.
        if (auto s = list_range(folder, std::to_string(known.uidnext) + ":*", "", snap, now.exists); !s) return s;
        // "N:*" names the last message even when its UID is below N.
        std::erase_if(snap.messages, [&](const auto& m) { return parse_uid(m.id) < known.uidnext; });
    }
    sort_by_uid(snap.messages); // and drops repeats, which must not count twice
    // Every message below the old UIDNEXT is still there only if the count
    // says so: those plus the new ones make EXISTS. Mail that arrived (UIDNEXT
    // moved) with none of it listed, gone since or left out by a server that
    // breaks RFC 7162, is not left to the count either: listed whole.
    auto added = std::count_if(snap.messages.begin(), snap.messages.end(),
                               [&](const auto& m) { return parse_uid(m.id) >= known.uidnext; });
    if (std::size_t{known.exists} + static_cast<std::size_t>(added) != now.exists ||
        (*now.uidnext > known.uidnext && added == 0)) {
        snap.messages.clear();
        return {};
    }
    snap.listing = ListingKind::delta;
    snap.total = now.exists;
    return {};
}

} // namespace mf::imap
