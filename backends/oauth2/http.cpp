#include "backends/oauth2/http.h"

#include <curl/curl.h>

#include <memory>

namespace mf::oauth2 {

namespace {

// Enough for any token answer; a server that sends more is not one.
constexpr std::size_t k_max_body = 1 << 20;

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* body = static_cast<std::string*>(user);
    if (body->size() + size * count > k_max_body) return 0;
    body->append(data, size * count);
    return size * count;
}

Failure failed(CURLcode code, const std::string& url, const char* detail) {
    ErrorKind kind = code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CONNECT_ERROR
                         ? ErrorKind::tls
                         : ErrorKind::connect;
    std::string why = detail[0] ? detail : curl_easy_strerror(code);
    return Failure{kind, Scope::session, "cannot reach the OAuth2 server " + url + ": " + why};
}

Result<HttpReply> post(const std::string& url, const std::string& form, int timeout_seconds) {
    std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) return fail(ErrorKind::local_io, Scope::account, "cannot initialise libcurl");
    CURL* c = curl.get();
    char error[CURL_ERROR_SIZE] = "";
    HttpReply reply;
    std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(
        curl_slist_append(nullptr, "Accept: application/json"), curl_slist_free_all);
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, form.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(form.size()));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(timeout_seconds));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    // A redirect would resend the form (and its secrets) elsewhere.
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "mailferry");
    CURLcode code = curl_easy_perform(c);
    if (code != CURLE_OK) return std::unexpected(failed(code, url, error));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
    // OAuth2 errors come as 4xx with a JSON body (RFC 6749 5.2); a 5xx is the
    // server's trouble, worth a new try later like a lost connection.
    if (reply.status >= 500)
        return fail(ErrorKind::connect, Scope::session,
                    "the OAuth2 server " + url + " answered HTTP " + std::to_string(reply.status));
    return reply;
}

} // namespace

HttpPost curl_post(int timeout_seconds) {
    return [timeout_seconds](const std::string& url, const std::string& form) {
        return post(url, form, timeout_seconds);
    };
}

} // namespace mf::oauth2
