#!/usr/bin/env bash
# Installs what mailferry needs to build and test, from Debian 12's packages.
# Idempotent and quick when everything is there. Run as root.
set -euo pipefail

packages=(
  g++ cmake make pkg-config ca-certificates openssl python3
  libcurl4-openssl-dev libcli11-dev nlohmann-json3-dev doctest-dev libsqlite3-dev zlib1g-dev
  libssl-dev                    # the OpenSSL libcurl uses: read-ahead (net/connection.cpp)
  dovecot-imapd dovecot-pop3d   # the tests' own throwaway server
  clang libclang-rt-14-dev      # libFuzzer targets (tests/fuzz/run_fuzzers.sh)
  clang-format                  # the style check (tests/format_check.sh)
  strace                        # injected write/fsync/rename errors (test_disk_faults)
  dpkg-dev man-db               # the Debian package: cpack's dpkg-shlibdeps, man -w (test_package)
  debootstrap                   # the Containerfile's steps in a chroot (test_package, MAILFERRY_LONG=1)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
bash "$(dirname "${BASH_SOURCE[0]}")/install-servers.sh"   # Cyrus, Courier: unpacked, not installed (test_servers)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install: ${missing[*]}" >&2
  exit 1
fi

# Keep the packaged Dovecot from starting a system service on ports 143/993/
# 110/995: the tests start their own private servers on free ports.
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  made_policy=1
fi
trap '[ $made_policy -eq 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: installed ${missing[*]}" >&2
