// Streams an archived message file to a sink with CRLF line ends restored,
// as the server first sent it. Shared by restore (ArchiveSource) and
// verify --deep (MaildirFolder::read).
#pragma once

#include "sync/source.h"

#include <string>

namespace mf::maildir {

// `message.size` 0 means not known: the size measured here is handed on.
Status stream_message_file(const std::string& path, const RemoteMessage& message,
                           MessageSink& sink);

// The size of an archived file with CRLF line ends restored: what the
// server counted. Fails if the file cannot be read.
Result<std::uint64_t> crlf_size_of(const std::string& path);

} // namespace mf::maildir
