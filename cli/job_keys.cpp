// The keys of a job file and the kinds of job: the table that the validator,
// its messages and the schema (examples/jobs.schema.json) agree on.
#include "cli/job_keys.h"

#include <algorithm>
#include <vector>

namespace mf::cli::jobfile {

namespace {

// Which kinds a key makes sense for.
constexpr unsigned k_backup = 1, k_migrate = 2, k_restore = 4, k_mirror = 8;
constexpr unsigned k_all = 15, k_push = k_migrate | k_restore | k_mirror,
                   k_from_account = k_migrate | k_mirror;

constexpr KeySpec k_keys[] = {
    {"name", Type::string, k_all},
    {"kind", Type::string, k_all},
    {"source", Type::string, k_all},
    {"archive", Type::string, k_backup},
    {"target", Type::string, k_push},
    {"password_env", Type::string, k_backup},
    {"password_file", Type::string, k_backup},
    {"password_command", Type::string, k_backup},
    {"oauth2_token_command", Type::string, k_backup},
    {"source_password_env", Type::string, k_from_account},
    {"source_password_file", Type::string, k_from_account},
    {"source_password_command", Type::string, k_from_account},
    {"source_oauth2_token_command", Type::string, k_from_account},
    {"target_password_env", Type::string, k_push},
    {"target_password_file", Type::string, k_push},
    {"target_password_command", Type::string, k_push},
    {"target_oauth2_token_command", Type::string, k_push},
    {"oauth2", Type::string, k_backup},
    {"source_oauth2", Type::string, k_from_account},
    {"target_oauth2", Type::string, k_push},
    {"oauth2_token_file", Type::string, k_backup},
    {"source_oauth2_token_file", Type::string, k_from_account},
    {"target_oauth2_token_file", Type::string, k_push},
    {"oauth2_token_url", Type::string, k_all},
    {"oauth2_device_url", Type::string, k_all},
    {"oauth2_auth_url", Type::string, k_all},
    {"oauth2_client_id", Type::string, k_all},
    {"oauth2_client_secret_file", Type::string, k_all},
    {"oauth2_scope", Type::string, k_all},
    {"cacert", Type::string, k_all},
    {"source_cacert", Type::string, k_from_account},
    {"target_cacert", Type::string, k_push},
    {"auth", Type::string, k_all},
    {"source_auth", Type::string, k_from_account},
    {"target_auth", Type::string, k_push},
    {"insecure", Type::boolean, k_all},
    {"allow_plaintext", Type::boolean, k_all},
    {"compress", Type::boolean, k_all},
    {"timeout", Type::integer, k_all},
    {"connections", Type::integer, k_all},
    {"reconnects", Type::integer, k_all},
    {"folders", Type::strings, k_all},
    {"exclude", Type::strings, k_all},
    {"map", Type::string_map, k_push},
    {"target_prefix", Type::string, k_push},
    {"special_folders", Type::string, k_push},
    {"labels", Type::string, k_push},
    {"format", Type::string, k_backup},
    {"skip_after", Type::integer, k_backup},
    {"undo_server_seen", Type::boolean, k_backup},
    {"skip_special_use", Type::string, k_backup},
    {"state", Type::string, k_from_account},
    {"delete_after_download", Type::boolean, k_backup},
    {"delete_older_than_days", Type::integer, k_backup},
    {"max_delete_percent", Type::integer, k_mirror},
    {"force", Type::boolean, k_mirror},
    {"append_final_crlf", Type::boolean, k_push},
    {"since", Type::string, k_all},
    {"before", Type::string, k_all},
    {"max_size", Type::integer, k_all},
    {"max_bytes", Type::string, k_all},
    {"daily_budget", Type::string, k_all},
};

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = up;
        }
    }
    return row[b.size()];
}

} // namespace

const KeySpec* find_key(std::string_view name) {
    for (const auto& k : k_keys)
        if (k.name == name) return &k;
    return nullptr;
}

unsigned kind_bit(JobKind kind) {
    switch (kind) {
    case JobKind::backup:
        return k_backup;
    case JobKind::migrate:
        return k_migrate;
    case JobKind::restore:
        return k_restore;
    case JobKind::mirror:
        return k_mirror;
    }
    return 0;
}

std::string kinds_list(unsigned kinds) {
    std::string out;
    for (JobKind k : {JobKind::backup, JobKind::migrate, JobKind::restore, JobKind::mirror})
        if (kinds & kind_bit(k)) out += (out.empty() ? "" : ", ") + std::string(job_kind_name(k));
    return out;
}

std::string unknown_key_message(std::string_view key) {
    for (const auto& k : k_keys)
        if (k.name != "name" && k.name != "kind" && edit_distance(key, k.name) <= 2)
            return "unknown key (did you mean '" + std::string(k.name) + "'?)";
    return "unknown key";
}

} // namespace mf::cli::jobfile

namespace mf::cli {

const char* job_kind_name(JobKind kind) {
    switch (kind) {
    case JobKind::backup:
        return "backup";
    case JobKind::migrate:
        return "migrate";
    case JobKind::restore:
        return "restore";
    case JobKind::mirror:
        return "mirror";
    }
    return "backup";
}

} // namespace mf::cli
