#include "cli/app.h"

int main(int argc, char** argv) { return mf::cli::run_app(argc, argv); }
