#include "backends/imap/namespace.h"

#include "backends/imap/mutf7.h"

#include <algorithm>

namespace mf::imap {

std::optional<PersonalNamespace> parse_namespace(const Response& r) {
    if (r.items.size() < 2 || !is_atom(r.items[0], "NAMESPACE")) return std::nullopt;
    const Value& personal = r.items[1];
    if (personal.type != Value::Type::list || personal.items.empty()) return std::nullopt;
    const Value& first = personal.items[0];
    if (first.type != Value::Type::list || first.items.size() < 2) return std::nullopt;
    auto prefix = as_string(first.items[0]);
    if (!prefix) return std::nullopt;
    PersonalNamespace ns{*prefix, 0};
    const Value& sep = first.items[1];
    if (sep.type == Value::Type::string && sep.text.size() == 1)
        ns.separator = sep.text[0];
    else if (sep.type != Value::Type::nil)
        return std::nullopt;
    return ns;
}

std::optional<std::vector<std::string>> prefix_components(const PersonalNamespace& ns,
                                                          bool utf8_names) {
    if (ns.prefix.empty()) return std::vector<std::string>{};
    if (ns.separator == 0 || ns.prefix.back() != ns.separator) return std::nullopt;
    auto decoded = utf8_names ? (valid_utf8(ns.prefix) ? std::optional(ns.prefix) : std::nullopt)
                              : decode_mutf7(ns.prefix);
    if (!decoded) return std::nullopt;
    decoded->pop_back(); // the trailing separator
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        auto at = decoded->find(ns.separator, start);
        out.push_back(decoded->substr(start, at - start));
        if (at == std::string::npos) break;
        start = at + 1;
    }
    // Spelt as folder paths are: INBOX in one case (RFC 3501 5.1).
    if (iequals(out[0], "INBOX")) out[0] = "INBOX";
    return out;
}

} // namespace mf::imap
