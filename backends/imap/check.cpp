#include "backends/imap/check.h"

#include "backends/imap/source.h"

namespace mf::imap {

namespace {

std::string joined(const std::vector<std::string>& parts, char separator) {
    std::string out;
    for (const auto& p : parts) {
        if (!out.empty()) out += separator ? separator : '/';
        out += p;
    }
    return out;
}

net::FolderStatus status_of(Session& session, const ListedFolder& f) {
    net::FolderStatus st;
    st.name = joined(f.info.path, f.separator);
    st.selectable = f.info.selectable;
    st.name_valid = f.name_valid;
    st.special_use = f.info.special_use;
    if (!f.info.selectable) return st;
    auto arg = mailbox_argument(f.raw_name);
    if (!arg) {
        st.error = arg.error().what;
        return st;
    }
    auto r =
        session.run("STATUS " + *arg + " (MESSAGES UNSEEN)", [&](const Response& resp) -> Status {
            if (resp.items.size() != 3 || !is_atom(resp.items[0], "STATUS")) return {};
            const auto& list = resp.items[2].items;
            for (std::size_t i = 0; i + 1 < list.size(); i += 2) {
                if (is_atom(list[i], "MESSAGES")) st.messages = to_u32(list[i + 1]);
                if (is_atom(list[i], "UNSEEN")) st.unseen = to_u32(list[i + 1]);
            }
            return {};
        });
    if (!r)
        st.error = r.error().what;
    else if (r->status != "OK")
        st.error = r->status + " " + r->text;
    return st;
}

} // namespace

Result<net::AccountCheck> check_imap(const net::Endpoint& endpoint, TraceOptions trace) {
    auto session = Session::open(endpoint, std::move(trace));
    if (!session) return std::unexpected(session.error());
    net::AccountCheck out;
    out.endpoint = endpoint;
    out.tls = (*session)->connection().tls();
    out.capabilities.assign((*session)->capabilities().begin(), (*session)->capabilities().end());
    // Names as a backup would see them (UTF-8 where the server offers it).
    if (auto utf8 = enable_utf8(**session); !utf8) return std::unexpected(utf8.error());
    auto listed = list_all(**session);
    if (!listed) return std::unexpected(listed.error());
    for (const auto& f : *listed) {
        if (f.separator && out.separator.empty()) out.separator = std::string(1, f.separator);
        out.folders.push_back(status_of(**session, f));
    }
    return out;
}

} // namespace mf::imap
