#!/usr/bin/env bash
# Sets everything up on a Debian 12 machine and runs the flagship job:
# titanic_train --config configs/cnn.yaml, writing submission.csv and a report into out/.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
data_dir=${KEEL_DATA_DIR:-data/titanic}
if [[ ! -f "$data_dir/train.csv" ]]; then
    data/fetch_titanic.sh
fi
cmake --preset default
cmake --build --preset default -j "$(nproc)"
exec build/bin/titanic_train --config configs/cnn.yaml --data "$data_dir" --out "${KEEL_OUT_DIR:-out}" "$@"
