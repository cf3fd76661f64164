// libFuzzer target: arbitrary server bytes through ResponseReader, and every
// parsed response through parse_fetch, parse_namespace (with the prefix as
// path components) and describe.
//
// Not part of the CMake build. Build and run (from /work/main):
//
//   clang++ -std=c++2b -g -O1 -fsanitize=fuzzer,address,undefined \
//       -fno-sanitize-recover=all -I. tests/fuzz/fuzz_imap_reader.cpp -o /tmp/fuzz_imap_reader
//   /tmp/fuzz_imap_reader -max_total_time=20 -max_len=4096 /tmp/corpus
//   tests/fuzz/corpus/imap_reader
//
// It is a unity build (the sources under test are #included below) because
// clang 14 cannot use libstdc++ 12's std::expected (that header needs
// __cpp_concepts >= 202002, i.e. conditionally trivial destructors, which
// clang 14 lacks). For clang only, tests/fuzz/expected_shim.h supplies a
// minimal stand-in first; with a compiler that has std::expected it is skipped.
//
// The whole input is the server's byte stream. Its last byte, XOR '\n',
// also picks the delivery (piece sizes), the limits and the literal
// handler's appetite, so a plain transcript ending in LF (the seed corpus)
// runs whole, with default limits.

#include "tests/fuzz/expected_shim.h"

#include "backends/imap/fetch.cpp"
#include "backends/imap/mutf7.cpp"
#include "backends/imap/namespace.cpp"
#include "backends/imap/reader.cpp"
#include "backends/imap/response.cpp"
#include "sync/flags.cpp"
#include "sync/model.cpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace {

using namespace mf::imap;

void require(bool condition) {
    if (!condition) std::abort();
}

class FuzzStream : public ByteStream {
  public:
    FuzzStream(const std::uint8_t* data, std::size_t size, std::size_t piece)
        : m_data(data), m_size(size), m_piece(piece) {}

    mf::Result<std::size_t> read_some(char* buf, std::size_t len) override {
        if (m_pos == m_size) {
            return mf::fail(mf::ErrorKind::connect, mf::Scope::session, "connection closed");
        }
        const std::size_t count = std::min({len, m_piece, m_size - m_pos});
        std::copy(m_data + m_pos, m_data + m_pos + count, buf);
        m_pos += count;
        return count;
    }

  private:
    const std::uint8_t* m_data;
    std::size_t m_size;
    std::size_t m_piece;
    std::size_t m_pos = 0;
};

// Claims bodies and checks that the reader keeps its side of the contract:
// chunks only inside a claimed literal, exactly `size` bytes, then end().
class CheckingHandler : public LiteralHandler {
  public:
    explicit CheckingHandler(bool greedy) : m_greedy(greedy) {}

    bool claim(std::string_view preceding, std::uint64_t size) override {
        require(!m_open);
        m_open = m_greedy || preceding.starts_with("BODY[]") || preceding.starts_with("BINARY[");
        m_expected = size;
        m_received = 0;
        return m_open;
    }
    mf::Status chunk(std::string_view bytes) override {
        require(m_open && !bytes.empty() && bytes.size() <= 64 * 1024);
        m_received += bytes.size();
        require(m_received <= m_expected);
        return {};
    }
    mf::Status end() override {
        require(m_open && m_received == m_expected);
        m_open = false;
        return {};
    }

  private:
    bool m_greedy;
    bool m_open = false;
    std::uint64_t m_expected = 0;
    std::uint64_t m_received = 0;
};

void exercise_namespace(const Response& response) {
    auto ns = parse_namespace(response);
    if (!ns) return;
    for (bool utf8 : {false, true}) {
        auto prefix = prefix_components(*ns, utf8);
        if (!prefix) continue;
        require(prefix->empty() == ns->prefix.empty());
        std::vector<std::string> path = *prefix;
        path.push_back("Sent");
        require(mf::prefix_depth(path, *prefix) == prefix->size());
    }
}

void exercise(const Response& response) {
    require(!describe(response).empty());
    exercise_namespace(response);
    if (auto fetch = parse_fetch(response)) {
        require(fetch->seq != 0);
        if (fetch->flags) (void)flags_to_imap(*fetch->flags);
        if (fetch->internal_date) {
            require(parse_internal_date(format_internal_date(*fetch->internal_date)) ==
                    *fetch->internal_date);
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static constexpr std::size_t k_pieces[] = {SIZE_MAX, 1, 2, 3, 7, 64, 4096, 65536};
    const auto config = static_cast<std::uint8_t>(data[size - 1] ^ '\n');
    ReaderLimits limits;
    if ((config & 8) != 0) limits = ReaderLimits{256, 4};
    FuzzStream stream(data, size, k_pieces[config & 7]);
    CheckingHandler handler((config & 16) != 0);
    ResponseReader reader(stream, limits);
    // Every response consumes at least its line end, so this ends with the
    // input (libFuzzer's -timeout would report it if it did not).
    for (;;) {
        auto response = reader.read(&handler);
        if (!response) break;
        exercise(*response);
    }
    require(!reader.read(&handler)); // failures are sticky
    return 0;
}
