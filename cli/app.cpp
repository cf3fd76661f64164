// The command line: CLI11 maps arguments onto the plain structs of
// commands.h. Every option here is documented in man/mailferry.1 (a test
// checks that).
#include "cli/app.h"

#include "backends/net/login.h"
#include "cli/budget.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/oauth2.h"
#include "cli/suggest.h"

#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>
#include <sys/stat.h>

namespace mf::cli {

namespace {

constexpr const char* k_version = "0.1.0";

// --auth MECH: a mechanism libcurl knows (net/login.h), else a usage error
// naming it.
CLI::Validator auth_mechanism() {
    return CLI::Validator(
        [](std::string& value) {
            return net::known_mechanism(value).empty() ? unknown_auth_message(value) : "";
        },
        "MECH");
}

constexpr const char* k_auth_help =
    "Log in with this SASL mechanism only (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER, CRAM-MD5, ...); "
    "default: PLAIN or LOGIN with a password, OAUTHBEARER or XOAUTH2 with a token";

constexpr const char* k_no_compress_help =
    "IMAP: do not compress the connection (COMPRESS=DEFLATE), even where the server offers it";

void add_connection_options(CLI::App& cmd, ConnectionArgs& c) {
    cmd.add_option("--password-env", c.credentials.password_env,
                   "Read the password from this environment variable");
    cmd.add_option(
        "--password-file", c.credentials.password_file,
        "Read the password from the first line of this file (must not be readable by others)");
    cmd.add_option("--password-command", c.credentials.password_command,
                   "Run this shell command; the first line it prints is the password");
    cmd.add_option("--oauth2-token-command", c.credentials.oauth2_token_command,
                   "Run this shell command for an OAuth2 access token (XOAUTH2/OAUTHBEARER)");
    add_oauth2_options(cmd, c.credentials, "");
    add_oauth2_settings(cmd, c.credentials.oauth2_settings);
    cmd.add_option("--cacert", c.cacert, "Trust the CA certificate(s) in this PEM file");
    cmd.add_flag("--insecure", c.insecure, "Do not verify the server's certificate (dangerous)");
    cmd.add_flag(
        "--allow-plaintext", c.allow_plaintext,
        "With imap:// or pop3://, go on without STARTTLS if the server lacks it (sends the "
        "password unencrypted)");
    cmd.add_option("--timeout", c.timeout, "Seconds to wait for the server before giving up")
        ->capture_default_str();
    cmd.add_flag("--no-compress", c.no_compress, k_no_compress_help);
    cmd.add_option("--auth", c.auth, k_auth_help)->check(auth_mechanism());
    cmd.add_flag("--debug", c.debug,
                 "Print the protocol exchange to stderr (passwords are hidden)");
}

// Dovecot allows 10 connections per user and address, Gmail 15; the
// default stays well inside both. Past a provider's own limit the engine
// opens no more (Source::max_connections).
void add_connections_option(CLI::App& cmd, int& connections, int& reconnects) {
    cmd.add_option("--connections", connections,
                   "IMAP: work on up to this many folders at once, one connection each")
        ->check(CLI::Range(1, 30))
        ->capture_default_str();
    cmd.add_option("--reconnects", reconnects,
                   "Log in again up to this many times in a run after a lost or throttled "
                   "connection (0: never)")
        ->check(CLI::Range(0, 100))
        ->capture_default_str();
}

// A CLI11 check made of a parser: `expected` says what a value must be.
template <class Ok> CLI::Validator text_check(Ok ok, std::string expected, std::string name) {
    return CLI::Validator(
        [ok, expected](std::string& v) { return ok(v) ? std::string() : expected; }, name);
}

CLI::Validator size_check() {
    return text_check([](const std::string& v) { return parse_size(v).has_value(); },
                      "expected bytes with an optional K, M or G", "SIZE");
}

// --since, --before, --max-size: checked here, so a typo is a usage error
// before anything connects (cli/filter_args.h).
void add_filter_options(CLI::App& cmd, FilterArgs& f) {
    auto date = CLI::Validator(
        [](std::string& v) {
            return parse_filter_date(v) ? "" : "expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ";
        },
        "DATE");
    cmd.add_option("--since", f.since,
                   "Only messages dated on or after DATE (YYYY-MM-DD: midnight UTC)")
        ->check(date);
    cmd.add_option("--before", f.before,
                   "Only messages dated before DATE (YYYY-MM-DD: midnight UTC)")
        ->check(date);
    cmd.add_option("--max-size", f.max_size,
                   "Only messages of at most SIZE bytes (suffix K, M or G: 1024, 1024^2, 1024^3)")
        ->check(size_check());
}

// --max-bytes and --daily-budget: in the words of --max-size, checked before
// anything connects (cli/budget.h).
void add_budget_options(CLI::App& cmd, std::string& max_bytes, std::string& daily) {
    cmd.add_option("--max-bytes", max_bytes,
                   "Download at most SIZE bytes of messages in this run; the next run continues "
                   "(suffix K, M or G)")
        ->check(size_check());
    cmd.add_option("--daily-budget", daily,
                   "Download at most SIZE bytes of messages a day, counted across runs, or 'off' "
                   "(default: 2000 MB for Gmail, none elsewhere)")
        ->check(text_check(valid_daily_budget, "expected off or bytes with an optional K, M or G",
                           "SIZE|off"));
}

void add_check(CLI::App& app, CheckArgs& a, int& code) {
    auto* cmd = app.add_subcommand("check", "Connect, log in, and describe an account");
    cmd->add_option("URL", a.connection.url,
                    "imaps://user@host[:port], imap://, pop3s://, pop3:// or user@host")
        ->required();
    add_connection_options(*cmd, a.connection);
    cmd->add_flag("--json", a.json, "Print the result as one JSON document on stdout");
    cmd->callback([&] { code = run_check(a); });
}

void add_backup(CLI::App& app, BackupArgs& a, int& code) {
    auto* cmd =
        app.add_subcommand("backup", "Copy every folder of an account into a local archive");
    cmd->add_option("SOURCE", a.connection.url,
                    "The account: imaps://user@host, imap://user@host, ...")
        ->required();
    cmd->add_option("ARCHIVE", a.archive, "The archive folder (created if missing)")->required();
    add_connection_options(*cmd, a.connection);
    cmd->add_option("--format", a.format,
                    "Archive format: maildir or mbox (default: the archive's own; maildir for a "
                    "new archive)");
    cmd->add_option("--folder", a.folders, "Back up only folders matching this glob (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--exclude", a.excludes, "Skip folders matching this glob (repeatable)")
        ->allow_extra_args(false);
    cmd->add_flag("--dry-run,-n", a.dry_run, "Show what would be fetched; change nothing");
    cmd->add_flag("--json", a.json, "Print a JSON report on stdout at the end");
    cmd->add_flag("--verbose,-v", a.verbose, "Say more about each folder and decision");
    cmd->add_flag("--quiet,-q", a.quiet, "Print only errors");
    cmd->add_flag("--delete-after-download", a.delete_after_download,
                  "POP3: delete messages from the server once they are safely in the archive");
    cmd->add_option(
           "--delete-older-than", a.delete_older_than,
           "POP3: delete messages held in the archive and older than this many days (0: never)")
        ->capture_default_str();
    add_connections_option(*cmd, a.connections, a.reconnects);
    add_filter_options(*cmd, a.filter);
    add_budget_options(*cmd, a.max_bytes, a.daily_budget);
    cmd->add_option(
           "--skip-after", a.skip_after,
           "Skip a message the server has refused in this many runs in a row (0: never skip)")
        ->check(CLI::Range(0, 1000))
        ->capture_default_str();
    cmd->add_flag(
        "--undo-server-seen", a.undo_server_seen,
        "IMAP: mark unread again on the server the messages it marked read when they were fetched");
    cmd->add_option("--skip-special-use", a.skip_special_use,
                    "IMAP: leave out the folders of these special uses, e.g. junk,trash (default: "
                    "none; Gmail's Spam and Trash are kept)");
    cmd->callback([&] { code = run_backup(a); });
}

// Per-side credentials: --source-password-env, --target-password-env, ...
void add_side_credentials(CLI::App& cmd, const std::string& side, CredentialOptions& c) {
    cmd.add_option("--" + side + "-password-env", c.password_env,
                   "Read the " + side + " password from this environment variable");
    cmd.add_option("--" + side + "-password-file", c.password_file,
                   "Read the " + side + " password from the first line of this file");
    cmd.add_option("--" + side + "-password-command", c.password_command,
                   "Run this shell command; the first line it prints is the " + side + " password");
    cmd.add_option("--" + side + "-oauth2-token-command", c.oauth2_token_command,
                   "Run this shell command for a " + side + " OAuth2 access token");
    add_oauth2_options(cmd, c, side + "-");
}

void add_push(CLI::App& app, PushKind kind, PushArgs& a, int& code) {
    const char* name = kind == PushKind::migrate   ? "migrate"
                       : kind == PushKind::restore ? "restore"
                                                   : "mirror";
    const char* about =
        kind == PushKind::migrate
            ? "Copy mail from a POP3/IMAP account or an archive into an IMAP account"
        : kind == PushKind::restore ? "Put an archive back into an IMAP account"
                                    : "Make an IMAP account equal to a source, deletions included";
    auto* cmd = app.add_subcommand(name, about);
    cmd->add_option(kind == PushKind::restore ? "ARCHIVE" : "SOURCE", a.source.url,
                    kind == PushKind::restore ? "The archive folder"
                                              : "An account URL or an archive folder")
        ->required();
    cmd->add_option("TARGET", a.target.url,
                    kind == PushKind::mirror
                        ? "The IMAP account (imaps://user@host) or a Maildir archive folder"
                        : "The IMAP account: imaps://user@host")
        ->required();
    add_side_credentials(*cmd, "source", a.source.credentials);
    add_side_credentials(*cmd, "target", a.target.credentials);
    add_oauth2_settings(*cmd, a.source.credentials.oauth2_settings);
    cmd->add_option("--cacert", a.cacert,
                    "Trust the CA certificate(s) in this PEM file (both sides)");
    cmd->add_option("--source-cacert", a.source.cacert, "Trust this CA file for the source only");
    cmd->add_option("--target-cacert", a.target.cacert, "Trust this CA file for the target only");
    cmd->add_flag("--insecure", a.source.insecure, "Do not verify certificates (dangerous)");
    cmd->add_flag("--allow-plaintext", a.source.allow_plaintext,
                  "Go on without STARTTLS where a server lacks it");
    cmd->add_option("--timeout", a.source.timeout, "Seconds to wait for a server before giving up")
        ->capture_default_str();
    cmd->add_flag("--no-compress", a.source.no_compress, k_no_compress_help);
    cmd->add_option("--auth", a.auth, std::string(k_auth_help) + " (both sides)")
        ->check(auth_mechanism());
    cmd->add_option("--source-auth", a.source.auth,
                    "Log in to the source with this SASL mechanism only")
        ->check(auth_mechanism());
    cmd->add_option("--target-auth", a.target.auth,
                    "Log in to the target with this SASL mechanism only")
        ->check(auth_mechanism());
    cmd->add_flag("--debug", a.source.debug,
                  "Print the protocol exchanges to stderr (passwords are hidden)");
    cmd->add_option("--folder", a.folders, "Only folders matching this glob (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--exclude", a.excludes, "Skip folders matching this glob (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option(
           "--map", a.maps,
           "Rename a folder on the target: SRC=DST, e.g. INBOX=Archive/Old-POP (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--target-prefix", a.target_prefix,
                    "Put every folder below this one on the target, INBOX as PREFIX/INBOX (two "
                    "accounts into one)");
    cmd->add_option("--special-folders", a.special_folders,
                    "With --target-prefix: INBOX, Sent, Drafts, Trash, Junk and Archive go below "
                    "the prefix too (prefix) or into the target's own (merge)")
        ->check(CLI::IsMember({"prefix", "merge"}))
        ->capture_default_str();
    cmd->add_option("--labels", a.labels,
                    "A message in several folders (Gmail labels): into each of them (all), or "
                    "into the first by INBOX, Sent, Drafts, user folders, Important, Starred, "
                    "All Mail (primary)")
        ->check(CLI::IsMember({"all", "primary"}))
        ->capture_default_str();
    cmd->add_option(
        "--state", a.state,
        "State database for an account-to-account run (default under $XDG_STATE_HOME/mailferry)");
    cmd->add_flag("--dry-run,-n", a.dry_run, "Print the plan; change nothing on either side");
    cmd->add_flag("--json", a.json, "Print a JSON report on stdout at the end");
    cmd->add_flag("--verbose,-v", a.verbose, "Say more about each folder and decision");
    cmd->add_flag("--quiet,-q", a.quiet, "Print only errors");
    add_connections_option(*cmd, a.connections, a.reconnects);
    add_filter_options(*cmd, a.filter);
    add_budget_options(*cmd, a.max_bytes, a.daily_budget);
    cmd->add_flag("--append-final-crlf", a.append_final_crlf,
                  "Add a CRLF to a message that does not end in one (Yahoo refuses it); each is "
                  "named in the report");
    if (kind == PushKind::mirror) {
        cmd->add_option("--max-delete", a.max_delete_percent,
                        "Refuse to delete more than this percentage of a target folder")
            ->capture_default_str();
        cmd->add_flag("--force", a.force,
                      "Delete even past the --max-delete guard or from an emptied source");
    }
    cmd->callback([&a, &code, kind] {
        a.kind = kind;
        // The transport options are given once and apply to both sides.
        if (a.source.cacert.empty()) a.source.cacert = a.cacert;
        if (a.target.cacert.empty()) a.target.cacert = a.cacert;
        if (a.source.auth.empty()) a.source.auth = a.auth;
        a.target.credentials.oauth2_settings = a.source.credentials.oauth2_settings;
        if (a.target.auth.empty()) a.target.auth = a.auth;
        a.target.insecure = a.source.insecure;
        a.target.allow_plaintext = a.source.allow_plaintext;
        a.target.no_compress = a.source.no_compress;
        a.target.timeout = a.source.timeout;
        a.target.debug = a.source.debug;
        code = run_push(a);
    });
}

void add_run(CLI::App& app, RunArgs& a, int& code) {
    auto* cmd = app.add_subcommand(
        "run", "Run the jobs of a job file (see mailferry-jobs(5)), as cron or a timer would");
    cmd->add_option("JOBFILE", a.job_file,
                    "The job file (default $XDG_CONFIG_HOME/mailferry/jobs.json)");
    cmd->add_option("--job", a.jobs, "Run only the job of this name (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--parallel", a.parallel, "Run up to this many jobs at once")
        ->capture_default_str();
    cmd->add_flag("--json", a.json, "Print a JSON report of all jobs on stdout at the end");
    cmd->add_option("--report-file", a.report_file,
                    "Also write the JSON report to this file (atomically)");
    cmd->add_option("--metrics-file", a.metrics_file,
                    "Write Prometheus metrics to this file (atomically), for node_exporter's "
                    "textfile collector");
    cmd->add_option("--shard", a.shard,
                    "Run only the jobs of shard I of N (I/N, 0 <= I < N; see mailferry-jobs(5))");
    cmd->add_flag("--check", a.check, "Validate the job file and exit; run nothing");
    cmd->add_flag("--dry-run,-n", a.dry_run,
                  "Run every selected job with --dry-run: show what each would do, change nothing");
    cmd->callback([&] { code = run_jobs(a); });
}

void add_status(CLI::App& app, StatusArgs& a, int& code) {
    auto* cmd =
        app.add_subcommand("status", "Show what an archive holds and how its last runs went");
    cmd->add_option("ARCHIVE", a.archive, "The archive folder")->required();
    cmd->add_flag("--json", a.json, "Print the result as one JSON document on stdout");
    cmd->callback([&] { code = run_status(a); });
}

void add_verify(CLI::App& app, VerifyArgs& a, int& code) {
    auto* cmd = app.add_subcommand("verify",
                                   "Compare an archive with its server (bodies only with --deep)");
    cmd->add_option("SOURCE", a.connection.url, "The account the archive backs up")->required();
    cmd->add_option("ARCHIVE", a.archive, "The archive folder")->required();
    add_connection_options(*cmd, a.connection);
    cmd->add_option("--folder", a.folders, "Only folders matching this glob (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--exclude", a.excludes, "Skip folders matching this glob (repeatable)")
        ->allow_extra_args(false);
    cmd->add_flag("--deep", a.deep, "Also download every message and compare contents");
    cmd->add_flag("--json", a.json, "Print the result as one JSON document on stdout");
    cmd->callback([&] { code = run_verify(a); });
}

void add_export(CLI::App& app, ExportArgs& a, int& code) {
    auto* cmd = app.add_subcommand(
        "export", "Write an archive's mail out as .eml files or mbox files, for other programs");
    cmd->add_option("ARCHIVE", a.archive, "The archive folder (Maildir or mbox)")->required();
    cmd->add_option("DEST", a.dest, "The folder to write into (created if missing)")->required();
    cmd->add_option("--as", a.as, "eml: one file a message; mbox: one mboxrd file a folder")
        ->check(CLI::IsMember({"eml", "mbox"}))
        ->capture_default_str();
    cmd->add_option("--folder", a.folders, "Only folders matching this glob (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--exclude", a.excludes, "Skip folders matching this glob (repeatable)")
        ->allow_extra_args(false);
    add_filter_options(*cmd, a.filter);
    cmd->add_flag("--quiet,-q", a.quiet, "Print only errors");
    cmd->callback([&] { code = run_export(a); });
}

// The first argument that is not an option: the command, if any.
int command_index(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        if (argv[i][0] != '-') return i;
    return 0;
}

std::vector<const CLI::App*> commands_of(const CLI::App& app) {
    return app.get_subcommands([](const CLI::App*) { return true; });
}

std::string unknown_command(const CLI::App& app, const std::string& word) {
    std::vector<std::string> names;
    for (const CLI::App* sub : commands_of(app))
        names.push_back(sub->get_name());
    auto near = closest(word, names);
    return "unknown command '" + word + "'" + (near ? "; did you mean '" + *near + "'?" : "");
}

// The first "--name" after the command that the command does not know, with
// the nearest it does; "" when none is near (CLI11's message then stands).
std::string unknown_option(const CLI::App& cmd, int from, int argc, char** argv) {
    std::vector<std::string> names;
    for (const CLI::Option* opt : cmd.get_options())
        for (const auto& l : opt->get_lnames())
            names.push_back("--" + l);
    for (int i = from; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--") break;
        if (!arg.starts_with("--")) continue;
        arg = arg.substr(0, arg.find('='));
        if (cmd.get_option_no_throw(arg)) continue;
        if (auto near = closest(arg, names))
            return "unknown option " + arg + "; did you mean " + *near + "?";
    }
    return {};
}

// "Did you mean …?" for a command line CLI11 refused; "" if there is none.
std::string suggestion(const CLI::App& app, int argc, char** argv) {
    const int at = command_index(argc, argv);
    if (at == 0) return {};
    for (const CLI::App* cmd : commands_of(app))
        if (cmd->check_name(argv[at])) return unknown_option(*cmd, at + 1, argc, argv);
    return unknown_command(app, argv[at]);
}

} // namespace

int run_app(int argc, char** argv) {
    // Archives hold private mail: every file and folder we create is 0600/0700.
    ::umask(077);
    // A file size limit (ulimit -f) must become a clear "File too large"
    // error from write(2), not a silent kill by SIGXFSZ.
    std::signal(SIGXFSZ, SIG_IGN);
    CLI::App app{"mailferry: back up, mirror and migrate mail"};
    app.set_version_flag("--version", k_version);
    app.require_subcommand(1);
    int code = exit_ok;
    CheckArgs check;
    BackupArgs backup;
    add_check(app, check, code);
    add_backup(app, backup, code);
    PushArgs migrate, restore, mirror;
    add_push(app, PushKind::migrate, migrate, code);
    add_push(app, PushKind::restore, restore, code);
    add_push(app, PushKind::mirror, mirror, code);
    StatusArgs status;
    VerifyArgs verify;
    add_status(app, status, code);
    add_verify(app, verify, code);
    ExportArgs exporting;
    add_export(app, exporting, code);
    RunArgs run;
    add_run(app, run, code);
    LoginArgs login;
    add_login(app, login, code);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version arrive here too, with exit code 0.
        const bool refused = e.get_exit_code() != 0;
        if (std::string hint = refused ? suggestion(app, argc, argv) : ""; !hint.empty()) {
            std::cerr << "mailferry: " << hint << "\nRun with --help for more information.\n";
            return exit_usage;
        }
        int r = app.exit(e);
        return r == 0 ? exit_ok : exit_usage;
    }
    return code;
}

} // namespace mf::cli
