// What a protocol session needs of its connection, and nothing more: bytes
// out, bytes in, and what the login left behind. net::Connection (libcurl)
// is the real one; tests play a scripted server through the same seam
// (tests/unit/transcript.h), so imap::Session and pop3::Session, and the
// sources above them, run without a socket.
//
// Calls are per buffer, never per byte: a session reads into a 64 KiB
// buffer and sends whole command lines.
#pragma once

#include "backends/net/endpoint.h"
#include "sync/result.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mf::net {

struct TlsInfo {
    bool active = false;
    std::string version;   // "TLSv1.3"
    std::string cipher;    // "TLS_AES_256_GCM_SHA384"
    bool verified = false; // certificate chain and host name checked and good
};

// An authenticated byte stream to a server. Failures are the session's end
// (Scope::session): after one, the stream is out of step or gone.
class Transport {
  public:
    virtual ~Transport() = default;
    // Sends all of `data`, or fails (connection lost, no progress within the
    // endpoint's timeout).
    virtual Status send_all(std::string_view data) = 0;
    // Blocks until some bytes arrive (at most `len`, at least one), the
    // server closes the connection (a failure) or the endpoint's timeout
    // passes with nothing received (a failure).
    virtual Result<std::size_t> read_some(char* buf, std::size_t len) = 0;
    virtual const Endpoint& endpoint() const = 0;
    virtual const TlsInfo& tls() const = 0;
    // The lines (without CRLF) the server sent after the client's last line
    // of the login: its answer to the login itself, which may carry what a
    // protocol would otherwise ask for again (IMAP's capabilities).
    virtual const std::vector<std::string>& login_reply() const = 0;
};

} // namespace mf::net
