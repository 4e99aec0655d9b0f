#!/usr/bin/env bash
# keel-remote run over plain SSH, for real: an OpenSSH server on 127.0.0.1 plays the GPU machine,
# keel-remote syncs the Kaggle data and the flagship config into a temp "remote" folder, runs the
# repository's own titanic_train there over SSH, and fetches the out folder back; submission.csv
# must arrive with its header and 418 rows.
#
# Environment: KEEL_BIN_DIR (folder with titanic_train; default build/bin), KEEL_DATA_DIR (the Kaggle
# CSVs), KEEL_REMOTE_TEST_CONFIG (default configs/cnn.yaml, else configs/small_cnn.yaml), KEEL_REMOTE_TEST_SET (space-separated
# key=value overrides, default train.epochs=2), KEEL_REMOTE_REQUIRE_TRAIN=1 turns the "not built yet" skip into a failure.
set -u
# shellcheck source=tests/remote/lib.sh
source "$(dirname "$0")/lib.sh"

BIN_DIR=${KEEL_BIN_DIR:-$REPO/build/bin}
BIN_DIR=${BIN_DIR%/}
if [ ! -e "$BIN_DIR/titanic_train" ]; then
  if [ "${KEEL_REMOTE_REQUIRE_TRAIN:-0}" = 1 ]; then
    printf 'FAIL %s: %s/titanic_train does not exist (KEEL_REMOTE_REQUIRE_TRAIN=1)\n' "$TEST_NAME" "$BIN_DIR"
    exit 1
  fi
  skip "$BIN_DIR/titanic_train is not built yet (issue 4); build it, or set KEEL_BIN_DIR"
fi
# From here on, anything missing is a failure: the program exists, so this test must run.
CONFIG=${KEEL_REMOTE_TEST_CONFIG:-$REPO/configs/cnn.yaml}
if [ -z "${KEEL_REMOTE_TEST_CONFIG:-}" ] && [ ! -f "$CONFIG" ] && [ -f "$REPO/configs/small_cnn.yaml" ]; then
  note "configs/cnn.yaml not there yet: using configs/small_cnn.yaml"
  CONFIG=$REPO/configs/small_cnn.yaml
fi
DATA=${KEEL_DATA_DIR:-$REPO/data/titanic}
check "titanic_train is executable" test -x "$BIN_DIR/titanic_train"
check "the flagship config exists ($CONFIG)" test -f "$CONFIG"
check "the Kaggle data exists ($DATA)" test -f "$DATA/train.csv" -a -f "$DATA/test.csv"
[ "$FAILED" = 0 ] || finish

start_sshd
ssh_flags
unset KEEL_REMOTE_INSTANCE KEEL_REMOTE_ZONE KEEL_REMOTE_HOST KEEL_REMOTE_DIR KEEL_REMOTE_SHUTDOWN_AFTER
R=$TMP/remote
OUT=$TMP/out
SETS=()
# Short by default; KEEL_REMOTE_TEST_SET= (empty) runs the config as it is.
for kv in ${KEEL_REMOTE_TEST_SET-train.epochs=2}; do SETS+=(--set "$kv"); done

echo "run over SSH"
rc=0
t0=$SECONDS
timeout 900 "$KR" run "${SSH_ARGS[@]}" --remote-dir "$R" --remote-bin "$BIN_DIR" --config "$CONFIG" \
  --data "$DATA" --out "$OUT" --run-id ssh-run ${SETS[@]+"${SETS[@]}"} </dev/null >"$TMP/run.out" 2>&1 || rc=$?
note "took $((SECONDS - t0)) s"
check "exit 0" eq "$rc" 0
[ "$rc" = 0 ] || sed 's/^/    | /' "$TMP/run.out" | tail -n 40

S=$OUT/submission.csv
check "submission.csv came back" test -f "$S"
check "header PassengerId,Survived" eq "$(head -n1 "$S" 2>/dev/null | tr -d '\r')" "PassengerId,Survived"
check "418 rows" eq "$(tail -n +2 "$S" 2>/dev/null | grep -c .)" 418
check "PassengerIds 892..1309, once each" eq \
  "$(tail -n +2 "$S" 2>/dev/null | cut -d, -f1 | tr -d '\r' | sort -n | md5sum)" "$(seq 892 1309 | md5sum)"
check "labels are 0 or 1" eq "$(tail -n +2 "$S" 2>/dev/null | cut -d, -f2 | tr -d '\r' | grep -cvx '[01]')" 0
check "it was made on the remote side (same file there)" cmp -s "$S" "$R/runs/ssh-run/out/submission.csv"
check "the whole out folder came back" diff -r "$R/runs/ssh-run/out" "$OUT"
check "the data was synced to the remote" cmp -s "$DATA/train.csv" "$R/data/train.csv"
check "the config was synced to the remote" cmp -s "$CONFIG" "$R/runs/ssh-run/$(basename "$CONFIG")"
check "no staging folder left" test ! -e "$OUT.partial"
check "it went through sshd with the key" has_text "$SSHD_LOG" "Accepted publickey for $SSH_USER"
check "the cost is reported" has_text "$TMP/run.out" "estimated cost"
check "no private key material in the output or results" \
  eq "$(grep -c 'PRIVATE KEY' "$TMP/run.out"):$(grep -rl 'PRIVATE KEY' "$OUT" 2>/dev/null | wc -l)" "0:0"

echo "Ctrl-C during the run"
# The remote titanic_train must get the SIGINT, save a checkpoint and exit 130; the checkpoint
# comes back and keel-remote exits 130 too.
OUT2=$TMP/out-interrupted
set -m
"$KR" run "${SSH_ARGS[@]}" --remote-dir "$R" --remote-bin "$BIN_DIR" --config "$CONFIG" \
  --data "$DATA" --out "$OUT2" --run-id ssh-int --set train.epochs=1000 </dev/null >"$TMP/int.out" 2>&1 &
kr_pid=$!
set +m
for _ in $(seq 1 600); do
  grep -qE '(^|model [0-9]+/[0-9]+ )epoch ' "$TMP/int.out" && break
  kill -0 "$kr_pid" 2>/dev/null || break
  sleep 0.2
done
check "training started remotely" grep -qE '(^|model [0-9]+/[0-9]+ )epoch ' "$TMP/int.out"
remote_pid=$(cat "$R/runs/ssh-int/pid" 2>/dev/null || echo 0)
check "the remote job's pid was recorded" test "$remote_pid" -gt 0
kill -INT "$kr_pid"
rc=0
wait "$kr_pid" || rc=$?
check "exit 130" eq "$rc" 130
check "the remote titanic_train is gone" bash -c "! kill -0 $remote_pid 2>/dev/null"
check "the remote job was asked to stop" has_text "$TMP/int.out" "asking the remote job to stop"
check "it stopped on the SIGINT (exit 130 there too)" has_text "$TMP/int.out" "the remote job stopped (exit 130)"
check "a checkpoint came back" test -n "$(find "$OUT2" -name '*.ckpt' 2>/dev/null | head -n1)"
[ "$rc" = 130 ] || sed 's/^/    | /' "$TMP/int.out" | tail -n 30

finish
