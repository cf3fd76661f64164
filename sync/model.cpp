#include "sync/model.h"

namespace mf {
std::string FolderInfo::display() const {
    std::string out;
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (i > 0) out += '/';
        out += path[i];
    }
    return out;
}
} // namespace mf
