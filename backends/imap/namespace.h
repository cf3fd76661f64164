// The personal namespace (NAMESPACE, RFC 2342): the prefix a server puts
// before the user's own folders ("INBOX." with "." on Courier and on Cyrus
// without altnamespace, "" on Dovecot's default) and what it means for a
// folder's path. Pure functions: the session asks, these read the answer.
#pragma once

#include "backends/imap/response.h"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace mf::imap {

struct PersonalNamespace {
    std::string prefix; // as the server spells it (modified UTF-7, or UTF-8 under UTF8=ACCEPT)
    char separator = 0; // 0: flat (NIL)
};

// The first personal namespace of "* NAMESPACE personal other shared";
// nullopt if `r` is no NAMESPACE response or names no personal namespace
// (NIL, or an entry that is not ("prefix" "sep")).
std::optional<PersonalNamespace> parse_namespace(const Response& r);

// The prefix as path components, decoded like folder names ("INBOX." ->
// {"INBOX"}; "" -> {}). nullopt where it is not whole components (a prefix
// that does not end with its separator, or a name that does not decode):
// then nothing is inferred.
std::optional<std::vector<std::string>> prefix_components(const PersonalNamespace& ns,
                                                          bool utf8_names);

} // namespace mf::imap
