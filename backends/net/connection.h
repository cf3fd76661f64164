// An authenticated connection to a mail server. libcurl runs the whole
// connection phase (TCP, TLS or STARTTLS, greeting, capabilities, SASL login)
// with CURLOPT_CONNECT_ONLY and then hands the socket over; mailferry speaks
// the protocol itself through send_all/read_some (see DESIGN.md for why:
// libcurl's own IMAP commands set \Seen and lose flags and dates).
#pragma once

#include "backends/net/endpoint.h"
#include "backends/net/trace.h"
#include "sync/result.h"

#include <memory>
#include <string>
#include <vector>
#include <string_view>

namespace mf::net {

struct TlsInfo {
    bool active = false;
    std::string version;     // "TLSv1.3"
    std::string cipher;      // "TLS_AES_256_GCM_SHA384"
    bool verified = false;   // certificate chain and host name checked and good
};

class Connection {
  public:
    // Connects and logs in. Failures carry their class: connect, tls, auth.
    static Result<std::unique_ptr<Connection>> open(const Endpoint& endpoint, TraceSink trace);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    Status send_all(std::string_view data);
    // Blocks until some bytes arrive (at most `len`), the server closes the
    // connection (a failure) or the endpoint's timeout passes (a failure).
    Result<std::size_t> read_some(char* buf, std::size_t len);
    const TlsInfo& tls() const;
    const Endpoint& endpoint() const;
    // The lines (without CRLF) the server sent after the client's last line
    // of the login: its answer to the login itself, which may carry what a
    // protocol would otherwise ask for again (IMAP's capabilities).
    const std::vector<std::string>& login_reply() const;

    struct Impl;

  private:
    explicit Connection(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

} // namespace mf::net
