#include "cli/app.h"

#include <CLI/CLI.hpp>

namespace mf::cli {
int run_app(int argc, char** argv) {
    CLI::App app{"mailferry: back up, mirror and migrate mail"};
    CLI11_PARSE(app, argc, argv);
    return 0;
}
} // namespace mf::cli
