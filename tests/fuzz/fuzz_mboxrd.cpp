// libFuzzer target: mboxrd encoding round trip, decoding of arbitrary files,
// From_ lines, and the header scanner over the same bytes.
//   clang++-14 -std=c++2b -g -O1 -fsanitize=fuzzer,address,undefined -I/work/main \
//     tests/fuzz/fuzz_mboxrd.cpp backends/mbox/mboxrd.cpp backends/common/headers.cpp \
//     -o /tmp/fuzz_mboxrd
//   /tmp/fuzz_mboxrd -max_total_time=20
// The first byte picks the chunk size; the rest is the message.
#include "backends/common/headers.h"
#include "backends/mbox/mboxrd.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

using namespace mf::mbox;

namespace {
void require(bool ok) {
    if (!ok) std::abort();
}

template <class Feed> void in_chunks(std::string_view data, std::size_t chunk, Feed feed) {
    while (!data.empty()) {
        const auto n = std::min(chunk, data.size());
        feed(data.substr(0, n));
        data.remove_prefix(n);
    }
}

struct Message {
    std::string from, body;
    bool ended = false;
};

std::vector<Message> decode(std::string_view mbox, std::size_t chunk) {
    std::vector<Message> out;
    Decoder dec({[&](std::string_view f) {
                     out.push_back({std::string(f), {}, false});
                 },
                 [&](std::string_view b) { out.back().body += b; },
                 [&]() { out.back().ended = true; }});
    in_chunks(mbox, chunk, [&](std::string_view s) { dec.feed(s); });
    dec.finish();
    require(dec.messages() == out.size());
    return out;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t chunk = 1 + data[0] % 17;
    const std::string message(reinterpret_cast<const char*>(data) + 1, size - 1);

    // Encode, then decode: the message comes back (cut to the server's size
    // when a final line break had to be added).
    std::string mbox = from_line(static_cast<std::int64_t>(size) * 1000003);
    Encoder enc(mbox);
    in_chunks(message, chunk, [&](std::string_view s) { enc.feed(s); });
    enc.finish();
    require(enc.crlf_octets() == message.size());
    const auto decoded = decode(mbox, 1 + (chunk * 7) % 23);
    require(decoded.size() == 1 && decoded[0].ended);
    if (enc.reversible()) require(decoded[0].body == message);
    if (!enc.saw_bare_cr() && !enc.saw_bare_lf() && enc.added_final_newline())
        require(decoded[0].body == message + "\r\n");

    // Arbitrary bytes as an mbox file: no crash, and the cut does not matter.
    const auto whole = decode(message, message.size() + 1);
    const auto cut = decode(message, chunk);
    require(whole.size() == cut.size());
    for (std::size_t i = 0; i < whole.size(); ++i)
        require(whole[i].from == cut[i].from && whole[i].body == cut[i].body);
    if (const auto t = parse_from_line(message))
        require(parse_from_line(from_line(*t)) || *t < -2208988800 || *t > 253402300799);

    mf::mail::HeaderScanner a, b;
    a.feed(message);
    a.finish();
    in_chunks(message, chunk, [&](std::string_view s) { b.feed(s); });
    b.finish();
    require(a.message_id() == b.message_id() && a.date() == b.date() &&
            a.received_first_date() == b.received_first_date());
    (void)mf::mail::parse_rfc5322_date(message);
    return 0;
}
