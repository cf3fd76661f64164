// An authenticated connection to a mail server. libcurl runs the whole
// connection phase (TCP, TLS or STARTTLS, greeting, capabilities, SASL login)
// with CURLOPT_CONNECT_ONLY and then hands the socket over; mailferry speaks
// the protocol itself through send_all/read_some (see DESIGN.md for why:
// libcurl's own IMAP commands set \Seen and lose flags and dates). Sessions
// hold it as a net::Transport (transport.h), the seam tests script.
#pragma once

#include "backends/net/endpoint.h"
#include "backends/net/trace.h"
#include "backends/net/transport.h"
#include "sync/result.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mf::net {

// The one Transport that talks to a real server. libcurl stays inside
// backends/net's sources (connection.cpp, connect_setup.cpp,
// connect_watch.cpp) and the private connection_impl.h they share.
class Connection final : public Transport {
  public:
    // Connects and logs in. Failures carry their class: connect, tls, auth.
    static Result<std::unique_ptr<Connection>> open(const Endpoint& endpoint, TraceSink trace);
    ~Connection() override;
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    Status send_all(std::string_view data) override;
    Result<std::size_t> read_some(char* buf, std::size_t len) override;
    const TlsInfo& tls() const override;
    const Endpoint& endpoint() const override;
    const std::vector<std::string>& login_reply() const override;

    struct Impl;

  private:
    explicit Connection(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

} // namespace mf::net
