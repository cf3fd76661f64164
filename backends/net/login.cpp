#include "backends/net/login.h"

#include <algorithm>
#include <cctype>

namespace mf::net {

namespace {

std::string upper(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

// The words of `line`, split at spaces, brackets and parentheses (an IMAP
// capability list may sit in a greeting's response code).
std::vector<std::string_view> words(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    auto separator = [](char c) {
        return c == ' ' || c == '[' || c == ']' || c == '(' || c == ')';
    };
    while (i < line.size()) {
        while (i < line.size() && separator(line[i]))
            ++i;
        std::size_t start = i;
        while (i < line.size() && !separator(line[i]))
            ++i;
        if (i > start) out.push_back(line.substr(start, i - start));
    }
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::toupper(static_cast<unsigned char>(x)) ==
                      std::toupper(static_cast<unsigned char>(y));
           });
}

} // namespace

const std::vector<std::string>& known_mechanisms() {
    // Curl_sasl_decode_mech's table in libcurl 7.88 (lib/curl_sasl.c).
    static const std::vector<std::string> names{
        "PLAIN",       "LOGIN",         "XOAUTH2", "OAUTHBEARER", "CRAM-MD5", "DIGEST-MD5",
        "SCRAM-SHA-1", "SCRAM-SHA-256", "NTLM",    "GSSAPI",      "EXTERNAL"};
    return names;
}

std::string known_mechanism(std::string_view name) {
    std::string u = upper(name);
    const auto& names = known_mechanisms();
    return std::find(names.begin(), names.end(), u) != names.end() ? u : std::string();
}

LoginChoice choose_login(const Endpoint& e) {
    if (!e.auth_mechanism.empty())
        return {"AUTH=" + e.auth_mechanism, e.auth_mechanism, OnNoMatch::fail};
    if (e.oauth2_token)
        return {"AUTH=OAUTHBEARER;AUTH=XOAUTH2", "OAUTHBEARER or XOAUTH2", OnNoMatch::fail};
    return {"AUTH=PLAIN;AUTH=LOGIN", "PLAIN or LOGIN", OnNoMatch::libcurls_choice};
}

Offered offered_mechanisms(Protocol protocol, std::string_view line) {
    Offered out;
    auto w = words(line);
    if (protocol == Protocol::pop3) {
        if (w.empty() || !iequals(w[0], "SASL")) return out;
        out.is_list = true;
        for (std::size_t i = 1; i < w.size(); ++i)
            out.mechanisms.push_back(upper(w[i]));
        return out;
    }
    out.is_list = std::any_of(w.begin(), w.end(),
                              [](std::string_view x) { return iequals(x, "CAPABILITY"); });
    if (!out.is_list) return out;
    for (auto x : w)
        if (x.size() > 5 && iequals(x.substr(0, 5), "AUTH="))
            out.mechanisms.push_back(upper(x.substr(5)));
    return out;
}

bool begins_login(Protocol protocol, std::string_view line) {
    auto w = words(line);
    if (protocol == Protocol::pop3)
        return !w.empty() && (iequals(w[0], "AUTH") || iequals(w[0], "USER") ||
                              iequals(w[0], "PASS") || iequals(w[0], "APOP"));
    return w.size() >= 2 && (iequals(w[1], "AUTHENTICATE") || iequals(w[1], "LOGIN"));
}

} // namespace mf::net
