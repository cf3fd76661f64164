// `mailferry check URL`: can we reach, secure and log in to this account, and
// what does it hold? Everything printed comes from the server, escaped.
#include "backends/imap/check.h"
#include "backends/pop3/check.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/output.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace mf::cli {

namespace {

std::string tls_words(const net::AccountCheck& c) {
    if (!c.tls.active) return "not encrypted (plaintext)";
    std::string out = "TLS";
    if (!c.tls.version.empty())
        out += " (" + c.tls.version + (c.tls.cipher.empty() ? "" : ", " + c.tls.cipher) + ")";
    out += c.endpoint.tls != net::TlsMode::implicit ? " via STARTTLS" : "";
    out += c.tls.verified ? ", certificate verified" : ", certificate NOT verified (--insecure)";
    return out;
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items)
        out += (out.empty() ? "" : " ") + printable(i);
    return out;
}

void print_text(const net::AccountCheck& c) {
    const bool imap = c.endpoint.protocol == net::Protocol::imap;
    std::cout << "server:       " << c.endpoint.display() << '\n'
              << "connection:   " << tls_words(c) << '\n'
              << "login:        ok as " << printable(c.endpoint.user) << '\n'
              << "capabilities: " << joined(c.capabilities) << '\n';
    if (!imap) {
        std::cout << "messages:     " << c.pop3_messages.value_or(0) << " ("
                  << human_bytes(c.pop3_bytes.value_or(0)) << ")\n"
                  << "UIDL:         "
                  << (c.uidl ? "supported" : "not supported (messages are matched by headers)")
                  << '\n'
                  << "TOP:          " << (c.top ? "supported" : "not supported") << '\n';
        return;
    }
    std::cout << "separator:    " << (c.separator.empty() ? "none (flat)" : printable(c.separator))
              << '\n'
              << "folders:      " << c.folders.size() << '\n';
    for (const auto& f : c.folders) {
        std::string line = pad_to("  " + printable(f.name), 30);
        if (!f.selectable)
            line += " (not a mailbox, holds folders only)";
        else if (!f.error.empty())
            line += " STATUS failed: " + printable(f.error);
        else
            line += " " + std::to_string(f.messages.value_or(0)) + " messages, " +
                    std::to_string(f.unseen.value_or(0)) + " unseen";
        if (!f.special_use.empty()) line += " [" + printable(f.special_use) + "]";
        if (!f.name_valid) line += " (name is not valid modified UTF-7; shown raw)";
        std::cout << line << '\n';
    }
}

nlohmann::json to_json(const net::AccountCheck& c) {
    nlohmann::json j;
    j["ok"] = true;
    j["exit_code"] = 0;
    j["server"] = c.endpoint.display();
    j["protocol"] = c.endpoint.protocol == net::Protocol::imap ? "imap" : "pop3";
    j["host"] = c.endpoint.host;
    j["port"] = c.endpoint.port;
    j["user"] = c.endpoint.user;
    j["tls"] = {{"active", c.tls.active},
                {"version", c.tls.version},
                {"cipher", c.tls.cipher},
                {"starttls", c.tls.active && c.endpoint.tls != net::TlsMode::implicit},
                {"verified", c.tls.verified}};
    j["login"] = "ok";
    j["capabilities"] = c.capabilities;
    if (c.endpoint.protocol == net::Protocol::pop3) {
        j["messages"] = c.pop3_messages.value_or(0);
        j["bytes"] = c.pop3_bytes.value_or(0);
        j["uidl"] = c.uidl;
        j["top"] = c.top;
        return j;
    }
    j["separator"] = c.separator;
    j["folders"] = nlohmann::json::array();
    for (const auto& f : c.folders) {
        nlohmann::json jf{
            {"name", f.name}, {"selectable", f.selectable}, {"name_valid", f.name_valid}};
        if (f.messages) jf["messages"] = *f.messages;
        if (f.unseen) jf["unseen"] = *f.unseen;
        if (!f.special_use.empty()) jf["special_use"] = f.special_use;
        if (!f.error.empty()) jf["error"] = f.error;
        j["folders"].push_back(jf);
    }
    return j;
}

} // namespace

int run_check(const CheckArgs& args) {
    auto endpoint = make_endpoint(args.connection);
    if (!endpoint) return report_failure(endpoint.error(), args.json);
    net::TraceSink trace = args.connection.debug ? stderr_trace("") : net::TraceSink{};
    auto result = endpoint->protocol == net::Protocol::imap
                      ? imap::check_imap(*endpoint, imap::TraceOptions{trace})
                      : pop3::check_pop3(*endpoint, trace);
    if (!result) return report_failure(result.error(), args.json);
    if (args.json)
        std::cout << to_json(*result).dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                  << '\n';
    else
        print_text(*result);
    return exit_ok;
}

} // namespace mf::cli
