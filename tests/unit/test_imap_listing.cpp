// The message counts that come with LIST-STATUS (RFC 5819).
#include "backends/imap/reader.h"
#include "backends/imap/source.h"

#include <doctest/doctest.h>

#include <algorithm>

using namespace mf::imap;

namespace {

class OneShot : public ByteStream {
  public:
    explicit OneShot(std::string data) : m_data(std::move(data)) {}
    mf::Result<std::size_t> read_some(char* buf, std::size_t len) override {
        if (m_pos == m_data.size()) return mf::fail(mf::ErrorKind::connect, mf::Scope::account, "closed");
        std::size_t n = std::min(len, m_data.size() - m_pos);
        std::copy_n(m_data.data() + m_pos, n, buf);
        m_pos += n;
        return n;
    }

  private:
    std::string m_data;
    std::size_t m_pos = 0;
};

std::optional<std::pair<std::string, std::uint32_t>> status_of(const std::string& line) {
    OneShot stream(line + "\r\n");
    ResponseReader reader(stream);
    auto r = reader.read();
    REQUIRE(r);
    return parse_status_messages(*r);
}

using Count = std::optional<std::pair<std::string, std::uint32_t>>;

} // namespace

TEST_CASE("a STATUS answer gives the folder's name as spelt and its message count") {
    CHECK(status_of("* STATUS \"INBOX\" (MESSAGES 5000)") == Count{{"INBOX", 5000}});
    CHECK(status_of("* STATUS Re&AOc-us (UIDNEXT 4 MESSAGES 2 UNSEEN 1)") == Count{{"Re&AOc-us", 2}});
    CHECK(status_of("* STATUS {4}\r\nWork (MESSAGES 0)") == Count{{"Work", 0}});
    CHECK(status_of("* status \"a b\" (messages 7)") == Count{{"a b", 7}});
}

TEST_CASE("anything else gives no count") {
    for (const char* line : {"* LIST (\\HasNoChildren) \"/\" INBOX", "* STATUS INBOX (UIDNEXT 4)",
                             "* STATUS INBOX (MESSAGES)", "* STATUS INBOX (MESSAGES x)",
                             "* STATUS INBOX (MESSAGES 4294967296)", "* STATUS INBOX MESSAGES 3",
                             "* STATUS NIL (MESSAGES 3)", "* STATUS (MESSAGES 3)", "* 3 EXISTS"})
        CHECK_MESSAGE(!status_of(line), line);
}
