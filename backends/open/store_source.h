// Any archive read back as a Source, through its own Store: folders are the
// ones its state database knows, messages the ones each folder holds, bodies
// streamed by FolderStore::read with the flags and dates the archive kept.
// Used to restore or migrate from mbox archives (Maildir archives use
// maildir::ArchiveSource, which also reads Maildirs mailferry did not write).
#pragma once

#include "backends/archive/state_db.h"
#include "sync/source.h"
#include "sync/store.h"

#include <memory>
#include <unordered_map>

namespace mf::archive {

class StoreSource : public Source {
  public:
    StoreSource(StateDb& db, Store& store) : m_db(db), m_store(store) {}
    Result<std::vector<FolderInfo>> list_folders() override;
    using Source::open;
    Result<Snapshot> open(const FolderInfo& folder, const OpenRequest& request) override;
    Status fetch(std::span<const std::string> ids, MessageSink& sink) override;
    Result<std::vector<MessageKey>> keys(const std::vector<std::string>& ids) override;
    Status remove(const std::vector<std::string>& ids) override;
    Status close() override { return {}; }

  private:
    StateDb& m_db;
    Store& m_store;
    std::unique_ptr<FolderStore> m_folder;
    std::unordered_map<std::string, RemoteMessage> m_messages; // of the open folder
    std::unordered_map<std::string, std::string> m_message_ids;
};

} // namespace mf::archive
