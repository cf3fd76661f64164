// A lookup index over a list: its positions sorted by a key. 4 bytes an
// element where a hash map costs ~50, for lists of up to 100 000 messages
// (held messages by id, index records by id, message files by base name).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace mf {

// Positions 0..n-1 in the order of key(position).
template <class Key> std::vector<std::uint32_t> sorted_index(std::size_t n, Key key) {
    std::vector<std::uint32_t> index(n);
    for (std::size_t i = 0; i < n; ++i)
        index[i] = static_cast<std::uint32_t>(i);
    std::sort(index.begin(), index.end(),
              [&](std::uint32_t a, std::uint32_t b) { return key(a) < key(b); });
    return index;
}

// The first entry of `index` whose key is not less than `wanted`; entries
// with an equal key follow it.
template <class Key, class T>
std::vector<std::uint32_t>::const_iterator lower_bound_in(const std::vector<std::uint32_t>& index,
                                                          const T& wanted, Key key) {
    return std::lower_bound(index.begin(), index.end(), wanted,
                            [&](std::uint32_t i, const T& v) { return key(i) < v; });
}

} // namespace mf
