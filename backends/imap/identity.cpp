// What tells a message apart when it has no Message-ID: its header block,
// asked for only for the few messages the engine could not match otherwise
// (sync/identity.h).
#include "backends/imap/fetch.h"
#include "backends/imap/source.h"
#include "backends/imap/uid_set.h"

#include <unordered_set>

namespace mf::imap {

Result<std::vector<std::pair<std::string, std::string>>>
ImapSource::headers(const std::vector<std::string>& ids) {
    std::vector<std::pair<std::string, std::string>> out;
    const auto asked = to_uids(ids);
    const std::unordered_set<std::uint32_t> wanted(asked.begin(), asked.end());
    for (const auto& set : uid_sets(asked, k_max_uid_set_chars)) {
        auto r = m_session->run_ok(
            "UID FETCH " + set + " (UID BODY.PEEK[HEADER])", "reading headers",
            [&](const Response& resp) -> Status {
                auto data = parse_fetch(resp);
                if (!data || !data->uid || !wanted.contains(*data->uid) || !data->header) return {};
                out.emplace_back(std::to_string(*data->uid), std::move(*data->header));
                return {};
            });
        if (!r) return std::unexpected(r.error());
    }
    return out;
}

} // namespace mf::imap
