// A folder's change token (CONDSTORE: UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and
// the message count, from EXAMINE or STATUS; without CONDSTORE: UIDVALIDITY
// and UIDNEXT), and the listing of only what changed since a known one.
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

std::string uidnext_token(std::uint32_t validity, std::uint32_t uidnext) {
    return "imap-uidnext " + std::to_string(validity) + ' ' + std::to_string(uidnext);
}

std::optional<ImapSource::Known> ImapSource::parse_token(const std::string& token) {
    Known k;
    std::string_view rest = token;
    const bool condstore = rest.starts_with("imap-condstore ");
    if (!condstore && !rest.starts_with("imap-uidnext ")) return std::nullopt;
    rest.remove_prefix(condstore ? 15 : 13);
    auto next = [&](auto& value) {
        auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
        if (ec != std::errc()) return false;
        rest.remove_prefix(static_cast<std::size_t>(p - rest.data()));
        if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
        return true;
    };
    if (!next(k.validity) || !next(k.uidnext)) return std::nullopt;
    if (condstore && (!next(k.modseq) || !next(k.exists))) return std::nullopt;
    if (!rest.empty()) return std::nullopt;
    return k;
}

// Lists only what changed since `known`, when nothing was expunged since:
// the messages that arrived since, and older ones whose flags changed
// (CHANGEDSINCE, RFC 7162). A daily run over a large folder then lists the
// few messages that changed, not the whole folder. Leaves snap.listing whole
// when the folder must be listed whole.
Status ImapSource::list_changes(const FolderInfo& folder, const Known& known, const Examined& now,
                                Snapshot& snap) {
    // Both only grow (RFC 3501 2.3.1.1, RFC 7162 3.1.1); a server where
    // they did not is listed whole.
    if (*now.uidnext < known.uidnext || *now.modseq < known.modseq || known.uidnext == 0) return {};
    if (*now.modseq > known.modseq) {
        // A message added since has a mod-sequence above the old
        // HIGHESTMODSEQ (RFC 7162 3.1.1): one CHANGEDSINCE over the whole
        // folder names the new messages and the re-flagged old ones in one
        // round trip.
        if (auto s = list_range(folder, "1:*", changed_since(known.modseq), snap, now.exists); !s)
            return s;
    } else if (*now.uidnext > known.uidnext) {
        // New mail under an unchanged HIGHESTMODSEQ breaks RFC 7162: list it by UID.
        if (auto s = list_range(folder, std::to_string(known.uidnext) + ":*", "", snap, now.exists);
            !s)
            return s;
        // "N:*" names the last message even when its UID is below N.
        std::erase_if(snap.messages,
                      [&](const auto& m) { return parse_uid(m.id) < known.uidnext; });
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

// Without CONDSTORE nothing says which messages were re-flagged, but the
// archive holds the size and date of every message below the UIDNEXT of the
// last complete run. As mbsync does, those UIDs are listed with their flags
// only, and the new ones, from that UIDNEXT on, with sizes and dates. Both
// together are the whole folder only if they make EXISTS: otherwise (UIDs
// given out below the recorded UIDNEXT, a listing the server cut short)
// nothing is kept and the folder is listed whole. Expunges need no count of
// their own: every known UID still there is listed, so the ones gone are not.
Result<bool> ImapSource::list_known_and_new(const FolderInfo& folder, const Known& known,
                                            const Examined& now, Snapshot& snap) {
    // UIDNEXT only grows (RFC 3501 2.3.1.1); a server where it did not is listed whole.
    if (!now.uidnext || *now.uidnext < known.uidnext || known.uidnext == 0) return false;
    if (now.exists == 0) return true; // and "N:*" in an empty folder is an error on some servers
    std::uint32_t exists = now.exists;
    if (*now.uidnext > known.uidnext) {
        if (auto s =
                list_range(folder, std::to_string(known.uidnext) + ":*", "", snap, exists, &exists);
            !s)
            return std::unexpected(s.error());
        // "N:*" names the last message even when its UID is below N.
        std::erase_if(snap.messages,
                      [&](const auto& m) { return parse_uid(m.id) < known.uidnext; });
    }
    if (known.uidnext > 1 && exists > snap.messages.size()) {
        const std::string command = "UID FETCH 1:" + std::to_string(known.uidnext - 1) +
                                    " (UID FLAGS" + gmail_items(listing_items()) + ")";
        if (auto s = list_by(folder, command, snap, exists, &exists); !s)
            return std::unexpected(s.error());
    }
    sort_by_uid(snap.messages); // and drops repeats, which must not count twice
    if (snap.messages.size() != exists) {
        snap.messages.clear();
        return false;
    }
    return true;
}

} // namespace mf::imap
