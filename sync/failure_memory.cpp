#include "sync/failure_memory.h"

#include <algorithm>
#include <unordered_set>

namespace mf {

FailureMemory::FailureMemory(const std::vector<MessageFailure>& known, std::size_t skip_after)
    : m_skip_after(skip_after) {
    for (const auto& f : known)
        m_known.emplace(f.id, f);
}

MessageProblem FailureMemory::as_skipped(const MessageFailure& f) const {
    return MessageProblem{f.id, "skipped: failed in " + std::to_string(f.runs) +
                                    " runs (last: " + f.what + ")"};
}

void FailureMemory::skip(std::vector<std::string>& fetch) {
    if (m_known.empty()) return; // the usual case: no lookup per message
    std::erase_if(fetch, [&](const std::string& id) {
        auto it = m_known.find(id);
        if (it == m_known.end() || !skips(it->second)) return false;
        m_skipped.push_back(as_skipped(it->second));
        return true;
    });
}

std::vector<MessageProblem> FailureMemory::to_skip() const {
    std::vector<MessageProblem> out;
    for (const auto& [id, f] : m_known)
        if (skips(f)) out.push_back(as_skipped(f));
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
}

std::vector<std::string> FailureMemory::unlisted(const std::vector<RemoteMessage>& listing) const {
    if (m_known.empty()) return {};
    std::unordered_set<std::string> listed;
    for (const auto& m : listing)
        listed.insert(m.id);
    std::vector<std::string> out;
    for (const auto& [id, f] : m_known)
        if (!listed.contains(id)) out.push_back(id);
    return out;
}

std::vector<std::string> FailureMemory::recovered(const std::vector<MessageProblem>& failed) const {
    std::unordered_set<std::string> still;
    for (const auto& m : failed)
        still.insert(m.id);
    std::vector<std::string> out;
    for (const auto& [id, f] : m_known)
        if (!skips(f) && !still.contains(id)) out.push_back(id);
    return out;
}

} // namespace mf
