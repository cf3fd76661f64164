// libFuzzer target for modified UTF-7 mailbox names.
//
// Not part of the CMake build. Build and run (from /work/main):
//
//   clang++ -std=c++2b -g -O1 -fsanitize=fuzzer,address,undefined \
//       -fno-sanitize-recover=all -I. tests/fuzz/fuzz_mutf7.cpp backends/imap/mutf7.cpp \
//       -o /tmp/fuzz_mutf7
//   /tmp/fuzz_mutf7 -max_total_time=20 /tmp/corpus_mutf7
//
// Properties checked, with the input taken both as modified UTF-7 and as UTF-8:
// - what decodes encodes back to the very same bytes (decoding is strict, so
//   the encoding is canonical) and decodes again to the same text;
// - encoding any bytes gives something that decodes, and valid UTF-8 comes
//   back unchanged.
#include "backends/imap/mutf7.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

void require(bool condition) {
    if (!condition) std::abort();
}

// Written apart from mutf7.cpp so the two can disagree.
bool is_valid_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto lead = static_cast<unsigned char>(text[i]);
        // Lead byte ranges of RFC 3629; C0, C1 and F5..FF never start a character.
        const std::size_t length = lead < 0x80                    ? 1
                                   : lead >= 0xC2 && lead <= 0xDF ? 2
                                   : lead >= 0xE0 && lead <= 0xEF ? 3
                                   : lead >= 0xF0 && lead <= 0xF4 ? 4
                                                                  : 0;
        if (length == 0) return false;
        char32_t c = length == 1 ? lead : lead & (0xFF >> (length + 1));
        if (text.size() - i < length) return false;
        for (std::size_t k = 1; k < length; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xC0) != 0x80) return false;
            c = (c << 6) | (next & 0x3F);
        }
        if ((length == 3 && c < 0x800) || (length == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
            (c >= 0xD800 && c <= 0xDFFF)) {
            return false;
        }
        i += length;
    }
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    if (auto decoded = mf::imap::decode_mutf7(input)) {
        require(is_valid_utf8(*decoded));
        const std::string encoded = mf::imap::encode_mutf7(*decoded);
        require(encoded == input);
        require(mf::imap::decode_mutf7(encoded) == decoded);
    }

    const auto back = mf::imap::decode_mutf7(mf::imap::encode_mutf7(input));
    require(back.has_value());
    if (is_valid_utf8(input)) require(*back == input);
    return 0;
}
