// The validator of job files, private to cli/job_validate.cpp (the file's
// structure: JSON, keys, types, names, kinds) and cli/job_fields.cpp (from
// checked keys to a Job: endpoints, credentials, ranges, paths). Every
// problem is recorded and validation goes on, so that one run finds them all.
#pragma once

#include "cli/jobs.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mf::cli::jobfile {

using json = nlohmann::json;

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
    void read_oauth2(const Fields& fields, const std::string& where, const std::string& prefix,
                     CredentialOptions& out);
    void check_password_file(const std::string& where, const std::string& key,
                             const std::string& path);
    void check_ranges(const Fields& fields, const std::string& where);
    std::string resolve(const std::string& path) const;

    const JobFileContext& m_context;
    std::vector<std::string> m_errors;
};

// The string value of `key`, or "" when the job does not have it.
std::string str(const Fields& f, const std::string& key);

} // namespace mf::cli::jobfile
