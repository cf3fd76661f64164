// ImapSource's face as a Source: opening a folder (deciding how it is
// listed), handing out the parts of a listing, and fetching bodies and
// Message-IDs. The rest of it has files of its own: folder_list.cpp (LIST),
// examine.cpp (EXAMINE, and the listing sent behind it), listing.cpp (a whole
// listing), change_token.cpp (CONDSTORE, and listing only what changed),
// parts.cpp (listing in parts), seen_repair.cpp (a server that marks fetched
// messages read).
#include "backends/imap/source.h"

#include "backends/common/headers.h"
#include "backends/imap/fetch.h"
#include "backends/imap/listing.h"
#include "backends/imap/uid_set.h"

#include <set>
#include <unordered_set>
#include <utility>

namespace mf::imap {

namespace {

// A NO to a body FETCH may be about one message of the set (Yahoo's
// NO [UNAVAILABLE] for a message it cannot serve, issue 18): the engine
// narrows it down. A BAD stays what check_ok() made it, and so does a
// throttling answer (asks_to_wait(): already a session failure).
// Gmail's [LIMIT], and [OVERQUOTA] (its "Account exceeded command or
// bandwidth limits", and a FETCH adds nothing to a mailbox that could put
// it over a storage quota) are about the session, not the messages: the
// engine backs off and logs in again rather than narrowing it down.
Status message_scoped(Status s) {
    if (s || s.error().scope != Scope::folder) return s;
    const std::string& what = s.error().what;
    const bool throttled = s.error().retry_after || what.find("[LIMIT]") != std::string::npos ||
                           what.find("[OVERQUOTA]") != std::string::npos;
    s.error().scope = throttled ? Scope::session : Scope::message;
    return s;
}

// A failure while a command's answer was still being read (the sink could
// not store a message, the connection broke): whatever its cause, the rest
// of the answer is unread, so the session cannot serve another folder.
std::unexpected<Failure> unfinished(Failure f) {
    if (f.scope != Scope::account) f.scope = Scope::session;
    return std::unexpected(std::move(f));
}

} // namespace

// The providers that publish a limit on connections per account, known by
// what they send, never by their host name:
// - Gmail (X-GM-EXT-1): 15 simultaneous IMAP connections per account
//   (https://support.google.com/mail/answer/97150; quoted in imapsync issue
//   61, https://github.com/imapsync/imapsync/issues/61). The 16th login is
//   refused: "NO [ALERT] Too many simultaneous connections."
// - Exchange Online (CLIENTACCESSRULES and CLIENTNETWORKPRESENCELOCATION,
//   which outlook.office365.com lists after login, MailKit issue 849,
//   https://github.com/jstedfast/MailKit/issues/849; Exchange on its own
//   premises lists neither, MailKit issue 269): 20 concurrent IMAP
//   connections per mailbox ("Exchange Online Throttling and Limits FAQ",
//   Microsoft's Exchange developer blog,
//   https://blogs.msdn.microsoft.com/exchangedev/2011/06/23/exchange-online-throttling-and-limits-faq/;
//   Exchange Server's own default, MaxConnectionsPerUser, is 16:
//   https://learn.microsoft.com/exchange/set-connection-limits-for-imap4-exchange-2013-help).
std::size_t ImapSource::max_connections() const {
    if (m_session->has("X-GM-EXT-1")) return 15;
    if (m_session->has("CLIENTACCESSRULES") && m_session->has("CLIENTNETWORKPRESENCELOCATION"))
        return 20;
    return 0;
}

// Streams BODY[] literals into the sink; everything else stays in the tree.
class ImapSource::BodyHandler : public LiteralHandler {
  public:
    explicit BodyHandler(MessageSink& sink) : m_sink(sink) {}
    bool claim(std::string_view preceding, std::uint64_t size) override {
        if (!iequals(preceding.substr(0, 6), "BODY[]")) return false;
        // A second BODY[] in one FETCH answer (found by fuzz_imap_source):
        // the first is dropped, never left open under the second.
        if (m_open) m_sink.abandon();
        m_status = m_sink.begin(size);
        m_open = true;
        m_size = size;
        return true;
    }
    Status chunk(std::string_view bytes) override {
        if (!m_status) return m_status;
        m_status = m_sink.write(bytes);
        return m_status;
    }
    Status end() override { return m_status; }

    bool open() const { return m_open; }
    std::uint64_t size() const { return m_size; }
    void closed() { m_open = false; }
    // The read failed inside or after a literal: drop the partial message.
    void abandon() {
        if (m_open) m_sink.abandon();
        m_open = false;
    }

  private:
    MessageSink& m_sink;
    Status m_status;
    bool m_open = false;
    std::uint64_t m_size = 0;
};

ImapSource::ImapSource(std::unique_ptr<Session> session) : m_session(std::move(session)) {}

Result<std::vector<FolderInfo>> ImapSource::list_folders() {
    if (auto utf8 = enable_utf8(*m_session); !utf8) return std::unexpected(utf8.error());
    NamespaceAnswer ns;
    auto listed = list_all(*m_session, true, &ns);
    if (!listed) return std::unexpected(listed.error());
    mark_personal_prefix(*m_session, *listed, ns.personal);
    std::vector<FolderInfo> out;
    m_raw_names.clear();
    for (auto& f : *listed) {
        m_raw_names[f.info.path] = f.raw_name;
        out.push_back(std::move(f.info));
    }
    return out;
}

namespace {

// Each folder's name as the server spells it, and whether names were read
// as UTF-8: what open() needs from a listing.
struct ImapListing : ListingMemo {
    std::map<std::vector<std::string>, std::string> raw_names;
    bool utf8 = false;
};

} // namespace

std::shared_ptr<const ListingMemo> ImapSource::listing_memo() const {
    auto memo = std::make_shared<ImapListing>();
    memo->raw_names = m_raw_names;
    memo->utf8 = m_session->enabled("UTF8=ACCEPT");
    return memo;
}

// Names spelt in UTF-8 by the listing are only understood by a session
// that enabled it too: ENABLE it here, or list after all.
Result<bool> ImapSource::adopt_listing(const std::shared_ptr<const ListingMemo>& memo) {
    const auto* listing = dynamic_cast<const ImapListing*>(memo.get());
    if (!listing || listing->raw_names.empty()) return false;
    if (listing->utf8) {
        auto utf8 = enable_utf8(*m_session);
        if (!utf8) return std::unexpected(utf8.error());
        if (!*utf8) return false;
    }
    m_raw_names = listing->raw_names;
    return true;
}

Status ImapSource::next_part(Snapshot& snap) {
    if (!snap.more) return Source::next_part(snap);
    if (!m_ahead.asked) {
        auto s = list_next_part(snap);
        if (s) remember_unseen(snap.messages);
        return s;
    }
    Ahead ahead = std::exchange(m_ahead, Ahead{});
    if (ahead.failure) return std::unexpected(std::move(*ahead.failure));
    snap.messages = std::move(ahead.messages);
    snap.more = ahead.more;
    sort_by_uid(snap.messages);
    remember_unseen(snap.messages);
    return {};
}

Result<Snapshot> ImapSource::open(const FolderInfo& folder, const OpenRequest& request) {
    // Whatever the folder opened before left unfinished is void now.
    m_parts = Parts{};
    m_ahead = Ahead{};
    m_prelisted.reset();
    m_unseen.clear();
    m_marked_read.clear();
    if (auto s = m_session->compress(); !s) return std::unexpected(s.error());
    const std::string predicted = predicted_listing(folder, request);
    auto e = predicted.empty() ? examine(folder) : examine_and_list(folder, predicted);
    if (!e) return std::unexpected(e.error());
    // A prediction the folder's state proved wrong is never used later.
    struct Drop {
        std::optional<Prelisted>& slot;
        ~Drop() { slot.reset(); }
    } drop{m_prelisted};
    m_open = folder;
    m_open_validity = e->validity;
    auto snap = list_opened(folder, request, *e);
    if (!snap) return snap;
    remember_unseen(snap->messages);
    snap->has_labels = listing_items() == ListingItems::gmail;
    return snap;
}

// Lists the folder EXAMINE opened as `request` allows: nothing, what changed,
// the known and the new apart (without CONDSTORE), in parts, or whole.
Result<Snapshot> ImapSource::list_opened(const FolderInfo& folder, const OpenRequest& request,
                                         const Examined& e) {
    Snapshot snap;
    snap.validity = e.validity;
    snap.change_token = token_of(e);
    // Without HIGHESTMODSEQ an equal token says nothing of flag changes.
    if (has_modseq(e) && snap.change_token == request.known_token) {
        snap.listing = ListingKind::unchanged;
        snap.total = e.exists;
        return snap;
    }
    auto known = parse_token(request.known_token);
    if (known && known->validity == e.validity && has_modseq(e) && known->modseq > 0) {
        if (auto s = list_changes(folder, *known, e, snap); !s) return std::unexpected(s.error());
        if (snap.listing == ListingKind::delta) return snap;
    }
    if (!request.filter.empty()) {
        if (auto s = list_filtered(folder, request.filter, snap, e.exists); !s)
            return std::unexpected(s.error());
        return snap;
    }
    if (in_parts(request.part_size, e.exists)) {
        if (auto s = list_in_parts(folder, e, request.part_size, snap); !s)
            return std::unexpected(s.error());
        return snap;
    }
    if (known && known->validity == e.validity && !has_modseq(e)) {
        auto listed = list_known_and_new(folder, *known, e, snap);
        if (!listed) return std::unexpected(listed.error());
        if (*listed) return snap;
    }
    if (auto s = list(folder, snap, e.exists); !s) return std::unexpected(s.error());
    return snap;
}

Status ImapSource::fetch(std::span<const std::string> ids, MessageSink& sink) {
    BodyHandler body(sink);
    auto uids = to_uids(ids);
    // Each asked-for UID is taken once: a duplicated or unrequested FETCH
    // from the server is dropped, never stored twice or unasked.
    std::unordered_set<std::uint32_t> wanted(uids.begin(), uids.end());
    // Called for an untagged FETCH that carried a BODY[] literal.
    auto on_body = [&](const Response& r) -> Status {
        body.closed();
        auto data = parse_fetch(r);
        if (!data || !data->uid) {
            sink.abandon();
            return fail(ErrorKind::protocol, Scope::session,
                        m_session->host() + " sent a message body without its UID");
        }
        if (wanted.erase(*data->uid) == 0) {
            sink.abandon();
            return {};
        }
        RemoteMessage m;
        m.id = std::to_string(*data->uid);
        m.size = body.size(); // the literal's length, not a possibly wrong RFC822.SIZE
        m.internal_date = data->internal_date.value_or(0);
        m.flags = data->flags.value_or(Flags{});
        keep_listed_unseen(*data->uid, m.flags);
        take_gmail_items(*data, m);
        return sink.finish(m);
    };
    // UIDs the server answered for without a body (no BODY[], or BODY[]
    // NIL): each is that message's failure, not an expunge.
    std::vector<std::uint32_t> bodiless;
    auto on_other = [&](const Response& r) -> Status {
        if (auto data = parse_fetch(r); data && data->uid && wanted.contains(*data->uid))
            bodiless.push_back(*data->uid);
        return {};
    };
    const auto sets = uid_sets(uids, k_max_uid_set_chars);
    for (std::size_t i = 0; i < sets.size(); ++i) {
        const std::string command = "UID FETCH " + sets[i] + " (UID FLAGS INTERNALDATE" +
                                    gmail_items(listing_items()) + " BODY.PEEK[])";
        Status s;
        if (i + 1 == sets.size() && parts_left() && !m_ahead.asked) {
            s = fetch_listing_ahead(command, on_body, on_other, body);
        } else {
            auto done = m_session->run(
                command,
                [&](const Response& r) -> Status { return body.open() ? on_body(r) : on_other(r); },
                &body);
            if (!done)
                s = unfinished(done.error());
            else
                s = message_scoped(m_session->check_ok(*done, "fetching messages"));
        }
        if (!s) {
            body.abandon();
            return s;
        }
    }
    std::erase_if(bodiless,
                  [&](std::uint32_t uid) { return !wanted.contains(uid); }); // a body came later
    if (!bodiless.empty())
        return fail(ErrorKind::protocol, Scope::message,
                    m_session->host() + " sent no body for UID " +
                        std::to_string(bodiless.front()));
    return {};
}

// Sends a part's body FETCH and, right behind it, the listing of the next
// part, so a folder in parts streams on without a round trip between parts
// (on a slow link those add up over a large folder's many parts). The server may run
// both at once and interleave their answers (Dovecot does): an untagged
// FETCH with a body goes to the sink, any other to the next part's listing,
// which keeps only the UIDs it asked for. A failed listing is the next
// part's failure (next_part()); both tagged answers are read before this
// returns, so the session stays in step for the next command.
Status ImapSource::fetch_listing_ahead(const std::string& command, const UntaggedHandler& on_body,
                                       const UntaggedHandler& on_other, BodyHandler& body) {
    auto body_tag = m_session->send(command);
    if (!body_tag) return std::unexpected(body_tag.error());
    m_ahead = Ahead{};
    m_ahead.asked = true;
    m_ahead.uids = take_next_part(m_ahead.more);
    std::set<std::string> listing_tags;
    for (const auto& set : uid_sets(m_ahead.uids, k_max_uid_set_chars)) {
        auto tag = m_session->send(listing_for(set));
        if (!tag) return std::unexpected(tag.error());
        listing_tags.insert(std::move(*tag));
    }
    Listing listing(m_ahead.messages, m_parts.exists, m_session->host(), &m_ahead.uids);
    // A line without a body may name a message of this part (no body for
    // it: on_other) or one of the next part's listing.
    auto on_untagged = [&](const Response& r) -> Status {
        if (body.open()) return on_body(r);
        if (auto s = on_other(r); !s) return s;
        return listing.take(r);
    };
    std::optional<Status> body_status; // set once the body FETCH is answered
    while (!body_status || !listing_tags.empty()) {
        auto r = m_session->read_tagged(on_untagged, &body);
        if (!r) return unfinished(r.error());
        if (r->tag == *body_tag && !body_status) {
            body_status = message_scoped(m_session->check_ok(*r, "fetching messages"));
        } else if (listing_tags.erase(r->tag) == 1) {
            auto s = m_session->check_ok(*r, "listing " + m_parts.folder.display());
            if (!s && !m_ahead.failure) m_ahead.failure = std::move(s.error());
        } else { // a tag never sent, or answered twice
            return fail(ErrorKind::protocol, Scope::session,
                        m_session->host() + " answered a command that was not sent (tag " + r->tag +
                            ")");
        }
    }
    if (auto s = listing.check(m_parts.folder); !s && !m_ahead.failure)
        m_ahead.failure = std::move(s.error());
    return *body_status;
}

Status ImapSource::remove(const std::vector<std::string>&) {
    // A backup never deletes on an IMAP server (mirror will, with UID EXPUNGE).
    return fail(ErrorKind::usage, Scope::account,
                "deleting messages from an IMAP source is not supported");
}

Result<std::vector<MessageKey>> ImapSource::keys(const std::vector<std::string>& ids) {
    std::vector<MessageKey> out;
    // Only what was asked for: an unsolicited FETCH (a flag change) also
    // carries a UID (found by fuzz_imap_source).
    const auto asked = to_uids(ids);
    const std::unordered_set<std::uint32_t> wanted(asked.begin(), asked.end());
    for (const auto& set : uid_sets(to_uids(ids), k_max_uid_set_chars)) {
        auto r = m_session->run_ok(
            "UID FETCH " + set + " (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
            "reading Message-IDs", [&](const Response& resp) -> Status {
                auto data = parse_fetch(resp);
                if (!data || !data->uid || !wanted.contains(*data->uid)) return {};
                mail::HeaderScanner scanner;
                scanner.feed(data->header.value_or(""));
                scanner.finish();
                out.push_back(
                    {std::to_string(*data->uid), scanner.message_id(), data->size.value_or(0)});
                return {};
            });
        if (!r) return std::unexpected(r.error());
    }
    return out;
}

} // namespace mf::imap
