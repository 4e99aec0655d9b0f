#!/usr/bin/env bash
# Scaling over processes on one machine, side by side in one run: the ResNet-34 CPU training step
# (dist_step_bench, global batch 16, one thread per process) on 1 and 2 processes, and the
# fold-parallel flagship (configs/cnn.yaml, 15 models, one thread each) as one process and under
# mpirun -np 2, whose submissions must be the same bytes. Writes results.json and results.md.
# usage: benchmarks/dist_scaling.sh <build dir> <out folder>   (KEEL_DATA_DIR: the Kaggle CSVs)
set -euo pipefail
build=${1:?usage: dist_scaling.sh <build dir> <out folder>}
out=${2:?usage: dist_scaling.sh <build dir> <out folder>}
cd "$(dirname "$0")/.."
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=passive
mpirun=(mpirun --oversubscribe --bind-to none)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

wall() {  # seconds of wall time of a command, its output in $work/log
    local start end
    start=$(date +%s.%N)
    "$@" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "resnet34 step, 1 process"
step1=$("${mpirun[@]}" -np 1 "$build/bin/dist_step_bench" 16 4 | tail -1)
echo "$step1"
echo "resnet34 step, 2 processes"
step2=$("${mpirun[@]}" -np 2 "$build/bin/dist_step_bench" 16 4 | tail -1)
echo "$step2"

echo "flagship (15 models), 1 process"
flag1=$(wall "$build/bin/titanic_train" --config configs/cnn.yaml --out "$work/one" --quiet)
echo "$flag1 s"
echo "flagship (15 models), mpirun -np 2 (fold-parallel)"
flag2=$(wall "${mpirun[@]}" -np 2 "$build/bin/titanic_train" --config configs/cnn.yaml \
    --out "$work/two" --quiet)
echo "$flag2 s"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
identical=false
cmp -s "$work/one/submission.csv" "$work/two/submission.csv" &&
    cmp -s "$work/one/probabilities.csv" "$work/two/probabilities.csv" && identical=true

python3 - "$out" "$step1" "$step2" "$flag1" "$flag2" "$identical" \
    "$(git rev-parse --short=12 HEAD)" \
    "$(lscpu | sed -n 's/^Model name: *//p')" "$(nproc)" "$load_before" "$load_after" <<'PY'
import json, sys
out, s1, s2, f1, f2, same, commit, cpu, cores, load_before, load_after = sys.argv[1:]
s1, s2 = json.loads(s1), json.loads(s2)
f1, f2 = float(f1), float(f2)
cpu_ratio = s1["median_cpu_s_per_step_slowest_rank"] / s2["median_cpu_s_per_step_slowest_rank"]
r = {"commit": commit, "cpu": cpu, "cores": int(cores), "loadavg_before": load_before,
     "loadavg_after": load_after, "cpu_time_ratio_np2": cpu_ratio,
     "resnet34_step": {"np1": s1, "np2": s2,
                       "speedup_np2": s1["median_step_s"] / s2["median_step_s"]},
     "flagship_folds": {"np1_wall_s": f1, "np2_wall_s": f2, "speedup_np2": f1 / f2,
                        "submission_identical": same == "true"}}
json.dump(r, open(f"{out}/results.json", "w"), indent=2)
md = f"""# Distributed scaling on {cores} cores ({cpu}), commit {commit}

Command: `benchmarks/dist_scaling.sh build-dist {out}` (OpenMPI, `--oversubscribe --bind-to none`,
one thread per process).

| what | 1 process | 2 processes | ratio |
|---|---|---|---|
| ResNet-34 CPU step, global batch 16 (median of {s1['steps']}) | {s1['median_step_s']:.3f} s | {s2['median_step_s']:.3f} s (all-reduce {s2['median_allreduce_s']:.3f} s) | {r['resnet34_step']['speedup_np2']:.2f}x |
| images/s | {s1['images_per_s']:.2f} | {s2['images_per_s']:.2f} | |
| CPU time per step of the slowest process | {s1['median_cpu_s_per_step_slowest_rank']:.3f} s | {s2['median_cpu_s_per_step_slowest_rank']:.3f} s | {cpu_ratio:.2f}x |
| flagship configs/cnn.yaml, 15 models, wall time | {f1:.2f} s | {f2:.2f} s | {f1 / f2:.2f}x |

Load average (1, 5, 15 min) before: {load_before}; after: {load_after}. The machine is shared:
a load above its {cores} cores means the processes did not have a core each, so the wall-time
ratios understate what 2 free cores give; the CPU-time row shows how the work itself was split.

All-reduce per ResNet-34 step: {s2['allreduce_bytes_per_step'] / 1e6:.1f} MB ({s2['parameters']} fp32
gradients). Flagship submission.csv and probabilities.csv identical between the two runs:
{same}.
"""
open(f"{out}/results.md", "w").write(md)
print(md)
PY
