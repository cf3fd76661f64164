// An IMAP account as the receiving side of migrate, restore and mirror.
// Messages go in with our own APPEND (flags and INTERNALDATE kept; libcurl's
// upload would mark them \Seen and date them today), LITERAL+ when offered.
//
// Folder names: the target's own personal namespace prefix and separator
// (NAMESPACE, RFC 2342), each component encoded in modified UTF-7. A source
// component that contains the target's separator cannot be one folder there;
// the separator inside it is replaced by '_' (e.g. "a/b" as one component
// becomes "a_b" on a '/' server), so no folder is split silently.
#pragma once

#include "backends/common/spool.h"
#include "backends/imap/labels.h"
#include "backends/imap/session.h"
#include "sync/target.h"

#include <map>
#include <memory>
#include <optional>
#include <set>

namespace mf::imap {

struct TargetOptions {
    // A message whose last octets are not CRLF gets one added on APPEND
    // (Yahoo refuses it otherwise: see target.cpp), and is named to the
    // engine as changed. Off unless the user asks: it changes the bytes.
    bool final_crlf = false;
};

class ImapTarget : public Target {
  public:
    using Options = TargetOptions;
    static Result<std::unique_ptr<ImapTarget>> open_account(std::unique_ptr<Session> session,
                                                            Options options = {});
    ~ImapTarget() override;

    Result<std::vector<FolderInfo>> list_folders() override;
    Status create_folder(const FolderInfo& folder) override;
    Status delete_folder(const FolderInfo& folder) override;
    Result<TargetFolder> open(const FolderInfo& folder) override;
    Status fill_keys(TargetFolder& folder, const std::vector<std::uint32_t>& uids) override;
    MessageSink& appender(AppendCallbacks callbacks) override;
    void append_singly(bool singly) override;
    Status flush() override;
    Status set_flags(std::uint32_t uid, const Flags& flags) override;
    Status remove(const std::vector<std::uint32_t>& uids) override;
    std::string target_name(const FolderInfo& folder) const override;
    // Gmail (X-GM-EXT-1): labels (labels.cpp).
    bool shares_messages() const override;
    Result<Sharing> sharing(const FolderInfo& folder) override;
    Result<std::vector<std::size_t>> also_in(const FolderInfo& folder,
                                             const std::vector<Uploaded>& messages) override;

  private:
    class Appender;
    ImapTarget(std::unique_ptr<Session> session, Options options);
    Status read_namespace();
    Status read_folder_limit(const std::string& wire);
    std::optional<std::uint64_t> append_limit() const;     // octets an APPEND may carry (RFC 7889)
    std::string wire_name(const FolderInfo& folder) const; // modified UTF-7, with prefix
    std::string flag_list(const Flags& flags) const;       // only what the folder accepts
    Result<FolderLabel> label_of(const FolderInfo& folder);
    Status store_label(const FolderInfo& where, const std::string& label,
                       const std::vector<Uploaded>& messages,
                       const std::vector<std::size_t>& indexes, std::vector<std::size_t>& missing);

    std::unique_ptr<Session> m_session;
    std::unique_ptr<Appender> m_appender;
    std::string m_prefix; // personal namespace prefix, e.g. "INBOX."
    char m_separator = '/';
    std::string m_selected; // wire name of the open folder
    bool m_any_keyword = true;
    std::set<std::string> m_keywords_allowed;
    std::optional<std::uint64_t> m_account_limit; // CAPABILITY APPENDLIMIT=n
    std::optional<std::uint64_t> m_folder_limit;  // STATUS (APPENDLIMIT n) of the open folder
    std::optional<std::map<std::string, std::string>> m_uses; // wire name -> special use, read once
};

} // namespace mf::imap
