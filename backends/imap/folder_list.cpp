// The account's folders: LIST, with LIST-STATUS where the server has it, and
// a folder's name as commands take it back.
#include "backends/imap/source.h"

#include "backends/imap/fetch.h"
#include "backends/imap/mutf7.h"
#include "backends/imap/namespace.h"

#include <map>

namespace mf::imap {

namespace {

std::vector<std::string> split_name(const std::string& name, char separator) {
    std::vector<std::string> parts;
    if (separator == 0) return {name};
    std::size_t start = 0;
    for (;;) {
        auto at = name.find(separator, start);
        parts.push_back(name.substr(start, at - start));
        if (at == std::string::npos) break;
        start = at + 1;
    }
    return parts;
}

// The special-use attributes of RFC 6154 (and \\Important, RFC 8457), as
// the RFCs spell them, whatever case the server used.
constexpr std::string_view k_special_uses[] = {"\\All",       "\\Archive", "\\Drafts", "\\Flagged",
                                               "\\Important", "\\Junk",    "\\Sent",   "\\Trash"};

void take_attribute(const Value& a, ListedFolder& f) {
    if (is_atom(a, "\\NOSELECT") || is_atom(a, "\\NONEXISTENT")) f.info.selectable = false;
    for (auto use : k_special_uses) {
        if (!is_atom(a, use)) continue;
        if (!f.info.special_use.empty()) f.info.special_use += ' ';
        f.info.special_use += use;
    }
}

// One "* LIST (attrs) sep name" response, or nullopt if it is not one.
// Names are modified UTF-7 unless UTF8=ACCEPT is enabled: then they are
// UTF-8 (RFC 6855 3), and an "&" in one is just an "&".
std::optional<ListedFolder> parse_list(const Response& r, bool utf8_names) {
    if (r.items.size() != 4 || !is_atom(r.items[0], "LIST") || r.items[1].type != Value::Type::list)
        return std::nullopt;
    ListedFolder f;
    for (const auto& a : r.items[1].items)
        take_attribute(a, f);
    if (r.items[2].type == Value::Type::string && r.items[2].text.size() == 1)
        f.separator = r.items[2].text[0];
    auto raw = as_string(r.items[3]);
    if (!raw) return std::nullopt;
    f.raw_name = *raw;
    auto decoded = utf8_names ? (valid_utf8(f.raw_name) ? std::optional(f.raw_name) : std::nullopt)
                              : decode_mutf7(f.raw_name);
    f.name_valid = decoded.has_value();
    f.info.path = split_name(decoded.value_or(f.raw_name), f.separator);
    // INBOX is case-insensitive (RFC 3501 5.1): one spelling in the archive.
    if (iequals(f.info.path[0], "INBOX")) f.info.path[0] = "INBOX";
    return f;
}

} // namespace

Result<std::string> mailbox_argument(std::string_view raw_name) {
    if (raw_name.find('\0') != std::string_view::npos)
        return fail(ErrorKind::protocol, Scope::folder,
                    "folder name contains NUL, which no IMAP string can carry");
    // A quoted string carries 7-bit text without CR or LF (RFC 3501 9,
    // QUOTED-CHAR); a server that lists a name with raw 8-bit bytes answers
    // BAD to it quoted, so such a name goes back as the server sent it: a
    // literal, which carries any octet but NUL.
    return needs_literal(raw_name) ? literal_argument(raw_name) : quote_string(raw_name);
}

std::optional<StatusData> parse_status(const Response& r) {
    if (r.items.size() != 3 || !is_atom(r.items[0], "STATUS") ||
        r.items[2].type != Value::Type::list)
        return std::nullopt;
    auto name = as_string(r.items[1]);
    if (!name) return std::nullopt;
    StatusData d{std::move(*name), {}, {}, {}, {}};
    const auto& attrs = r.items[2].items;
    for (std::size_t i = 0; i + 1 < attrs.size(); i += 2) {
        const Value& v = attrs[i + 1];
        if (is_atom(attrs[i], "MESSAGES"))
            d.messages = to_u32(v);
        else if (is_atom(attrs[i], "UIDNEXT"))
            d.uidnext = to_u32(v);
        else if (is_atom(attrs[i], "UIDVALIDITY"))
            d.uidvalidity = to_u32(v);
        else if (is_atom(attrs[i], "HIGHESTMODSEQ"))
            d.highestmodseq = to_u64(v);
    }
    return d;
}

// Names as UTF-8 where the server offers it (RFC 6855): a server that
// keeps names in UTF-8 then needs no modified UTF-7 either way. Before the
// first LIST, since names are spelt one way or the other from then on.
Result<bool> enable_utf8(Session& session) {
    return session.enable("UTF8=ACCEPT");
}

namespace {

// `command`, and NAMESPACE right behind it: both answers come in the round
// trip of the first. The server may answer them in either order (RFC 3501
// 5.5), so each tagged answer is matched by its tag. The NAMESPACE answer
// goes to `ns`; the first command's is returned.
Result<Response> run_with_namespace(Session& session, const std::string& command,
                                    const UntaggedHandler& on_untagged, NamespaceAnswer& ns) {
    auto first = session.send(command);
    if (!first) return std::unexpected(first.error());
    auto second = session.send("NAMESPACE");
    if (!second) return std::unexpected(second.error());
    std::optional<Response> answer;
    for (int i = 0; i < 2; ++i) {
        auto r = session.read_tagged(on_untagged);
        if (!r) return std::unexpected(r.error());
        if (r->tag == *second)
            ns.answered = r->status == "OK";
        else if (r->tag == *first && !answer)
            answer = std::move(*r);
        else
            return fail(ErrorKind::protocol, Scope::session,
                        session.host() + " answered a command that was not sent (tag " + r->tag +
                            ")");
    }
    return std::move(*answer);
}

} // namespace

// With CONDSTORE, LIST-STATUS also gives what a change token is made of
// (RFC 7162 makes HIGHESTMODSEQ a STATUS data item): a folder unchanged
// since the last run then needs no EXAMINE, and a run with nothing new is
// LOGIN and LIST however many folders the account has.
Result<std::vector<ListedFolder>> list_all(Session& session, bool with_counts,
                                           NamespaceAnswer* ns) {
    std::vector<ListedFolder> out;
    std::map<std::string, StatusData> statuses; // by the server's spelling
    std::optional<PersonalNamespace> personal;
    auto on_untagged = [&](const Response& resp) -> Status {
        if (auto f = parse_list(resp, session.enabled("UTF8=ACCEPT")))
            out.push_back(std::move(*f));
        else if (auto d = parse_status(resp))
            statuses[d->name] = std::move(*d);
        else if (auto n = ns ? parse_namespace(resp) : std::nullopt)
            personal = std::move(*n);
        return {};
    };
    // The tokens and the counts are a nicety: refused, the counts alone,
    // then a plain LIST.
    const std::string plain = "LIST \"\" \"*\"";
    std::vector<std::string> forms;
    if (with_counts && session.has("LIST-STATUS")) {
        if (session.has("CONDSTORE"))
            forms.push_back(" RETURN (STATUS (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ))");
        forms.push_back(" RETURN (STATUS (MESSAGES))");
    }
    forms.emplace_back();
    bool ask_namespace = ns && session.has("NAMESPACE");
    for (std::size_t i = 0; i < forms.size(); ++i) {
        auto r = ask_namespace ? run_with_namespace(session, plain + forms[i], on_untagged, *ns)
                               : session.run(plain + forms[i], on_untagged);
        ask_namespace = false;
        if (!r) return std::unexpected(r.error());
        if (r->status == "OK") break;
        if (i + 1 == forms.size()) {
            if (auto s = session.check_ok(*r, "LIST"); !s) return std::unexpected(s.error());
        }
        out.clear();
        statuses.clear();
    }
    // Refused: a nicety lost, not a reason to stop; names stay as listed.
    if (ns && ns->answered) ns->personal = std::move(personal);
    for (auto& f : out) {
        auto d = statuses.find(f.raw_name);
        if (d == statuses.end()) continue;
        f.info.messages = d->second.messages;
        f.info.change_token = status_token(d->second);
    }
    return out;
}

// Without NAMESPACE nothing is inferred (RFC 2342 leaves the prefix to the
// server, and guessing "INBOX." would move folders of a server without one).
Result<std::optional<PersonalNamespace>> read_personal_namespace(Session& session) {
    if (!session.has("NAMESPACE")) return std::nullopt;
    std::optional<PersonalNamespace> out;
    auto r = session.run("NAMESPACE", [&](const Response& resp) -> Status {
        if (auto ns = parse_namespace(resp)) out = std::move(*ns);
        return {};
    });
    if (!r) return std::unexpected(r.error());
    // Refused: a nicety lost, not a reason to stop; names stay as listed.
    return r->status == "OK" ? out : std::nullopt;
}

void mark_personal_prefix(const Session& session, std::vector<ListedFolder>& folders,
                          const std::optional<PersonalNamespace>& ns) {
    if (!ns) return;
    auto prefix = prefix_components(*ns, session.enabled("UTF8=ACCEPT"));
    if (!prefix) return;
    for (auto& f : folders)
        if (f.separator == ns->separator) f.info.prefix_depth = prefix_depth(f.info.path, *prefix);
}

} // namespace mf::imap
