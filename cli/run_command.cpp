// `mailferry run [JOBFILE]`: the jobs of a job file, for cron and timers.
//
// Each job runs as a child process of this same binary, with the job turned
// into its own command's options plus --json --quiet: a job that crashes or
// hangs cannot take the others down, and every job runs exactly the code a
// person would run by hand. The child's JSON report (stdout) is folded into
// the run's report; its stderr is kept and shown, prefixed with the job's
// name, only if the job fails, so that cron mails nothing when all is well.
#include "backends/common/fs.h"
#include "backends/common/out_file.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/job_children.h"
#include "cli/job_scheduler.h"
#include "cli/jobs.h"
#include "cli/run_lock.h"
#include "cli/shard.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

namespace mf::cli {

namespace {

using json = nlohmann::json;

std::string dump(const json& j) {
    return j.dump(2, ' ', false, json::error_handler_t::replace);
}

// --- where things are --------------------------------------------------------

Result<std::string> default_job_file() {
    if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x)
        return std::string(x) + "/mailferry/jobs.json";
    if (const char* h = std::getenv("HOME"); h && *h)
        return std::string(h) + "/.config/mailferry/jobs.json";
    return fail(ErrorKind::usage, Scope::account,
                "no job file given, and neither XDG_CONFIG_HOME nor HOME is set");
}

std::string directory_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

// --- results -------------------------------------------------------------------

const char* exit_meaning(int code) {
    switch (code) {
    case exit_ok:
        return "ok";
    case exit_partial:
        return "partly failed";
    case exit_usage:
        return "usage or configuration error";
    case exit_connect:
        return "cannot connect";
    case exit_tls:
        return "TLS or certificate problem";
    case exit_auth:
        return "login refused or credentials unusable";
    case exit_locked:
        return "archive in use by another run";
    case exit_protocol:
        return "server protocol error";
    case exit_local_io:
        return "local disk or archive error";
    }
    return "killed";
}

struct JobResult {
    Finished run;
    json report;       // the child's own report, or null
    std::string error; // "" when the job succeeded
    JobOutcome outcome;
};

std::string last_line(const std::string& text) {
    auto end = text.find_last_not_of("\r\n");
    if (end == std::string::npos) return "";
    auto start = text.rfind('\n', end);
    return text.substr(start == std::string::npos ? 0 : start + 1,
                       end - (start == std::string::npos ? 0 : start + 1) + 1);
}

std::string failure_text(const JobResult& r) {
    if (r.run.signal)
        return "killed by signal " + std::to_string(r.run.signal) + " (" + strsignal(r.run.signal) +
               ")";
    const json& rep = r.report;
    if (rep.is_object() && rep.contains("error") && rep["error"].is_object() &&
        rep["error"].contains("message"))
        return rep["error"]["message"].get<std::string>();
    if (rep.is_object() && rep.contains("errors") && rep["errors"].is_array() &&
        !rep["errors"].empty()) {
        std::string out = rep["errors"][0].is_string() ? rep["errors"][0].get<std::string>() : "";
        if (rep["errors"].size() > 1)
            out += " (and " + std::to_string(rep["errors"].size() - 1) + " more)";
        return out;
    }
    std::string line = last_line(r.run.err_text);
    if (line.starts_with("mailferry: ")) line.erase(0, 11);
    return line.empty() ? "exited with status " + std::to_string(r.run.exit_code) : line;
}

std::uint64_t total(const json& report, const char* key) {
    if (!report.is_object() || !report.contains("totals") || !report["totals"].contains(key))
        return 0;
    const json& v = report["totals"][key];
    return v.is_number_unsigned() ? v.get<std::uint64_t>() : 0;
}

JobResult make_result(Finished f) {
    JobResult r;
    r.run = std::move(f);
    r.report = json::parse(r.run.out_text, nullptr, false);
    if (r.report.is_discarded()) r.report = nullptr;
    bool ok = r.run.exit_code == exit_ok;
    if (!ok) r.error = failure_text(r);
    std::uint64_t errors = 0;
    if (r.report.is_object() && r.report.contains("errors") && r.report["errors"].is_array())
        errors = r.report["errors"].size();
    r.outcome = {r.run.job->name,
                 ok,
                 r.run.started,
                 r.run.finished,
                 total(r.report, "fetched"),
                 total(r.report, "bytes"),
                 std::max<std::uint64_t>(errors, ok ? 0 : 1)};
    r.outcome.failed = total(r.report, "failed");
    r.outcome.skipped = total(r.report, "skipped");
    r.outcome.bytes_left = total(r.report, "bytes_left");
    if (r.report.is_object() && r.report.contains("reconnects") &&
        r.report["reconnects"].is_number_unsigned())
        r.outcome.reconnects = r.report["reconnects"].get<std::uint64_t>();
    if (r.report.is_object() && r.report.contains("backoff_seconds") &&
        r.report["backoff_seconds"].is_number())
        r.outcome.backoff_seconds = r.report["backoff_seconds"].get<double>();
    return r;
}

json job_json(const JobResult& r) {
    json j{{"name", r.run.job->name},
           {"kind", job_kind_name(r.run.job->kind)},
           {"exit_code", r.run.exit_code},
           {"ok", r.outcome.ok},
           {"started_at", r.run.started},
           {"finished_at", r.run.finished},
           {"duration_seconds", r.run.finished - r.run.started},
           {"report", r.report}};
    if (!r.outcome.ok) j["error"] = r.error;
    return j;
}

int run_exit_code(const std::vector<JobResult>& results) {
    bool all_locked = !results.empty();
    bool any_failed = false;
    for (const auto& r : results) {
        any_failed |= !r.outcome.ok;
        all_locked &= r.run.exit_code == exit_locked;
    }
    return all_locked ? exit_locked : any_failed ? exit_partial : exit_ok;
}

json run_json(const std::string& file, int code, const std::vector<JobResult>& results,
              double started) {
    json jobs = json::array();
    std::uint64_t fetched = 0, bytes = 0, errors = 0, ok = 0;
    for (const auto& r : results) {
        jobs.push_back(job_json(r));
        fetched += r.outcome.messages, bytes += r.outcome.bytes, errors += r.outcome.errors,
            ok += r.outcome.ok;
    }
    return json{{"ok", code == exit_ok},
                {"exit_code", code},
                {"job_file", file},
                {"started_at", started},
                {"duration_seconds", unix_now() - started},
                {"jobs", jobs},
                {"totals",
                 {{"jobs", results.size()},
                  {"succeeded", ok},
                  {"failed", results.size() - ok},
                  {"fetched", fetched},
                  {"bytes", bytes},
                  {"errors", errors}}}};
}

// --- output ------------------------------------------------------------------------

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// A FIFO would block the read, and a device holds no previous values.
std::string previous_metrics(const std::string& path) {
    auto where = fs::resolve_output(path);
    if (!where || where->kind != fs::OutputKind::file) return {};
    return read_text(where->path);
}

void print_prefixed(const std::string& name, const std::string& text) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
        std::cerr << '[' << name << "] " << line << '\n';
}

// Quiet when all is well and nobody watches (cron mails any output).
void tell(const JobResult& r, bool terminal) {
    const std::string& name = r.run.job->name;
    if (r.outcome.ok) {
        if (terminal)
            std::cerr << '[' << name << "] ok: " << r.outcome.messages << " messages copied in "
                      << static_cast<long>(r.run.finished - r.run.started + 0.5) << " s\n";
        return;
    }
    print_prefixed(name, r.run.err_text);
    std::cerr << "mailferry: job " << name << " failed (exit " << r.run.exit_code << ", "
              << exit_meaning(r.run.exit_code) << ")";
    // The child's own words, shown just above, usually say it already.
    if (r.run.err_text.find(r.error) == std::string::npos) std::cerr << ": " << r.error;
    std::cerr << '\n';
}

// --- the command -----------------------------------------------------------------

struct Selection {
    std::vector<const Job*> jobs;
    std::vector<std::string> errors;
};

Selection select_jobs(const JobFile& file, const RunArgs& args) {
    Selection s;
    std::optional<Shard> shard;
    if (!args.shard.empty() && !(shard = parse_shard(args.shard)))
        s.errors.push_back("--shard takes I/N with 0 <= I < N, e.g. 0/4; got '" + args.shard + "'");
    for (const auto& name : args.jobs)
        if (std::none_of(file.jobs.begin(), file.jobs.end(),
                         [&](const Job& j) { return j.name == name; }))
            s.errors.push_back(file.path + ": no job named '" + name + "'");
    for (const auto& job : file.jobs) {
        bool named = args.jobs.empty() ||
                     std::find(args.jobs.begin(), args.jobs.end(), job.name) != args.jobs.end();
        if (named && (!shard || in_shard(job.name, *shard))) s.jobs.push_back(&job);
    }
    return s;
}

int refuse(const std::string& file, const std::vector<std::string>& errors, const RunArgs& args,
           int code) {
    for (const auto& e : errors)
        std::cerr << "mailferry: " << e << '\n';
    json j{{"ok", false},
           {"exit_code", code},
           {"job_file", file},
           {"errors", errors},
           {"jobs", json::array()}};
    if (args.json) std::cout << dump(j) << '\n';
    if (!args.report_file.empty() && code == exit_usage)
        if (auto s = fs::write_output(args.report_file, dump(j) + "\n", 0600); !s)
            std::cerr << "mailferry: " << s.error().what << '\n';
    return code;
}

int report_check(const JobFile& file, const Selection& selection, const RunArgs& args) {
    if (args.json) {
        json jobs = json::array();
        for (const Job* j : selection.jobs)
            jobs.push_back(
                {{"name", j->name}, {"kind", job_kind_name(j->kind)}, {"hosts", j->hosts}});
        std::cout << dump({{"ok", true}, {"exit_code", 0}, {"job_file", file.path}, {"jobs", jobs}})
                  << '\n';
        return exit_ok;
    }
    std::cout << file.path << ": valid, " << file.jobs.size() << " jobs";
    if (selection.jobs.size() != file.jobs.size())
        std::cout << ", " << selection.jobs.size() << " selected";
    std::cout << '\n';
    for (const Job* j : selection.jobs)
        std::cout << "  " << j->name << " (" << job_kind_name(j->kind) << ")\n";
    return exit_ok;
}

int write_outputs(const RunArgs& args, const JobFile& file, const json& report,
                  const std::vector<JobResult>& results) {
    int code = report["exit_code"].get<int>();
    if (args.json) std::cout << dump(report) << '\n';
    auto failed = [&code](const Status& s) {
        if (s) return;
        std::cerr << "mailferry: " << s.error().what << '\n';
        if (code == exit_ok) code = exit_local_io;
    };
    if (!args.report_file.empty())
        failed(fs::write_output(args.report_file, dump(report) + "\n", 0600));
    // A dry run backed nothing up: the metrics that say when jobs last
    // succeeded are left as they are.
    if (!args.metrics_file.empty() && !args.dry_run) {
        std::vector<JobOutcome> outcomes;
        for (const auto& r : results)
            outcomes.push_back(r.outcome);
        std::vector<std::string> known;
        for (const auto& j : file.jobs)
            known.push_back(j.name);
        // Metrics hold no secrets, and node_exporter runs as another user.
        // Written whole or not at all: node_exporter may read it at any moment.
        failed(fs::write_output(
            args.metrics_file,
            render_metrics(outcomes, parse_metrics(previous_metrics(args.metrics_file)), known),
            0644));
    }
    return code;
}

} // namespace

int run_jobs(const RunArgs& args) {
    std::string path = args.job_file;
    if (path.empty()) {
        auto p = default_job_file();
        if (!p) return refuse("", {p.error().what}, args, exit_usage);
        path = *p;
    }
    if (args.parallel < 1 || args.parallel > 1000)
        return refuse(path, {"--parallel takes a number from 1 to 1000"}, args, exit_usage);
    auto loaded = load_job_file(path);
    if (!loaded.errors.empty()) return refuse(path, loaded.errors, args, exit_usage);
    for (auto& job : loaded.file.jobs)
        job.dry_run = args.dry_run;
    const JobFile& file = loaded.file;
    Selection selection = select_jobs(file, args);
    if (!selection.errors.empty()) return refuse(path, selection.errors, args, exit_usage);
    if (args.check) return report_check(file, selection, args);

    auto lock = RunLock::acquire(path);
    if (!lock) return refuse(path, {lock.error().what}, args, exit_code_for(lock.error().kind));
    double started = unix_now();
    bool terminal = ::isatty(2) == 1;
    std::vector<JobResult> results;
    Scheduler scheduler(selection.jobs, args.parallel, file.max_connections_per_host,
                        directory_of(path));
    scheduler.run([&](Finished f) {
        results.push_back(make_result(std::move(f)));
        tell(results.back(), terminal);
    });
    // The report lists the jobs in the order of the file, whatever order they ended in.
    std::stable_sort(results.begin(), results.end(),
                     [](const JobResult& a, const JobResult& b) { return a.run.job < b.run.job; });
    int code = run_exit_code(results);
    json report = run_json(path, code, results, started);
    report["dry_run"] = args.dry_run;
    code = write_outputs(args, file, report, results);
    std::size_t failed = report["totals"]["failed"].get<std::size_t>();
    if (failed > 0 || terminal)
        std::cerr << "mailferry: " << results.size() - failed << " of " << results.size()
                  << " jobs succeeded\n";
    return code;
}

} // namespace mf::cli
