# The Debian package: `cpack -G DEB` in the build directory writes
# package/mailferry_VERSION_ARCH.deb there (the Containerfile installs it).
# The binary and the man pages come from cli/CMakeLists.txt's install rules;
# the tests and fuzz targets have none, so they never reach the package.

# Everything a user can run without a checkout; the demo needs the test
# harness (tests/e2e/) and builds from source, so it stays out.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/examples/
        DESTINATION share/doc/mailferry/examples
        PATTERN "demo.*" EXCLUDE)
install(FILES ${CMAKE_SOURCE_DIR}/cmake/debian/copyright
        DESTINATION share/doc/mailferry)

set(MAILFERRY_PACKAGE_MAINTAINER "mailferry maintainers <maintainers@example.org>"
    CACHE STRING "The Maintainer field of the Debian package")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mailferry)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# The package alone in a directory: the Containerfile's build context.
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/package)
# The installed binary without its debugging sections (RelWithDebInfo).
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${MAILFERRY_PACKAGE_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "back up, mirror and migrate email (IMAP, POP3) safely and incrementally")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "${CPACK_PACKAGE_DESCRIPTION_SUMMARY}\n\
mailferry copies IMAP accounts and POP3 mailboxes into local Maildir or mbox\n\
archives without changing anything on the server, restores them, migrates\n\
and mirrors between accounts, and runs job files from cron, systemd or\n\
Kubernetes with a JSON report and Prometheus metrics.")
# Depends from what the binary links (dpkg-shlibdeps, from dpkg-dev): libc6,
# libcurl4, libsqlite3-0, libssl3; libstdc++ is linked in unless
# MAILFERRY_STATIC_LIBSTDCXX is off, and then it is found the same way.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Without a CA bundle every imaps:// and pop3s:// login fails unless
# --cacert names one; curl's package recommends it for the same reason.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS ca-certificates)

include(CPack)
