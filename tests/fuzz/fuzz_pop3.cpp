// libFuzzer target: a hostile POP3 server's bytes through pop3::Session
// (line reading, status lines, dot-unstuffing, the line limit) and
// pop3::Pop3Source (CAPA, LIST and UIDL parsing, fingerprints without UIDL,
// pipelined TOP answers, size checks, TOP n 0 headers, DELE, QUIT).
//
// Not part of the CMake build. Build and run (from the repository root):
//
//   clang++ -std=c++2b -g -O1 -fsanitize=fuzzer,address,undefined \
//       -fno-sanitize-recover=all -I. tests/fuzz/fuzz_pop3.cpp -o /tmp/fuzz_pop3
//   /tmp/fuzz_pop3 -max_total_time=20 -max_len=8192 tests/fuzz/corpus/pop3
//
// A unity build, like fuzz_imap_reader.cpp (clang 14 and libstdc++ 12's
// std::expected): the sources under test are #included below. The session
// runs over a fake net::Transport that plays the input as the server's side
// of the session, after login; no libcurl is linked (pop3::Session::open,
// the one caller of net::Connection, is inline and unused here).
//
// The whole input is the server's byte stream. Its last byte, XOR '\n',
// picks the piece size of each read (so a transcript ending in LF, like the
// seed corpus, is read in one piece at a time of 64 KiB).
#include "tests/fuzz/expected_shim.h"

#include "backends/common/crashpoint.cpp"
#include "backends/common/headers.cpp"
#include "backends/net/trace.cpp"
#include "backends/pop3/listing.cpp"
#include "backends/pop3/session.cpp"
#include "backends/pop3/source.cpp"
#include "sync/filter.cpp"
#include "sync/flags.cpp"
#include "sync/model.cpp"
#include "sync/source.cpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <set>

namespace {

void require(bool condition) {
    if (!condition) std::abort();
}

// The fake transport: reads come from the fuzz input, in pieces of `piece`
// bytes; writes are dropped.
class FuzzTransport : public mf::net::Transport {
  public:
    FuzzTransport(const std::uint8_t* data, std::size_t size, std::size_t piece)
        : m_data(data), m_size(size), m_piece(piece) {
        m_endpoint.protocol = mf::net::Protocol::pop3;
        m_endpoint.host = "fuzz.invalid";
    }
    mf::Status send_all(std::string_view data) override {
        (void)data;
        return {};
    }
    mf::Result<std::size_t> read_some(char* buf, std::size_t len) override {
        if (m_pos == m_size)
            return mf::fail(mf::ErrorKind::connect, mf::Scope::session, "closed the connection");
        const std::size_t n = std::min({len, m_piece, m_size - m_pos});
        std::copy(m_data + m_pos, m_data + m_pos + n, buf);
        m_pos += n;
        return n;
    }
    const mf::net::Endpoint& endpoint() const override { return m_endpoint; }
    const mf::net::TlsInfo& tls() const override { return m_tls; }
    const std::vector<std::string>& login_reply() const override { return m_login_reply; }

  private:
    const std::uint8_t* m_data;
    std::size_t m_size, m_pos = 0, m_piece;
    mf::net::Endpoint m_endpoint;
    mf::net::TlsInfo m_tls;
    std::vector<std::string> m_login_reply;
};

// Checks the source keeps the sink's contract: write only inside a message,
// finish only with an id that was asked for, each id at most once.
class CheckingSink : public mf::MessageSink {
  public:
    explicit CheckingSink(const std::vector<std::string>& wanted)
        : m_wanted(wanted.begin(), wanted.end()) {}
    mf::Status begin(std::uint64_t) override {
        require(!m_open);
        m_open = true;
        m_bytes = 0;
        return {};
    }
    mf::Status write(std::string_view chunk) override {
        require(m_open);
        m_bytes += chunk.size();
        return {};
    }
    mf::Status finish(const mf::RemoteMessage& message) override {
        require(m_open);
        require(m_wanted.count(message.id) == 1);
        require(m_done.insert(message.id).second);
        require(message.size == m_bytes);
        m_open = false;
        return {};
    }
    void abandon() override { m_open = false; }
    bool open() const { return m_open; }

  private:
    std::set<std::string> m_wanted, m_done;
    bool m_open = false;
    std::uint64_t m_bytes = 0;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static constexpr std::size_t k_pieces[] = {65536, 1, 2, 3, 7, 64, 4096, 65536};
    const std::size_t piece = k_pieces[(data[size - 1] ^ '\n') & 7];
    mf::pop3::Pop3Source source(
        mf::pop3::Session::start(std::make_unique<FuzzTransport>(data, size, piece), nullptr));

    auto folders = source.list_folders();
    require(folders && folders->size() == 1);
    auto snap = source.open(folders->front());
    if (!snap) return 0;
    std::vector<std::string> ids;
    std::set<std::string> unique;
    for (const auto& m : snap->messages) {
        require(!m.id.empty());
        require(unique.insert(m.id).second); // a snapshot never names a message twice
        ids.push_back(m.id);
    }
    CheckingSink sink(ids);
    auto fetched = source.fetch(ids, sink);
    require(!sink.open() || !fetched); // a finished fetch leaves no message open
    if (!fetched && fetched.error().scope == mf::Scope::session) return 0;
    auto keys = source.keys(ids);
    if (keys) {
        for (const auto& k : *keys)
            require(unique.count(k.id) == 1);
    }
    (void)source.remove(ids);
    (void)source.close();
    (void)source.caveat();
    return 0;
}
