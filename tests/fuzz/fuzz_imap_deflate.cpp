// libFuzzer target: a hostile server's COMPRESS=DEFLATE stream (RFC 4978)
// through net::compress_transport and ResponseReader, as a session reads it.
// The input is the compressed side; whatever it inflates to (garbage, a
// deflate bomb, an endless line) must end in a Failure with memory bounded
// by the reader's limits and zlib's window, never a crash or a runaway
// allocation (libFuzzer's -rss_limit_mb catches the latter).
//
// Not part of the CMake build; tests/fuzz/run_fuzzers.sh builds and runs it
// (-max_len=65536; it links -lz). A unity build for the reason given in
// fuzz_imap_reader.cpp. The seeds (tests/fuzz/corpus/imap_deflate) are raw
// deflate streams of IMAP responses, one of them a bomb: 64 MiB of "a"
// with no line end.
#include "tests/fuzz/expected_shim.h"

#include "backends/imap/reader.cpp"
#include "backends/imap/response.cpp"
#include "backends/net/deflate.cpp"
#include "sync/flags.cpp"

#include <algorithm>
#include <cstdint>

namespace {

// The server's side: reads come from the fuzz input; writes are dropped.
class FuzzTransport : public mf::net::Transport {
  public:
    FuzzTransport(const std::uint8_t* data, std::size_t size) : m_data(data), m_size(size) {}
    mf::Status send_all(std::string_view) override { return {}; }
    mf::Result<std::size_t> read_some(char* buf, std::size_t len) override {
        if (m_pos == m_size) return mf::fail(mf::ErrorKind::connect, mf::Scope::session, "closed");
        const std::size_t n = std::min({len, std::size_t{4096}, m_size - m_pos});
        std::copy_n(m_data + m_pos, n, buf);
        m_pos += n;
        return n;
    }
    const mf::net::Endpoint& endpoint() const override { return m_endpoint; }
    const mf::net::TlsInfo& tls() const override { return m_tls; }
    const std::vector<std::string>& login_reply() const override { return m_reply; }

  private:
    const std::uint8_t* m_data;
    std::size_t m_size, m_pos = 0;
    mf::net::Endpoint m_endpoint;
    mf::net::TlsInfo m_tls;
    std::vector<std::string> m_reply;
};

// The session's view of its transport, as imap::Session gives it to the reader.
class Stream : public mf::imap::ByteStream {
  public:
    explicit Stream(mf::net::Transport& t) : m_t(t) {}
    mf::Result<std::size_t> read_some(char* buf, std::size_t len) override {
        return m_t.read_some(buf, len);
    }

  private:
    mf::net::Transport& m_t;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto t = mf::net::compress_transport(std::make_unique<FuzzTransport>(data, size), "");
    if (!t) return 0;
    (void)(*t)->send_all("M1 NOOP\r\n");
    Stream stream(**t);
    mf::imap::ResponseReader reader(stream, mf::imap::ReaderLimits{1u << 20, 64});
    // Each response is either read whole within the limits or refused; the
    // reader stays failed after a refusal, so the loop ends.
    for (int i = 0; i < 100000; ++i)
        if (!reader.read()) break;
    return 0;
}
