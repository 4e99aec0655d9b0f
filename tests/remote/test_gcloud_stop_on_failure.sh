#!/usr/bin/env bash
# keel-remote run over the gcloud transport, with a recording gcloud stand-in first on PATH: the VM
# is stopped after a failure in the middle of the run (and after failures before it), what the job
# wrote is fetched first, an already running VM is stopped too, --keep leaves it running with its
# timer re-armed, and a failed stop is reported loudly with a non-zero exit.
set -u
# shellcheck source=tests/remote/lib.sh
source "$(dirname "$0")/lib.sh"

make_inputs
export KEEL_STANDIN_LOG=$TMP/gcloud.calls KEEL_STANDIN_STATE=$TMP/vm.state
export PATH="$REPO/tests/remote/standin:$PATH"
export KEEL_REMOTE_SSH_WAIT=0
unset KEEL_REMOTE_INSTANCE KEEL_REMOTE_ZONE KEEL_REMOTE_PROJECT KEEL_REMOTE_HOST KEEL_REMOTE_DIR \
  KEEL_REMOTE_PRICE_PER_HOUR KEEL_REMOTE_SHUTDOWN_AFTER KEEL_STANDIN_RUN KEEL_STANDIN_ARM \
  KEEL_STANDIN_UPLOAD KEEL_STANDIN_STOP

# scenario NAME INITIAL_STATE [extra keel-remote args]: one run; sets RC, LOG (calls), OUTPUT.
scenario() {
  local name=$1 initial=$2
  shift 2
  echo "$name"
  : >"$KEEL_STANDIN_LOG"
  echo "$initial" >"$KEEL_STANDIN_STATE"
  LOG=$KEEL_STANDIN_LOG
  OUTPUT=$TMP/$name.output
  OUTDIR=$TMP/$name.out
  RC=0
  "$KR" run --instance keel-t4 --zone us-west1-b --config "$TMP/cnn.yaml" --data "$TMP/data" \
    --out "$OUTDIR" --run-id "$name" "$@" >"$OUTPUT" 2>&1 || RC=$?
}

START="gcloud compute instances start keel-t4"
ARM="--command=sudo -n shutdown -h +120"
UPLOAD="keel-t4:keel/data"
JOB="titanic_train --config"
FETCH="--recurse --compress keel-t4:keel/runs/"
STOP="gcloud compute instances stop keel-t4 --zone=us-west1-b"

KEEL_STANDIN_RUN=fail scenario fail-mid-run TERMINATED
check "exit code is titanic_train's (3)" eq "$RC" 3
check "start, timer, sync, run, fetch, stop in that order" in_order "$LOG" "$START" "$ARM" "$UPLOAD" "$JOB" "$FETCH" "$STOP"
check "stop is the last call" has_text <(tail -n1 "$LOG") "$STOP"
check "the VM ends stopped" eq "$(cat "$KEEL_STANDIN_STATE")" TERMINATED
check "the job's log was streamed" has_text "$OUTPUT" "simulated runtime failure in the middle of training"
check "says what failed" has_text "$OUTPUT" "titanic_train exited with 3 on the remote"
check "what the job wrote was fetched" has_text "$OUTDIR/metrics.csv" "epoch,train_loss"
check "no staging folder left" test ! -e "$OUTDIR.partial"
check "the estimated cost is shown" has_text "$OUTPUT" "estimated cost \$0.00 at \$0.54/h"

scenario success TERMINATED
check "exit 0" eq "$RC" 0
check "the run is followed by fetch and stop" in_order "$LOG" "$START" "$JOB" "$FETCH" "$STOP"
check "results fetched" has_text "$OUTDIR/metrics.csv" "1,0.61"
check "epoch lines streamed" has_text "$OUTPUT" "epoch 2/2 train_loss 0.52"
check "says where the results are" has_text "$OUTPUT" "results in $OUTDIR/"
check "the VM ends stopped" eq "$(cat "$KEEL_STANDIN_STATE")" TERMINATED

scenario already-running RUNNING
check "exit 0" eq "$RC" 0
check "a running VM is not started again" lacks_text "$LOG" "instances start"
check "and is still stopped after the run" has_text <(tail -n1 "$LOG") "$STOP"

scenario suspended SUSPENDED
check "exit 0" eq "$RC" 0
check "a suspended VM is resumed, then stopped after the run" in_order "$LOG" \
  "gcloud compute instances resume keel-t4" "$JOB" "$STOP"
check "not started" lacks_text "$LOG" "instances start"

scenario keep TERMINATED --keep --shutdown-after 30
check "exit 0" eq "$RC" 0
check "--keep: no stop" lacks_text "$LOG" "instances stop"
check "--keep: timer armed at start and re-armed after the run" in_order "$LOG" \
  "--command=sudo -n shutdown -h +30" "$JOB" "$FETCH" "--command=sudo -n shutdown -h +30"
check "--keep: the VM is left running" eq "$(cat "$KEEL_STANDIN_STATE")" RUNNING
check "--keep: says how to stop it" has_text "$OUTPUT" "stop it sooner with: scripts/keel-remote stop --instance keel-t4 --zone us-west1-b"

KEEL_STANDIN_UPLOAD=fail scenario upload-fails TERMINATED
check "exit 1" eq "$RC" 1
check "the job never ran" lacks_text "$LOG" "$JOB"
check "nothing to fetch" lacks_text "$LOG" "$FETCH"
check "the VM was stopped after the failed copy" in_order "$LOG" "$START" "$UPLOAD" "$STOP"
check "says what failed" has_text "$OUTPUT" "could not copy $TMP/data to the remote"

KEEL_STANDIN_ARM=fail scenario timer-fails TERMINATED
check "exit 1" eq "$RC" 1
check "no data is copied to a VM without its timer" lacks_text "$LOG" "$UPLOAD"
check "the VM was stopped" in_order "$LOG" "$START" "$ARM" "$STOP"
check "says why" has_text "$OUTPUT" "could not arm the on-VM power-off timer"

KEEL_STANDIN_STOP=fail scenario stop-fails TERMINATED
check "exit 1 although the job succeeded" eq "$RC" 1
check "the stop was tried twice" eq "$(grep -c "$STOP" "$LOG")" 2
check "a loud warning" has_text "$OUTPUT" "WARNING: the VM may still be running and billing"
check "with the command to check it" has_text "$OUTPUT" "scripts/keel-remote status --instance keel-t4 --zone us-west1-b"

finish
