#!/usr/bin/env bash
# Installs Cyrus IMAP 3.6 and Courier-IMAP 5, Debian 12's packages, as private
# test servers for tests/e2e/test_servers.py (harness: tests/e2e/servers.py).
#
# Both conflict with dovecot-imapd/-pop3d (all provide imap-server), which the
# rest of the suite needs, so they are not installed as packages: their .debs
# are fetched with `apt-get download` and unpacked with `dpkg -x` into
#   $MAILFERRY_TEST_SERVERS (default /opt/mailferry-test)/cyrus
#   $MAILFERRY_TEST_SERVERS/courier
# No maintainer script runs, no service is started, nothing lands in /etc.
# The shared libraries they need that conflict with nothing (libical3,
# libxapian30, libidn12, ...) and sasl2-bin (saslpasswd2, for Cyrus's private
# sasldb) are installed with apt-get as usual.  The system users `cyrus` and
# `courier` (the servers drop to them; the names are compiled in) are created
# if absent.
#
# Idempotent and quick when done already (the stamp file $prefix/.installed
# names the .debs unpacked and the packages installed; remove it to redo).
# Run as root.  Called by tests/install-deps.sh.
set -euo pipefail

prefix=${MAILFERRY_TEST_SERVERS:-/opt/mailferry-test}
cyrus_debs=(cyrus-imapd cyrus-common)
# (Not courier-authdaemon: the harness answers authdaemond's protocol itself.)
courier_debs=(courier-imap courier-base courier-authlib libcourier-unicode4)
# Not wanted from the Depends of the unpacked packages: the unpacked ones
# themselves, and tools and services the private servers do not use.
skip_re='^(cyrus-|courier-|libcourier-unicode4$|default-mta$|mail-transport-agent$|debconf|adduser$|lsb-base$|init-system-helpers$|sysvinit-utils$|init-d-script$|gamin$|gnutls-bin$|db-util$|e2fsprogs$|gawk$|netbase$|perl)'
extra=(sasl2-bin)               # saslpasswd2 -f PRIVATE-SASLDB

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# Quick path: both trees unpacked (the stamp is written last), the user and
# the libraries there.  One dpkg-query; no apt-cache (slow), no network.
stamp=$prefix/.installed
if [ -f "$stamp" ] && [ -x "$prefix/cyrus/usr/lib/cyrus/bin/master" ] \
   && [ -f "$prefix/courier/mf-lib/libcourierauth.so.0" ] && id cyrus >/dev/null 2>&1 \
   && id courier >/dev/null 2>&1; then
  mapfile -t libs < <(sed -n 's/^lib //p' "$stamp")
  if [ ${#libs[@]} -gt 0 ] && [ "$(dpkg-query -W -f='${Status}\n' "${libs[@]}" 2>/dev/null |
                                   grep -c 'install ok installed')" -eq ${#libs[@]} ]; then
    exit 0
  fi
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-servers: need root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive

# A fresh machine has no package lists: `apt-get download` would not know the
# packages.  Update when they are unknown (or the lists are missing).
if ! apt-cache policy cyrus-imapd 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  apt-get update -qq
fi

work=$(mktemp -d /tmp/mf-install-servers.XXXXXX)
made_policy=0
trap 'rm -rf "$work"; [ $made_policy -eq 0 ] || rm -f /usr/sbin/policy-rc.d' EXIT

cd "$work"                     # apt-get download writes into the current directory
# (apt warns that its sandbox user cannot reach root's temporary directory
# and downloads as root: harmless.)
# Lists older than the mirror (a version superseded by a security update)
# fail here: update them once and try again.
if ! apt-get download -qq "${cyrus_debs[@]}" "${courier_debs[@]}" >/dev/null 2>&1; then
  apt-get update -qq
  apt-get download -q "${cyrus_debs[@]}" "${courier_debs[@]}"
fi

# Libraries and tools from the Depends fields (first alternative of each).
deps=$(for d in ./*.deb; do dpkg-deb -f "$d" Depends; done | tr ',' '\n' |
       sed -E 's/^ *//; s/ *\|.*//; s/ *\(.*//; s/:any$//' | grep -v '^$' |
       grep -Ev "$skip_re" | sort -u)
need=()
for p in $deps "${extra[@]}"; do installed "$p" || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  # Keep any service (saslauthd) from starting.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  echo "install-servers: installed ${need[*]}" >&2
fi

unpack() {   # unpack DIR PACKAGE...: a fresh tree, swapped in whole
  local dir=$1; shift
  rm -rf "$dir.new"
  mkdir -p "$dir.new"
  local p
  for p in "$@"; do dpkg -x "$(ls ./"${p}"_*.deb)" "$dir.new"; done
  rm -rf "$dir"
  mv "$dir.new" "$dir"
}
mkdir -p "$prefix"
unpack "$prefix/cyrus" "${cyrus_debs[@]}"
unpack "$prefix/courier" "${courier_debs[@]}"

# Courier's login process finds authdaemond at a compiled-in path,
# /run/courier/authdaemon/socket.  A copy of libcourierauth (in mf-lib/, put
# first on LD_LIBRARY_PATH by the harness) is patched to look for
# ./mf-courier-authdaemon.sock instead, relative to the working directory
# the harness starts couriertcpd in (its private directory), so each test
# server has its own authentication daemon and nothing lives in /run.  GCC
# builds the path with two overlapping 16-byte stores (bytes 0-15 and 15-30),
# so .rodata holds "/run/courier/aut" + "thdaemon/socket\0"; the patch
# writes the new path the same way.
# (perl, not python3: perl-base is on every Debian system, and this script
# may run before install-deps.sh has installed python3.)
mkdir -p "$prefix/courier/mf-lib"
perl -e '
  my ($src, $dst) = @ARGV;
  open(my $in, "<:raw", $src) or die "$src: $!";
  local $/; my $data = <$in>; close $in;
  my $old = "/run/courier/authdaemon/socket\0";
  my $stored = substr($old, 0, 16) . substr($old, 15, 16);
  my $at = index($data, $stored);
  die "libcourierauth: the socket path is not where expected\n"
    if $at < 0 || index($data, $stored, $at + 1) >= 0;
  my $new = "./mf-courier-authdaemon.sock";
  $new .= "\0" x (31 - length $new);
  substr($data, $at, 32) = substr($new, 0, 16) . substr($new, 15, 16);
  open(my $out, ">:raw", "$dst.new") or die "$dst: $!";
  print $out $data; close $out or die "$dst: $!";
  rename "$dst.new", $dst or die "$dst: $!";
' "$prefix/courier/usr/lib/libcourierauth.so.0.0.0" "$prefix/courier/mf-lib/libcourierauth.so.0"

# Cyrus's master drops to the compiled-in user `cyrus` (Debian: group mail);
# couriertls drops to the compiled-in user `courier`.
if ! id cyrus >/dev/null 2>&1; then
  useradd --system --gid mail --home-dir /nonexistent --no-create-home \
          --shell /usr/sbin/nologin cyrus
fi
if ! id courier >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /nonexistent --no-create-home \
          --shell /usr/sbin/nologin courier
fi

{ for d in ./*.deb; do echo "deb $(basename "$d")"; done
  printf 'lib %s\n' $deps "${extra[@]}"; } > "$stamp"
echo "install-servers: Cyrus and Courier unpacked under $prefix" >&2
