#include "cli/exit_codes.h"

namespace mf::cli {

int exit_code_for(ErrorKind kind) {
    switch (kind) {
    case ErrorKind::usage:
        return exit_usage;
    case ErrorKind::connect:
        return exit_connect;
    case ErrorKind::tls:
        return exit_tls;
    case ErrorKind::auth:
        return exit_auth;
    case ErrorKind::locked:
        return exit_locked;
    case ErrorKind::protocol:
        return exit_protocol;
    case ErrorKind::local_io:
        return exit_local_io;
    case ErrorKind::not_found:
        return exit_partial;
    }
    return exit_partial;
}

} // namespace mf::cli
