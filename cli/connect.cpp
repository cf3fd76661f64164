#include "cli/connect.h"

#include "backends/imap/source.h"
#include "backends/imap/target.h"
#include "backends/pop3/source.h"
#include "cli/output.h"

namespace mf::cli {

Result<std::unique_ptr<Source>> connect_source(const net::Endpoint& endpoint, bool debug) {
    net::TraceSink trace = debug ? stderr_trace("") : nullptr;
    if (endpoint.protocol == net::Protocol::pop3) {
        auto pop = pop3::Session::open(endpoint, trace);
        if (!pop) return std::unexpected(pop.error());
        return std::unique_ptr<Source>(std::make_unique<pop3::Pop3Source>(std::move(*pop)));
    }
    auto session = imap::Session::open(endpoint, imap::TraceOptions{trace});
    if (!session) return std::unexpected(session.error());
    return std::unique_ptr<Source>(std::make_unique<imap::ImapSource>(std::move(*session)));
}

Result<std::unique_ptr<Target>> connect_target(const net::Endpoint& endpoint, bool debug,
                                               bool final_crlf) {
    if (endpoint.protocol != net::Protocol::imap)
        return fail(ErrorKind::usage, Scope::account,
                    "the target must be an IMAP account (imap:// or imaps://)");
    auto session = imap::Session::open(
        endpoint, imap::TraceOptions{debug ? stderr_trace("[target] ") : nullptr});
    if (!session) return std::unexpected(session.error());
    auto target = imap::ImapTarget::open_account(std::move(*session), {.final_crlf = final_crlf});
    if (!target) return std::unexpected(target.error());
    return std::unique_ptr<Target>(std::move(*target));
}

Status list_like(Source& source, const std::shared_ptr<const ListingMemo>& memo) {
    auto adopted = source.adopt_listing(memo);
    if (!adopted) return std::unexpected(adopted.error());
    if (*adopted) return {};
    if (auto listed = source.list_folders(); !listed) return std::unexpected(listed.error());
    return {};
}

} // namespace mf::cli
