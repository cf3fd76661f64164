#include "backends/pop3/check.h"

#include "backends/pop3/session.h"

#include <sstream>

namespace mf::pop3 {

Result<net::AccountCheck> check_pop3(const net::Endpoint& endpoint, net::TraceSink trace) {
    auto session = Session::open(endpoint, std::move(trace));
    if (!session) return std::unexpected(session.error());
    net::AccountCheck out;
    out.endpoint = endpoint;
    out.tls = (*session)->connection().tls();
    auto stat = (*session)->command("STAT");
    if (!stat) return std::unexpected(stat.error());
    std::istringstream in(*stat);
    std::uint64_t count = 0, bytes = 0;
    if (in >> count >> bytes) {
        out.pop3_messages = count;
        out.pop3_bytes = bytes;
    }
    // CAPA is optional (RFC 2449): a server without it just lacks the list.
    auto capa = (*session)->multiline("CAPA", [&](std::string_view line) -> Status {
        out.capabilities.emplace_back(line);
        return {};
    });
    if (!capa && capa.error().scope == Scope::session) return std::unexpected(capa.error());
    for (const auto& c : out.capabilities) {
        if (c == "UIDL" || c.starts_with("UIDL ")) out.uidl = true;
        if (c == "TOP" || c.starts_with("TOP ")) out.top = true;
    }
    if (!out.uidl) {
        // Some servers support UIDL without saying so in CAPA: ask for message 1.
        if (count > 0 && (*session)->command("UIDL 1")) out.uidl = true;
    }
    return out;
}

} // namespace mf::pop3
