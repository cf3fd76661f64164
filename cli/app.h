#pragma once

namespace mf::cli {
int run_app(int argc, char** argv);
}
