#!/usr/bin/env bash
# A data-parallel titanic_train job on 2 and 3 ranks loses one rank to SIGKILL in the middle of
# training: every rank must end, mpirun with a non-zero exit and a message naming what happened,
# within a time limit, instead of the others waiting forever in the next all-reduce.
# usage: rank_killed_test.sh <mpiexec> <titanic_train> <source dir>   (exit 77: skipped)
set -uo pipefail
mpiexec=$1 train=$2 source=$3
if [[ -z "$mpiexec" || "$mpiexec" == *NOTFOUND* ]]; then
    echo "skipped: keel was built without MPI (install libopenmpi-dev openmpi-bin, configure again)"
    exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=passive
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$source"

fail() { echo "FAIL: $*"; cat "$work/log" 2>/dev/null; exit 1; }

for ranks in 2 3; do
    out="$work/out$ranks"
    # Long enough to be killed mid-training: 400 epochs of the test model take minutes.
    "$mpiexec" -np "$ranks" --oversubscribe --bind-to none "$train" --config tests/mpi/dp_cnn.yaml \
        --set train.epochs=400 --set train.sync_batch_norm=false --out "$out" >"$work/log" 2>&1 &
    launcher=$!
    # Training has started once rank 0 has written its first epoch's checkpoint.
    for _ in $(seq 600); do [[ -f "$out/checkpoints/last.ckpt" ]] && break; sleep 0.1; done
    [[ -f "$out/checkpoints/last.ckpt" ]] || fail "np $ranks: training did not start"
    mapfile -t pids < <(pgrep -P "$launcher" -f titanic_train)
    [[ ${#pids[@]} -eq $ranks ]] || fail "np $ranks: found ${#pids[@]} ranks: ${pids[*]}"
    victim=${pids[$((ranks - 1))]}
    kill -9 "$victim"
    # Every rank and the launcher gone within 60 s, or the job is stuck.
    for _ in $(seq 600); do kill -0 "$launcher" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$launcher" 2>/dev/null; then
        kill -9 "$launcher" "${pids[@]}" 2>/dev/null
        fail "np $ranks: the job still runs 60 s after a rank was killed"
    fi
    wait "$launcher"
    code=$?
    [[ $code -ne 0 ]] || fail "np $ranks: mpirun exited 0 after a rank was killed"
    # The ranks are the launcher's children: gone with it, or soon after.
    for pid in "${pids[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && fail "np $ranks: rank process $pid is still alive"
    done
    grep -qiE "signal 9|killed" "$work/log" || fail "np $ranks: no message about the killed rank"
    echo "np $ranks: killed rank pid $victim; mpirun exited $code, every rank ended:"
    grep -iE "signal 9|killed" "$work/log" | head -2
done
echo "ok"
