// libFuzzer target: a hostile IMAP server's bytes through imap::Session and
// imap::ImapSource: LIST and LIST-STATUS, EXAMINE (alone and with a listing
// behind it), CONDSTORE deltas, ESEARCH and listing in parts with the next
// part's listing sent behind the body FETCH, body literals into a sink,
// Message-ID headers.
//
// Not part of the CMake build; tests/fuzz/run_fuzzers.sh builds and runs it:
//
//   MAILFERRY_FUZZ_TARGETS=fuzz_imap_source bash tests/fuzz/run_fuzzers.sh
//
// (-max_len=16384). A unity build, like fuzz_pop3.cpp (clang 14 and libstdc++
// 12's std::expected): the sources under test are #included below. The
// session runs over a fake net::Transport that plays the input as the
// server's side of the session, after login; no libcurl is linked.
//
// The whole input is the server's byte stream; the session's tags are M1,
// M2, ... in the order commands go out. Its last byte, XOR '\n', picks:
//   bits 0-2  the piece size of each read
//   bit 3     the login's answer carries no capabilities (CAPABILITY is sent)
//   bit 4     no known change token (else "imap-condstore 7 13 100 11")
//   bits 5-6  part size 0, 1, 4098 or 100000 (parts need over 4096 messages)
//   bit 7     the known token is a server's without CONDSTORE, "imap-uidnext 7 13"
// so a transcript ending in LF (the seed corpus) runs with capabilities from
// the login, the known token and no parts. The seeds are the server's side
// of tests/transcripts/imap/*.txt. MAILFERRY_FUZZ_TRACE=1 in the environment
// prints the session's lines while replaying one input.
#include "tests/fuzz/expected_shim.h"

#include "backends/common/crashpoint.cpp"
#include "backends/common/crlf.cpp"
#include "backends/common/headers.cpp"
#include "backends/common/spool.cpp"
#include "backends/imap/change_token.cpp"
#include "backends/imap/daily_allowance.cpp"
#include "backends/imap/examine.cpp"
#include "backends/imap/fetch.cpp"
#include "backends/imap/folder_list.cpp"
#include "backends/imap/identity.cpp"
#include "backends/imap/listing.cpp"
#include "backends/imap/mutf7.cpp"
#include "backends/imap/namespace.cpp"
#include "backends/imap/parts.cpp"
#include "backends/imap/reader.cpp"
#include "backends/imap/response.cpp"
#include "backends/imap/seen_repair.cpp"
#include "backends/imap/session.cpp"
#include "backends/imap/source.cpp"
#include "backends/imap/uid_set.cpp"
#include "backends/net/deflate.cpp"
#include "backends/net/trace.cpp"
#include "sync/filter.cpp"
#include "sync/flags.cpp"
#include "sync/model.cpp"
#include "sync/source.cpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
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
    FuzzTransport(const std::uint8_t* data, std::size_t size, std::size_t piece, bool capabilities)
        : m_data(data), m_size(size), m_piece(piece) {
        m_endpoint.host = "fuzz.invalid";
        if (capabilities)
            m_login_reply.push_back(
                "A1 OK [CAPABILITY IMAP4rev1 LITERAL+ CONDSTORE LIST-STATUS ESEARCH] Logged in");
    }
    mf::Status send_all(std::string_view) override { return {}; }
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
// finish only with an id that was asked for, each id at most once, with the
// size it streamed.
class CheckingSink : public mf::MessageSink {
  public:
    void expect(const std::vector<std::string>& wanted) {
        m_wanted = {wanted.begin(), wanted.end()};
    }
    mf::Status begin(std::uint64_t) override {
        // A FETCH answer with two BODY[] literals: the first is abandoned
        // before the second begins, never left open under it.
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

bool session_gone(const mf::Failure& f) {
    return f.scope == mf::Scope::session || f.scope == mf::Scope::account;
}

// Checks a listing: ids are UIDs, each once, in order (every kind of listing
// is sorted by UID).
std::vector<std::string> checked_ids(const mf::Snapshot& snap) {
    std::vector<std::string> ids;
    std::uint64_t last = 0;
    for (const auto& m : snap.messages) {
        const std::uint64_t uid = std::stoull(m.id);
        require(uid > last);
        last = uid;
        ids.push_back(m.id);
    }
    if (snap.listing == mf::ListingKind::unchanged) require(snap.messages.empty());
    if (snap.listing != mf::ListingKind::parts) require(!snap.more);
    return ids;
}

// Fetches `ids` and reads their keys; false once the session is gone.
bool fetch(mf::imap::ImapSource& source, const std::vector<std::string>& ids) {
    CheckingSink sink;
    sink.expect(ids);
    auto fetched = source.fetch(ids, sink);
    require(!sink.open() || !fetched); // a finished fetch leaves no message open
    if (!fetched && session_gone(fetched.error())) return false;
    // keys() names only UIDs it was asked for, whatever else the server sends.
    auto keys = source.keys(ids);
    if (keys) {
        std::set<std::string> asked(ids.begin(), ids.end());
        for (const auto& k : *keys)
            require(asked.count(k.id) == 1);
    }
    return keys || !session_gone(keys.error());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static constexpr std::size_t k_pieces[] = {65536, 1, 2, 3, 7, 64, 4096, 65536};
    static constexpr std::size_t k_part_sizes[] = {0, 1, 4098, 100000};
    const unsigned mode = (data[size - 1] ^ '\n') & 0xff;
    auto transport =
        std::make_unique<FuzzTransport>(data, size, k_pieces[mode & 7], (mode & 8) == 0);
    mf::imap::TraceOptions trace;
    if (std::getenv("MAILFERRY_FUZZ_TRACE")) // replaying one input: the session's lines on stderr
        trace.sink = [](mf::net::TraceKind kind, std::string_view line) {
            std::fprintf(stderr, "%s %.*s\n", kind == mf::net::TraceKind::sent ? "C:" : "S:",
                         static_cast<int>(line.size()), line.data());
        };
    auto session = mf::imap::Session::start(std::move(transport), std::move(trace));
    if (!session) return 0;
    mf::imap::ImapSource source(std::move(*session));

    auto folders = source.list_folders();
    if (!folders) return 0;
    mf::OpenRequest request;
    if ((mode & 16) == 0)
        request.known_token = (mode & 128) ? "imap-uidnext 7 13" : "imap-condstore 7 13 100 11";
    request.part_size = k_part_sizes[(mode >> 5) & 3];
    std::size_t opened = 0;
    for (const auto& folder : *folders) {
        if (++opened > 4) break;
        auto snap = source.open(folder, request);
        if (!snap) {
            if (session_gone(snap.error())) return 0;
            continue;
        }
        if (snap->listing == mf::ListingKind::delta) require(!request.known_token.empty());
        for (std::size_t part = 0;; ++part) {
            if (!fetch(source, checked_ids(*snap))) return 0;
            if (!snap->more || part == 8) break;
            auto next = source.next_part(*snap);
            if (!next) {
                if (session_gone(next.error())) return 0;
                break;
            }
        }
        // What a server marked read while fetching (iCloud), taken back.
        if (auto marked = source.marked_read_by_fetch(); !marked.empty()) {
            auto undone = source.undo_marked_read(marked);
            if (!undone && session_gone(undone.error())) return 0;
        }
    }
    return 0;
}
