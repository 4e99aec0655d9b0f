#!/usr/bin/env bash
# Ctrl-C (SIGINT, sent as a signal and typed at a terminal), SIGTERM and SIGHUP while the remote job
# runs: with a recording gcloud stand-in whose job step sleeps, keel-remote must interrupt the
# remote job, fetch what it wrote, stop the VM, kill its local ssh child, and exit 130 (143 for
# SIGTERM, 129 for SIGHUP), promptly.
set -u
# shellcheck source=tests/remote/lib.sh
source "$(dirname "$0")/lib.sh"

make_inputs
export KEEL_STANDIN_LOG=$TMP/gcloud.calls KEEL_STANDIN_STATE=$TMP/vm.state
export PATH="$REPO/tests/remote/standin:$PATH"
export KEEL_STANDIN_RUN=sleep KEEL_REMOTE_INT_GRACE=2 KEEL_REMOTE_SSH_WAIT=0
unset KEEL_REMOTE_INSTANCE KEEL_REMOTE_ZONE KEEL_REMOTE_PROJECT KEEL_REMOTE_HOST KEEL_REMOTE_DIR \
  KEEL_REMOTE_PRICE_PER_HOUR KEEL_REMOTE_SHUTDOWN_AFTER KEEL_STANDIN_ARM KEEL_STANDIN_UPLOAD \
  KEEL_STANDIN_STOP

JOB="titanic_train --config"
STOP="gcloud compute instances stop keel-t4 --zone=us-west1-b"

interrupt_case() {
  local sig=$1 want=$2 name=$1 pid rc=0 t0 secs
  echo "$sig during the remote job"
  : >"$KEEL_STANDIN_LOG"
  echo TERMINATED >"$KEEL_STANDIN_STATE"
  export KEEL_STANDIN_PIDFILE=$TMP/$name.job.pid
  rm -f "$KEEL_STANDIN_PIDFILE"
  local output=$TMP/$name.output out=$TMP/$name.out
  # Job control on, so the background keel-remote does not start with SIGINT ignored (as a plain
  # `&` child of a script would) and receives the signal like a foreground program on Ctrl-C.
  set -m
  "$KR" run --instance keel-t4 --zone us-west1-b --config "$TMP/cnn.yaml" --data "$TMP/data" \
    --out "$out" --run-id "$name" >"$output" 2>&1 &
  pid=$!
  set +m
  for _ in $(seq 1 100); do
    [ -s "$KEEL_STANDIN_PIDFILE" ] && break
    sleep 0.1
  done
  check "the remote job step is running" test -s "$KEEL_STANDIN_PIDFILE"
  local job_pid
  job_pid=$(cat "$KEEL_STANDIN_PIDFILE" 2>/dev/null || echo 0)
  t0=$SECONDS
  kill "-$sig" "$pid"
  wait "$pid" || rc=$?
  secs=$((SECONDS - t0))
  check "exit code $want" eq "$rc" "$want"
  check "finished within 15 s (took ${secs}s)" test "$secs" -le 15
  check "says it was interrupted" has_text "$output" "interrupted ($sig)"
  check "asked the remote job to stop (SIGINT by pid file)" has_text "$KEEL_STANDIN_LOG" "kill -INT"
  check "run, interrupt, fetch, stop in that order" in_order "$KEEL_STANDIN_LOG" \
    "$JOB" "kill -INT" "--recurse --compress keel-t4:keel/runs/$name/out" "$STOP"
  check "stop is the last call" has_text <(tail -n1 "$KEEL_STANDIN_LOG") "$STOP"
  check "the VM ends stopped" eq "$(cat "$KEEL_STANDIN_STATE")" TERMINATED
  check "partial results fetched" test -f "$out/metrics.csv"
  check "the local ssh child was killed" bash -c "! kill -0 $job_pid 2>/dev/null"
  check "says the job did not stop in time" has_text "$output" "the remote job did not stop within 2s"
  check "the cost is still reported" has_text "$output" "estimated cost"
}

interrupt_case INT 130
interrupt_case TERM 143
interrupt_case HUP 129   # the terminal was closed

# Ctrl-C typed at a terminal: keel-remote runs in the foreground of a pseudo-terminal, and ^C goes
# through the terminal's line discipline to its foreground process group, as on a laptop.
echo "Ctrl-C typed at a terminal"
if command -v python3 >/dev/null 2>&1; then
  : >"$KEEL_STANDIN_LOG"
  echo TERMINATED >"$KEEL_STANDIN_STATE"
  export KEEL_STANDIN_PIDFILE=$TMP/tty.job.pid
  rm -f "$KEEL_STANDIN_PIDFILE"
  rc=0
  python3 - "$KEEL_STANDIN_PIDFILE" "$TMP/tty.output" "$KR" run --instance keel-t4 --zone us-west1-b \
    --config "$TMP/cnn.yaml" --data "$TMP/data" --out "$TMP/tty.out" --run-id tty <<'PY' || rc=$?
import os, pty, select, sys, time
pidfile, output, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
buf, t0, typed = b"", time.time(), False
while True:
    if not typed and os.path.exists(pidfile) and os.path.getsize(pidfile) > 0:
        time.sleep(0.2)
        os.write(fd, b"\x03")
        typed = True
    if time.time() - t0 > 60:
        os.kill(pid, 9)
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        buf += data
open(output, "wb").write(buf)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) if typed else 99)
PY
  check "exit code 130" eq "$rc" 130
  check "says it was interrupted" has_text "$TMP/tty.output" "interrupted (INT)"
  check "run, interrupt, fetch, stop in that order" in_order "$KEEL_STANDIN_LOG" \
    "$JOB" "kill -INT" "--recurse --compress keel-t4:keel/runs/tty/out" "$STOP"
  check "the VM ends stopped" eq "$(cat "$KEEL_STANDIN_STATE")" TERMINATED
else
  note "no python3 here to drive a pseudo-terminal: this case did not run"
fi

finish
