// `mailferry export`: the messages of a folder that a filter admits, read
// from a Source and handed to an ExportSink (.eml files, an mbox). The
// engine knows neither format; backends/export writes them.
#pragma once

#include "sync/filter.h"
#include "sync/model.h"
#include "sync/result.h"
#include "sync/source.h"

#include <cstddef>
#include <vector>

namespace mf {

// Where an export goes, a folder at a time.
//
// Contract: begin_folder(), then messages() streams the folder's messages
// (the MessageSink contract: begin, write..., finish or abandon), then
// end_folder() makes the folder's output visible. A folder whose export
// fails before end_folder() leaves nothing behind when the next
// begin_folder() or the destructor comes: the sink cleans up after itself.
class ExportSink {
  public:
    virtual ~ExportSink() = default;
    virtual Status begin_folder(const FolderInfo& folder) = 0;
    virtual MessageSink& messages() = 0;
    virtual Status end_folder() = 0;
};

struct ExportCounts {
    std::size_t listed = 0;   // messages the folder holds
    std::size_t left_out = 0; // by the filter
    std::size_t exported = 0;
    std::vector<MessageProblem> failed; // messages the source would not give
};

// Exports `folder` of `source`: lists it in parts (a large folder is never
// described whole at once), leaves out what `filter` does not admit, and
// streams the rest into `sink`. A message the source cannot read is
// counted in `failed` and the others go on; any other failure ends the
// folder and is returned.
Result<ExportCounts> export_folder(Source& source, const FolderInfo& folder,
                                   const MessageFilter& filter, ExportSink& sink);

} // namespace mf
