// A POP3 mailbox as a backup source: one folder, INBOX, messages known by
// their UIDL (RFC 1939 7). Messages are read with TOP n <huge> rather than
// RETR, because servers that also speak IMAP (Dovecot among them) mark a
// RETRieved message \Seen; TOP leaves it alone (fetchmail's keep mode does
// the same). RETR is used only where TOP is refused, and the run says so.
#pragma once

#include "backends/pop3/session.h"
#include "sync/source.h"

#include <memory>
#include <unordered_map>

namespace mf::pop3 {

class Pop3Source : public Source {
  public:
    explicit Pop3Source(std::unique_ptr<Session> session);
    Result<std::vector<FolderInfo>> list_folders() override;
    Result<Snapshot> open(const FolderInfo& folder) override;
    Status fetch(const std::vector<std::string>& ids, MessageSink& sink) override;
    Result<std::vector<MessageKey>> keys(const std::vector<std::string>& ids) override;
    Status remove(const std::vector<std::string>& ids) override;
    Status close() override;
    std::string caveat() const override;

  private:
    Status read_capabilities();
    Result<std::unordered_map<std::uint32_t, std::uint64_t>> list_sizes();
    Status list_uidls(Snapshot& snap, const std::unordered_map<std::uint32_t, std::uint64_t>& sizes);
    Status fingerprint_ids(Snapshot& snap, const std::unordered_map<std::uint32_t, std::uint64_t>& sizes);
    std::string retrieve_command(std::uint32_t number) const;
    Status fetch_one(std::uint32_t number, const std::string& id, MessageSink& sink);
    void note(std::string text);

    std::unique_ptr<Session> m_session;
    bool m_pipelining = false;
    bool m_use_retr = false;   // TOP was refused
    std::unordered_map<std::string, std::uint32_t> m_number_of; // id -> message number
    std::unordered_map<std::string, std::uint64_t> m_size_of;   // id -> LIST size
    std::vector<std::string> m_caveats;
};

// "fp-<16 hex>-<size>": an id for servers without UIDL, from the header block.
std::string fingerprint_id(std::string_view header_block, std::uint64_t size);

} // namespace mf::pop3
