#include "backends/maildir/read_back.h"

#include "backends/common/crlf.h"
#include "backends/common/fs.h"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace mf::maildir {

Status stream_message_file(const std::string& path, const RemoteMessage& message, MessageSink& sink) {
    fs::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return std::unexpected(fs::io_error("cannot read", path, errno));
    if (auto s = sink.begin(message.size); !s) return s;
    mail::LfToCrlf convert;
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            sink.abandon();
            return std::unexpected(fs::io_error("cannot read", path, errno));
        }
        if (n == 0) break;
        out.clear();
        convert.feed(std::string_view(buf, static_cast<std::size_t>(n)), out);
        if (auto s = sink.write(out); !s) {
            sink.abandon();
            return s;
        }
    }
    return sink.finish(message);
}

} // namespace mf::maildir
