// A pull parser for IMAP server responses (RFC 3501 / RFC 9051 §7), reading
// from a byte stream one whole response at a time.
//
// Safety contract: the server is not trusted. Memory held for one response
// is bounded by ReaderLimits::max_response bytes of input (plus the parsed
// form's bookkeeping), list nesting by max_depth, and the read buffer is a
// fixed 64 KiB. Message bodies do not count: a LiteralHandler may claim a
// literal and receive it in pieces straight from the read buffer. Bytes
// inside a literal are never interpreted, so a body line such as
// "A001 OK done" cannot end a command early.
//
// Every failure (stream error, protocol error, handler error) is sticky: the
// position in the stream is lost, so later reads return the same failure and
// the connection must be dropped.
#pragma once

#include "backends/imap/response.h"
#include "sync/result.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace mf::imap {

namespace detail {
class Input; // the bounded read buffer, private to reader.cpp
}

class ByteStream {
  public:
    virtual ~ByteStream() = default;
    // Blocks until at least one byte is available; returns bytes read (>0) or
    // a Failure (timeout, connection closed...).
    virtual mf::Result<std::size_t> read_some(char* buf, std::size_t len) = 0;
};

class LiteralHandler {
  public:
    virtual ~LiteralHandler() = default;
    // A literal of `size` octets starts; `preceding` is the atom right before
    // it in the same list (e.g. "BODY[]", "BODY[]<0>", "RFC822"), "" if none.
    // Return true to receive its bytes through chunk() instead of having them
    // stored in the Value (which then has Type::streamed).
    virtual bool claim(std::string_view preceding, std::uint64_t size) = 0;
    // In order, straight from the read buffer; a Failure aborts the read.
    virtual mf::Status chunk(std::string_view bytes) = 0;
    virtual mf::Status end() = 0;
};

struct ReaderLimits {
    // Bytes of one response kept in memory (claimed literals excluded).
    std::size_t max_response = std::size_t{8} << 20;
    std::size_t max_depth = 64; // nesting of parenthesised lists
};

class ResponseReader {
  public:
    explicit ResponseReader(ByteStream& in, ReaderLimits limits = {});
    ~ResponseReader();
    ResponseReader(const ResponseReader&) = delete;
    ResponseReader& operator=(const ResponseReader&) = delete;

    // Reads one whole response, CRLF included. Protocol errors come back as
    // ErrorKind::protocol, Scope::session; stream and handler failures as
    // they were reported.
    mf::Result<Response> read(LiteralHandler* handler = nullptr);
    // The bytes received but not read yet, which the reader forgets: what
    // followed a response after which the stream changes (COMPRESS).
    std::string take_buffered();

  private:
    std::unique_ptr<detail::Input> m_input;
    ReaderLimits m_limits;
};

} // namespace mf::imap
