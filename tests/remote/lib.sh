# Shared helpers for the scripts/keel-remote tests: checks, a temp folder, and a throwaway OpenSSH
# server on 127.0.0.1 (own host key, own client key, own config) that is killed when a test ends.
# shellcheck shell=bash

TEST_NAME=$(basename "$0" .sh)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC2034  # used by the tests that source this file
KR=$REPO/scripts/keel-remote
FAILED=0
CHECKS=0
CLEANUPS=()

# Exit status for "skipped", as automake and CTest (SKIP_RETURN_CODE) read it.
SKIP_CODE=77

note() { printf '  %s\n' "$*"; }

check() {
  # check "what" COMMAND...: one assertion; COMMAND's status decides.
  local what=$1
  shift
  CHECKS=$((CHECKS + 1))
  if "$@"; then
    printf '  ok   %s\n' "$what"
  else
    printf '  FAIL %s\n' "$what"
    FAILED=$((FAILED + 1))
  fi
}

# Helpers for check.
eq() { [ "$1" = "$2" ] || { printf '       expected [%s], got [%s]\n' "$2" "$1"; return 1; }; }
has_line() { grep -qxF -- "$2" "$1" || { printf '       no line [%s] in %s\n' "$2" "$1"; return 1; }; }
has_text() { grep -qF -- "$2" "$1" || { printf '       no [%s] in %s\n' "$2" "$1"; return 1; }; }
lacks_text() { ! grep -qF -- "$2" "$1" || { printf '       unexpected [%s] in %s\n' "$2" "$1"; return 1; }; }
# in_order FILE A B C ...: A appears on some line, B on a later one, C later still, ...
in_order() {
  local file=$1 prev=0 n text
  shift
  for text in "$@"; do
    n=$(grep -nF -- "$text" "$file" | cut -d: -f1 | awk -v p="$prev" '$1 > p { print; exit }')
    if [ -z "$n" ]; then printf '       [%s] not found after line %s of %s\n' "$text" "$prev" "$file"; return 1; fi
    prev=$n
  done
}

on_cleanup() { CLEANUPS+=("$1"); }
run_cleanups() {
  local i
  for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[i]}" || true; done
}
trap run_cleanups EXIT

TMP=$(mktemp -d "${TMPDIR:-/tmp}/keel-remote-test.XXXXXX")
# KEEP_TEST_TMP=1 keeps the temp folder for a look after a failure.
# shellcheck disable=SC2016  # expanded when the cleanup runs
[ -n "${KEEP_TEST_TMP:-}" ] || on_cleanup 'rm -rf "$TMP"'

skip() {
  printf 'SKIP %s: %s\n' "$TEST_NAME" "$*"
  exit "$SKIP_CODE"
}

finish() {
  if [ "$CHECKS" = 0 ]; then
    printf 'FAIL %s: no checks ran\n' "$TEST_NAME"
    exit 1
  fi
  if [ "$FAILED" = 0 ]; then
    printf 'PASS %s (%d checks)\n' "$TEST_NAME" "$CHECKS"
    exit 0
  fi
  printf 'FAIL %s (%d of %d checks failed)\n' "$TEST_NAME" "$FAILED" "$CHECKS"
  exit 1
}

# Tiny inputs for flows where a stand-in plays the cloud: keel-remote only copies them.
make_inputs() {
  mkdir -p "$TMP/data"
  printf 'PassengerId,Survived,Pclass\r\n1,0,3\r\n' >"$TMP/data/train.csv"
  printf 'PassengerId,Pclass\r\n892,3\r\n' >"$TMP/data/test.csv"
  printf '# config copied to the VM by the test\nmodel: small_cnn\n' >"$TMP/cnn.yaml"
}

# ----------------------------------------------------------------------------------------------
# A throwaway OpenSSH server on 127.0.0.1.

find_sshd() {
  SSHD=$(command -v sshd 2>/dev/null || true)
  if [ -z "$SSHD" ] && [ -x /usr/sbin/sshd ]; then SSHD=/usr/sbin/sshd; fi
  [ -n "$SSHD" ]
}

install_sshd() {
  # Installs openssh-server if missing, without letting the package start a system-wide daemon
  # (a temporary policy-rc.d refuses service starts while the package is configured).
  find_sshd && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then return 1; fi
  local policy=/usr/sbin/policy-rc.d made_policy=0 tries=0 log=$TMP/apt.log
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  note "installing openssh-server (apt-get)"
  until DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server openssh-client >"$log" 2>&1; do
    tries=$((tries + 1))
    if grep -q 'Could not get lock' "$log" && [ "$tries" -lt 60 ]; then sleep 5; continue; fi
    if [ "$tries" = 1 ]; then apt-get update -q >>"$log" 2>&1 || true; continue; fi
    break
  done
  [ "$made_policy" = 0 ] || rm -f "$policy"
  find_sshd
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_sshd() {
  install_sshd || skip "no OpenSSH server here and it cannot be installed (needs root and apt-get): install openssh-server"
  SSH_USER=$(id -un)
  local dir=$TMP/sshd
  mkdir -p "$dir"
  chmod 700 "$dir"
  ssh-keygen -q -t ed25519 -N '' -C keel-remote-test-host -f "$dir/host_key"
  ssh-keygen -q -t ed25519 -N '' -C keel-remote-test-client -f "$dir/client_key"
  cp "$dir/client_key.pub" "$dir/authorized_keys"
  SSH_KEY=$dir/client_key
  SSHD_LOG=$dir/sshd.log
  # sshd refuses to start without its privilege-separation folder when run as root.
  if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then mkdir -p /run/sshd && chmod 755 /run/sshd; fi

  local pid i
  for _ in 1 2 3 4 5 6 7 8; do
    SSHD_PORT=$((20000 + RANDOM % 40000))
    port_in_use "$SSHD_PORT" && continue
    cat >"$dir/sshd_config" <<EOF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
AllowUsers $SSH_USER
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
PermitEmptyPasswords no
StrictModes no
UsePAM no
X11Forwarding no
AllowTcpForwarding no
PrintMotd no
LogLevel VERBOSE
Subsystem sftp internal-sftp
EOF
    : >"$SSHD_LOG"
    "$SSHD" -D -f "$dir/sshd_config" -E "$SSHD_LOG" &
    pid=$!
    for i in $(seq 1 50); do
      port_in_use "$SSHD_PORT" && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null && port_in_use "$SSHD_PORT"; then
      SSHD_PID=$pid
      # shellcheck disable=SC2016  # expanded when the cleanup runs
      on_cleanup 'kill "$SSHD_PID" 2>/dev/null; wait "$SSHD_PID" 2>/dev/null'
      KNOWN_HOSTS=$dir/known_hosts
      printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$dir/host_key.pub")" >"$KNOWN_HOSTS"
      note "sshd on 127.0.0.1:$SSHD_PORT (pid $SSHD_PID), user $SSH_USER"
      return 0
    fi
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    grep -q 'Address already in use' "$SSHD_LOG" && continue
    printf 'FAIL %s: sshd did not start:\n' "$TEST_NAME"
    sed 's/^/    /' "$SSHD_LOG"
    exit 1
  done
  printf 'FAIL %s: no free port found for sshd\n' "$TEST_NAME"
  exit 1
}

# The transport flags for the server above.
ssh_flags() {
  # shellcheck disable=SC2034  # read by the tests
  SSH_ARGS=(--host "$SSH_USER@127.0.0.1" --port "$SSHD_PORT" --identity "$SSH_KEY" --known-hosts "$KNOWN_HOSTS")
}
