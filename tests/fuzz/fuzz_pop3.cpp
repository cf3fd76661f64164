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
// std::expected): the sources under test are #included below, and
// net::Connection, whose libcurl half cannot run here, is replaced by a fake
// that plays the input as the server's side of the session, after login.
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

struct FuzzInput {
    const std::uint8_t* data = nullptr;
    std::size_t size = 0;
    std::size_t pos = 0;
    std::size_t piece = 1;
    std::size_t sent_bytes = 0;
};
FuzzInput g_input;

} // namespace

// The fake transport: reads come from the fuzz input, writes are counted.
namespace mf::net {

struct Connection::Impl {
    Endpoint endpoint;
    TlsInfo tls;
};

Connection::Connection(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Connection::~Connection() = default;

Result<std::unique_ptr<Connection>> Connection::open(const Endpoint& endpoint, TraceSink) {
    auto impl = std::make_unique<Impl>();
    impl->endpoint = endpoint;
    return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

Status Connection::send_all(std::string_view data) {
    g_input.sent_bytes += data.size();
    return {};
}

Result<std::size_t> Connection::read_some(char* buf, std::size_t len) {
    if (g_input.pos == g_input.size)
        return fail(ErrorKind::connect, Scope::account, "closed the connection");
    const std::size_t n = std::min({len, g_input.piece, g_input.size - g_input.pos});
    std::copy(g_input.data + g_input.pos, g_input.data + g_input.pos + n, buf);
    g_input.pos += n;
    return n;
}

const TlsInfo& Connection::tls() const { return m_impl->tls; }
const Endpoint& Connection::endpoint() const { return m_impl->endpoint; }

} // namespace mf::net

namespace {

// Checks the source keeps the sink's contract: write only inside a message,
// finish only with an id that was asked for, each id at most once.
class CheckingSink : public mf::MessageSink {
  public:
    explicit CheckingSink(const std::vector<std::string>& wanted) : m_wanted(wanted.begin(), wanted.end()) {}
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
    g_input = FuzzInput{data, size, 0, k_pieces[(data[size - 1] ^ '\n') & 7], 0};

    mf::net::Endpoint endpoint;
    endpoint.protocol = mf::net::Protocol::pop3;
    endpoint.host = "fuzz.invalid";
    auto session = mf::pop3::Session::open(endpoint, nullptr);
    require(session.has_value());
    mf::pop3::Pop3Source source(std::move(*session));

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
    if (!fetched && fetched.error().scope == mf::Scope::account) return 0;
    auto keys = source.keys(ids);
    if (keys) {
        for (const auto& k : *keys) require(unique.count(k.id) == 1);
    }
    (void)source.remove(ids);
    (void)source.close();
    (void)source.caveat();
    return 0;
}
