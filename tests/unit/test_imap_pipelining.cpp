// Commands sent one behind the other go out in one write (Session::queue):
// one TLS record for a folder's EXAMINE and listing, not one each.
#include "backends/imap/session.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>

using namespace mf;

namespace {

// Keeps each send_all() apart, and serves `answers` to reads.
class RecordingTransport : public net::Transport {
  public:
    RecordingTransport(std::vector<std::string>& writes, std::string answers)
        : m_writes(writes), m_answers(std::move(answers)) {}
    Status send_all(std::string_view data) override {
        m_writes.emplace_back(data);
        return {};
    }
    Result<std::size_t> read_some(char* buf, std::size_t len) override {
        std::size_t n = std::min(len, m_answers.size() - m_at);
        std::memcpy(buf, m_answers.data() + m_at, n);
        m_at += n;
        return n;
    }
    const net::Endpoint& endpoint() const override { return m_endpoint; }
    const net::TlsInfo& tls() const override { return m_tls; }
    const std::vector<std::string>& login_reply() const override { return m_login; }

  private:
    std::vector<std::string>& m_writes;
    std::string m_answers;
    std::size_t m_at = 0;
    net::Endpoint m_endpoint;
    net::TlsInfo m_tls;
    std::vector<std::string> m_login{"* CAPABILITY IMAP4rev1 LITERAL+", "A2 OK Logged in"};
};

} // namespace

TEST_CASE("pipelined commands go out in one write, and before the session reads") {
    std::vector<std::string> writes;
    auto transport = std::make_unique<RecordingTransport>(
        writes, "* 3 EXISTS\r\nM1 OK done\r\n* 1 FETCH (UID 1 FLAGS ())\r\nM2 OK done\r\n");
    auto session = imap::Session::start(std::move(transport), {});
    REQUIRE(session);
    auto examine = (*session)->send("EXAMINE \"INBOX\"");
    auto listing = (*session)->send("UID FETCH 1:* (UID FLAGS)");
    REQUIRE(examine);
    REQUIRE(listing);
    CHECK(writes.empty()); // nothing is read yet: both still wait
    auto first = (*session)->read_tagged();
    REQUIRE(first);
    CHECK(first->tag == *examine);
    REQUIRE(writes.size() == 1);
    CHECK(writes[0] == "M1 EXAMINE \"INBOX\"\r\nM2 UID FETCH 1:* (UID FLAGS)\r\n");
    auto second = (*session)->read_tagged();
    REQUIRE(second);
    CHECK(second->tag == *listing);
    CHECK(writes.size() == 1);
}

TEST_CASE("a literal's head goes out after the commands queued before it") {
    std::vector<std::string> writes;
    auto transport = std::make_unique<RecordingTransport>(writes, "M1 OK done\r\nM2 OK done\r\n");
    auto session = imap::Session::start(std::move(transport), {});
    REQUIRE(session);
    REQUIRE((*session)->send("NOOP"));
    auto tag = (*session)->send_literal("APPEND \"INBOX\"", 3,
                                        [](const auto& send) { return send("abc"); });
    REQUIRE(tag);
    std::string wire;
    for (const auto& w : writes)
        wire += w;
    CHECK(wire == "M1 NOOP\r\nM2 APPEND \"INBOX\" {3+}\r\nabc\r\n");
}
