// A Progress that shows nothing, for the engine tests.
#pragma once

#include "sync/progress.h"

namespace mf::test {

struct NullProgress : Progress {
    void folder_started(const std::string&, std::size_t, std::uint64_t, bool) override {}
    void message_done(std::uint64_t) override {}
    void folder_finished(const FolderReport&) override {}
    void note(const std::string&) override {}
};

} // namespace mf::test
