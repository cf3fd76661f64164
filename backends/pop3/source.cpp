#include "backends/pop3/source.h"

#include "backends/common/crashpoint.h"
#include "backends/common/headers.h"
#include "sync/fnv.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace mf::pop3 {

namespace {

constexpr std::size_t k_pipeline_window = 32; // commands in flight with PIPELINING
// A line count larger than any message: TOP then returns the whole message.
constexpr const char* k_all_lines = "1000000000";

std::optional<std::uint32_t> number(std::string_view s) {
    std::uint32_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v == 0) return std::nullopt;
    return v;
}

// "N rest" -> (N, rest); nullopt if malformed.
std::optional<std::pair<std::uint32_t, std::string_view>> numbered(std::string_view line) {
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) return std::nullopt;
    auto n = number(line.substr(0, sp));
    std::string_view rest = line.substr(sp + 1);
    while (!rest.empty() && rest.back() == ' ')
        rest.remove_suffix(1);
    if (!n || rest.empty()) return std::nullopt;
    return std::pair{*n, rest};
}

std::int64_t date_of(const mail::HeaderScanner& h) {
    if (auto d = mail::parse_rfc5322_date(h.received_first_date())) return *d;
    if (auto d = mail::parse_rfc5322_date(h.date())) return *d;
    return 0;
}

// Feeds the header block of message `n` (TOP n 0) to `headers`. A message
// the server will not give (Scope::message) leaves them empty.
Status scan_headers(Session& session, std::uint32_t n, mail::HeaderScanner& headers) {
    auto s = session.multiline("TOP " + std::to_string(n) + " 0", [&](std::string_view line) {
        headers.feed(line);
        headers.feed("\r\n");
        return Status{};
    });
    headers.finish();
    if (!s && s.error().scope != Scope::message) return s;
    return {};
}

// Persisted in change tokens and ids: see sync/fnv.h.
constexpr std::uint64_t k_fnv_start = k_fnv1a64_persisted_basis;

// The mailbox's ids in order, hashed: its change token is the count and the
// hash, and a mailbox whose first `count` ids still hash the same has only
// gained messages since (POP3 has no flags to change).
struct ListingHash {
    std::size_t count = 0;
    std::uint64_t hash = k_fnv_start;
    void add(std::string_view id) {
        hash = fnv1a64(id, hash);
        hash = fnv1a64(std::string_view("\n", 1),
                       hash); // ids cannot hold LF: no two lists hash alike by shifting
        ++count;
    }
    std::string token() const {
        char buf[64];
        std::snprintf(buf, sizeof buf, "pop3 %zu %016llx", count,
                      static_cast<unsigned long long>(hash));
        return buf;
    }
};

std::optional<std::size_t> token_count(const std::string& token) {
    std::size_t count = 0;
    char hex[17] = {};
    if (std::sscanf(token.c_str(), "pop3 %zu %16[0-9a-f]", &count, hex) != 2) return std::nullopt;
    return count;
}

std::string hashed_id(const char* prefix, std::string_view bytes, std::uint64_t n) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s-%016llx-%llu", prefix,
                  static_cast<unsigned long long>(fnv1a64(bytes, k_fnv_start)),
                  static_cast<unsigned long long>(n));
    return buf;
}

} // namespace

std::string fingerprint_id(std::string_view header_block, std::uint64_t size) {
    return hashed_id("fp", header_block, size);
}

std::string bounded_uidl(std::string_view uidl) {
    if (uidl.size() <= k_max_uidl) return std::string(uidl);
    return hashed_id("uidl", uidl, uidl.size());
}

Pop3Source::Pop3Source(std::unique_ptr<Session> session) : m_session(std::move(session)) {}

void Pop3Source::note(std::string text) {
    m_caveats.push_back(std::move(text));
}

std::string Pop3Source::caveat() const {
    std::string out;
    for (const auto& c : m_caveats)
        out += (out.empty() ? "" : "; ") + c;
    return out;
}

Result<std::vector<FolderInfo>> Pop3Source::list_folders() {
    return std::vector<FolderInfo>{FolderInfo{{"INBOX"}, true}};
}

Status Pop3Source::read_capabilities() {
    bool top = false;
    auto capa = m_session->multiline("CAPA", [&](std::string_view line) -> Status {
        if (line == "PIPELINING") m_pipelining = true;
        if (line == "TOP" || line.starts_with("TOP ")) top = true;
        return {};
    });
    if (!capa && capa.error().scope == Scope::session) return capa;
    m_use_retr = !top;
    return {};
}

Status Pop3Source::list_sizes() {
    auto s = m_session->multiline("LIST", [&](std::string_view line) -> Status {
        auto n = numbered(line);
        std::uint64_t size = 0;
        if (!n || std::from_chars(n->second.data(), n->second.data() + n->second.size(), size).ec !=
                      std::errc())
            return fail(ErrorKind::protocol, Scope::session,
                        m_session->host() +
                            " sent a malformed LIST line: " + std::string(line.substr(0, 80)));
        m_listing.add_listed(n->first, size);
        return {};
    });
    if (!s) return s;
    m_listing.end_listed();
    return {};
}

// UIDL lines "N uidl". A duplicated UIDL would make two messages one: the
// second is skipped and reported rather than silently merged.
Status Pop3Source::list_uidls() {
    std::size_t hashed = 0;
    auto s = m_session->multiline("UIDL", [&](std::string_view line) -> Status {
        auto n = numbered(line);
        if (!n)
            return fail(ErrorKind::protocol, Scope::session,
                        m_session->host() +
                            " sent a malformed UIDL line: " + std::string(line.substr(0, 80)));
        // Only numbers LIST gave, each once: an endless or repeating UIDL
        // answer cannot grow memory past the mailbox's size.
        if (n->second.size() > k_max_uidl) ++hashed;
        if (!m_listing.set_id(n->first, bounded_uidl(n->second)))
            return fail(ErrorKind::protocol, Scope::session,
                        m_session->host() + " sent a UIDL line for a message LIST did not have: " +
                            std::string(line.substr(0, 80)));
        return {};
    });
    if (!s) return s;
    if (auto duplicates = m_listing.seal())
        note(std::to_string(duplicates) + " messages share a UIDL with another and were skipped");
    if (hashed)
        note(std::to_string(hashed) + " UIDLs were longer than " + std::to_string(k_max_uidl) +
             " bytes; those messages are known by a hash of their UIDL");
    return {};
}

// No UIDL: identify messages by their header block and size (TOP n 0),
// which is stable as long as the server does not rewrite headers. Identical
// copies count once.
Status Pop3Source::fingerprint_ids() {
    note("the server has no UIDL; messages are identified by a fingerprint of their headers and "
         "size");
    for (std::size_t i = 0; i < m_listing.size(); ++i) {
        const std::uint32_t n = m_listing.entry(i).number;
        std::string headers;
        auto s = m_session->multiline("TOP " + std::to_string(n) + " 0",
                                      [&](std::string_view line) -> Status {
                                          if (headers.size() < (1u << 20))
                                              headers.append(line).append("\r\n");
                                          return {};
                                      });
        if (!s) return s;
        m_listing.set_id(n, fingerprint_id(headers, m_listing.entry(i).size));
    }
    m_listing.seal();
    return {};
}

// The whole mailbox is listed anyway (UIDL has no "since"); what a token
// saves is the archive's side: an unchanged mailbox is not compared with the
// archive at all, and one that only gained messages is compared for those.
// The token hashes every listed id in order, duplicates included.
Result<Snapshot> Pop3Source::open(const FolderInfo& folder, const OpenRequest& request) {
    const std::string& known_token = request.known_token;
    if (auto s = list_mailbox(folder); !s) return std::unexpected(s.error());
    ListingHash all, prefix;
    auto known_count = token_count(known_token);
    std::size_t after_prefix = 0; // the first entry past the known ids
    for (std::size_t i = 0; i < m_listing.size(); ++i) {
        if (!m_listing.has_id(i)) continue;
        if (known_count && prefix.count < *known_count) {
            prefix.add(m_listing.id(i));
            after_prefix = i + 1;
        }
        all.add(m_listing.id(i));
    }
    Snapshot snap;
    snap.validity = 1; // POP3 has no UIDVALIDITY; UIDLs are meant to be forever
    snap.has_flags = false;
    snap.change_token = all.token();
    std::size_t first = 0;
    if (known_count && prefix.token() == known_token) {
        if (*known_count == all.count) {
            snap.listing = ListingKind::unchanged;
            snap.total = all.count;
            m_listing.clear(); // nothing will be fetched
            return snap;
        }
        first = after_prefix;
        snap.listing = ListingKind::delta;
    }
    m_listing.keep_from(first);
    snap.total = 0;
    for (std::size_t i = 0; i < m_listing.size(); ++i)
        snap.total += !m_listing.skipped(i);
    // A first backup takes the (compact) listing a part at a time, so the
    // engine's copy of it and its plan stay small (OpenRequest::part_size).
    m_next = first;
    m_filter = request.filter;
    const bool delta = snap.listing == ListingKind::delta;
    m_part_size = request.part_size > 0 && !delta ? request.part_size : m_listing.size();
    if (auto s = next_part(snap); !s) return std::unexpected(s.error());
    if (!delta && snap.more) snap.listing = ListingKind::parts;
    return snap;
}

Status Pop3Source::next_part(Snapshot& snap) {
    snap.messages.clear();
    for (std::size_t taken = 0; m_next < m_listing.size() && taken < m_part_size; ++m_next) {
        if (m_listing.skipped(m_next)) continue;
        RemoteMessage m;
        m.id = std::string(m_listing.id(m_next));
        m.size = m_listing.entry(m_next).size;
        if (auto s = date_for_filter(m_listing.entry(m_next).number, m); !s) return s;
        snap.messages.push_back(std::move(m));
        ++taken;
    }
    snap.more = m_next < m_listing.size();
    return {};
}

// POP3 lists no dates: with --since or --before, each message's comes from
// its header block (TOP n 0), a command per message, so only then, and
// not for a message the size filter leaves out anyway. Without TOP the date
// stays unknown, and MessageFilter admits the message.
Status Pop3Source::date_for_filter(std::uint32_t n, RemoteMessage& m) {
    if ((!m_filter.since && !m_filter.before) || m_use_retr || !m_filter.admits(m)) return {};
    mail::HeaderScanner headers;
    if (auto s = scan_headers(*m_session, n, headers); !s) return s;
    m.internal_date = date_of(headers);
    return {};
}

Status Pop3Source::list_mailbox(const FolderInfo& folder) {
    if (folder.path != std::vector<std::string>{"INBOX"})
        return fail(ErrorKind::not_found, Scope::folder, "a POP3 mailbox has only INBOX");
    m_listing.clear();
    if (auto s = read_capabilities(); !s) return s;
    if (auto s = list_sizes(); !s) return s;
    Status s = list_uidls();
    if (!s && s.error().scope != Scope::message) return s;
    if (!s) {
        m_listing.clear_ids();
        if (auto f = fingerprint_ids(); !f) return f;
    }
    if (m_use_retr)
        note("the server does not offer TOP; messages were read with RETR, which may mark them "
             "read");
    return {};
}

std::string Pop3Source::retrieve_command(std::uint32_t n) const {
    return m_use_retr ? "RETR " + std::to_string(n)
                      : "TOP " + std::to_string(n) + " " + k_all_lines;
}

// Reads one answer (status line and body) and streams it to the sink. A
// message that comes back shorter than LIST said is not kept: TOP may have
// cut it, and a truncated copy must never pass for a backup.
Status Pop3Source::fetch_one(std::uint32_t n, const std::string& id, MessageSink& sink) {
    auto status = m_session->read_status();
    if (!status) return std::unexpected(status.error());
    const Listing::Entry* listed = m_listing.find(id);
    const std::uint64_t announced = listed ? listed->size : 0;
    if (auto s = sink.begin(announced); !s) return s;
    mail::HeaderScanner headers;
    std::uint64_t received = 0;
    Status sink_status;
    auto body = m_session->read_body([&](std::string_view line) -> Status {
        // Keep reading after a sink failure so the connection stays in step.
        if (!sink_status) return {};
        if (!headers.done()) headers.feed(line), headers.feed("\r\n");
        received += line.size() + 2;
        sink_status = sink.write(line);
        if (sink_status) sink_status = sink.write("\r\n");
        return {};
    });
    if (!body || !sink_status) {
        sink.abandon();
        return !body ? body : sink_status;
    }
    if (received < announced) {
        sink.abandon();
        return fail(ErrorKind::protocol, Scope::message,
                    "message " + std::to_string(n) + " came back with " + std::to_string(received) +
                        " bytes, but LIST announced " + std::to_string(announced) + "; not stored");
    }
    headers.finish();
    RemoteMessage m;
    m.id = id;
    m.size = received;
    m.internal_date = date_of(headers);
    return sink.finish(m);
}

Status Pop3Source::fetch(std::span<const std::string> ids, MessageSink& sink) {
    std::vector<std::pair<std::uint32_t, std::string>> todo;
    for (const auto& id : ids)
        if (const auto* listed = m_listing.find(id)) todo.emplace_back(listed->number, id);
    std::sort(todo.begin(), todo.end());
    const std::size_t window = m_pipelining ? k_pipeline_window : 1;
    std::size_t sent = 0;
    std::optional<Failure> first_message_failure;
    for (std::size_t done = 0; done < todo.size(); ++done) {
        for (; sent < todo.size() && sent - done < window; ++sent)
            if (auto s = m_session->send(retrieve_command(todo[sent].first)); !s) return s;
        auto s = fetch_one(todo[done].first, todo[done].second, sink);
        if (s) continue;
        if (s.error().scope != Scope::message) return s;
        if (!first_message_failure) first_message_failure = s.error();
    }
    if (first_message_failure) return std::unexpected(*first_message_failure);
    return {};
}

// Message-ID and date from the header block (TOP n 0), for recognising
// messages already on a migration target.
Result<std::vector<MessageKey>> Pop3Source::keys(const std::vector<std::string>& ids) {
    std::vector<MessageKey> out;
    for (const auto& id : ids) {
        const Listing::Entry* listed = m_listing.find(id);
        if (!listed) continue;
        mail::HeaderScanner headers;
        if (auto s = scan_headers(*m_session, listed->number, headers); !s)
            return std::unexpected(s.error());
        out.push_back({id, headers.message_id(), listed->size, date_of(headers)});
    }
    return out;
}

Status Pop3Source::remove(const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
        const Listing::Entry* listed = m_listing.find(id);
        if (!listed) continue;
        auto r = m_session->command("DELE " + std::to_string(listed->number));
        if (!r) return std::unexpected(r.error());
        test::durable_step("POP3 DELE sent");
    }
    return {};
}

Status Pop3Source::close() {
    auto s = m_session->quit();
    if (s) test::durable_step("POP3 QUIT committed deletions");
    return s;
}

} // namespace mf::pop3
