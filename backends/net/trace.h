// Protocol tracing for --debug. Lines pass through redact_line() first, so a
// password never reaches a log whatever the caller does with it.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace mf::net {

enum class TraceKind { info, sent, received };

using TraceSink = std::function<void(TraceKind, std::string_view line)>;

// Hides credentials in a client line: LOGIN arguments, AUTHENTICATE initial
// responses, POP3 PASS/APOP, and SASL continuation answers.
std::string redact_line(std::string_view line, bool in_sasl_exchange);

} // namespace mf::net
