// Comparing an archive with its source without changing either: what is
// missing from the archive, what the archive holds that the source no
// longer has, and what differs (flags, size; with `deep`, content).
//
// A size alone does not make a difference when the server is known to
// misreport sizes (hMailServer leaves out the headers it adds on delivery,
// issue 20): a message whose size differs but whose Message-ID matches the
// held one is a warning. With `deep` the content decides: the same bytes
// are a warning, other bytes a content difference.
#pragma once

#include "sync/plan.h"
#include "sync/source.h"
#include "sync/store.h"

#include <optional>

namespace mf {

struct VerifyReport {
    std::string folder;
    std::size_t found = 0, held = 0;
    std::vector<std::string> missing; // on the source, not in the archive
    std::vector<std::string> extra;   // in the archive, gone from the source (normal for a backup)
    std::vector<std::string> flags_differ;
    std::vector<std::string> size_differ;
    std::vector<std::string> size_misreported; // a warning: the same message, another size
    std::vector<std::string> content_differ;   // deep only
    bool validity_changed = false;
    std::string error;

    bool matches() const {
        return error.empty() && !validity_changed && missing.empty() && flags_differ.empty() &&
               size_differ.empty() && content_differ.empty();
    }
};

VerifyReport verify_folder(Source& source, Store& store, const FolderInfo& folder, bool deep);

} // namespace mf
