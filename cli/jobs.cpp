// Job files: parsing and validation. Everything wrong with a file is found
// before anything runs, and every message names the file, the job and the
// key, so that a person reading cron mail can fix it without guessing.
#include "cli/jobs.h"

#include "backends/net/login.h"
#include "backends/open/archive.h"
#include "cli/url.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace mf::cli {

namespace {

using json = nlohmann::json;

enum class Type { string, boolean, integer, strings, string_map };

// Which kinds a key makes sense for.
constexpr unsigned k_backup = 1, k_migrate = 2, k_restore = 4, k_mirror = 8;
constexpr unsigned k_all = 15, k_push = k_migrate | k_restore | k_mirror,
                   k_from_account = k_migrate | k_mirror;

struct KeySpec {
    std::string_view name;
    Type type;
    unsigned kinds;
};

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
    {"cacert", Type::string, k_all},
    {"source_cacert", Type::string, k_from_account},
    {"target_cacert", Type::string, k_push},
    {"auth", Type::string, k_all},
    {"source_auth", Type::string, k_from_account},
    {"target_auth", Type::string, k_push},
    {"insecure", Type::boolean, k_all},
    {"allow_plaintext", Type::boolean, k_all},
    {"timeout", Type::integer, k_all},
    {"connections", Type::integer, k_all},
    {"reconnects", Type::integer, k_all},
    {"folders", Type::strings, k_all},
    {"exclude", Type::strings, k_all},
    {"map", Type::string_map, k_push},
    {"format", Type::string, k_backup},
    {"state", Type::string, k_from_account},
    {"delete_after_download", Type::boolean, k_backup},
    {"delete_older_than_days", Type::integer, k_backup},
    {"max_delete_percent", Type::integer, k_mirror},
    {"force", Type::boolean, k_mirror},
    {"since", Type::string, k_all},
    {"before", Type::string, k_all},
    {"max_size", Type::integer, k_all},
};

constexpr std::string_view k_refused[] = {"password", "source_password", "target_password"};
constexpr std::string_view k_filters[] = {"since", "before", "max_size"};

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

std::string unknown_key_message(std::string_view key) {
    for (const auto& k : k_keys)
        if (k.name != "name" && k.name != "kind" && edit_distance(key, k.name) <= 2)
            return "unknown key (did you mean '" + std::string(k.name) + "'?)";
    return "unknown key";
}

std::string json_type(const json& v) {
    if (v.is_boolean()) return "true/false";
    if (v.is_number()) return "a number";
    if (v.is_string()) return "a string";
    if (v.is_array()) return "a list";
    if (v.is_object()) return "an object";
    return "null";
}

// "" if `v` has the type, else what is wrong.
std::string type_problem(const json& v, Type type) {
    switch (type) {
    case Type::string:
        if (!v.is_string()) return "must be a string, not " + json_type(v);
        if (v.get_ref<const std::string&>().empty()) return "must not be empty";
        return "";
    case Type::boolean:
        return v.is_boolean() ? "" : "must be true or false, not " + json_type(v);
    case Type::integer:
        if (!v.is_number_integer()) return "must be a whole number, not " + json_type(v);
        if (v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > std::numeric_limits<int>::max())
            return "must be a whole number from 0 to " +
                   std::to_string(std::numeric_limits<int>::max());
        return "";
    case Type::strings:
        if (!v.is_array()) return "must be a list of strings, not " + json_type(v);
        for (const auto& item : v)
            if (!item.is_string() || item.get_ref<const std::string&>().empty())
                return "must be a list of non-empty strings";
        return "";
    case Type::string_map:
        if (!v.is_object())
            return "must be an object of folder names, {\"SRC\": \"DST\"}, not " + json_type(v);
        for (const auto& [from, to] : v.items()) {
            if (from.empty() || !to.is_string() || to.get_ref<const std::string&>().empty())
                return "must map non-empty folder names to non-empty folder names";
            if (from.find('=') != std::string::npos)
                return "folder '" + from +
                       "': a source folder with '=' in its name cannot be mapped";
        }
        return "";
    }
    return "";
}

bool valid_date(const std::string& text) {
    int y = 0, m = 0, d = 0;
    char tail = 0;
    if (text.size() != 10 || std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3)
        return false;
    if (text[4] != '-' || text[7] != '-' || m < 1 || m > 12 || d < 1) return false;
    static constexpr int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= (m == 2 && !leap ? 28 : days[m - 1]);
}

bool valid_name(const std::string& name) {
    if (name.empty() || name.size() > 128) return false;
    return std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
}

// A key's value and whether the job itself set it (else: the defaults).
struct Field {
    json value;
    bool from_job = true;
};
using Fields = std::map<std::string, Field>;

class Validator {
  public:
    explicit Validator(const JobFileContext& context) : m_context(context) {}

    JobFileResult run(std::string_view text);

  private:
    void error(const std::string& where, const std::string& key, const std::string& what);
    std::optional<json> parse(std::string_view text);
    void check_top_level(const json& top, JobFile& file);
    Fields check_object(const json& object, const std::string& where, bool is_defaults);
    std::optional<Job> check_job(const json& entry, std::size_t index, const Fields& defaults,
                                 std::map<std::string, std::size_t>& names);
    void applies(Fields& fields, const std::string& where, JobKind kind);
    void fill_job(Fields& fields, const std::string& where, Job& job);
    void check_endpoints(Fields& fields, const std::string& where, Job& job);
    void check_credentials(const Fields& fields, const std::string& where,
                           const std::string& prefix, const std::string& side,
                           CredentialOptions& out);
    void check_password_file(const std::string& where, const std::string& key,
                             const std::string& path);
    void check_ranges(const Fields& fields, const std::string& where);
    std::string resolve(const std::string& path) const;

    const JobFileContext& m_context;
    std::vector<std::string> m_errors;
};

void Validator::error(const std::string& where, const std::string& key, const std::string& what) {
    std::string line = m_context.path + ": ";
    if (!where.empty()) line += where + ": ";
    if (!key.empty()) line += "key '" + key + "': ";
    m_errors.push_back(line + what);
}

// JSON with comments. A key given twice in one object is an error, not
// "the last one wins": it is almost always a copy-and-paste slip.
std::optional<json> Validator::parse(std::string_view text) {
    std::vector<std::set<std::string>> seen;
    std::vector<std::string> duplicates;
    json::parser_callback_t callback = [&](int, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::object_start) seen.emplace_back();
        if (event == json::parse_event_t::object_end && !seen.empty()) seen.pop_back();
        if (event == json::parse_event_t::key && !seen.empty() &&
            !seen.back().insert(parsed.get<std::string>()).second)
            duplicates.push_back(parsed.get<std::string>());
        return true;
    };
    try {
        json top = json::parse(text.begin(), text.end(), callback, true, true);
        for (const auto& key : duplicates)
            error("", key, "given twice in the same object");
        if (!duplicates.empty()) return std::nullopt;
        return top;
    } catch (const json::parse_error& e) {
        std::string what = e.what();
        // "[json.exception.parse_error.101] parse error at line 3, column 15: syntax error ..."
        if (auto p = what.find("at line "); p != std::string::npos) what = what.substr(p + 3);
        error("", "", "not valid JSON: " + what);
        return std::nullopt;
    }
}

JobFileResult Validator::run(std::string_view text) {
    JobFileResult result;
    result.file.path = m_context.path;
    if ((m_context.file_mode & 002) != 0)
        error("", "",
              "the job file is writable by others, who could make it run any command; run: chmod "
              "o-w " +
                  m_context.path);
    if (auto top = parse(text)) check_top_level(*top, result.file);
    result.errors = std::move(m_errors);
    if (!result.errors.empty()) result.file.jobs.clear();
    return result;
}

void Validator::check_top_level(const json& top, JobFile& file) {
    if (!top.is_object()) return error("", "", "must hold a JSON object {\"jobs\": [...]}");
    for (const auto& [key, value] : top.items()) {
        if (key == "$schema" || key == "defaults" || key == "jobs") continue;
        if (key == "max_connections_per_host") {
            if (!value.is_number_integer() || value.get<std::int64_t>() < 1 ||
                value.get<std::int64_t>() > 1000)
                error("", key, "must be a whole number from 1 to 1000");
            else
                file.max_connections_per_host = value.get<int>();
            continue;
        }
        error("", key,
              "unknown key (the top level holds defaults, max_connections_per_host and jobs)");
    }
    Fields defaults;
    if (top.contains("defaults")) {
        if (top["defaults"].is_object())
            defaults = check_object(top["defaults"], "defaults", true);
        else
            error("", "defaults",
                  "must be an object of job keys, not " + json_type(top["defaults"]));
    }
    if (!top.contains("jobs"))
        return error("", "jobs", "missing: the file must list its jobs in \"jobs\": [...]");
    if (!top["jobs"].is_array())
        return error("", "jobs", "must be a list of jobs, not " + json_type(top["jobs"]));
    std::map<std::string, std::size_t> names;
    std::size_t index = 0;
    for (const auto& entry : top["jobs"])
        if (auto job = check_job(entry, ++index, defaults, names))
            file.jobs.push_back(std::move(*job));
    // A job's connections count against the per-host budget, so no job may
    // want more than the budget (it would never fit).
    for (auto& job : file.jobs)
        job.connections = std::min(job.connections, file.max_connections_per_host);
}

// Unknown keys, refused keys and types; what passes comes back.
Fields Validator::check_object(const json& object, const std::string& where, bool is_defaults) {
    Fields fields;
    for (const auto& [key, value] : object.items()) {
        if (std::find(std::begin(k_refused), std::end(k_refused), key) != std::end(k_refused)) {
            error(where, key,
                  "passwords are not accepted in job files; use password_env, password_file or "
                  "password_command");
            continue;
        }
        const KeySpec* spec = find_key(key);
        if (!spec) {
            error(where, key, unknown_key_message(key));
            continue;
        }
        if (is_defaults && (key == "name" || key == "kind")) {
            error(where, key, "belongs to each job, not to the defaults");
            continue;
        }
        if (std::string problem = type_problem(value, spec->type); !problem.empty()) {
            error(where, key, problem);
            continue;
        }
        fields[key] = Field{value, !is_defaults};
    }
    return fields;
}

std::string str(const Fields& f, const std::string& key) {
    auto it = f.find(key);
    return it == f.end() ? std::string() : it->second.value.get<std::string>();
}

std::optional<Job> Validator::check_job(const json& entry, std::size_t index,
                                        const Fields& defaults,
                                        std::map<std::string, std::size_t>& names) {
    std::string where = "job #" + std::to_string(index);
    if (!entry.is_object()) {
        error(where, "", "must be an object, not " + json_type(entry));
        return std::nullopt;
    }
    if (entry.contains("name") && entry["name"].is_string()) {
        std::string name = entry["name"].get<std::string>();
        if (valid_name(name)) where = "job '" + name + "'";
    }
    std::size_t errors_before = m_errors.size();
    Fields fields = check_object(entry, where, false);
    Job job;
    if (!fields.contains("name")) {
        if (!entry.contains("name")) error(where, "name", "missing: every job needs a name");
    } else if (job.name = str(fields, "name"); !valid_name(job.name)) {
        error(where, "name",
              "'" + job.name + "' is not a valid name (use letters, digits, '.', '_' and '-')");
    } else if (auto [it, fresh] = names.emplace(job.name, index); !fresh) {
        error(where, "name",
              "job #" + std::to_string(it->second) + " has the same name; names must be unique");
    }
    std::string kind = str(fields, "kind");
    if (kind == "backup")
        job.kind = JobKind::backup;
    else if (kind == "migrate")
        job.kind = JobKind::migrate;
    else if (kind == "restore")
        job.kind = JobKind::restore;
    else if (kind == "mirror")
        job.kind = JobKind::mirror;
    else {
        if (!entry.contains("kind"))
            error(where, "kind", "missing: backup, migrate, restore or mirror");
        else if (fields.contains("kind"))
            error(where, "kind", "'" + kind + "' is not backup, migrate, restore or mirror");
        return std::nullopt;
    }
    for (const auto& [key, field] : defaults)
        if (!fields.contains(key)) fields[key] = field;
    applies(fields, where, job.kind);
    fill_job(fields, where, job);
    if (m_errors.size() != errors_before) return std::nullopt;
    return job;
}

// Drops defaults that do not apply to this kind; a key the job itself sets
// that does not apply is an error.
void Validator::applies(Fields& fields, const std::string& where, JobKind kind) {
    for (auto it = fields.begin(); it != fields.end();) {
        const KeySpec* spec = find_key(it->first);
        if (spec->kinds & kind_bit(kind)) {
            ++it;
            continue;
        }
        if (it->second.from_job)
            error(where, it->first,
                  "does not apply to a " + std::string(job_kind_name(kind)) +
                      " job (only to: " + kinds_list(spec->kinds) + ")");
        it = fields.erase(it);
    }
}

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
                                prefix + "password_command", prefix + "oauth2_token_command"};
    std::vector<std::string> given;
    for (const auto& k : keys)
        if (fields.contains(k)) given.push_back(k);
    if (given.empty())
        return error(where, keys[0],
                     "missing: the " + side + " needs credentials: " + keys[0] + ", " + keys[1] +
                         ", " + keys[2] + " or " + keys[3]);
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
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return text;
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
              "source_oauth2_token_command", "source_cacert", "source_auth", "state"}) {
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
    if (fields.contains("connections") && (number("connections") < 1 || number("connections") > 15))
        error(where, "connections", "must be from 1 to 15");
    if (fields.contains("reconnects") && (number("reconnects") < 0 || number("reconnects") > 100))
        error(where, "reconnects", "must be from 0 to 100");
    for (const char* key : {"auth", "source_auth", "target_auth"})
        if (fields.contains(key) && net::known_mechanism(str(fields, key)).empty())
            error(where, key, unknown_auth_message(str(fields, key)));
    if (fields.contains("max_delete_percent") && number("max_delete_percent") > 100)
        error(where, "max_delete_percent", "must be a percentage from 0 to 100");
    std::string format = str(fields, "format");
    if (!format.empty() && !archive::parse_format(format))
        error(where, "format", "'" + format + "' is not maildir or mbox");
    // Accepted by the format so that files can be written for what is coming,
    // but refused at run time: a job must never pretend to filter.
    for (std::string_view k : k_filters) {
        std::string key(k);
        if (!fields.contains(key)) continue;
        if (key != "max_size" && !valid_date(str(fields, key)))
            error(where, key, "'" + str(fields, key) + "' is not a date written YYYY-MM-DD");
        else
            error(where, key,
                  "not supported yet: no command can filter by date or size, so this job would "
                  "copy everything; remove the key");
    }
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
    job.timeout = number("timeout", 0);
    job.connections = job.pop3_source ? 1 : number("connections", k_default_connections);
    job.reconnects = number("reconnects", -1);
    job.format = str(fields, "format");
    job.force = flag("force");
    job.max_delete_percent = number("max_delete_percent", -1);
    job.delete_after_download = flag("delete_after_download");
    job.delete_older_than_days = number("delete_older_than_days", 0);
    for (const char* key : {"folders", "exclude"})
        if (fields.contains(key))
            (std::string(key) == "folders" ? job.folders : job.exclude) =
                fields[key].value.get<std::vector<std::string>>();
    if (fields.contains("map"))
        for (const auto& [from, to] : fields["map"].value.items())
            job.map.emplace_back(from, to.get<std::string>());
}

} // namespace

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

JobFileResult parse_job_file(std::string_view text, const JobFileContext& context) {
    return Validator(context).run(text);
}

JobFileResult load_job_file(const std::string& path) {
    JobFileContext context;
    context.path = path;
    auto slash = path.rfind('/');
    if (slash == std::string::npos) {
        char cwd[4096];
        context.dir = ::getcwd(cwd, sizeof cwd) ? cwd : ".";
    } else {
        context.dir = slash == 0 ? "/" : path.substr(0, slash);
        if (!context.dir.starts_with('/')) {
            char cwd[4096];
            if (::getcwd(cwd, sizeof cwd)) context.dir = std::string(cwd) + "/" + context.dir;
        }
    }
    if (const char* home = std::getenv("HOME")) context.home = home;
    context.mode_of = [](const std::string& p) -> std::optional<unsigned> {
        struct stat st;
        if (::stat(p.c_str(), &st) != 0) return std::nullopt;
        return static_cast<unsigned>(st.st_mode & 07777);
    };
    JobFileResult result;
    result.file.path = path;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
        result.errors.push_back(path + ": cannot read the job file: " + std::strerror(errno));
        return result;
    }
    if (!S_ISREG(st.st_mode)) {
        result.errors.push_back(path + ": not a regular file");
        return result;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        result.errors.push_back(path + ": cannot read the job file: " + std::strerror(errno));
        return result;
    }
    context.file_mode = static_cast<unsigned>(st.st_mode & 07777);
    std::ostringstream text;
    text << in.rdbuf();
    return parse_job_file(text.str(), context);
}

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
    };
    if (job.kind == JobKind::backup) {
        credentials("", job.credentials);
        option("format", job.format);
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
        option("state", job.state);
        if (job.max_delete_percent >= 0)
            option("max-delete", std::to_string(job.max_delete_percent));
        flag("force", job.force);
    }
    option("cacert", job.cacert);
    option("auth", job.auth);
    flag("insecure", job.insecure);
    flag("allow-plaintext", job.allow_plaintext);
    if (job.timeout > 0) option("timeout", std::to_string(job.timeout));
    option("connections", std::to_string(job.connections));
    if (job.reconnects >= 0) option("reconnects", std::to_string(job.reconnects));
    for (const auto& g : job.folders)
        option("folder", g);
    for (const auto& g : job.exclude)
        option("exclude", g);
    // After "--", a source or archive path that starts with '-' is still a path.
    a.insert(a.end(), {"--json", "--quiet", "--", job.source, job.target});
    return a;
}

// --- metrics ---------------------------------------------------------------

namespace {

struct Family {
    const char* name;
    const char* help;
};

constexpr Family k_families[] = {
    {"mailferry_job_success", "1 if the last run of the job succeeded, 0 if it failed."},
    {"mailferry_job_last_run_timestamp_seconds",
     "Unix time at which the last run of the job ended."},
    {"mailferry_job_last_success_timestamp_seconds",
     "Unix time at which the last successful run of the job ended (0: none known)."},
    {"mailferry_job_messages_fetched", "Messages copied by the last run of the job."},
    {"mailferry_job_bytes_fetched", "Bytes of messages copied by the last run of the job."},
    {"mailferry_job_errors", "Errors reported by the last run of the job."},
    {"mailferry_job_duration_seconds", "How long the last run of the job took."},
};

std::string seconds(double value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", value);
    return buf;
}

// `name{job="value"} number`, the only shape render_metrics writes.
bool parse_metric_line(std::string_view line, std::string& name, std::string& job,
                       std::string& value) {
    auto brace = line.find("{job=\"");
    if (brace == std::string_view::npos) return false;
    name = std::string(line.substr(0, brace));
    job.clear();
    std::size_t i = brace + 6;
    for (; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] != '\\' || i + 1 == line.size()) {
            job += line[i];
            continue;
        }
        char c = line[++i];
        job += c == 'n' ? '\n' : c;
    }
    if (line.substr(i).rfind("\"} ", 0) != 0) return false;
    value = std::string(line.substr(i + 3));
    while (!value.empty() && (value.back() == ' ' || value.back() == '\r'))
        value.pop_back();
    return !value.empty() && value.find(' ') == std::string::npos;
}

} // namespace

std::string escape_label_value(std::string_view value) {
    std::string out;
    for (char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

MetricValues parse_metrics(std::string_view text) {
    MetricValues values;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        start = end + 1;
        std::string name, job, value;
        if (!line.starts_with('#') && parse_metric_line(line, name, job, value))
            values[name][job] = value;
    }
    return values;
}

std::string render_metrics(const std::vector<JobOutcome>& outcomes, const MetricValues& previous,
                           const std::vector<std::string>& known) {
    MetricValues now;
    for (const auto& name : known)
        for (const auto& [family, jobs] : previous)
            if (auto it = jobs.find(name); it != jobs.end()) now[family][name] = it->second;
    const std::string success_family = "mailferry_job_last_success_timestamp_seconds";
    for (const auto& o : outcomes) {
        std::string last_success = "0";
        if (auto f = previous.find(success_family); f != previous.end())
            if (auto it = f->second.find(o.name); it != f->second.end()) last_success = it->second;
        now["mailferry_job_success"][o.name] = o.ok ? "1" : "0";
        now["mailferry_job_last_run_timestamp_seconds"][o.name] = seconds(o.finished);
        now[success_family][o.name] = o.ok ? seconds(o.finished) : last_success;
        now["mailferry_job_messages_fetched"][o.name] = std::to_string(o.messages);
        now["mailferry_job_bytes_fetched"][o.name] = std::to_string(o.bytes);
        now["mailferry_job_errors"][o.name] = std::to_string(o.errors);
        now["mailferry_job_duration_seconds"][o.name] =
            seconds(std::max(0.0, o.finished - o.started));
    }
    std::string out;
    for (const auto& family : k_families) {
        auto it = now.find(family.name);
        if (it == now.end() || it->second.empty()) continue;
        out += std::string("# HELP ") + family.name + " " + family.help + "\n";
        out += std::string("# TYPE ") + family.name + " gauge\n";
        for (const auto& [job, value] : it->second)
            out += std::string(family.name) + "{job=\"" + escape_label_value(job) + "\"} " + value +
                   "\n";
    }
    return out;
}

} // namespace mf::cli
