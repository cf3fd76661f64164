#include "backends/net/connection_impl.h"

#include <dirent.h>

#include <memory>
#include <mutex>
#include <string_view>

// GnuTLS initialises itself in its library constructor, before main, unless
// the program defines this function: GnuTLS's own opt-out (the
// GNUTLS_SKIP_GLOBAL_INIT macro of <gnutls/gnutls.h>). mailferry never uses
// GnuTLS; Debian's libcurl only drags it in through libldap and librtmp,
// which call gnutls_global_init() themselves if they ever need it. Skipping
// the implicit initialisation saves resident memory in every run
// (measured: tests/bench/README.md).
extern "C" int _gnutls_global_init_skip(void);
extern "C" int _gnutls_global_init_skip(void) {
    return 1;
}

namespace mf::net {

namespace {

// True if `dir` holds OpenSSL's hash links ("5ad8a5d6.0"): a CA directory
// that update-ca-certificates or c_rehash has prepared.
bool has_hash_links(const char* dir) {
    std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir), closedir);
    if (!d) return false;
    while (const dirent* e = readdir(d.get())) {
        std::string_view name = e->d_name;
        if (name.size() == 10 && name.substr(8) == ".0" &&
            name.substr(0, 8).find_first_not_of("0123456789abcdef") == std::string_view::npos)
            return true;
    }
    return false;
}

// Set once by global_init: libcurl's built-in CA directory is usable, so
// set_options may leave out the built-in CA bundle (see there why).
bool g_ca_directory_only = false;

std::string url_for(const Endpoint& e) {
    std::string host = e.host.find(':') != std::string::npos ? '[' + e.host + ']' : e.host;
    return e.scheme() + "://" + host + ':' + std::to_string(e.port) + '/';
}

} // namespace

void global_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        curl_global_init(CURL_GLOBAL_DEFAULT);
#if LIBCURL_VERSION_NUM >= 0x075400 // CURLINFO_CAPATH: 7.84
        if (CURL* probe = curl_easy_init()) {
            char* dir = nullptr;
            g_ca_directory_only = curl_easy_getinfo(probe, CURLINFO_CAPATH, &dir) == CURLE_OK &&
                                  dir && has_hash_links(dir);
            curl_easy_cleanup(probe);
        }
#endif
    });
}

void set_options(Connection::Impl& impl, const char* login_options) {
    CURL* c = impl.curl;
    const Endpoint& e = impl.endpoint;
    curl_easy_setopt(c, CURLOPT_URL, url_for(e).c_str());
    curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, impl.error);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(e.timeout_seconds));
    // A connection that is idle for a while (the source while a large APPEND
    // goes to the target, a back-off) must survive NAT and firewall idle
    // timers, and a peer that vanished must be noticed by the kernel too.
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 60L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 20L);
    // Verbose output goes only to our callback: it tells the TLS version.
    curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(c, CURLOPT_DEBUGDATA, &impl);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &impl);
    if (e.tls == TlsMode::starttls)
        curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    if (e.tls == TlsMode::starttls_optional)
        curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
    if (!e.cacert.empty()) {
        curl_easy_setopt(c, CURLOPT_CAINFO, e.cacert.c_str());
    } else if (g_ca_directory_only) {
        // Debian's libcurl trusts both the bundle ca-certificates.crt and the
        // directory /etc/ssl/certs, which update-ca-certificates fills with
        // the same certificates. Given the bundle, OpenSSL parses all of
        // them for every connection (resident memory for each, and per
        // parallel connection; measured: tests/bench/README.md); from the
        // directory it reads only those a server's chain names, looked up
        // by hash. libcurl 7.88 cannot share one store between easy handles
        // (its CA cache lives in each handle's own multi).
        curl_easy_setopt(c, CURLOPT_CAINFO, static_cast<char*>(nullptr));
    }
    if (e.insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(c, CURLOPT_USERNAME, e.user.c_str());
    curl_easy_setopt(c, CURLOPT_LOGIN_OPTIONS, login_options); // nullptr: libcurl's choice
    if (e.oauth2_token) {
        curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, impl.token.c_str());
    } else if (e.password) {
        impl.password = e.password();
        curl_easy_setopt(c, CURLOPT_PASSWORD, impl.password.c_str());
    }
}

} // namespace mf::net
