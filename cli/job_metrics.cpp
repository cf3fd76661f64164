// The metrics of a run in the Prometheus text format, and the values of the
// previous run read back from the same file.
#include "cli/jobs.h"

#include <algorithm>
#include <cstdio>

namespace mf::cli {

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
    {"mailferry_job_reconnects",
     "New sessions the last run of the job opened after lost or throttled ones."},
    {"mailferry_job_backoff_seconds",
     "Time the last run of the job waited before logging in again."},
    {"mailferry_job_messages_failed",
     "Messages the last run of the job could not copy (tried again next run)."},
    {"mailferry_job_messages_skipped",
     "Messages skipped after failing in too many runs (see --skip-after)."},
    {"mailferry_job_bytes_left",
     "Bytes of listed messages the last run of the job left for the next run: its download "
     "budget (--max-bytes) ran out."},
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
        now["mailferry_job_reconnects"][o.name] = std::to_string(o.reconnects);
        now["mailferry_job_backoff_seconds"][o.name] = seconds(o.backoff_seconds);
        now["mailferry_job_messages_failed"][o.name] = std::to_string(o.failed);
        now["mailferry_job_messages_skipped"][o.name] = std::to_string(o.skipped);
        now["mailferry_job_bytes_left"][o.name] = std::to_string(o.bytes_left);
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
