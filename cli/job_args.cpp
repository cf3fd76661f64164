// A job as the command line of the command that does it (`mailferry run`
// runs each job as a child process of the same binary).
#include "cli/jobs.h"

#include "cli/oauth2.h"

namespace mf::cli {

std::vector<std::string> job_arguments(const Job& job) {
    std::vector<std::string> a{job_kind_name(job.kind)};
    // --key=value: a value that starts with '-' stays a value.
    auto option = [&a](const std::string& name, const std::string& value) {
        if (!value.empty()) a.push_back("--" + name + "=" + value);
    };
    auto flag = [&a](const std::string& name, bool on) {
        if (on) a.push_back("--" + name);
    };
    auto credentials = [&option](const std::string& prefix, const CredentialOptions& c) {
        option(prefix + "password-env", c.password_env);
        option(prefix + "password-file", c.password_file);
        option(prefix + "password-command", c.password_command);
        option(prefix + "oauth2-token-command", c.oauth2_token_command);
        oauth2_arguments(prefix, c, option);
    };
    if (job.kind == JobKind::backup) {
        credentials("", job.credentials);
        option("format", job.format);
        if (job.skip_after >= 0) option("skip-after", std::to_string(job.skip_after));
        flag("undo-server-seen", job.undo_server_seen);
        option("skip-special-use", job.skip_special_use);
        flag("delete-after-download", job.delete_after_download);
        if (job.delete_older_than_days > 0)
            option("delete-older-than", std::to_string(job.delete_older_than_days));
    } else {
        credentials("source-", job.source_credentials);
        credentials("target-", job.target_credentials);
        option("source-cacert", job.source_cacert);
        option("target-cacert", job.target_cacert);
        option("source-auth", job.source_auth);
        option("target-auth", job.target_auth);
        for (const auto& [from, to] : job.map)
            option("map", from + "=" + to);
        option("target-prefix", job.target_prefix);
        option("special-folders", job.special_folders);
        option("labels", job.labels);
        option("state", job.state);
        if (job.max_delete_percent >= 0)
            option("max-delete", std::to_string(job.max_delete_percent));
        flag("force", job.force);
        flag("append-final-crlf", job.append_final_crlf);
    }
    option("cacert", job.cacert);
    option("auth", job.auth);
    flag("insecure", job.insecure);
    flag("allow-plaintext", job.allow_plaintext);
    flag("no-compress", !job.compress);
    flag("dry-run", job.dry_run);
    if (job.timeout > 0) option("timeout", std::to_string(job.timeout));
    option("connections", std::to_string(job.connections));
    if (job.reconnects >= 0) option("reconnects", std::to_string(job.reconnects));
    option("since", job.filter.since);
    option("before", job.filter.before);
    option("max-size", job.filter.max_size);
    option("max-bytes", job.max_bytes);
    option("daily-budget", job.daily_budget);
    for (const auto& g : job.folders)
        option("folder", g);
    for (const auto& g : job.exclude)
        option("exclude", g);
    // After "--", a source or archive path that starts with '-' is still a path.
    a.insert(a.end(), {"--json", "--quiet", "--", job.source, job.target});
    return a;
}

} // namespace mf::cli
