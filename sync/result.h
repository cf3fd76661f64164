// Failures as values. Network and disk failures come back as Failure, never as
// exceptions; the scope tells the engine how far the damage reaches (isync's
// model: skip a bad message, abandon a bad folder, give up on the account).
#pragma once

#include <chrono>
#include <expected>
#include <optional>
#include <string>

namespace mf {

// How far a failure reaches. Backends say which; the engine alone decides
// what follows (sync/scope.h): the next message, the next folder, a new
// session, or the end of the run.
enum class Scope {
    message, // this one message could not be handled; the others can
    folder,  // this folder is unusable for this run; other folders are fine
    session, // this connection is gone or out of step; a new one may work
    account, // nothing more can be done (the archive is locked, the login refused)
};

// What went wrong, in the classes that have their own exit code.
enum class ErrorKind {
    usage,     // bad command line or configuration
    connect,   // connection refused, unreachable, name not resolved, timeout
    tls,       // TLS handshake failed, certificate not trusted, no STARTTLS
    auth,      // login refused, or no usable credentials
    locked,    // the archive is in use by another run
    protocol,  // the server said something we cannot accept
    local_io,  // a disk or archive problem on this machine
    not_found, // a folder or message asked for is not there
};

struct Failure {
    ErrorKind kind = ErrorKind::protocol;
    Scope scope = Scope::session;
    std::string what; // one line, for a person; never contains a secret
    // How long the server asked us to wait before trying again (a throttling
    // answer), where it said; the engine's back-off never waits less.
    std::optional<std::chrono::milliseconds> retry_after = std::nullopt;
};

template <class T> using Result = std::expected<T, Failure>;
using Status = std::expected<void, Failure>;

inline std::unexpected<Failure> fail(ErrorKind kind, Scope scope, std::string what) {
    return std::unexpected(Failure{kind, scope, std::move(what)});
}

} // namespace mf
