// The commands, as plain argument structs and run functions. app.cpp maps
// the command line onto these; nothing below it knows about CLI11.
#pragma once

#include "backends/net/endpoint.h"
#include "cli/credentials.h"
#include "cli/filter_args.h"
#include "sync/result.h"

#include <string>
#include <vector>

namespace mf::cli {

// Folders worked on at once by default, one connection each: well inside
// Dovecot's 10 connections per user and address and Gmail's 15.
inline constexpr int k_default_connections = 4;
// Sessions a run may open again after lost or out-of-step ones (RecoveryPolicy).
inline constexpr int k_default_reconnects = 5;
inline constexpr int k_default_skip_after = 3;

struct ConnectionArgs {
    std::string url;
    CredentialOptions credentials;
    std::string cacert;
    bool insecure = false;        // skip certificate verification
    bool allow_plaintext = false; // imap:// or pop3:// without STARTTLS
    bool no_compress = false;     // IMAP: no COMPRESS=DEFLATE even where offered
    int timeout = 60;             // seconds
    std::string auth;             // --auth MECH: the login mechanism; "" = chosen (net/login.h)
    bool debug = false;           // protocol trace on stderr, secrets redacted
};

struct CheckArgs {
    ConnectionArgs connection;
    bool json = false;
};

struct BackupArgs {
    ConnectionArgs connection;
    std::string archive;
    std::string format;                // "": the archive's own, maildir for a new one
    std::vector<std::string> folders;  // globs; empty = all
    std::vector<std::string> excludes; // globs
    bool dry_run = false;
    bool json = false;
    bool verbose = false;
    bool quiet = false;
    bool delete_after_download = false; // POP3: DELE what is durable, then QUIT
    int delete_older_than = 0;          // POP3: days; 0 = never
    bool mirror = false;                // `mirror SOURCE ARCHIVE`: also remove what the source lost
    int max_delete_percent = 50;
    bool force = false;
    int connections = k_default_connections; // IMAP: folders backed up at once, one connection each
    int reconnects = k_default_reconnects;   // new sessions after lost ones, in the whole run
    int skip_after = k_default_skip_after; // runs a message may fail before it is skipped; 0: never
    bool undo_server_seen = false;         // IMAP: take back the \Seen a fetch made the server set
    FilterArgs filter;                     // --since, --before, --max-size
    std::string skip_special_use;          // "junk,trash": folders of these special uses left out
    std::string max_bytes; // --max-bytes: message bytes to download in this run; "" = no limit
    // --daily-budget: bytes a day, kept across runs; "off"; "" = the provider's (Gmail's)
    std::string daily_budget;
};

enum class PushKind { migrate, restore, mirror };

struct PushArgs {
    PushKind kind = PushKind::migrate;
    ConnectionArgs source; // url: an account URL or an archive path
    ConnectionArgs target; // url: an IMAP account URL
    std::vector<std::string> folders, excludes;
    std::vector<std::string> maps; // "SRC=DST" folder renames
    std::string state;             // state database; "" = the default place
    std::string cacert;            // for both sides, unless a side has its own
    std::string auth;              // --auth, for both sides, unless a side has its own
    bool dry_run = false;
    bool json = false;
    bool verbose = false;
    bool quiet = false;
    int max_delete_percent = 50; // mirror guard
    bool force = false;
    bool append_final_crlf = false; // add a CRLF to a message that does not end in one (Yahoo)
    int connections = k_default_connections; // folders pushed at once, one connection per side each
    int reconnects = k_default_reconnects;   // new sessions after lost ones, in the whole run

    // Every folder below this one on the target (--target-prefix), and where
    // INBOX and the special folders go then: "prefix" or "merge".
    std::string target_prefix;
    std::string special_folders = "prefix";
    // A message the source holds in several folders (Gmail's labels): into
    // each ("all") or into its primary label's folder only ("primary").
    std::string labels = "all";
    FilterArgs filter;        // --since, --before, --max-size
    std::string max_bytes;    // as BackupArgs::max_bytes, drawn by the source's listed sizes
    std::string daily_budget; // as BackupArgs::daily_budget, kept in the push state database
};

// The endpoint for a URL plus options; credentials read now so that a bad
// setup fails before anything connects.
Result<net::Endpoint> make_endpoint(const ConnectionArgs& args);
// "unknown login mechanism 'X' for --auth (known: PLAIN, ...)"
std::string unknown_auth_message(const std::string& auth);

int run_check(const CheckArgs& args);
int run_backup(const BackupArgs& args);
int run_push(const PushArgs& args);

struct StatusArgs {
    std::string archive;
    bool json = false;
};

struct VerifyArgs {
    ConnectionArgs connection;
    std::string archive;
    std::vector<std::string> folders, excludes;
    bool deep = false;
    bool json = false;
};

int run_status(const StatusArgs& args);
int run_verify(const VerifyArgs& args);

// `mailferry export ARCHIVE DEST`: an archive's folders as .eml files or mbox files.
struct ExportArgs {
    std::string archive, dest;
    std::string as = "eml"; // "eml" or "mbox"
    std::vector<std::string> folders, excludes;
    FilterArgs filter; // --since, --before, --max-size
    bool quiet = false;
};

int run_export(const ExportArgs& args);

// `mailferry run`: the jobs of a job file, each as a child process of this
// binary running the job's own command (see cli/run_command.cpp).
struct RunArgs {
    std::string job_file;          // "": $XDG_CONFIG_HOME/mailferry/jobs.json
    std::vector<std::string> jobs; // --job NAME; empty = all
    int parallel = 1;
    bool json = false;
    std::string report_file, metrics_file;
    std::string shard; // "I/N"; "" = all
    bool check = false;
    bool dry_run = false; // each job's command with --dry-run
};

int run_jobs(const RunArgs& args);

// Prints a failure for a person (stderr) and returns its exit code.
int report_failure(const Failure& failure, bool json);

} // namespace mf::cli
