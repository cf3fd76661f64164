// Streams an archived message file to a sink with CRLF line ends restored,
// as the server first sent it. Shared by restore (ArchiveSource) and
// verify --deep (MaildirFolder::read).
#pragma once

#include "sync/source.h"

#include <string>

namespace mf::maildir {

Status stream_message_file(const std::string& path, const RemoteMessage& message, MessageSink& sink);

} // namespace mf::maildir
