// Reading a job file from disk: where its relative paths start, whose home
// "~/" means, and the permission bits the validator judges it by.
#include "cli/jobs.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace mf::cli {

JobFileResult load_job_file(const std::string& path) {
    JobFileContext context;
    context.path = path;
    auto slash = path.rfind('/');
    if (slash == std::string::npos) {
        char cwd[4096];
        context.dir = ::getcwd(cwd, sizeof cwd) ? cwd : ".";
    } else {
        context.dir = slash == 0 ? "/" : path.substr(0, slash);
        if (!context.dir.starts_with('/')) {
            char cwd[4096];
            if (::getcwd(cwd, sizeof cwd)) context.dir = std::string(cwd) + "/" + context.dir;
        }
    }
    if (const char* home = std::getenv("HOME")) context.home = home;
    context.mode_of = [](const std::string& p) -> std::optional<unsigned> {
        struct stat st;
        if (::stat(p.c_str(), &st) != 0) return std::nullopt;
        return static_cast<unsigned>(st.st_mode & 07777);
    };
    JobFileResult result;
    result.file.path = path;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
        result.errors.push_back(path + ": cannot read the job file: " + std::strerror(errno));
        return result;
    }
    if (!S_ISREG(st.st_mode)) {
        result.errors.push_back(path + ": not a regular file");
        return result;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        result.errors.push_back(path + ": cannot read the job file: " + std::strerror(errno));
        return result;
    }
    context.file_mode = static_cast<unsigned>(st.st_mode & 07777);
    std::ostringstream text;
    text << in.rdbuf();
    return parse_job_file(text.str(), context);
}

} // namespace mf::cli
