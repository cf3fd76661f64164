// The job keys of built-in OAuth2 (oauth2, oauth2_token_file, the settings):
// validated like the other credentials and passed on to the job's command.
#include "cli/jobs.h"

#include <doctest/doctest.h>

#include <algorithm>

using namespace mf::cli;

namespace {

JobFileResult parse_jobs(const std::string& text, std::map<std::string, unsigned> modes = {}) {
    JobFileContext c;
    c.path = "/etc/mf/jobs.json";
    c.dir = "/etc/mf";
    c.home = "/home/me";
    c.file_mode = 0600;
    c.mode_of = [modes](const std::string& p) -> std::optional<unsigned> {
        auto it = modes.find(p);
        return it == modes.end() ? std::nullopt : std::optional<unsigned>(it->second);
    };
    return parse_job_file(text, c);
}

bool has(const std::vector<std::string>& args, const std::string& arg) {
    return std::find(args.begin(), args.end(), arg) != args.end();
}

std::string all(const JobFileResult& r) {
    std::string out;
    for (const auto& e : r.errors)
        out += e + "\n";
    return out;
}

} // namespace

TEST_CASE("job keys: oauth2 is a credential, its settings become options") {
    auto r = parse_jobs(
        R"({"defaults": {"oauth2_token_url": "http://127.0.0.1:9/token", "oauth2_client_id": "cid",
                                         "oauth2_client_secret_file": "secret"},
        "jobs": [{"name": "b", "kind": "backup", "source": "imaps://me@outlook.office365.com", "archive": "a",
                  "oauth2": "microsoft", "oauth2_token_file": "logins/me.json"},
                 {"name": "m", "kind": "migrate", "source": "imaps://me@imap.gmail.com",
                  "target": "imaps://me@outlook.office365.com", "source_oauth2": "google",
                  "target_oauth2": "microsoft", "target_oauth2_token_file": "/t.json"}]})");
    REQUIRE_MESSAGE(r.errors.empty(), all(r));
    auto b = job_arguments(r.file.jobs[0]);
    CHECK(has(b, "--oauth2=microsoft"));
    CHECK(has(b, "--oauth2-token-file=/etc/mf/logins/me.json"));
    CHECK(has(b, "--oauth2-token-url=http://127.0.0.1:9/token"));
    CHECK(has(b, "--oauth2-client-id=cid"));
    CHECK(has(b, "--oauth2-client-secret-file=/etc/mf/secret"));
    auto m = job_arguments(r.file.jobs[1]);
    CHECK(has(m, "--source-oauth2=google"));
    CHECK(has(m, "--target-oauth2=microsoft"));
    CHECK(has(m, "--target-oauth2-token-file=/t.json"));
}

TEST_CASE("job keys: an unknown provider, two credentials, a readable client secret") {
    auto r = parse_jobs(R"({"jobs": [
        {"name": "a", "kind": "backup", "source": "imaps://me@h", "archive": "a", "oauth2": "yahoo"},
        {"name": "b", "kind": "backup", "source": "imaps://me@h", "archive": "b", "oauth2": "google",
         "password_env": "PW"},
        {"name": "c", "kind": "backup", "source": "imaps://me@h", "archive": "c", "oauth2": "google",
         "oauth2_client_secret_file": "/s"}]})",
                        {{"/s", 0644}});
    const std::string errors = all(r);
    CHECK(errors.find("job 'a'") != std::string::npos);
    CHECK(errors.find("unknown OAuth2 provider") != std::string::npos);
    CHECK(errors.find("give only one of") != std::string::npos);
    CHECK(errors.find("chmod 600 /s") != std::string::npos);
}
