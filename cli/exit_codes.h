// Exit codes, one per failure class, so cron jobs and monitoring can tell
// what went wrong without parsing text. Documented in man/mailferry.1.
#pragma once

#include "sync/result.h"

namespace mf::cli {

enum ExitCode : int {
    exit_ok = 0,
    exit_partial =
        1,          // the run finished, but some folders or messages failed (run: some job failed)
    exit_usage = 2, // bad command line, URL, job file, password file or variable; mirror guard
    exit_connect = 3, // cannot reach the server, or it dropped the connection
    exit_tls = 4,     // TLS handshake, certificate, or missing STARTTLS
    exit_auth = 5,    // the server refused the login, or a password/token command failed
    exit_locked =
        6, // the archive is in use by another run (run: so is the job file, or every job's archive)
    exit_protocol = 7, // the server said something mailferry cannot accept
    exit_local_io = 8, // the archive or the disk failed
};

int exit_code_for(ErrorKind kind);

} // namespace mf::cli
