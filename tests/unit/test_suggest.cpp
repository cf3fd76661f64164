// "Did you mean …?" (cli/suggest.h): which typos find their word, and which
// words are too far from every known one to be offered anything.
#include "cli/suggest.h"

#include <doctest/doctest.h>

using namespace mf::cli;

TEST_CASE("suggest: edit distance counts inserts, deletes, replacements and swaps") {
    CHECK(edit_distance("backup", "backup") == 0);
    CHECK(edit_distance("bakup", "backup") == 1);   // a letter left out
    CHECK(edit_distance("backupp", "backup") == 1); // one too many
    CHECK(edit_distance("bxckup", "backup") == 1);  // one wrong
    CHECK(edit_distance("bakcup", "backup") == 1);  // two swapped
    CHECK(edit_distance("", "run") == 3);
    CHECK(edit_distance("status", "") == 6);
    CHECK(edit_distance("restore", "mirror") == 5);
}

TEST_CASE("suggest: the nearest command or option, if it is near enough") {
    const std::vector<std::string> commands{"check",  "backup", "migrate", "restore", "mirror",
                                            "status", "verify", "run",     "login"};
    CHECK(closest("bakup", commands) == "backup");
    CHECK(closest("stauts", commands) == "status");
    CHECK(closest("restor", commands) == "restore");
    CHECK(closest("rn", commands) == "run");
    CHECK_FALSE(closest("frobnicate", commands));
    CHECK_FALSE(closest("xyz", commands));
    const std::vector<std::string> options{"--password-env", "--password-file", "--timeout"};
    CHECK(closest("--pasword-env", options) == "--password-env");
    CHECK(closest("--password-fil", options) == "--password-file");
    CHECK(closest("--timout", options) == "--timeout");
    CHECK_FALSE(closest("--verbose", options));
}
