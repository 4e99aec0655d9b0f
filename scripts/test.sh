#!/usr/bin/env bash
# Sets everything up on a Debian 12 machine and runs every test: the default build (with CUDA when
# nvcc is found; GPU tests skip without a device; with MPI, so the mpirun tests of label mpi run on
# 2 and 3 ranks over loopback), the AddressSanitizer+UBSan build and the fuzz targets.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --remote-tests
scripts/install-onnxruntime.sh  # PyPI, for the independent check of the ONNX export (else it skips)
if [[ -z "${KEEL_DATA_DIR:-}" ]]; then
    for candidate in ../shared/data/titanic data/titanic; do
        if [[ -f "$candidate/train.csv" ]]; then KEEL_DATA_DIR=$(cd "$candidate" && pwd); break; fi
    done
fi
if [[ -z "${KEEL_DATA_DIR:-}" ]]; then
    echo "test.sh: the Kaggle Titanic CSVs were not found: run data/fetch_titanic.sh or set KEEL_DATA_DIR" >&2
    exit 2
fi
export KEEL_DATA_DIR
echo "test.sh: data from $KEEL_DATA_DIR"

jobs=$(nproc)
# KEEL_MPI=ON: install-deps.sh installed OpenMPI, and a build that silently lost it would skip
# the mpirun tests instead of running them.
# Warnings are errors here (KEEL_WARNINGS_AS_ERRORS), not in a user's plain build: a newer
# compiler's new warning must not stop anyone from building keel, but it must stop a change.
cmake --preset default -DKEEL_TEST_DATA_DIR="$KEEL_DATA_DIR" -DKEEL_MPI=ON -DKEEL_WARNINGS_AS_ERRORS=ON
cmake --build --preset default -j "$jobs"
ctest --preset default -j "$jobs"

cmake --preset asan -DKEEL_TEST_DATA_DIR="$KEEL_DATA_DIR" -DKEEL_WARNINGS_AS_ERRORS=ON
cmake --build --preset asan -j "$jobs"
# The mpirun tests ran in the default build; under LeakSanitizer they would report OpenMPI's own
# start-up allocations, not keel's.
ctest --preset asan -j "$jobs" --label-exclude "gpu|remote|mpi"

# The libFuzzer targets (clang, ASan + UBSan): each replays its seeds and regression cases, then
# fuzzes for a bounded time (tests/fuzz/CMakeLists.txt).
cmake --preset fuzz
cmake --build --preset fuzz -j "$jobs"
ctest --preset fuzz -j "$jobs"
