#include "sync/flags.h"

#include <algorithm>

namespace mf {
void normalize(Flags& flags) {
    auto& k = flags.keywords;
    std::sort(k.begin(), k.end());
    k.erase(std::unique(k.begin(), k.end()), k.end());
}
} // namespace mf
