// Modified UTF-7 mailbox names (RFC 3501 §5.1.3).
#include "backends/imap/mutf7.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using mf::imap::decode_mutf7;
using mf::imap::encode_mutf7;

TEST_CASE("mutf7 encodes and decodes known names") {
    struct Case {
        std::string utf8;
        std::string mutf7;
    };
    const std::vector<Case> cases = {
        {"INBOX", "INBOX"},
        {"", ""},
        {"&", "&-"},
        {"a&b&&", "a&-b&-&-"},
        {"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"}, // RFC 3501
        {"Entwürfe", "Entw&APw-rfe"},
        {"Gelöschte Elemente", "Gel&APY-schte Elemente"},
        {"Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"},
        {"é&", "&AOk-&-"},
        {"\xF0\x9F\x93\xA7 mail", "&2D3c5w- mail"}, // U+1F4E7, a surrogate pair
        {"\xF0\x9F\x98\x80\xF0\x9F\x98\x81", "&2D3eANg93gE-"},
        {"tab\there", "tab&AAk-here"}, // controls are encoded, not direct
        {"a\x7f", "a&AH8-"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.utf8);
        CHECK(encode_mutf7(c.utf8) == c.mutf7);
        CHECK(decode_mutf7(c.mutf7) == c.utf8);
    }
}

TEST_CASE("mutf7 rejects what no correct server sends") {
    const std::vector<std::string> invalid = {
        "&",           // unterminated shift
        "&U,BTFw",     // unterminated run
        "&U/BTFw-",    // '/' is plain base64, not modified
        "&U,BTFw=-",   // padding
        "&AGE-&AGI-",  // null shift between two runs
        "&AEE-",       // "A" must be written directly
        "&ACY-",       // "&" must be written as "&-"
        "&AOk",        // missing '-'
        "&AOl-",       // non-zero leftover bits
        "&AOkA-",      // a whole extra digit of padding
        "&2D0-",       // high surrogate alone
        "&3gA-",       // low surrogate alone
        "&2D3YPQ-",    // two high surrogates
        "caf\xc3\xa9", // 8-bit bytes are never direct
        "tab\there",   // controls are never direct
        "&AA-",        // fewer than 16 bits
    };
    for (const std::string& text : invalid) {
        CAPTURE(text);
        CHECK_FALSE(decode_mutf7(text));
    }
}

TEST_CASE("mutf7 encodes invalid UTF-8 bytes as U+FFFD") {
    const std::string replacement = "\xEF\xBF\xBD";
    struct Case {
        std::string bytes;
        std::string decoded_after_encoding;
    };
    const std::vector<Case> cases = {
        {"a\xff"
         "b",
         "a" + replacement + "b"},
        {"\x80", replacement},
        {"\xc0\xaf", replacement + replacement},                   // overlong "/"
        {"\xed\xa0\x80", replacement + replacement + replacement}, // encoded surrogate
        {"\xf4\x90\x80\x80", replacement + replacement + replacement + replacement}, // > U+10FFFF
        {"\xf8\x88\x80\x80\x80", std::string()},
        {"\xe4\xb8", replacement + replacement}, // truncated
    };
    for (const Case& c : cases) {
        CAPTURE(c.bytes);
        auto decoded = decode_mutf7(encode_mutf7(c.bytes));
        REQUIRE(decoded);
        if (!c.decoded_after_encoding.empty()) CHECK(*decoded == c.decoded_after_encoding);
        CHECK(decoded->find(replacement) != std::string::npos);
    }
}

TEST_CASE("mutf7 round-trips every plane") {
    std::string all;
    for (char32_t c : {0x1u, 0x41u, 0x26u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xD7FFu, 0xE000u, 0xFFFDu,
                       0xFFFFu, 0x10000u, 0x1F600u, 0x10FFFFu}) {
        // UTF-8 by hand so the test does not depend on the code under test.
        if (c < 0x80) {
            all += static_cast<char>(c);
        } else if (c < 0x800) {
            all += static_cast<char>(0xC0 | (c >> 6));
            all += static_cast<char>(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            all += static_cast<char>(0xE0 | (c >> 12));
            all += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            all += static_cast<char>(0x80 | (c & 0x3F));
        } else {
            all += static_cast<char>(0xF0 | (c >> 18));
            all += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
            all += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
            all += static_cast<char>(0x80 | (c & 0x3F));
        }
    }
    for (std::size_t length = 0; length <= all.size(); ++length) {
        // Every prefix that ends on a character boundary is valid UTF-8.
        if (length < all.size() && (static_cast<unsigned char>(all[length]) & 0xC0) == 0x80) {
            continue;
        }
        const std::string text = all.substr(0, length);
        CAPTURE(text);
        const std::string encoded = encode_mutf7(text);
        CHECK(decode_mutf7(encoded) == text);
    }
}
