// Job files: parsing and validation. Everything wrong with a file is found
// before anything runs, and every message names the file, the job and the
// key, so that a person reading cron mail can fix it without guessing.
#include "cli/job_keys.h"
#include "cli/job_validator.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <set>

namespace mf::cli::jobfile {

namespace {

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

bool valid_name(const std::string& name) {
    if (name.empty() || name.size() > 128) return false;
    return std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
}

} // namespace

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

} // namespace mf::cli::jobfile

namespace mf::cli {

JobFileResult parse_job_file(std::string_view text, const JobFileContext& context) {
    return jobfile::Validator(context).run(text);
}

} // namespace mf::cli
