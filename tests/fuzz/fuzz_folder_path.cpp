// libFuzzer target: folder names from a hostile server stay below the archive root.
//   clang++-14 -std=c++2b -g -O1 -fsanitize=fuzzer,address,undefined -I/work/main \
//     tests/fuzz/fuzz_folder_path.cpp backends/archive/folder_path.cpp -o /tmp/fuzz_folder_path
//   /tmp/fuzz_folder_path -max_total_time=20
// Input: path components separated by 0x01 (any other byte, NUL included, is
// part of a name).
#include "backends/archive/folder_path.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

using namespace mf::archive;

namespace {
void require(bool ok) {
    if (!ok) std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> components;
    std::size_t start = 0;
    for (std::size_t sep; (sep = input.find('\x01', start)) != std::string::npos; start = sep + 1)
        components.push_back(input.substr(start, sep - start));
    components.push_back(input.substr(start));

    for (const auto& name : components) {
        const auto escaped = safe_component(name);
        require(!escaped.empty() && escaped != "." && escaped != "..");
        require(escaped.front() != '.');
        require(escaped.size() <= k_max_component);
        require(escaped.find_first_of(std::string("/\\\0", 3)) == std::string::npos);
        const auto back = unescape_component(escaped);
        // Reversible exactly when no hash had to stand in for the tail.
        if (escaped.find("%~") == std::string::npos)
            require(back == name);
        else
            require(!back && name.size() > k_max_component / 3);
    }
    const auto path = relative_folder_path(components);
    require(!path.starts_with('/'));
    require(path.find("//") == std::string::npos);
    require(path != ".." && !path.starts_with("../") && path.find("/../") == std::string::npos &&
            !path.ends_with("/.."));
    require(path.find('\0') == std::string::npos);
    // The full spelling the state database keeps gives every name back.
    require(parse_full_folder_path(full_folder_path(components)) == components);
    if (const auto full = parse_full_folder_path(input)) require(full_folder_path(*full) == input);
    // Any input may be offered to unescape_component: no crash, and what it
    // accepts must escape back to the same spelling.
    if (const auto name = unescape_component(input)) require(safe_component(*name) == input);
    return 0;
}
