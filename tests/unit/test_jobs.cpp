// Job files (cli/job_*.cpp), --shard (cli/shard.cpp) and the metrics of a run.
#include "cli/jobs.h"
#include "cli/shard.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>

using namespace mf::cli;

namespace {

JobFileContext context(unsigned file_mode = 0600, std::map<std::string, unsigned> modes = {}) {
    JobFileContext c;
    c.path = "/etc/mf/jobs.json";
    c.dir = "/etc/mf";
    c.home = "/home/me";
    c.file_mode = file_mode;
    c.mode_of = [modes](const std::string& p) -> std::optional<unsigned> {
        auto it = modes.find(p);
        if (it == modes.end()) return std::nullopt;
        return it->second;
    };
    return c;
}

JobFileResult parse(const std::string& text, const JobFileContext& c = context()) {
    return parse_job_file(text, c);
}

// One job in an otherwise valid file.
std::string one(const std::string& fields,
                const std::string& source = "imaps://me@mail.example.org",
                const std::string& credentials = R"("password_env": "PW")") {
    return R"({"jobs": [{"name": "j", "kind": "backup", "source": ")" + source +
           R"(", "archive": "a", )" + credentials +
           (fields.empty() ? std::string() : ", " + fields) + "}]}";
}

bool has_error(const JobFileResult& r, const std::string& needle) {
    return std::any_of(r.errors.begin(), r.errors.end(),
                       [&](const std::string& e) { return e.find(needle) != std::string::npos; });
}

std::string all_errors(const JobFileResult& r) {
    std::string out;
    for (const auto& e : r.errors)
        out += e + "\n";
    return out;
}

} // namespace

TEST_CASE("a commented job file with defaults becomes plain jobs") {
    auto r = parse(R"(
        // nightly
        {
          "$schema": "jobs.schema.json",
          "defaults": {"cacert": "ca.pem", "timeout": 30, "folders": ["INBOX", "Work/*"]},
          "max_connections_per_host": 2,
          "jobs": [
            {"name": "alice", "kind": "backup", "source": "imaps://alice@Mail.Example.org",
             "archive": "~/backups/alice", "password_file": "alice.pw", "exclude": ["Junk"]},
            /* a move */
            {"name": "move.bob", "kind": "migrate", "source": "pop3s://bob@pop.example.org",
             "target": "imaps://bob@imap.example.org", "source_password_command": "pass pop",
             "target_oauth2_token_command": "get-token", "map": {"INBOX": "Old/POP"}, "timeout": 5}
          ]
        })");
    REQUIRE_MESSAGE(r.errors.empty(), all_errors(r));
    CHECK(r.file.max_connections_per_host == 2);
    REQUIRE(r.file.jobs.size() == 2);
    const Job& a = r.file.jobs[0];
    CHECK(a.name == "alice");
    CHECK(a.kind == JobKind::backup);
    CHECK(a.target == "/home/me/backups/alice");
    CHECK(a.credentials.password_file == "/etc/mf/alice.pw");
    CHECK(a.cacert == "/etc/mf/ca.pem");
    CHECK(a.timeout == 30);
    CHECK(a.folders == std::vector<std::string>{"INBOX", "Work/*"});
    CHECK(a.exclude == std::vector<std::string>{"Junk"});
    CHECK(a.hosts == std::vector<std::string>{"mail.example.org"});
    const Job& b = r.file.jobs[1];
    CHECK(b.kind == JobKind::migrate);
    CHECK(b.timeout == 5);
    CHECK(b.source_credentials.password_command == "pass pop");
    CHECK(b.target_credentials.oauth2_token_command == "get-token");
    CHECK(b.map == std::vector<std::pair<std::string, std::string>>{{"INBOX", "Old/POP"}});
    CHECK(b.hosts == std::vector<std::string>{"pop.example.org", "imap.example.org"});
}

TEST_CASE("every error names the file, the job and the key, and all are listed") {
    auto r = parse(R"({"jobs": [
        {"name": "a", "kind": "backup", "source": "imaps://a@h", "archive": "x", "password_env": "P", "foldres": []},
        {"name": "b", "kind": "backup", "source": "imaps://b@h", "archive": "x", "password_env": "P", "timeout": "5"}
    ]})");
    CHECK(r.file.jobs.empty());
    CHECK(has_error(
        r, "/etc/mf/jobs.json: job 'a': key 'foldres': unknown key (did you mean 'folders'?)"));
    CHECK(has_error(r, "/etc/mf/jobs.json: job 'b': key 'timeout': must be a whole number"));
    CHECK(r.errors.size() == 2);
}

TEST_CASE("structure errors") {
    struct Case {
        const char* text;
        const char* error;
    };
    const Case cases[] = {
        {"{", "not valid JSON"},
        {"[]", "must hold a JSON object"},
        {"{}", "key 'jobs': missing"},
        {R"({"jobs": {}})", "key 'jobs': must be a list"},
        {R"({"jobs": [], "job": []})", "key 'job': unknown key"},
        {R"({"jobs": [], "max_connections_per_host": 0})",
         "key 'max_connections_per_host': must be a whole number"},
        {R"({"jobs": [], "defaults": []})", "key 'defaults': must be an object"},
        {R"({"jobs": [], "defaults": {"name": "x"}})", "defaults: key 'name': belongs to each job"},
        {R"({"jobs": [], "defaults": {"bogus": 1}})", "defaults: key 'bogus': unknown key"},
        {R"({"jobs": [42]})", "job #1: must be an object"},
        {R"({"jobs": [{"kind": "backup"}]})", "job #1: key 'name': missing"},
        {R"({"jobs": [{"name": "a b", "kind": "backup"}]})",
         "job #1: key 'name': 'a b' is not a valid name"},
        {R"({"jobs": [{"name": "a"}]})", "job 'a': key 'kind': missing"},
        {R"({"jobs": [{"name": "a", "kind": "sync"}]})",
         "job 'a': key 'kind': 'sync' is not backup"},
        {R"({"jobs": [{"name": "a", "kind": "backup", "kind": "mirror"}]})",
         "key 'kind': given twice"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        auto r = parse(c.text);
        CHECK_MESSAGE(has_error(r, c.error), all_errors(r));
    }
}

TEST_CASE("job errors") {
    struct Case {
        std::string fields;
        const char* error;
    };
    const Case cases[] = {
        {R"("password": "hunter2")",
         "key 'password': passwords are not accepted in job files; use password_env, "
         "password_file or password_command"},
        {R"("insecure": "yes")", "key 'insecure': must be true or false"},
        {R"("folders": "INBOX")", "key 'folders': must be a list of strings"},
        {R"("folders": [""])", "key 'folders': must be a list of non-empty strings"},
        {R"("format": "mh")", "key 'format': 'mh' is not maildir or mbox"},
        {R"("timeout": 0)", "key 'timeout': must be at least 1"},
        {R"("timeout": 1.5)", "key 'timeout': must be a whole number"},
        {R"("delete_older_than_days": -1)",
         "key 'delete_older_than_days': must be a whole number from 0"},
        {R"("password_command": "pass x")",
         "key 'password_command': give only one of password_env and password_command"},
        {R"("delete_after_download": true)",
         "key 'delete_after_download': applies to POP3 sources only"},
        {R"("map": {"INBOX": "x"})",
         "key 'map': does not apply to a backup job (only to: migrate, restore, mirror)"},
        {R"("force": true)", "key 'force': does not apply to a backup job (only to: mirror)"},
        {R"("append_final_crlf": true)", "key 'append_final_crlf': does not apply to a backup job "
                                         "(only to: migrate, restore, mirror)"},
        {R"("since": "2024-1-01")", "key 'since': '2024-1-01' is not a date"},
        {R"("before": "2024-13-01")", "key 'before': '2024-13-01' is not a date"},
        {R"("since": "2024-02-01", "before": "2024-01-01")",
         "key 'before': must be later than since"},
        {R"("max_size": -1)", "key 'max_size': must be a whole number from 0"},
        {R"("reconnects": 101)", "key 'reconnects': must be from 0 to 100"},
        {R"("skip_after": 1001)", "key 'skip_after': must be from 0 to 1000"},
        {R"("max_bytes": "2T")", "key 'max_bytes': '2T' is not bytes with an optional K, M or G"},
        {R"("max_bytes": 100)", "key 'max_bytes': must be a string"},
        {R"("daily_budget": "none")",
         "key 'daily_budget': 'none' is not off or bytes with an optional K, M or G"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.fields);
        auto r = parse(one(c.fields));
        CHECK_MESSAGE(has_error(r, "/etc/mf/jobs.json: job 'j': " + std::string(c.error)),
                      all_errors(r));
        CHECK(r.file.jobs.empty());
    }
    CHECK(has_error(parse(one("", "ftp://x@h")), "job 'j': key 'source': unsupported URL scheme"));
}

TEST_CASE("sources, targets and credentials by kind") {
    auto r = parse(R"({"jobs": [
        {"name": "nocred", "kind": "backup", "source": "imaps://a@h", "archive": "x"},
        {"name": "noarch", "kind": "backup", "source": "imaps://a@h", "password_env": "P"},
        {"name": "restore-url", "kind": "restore", "source": "imaps://a@h", "target": "imaps://b@h",
         "target_password_env": "P"},
        {"name": "pop-target", "kind": "migrate", "source": "arch", "target": "pop3s://b@h", "target_password_env": "P"},
        {"name": "archive-creds", "kind": "migrate", "source": "arch", "target": "imaps://b@h",
         "target_password_env": "P", "source_password_env": "Q"},
        {"name": "no-target", "kind": "mirror", "source": "imaps://a@h", "source_password_env": "P"}
    ]})");
    CHECK(has_error(r, "job 'nocred': key 'password_env': missing: the source needs credentials"));
    CHECK(has_error(r, "job 'noarch': key 'archive': missing"));
    CHECK(has_error(r, "job 'restore-url': key 'source': a restore reads an archive folder"));
    CHECK(has_error(r, "job 'pop-target': key 'target': must be an IMAP account"));
    CHECK(has_error(r, "job 'archive-creds': key 'source_password_env': does not apply: the source "
                       "is an archive"));
    CHECK(has_error(r, "job 'no-target': key 'target': missing"));
}

TEST_CASE("defaults that do not apply to a kind are left out, not errors") {
    auto r =
        parse(R"({"defaults": {"delete_after_download": true, "force": true, "map": {"A": "B"}},
        "jobs": [
        {"name": "imap", "kind": "backup", "source": "imaps://a@h", "archive": "x", "password_env": "P"},
        {"name": "pop", "kind": "backup", "source": "pop3s://a@h", "archive": "y", "password_env": "P"},
        {"name": "m", "kind": "mirror", "source": "imaps://a@h", "target": "imaps://b@g",
         "source_password_env": "P", "target_password_env": "Q"}
    ]})");
    REQUIRE_MESSAGE(r.errors.empty(), all_errors(r));
    CHECK_FALSE(r.file.jobs[0].delete_after_download);
    CHECK_FALSE(r.file.jobs[0].force);
    CHECK(r.file.jobs[1].delete_after_download);
    CHECK(r.file.jobs[2].force);
    CHECK(r.file.jobs[2].map.size() == 1);
}

TEST_CASE("names are unique") {
    auto r = parse(R"({"jobs": [
        {"name": "x", "kind": "backup", "source": "imaps://a@h", "archive": "x", "password_env": "P"},
        {"name": "x", "kind": "backup", "source": "imaps://b@h", "archive": "y", "password_env": "P"}
    ]})");
    CHECK(has_error(r, "job 'x': key 'name': job #1 has the same name"));
}

TEST_CASE("password files and the job file's own permissions") {
    std::string text = one("", "imaps://me@h", R"("password_file": "pw")");
    CHECK(parse(text, context(0600, {{"/etc/mf/pw", 0600}})).errors.empty());
    CHECK(parse(text, context(0644, {{"/etc/mf/pw", 0600}})).errors.empty());
    CHECK(parse(text, context(0600))
              .errors.empty()); // not there yet: the command says so when it runs
    auto open_pw = parse(text, context(0644, {{"/etc/mf/pw", 0644}}));
    CHECK(has_error(
        open_pw,
        "job 'j': key 'password_file': password file /etc/mf/pw is readable by group or others, "
        "and so is this job file"));
    CHECK(has_error(parse(text, context(0600, {{"/etc/mf/pw", 0640}})), "chmod 600 /etc/mf/pw"));
    CHECK(has_error(parse(one(""), context(0666)), "the job file is writable by others"));
}

TEST_CASE("a job becomes its command's options, secrets only by reference") {
    auto r = parse(R"({"jobs": [
        {"name": "b", "kind": "backup", "source": "pop3s://a@h", "archive": "-odd", "password_file": "/s/pw",
         "format": "mbox", "delete_after_download": true, "delete_older_than_days": 30, "folders": ["-x"],
         "insecure": true, "timeout": 9},
        {"name": "m", "kind": "mirror", "source": "imaps://a@h", "target": "imaps://b@g", "cacert": "/ca",
         "source_password_env": "P", "target_oauth2_token_command": "tok --for b", "map": {"INBOX": "In"},
         "max_delete_percent": 10, "force": true, "state": "/s/state.db", "allow_plaintext": true,
         "connections": 3, "append_final_crlf": true}
    ]})");
    REQUIRE_MESSAGE(r.errors.empty(), all_errors(r));
    CHECK(job_arguments(r.file.jobs[0]) ==
          std::vector<std::string>{"backup", "--password-file=/s/pw", "--format=mbox",
                                   "--delete-after-download", "--delete-older-than=30",
                                   "--insecure", "--timeout=9", "--connections=1", "--folder=-x",
                                   "--json", "--quiet", "--", "pop3s://a@h", "/etc/mf/-odd"});
    CHECK(job_arguments(r.file.jobs[1]) ==
          std::vector<std::string>{
              "mirror", "--source-password-env=P", "--target-oauth2-token-command=tok --for b",
              "--map=INBOX=In", "--state=/s/state.db", "--max-delete=10", "--force",
              "--append-final-crlf", "--cacert=/ca", "--allow-plaintext", "--connections=3",
              "--json", "--quiet", "--", "imaps://a@h", "imaps://b@g"});
}

TEST_CASE("fnv1a64 is the published FNV-1a") {
    CHECK(fnv1a64("") == 0xcbf29ce484222325ull);
    CHECK(fnv1a64("a") == 0xaf63dc4c8601ec8cull);
    CHECK(fnv1a64("foobar") == 0x85944171f73967e8ull);
}

TEST_CASE("--shard I/N") {
    CHECK(parse_shard("0/1").has_value());
    CHECK(parse_shard("3/4")->index == 3);
    CHECK(parse_shard("3/4")->count == 4);
    for (const char* bad :
         {"", "1", "4/4", "5/4", "0/0", "-1/4", "a/4", "1/b", "1/4/5", " 1/4", "1/4 "}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_shard(bad).has_value());
    }
}

TEST_CASE("1000 job names: each in exactly one shard, spread evenly") {
    std::vector<std::string> names;
    for (int i = 0; i < 1000; ++i)
        names.push_back("account-" + std::to_string(i) + ".example.org");
    for (std::uint64_t n : {1, 2, 3, 7, 10, 32}) {
        CAPTURE(n);
        std::vector<int> sizes(n, 0);
        for (const auto& name : names) {
            int hits = 0;
            for (std::uint64_t i = 0; i < n; ++i)
                if (in_shard(name, Shard{i, n})) ++hits, ++sizes[i];
            CHECK(hits == 1);
        }
        double mean = 1000.0 / static_cast<double>(n);
        for (int size : sizes)
            CHECK(std::abs(size - mean) <= 5 * std::sqrt(mean) + 1);
    }
}

TEST_CASE("metrics: families with HELP and TYPE, escaped labels, last success kept") {
    MetricValues previous =
        parse_metrics("# HELP mailferry_job_success x\n"
                      "mailferry_job_success{job=\"old\"} 1\n"
                      "mailferry_job_last_success_timestamp_seconds{job=\"b\"} 1700000000.000\n"
                      "mailferry_job_last_success_timestamp_seconds{job=\"gone\"} 5\n"
                      "mailferry_job_errors{job=\"old\"} 0\n");
    CHECK(previous["mailferry_job_success"]["old"] == "1");
    std::vector<JobOutcome> outcomes{{"a", true, 100, 112.5, 7, 7000, 0},
                                     {"b", false, 100, 101, 0, 0, 1, 2, 3.5, 4, 1, 12400}};
    std::string text = render_metrics(outcomes, previous, {"a", "b", "old"});
    CHECK(text.find("# HELP mailferry_job_success ") != std::string::npos);
    CHECK(text.find("# TYPE mailferry_job_success gauge\n") != std::string::npos);
    CHECK(text.find("mailferry_job_success{job=\"a\"} 1\n") != std::string::npos);
    CHECK(text.find("mailferry_job_success{job=\"b\"} 0\n") != std::string::npos);
    CHECK(text.find("mailferry_job_success{job=\"old\"} 1\n") !=
          std::string::npos);                          // not run: kept
    CHECK(text.find("\"gone\"") == std::string::npos); // not in the file: dropped
    CHECK(text.find("mailferry_job_last_success_timestamp_seconds{job=\"a\"} 112.500\n") !=
          std::string::npos);
    CHECK(text.find("mailferry_job_last_success_timestamp_seconds{job=\"b\"} 1700000000.000\n") !=
          std::string::npos);
    CHECK(text.find("mailferry_job_last_run_timestamp_seconds{job=\"b\"} 101.000\n") !=
          std::string::npos);
    CHECK(text.find("mailferry_job_messages_fetched{job=\"a\"} 7\n") != std::string::npos);
    CHECK(text.find("mailferry_job_bytes_fetched{job=\"a\"} 7000\n") != std::string::npos);
    CHECK(text.find("mailferry_job_errors{job=\"b\"} 1\n") != std::string::npos);
    CHECK(text.find("mailferry_job_duration_seconds{job=\"a\"} 12.500\n") != std::string::npos);
    CHECK(text.find("mailferry_job_reconnects{job=\"b\"} 2\n") != std::string::npos);
    CHECK(text.find("mailferry_job_backoff_seconds{job=\"b\"} 3.500\n") != std::string::npos);
    CHECK(text.find("mailferry_job_messages_failed{job=\"b\"} 4\n") != std::string::npos);
    CHECK(text.find("mailferry_job_messages_skipped{job=\"b\"} 1\n") != std::string::npos);
    CHECK(text.find("mailferry_job_messages_skipped{job=\"a\"} 0\n") != std::string::npos);
    CHECK(text.find("mailferry_job_bytes_left{job=\"b\"} 12400\n") != std::string::npos);
    CHECK(text.find("mailferry_job_bytes_left{job=\"a\"} 0\n") != std::string::npos);
    // A family's lines stand together, after its HELP and TYPE.
    auto type = text.find("# TYPE mailferry_job_errors gauge");
    CHECK(text.find("mailferry_job_errors{job=\"a\"}") > type);
    CHECK(text.find("mailferry_job_errors{job=\"old\"}") > type);
    CHECK(escape_label_value("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
    auto back = parse_metrics(render_metrics({{"we\"ird\\", true, 0, 1, 0, 0, 0}}, {}, {}));
    CHECK(back["mailferry_job_success"]["we\"ird\\"] == "1");
}

TEST_CASE("a job's connections default to the commands', are 1 for POP3 and never exceed the host "
          "budget") {
    auto connections = [](const std::string& text) {
        auto r = parse(text);
        REQUIRE_MESSAGE(r.errors.empty(), all_errors(r));
        std::vector<int> out;
        for (const auto& j : r.file.jobs)
            out.push_back(j.connections);
        return out;
    };
    CHECK(connections(R"({"jobs": [
        {"name": "a", "kind": "backup", "source": "imaps://a@h", "archive": "a", "password_env": "P"},
        {"name": "b", "kind": "backup", "source": "pop3s://a@h", "archive": "b", "password_env": "P", "connections": 8},
        {"name": "c", "kind": "backup", "source": "imaps://c@h", "archive": "c", "password_env": "P", "connections": 2}
    ]})") == std::vector<int>{4, 1, 2});
    CHECK(connections(R"({"max_connections_per_host": 3, "defaults": {"connections": 9}, "jobs": [
        {"name": "a", "kind": "backup", "source": "imaps://a@h", "archive": "a", "password_env": "P"}
    ]})") == std::vector<int>{3});
    for (const char* bad : {"0", "31", "\"4\""}) {
        auto r =
            parse(std::string(R"({"jobs": [{"name": "a", "kind": "backup", "source": "imaps://a@h",
            "archive": "a", "password_env": "P", "connections": )") +
                  bad + "}]}");
        CHECK_MESSAGE(!r.errors.empty(), bad);
    }
}

TEST_CASE("reconnects: passed on only when the job sets it") {
    auto set = parse(one(R"("reconnects": 0)"));
    REQUIRE(set.errors.empty());
    auto args = job_arguments(set.file.jobs[0]);
    CHECK(std::find(args.begin(), args.end(), "--reconnects=0") != args.end());
    auto unset = parse(one(""));
    REQUIRE(unset.errors.empty());
    for (const auto& a : job_arguments(unset.file.jobs[0]))
        CHECK(a.rfind("--reconnects", 0) != 0);
}

TEST_CASE("skip_after: a backup job's key, passed on only when set") {
    auto set = parse(one(R"("skip_after": 0)"));
    REQUIRE(set.errors.empty());
    auto args = job_arguments(set.file.jobs[0]);
    CHECK(std::find(args.begin(), args.end(), "--skip-after=0") != args.end());
    auto unset = parse(one(""));
    REQUIRE(unset.errors.empty());
    for (const auto& a : job_arguments(unset.file.jobs[0]))
        CHECK(a.rfind("--skip-after", 0) != 0);
}

TEST_CASE("max_bytes and daily_budget: a backup job's keys, in --max-size's words, passed on only "
          "when set") {
    auto set = parse(one(R"("max_bytes": "500M", "daily_budget": "off")"));
    REQUIRE(set.errors.empty());
    auto args = job_arguments(set.file.jobs[0]);
    CHECK(std::find(args.begin(), args.end(), "--max-bytes=500M") != args.end());
    CHECK(std::find(args.begin(), args.end(), "--daily-budget=off") != args.end());
    for (const auto& a : job_arguments(parse(one("")).file.jobs[0])) {
        CHECK(a.rfind("--max-bytes", 0) != 0);
        CHECK(a.rfind("--daily-budget", 0) != 0);
    }
}

TEST_CASE("max_bytes and daily_budget apply to a migrate job too") {
    auto r = parse(R"({"jobs": [{"name": "m", "kind": "migrate", "source": "imaps://a@h",
        "target": "imaps://b@g", "source_password_env": "P", "target_password_env": "Q",
        "max_bytes": "1G", "daily_budget": "500M"}]})");
    REQUIRE(r.errors.empty());
    auto args = job_arguments(r.file.jobs[0]);
    CHECK(std::find(args.begin(), args.end(), "--max-bytes=1G") != args.end());
    CHECK(std::find(args.begin(), args.end(), "--daily-budget=500M") != args.end());
}

TEST_CASE("the filter keys become --since, --before and --max-size; run --dry-run adds --dry-run") {
    auto r = parse(R"({"jobs": [
        {"name": "b", "kind": "backup", "source": "imaps://a@h", "archive": "/a", "password_env": "P",
         "since": "2024-01-01", "before": "2024-02-01T12:00:00Z", "max_size": 1048576},
        {"name": "r", "kind": "restore", "source": "/a", "target": "imaps://b@g",
         "target_password_env": "P", "max_size": 0}
    ]})");
    REQUIRE_MESSAGE(r.errors.empty(), all_errors(r));
    CHECK(job_arguments(r.file.jobs[0]) ==
          std::vector<std::string>{"backup", "--password-env=P", "--connections=4",
                                   "--since=2024-01-01", "--before=2024-02-01T12:00:00Z",
                                   "--max-size=1048576", "--json", "--quiet", "--", "imaps://a@h",
                                   "/a"});
    r.file.jobs[1].dry_run = true;
    CHECK(job_arguments(r.file.jobs[1]) ==
          std::vector<std::string>{"restore", "--target-password-env=P", "--dry-run",
                                   "--connections=4", "--max-size=0", "--json", "--quiet", "--",
                                   "/a", "imaps://b@g"});
}
