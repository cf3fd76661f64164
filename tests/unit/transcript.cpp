#include "transcript.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace mf::test {

namespace {

// tests/transcripts/, found from this file's own path (the build passes
// absolute source paths); MAILFERRY_TRANSCRIPTS overrides it.
std::filesystem::path transcript_dir() {
    if (const char* dir = std::getenv("MAILFERRY_TRANSCRIPTS")) return dir;
    return std::filesystem::path(__FILE__).parent_path().parent_path() / "transcripts";
}

std::string shown(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '\r')
            out += "\\r";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out + "\"";
}

// "${NAME}" at `at` in `text`: the name, or "" if none starts there.
std::string_view var_at(std::string_view text, std::size_t at) {
    if (text.substr(at, 2) != "${") return {};
    auto end = text.find('}', at + 2);
    if (end == std::string_view::npos) return {};
    return text.substr(at + 2, end - at - 2);
}

} // namespace

class ScriptedTransport : public net::Transport {
  public:
    ScriptedTransport(std::shared_ptr<Transcript> script, std::size_t max_read, std::string host)
        : m_script(std::move(script)), m_max_read(std::max<std::size_t>(max_read, 1)) {
        m_endpoint.host = std::move(host);
    }
    Status send_all(std::string_view data) override { return m_script->on_send(data); }
    Result<std::size_t> read_some(char* buf, std::size_t len) override {
        return m_script->on_read(buf, len, m_max_read);
    }
    const net::Endpoint& endpoint() const override { return m_endpoint; }
    const net::TlsInfo& tls() const override { return m_tls; }
    const std::vector<std::string>& login_reply() const override { return m_script->m_login_reply; }

  private:
    std::shared_ptr<Transcript> m_script;
    std::size_t m_max_read;
    net::Endpoint m_endpoint;
    net::TlsInfo m_tls;
};

std::shared_ptr<Transcript> Transcript::parse(std::string_view text, std::string name) {
    std::shared_ptr<Transcript> t(new Transcript);
    t->m_name = std::move(name);
    std::istringstream in{std::string(text)};
    std::string line;
    std::size_t number = 0;
    Step* open_literal = nullptr; // the S: step whose {*} takes the L: lines below it
    auto bad = [&](const std::string& why) {
        throw std::runtime_error(t->m_name + " line " + std::to_string(number) + ": " + why);
    };
    while (std::getline(in, line)) {
        ++number;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line.front() == '#') continue;
        auto colon = line.find(':');
        if (colon == std::string::npos) bad("no \"S:\", \"C:\", \"L:\" or \"login:\"");
        const std::string kind = line.substr(0, colon);
        std::string body = line.substr(colon + 1);
        if (!body.empty() && body.front() == ' ') body.erase(0, 1);
        if (kind == "L") {
            if (!open_literal) bad("an L: line without an S: line ending in {*} above it");
            open_literal->literal += body + "\r\n";
            continue;
        }
        if (open_literal) {
            auto& s = *open_literal;
            s.text.replace(s.text.size() - 3, 3, "{" + std::to_string(s.literal.size()) + "}");
            open_literal = nullptr;
        }
        if (kind == "login") {
            t->m_login_reply.push_back(body);
        } else if (kind == "S" || kind == "C") {
            t->m_steps.push_back(Step{kind == "S", number, body, {}});
            if (body.ends_with("{*}")) {
                if (kind == "C") bad("{*} in a client line (write the literal's size)");
                open_literal = &t->m_steps.back();
            }
        } else {
            bad("unknown kind \"" + kind + "\"");
        }
    }
    if (open_literal) {
        auto& s = *open_literal;
        s.text.replace(s.text.size() - 3, 3, "{" + std::to_string(s.literal.size()) + "}");
    }
    return t;
}

std::shared_ptr<Transcript> Transcript::load(const std::string& relative) {
    const auto path = transcript_dir() / relative;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read transcript " + path.string());
    std::ostringstream text;
    text << in.rdbuf();
    return parse(text.str(), relative);
}

std::unique_ptr<net::Transport> Transcript::transport(std::size_t max_read, std::string host) {
    reset();
    return std::make_unique<ScriptedTransport>(shared_from_this(), max_read, std::move(host));
}

void Transcript::reset() {
    m_next = 0;
    m_in_flight.clear();
    m_read = 0;
    m_partial.clear();
    m_vars.clear();
    m_error.clear();
    m_client_lines.clear();
}

std::string Transcript::where(const Step& step) const {
    return m_name + " line " + std::to_string(step.line);
}

void Transcript::mismatch(std::string what) {
    if (m_error.empty()) m_error = std::move(what);
}

std::unexpected<Failure> Transcript::failure() const {
    return fail(ErrorKind::protocol, Scope::session, "transcript: " + m_error);
}

// A server line with its ${NAME}s replaced, CRLF and literal added.
std::string Transcript::render(const Step& step) {
    std::string out;
    for (std::size_t at = 0; at < step.text.size();) {
        auto name = var_at(step.text, at);
        if (name.empty()) {
            out += step.text[at++];
            continue;
        }
        auto value = m_vars.find(name);
        if (value == m_vars.end()) {
            mismatch(where(step) + ": ${" + std::string(name) +
                     "} is used before a client line named it");
            return {};
        }
        out += value->second;
        at += name.size() + 3;
    }
    return out + "\r\n" + step.literal;
}

// Whether `line` is what `step` expects; binds the ${NAME}s it names first.
bool Transcript::match(const Step& step, std::string_view line) {
    std::map<std::string, std::string, std::less<>> bound;
    std::string_view pattern = step.text;
    std::size_t at = 0, got = 0;
    while (at < pattern.size()) {
        auto name = var_at(pattern, at);
        if (name.empty()) {
            if (got >= line.size() || line[got] != pattern[at]) return false;
            ++at, ++got;
            continue;
        }
        at += name.size() + 3;
        std::string_view value;
        if (auto known = m_vars.find(name); known != m_vars.end())
            value = known->second;
        else if (auto now = bound.find(name); now != bound.end())
            value = now->second;
        else {
            auto end = line.find(' ', got);
            value = line.substr(got,
                                end == std::string_view::npos ? std::string_view::npos : end - got);
            if (value.empty()) return false;
            bound.emplace(std::string(name), std::string(value));
        }
        if (line.substr(got, value.size()) != value) return false;
        got += value.size();
    }
    if (got != line.size()) return false;
    m_vars.merge(bound);
    return true;
}

void Transcript::send_server_steps() {
    while (m_next < m_steps.size() && m_steps[m_next].from_server) {
        if (m_read == m_in_flight.size()) {
            m_in_flight.clear();
            m_read = 0;
        }
        m_in_flight += render(m_steps[m_next++]);
    }
}

Status Transcript::take_client_line(std::string_view line) {
    m_client_lines.emplace_back(line);
    send_server_steps(); // the server said those before this line arrived
    if (!m_error.empty()) return failure();
    if (m_next == m_steps.size()) {
        mismatch(m_name + ": the client sent " + shown(line) + " after the end of the transcript");
        return failure();
    }
    const Step& step = m_steps[m_next];
    if (!match(step, line)) {
        mismatch(where(step) + ": expected the client to send\n  " + shown(step.text) +
                 "\nbut it sent\n  " + shown(line));
        return failure();
    }
    ++m_next;
    return {};
}

Status Transcript::on_send(std::string_view data) {
    if (!m_error.empty()) return failure();
    m_partial.append(data);
    std::size_t start = 0;
    for (;;) {
        auto crlf = m_partial.find("\r\n", start);
        if (crlf == std::string::npos) break;
        auto s = take_client_line(std::string_view(m_partial).substr(start, crlf - start));
        start = crlf + 2;
        if (!s) return s;
    }
    m_partial.erase(0, start);
    return {};
}

Result<std::size_t> Transcript::on_read(char* buf, std::size_t len, std::size_t max_read) {
    if (!m_error.empty()) return failure();
    if (!m_partial.empty()) {
        mismatch(m_name + ": the client waits for the server with " + shown(m_partial) +
                 " sent but no CRLF");
        return failure();
    }
    if (m_read == m_in_flight.size()) send_server_steps();
    if (!m_error.empty()) return failure();
    if (m_read == m_in_flight.size()) {
        if (m_next == m_steps.size())
            return fail(ErrorKind::connect, Scope::session,
                        "server.test closed the connection (end of the transcript)");
        const Step& step = m_steps[m_next];
        mismatch(where(step) +
                 ": the client waits for the server, but the transcript expects it to send\n  " +
                 shown(step.text));
        return failure();
    }
    const std::size_t n = std::min({len, max_read, m_in_flight.size() - m_read});
    std::copy_n(m_in_flight.data() + m_read, n, buf);
    m_read += n;
    return n;
}

std::string Transcript::verdict() const {
    if (!m_error.empty()) return m_error;
    if (!m_partial.empty())
        return m_name + ": the client left " + shown(m_partial) + " without CRLF";
    if (m_next < m_steps.size()) {
        const Step& step = m_steps[m_next];
        return where(step) + ": never reached (" + (step.from_server ? "S: " : "C: ") + step.text +
               ")";
    }
    if (m_read < m_in_flight.size())
        return m_name + ": the client never read " + shown(m_in_flight.substr(m_read, 200));
    return {};
}

} // namespace mf::test
