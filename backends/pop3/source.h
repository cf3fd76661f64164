// A POP3 mailbox as a backup source: one folder, INBOX, messages known by
// their UIDL (RFC 1939 7). Messages are read with TOP n <huge> rather than
// RETR, because servers that also speak IMAP (Dovecot among them) mark a
// RETRieved message \Seen; TOP leaves it alone (fetchmail's keep mode does
// the same). RETR is used only where TOP is refused, and the run says so.
#pragma once

#include "backends/pop3/listing.h"
#include "backends/pop3/session.h"
#include "sync/source.h"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mf::pop3 {

class Pop3Source : public Source {
  public:
    explicit Pop3Source(std::unique_ptr<Session> session);
    Result<std::vector<FolderInfo>> list_folders() override;
    using Source::open;
    Result<Snapshot> open(const FolderInfo& folder, const OpenRequest& request) override;
    Status next_part(Snapshot& snap) override;
    Status fetch(std::span<const std::string> ids, MessageSink& sink) override;
    Result<std::vector<MessageKey>> keys(const std::vector<std::string>& ids) override;
    Status remove(const std::vector<std::string>& ids) override;
    Status close() override;
    std::string caveat() const override;

  private:
    Status read_capabilities();
    Status list_mailbox(const FolderInfo& folder); // fills m_listing
    // Each fills m_listing: LIST the numbers and sizes, UIDL or TOP n 0 the ids.
    Status list_sizes();
    Status list_uidls();
    Status fingerprint_ids();
    std::string retrieve_command(std::uint32_t number) const;
    Status fetch_one(std::uint32_t number, const std::string& id, MessageSink& sink);
    void note(std::string text);
    // Dates `m` (message number `n`) from its header when m_filter needs dates.
    Status date_for_filter(std::uint32_t n, RemoteMessage& m);

    std::unique_ptr<Session> m_session;
    bool m_pipelining = false;
    bool m_use_retr = false; // TOP was refused
    Listing m_listing;       // what LIST and UIDL said
    MessageFilter m_filter;  // the open request's: dates are read only for one
    std::size_t m_next = 0,
                m_part_size = 0; // the listing handed out so far, and how much at a time
    std::vector<std::string> m_caveats;
};

// "fp-<16 hex>-<size>": an id for servers without UIDL, from the header block.
std::string fingerprint_id(std::string_view header_block, std::uint64_t size);

// RFC 1939 allows UIDLs of 70 characters, but the session accepts lines of
// 8 MiB. Every store must be able to write an id down: an mbox index line
// holds at most 64 KiB, and an escaped id takes up to 3 bytes per byte (an id
// past that was left out of the index, so its message was cut from the mbox
// at the next run, after --delete-after-download had removed it).
inline constexpr std::size_t k_max_uidl = 16 * 1024;
// The id of a message with this UIDL: the UIDL itself up to k_max_uidl bytes,
// else "uidl-<16 hex>-<length>" (FNV-1a 64 of it), stable from run to run.
// Two UIDLs mapped to one id are handled like a duplicated UIDL (the second
// message skipped and never deleted), which a hostile server can cause
// anyway, so a non-cryptographic hash is enough.
std::string bounded_uidl(std::string_view uidl);

} // namespace mf::pop3
