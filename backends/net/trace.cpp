#include "backends/net/trace.h"

#include <algorithm>
#include <cctype>

namespace mf::net {
namespace {

std::string upper(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return out;
}

// Splits "TAG VERB rest" (IMAP) or "VERB rest" (POP3) and returns the prefix
// to keep, up to and including the verb, if the verb carries a secret.
std::string secret_prefix(std::string_view line) {
    std::string u = upper(line);
    for (std::string_view verb : {"PASS ", "APOP ", "AUTH "}) {
        if (u.starts_with(verb)) return std::string(line.substr(0, verb.size()));
    }
    auto space = u.find(' ');
    if (space == std::string::npos) return {};
    std::string_view rest = std::string_view(u).substr(space + 1);
    if (rest.starts_with("LOGIN ")) return std::string(line.substr(0, space + 7));
    if (rest.starts_with("AUTHENTICATE ")) {
        // Keep the mechanism name, hide an initial response after it.
        auto mech_end = u.find(' ', space + 14);
        return std::string(
            line.substr(0, mech_end == std::string::npos ? line.size() : mech_end + 1));
    }
    return {};
}

} // namespace

std::string redact_line(std::string_view line, bool in_sasl_exchange) {
    if (in_sasl_exchange) return "<redacted>";
    std::string keep = secret_prefix(line);
    if (keep.empty()) return std::string(line);
    if (keep.size() >= line.size()) return keep;
    return keep + "<redacted>";
}

} // namespace mf::net
