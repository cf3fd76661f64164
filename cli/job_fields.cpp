// From checked keys to a Job: the source and target parsed as the commands
// parse them, the credentials each side needs, the ranges of numbers, paths
// made absolute, and the values copied into the Job.
#include "backends/net/login.h"
#include "backends/oauth2/settings.h"
#include "backends/open/archive.h"
#include "cli/budget.h"
#include "cli/filter_args.h"
#include "cli/job_keys.h"
#include "cli/job_validator.h"
#include "cli/url.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace mf::cli::jobfile {

namespace {

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return text;
}

} // namespace

std::string Validator::resolve(const std::string& path) const {
    if (path.starts_with("~/") && !m_context.home.empty()) return m_context.home + path.substr(1);
    if (path.starts_with('/') || m_context.dir.empty()) return path;
    return m_context.dir + "/" + path;
}

void Validator::check_password_file(const std::string& where, const std::string& key,
                                    const std::string& path) {
    if (!m_context.mode_of) return;
    // A file that is not there yet is the command's business at run time.
    auto mode = m_context.mode_of(path);
    if (mode && (*mode & 077) != 0)
        error(where, key,
              "password file " + path + " is readable by group or others" +
                  ((m_context.file_mode & 077) != 0 ? ", and so is this job file that names it"
                                                    : "") +
                  "; run: chmod 600 " + path);
}

void Validator::check_credentials(const Fields& fields, const std::string& where,
                                  const std::string& prefix, const std::string& side,
                                  CredentialOptions& out) {
    const std::string keys[] = {prefix + "password_env", prefix + "password_file",
                                prefix + "password_command", prefix + "oauth2_token_command",
                                prefix + "oauth2"};
    std::vector<std::string> given;
    for (const auto& k : keys)
        if (fields.contains(k)) given.push_back(k);
    if (given.empty())
        return error(where, keys[0],
                     "missing: the " + side + " needs credentials: " + keys[0] + ", " + keys[1] +
                         ", " + keys[2] + ", " + keys[3] + " or " + keys[4]);
    if (given.size() > 1)
        return error(where, given[1],
                     "give only one of " + given[0] + " and " + given[1] + " for the " + side);
    out.password_env = str(fields, keys[0]);
    if (fields.contains(keys[1])) {
        out.password_file = resolve(str(fields, keys[1]));
        check_password_file(where, keys[1], out.password_file);
    }
    out.password_command = str(fields, keys[2]);
    out.oauth2_token_command = str(fields, keys[3]);
    read_oauth2(fields, where, prefix, out);
}

// The OAuth2 keys: the provider and token file per side, the settings
// (endpoints, client) once for both.
void Validator::read_oauth2(const Fields& fields, const std::string& where,
                            const std::string& prefix, CredentialOptions& out) {
    out.oauth2 = str(fields, prefix + "oauth2");
    if (!out.oauth2.empty() && !oauth2::provider_defaults(out.oauth2))
        error(where, prefix + "oauth2",
              "unknown OAuth2 provider (known: " + oauth2::known_providers() + ")");
    if (fields.contains(prefix + "oauth2_token_file"))
        out.oauth2_token_file = resolve(str(fields, prefix + "oauth2_token_file"));
    auto& s = out.oauth2_settings;
    s.token_url = str(fields, "oauth2_token_url");
    s.device_url = str(fields, "oauth2_device_url");
    s.auth_url = str(fields, "oauth2_auth_url");
    s.client_id = str(fields, "oauth2_client_id");
    s.scope = str(fields, "oauth2_scope");
    if (fields.contains("oauth2_client_secret_file")) {
        s.client_secret_file = resolve(str(fields, "oauth2_client_secret_file"));
        check_password_file(where, "oauth2_client_secret_file", s.client_secret_file);
    }
}

// The source and target: URLs parsed as the commands parse them, paths made
// absolute, and what depends on them (credentials, POP3-only policies).
void Validator::check_endpoints(Fields& fields, const std::string& where, Job& job) {
    std::string source = str(fields, "source");
    bool remote = job.kind == JobKind::backup || looks_like_url(source);
    if (source.empty()) {
        error(where, "source", "missing: an account URL or an archive folder");
    } else if (job.kind == JobKind::restore && remote) {
        error(where, "source",
              "a restore reads an archive folder, not an account (use kind migrate)");
    } else if (remote) {
        if (auto e = parse_account_url(source); !e) {
            error(where, "source", e.error().what);
        } else {
            job.source = source;
            job.hosts.push_back(lower(e->host));
            bool pop3 = e->protocol == net::Protocol::pop3;
            job.pop3_source = pop3;
            for (const char* key : {"delete_after_download", "delete_older_than_days"}) {
                if (!fields.contains(key) || pop3) continue;
                if (fields[key].from_job) error(where, key, "applies to POP3 sources only");
                fields.erase(key);
            }
        }
    } else {
        job.source = resolve(source);
        for (const char* key :
             {"source_password_env", "source_password_file", "source_password_command",
              "source_oauth2_token_command", "source_oauth2", "source_oauth2_token_file",
              "source_cacert", "source_auth", "state"}) {
            if (!fields.contains(key)) continue;
            if (fields[key].from_job)
                error(where, key,
                      "does not apply: the source is an archive folder, not an account");
            fields.erase(key);
        }
    }
    if (job.kind == JobKind::backup) {
        if (!fields.contains("archive"))
            error(where, "archive", "missing: the archive folder to back up into");
        else
            job.target = resolve(str(fields, "archive"));
        if (remote) check_credentials(fields, where, "", "source", job.credentials);
        return;
    }
    if (remote && !source.empty() && job.kind != JobKind::restore)
        check_credentials(fields, where, "source_", "source", job.source_credentials);
    std::string target = str(fields, "target");
    if (target.empty()) return error(where, "target", "missing: the IMAP account to copy into");
    auto e = parse_account_url(target);
    if (!e) return error(where, "target", e.error().what);
    if (e->protocol != net::Protocol::imap)
        return error(where, "target", "must be an IMAP account (imaps:// or imap://)");
    job.target = target;
    if (std::find(job.hosts.begin(), job.hosts.end(), lower(e->host)) == job.hosts.end())
        job.hosts.push_back(lower(e->host));
    check_credentials(fields, where, "target_", "target", job.target_credentials);
}

void Validator::check_ranges(const Fields& fields, const std::string& where) {
    auto number = [&](const char* key) { return fields.at(key).value.get<int>(); };
    if (fields.contains("timeout") && number("timeout") < 1)
        error(where, "timeout", "must be at least 1 (seconds)");
    if (fields.contains("connections") && (number("connections") < 1 || number("connections") > 30))
        error(where, "connections", "must be from 1 to 30");
    if (fields.contains("reconnects") && (number("reconnects") < 0 || number("reconnects") > 100))
        error(where, "reconnects", "must be from 0 to 100");
    if (fields.contains("skip_after") && (number("skip_after") < 0 || number("skip_after") > 1000))
        error(where, "skip_after", "must be from 0 to 1000");
    if (fields.contains("max_bytes") && !parse_size(str(fields, "max_bytes")))
        error(where, "max_bytes",
              "'" + str(fields, "max_bytes") + "' is not bytes with an optional K, M or G");
    if (fields.contains("daily_budget") && !valid_daily_budget(str(fields, "daily_budget")))
        error(where, "daily_budget",
              "'" + str(fields, "daily_budget") +
                  "' is not off or bytes with an optional K, M or G");
    for (const char* key : {"auth", "source_auth", "target_auth"})
        if (fields.contains(key) && net::known_mechanism(str(fields, key)).empty())
            error(where, key, unknown_auth_message(str(fields, key)));
    if (fields.contains("max_delete_percent") && number("max_delete_percent") > 100)
        error(where, "max_delete_percent", "must be a percentage from 0 to 100");
    std::string format = str(fields, "format");
    if (!format.empty() && !archive::parse_format(format))
        error(where, "format", "'" + format + "' is not maildir or mbox");
    std::string special = str(fields, "special_folders");
    if (!special.empty() && special != "prefix" && special != "merge")
        error(where, "special_folders", "'" + special + "' is not prefix or merge");
    std::string labels = str(fields, "labels");
    if (!labels.empty() && labels != "all" && labels != "primary")
        error(where, "labels", "'" + labels + "' is not all or primary");
    // The same words as --since, --before and --max-size (cli/filter_args.h).
    for (const char* key : {"since", "before"})
        if (fields.contains(key) && !parse_filter_date(str(fields, key)))
            error(where, key,
                  "'" + str(fields, key) +
                      "' is not a date written YYYY-MM-DD (or YYYY-MM-DDTHH:MM:SSZ)");
    auto since = parse_filter_date(str(fields, "since")),
         before = parse_filter_date(str(fields, "before"));
    if (since && before && *since >= *before) error(where, "before", "must be later than since");
}

void Validator::fill_job(Fields& fields, const std::string& where, Job& job) {
    check_ranges(fields, where);
    check_endpoints(fields, where, job);
    auto flag = [&](const char* key) {
        return fields.contains(key) && fields[key].value.get<bool>();
    };
    auto number = [&](const char* key, int fallback) {
        return fields.contains(key) ? fields[key].value.get<int>() : fallback;
    };
    auto path = [&](const char* key) {
        return fields.contains(key) ? resolve(str(fields, key)) : std::string();
    };
    job.cacert = path("cacert");
    job.source_cacert = path("source_cacert");
    job.target_cacert = path("target_cacert");
    job.auth = str(fields, "auth");
    job.source_auth = str(fields, "source_auth");
    job.target_auth = str(fields, "target_auth");
    job.state = path("state");
    job.insecure = flag("insecure");
    job.allow_plaintext = flag("allow_plaintext");
    job.compress = !fields.contains("compress") || flag("compress");
    job.timeout = number("timeout", 0);
    job.connections = job.pop3_source ? 1 : number("connections", k_default_connections);
    job.reconnects = number("reconnects", -1);
    job.skip_after = number("skip_after", -1);
    job.undo_server_seen = flag("undo_server_seen");
    job.skip_special_use = str(fields, "skip_special_use");
    job.max_bytes = str(fields, "max_bytes");
    job.daily_budget = str(fields, "daily_budget");
    job.format = str(fields, "format");
    job.target_prefix = str(fields, "target_prefix");
    job.special_folders = str(fields, "special_folders");
    job.labels = str(fields, "labels");
    job.force = flag("force");
    job.append_final_crlf = flag("append_final_crlf");
    job.max_delete_percent = number("max_delete_percent", -1);
    job.delete_after_download = flag("delete_after_download");
    job.delete_older_than_days = number("delete_older_than_days", 0);
    job.filter.since = str(fields, "since");
    job.filter.before = str(fields, "before");
    if (fields.contains("max_size"))
        job.filter.max_size = std::to_string(fields["max_size"].value.get<std::int64_t>());
    for (const char* key : {"folders", "exclude"})
        if (fields.contains(key))
            (std::string(key) == "folders" ? job.folders : job.exclude) =
                fields[key].value.get<std::vector<std::string>>();
    if (fields.contains("map"))
        for (const auto& [from, to] : fields["map"].value.items())
            job.map.emplace_back(from, to.get<std::string>());
}

} // namespace mf::cli::jobfile
