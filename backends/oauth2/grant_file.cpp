#include "backends/oauth2/grant_file.h"

#include "backends/common/fs.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <sys/stat.h>

namespace mf::oauth2 {

namespace {

using json = nlohmann::json;

std::string text(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string parent_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

} // namespace

Result<std::string> default_grant_path(const std::string& config, const std::string& provider,
                                       const std::string& user) {
    if (user.empty() || user.front() == '.' || user.find_first_of("/\\") != std::string::npos ||
        user.find('\0') != std::string::npos)
        return fail(ErrorKind::usage, Scope::account,
                    "the account '" + user +
                        "' cannot name a token file; give --oauth2-token-file PATH");
    return config + "/mailferry/oauth2/" + provider + "-" + user + ".json";
}

Result<Grant> load_grant(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT)
            return fail(ErrorKind::not_found, Scope::account,
                        "no OAuth2 login is stored in " + path);
        return fail(ErrorKind::local_io, Scope::account,
                    "cannot read " + path + ": " + std::strerror(errno));
    }
    if ((st.st_mode & 077) != 0)
        return fail(ErrorKind::usage, Scope::account,
                    "OAuth2 token file " + path +
                        " is readable by group or others; run: chmod 600 " + path);
    json j = json::parse(fs::read_small_file(path), nullptr, false);
    Grant g;
    if (j.is_object()) {
        g.provider = text(j, "provider");
        g.user = text(j, "user");
        g.refresh_token = text(j, "refresh_token");
        g.client_id = text(j, "client_id");
        g.token_url = text(j, "token_url");
        g.scope = text(j, "scope");
    }
    if (g.refresh_token.empty())
        return fail(ErrorKind::usage, Scope::account,
                    "OAuth2 token file " + path + " holds no refresh token");
    return g;
}

Status save_grant(const std::string& path, const Grant& g) {
    const std::string dir = parent_of(path);
    if (auto s = fs::make_dirs(dir); !s) return s;
    json j{{"provider", g.provider},           {"user", g.user},
           {"refresh_token", g.refresh_token}, {"client_id", g.client_id},
           {"token_url", g.token_url},         {"scope", g.scope}};
    return fs::replace_file(path, j.dump(2) + "\n", 0600);
}

} // namespace mf::oauth2
