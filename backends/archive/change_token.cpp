#include "backends/archive/change_token.h"

namespace mf::archive {

std::string stamped_token(const std::optional<std::string>& token, const std::string& stamp) {
    return token ? *token + '\t' + stamp : std::string();
}

FolderMemo memo_if_unchanged(const std::pair<std::string, std::size_t>& recorded,
                             const std::string& stamp_now) {
    const auto& [text, held] = recorded;
    auto tab = text.rfind('\t');
    if (tab == std::string::npos || text.substr(tab + 1) != stamp_now)
        return FolderMemo{{}, held, {}};
    return FolderMemo{text.substr(0, tab), held, {}};
}

} // namespace mf::archive
