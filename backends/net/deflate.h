// COMPRESS=DEFLATE (RFC 4978): raw deflate in both directions over an
// authenticated transport, once the server has accepted COMPRESS DEFLATE.
// Wire bytes are what a backup costs on a slow link, and the server's
// compression of the download sets the floor (issue 23).
//
// Memory stays bounded whatever the server sends: read_some() inflates into
// the caller's buffer, at most `len` bytes at a time, through zlib's fixed
// 32 KiB window, so a deflate bomb arrives as an endless stream of ordinary
// bytes that the protocol reader's own limits refuse (imap/reader.h).
#pragma once

#include "backends/net/transport.h"

#include <memory>
#include <string>

namespace mf::net {

// Wraps `inner`. `pending` are bytes already read from `inner` after the
// server's OK: compressed, so they are inflated first.
Result<std::unique_ptr<Transport>> compress_transport(std::unique_ptr<Transport> inner,
                                                      std::string pending);

} // namespace mf::net
