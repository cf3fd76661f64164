#include "sync/model.h"

namespace mf {
std::string FolderInfo::display() const {
    std::string out;
    for (const auto& part : path) {
        if (!out.empty()) out += '/';
        out += part;
    }
    return out;
}
} // namespace mf
