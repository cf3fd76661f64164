// libFuzzer target: Maildir file names, ids and keyword tables.
//   clang++-14 -std=c++2b -g -O1 -fsanitize=fuzzer,address,undefined -I/work/main \
//     tests/fuzz/fuzz_maildir_names.cpp backends/maildir/names.cpp backends/common/id_escape.cpp \
//     sync/flags.cpp \
//     -o /tmp/fuzz_maildir_names
//   /tmp/fuzz_maildir_names -max_total_time=20
#include "backends/maildir/names.h"

#include <cstdint>
#include <cstdlib>
#include <string>

using namespace mf::maildir;

namespace {
void require(bool ok) {
    if (!ok) std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);

    // Ids: any bytes escape to a safe spelling and come back.
    const auto escaped = escape_id(input);
    require(escaped.find_first_of(std::string("/:,!\0", 5)) == std::string::npos);
    require(unescape_id(escaped) == input);
    if (const auto id = unescape_id(input)) require(escape_id(*id) == input);

    // A name we write parses back to what went in: the id itself, or its
    // digest where it escapes long. So does a name of an older archive,
    // with the id spelled out however long.
    const bool spelled = escaped.size() <= k_max_spelled_id;
    const std::string seconds = std::to_string(size), crlf_size = std::to_string(size);
    for (const bool bounded : {true, false}) {
        const auto unique =
            bounded
                ? make_bounded_unique_part(static_cast<std::int64_t>(size), 1, 2, 3, input, size)
                : seconds + ".M1P2Q3.mailferry,U=" + escaped + ",W=" + crlf_size;
        const auto name = with_flags(unique, input);
        const auto parsed = parse_name(name);
        require(parsed && parsed->unique == unique && parsed->crlf_size == size);
        if (spelled || !bounded)
            require(parsed->id == input && !parsed->id_digest);
        else
            require(!parsed->id && parsed->id_digest == id_digest_of(input));
        require(with_flags(name, parsed->info_flags) == name);
    }

    // Any name: no crash; if accepted, replacing its flags keeps its unique part.
    if (const auto any = parse_name(input)) {
        require(!any->unique.empty());
        const auto renamed = with_flags(input, "S");
        const auto again = parse_name(renamed);
        require(again && again->unique == any->unique && again->info_flags == "S");
    }

    // Keyword tables: parse, serialize, parse is stable; flags map back.
    KeywordTable table;
    table.parse(input);
    const auto text = table.serialize();
    KeywordTable copy;
    copy.parse(text);
    require(copy.serialize() == text);
    const auto flags = info_to_flags(input, table);
    KeywordTable same = table;
    require(info_to_flags(flags_to_info(flags, same), same) == flags);
    return 0;
}
