#include "backends/maildir/read_back.h"

#include "backends/common/crlf.h"
#include "backends/common/fs.h"

#include <cerrno>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <unistd.h>

namespace mf::maildir {

namespace {

constexpr std::size_t k_chunk = 64 * 1024;

// Reads up to `len` bytes (fewer only at the end of the file).
Result<std::size_t> read_full(int fd, char* buf, std::size_t len, const std::string& path) {
    std::size_t got = 0;
    while (got < len) {
        ssize_t n = ::read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::unexpected(fs::io_error("cannot read", path, errno));
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    return got;
}

Failure changed(const std::string& path) {
    return Failure{ErrorKind::local_io, Scope::message,
                   path + " changed while it was read; run again"};
}

// The rest of a file larger than one chunk, sent as it is read: the sink
// holds none of it, which is what keeps a restore's memory flat however
// large its messages. The size was measured first, so a file that changes
// between the two readings is caught here, before the count it was sent
// under would be broken.
Status send_file(int fd, std::uint64_t size, const std::string& path,
                 const MessageSink::Send& send) {
    if (::lseek(fd, 0, SEEK_SET) != 0)
        return std::unexpected(fs::io_error("cannot read", path, errno));
    mail::LfToCrlf convert;
    auto buf = std::make_unique_for_overwrite<char[]>(k_chunk);
    std::string out;
    std::uint64_t sent = 0;
    for (;;) {
        auto n = read_full(fd, buf.get(), k_chunk, path);
        if (!n) return std::unexpected(n.error());
        if (*n == 0) break;
        out.clear();
        convert.feed(std::string_view(buf.get(), *n), out);
        if (sent + out.size() > size) return std::unexpected(changed(path));
        if (auto s = send(out); !s) return s;
        sent += out.size();
    }
    if (sent != size) return std::unexpected(changed(path));
    return {};
}

// Counts the CRLF size of `fd`'s content, the first `in_buf` bytes of which
// are already in `buf` (k_chunk long); reads the rest.
Result<std::uint64_t> count_crlf_size(int fd, char* buf, std::size_t in_buf,
                                      const std::string& path) {
    mail::CrlfSize size;
    size.feed(std::string_view(buf, in_buf));
    for (;;) {
        auto n = read_full(fd, buf, k_chunk, path);
        if (!n) return std::unexpected(n.error());
        if (*n == 0) return size.size();
        size.feed(std::string_view(buf, *n));
    }
}

} // namespace

Result<std::uint64_t> crlf_size_of(const std::string& path) {
    fs::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return std::unexpected(fs::io_error("cannot read", path, errno));
    auto buf = std::make_unique_for_overwrite<char[]>(k_chunk);
    return count_crlf_size(fd.get(), buf.get(), 0, path);
}

// The wire size (CRLF) is measured before the first byte goes out, so that
// a sink which must state it first (IMAP APPEND) can stream the file
// instead of holding it. A file of one chunk is read once and sent from
// memory; a larger one is read twice, which costs a copy from the page
// cache and spares holding the message. Once read, the file's pages are let
// go (fs::drop_cached): a restore reads the archive once.
Status stream_message_file(const std::string& path, const RemoteMessage& message,
                           MessageSink& sink) {
    fs::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return std::unexpected(fs::io_error("cannot read", path, errno));
    auto buf = std::make_unique_for_overwrite<char[]>(k_chunk);
    auto got = read_full(fd.get(), buf.get(), k_chunk, path);
    if (!got) return std::unexpected(got.error());
    // A size the caller did not know is the one measured here (copied only then).
    std::optional<RemoteMessage> sized;
    auto described = [&](std::uint64_t size) -> const RemoteMessage& {
        if (message.size != 0) return message;
        sized = message;
        sized->size = size;
        return *sized;
    };
    if (*got < k_chunk) {
        std::string out;
        out.reserve(*got + *got / 8);
        mail::LfToCrlf().feed(std::string_view(buf.get(), *got), out);
        buf.reset();
        fs::drop_cached(fd.get());
        return sink.put(described(out.size()), out.size(),
                        [&](const MessageSink::Send& send) { return send(out); });
    }
    auto size = count_crlf_size(fd.get(), buf.get(), *got, path);
    if (!size) return std::unexpected(size.error());
    buf.reset();
    auto sent = sink.put(described(*size), *size, [&](const MessageSink::Send& send) {
        return send_file(fd.get(), *size, path, send);
    });
    fs::drop_cached(fd.get());
    return sent;
}

} // namespace mf::maildir
