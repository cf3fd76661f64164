// Connection::Impl, the libcurl handle of a net::Connection and what its
// connection phase learns, and the steps the net/ sources share over it:
// connect_setup.cpp prepares libcurl, connect_watch.cpp reads its debug
// callback, connection.cpp logs in and moves the bytes. Private to
// backends/net: it includes libcurl's and OpenSSL's headers, which no other
// folder may see (connection.h keeps them out of every other header).
#pragma once

#include "backends/net/connection.h"
#include "backends/net/progress.h"

#include <curl/curl.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace mf::net {

struct Connection::Impl {
    CURL* curl = nullptr;
    Endpoint endpoint;
    TraceSink trace;
    TlsInfo tls;
    bool in_sasl = false;                 // the client is answering SASL challenges
    SSL* ssl = nullptr;                   // OpenSSL's connection object, once TLS is up
    bool logging_in = false;              // inside curl_easy_perform
    std::vector<std::string> login_reply; // since the client's last line
    std::size_t login_reply_bytes = 0;
    char error[CURL_ERROR_SIZE] = {};
    std::string password; // held only while curl_easy_perform runs
    std::string token;
    bool login_sent = false;          // a line that begins a login went out
    std::vector<std::string> offered; // the SASL mechanisms announced last
    ProgressGuard reading, sending;   // the minimum rate (progress.h)
    // The first contact (greeting.h): whether a line came, and the protocol
    // it named if not the expected one ("" = none). Either ends the wait.
    bool greeted = false;
    std::string foreign;
    bool silent_tls_port = false;                  // gave up waiting: a TLS port, it seems
    std::chrono::steady_clock::time_point started; // curl_easy_perform began

    ~Impl() {
        if (curl) curl_easy_cleanup(curl);
        wipe();
    }
    void wipe() {
        std::fill(password.begin(), password.end(), '\0');
        std::fill(token.begin(), token.end(), '\0');
        password.clear();
        token.clear();
    }
};

// libcurl's global initialisation, once a process (connect_setup.cpp).
void global_init();
// The options of one connection and login (connect_setup.cpp), with these
// CURLOPT_LOGIN_OPTIONS; nullptr leaves the choice to libcurl.
void set_options(Connection::Impl& impl, const char* login_options);
// libcurl's CURLOPT_DEBUGFUNCTION, `user` being the Impl (connect_watch.cpp).
int on_debug(CURL* curl, curl_infotype type, char* data, size_t size, void* user);
// libcurl's CURLOPT_XFERINFOFUNCTION (connect_watch.cpp): called about once a
// second while libcurl waits, and the one way to end its connection phase
// early (a foreign greeting, a silent TLS port).
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
// What the first contact learnt about a failed connection phase, if that
// says more than libcurl's code: the wrong protocol, TLS or no TLS
// (connect_watch.cpp).
std::optional<Failure> first_contact_failure(CURLcode code, const Connection::Impl& impl);

} // namespace mf::net
