// Giving memory back early: large per-message lists (listings, held lists,
// mappings) are freed as soon as a run no longer needs them, so the peak of
// a run is not the sum of every phase's lists.
#pragma once

#include <vector>

namespace mf {

// Empties `v` and frees its storage (clear() keeps the capacity).
template <class T> void release(std::vector<T>& v) {
    std::vector<T>().swap(v);
}

} // namespace mf
