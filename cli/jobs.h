// Job files for `mailferry run`: the model, the parser and its validation
// (cli/job_validate.cpp, cli/job_fields.cpp, the keys in cli/job_keys.cpp),
// reading the file (cli/job_load.cpp), the translation of a job into the
// command line of the command that runs it (cli/job_args.cpp), and the
// Prometheus metrics of a run (cli/job_metrics.cpp). Pure functions apart
// from load_job_file(); nlohmann/json stays inside the validator
// (cli/job_validator.h, private to it). The format is documented in
// man/mailferry-jobs.5 and examples/jobs.schema.json.
#pragma once

#include "cli/commands.h"
#include "cli/credentials.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mf::cli {

enum class JobKind { backup, migrate, restore, mirror };
const char* job_kind_name(JobKind kind);

// One job, every path made absolute and every default applied.
struct Job {
    std::string name;
    JobKind kind = JobKind::backup;
    std::string source; // an account URL, or an archive folder (migrate, restore, mirror)
    std::string target; // backup: the archive folder; others: the IMAP account URL
    CredentialOptions credentials;        // backup: the account's
    CredentialOptions source_credentials; // migrate, mirror: a source account's
    CredentialOptions target_credentials; // migrate, restore, mirror
    std::string cacert, source_cacert, target_cacert;
    std::string auth, source_auth, target_auth; // login mechanisms (--auth); "": chosen
    bool insecure = false;
    bool allow_plaintext = false;
    bool compress = true;                    // COMPRESS=DEFLATE where offered (--no-compress)
    int timeout = 0;                         // seconds; 0: the command's default
    int connections = k_default_connections; // folders at once, one connection each (per side)
    int reconnects =
        -1; // new sessions after lost ones, in the whole run; -1: the command's default
    int skip_after =
        -1; // backup: runs a message may fail before it is skipped; -1: the command's default
    bool undo_server_seen = false; // backup: --undo-server-seen
    std::string skip_special_use;  // backup: --skip-special-use
    std::string max_bytes;         // --max-bytes; "": no limit
    std::string daily_budget;      // --daily-budget; "": the provider's
    bool pop3_source = false;      // one connection, whatever `connections` says
    std::vector<std::string> folders, exclude;
    std::vector<std::pair<std::string, std::string>> map; // SRC -> DST
    std::string format;                                   // "": the command's default
    std::string state;                                    // "": the command's default
    bool delete_after_download = false;
    int delete_older_than_days = 0;
    int max_delete_percent = -1; // -1: the command's default
    bool force = false;
    bool append_final_crlf = false; // push: --append-final-crlf
    // push: --target-prefix and --special-folders; "": the command's default
    std::string target_prefix;
    std::string special_folders;
    std::string labels;   // push: --labels; "": the command's default
    FilterArgs filter;    // since, before, max_size: --since, --before, --max-size
    bool dry_run = false; // `run --dry-run`: the job's command with --dry-run
    // Lower-case names of the servers the job connects to: the unit of the
    // per-host connection budget.
    std::vector<std::string> hosts;
};

struct JobFile {
    std::string path;
    int max_connections_per_host = 4;
    std::vector<Job> jobs;
};

// What validation needs from the system, so that tests can fake it.
struct JobFileContext {
    std::string path;          // the job file, as named in messages
    std::string dir;           // relative paths in the file are relative to this
    std::string home;          // for "~/" in paths; "" = none
    unsigned file_mode = 0600; // permission bits of the job file
    // Permission bits of a file, or nullopt when it cannot be examined.
    std::function<std::optional<unsigned>(const std::string&)> mode_of;
};

// Every problem is one line "FILE: job 'NAME': key 'KEY': what"; when there
// is any, the file must not be run.
struct JobFileResult {
    JobFile file;
    std::vector<std::string> errors;
};

JobFileResult parse_job_file(std::string_view text, const JobFileContext& context);
// Reads, examines and parses `path`.
JobFileResult load_job_file(const std::string& path);

// The arguments after the program name that make the job's own command do
// the job, with --json --quiet for a report on stdout. Secrets never appear:
// only the names of variables, files and commands that give them.
std::vector<std::string> job_arguments(const Job& job);

// --- results and metrics ---------------------------------------------------

struct JobOutcome {
    std::string name;
    bool ok = false;
    double started = 0, finished = 0; // Unix time, seconds
    std::uint64_t messages = 0, bytes = 0, errors = 0;
    // What the run survived or left: new sessions after lost ones, time
    // spent backing off, messages that failed and that were skipped.
    std::uint64_t reconnects = 0;
    double backoff_seconds = 0;
    std::uint64_t failed = 0, skipped = 0;
    // What the download budget left for the next run (report totals.bytes_left).
    std::uint64_t bytes_left = 0;
};

// metric name -> job -> value, as read back from a metrics file.
using MetricValues = std::map<std::string, std::map<std::string, std::string>>;
MetricValues parse_metrics(std::string_view text);

// The Prometheus text format for node_exporter's textfile collector. Jobs in
// `known` that did not run this time keep their values from `previous`; a
// job that failed keeps its last success time.
std::string render_metrics(const std::vector<JobOutcome>& outcomes, const MetricValues& previous,
                           const std::vector<std::string>& known);

std::string escape_label_value(std::string_view value);

} // namespace mf::cli
