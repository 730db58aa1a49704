#!/usr/bin/env bash
# The machine services the tests use, from Debian's packages: MariaDB (the database provider's
# tests; the e2e lab runs its own in a host), debootstrap (the e2e test hosts' roots), shellcheck (the rendered scripts' lint) and OpenSSH (the keys the tests
# make; the sshd the provider tests start on loopback, never the machine's own). Installs what is missing and
# starts what is stopped; run by `./dev test` before pytest, a no-op where all is up.
# Needs root for the install; without it, says what is missing and leaves the tests to skip (or,
# under NOVA_TESTS_REQUIRE_SERVICES=1, fail) with the reason.
# Says each install and start and the time it took on stderr; with NOVA_QUIET=1 (`./dev --quiet
# test`) only what went wrong (apt-get's and the init scripts' output then shown only on failure).
set -euo pipefail

quiet=${NOVA_QUIET:-0}
say() { [ "$quiet" = 1 ] || echo "test services: $*" >&2; }
# step WHAT COMMAND...: run COMMAND, then say WHAT and its time; its output on stderr, or, under
# quiet, kept back and shown only when it fails (a failure must say why)
step() {
  local what=$1 started=$SECONDS status=0 log
  shift
  say "$what ..."
  if [ "$quiet" = 1 ]; then
    log=$(mktemp)
    "$@" >"$log" 2>&1 || status=$?
    [ "$status" = 0 ] || cat "$log" >&2
    rm -f "$log"
  else
    "$@" >&2 || status=$?
  fi
  [ "$status" = 0 ] || { echo "test services: $what failed (exit $status)" >&2; return "$status"; }
  say "$what: done in $((SECONDS - started)) s"
}
# Sourced (tests/test_dev_cli.py, for what `step` prints), it defines the above and runs nothing.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then return 0; fi

packages=()
command -v mariadb >/dev/null || packages+=(mariadb-server)
command -v debootstrap >/dev/null || packages+=(debootstrap)
command -v shellcheck >/dev/null || packages+=(shellcheck)
command -v ssh-keygen >/dev/null || packages+=(openssh-client)
[ -x /usr/sbin/sshd ] || packages+=(openssh-server)  # the command provider's tests reach an sshd on loopback

if [ "${#packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test services: missing ${packages[*]} (install them as root: apt-get install ${packages[*]})" >&2
    exit 0
  fi
  step "apt-get update" apt-get update -q
  # Installing must not start anything through the image's policy-rc.d; this script starts them.
  step "installing ${packages[*]} (Debian's packages)" \
    env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
fi

wait_for() {  # wait_for SECONDS WHAT COMMAND...: poll COMMAND until it succeeds
  local seconds=$1 what=$2; shift 2
  for _ in $(seq 1 "$seconds"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  echo "test services: $what did not come up within ${seconds}s" >&2
  return 1
}

start_and_wait() {  # start_and_wait SECONDS WHAT INIT_SCRIPT -- COMMAND...: start it, wait for COMMAND
  local seconds=$1 what=$2 init=$3
  shift 4
  "$init" start && wait_for "$seconds" "$what" "$@"
}

if [ "$(id -u)" -eq 0 ]; then
  if ! mariadb -uroot -e 'SELECT 1' >/dev/null 2>&1; then
    step "starting MariaDB" start_and_wait 30 MariaDB /etc/init.d/mariadb -- mariadb -uroot -e 'SELECT 1'
  fi
  # The tests log in as root over TCP on loopback (as the database provider does), while Debian's
  # root@localhost authenticates by unix socket only: let it also log in without a password. The
  # server listens on 127.0.0.1 only (Debian's default bind-address).
  if ! mariadb -uroot -h127.0.0.1 --protocol=tcp -e 'SELECT 1' >/dev/null 2>&1; then
    say "letting MariaDB's root log in over loopback TCP"
    mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')"
  fi
fi
