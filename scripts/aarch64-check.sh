#!/usr/bin/env bash
# Cross-builds libkeel, titanic_train and the CPU op, layer and optimizer tests for aarch64 Linux and
# runs them under qemu-user, so the portable (NEON) kernels are checked against the float64 references.
#
# Steps: installs what is missing (Debian's aarch64 cross compiler, qemu-user and the arm64 builds of
# keel's libraries; safe to rerun), configures build-aarch64/ with cmake/toolchains/aarch64-linux-gnu.cmake
# (CPU only, no benchmarks), builds, runs `ctest -L 'ops|nn|optim'` (CTest starts each test through
# qemu-aarch64, the toolchain's CMAKE_CROSSCOMPILING_EMULATOR), then trains configs/small_cnn.yaml
# for one epoch with the aarch64 titanic_train. Exits non-zero when anything fails.
#
# Left out, on purpose:
# - the `.portable` copies of the tests (tests/CMakeLists.txt runs every op/layer/optimizer test once
#   more under KEEL_CPU_ISA=portable): on aarch64 portable is the only path, so they repeat the same
#   run; titanic_train below runs with KEEL_CPU_ISA=portable to show the variable is honoured.
# - core, data, train and cli tests (not CPU-kernel numerics; the cli ones start titanic_train as
#   a child process, which qemu-user without binfmt_misc cannot run).
# Every op, layer and optimizer test runs. Measured on 2 x86-64 cores shared with other builds:
# 12.5 minutes from an empty build-aarch64/ (build 8, the 226 tests 3.5, the epoch 1).
#
# usage: scripts/aarch64-check.sh [-j N] [--no-install] [--no-train]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

jobs=$(nproc)
install=1
train=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        -j) jobs="$2"; shift 2 ;;
        -j*) jobs="${1#-j}"; shift ;;
        --no-install) install=0; shift ;;
        --no-train) train=0; shift ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "aarch64-check: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
done

build="$root/build-aarch64"
# libyaml-cpp-dev is not Multi-Arch: same, so its arm64 build would replace the host's; it is
# unpacked here instead and handed to CMake through CMAKE_PREFIX_PATH.
deps="$build/arm64-deps"
logs="$build/logs"
mkdir -p "$logs"

declare -a phase_names=() phase_secs=()
phase_start=$SECONDS
end_phase() { phase_names+=("$1"); phase_secs+=($((SECONDS - phase_start))); phase_start=$SECONDS; }
say() { echo "aarch64-check: $*"; }

# ---- 1. packages -----------------------------------------------------------------------------------
# Host tools, and the architecture-independent header libraries, used from /usr/include as they are.
host_packages=(cmake pkg-config g++-aarch64-linux-gnu qemu-user libeigen3-dev libfccp-dev
               nlohmann-json3-dev libcli11-dev)
# The arm64 builds of the compiled libraries (Multi-Arch: same, installed next to the amd64 ones).
arm64_packages=(libc6:arm64 libstdc++6:arm64 libgomp1:arm64 libfmt-dev:arm64 libgtest-dev:arm64
                libgmock-dev:arm64 libstb-dev:arm64)
unpacked_packages=(libyaml-cpp-dev:arm64 libyaml-cpp0.7:arm64)

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
missing=()
for p in "${host_packages[@]}" "${arm64_packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
yaml_config="$deps/usr/lib/aarch64-linux-gnu/cmake/yaml-cpp/yaml-cpp-config.cmake"
need_arm64_arch=0
dpkg --print-foreign-architectures | grep -qx arm64 || need_arm64_arch=1

if [[ ${#missing[@]} -gt 0 || ! -f "$yaml_config" || $need_arm64_arch -eq 1 ]]; then
    if [[ $install -eq 0 ]]; then
        what=("${missing[@]}")
        [[ $need_arm64_arch -eq 0 ]] || what+=("the arm64 dpkg architecture")
        [[ -f "$yaml_config" ]] || what+=("${unpacked_packages[@]}")
        say "missing: ${what[*]}; rerun without --no-install" >&2
        exit 2
    fi
    if [[ $need_arm64_arch -eq 1 ]]; then
        say "adding the arm64 architecture to dpkg"
        $sudo dpkg --add-architecture arm64
    fi
    $sudo apt-get update -qq
    if [[ ${#missing[@]} -gt 0 ]]; then
        say "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
    if [[ ! -f "$yaml_config" ]]; then
        say "unpacking ${unpacked_packages[*]} into ${deps#"$root"/}"
        rm -rf "$deps" && mkdir -p "$deps/debs"
        (cd "$deps/debs" && apt-get download -qq -o APT::Sandbox::User=root "${unpacked_packages[@]}")
        for deb in "$deps"/debs/*.deb; do dpkg-deb -x "$deb" "$deps"; done
    fi
else
    say "all ${#host_packages[@]} host and $((${#arm64_packages[@]} + ${#unpacked_packages[@]})) arm64 packages present"
fi
end_phase "packages"

# ---- 2. configure and build ------------------------------------------------------------------------
data="${KEEL_DATA_DIR:-}"
if [[ -z "$data" ]]; then
    for candidate in ../shared/data/titanic data/titanic; do
        if [[ -f "$candidate/train.csv" ]]; then data=$(cd "$candidate" && pwd); break; fi
    done
fi

cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/aarch64-linux-gnu.cmake" \
      -DCMAKE_PREFIX_PATH="$deps/usr" -DCMAKE_BUILD_TYPE=Release -DKEEL_CUDA=OFF \
      -DKEEL_BUILD_BENCHMARKS=OFF -DKEEL_BUILD_TESTS=ON ${data:+-DKEEL_TEST_DATA_DIR="$data"} \
      | tee "$logs/configure.log"
end_phase "configure"

# The test programs list their tests through qemu right after linking (gtest_discover_tests).
targets=(keel titanic_train keel_ops_tests keel_nn_tests keel_optim_tests)
set +e
cmake --build "$build" -j "$jobs" --target "${targets[@]}" 2>&1 | tee "$logs/build.log"
rc=${PIPESTATUS[0]}
set -e
end_phase "build"
if [[ $rc -ne 0 ]]; then
    say "FAILED: the aarch64 build failed (exit $rc); errors:" >&2
    grep -E "error|Error" "$logs/build.log" | head -20 >&2 || true
    exit 1
fi
file -b "$build/bin/titanic_train" | cut -d, -f1-2 | sed 's/^/aarch64-check: titanic_train is /'

# ---- 3. tests under qemu ----------------------------------------------------------------------------
set +e
ctest --test-dir "$build" -j "$jobs" -L '^(ops|nn|optim)$' -E '\.portable$' --no-tests=error \
      --timeout 900 --output-on-failure 2>&1 | tee "$logs/ctest.log"
ctest_rc=${PIPESTATUS[0]}
set -e
end_phase "ctest (qemu)"
ctest_line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$logs/ctest.log" | tail -1 || true)

# ---- 4. titanic_train end to end under qemu -----------------------------------------------------------
train_rc=0
train_line="skipped (--no-train)"
if [[ $train -eq 1 ]]; then
    if [[ -z "$data" ]]; then
        say "the Kaggle Titanic CSVs were not found: run data/fetch_titanic.sh, set KEEL_DATA_DIR or pass --no-train" >&2
        train_rc=2
        train_line="no data"
    else
        out="$build/titanic-run"
        rm -rf "$out"
        set +e
        KEEL_CPU_ISA=portable qemu-aarch64 "$build/bin/titanic_train" --config configs/small_cnn.yaml \
            --data "$data" --out "$out" --device cpu --set train.epochs=1 2>&1 | tee "$logs/titanic_train.log"
        train_rc=${PIPESTATUS[0]}
        set -e
        if [[ $train_rc -eq 0 && ! -s "$out/summary.json" ]]; then train_rc=1; fi
        train_line=$(grep -E "^validation accuracy" "$logs/titanic_train.log" | tail -1 || true)
        [[ $train_rc -eq 0 ]] || train_line="FAILED (exit $train_rc)"
    fi
    end_phase "titanic_train (qemu)"
fi

# ---- summary ----------------------------------------------------------------------------------------
echo
say "times:"
total=0
for i in "${!phase_names[@]}"; do
    printf 'aarch64-check:   %-22s %4d s\n' "${phase_names[$i]}" "${phase_secs[$i]}"
    total=$((total + phase_secs[i]))
done
printf 'aarch64-check:   %-22s %4d s\n' "total" "$total"
say "titanic_train, 1 epoch of configs/small_cnn.yaml: ${train_line:-no result line}"
say "ctest under qemu-aarch64 (ops, nn, optim): ${ctest_line:-no result (exit $ctest_rc)}"
if [[ $ctest_rc -ne 0 || $train_rc -ne 0 ]]; then
    say "FAILED (ctest exit $ctest_rc, titanic_train exit $train_rc); logs in ${logs#"$root"/}/" >&2
    exit 1
fi
say "OK"
