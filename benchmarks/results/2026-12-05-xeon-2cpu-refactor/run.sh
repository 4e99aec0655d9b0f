#!/usr/bin/env bash
# Two builds side by side, alternating, on the AVX-512 and AVX2 paths: ops_bench's small-CNN rows
# and ResNet-34 convolutions, then titanic_train --config configs/cnn.yaml on the CPU.
#   run.sh BASE_BIN HEAD_BIN DATA_DIR OUT      (BIN: a build's bin/ folder with ops_bench and titanic_train)
set -euo pipefail
base=$1 head=$2 data=$3 out=$4
config=$(cd "$(dirname "$0")/../../.." && pwd)/configs/cnn.yaml
mkdir -p "$out"
for r in 1 2; do
  for isa in avx512 avx2; do
    for side in base head; do
      bin=$([ $side = base ] && echo "$base" || echo "$head")
      KEEL_CPU_ISA=$isa "$bin/ops_bench" --benchmark_filter='^cpu/(small/|resnet34/conv/)' \
        --benchmark_format=json --benchmark_out="$out/ops_${side}_${isa}_r$r.json" >/dev/null
    done
  done
  for side in base head; do
    bin=$([ $side = base ] && echo "$base" || echo "$head")
    d=$(mktemp -d)
    /usr/bin/time -f "%e s wall %U s user" "$bin/titanic_train" --config "$config" --device cpu \
      --data "$data" --out "$d/out" > "$out/flagship_${side}_r$r.log" 2>&1
    cp "$d/out/metrics.csv" "$out/metrics_${side}_r$r.csv"
    cp "$d/out/submission.csv" "$out/submission_${side}_r$r.csv"
    rm -rf "$d"
  done
done
