// What the StateDb sources share: the SQLite connection and its cached
// statements. Private to backends/archive; nothing outside includes it.
#pragma once

#include "backends/archive/state_db.h"

#include <sqlite3.h>

#include <optional>
#include <string>
#include <unordered_map>

namespace mf::archive {

// Prepared statements, kept for the connection's life: a backup records a
// row per message, and preparing each time (parsing the SQL) cost more than
// running it. Keyed by the address of the SQL literal.
class StmtCache {
  public:
    ~StmtCache() {
        for (auto& [sql, stmt] : m_stmts)
            sqlite3_finalize(stmt);
    }
    void attach(sqlite3* db) { m_db = db; }
    sqlite3_stmt* get(const char* sql) {
        auto it = m_stmts.find(sql);
        if (it != m_stmts.end()) return it->second;
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v3(m_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
            SQLITE_OK) {
            sqlite3_finalize(stmt);
            return nullptr;
        }
        m_stmts.emplace(sql, stmt);
        return stmt;
    }

  private:
    sqlite3* m_db = nullptr;
    std::unordered_map<const char*, sqlite3_stmt*> m_stmts;
};

// A cached statement for one use: reset and unbound when it goes out of
// scope, so each use starts clean.
class Stmt {
  public:
    Stmt(StmtCache& cache, const char* sql) : m_stmt(cache.get(sql)) {}
    ~Stmt() {
        if (!m_stmt) return;
        sqlite3_reset(m_stmt);
        sqlite3_clear_bindings(m_stmt);
    }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    bool ok() const { return m_stmt != nullptr; }
    Stmt& bind(int i, std::int64_t v) {
        sqlite3_bind_int64(m_stmt, i, v);
        return *this;
    }
    Stmt& bind(int i, const std::string& v) {
        sqlite3_bind_text(m_stmt, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    int step() { return sqlite3_step(m_stmt); }
    std::int64_t integer(int col) { return sqlite3_column_int64(m_stmt, col); }
    bool is_null(int col) { return sqlite3_column_type(m_stmt, col) == SQLITE_NULL; }
    std::string text(int col) {
        auto p = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt, col));
        return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(m_stmt, col))) : "";
    }

  private:
    sqlite3_stmt* m_stmt = nullptr;
};

struct StateDb::Impl {
    sqlite3* db = nullptr;
    std::string path;
    bool read_only = false;
    bool has_names = true;          // the folder_names table (read-only: maybe not)
    bool has_identity = true;       // messages.identity and labels (read-only: maybe not)
    bool has_counts = true;         // folder_counts and its triggers (read-only: maybe not)
    std::optional<StmtCache> cache; // finalized before the connection closes
    ~Impl() {
        cache.reset();
        sqlite3_close(db);
    }

    Failure error(const std::string& doing) const {
        // Called with a C string or a std::string.
        return Failure{ErrorKind::local_io, Scope::account,
                       "state database " + path + ": " + doing + ": " + sqlite3_errmsg(db)};
    }
    Status exec(const char* sql, const std::string& doing) {
        if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
            return std::unexpected(error(doing));
        return {};
    }
    bool has_table(const char* name) {
        Stmt s(*cache, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?");
        s.bind(1, std::string(name));
        return s.ok() && s.step() == SQLITE_ROW;
    }
    bool has_column(const std::string& table, const std::string& column);
    // Brings an older archive's tables up to the schema (state_db.cpp).
    Status migrate();
    // Runs a statement that returns no rows.
    Status run(Stmt& s, const std::string& doing) {
        if (!s.ok() || s.step() != SQLITE_DONE) return std::unexpected(error(doing));
        return {};
    }
};

} // namespace mf::archive
