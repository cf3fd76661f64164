#include "backends/common/permission.h"

#include <cerrno>
#include <cstdio>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace mf::fs {

namespace {

std::string user_name(uid_t uid) {
    std::vector<char> buf(4096);
    passwd entry{};
    passwd* found = nullptr;
    if (::getpwuid_r(uid, &entry, buf.data(), buf.size(), &found) != 0 || !found) return "";
    return found->pw_name;
}

std::string who(uid_t uid) {
    std::string name = user_name(uid);
    return name.empty() ? "uid " + std::to_string(uid)
                        : name + " (uid " + std::to_string(uid) + ")";
}

std::string octal_mode(mode_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

std::string parent_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// The first directory on the way that refuses to be entered; else the path,
// or the directory it would be created in.
std::string refusing(const std::string& path) {
    for (auto slash = path.find('/', 1); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
        std::string dir = path.substr(0, slash);
        if (::access(dir.c_str(), X_OK) != 0 && errno == EACCES) return dir;
    }
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0 ? path : parent_of(path);
}

} // namespace

std::string describe_denial(const std::string& path) {
    std::string blamed = refusing(path);
    const uid_t me = ::geteuid();
    std::string running = "running as uid " + std::to_string(me);
    if (auto name = user_name(me); !name.empty()) running += " (" + name + ")";
    struct stat st;
    if (::stat(blamed.c_str(), &st) != 0) return running;
    return blamed + " is owned by " + who(st.st_uid) + ", mode " + octal_mode(st.st_mode) + "; " +
           running;
}

} // namespace mf::fs
