// The engine's PushState over the SQLite state database. Each record is its
// own small transaction: in WAL mode that costs no fsync, and a mapping that
// a crash loses is recovered by matching the message by content next run.
#pragma once

#include "backends/archive/state_db.h"
#include "sync/target.h"

namespace mf::archive {

class DbPushState : public PushState {
  public:
    explicit DbPushState(StateDb& db) : m_db(db) {}
    Result<PushMapping> load(const std::string& folder) override;
    Status reset(const std::string& folder, std::uint32_t source_validity,
                 std::uint32_t target_validity) override;
    Status record(const std::string& folder, const std::string& source_id,
                  std::uint32_t uid) override;
    Status forget(const std::string& folder, const std::string& source_id) override;
    Status set_copying(const std::string& folder, bool copying) override;
    Result<bool> copying(const std::string& folder) override;
    Result<RefusedRuns> refused(const std::string& folder) override;
    Status set_refused(const std::string& folder, const RefusedRuns& refused) override;
    Status record_upload(const std::string& identity, const Uploaded& where) override;
    Result<std::optional<Uploaded>> upload_of(const std::string& identity) override;

  private:
    StateDb& m_db;
};

} // namespace mf::archive
