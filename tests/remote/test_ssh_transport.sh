#!/usr/bin/env bash
# The plain-SSH transport against a real OpenSSH server on 127.0.0.1 (throwaway keys, random port):
# status, ssh -- CMD, key-only authentication (a wrong key and a changed host key are refused
# without prompting), provision copying the working tree (and only it), and run refusing to
# copy anything when titanic_train is not built on the remote. Needs no titanic_train.
# KEEL_REMOTE_TEST_BUILD=1 also runs provision's build (cmake --preset default) over SSH.
set -u
# shellcheck source=tests/remote/lib.sh
source "$(dirname "$0")/lib.sh"

start_sshd
ssh_flags
unset KEEL_REMOTE_INSTANCE KEEL_REMOTE_ZONE KEEL_REMOTE_HOST KEEL_REMOTE_DIR KEEL_REMOTE_SHUTDOWN_AFTER
R=$TMP/remote
mkdir -p "$R"

echo "ssh -- CMD"
rc=0
"$KR" ssh "${SSH_ARGS[@]}" -- echo "hello from" "\$HOSTNAME-free text" </dev/null >"$TMP/ssh.out" 2>"$TMP/ssh.err" || rc=$?
check "exit 0" eq "$rc" 0
check "the command ran remotely with its words intact" eq "$(cat "$TMP/ssh.out")" "hello from \$HOSTNAME-free text"
check "the server accepted the key" has_text "$SSHD_LOG" "Accepted publickey for $SSH_USER"
rc=0
"$KR" ssh "${SSH_ARGS[@]}" -- sh -c 'exit 7' </dev/null >/dev/null 2>&1 || rc=$?
check "the remote exit code comes back" eq "$rc" 7

echo "status"
rc=0
"$KR" status "${SSH_ARGS[@]}" --remote-dir "$R" >"$TMP/status.out" 2>&1 || rc=$?
check "exit 0" eq "$rc" 0
check "reachable" has_line "$TMP/status.out" "reachable over SSH"
check "titanic_train not built in an empty remote dir" has_line "$TMP/status.out" "titanic_train: not built"

echo "keys only"
ssh-keygen -q -t ed25519 -N '' -C other -f "$TMP/other_key"
rc=0
t0=$SECONDS
"$KR" status --host "$SSH_USER@127.0.0.1" --port "$SSHD_PORT" --identity "$TMP/other_key" \
  --known-hosts "$KNOWN_HOSTS" </dev/null >"$TMP/wrongkey.out" 2>&1 || rc=$?
check "an unknown key is refused (exit 1)" eq "$rc" 1
check "without waiting for a password prompt" test $((SECONDS - t0)) -le 20
check "ssh reports the refusal" has_text "$TMP/wrongkey.out" "Permission denied (publickey)"
ssh-keygen -q -t ed25519 -N '' -C impostor -f "$TMP/impostor_host"
printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$TMP/impostor_host.pub")" >"$TMP/bad_known_hosts"
rc=0
"$KR" ssh --host "$SSH_USER@127.0.0.1" --port "$SSHD_PORT" --identity "$SSH_KEY" \
  --known-hosts "$TMP/bad_known_hosts" -- true </dev/null >"$TMP/badhost.out" 2>&1 || rc=$?
check "a changed host key is refused" eq "$rc" 255
check "ssh says the host key failed" has_text "$TMP/badhost.out" "Host key verification failed"

echo "provision --no-deps --no-build"
git_files() {
  (cd "$REPO" && git ls-files --cached --others --exclude-standard | while IFS= read -r f; do
    [ -f "$f" ] && printf '%s\n' "$f"
  done | sort)
}
git_files >"$TMP/files.before"
rc=0
"$KR" provision "${SSH_ARGS[@]}" --remote-dir "$R" --no-deps --no-build >"$TMP/prov.out" 2>&1 || rc=$?
git_files >"$TMP/files.after"
(cd "$R/repo" && find . -type f | sed 's|^\./||' | sort) >"$TMP/files.remote"
# The working tree is shared with others: a file added or removed meanwhile may explain a difference.
# shellcheck disable=SC2317  # called through check
same_files() { cmp -s "$TMP/files.remote" "$TMP/files.before" || cmp -s "$TMP/files.remote" "$TMP/files.after" \
  || { diff "$TMP/files.before" "$TMP/files.remote" | head -n 5; return 1; }; }
check "exit 0" eq "$rc" 0
check "CMakeLists.txt copied" cmp -s "$REPO/CMakeLists.txt" "$R/repo/CMakeLists.txt"
check "scripts/keel-remote copied" cmp -s "$KR" "$R/repo/scripts/keel-remote"
check "this test copied" cmp -s "$0" "$R/repo/tests/remote/test_ssh_transport.sh"
check "the file set is git's (tracked + new, not ignored)" same_files
check "ignored build folders not copied" eq "$(find "$R/repo" -maxdepth 1 \( -name 'build*' -o -name 'out*' \) | wc -l)" 0
check "no .git copied" test ! -e "$R/repo/.git"
check "the tarball was removed" test ! -e "$R/keel-src.tar.gz"
# A second provision replaces the tree (a file deleted here goes there too) but keeps build/.
mkdir -p "$R/repo/build/bin"
echo kept >"$R/repo/build/bin/marker"
echo stale >"$R/repo/stale-file.txt"
rc=0
"$KR" provision "${SSH_ARGS[@]}" --remote-dir "$R" --no-deps --no-build >"$TMP/prov2.out" 2>&1 || rc=$?
check "again: exit 0" eq "$rc" 0
check "again: stale files are gone" test ! -e "$R/repo/stale-file.txt"
check "again: the build folder is kept" has_text "$R/repo/build/bin/marker" kept
check "plain SSH host is not powered off" lacks_text "$TMP/prov2.out" "shutdown"

if [ "${KEEL_REMOTE_TEST_BUILD:-0}" = 1 ]; then
  echo "provision with the build (KEEL_REMOTE_TEST_BUILD=1; minutes)"
  rm -rf "$R/repo/build"
  rc=0
  "$KR" provision "${SSH_ARGS[@]}" --remote-dir "$R" --no-deps >"$TMP/build.log" 2>&1 || rc=$?
  check "exit 0" eq "$rc" 0
  check "titanic_train built there" test -x "$R/repo/build/bin/titanic_train"
  check "its version was printed" grep -q '^titanic_train .*keel' "$TMP/build.log"
  rc=0
  "$KR" status "${SSH_ARGS[@]}" --remote-dir "$R" >"$TMP/status2.out" 2>&1 || rc=$?
  check "status sees it" has_line "$TMP/status2.out" "titanic_train: built"
  [ "$rc" = 0 ] || tail -n 30 "$TMP/build.log"
else
  note "provision's build step not run (KEEL_REMOTE_TEST_BUILD=1 runs it: a full keel build)"
fi

echo "run without titanic_train on the remote"
mkdir -p "$TMP/data" "$TMP/emptybin"
printf 'PassengerId,Survived\r\n' >"$TMP/data/train.csv"
printf 'PassengerId\r\n' >"$TMP/data/test.csv"
printf 'model: x\n' >"$TMP/cfg.yaml"
rc=0
"$KR" run "${SSH_ARGS[@]}" --remote-dir "$R" --remote-bin "$TMP/emptybin" --config "$TMP/cfg.yaml" \
  --data "$TMP/data" --out "$TMP/out" --run-id nobin >"$TMP/nobin.out" 2>&1 || rc=$?
check "exit 2" eq "$rc" 2
check "says how to fix it" has_text "$TMP/nobin.out" "titanic_train not found at $TMP/emptybin/titanic_train on the remote: run scripts/keel-remote provision"
check "no data copied" test ! -e "$R/data"
check "no local out folder" test ! -e "$TMP/out"

echo "no secrets in what keel-remote printed"
check "no private key material" eq "$(cat "$TMP"/*.out | grep -c 'PRIVATE KEY')" 0

finish
