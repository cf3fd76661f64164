#include "backends/net/deflate.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace mf::net {

namespace {

constexpr std::size_t k_chunk = 16 * 1024;

Failure zlib_failure(std::string_view what, const z_stream& z) {
    return Failure{ErrorKind::protocol, Scope::session,
                   std::string(what) + (z.msg != nullptr ? std::string(": ") + z.msg : "")};
}

class DeflateTransport : public Transport {
  public:
    explicit DeflateTransport(std::unique_ptr<Transport> inner) : m_inner(std::move(inner)) {}
    ~DeflateTransport() override {
        if (m_out_ready) deflateEnd(&m_out);
        if (m_in_ready) inflateEnd(&m_in);
    }
    DeflateTransport(const DeflateTransport&) = delete;
    DeflateTransport& operator=(const DeflateTransport&) = delete;

    // Raw deflate (negative window bits), as RFC 4978 section 4 asks. The
    // default level: commands are short, and an upload's bodies compress
    // well enough at it without costing the CPU of level 9.
    bool init(std::string pending) {
        m_out_ready = deflateInit2(&m_out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8,
                                   Z_DEFAULT_STRATEGY) == Z_OK;
        m_in_ready = inflateInit2(&m_in, -15) == Z_OK;
        if (pending.size() > m_buf.size()) return false;
        std::memcpy(m_buf.data(), pending.data(), pending.size());
        m_in.next_in = reinterpret_cast<Bytef*>(m_buf.data());
        m_in.avail_in = static_cast<uInt>(pending.size());
        return m_out_ready && m_in_ready;
    }

    // Each call ends in a sync flush, so the server can act on a command
    // as soon as it is sent (RFC 4978 section 4: "the client MUST flush").
    Status send_all(std::string_view data) override {
        m_out.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
        m_out.avail_in = static_cast<uInt>(data.size());
        std::array<char, k_chunk> out;
        do {
            m_out.next_out = reinterpret_cast<Bytef*>(out.data());
            m_out.avail_out = out.size();
            if (deflate(&m_out, Z_SYNC_FLUSH) == Z_STREAM_ERROR)
                return std::unexpected(zlib_failure("compressing for the server", m_out));
            const std::size_t have = out.size() - m_out.avail_out;
            if (have > 0)
                if (auto s = m_inner->send_all(std::string_view(out.data(), have)); !s) return s;
        } while (m_out.avail_out == 0);
        return {};
    }

    Result<std::size_t> read_some(char* buf, std::size_t len) override {
        for (;;) {
            if (m_in.avail_in == 0) {
                auto got = m_inner->read_some(m_buf.data(), m_buf.size());
                if (!got) return got;
                m_in.next_in = reinterpret_cast<Bytef*>(m_buf.data());
                m_in.avail_in = static_cast<uInt>(*got);
            }
            m_in.next_out = reinterpret_cast<Bytef*>(buf);
            const auto room = static_cast<uInt>(std::min<std::size_t>(len, 1u << 30));
            m_in.avail_out = room;
            const int rc = inflate(&m_in, Z_SYNC_FLUSH);
            const std::size_t have = room - m_in.avail_out;
            if (rc == Z_STREAM_END)
                return std::unexpected(Failure{ErrorKind::protocol, Scope::session,
                                               "the server ended its compressed stream"});
            if (rc != Z_OK && rc != Z_BUF_ERROR)
                return std::unexpected(
                    zlib_failure("corrupt compressed data from the server", m_in));
            if (have > 0) return have;
            // Input used up with nothing to show (an empty flush block): read on.
        }
    }

    const Endpoint& endpoint() const override { return m_inner->endpoint(); }
    const TlsInfo& tls() const override { return m_inner->tls(); }
    const std::vector<std::string>& login_reply() const override { return m_inner->login_reply(); }

  private:
    std::unique_ptr<Transport> m_inner;
    z_stream m_out{};
    z_stream m_in{};
    bool m_out_ready = false, m_in_ready = false;
    std::array<char, 64 * 1024> m_buf{};
};

} // namespace

Result<std::unique_ptr<Transport>> compress_transport(std::unique_ptr<Transport> inner,
                                                      std::string pending) {
    auto t = std::make_unique<DeflateTransport>(std::move(inner));
    if (!t->init(std::move(pending)))
        return fail(ErrorKind::protocol, Scope::session, "cannot start COMPRESS=DEFLATE (zlib)");
    return std::unique_ptr<Transport>(std::move(t));
}

} // namespace mf::net
