// COMPRESS=DEFLATE (backends/net/deflate.*): what goes out inflates back to
// what was sent, what comes in is inflated however the network splits it,
// and hostile compressed input ends in a failure with memory bounded.
#include "backends/imap/reader.h"
#include "backends/net/deflate.h"

#include <doctest/doctest.h>
#include <zlib.h>

#include <algorithm>
#include <string>

using namespace mf;

namespace {

// Raw deflate with a sync flush, as a server sends it (RFC 4978).
std::string deflate_raw(const std::string& in, int level = 6) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&z, in.size()) + 64, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_SYNC_FLUSH) == Z_OK);
    out.resize(out.size() - z.avail_out);
    deflateEnd(&z);
    return out;
}

std::string inflate_raw(const std::string& in) {
    z_stream z{};
    REQUIRE(inflateInit2(&z, -15) == Z_OK);
    std::string out(std::size_t{1} << 20, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&z, Z_SYNC_FLUSH);
    REQUIRE((rc == Z_OK || rc == Z_BUF_ERROR));
    out.resize(out.size() - z.avail_out);
    inflateEnd(&z);
    return out;
}

// The server's side: serves `incoming` in pieces of `piece` bytes, keeps
// what the client sent.
class Wire : public net::Transport {
  public:
    Wire(std::string incoming, std::size_t piece, std::string* sent)
        : m_in(std::move(incoming)), m_piece(piece), m_sent(sent) {}
    Status send_all(std::string_view data) override {
        m_sent->append(data);
        return {};
    }
    Result<std::size_t> read_some(char* buf, std::size_t len) override {
        if (m_at == m_in.size()) return fail(ErrorKind::connect, Scope::session, "closed");
        const std::size_t n = std::min({len, m_piece, m_in.size() - m_at});
        std::copy_n(m_in.data() + m_at, n, buf);
        m_at += n;
        return n;
    }
    const net::Endpoint& endpoint() const override { return m_endpoint; }
    const net::TlsInfo& tls() const override { return m_tls; }
    const std::vector<std::string>& login_reply() const override { return m_reply; }

  private:
    std::string m_in;
    std::size_t m_piece, m_at = 0;
    std::string* m_sent;
    net::Endpoint m_endpoint;
    net::TlsInfo m_tls;
    std::vector<std::string> m_reply;
};

std::unique_ptr<net::Transport> wrap(std::string incoming, std::size_t piece, std::string* sent,
                                     std::string pending = "") {
    auto t = net::compress_transport(std::make_unique<Wire>(std::move(incoming), piece, sent),
                                     std::move(pending));
    REQUIRE(t.has_value());
    return std::move(*t);
}

std::string read_all(net::Transport& t, std::size_t len) {
    std::string out;
    std::string buf(len, '\0');
    while (auto got = t.read_some(buf.data(), buf.size()))
        out.append(buf.data(), *got);
    return out;
}

class Stream : public imap::ByteStream {
  public:
    explicit Stream(net::Transport& t) : m_t(t) {}
    Result<std::size_t> read_some(char* buf, std::size_t len) override {
        return m_t.read_some(buf, len);
    }

  private:
    net::Transport& m_t;
};

} // namespace

TEST_CASE("deflate: each send is flushed whole, and inflates back to the commands sent") {
    std::string sent;
    auto t = wrap("", 1, &sent);
    REQUIRE(t->send_all("M1 NOOP\r\n"));
    // A sync flush ends in an empty stored block: 00 00 ff ff.
    CHECK(sent.ends_with(std::string("\0\0\xff\xff", 4)));
    REQUIRE(t->send_all(std::string(100000, 'x') + "\r\n"));
    CHECK(sent.size() < 2000);
    CHECK(inflate_raw(sent) == "M1 NOOP\r\n" + std::string(100000, 'x') + "\r\n");
}

TEST_CASE("deflate: the server's stream is inflated whatever the pieces it arrives in") {
    const std::string text = "* 1 FETCH (UID 7 BODY[] {5}\r\nhello)\r\nM1 OK done\r\n";
    const std::string wire = deflate_raw(text) + deflate_raw("");
    for (std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{4096}}) {
        for (std::size_t len : {std::size_t{1}, std::size_t{7}, std::size_t{65536}}) {
            std::string sent;
            auto t = wrap(wire, piece, &sent);
            CHECK(read_all(*t, len) == text);
        }
    }
}

TEST_CASE("deflate: bytes read before the switch are inflated first") {
    const std::string wire = deflate_raw("* OK first\r\nM2 OK second\r\n");
    std::string sent;
    auto t = wrap(wire.substr(5), 4096, &sent, wire.substr(0, 5));
    CHECK(read_all(*t, 4096) == "* OK first\r\nM2 OK second\r\n");
}

TEST_CASE("deflate: corrupt data from the server ends the session, naming it") {
    std::string sent;
    auto t = wrap(std::string("\xff\xff\xff\xff garbage", 12), 4096, &sent);
    char buf[64];
    auto got = t->read_some(buf, sizeof buf);
    REQUIRE_FALSE(got.has_value());
    CHECK(got.error().scope == Scope::session);
    CHECK(got.error().what.find("corrupt compressed data") != std::string::npos);
}

TEST_CASE("deflate: a bomb (64 MiB of one byte, no line end) is refused by the reader's limit") {
    // 64 MiB compress to about 64 KiB: a thousand to one.
    std::string wire;
    {
        z_stream z{};
        REQUIRE(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
        const std::string chunk(1 << 20, 'a');
        std::string out(1 << 20, '\0');
        for (int i = 0; i < 64; ++i) {
            z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(chunk.data()));
            z.avail_in = static_cast<uInt>(chunk.size());
            do {
                z.next_out = reinterpret_cast<Bytef*>(out.data());
                z.avail_out = static_cast<uInt>(out.size());
                deflate(&z, i == 63 ? Z_SYNC_FLUSH : Z_NO_FLUSH);
                wire.append(out.data(), out.size() - z.avail_out);
            } while (z.avail_out == 0);
        }
        deflateEnd(&z);
    }
    CHECK(wire.size() < 200000);
    std::string sent;
    auto t = wrap(wire, 16384, &sent);
    Stream stream(*t);
    imap::ResponseReader reader(stream, imap::ReaderLimits{1u << 20, 64});
    auto r = reader.read();
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().what.find("response longer than") != std::string::npos);
}
